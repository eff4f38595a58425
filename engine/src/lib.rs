//! almasql's engine: configuration, session and catalog set-up, and the
//! synthetic ALMA demo dataset. Knows DataFusion, not the wire protocol.

pub mod config;
pub mod dashboards;
pub mod demo;
pub mod error;
pub mod pg_compat;
pub mod session;
pub mod tables;

pub use config::Config;
pub use error::{EngineError, Result};
pub use session::build_session;
