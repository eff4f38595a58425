//! ALMA's data sources as DataFusion tables.
//!
//! One module per source kind, each a [`TableProvider`] that reads its
//! files through object_store (local paths, `s3://`, `http(s)://`), streams
//! with bounded memory and pushes down what the source allows:
//!
//! - [`acs`]: ACS XML log files (`logs.acs`, `logs.acs_errors`);
//! - [`monitor_text`]: monitor text files (`monitor.text_samples`);
//! - [`calibrators`]: the calibrator survey catalog, CSV or VOTable, with an
//!   HTTP cache (`calibrators.measurements`, `calibrators.sources`);
//! - [`jira`]: JIRA issues and comments, from the REST API with JQL
//!   push-down or from exported pages (`jira.issues`, `jira.comments`);
//! - [`postgres`]: a PostgreSQL schema mounted as an almasql schema, with
//!   SQL push-down (through `datafusion-table-providers`).
//!
//! [`object_stores`] turns the configuration's `[[object_stores]]` into
//! registered stores; [`files`], [`filters`], [`layout`] and [`scan`] are the
//! parts the file-based connectors share.
//!
//! [`TableProvider`]: datafusion::catalog::TableProvider

pub mod acs;
pub mod calibrators;
pub mod error;
pub mod files;
pub mod filters;
pub mod jira;
pub mod layout;
pub mod monitor_text;
pub mod object_stores;
pub mod postgres;
pub mod scan;
#[cfg(test)]
mod test_support;
pub mod tmcdb;

pub use error::{ConnectorError, Result};
