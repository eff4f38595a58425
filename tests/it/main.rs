//! Integration tests: the real `almasql` binary, queried by real clients.

mod bench_harness;
mod cli;
mod clients;
mod common;
mod connectors;
mod dashboards;
mod examples;
mod materialized;
mod pg_text;
mod plans;
mod postgres;
mod psql;
mod security;
mod soak;
mod tmcdb;
mod wire;
