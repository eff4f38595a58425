//! ALMA connectors.
