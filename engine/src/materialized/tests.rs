//! Tests of the materialized views.
