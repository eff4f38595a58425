//! almasql: SQL over ALMA operational data, served over the PostgreSQL wire
//! protocol.
//!
//! This crate holds the command-line interface and the Postgres-wire server
//! ([`server`]), and re-exports the library crates: [`engine`] (session,
//! catalog, configuration, demo data), [`udfs`] (ALMA domain functions) and
//! [`connectors`] (table providers for ALMA data sources).
//!
//! # Embedding
//!
//! [`Engine`] runs almasql inside another program: build it, query it, and
//! optionally serve it over the Postgres protocol ([`Engine::serve`]).
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> almasql::Result<()> {
//! use datafusion::arrow::array::AsArray;
//! use datafusion::arrow::datatypes::Int64Type;
//!
//! let data_dir = tempfile::tempdir()?; // the demo dataset is generated here
//! let engine = almasql::Engine::builder().data_dir(data_dir.path()).build().await?;
//! let batches = engine
//!     .sql("select count(*) from ops.antennas where antenna like 'DV%'")
//!     .await?
//!     .collect()
//!     .await?;
//! assert_eq!(batches[0].column(0).as_primitive::<Int64Type>().value(0), 25);
//! # Ok(())
//! # }
//! ```

mod embed;
pub mod output;
pub mod server;

pub use embed::{Engine, EngineBuilder, Error, Result, ServerHandle};

pub use almasql_connectors as connectors;
pub use almasql_engine as engine;
pub use almasql_udfs as udfs;
