//! almasql: SQL over ALMA operational data, served over the PostgreSQL wire
//! protocol.
//!
//! This crate holds the command-line interface and the Postgres-wire server
//! ([`server`]), and re-exports the library crates: [`engine`] (session,
//! catalog, configuration, demo data), [`udfs`] (ALMA domain functions) and
//! [`connectors`] (table providers for ALMA data sources).

pub mod output;
pub mod server;

pub use almasql_connectors as connectors;
pub use almasql_engine as engine;
pub use almasql_udfs as udfs;
