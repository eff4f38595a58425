//! Errors of the engine crate.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Result type of the engine crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// What can go wrong while configuring or assembling an almasql session.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        /// The file that was read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML or does not match the schema.
    #[error("invalid config {origin}: key `{key}`: {message}")]
    Config {
        /// Where the configuration came from (a file path or `<inline>`).
        origin: String,
        /// The dotted path of the offending key, e.g. `sources[0].location`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// Writing or reading the demo dataset failed.
    #[error("demo dataset at {path}: {message}")]
    Demo {
        /// The file or directory concerned.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An I/O error with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A connector could not be set up.
    #[error(transparent)]
    Connector(#[from] almasql_connectors::ConnectorError),
    /// A statement almasql parses itself (the materialized-view statements)
    /// is malformed.
    #[error("syntax error: {message}")]
    Syntax {
        /// What is wrong, naming the offending option or token.
        message: String,
    },
    /// A materialized-view operation failed.
    #[error("materialized view {name}: {message}")]
    MaterializedView {
        /// The view, `schema.name`.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Registering a source or planning a query failed.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl EngineError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
