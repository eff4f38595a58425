//! The almasql configuration file (TOML).
//!
//! ```toml
//! listen = "127.0.0.1:5433"
//! data_dir = "./almasql-data"
//!
//! [demo]
//! scale = 1
//! seed = 42
//!
//! [[sources]]
//! name = "ops.shifts"
//! kind = "csv"
//! location = "/data/ops/shifts.csv"
//!
//! [[materialized_views]]
//! name = "ops.daily_shifts"
//! query = "select date_trunc('day', start) as day, count(*) as n from ops.shifts group by 1"
//! refresh = "1 hour"
//! ```
//!
//! Every key is documented in the README ("Configuration"); unknown keys and
//! values of the wrong type are errors that name the key and the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use almasql_connectors::acs::AcsLogOptions;
use almasql_connectors::calibrators::CalibratorCatalogOptions;
use almasql_connectors::jira::api::{JiraExportOptions, JiraOptions};
use almasql_connectors::monitor_text::MonitorTextOptions;
pub use almasql_connectors::object_stores::ObjectStoreConfig;
use almasql_connectors::postgres::PostgresOptions;
use serde::Deserialize;

use crate::error::{EngineError, Result};
use crate::mv_definition::{MvName, MvOptions, RefreshMode, TimeSpan};

/// The default address the server listens on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5433";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./almasql-data";

/// The whole configuration of an almasql instance.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the Postgres-wire server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory for the demo dataset and almasql's own state.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Name of the database (the DataFusion catalog) clients connect to.
    #[serde(default = "default_database")]
    pub database: String,
    /// The synthetic ALMA demo dataset; absent means no demo tables.
    #[serde(default)]
    pub demo: Option<DemoConfig>,
    /// Object stores (S3, HTTP) that source locations may point into.
    #[serde(default)]
    pub object_stores: Vec<ObjectStoreConfig>,
    /// Tables over external data.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Materialized views declared in the configuration.
    #[serde(default)]
    pub materialized_views: Vec<MaterializedViewConfig>,
    /// Users who may log in (SCRAM-SHA-256). Without any, the server accepts
    /// password-less logins and only listens on a loopback address.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// TLS for client connections.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Connection and memory limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// One user (`[[users]]`).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub name: String,
    /// SCRAM-SHA-256 verifier in PostgreSQL's format (`almasql password`
    /// makes one; `pg_authid.rolpassword` of PostgreSQL is the same form).
    pub password: String,
    /// `reader` (the default) or `admin` (may create and drop views and
    /// materialized views).
    #[serde(default)]
    pub role: UserRole,
    /// Readable `schema` or `schema.table` entries; absent means all.
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    /// Hidden `schema` or `schema.table` entries, applied after `schemas`.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .field("schemas", &self.schemas)
            .field("deny", &self.deny)
            .finish()
    }
}

impl UserConfig {
    /// What the user may read.
    pub fn access(&self) -> crate::access::AccessPolicy {
        crate::access::AccessPolicy {
            allow: self.schemas.clone(),
            deny: self.deny.clone(),
        }
    }
}

/// What a user may change.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Reads what the user's schemas allow.
    #[default]
    Reader,
    /// Also creates, replaces and drops views and materialized views.
    Admin,
}

/// TLS settings (`[tls]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate (and its chain).
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Refuse logins over plaintext connections.
    #[serde(default)]
    pub required: bool,
}

/// Limits (`[limits]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most client connections at once; more are refused with SQLSTATE 53300.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Memory for query execution, e.g. `"4 GiB"`, shared by all queries;
    /// sorts, joins and aggregations spill to disk beyond it, and a query
    /// that still does not fit fails with SQLSTATE 53200. Absent: no limit.
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// Directory for spill files (default: `<data_dir>/spill`).
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
    /// Statement plans kept for reuse across statements and connections
    /// (least recently used go first); 0 turns the cache off and leaves every
    /// statement to datafusion-postgres, which plans it afresh.
    #[serde(default = "default_plan_cache")]
    pub plan_cache: u64,
    /// How long a directory listing of a file table is reused before the
    /// directory is listed again (new files show up within it).
    #[serde(default = "default_file_listing_ttl")]
    pub file_listing_ttl: TimeSpan,
}

fn default_max_connections() -> usize {
    100
}

fn default_plan_cache() -> u64 {
    1024
}

fn default_file_listing_ttl() -> TimeSpan {
    TimeSpan::parse("10 s").expect("a valid span")
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            memory: None,
            spill_dir: None,
            plan_cache: default_plan_cache(),
            file_listing_ttl: default_file_listing_ttl(),
        }
    }
}

/// A size in bytes, written `"512 MiB"`, `"4GiB"`, `"100 MB"` or `1048576`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("`{s}`: expected a size such as \"4 GiB\""))?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" | "k" => 1 << 10,
            "mb" => 1_000_000,
            "mib" | "m" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1 << 30,
            "tb" => 1_000_000_000_000,
            "tib" | "t" => 1 << 40,
            other => return Err(format!("`{s}`: unknown unit `{other}`")),
        };
        Ok(Self((number * factor as f64) as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN.parse().expect("valid default address")
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}

fn default_database() -> String {
    "almasql".to_string()
}

impl Default for Config {
    /// The embedded default: demo data in `./almasql-data`, served on
    /// 127.0.0.1:5433.
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            database: default_database(),
            demo: Some(DemoConfig::default()),
            object_stores: vec![],
            sources: vec![],
            materialized_views: vec![],
            users: vec![],
            tls: None,
            limits: LimitsConfig::default(),
        }
    }
}

/// Options of the demo dataset (`[demo]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Size factor: scale 1 is four days of monitor data; N is 4·N days.
    #[serde(default = "default_scale")]
    pub scale: u32,
    /// Seed of the generator; the same seed and scale give identical files.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_scale() -> u32 {
    1
}

fn default_seed() -> u64 {
    42
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            scale: default_scale(),
            seed: default_seed(),
        }
    }
}

/// One table over external data (`[[sources]]`), by kind.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Parquet files: one file, or a directory (hive partitions allowed).
    Parquet(FileSourceOptions),
    /// CSV files.
    Csv(CsvSourceOptions),
    /// Newline-delimited JSON files.
    Json(FileSourceOptions),
    /// ACS XML log files (`<name>` and `<name>_errors`).
    AcsLogs(AcsLogOptions),
    /// Monitor text files, one per antenna, device, point and day.
    MonitorText(MonitorTextOptions),
    /// The calibrator survey catalog (`<schema>.measurements` and
    /// `<schema>.sources`), CSV or VOTable, local or over HTTP(S).
    CalibratorCatalog(CalibratorCatalogOptions),
    /// A PostgreSQL schema: every table of it, with SQL push-down.
    Postgres(PostgresOptions),
    /// ALMA's TMC database (PostgreSQL): `<schema>.tmc_points`,
    /// `<schema>.tmc_samples`, `<schema>.tmc_blocks` and, beside
    /// `monitor.samples`, `<schema>.all_samples`. `remote_schema` is the
    /// schema holding the TMCDB tables; `tables` is not used.
    Tmcdb(PostgresOptions),
    /// JIRA over its REST API (`<schema>.issues`, `<schema>.comments`).
    Jira(JiraOptions),
    /// JIRA search pages exported to files, same tables.
    JiraExport(JiraExportOptions),
}

/// Options shared by the file-based sources.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSourceOptions {
    /// Qualified table name, `schema.table`.
    pub name: String,
    /// A file or directory path.
    pub location: String,
    /// Hive-style partition columns (`key=value` directories), read as text.
    #[serde(default)]
    pub partition_columns: Vec<String>,
}

/// Options of CSV sources.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CsvSourceOptions {
    /// Qualified table name, `schema.table`.
    pub name: String,
    /// A file or directory path.
    pub location: String,
    /// Hive-style partition columns (`key=value` directories), read as text.
    #[serde(default)]
    pub partition_columns: Vec<String>,
    /// Field delimiter, one character.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Whether the first line holds the column names.
    #[serde(default = "default_true")]
    pub has_header: bool,
}

fn default_delimiter() -> char {
    ','
}

fn default_true() -> bool {
    true
}

/// A materialized view declared in the configuration
/// (`[[materialized_views]]`); the same options as `CREATE MATERIALIZED VIEW
/// ... WITH (...)`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MaterializedViewConfig {
    /// `schema.name`, or `name` for schema `public`.
    pub name: String,
    /// The query whose result the view stores.
    pub query: String,
    /// How often it is refreshed, e.g. `"1 hour"`; absent: only on `REFRESH
    /// MATERIALIZED VIEW`.
    #[serde(default)]
    pub refresh: Option<TimeSpan>,
    /// `"full"` (default) or `"append"`.
    #[serde(default)]
    pub mode: RefreshMode,
    /// The column an append refresh continues from (required with
    /// `mode = "append"`).
    #[serde(default)]
    pub time_column: Option<String>,
    /// How far before the stored maximum an append refresh reads again.
    #[serde(default)]
    pub overlap: Option<TimeSpan>,
}

impl MaterializedViewConfig {
    /// The view's qualified name, `None` if `name` is malformed.
    pub fn view_name(&self) -> Option<MvName> {
        MvName::from_config(&self.name)
    }

    /// The options, as `WITH (...)` would give them.
    pub fn options(&self) -> MvOptions {
        MvOptions {
            refresh: self.refresh.clone(),
            mode: self.mode,
            time_column: self.time_column.clone(),
            overlap: self.overlap.clone(),
        }
    }
}

impl SourceConfig {
    /// The qualified table name, `schema.table`.
    pub fn name(&self) -> &str {
        match self {
            Self::Parquet(o) | Self::Json(o) => &o.name,
            Self::Csv(o) => &o.name,
            Self::AcsLogs(o) => &o.name,
            Self::MonitorText(o) => &o.name,
            Self::CalibratorCatalog(o) => &o.schema,
            Self::Postgres(o) | Self::Tmcdb(o) => &o.schema,
            Self::Jira(o) => &o.schema,
            Self::JiraExport(o) => &o.schema,
        }
    }

    /// Splits the name into schema and table (a catalog source names only
    /// its schema: the table is `*`).
    pub fn schema_and_table(&self) -> Option<(&str, &str)> {
        if let Self::CalibratorCatalog(_)
        | Self::Postgres(_)
        | Self::Tmcdb(_)
        | Self::Jira(_)
        | Self::JiraExport(_) = self
        {
            let schema = self.name();
            return (!schema.is_empty() && !schema.contains('.')).then_some((schema, "*"));
        }
        let (schema, table) = self.name().split_once('.')?;
        (!schema.is_empty() && !table.is_empty() && !table.contains('.')).then_some((schema, table))
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| EngineError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let error = |key: String, message: String| EngineError::Config {
            origin: origin.to_string(),
            key,
            message,
        };
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|e| error("(syntax)".to_string(), e.message().to_string()))?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = match e.path().to_string() {
                p if p == "." => "(top level)".to_string(),
                p => p,
            };
            error(key, e.into_inner().message().to_string())
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let key = format!("sources[{i}].name");
            let error = |message: String| EngineError::Config {
                origin: origin.to_string(),
                key: key.clone(),
                message,
            };
            if source.schema_and_table().is_none() {
                return Err(error(match source {
                    SourceConfig::CalibratorCatalog(_)
                    | SourceConfig::Postgres(_)
                    | SourceConfig::Tmcdb(_)
                    | SourceConfig::Jira(_)
                    | SourceConfig::JiraExport(_) => {
                        format!("`{}` is not a schema name", source.name())
                    }
                    _ => format!("`{}` is not of the form schema.table", source.name()),
                }));
            }
            if !seen.insert(source.name()) {
                return Err(error(format!(
                    "table `{}` is declared twice",
                    source.name()
                )));
            }
        }
        for (i, store) in self.object_stores.iter().enumerate() {
            if !(store.url.starts_with("s3://")
                || store.url.starts_with("http://")
                || store.url.starts_with("https://"))
            {
                return Err(EngineError::Config {
                    origin: origin.to_string(),
                    key: format!("object_stores[{i}].url"),
                    message: format!("`{}`: expected s3://, http:// or https://", store.url),
                });
            }
        }
        let mut users = std::collections::HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            let error = |key: &str, message: String| EngineError::Config {
                origin: origin.to_string(),
                key: format!("users[{i}].{key}"),
                message,
            };
            if user.name.is_empty() {
                return Err(error("name", "must not be empty".to_string()));
            }
            if !users.insert(user.name.as_str()) {
                return Err(error(
                    "name",
                    format!("user `{}` is declared twice", user.name),
                ));
            }
            // never echo the value: it might be a plaintext password
            crate::auth::ScramVerifier::parse(&user.password)
                .map_err(|e| error("password", e.to_string()))?;
        }
        if self.limits.max_connections == 0 {
            return Err(EngineError::Config {
                origin: origin.to_string(),
                key: "limits.max_connections".to_string(),
                message: "must be at least 1".to_string(),
            });
        }
        let mut views = std::collections::HashSet::new();
        for (i, view) in self.materialized_views.iter().enumerate() {
            let error = |key: &str, message: String| EngineError::Config {
                origin: origin.to_string(),
                key: format!("materialized_views[{i}].{key}"),
                message,
            };
            let Some(name) = view.view_name() else {
                return Err(error(
                    "name",
                    format!("`{}` is not of the form schema.name or name", view.name),
                ));
            };
            if !views.insert(name.clone()) {
                return Err(error(
                    "name",
                    format!("materialized view `{}` is declared twice", view.name),
                ));
            }
            if self
                .sources
                .iter()
                .any(|s| s.schema_and_table() == Some((&name.schema, &name.name)))
            {
                return Err(error(
                    "name",
                    format!("`{}` is also the name of a source", view.name),
                ));
            }
            if view.query.trim().is_empty() {
                return Err(error("query", "must not be empty".to_string()));
            }
            view.options()
                .validate()
                .map_err(|(key, message)| error(key, message))?;
        }
        if let Some(demo) = &self.demo
            && demo.scale == 0
        {
            return Err(EngineError::Config {
                origin: origin.to_string(),
                key: "demo.scale".to_string(),
                message: "must be at least 1".to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::from_toml(text, "test.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_config_uses_defaults_without_demo() {
        let config = Config::from_toml("", "x").unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.demo, None);
    }

    #[test]
    fn full_config_parses() {
        let config = Config::from_toml(
            r#"
            listen = "0.0.0.0:6000"
            data_dir = "/tmp/a"
            [demo]
            scale = 2
            [[sources]]
            name = "ops.shifts"
            kind = "csv"
            location = "/data/shifts.csv"
            delimiter = ";"
            "#,
            "x",
        )
        .unwrap();
        assert_eq!(config.demo.unwrap().scale, 2);
        assert_eq!(config.sources.len(), 1);
        match &config.sources[0] {
            SourceConfig::Csv(o) => assert_eq!(o.delimiter, ';'),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_top_level_key_is_named() {
        let e = err("lisen = \"127.0.0.1:1\"");
        assert!(e.contains("test.toml"), "{e}");
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = err("[demo]\nscale = \"big\"");
        assert!(e.contains("test.toml") && e.contains("demo.scale"), "{e}");
    }

    #[test]
    fn unknown_source_option_is_named() {
        let e = err(
            "[[sources]]\nname = \"a.b\"\nkind = \"parquet\"\nlocation = \"/x\"\npath = \"/y\"",
        );
        assert!(e.contains("sources[0]") && e.contains("path"), "{e}");
    }

    #[test]
    fn connector_sources_and_object_stores_parse() {
        let config = Config::from_toml(
            r#"
            [[object_stores]]
            url = "s3://alma-logs"
            endpoint = "http://127.0.0.1:9000"
            access_key_id = "AKIDEXAMPLE"
            secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            allow_http = true
            [[sources]]
            name = "logs.acs"
            kind = "acs_logs"
            location = "s3://alma-logs/acs/"
            [[sources]]
            name = "monitor.text_samples"
            kind = "monitor_text"
            location = "/data/monitor-text/"
            [[sources]]
            kind = "calibrator_catalog"
            location = "https://example.org/catalog.xml"
            ttl_seconds = 60
            "#,
            "x",
        )
        .unwrap();
        assert_eq!(config.sources.len(), 3);
        assert_eq!(
            config.sources[2].schema_and_table(),
            Some(("calibrators", "*"))
        );
        // The secret never shows in debug output (and so in logs).
        let debug = format!("{config:?}");
        assert!(!debug.contains("wJalrXUtnFEMI"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        let e = err("[[object_stores]]\nurl = \"ftp://x\"");
        assert!(e.contains("object_stores[0].url"), "{e}");
    }

    #[test]
    fn materialized_views_parse() {
        let config = Config::from_toml(
            r#"
            [[materialized_views]]
            name = "ops.daily"
            query = "select 1 as a"
            refresh = "1 hour"
            mode = "append"
            time_column = "a"
            overlap = "10 minutes"
            [[materialized_views]]
            name = "plain"
            query = "select 2"
            "#,
            "x",
        )
        .unwrap();
        let [daily, plain] = &config.materialized_views[..] else {
            panic!("two views expected")
        };
        assert_eq!(daily.view_name(), Some(MvName::new("ops", "daily")));
        assert_eq!(
            daily.refresh.as_ref().unwrap().duration(),
            std::time::Duration::from_secs(3600)
        );
        assert_eq!(daily.mode, RefreshMode::Append);
        assert_eq!(plain.view_name(), Some(MvName::new("public", "plain")));
        assert_eq!(plain.mode, RefreshMode::Full);
        assert_eq!(plain.refresh, None);
    }

    #[test]
    fn materialized_view_errors_name_the_key() {
        let e =
            err("[[materialized_views]]\nname = \"a\"\nquery = \"select 1\"\nrefrsh = \"1 hour\"");
        assert!(
            e.contains("materialized_views[0]") && e.contains("refrsh"),
            "{e}"
        );
        let e =
            err("[[materialized_views]]\nname = \"a\"\nquery = \"select 1\"\nrefresh = \"often\"");
        assert!(
            e.contains("materialized_views[0].refresh") && e.contains("often"),
            "{e}"
        );
        let e =
            err("[[materialized_views]]\nname = \"a\"\nquery = \"select 1\"\nmode = \"sideways\"");
        assert!(e.contains("materialized_views[0].mode"), "{e}");
        let e =
            err("[[materialized_views]]\nname = \"a\"\nquery = \"select 1\"\nmode = \"append\"");
        assert!(e.contains("materialized_views[0].time_column"), "{e}");
        let e = err("[[materialized_views]]\nname = \"a.b.c\"\nquery = \"select 1\"");
        assert!(e.contains("materialized_views[0].name"), "{e}");
        let e = err(
            "[[materialized_views]]\nname = \"a\"\nquery = \"select 1\"\n[[materialized_views]]\nname = \"public.a\"\nquery = \"select 1\"",
        );
        assert!(
            e.contains("materialized_views[1].name") && e.contains("twice"),
            "{e}"
        );
    }

    #[test]
    fn bad_table_name_is_rejected() {
        let e = err("[[sources]]\nname = \"nodot\"\nkind = \"json\"\nlocation = \"/x\"");
        assert!(e.contains("sources[0].name"), "{e}");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const EXAMPLE: &str = include_str!("../../config/almasql.example.toml");

        /// Pieces of configuration text that reach past the TOML syntax.
        const FRAGMENTS: &[&str] = &[
            "[[sources]]\n",
            "[[materialized_views]]\n",
            "[server]\n",
            "[limits]\n",
            "[[users]]\n",
            "name = \"a.b\"\n",
            "kind = \"acs_log\"\n",
            "kind = \"nope\"\n",
            "location = \"/x\"\n",
            "refresh = \"5 min\"\n",
            "refresh = \"-1 s\"\n",
            "memory = \"1 GiB\"\n",
            "memory = 12\n",
            "port = 70000\n",
            "query = \"select 1\"\n",
            "=",
            "\"",
            "[",
            "\n",
        ];

        fn check(text: &str) -> Result<(), TestCaseError> {
            match Config::from_toml(text, "test.toml") {
                Ok(_) => Ok(()),
                Err(EngineError::Config { origin, .. }) => {
                    prop_assert_eq!(origin, "test.toml");
                    Ok(())
                }
                Err(other) => {
                    prop_assert!(false, "not a configuration error: {other}");
                    Ok(())
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// The example configuration with a piece cut out and another
            /// put in anywhere is read or refused with a configuration
            /// error naming it, never a panic.
            #[test]
            fn edited_configurations_read_or_fail_cleanly(
                cut in (0usize..EXAMPLE.len(), 0usize..200),
                at in 0usize..EXAMPLE.len(),
                insert in prop_oneof![
                    proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
                    "\\PC{0,12}",
                ],
            ) {
                let mut text: Vec<char> = EXAMPLE.chars().collect();
                let start = cut.0.min(text.len());
                let end = (start + cut.1).min(text.len());
                text.drain(start..end);
                let at = at.min(text.len());
                text.splice(at..at, insert.chars());
                check(&text.into_iter().collect::<String>())?;
            }

            /// Any text at all.
            #[test]
            fn any_text_reads_or_fails_cleanly(text in "\\PC{0,64}") {
                check(&text)?;
            }
        }
    }
}
