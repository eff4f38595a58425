//! almasql's engine: configuration, session and catalog set-up, persistent
//! views ([`views`]), materialized views ([`materialized`]) and the
//! synthetic ALMA demo dataset. Knows DataFusion, not the wire protocol.
//!
//! [`Session::build`] (or [`build_session`], then the host's own tables,
//! then [`Session::open`]) gives a session; [`sql`] runs a statement,
//! including the materialized-view statements DataFusion does not parse.

pub mod access;
pub mod auth;
mod catalog_files;
pub mod config;
pub mod dashboards;
pub mod demo;
pub mod error;
pub mod instance;
pub mod materialized;
pub mod mv_definition;
pub mod optimizer;
pub mod pg_compat;
pub mod plan_cache;
pub mod session;
pub mod tables;
#[cfg(test)]
mod test_support;
pub mod views;

pub use config::Config;
pub use error::{EngineError, Result};
pub use instance::{Session, sql};
pub use materialized::{
    MaterializedViews, MvOutcome, MvStatement, SchedulerHandle, parse_statement, split_statements,
};
pub use session::build_session;
