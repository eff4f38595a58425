//! Errors of the connectors: each names the source and, where there is one,
//! the file or URL.

use datafusion::error::DataFusionError;

/// An error of a connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A location that cannot be parsed or listed.
    #[error("location {location}: {message}")]
    Location {
        /// The location as configured.
        location: String,
        /// What went wrong.
        message: String,
    },
    /// Reading a file or object failed.
    #[error("{file}: {source}")]
    Store {
        /// The file or URL.
        file: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
    /// A local I/O error.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content cannot be used at all.
    #[error("{file}: {message}")]
    Format {
        /// The file or URL.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A source's options are invalid.
    #[error("source {source_name}: {message}")]
    Options {
        /// The source's name.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// An error from DataFusion or arrow.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl ConnectorError {
    /// An I/O error on `file`.
    pub fn io(file: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            file: file.into(),
            source,
        }
    }

    /// An object store error on `file`.
    pub fn store(file: impl Into<String>, source: object_store::Error) -> Self {
        Self::Store {
            file: file.into(),
            source,
        }
    }

    /// Adds the source's name in front of the message, for DataFusion.
    pub fn in_source(self, source: &str) -> DataFusionError {
        DataFusionError::External(Box::new(self)).context(format!("source {source}"))
    }
}

impl From<ConnectorError> for DataFusionError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::DataFusion(e) => e,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// Result type of the connectors.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;
