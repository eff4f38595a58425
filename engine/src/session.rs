//! Assembles a DataFusion [`SessionContext`] from a [`Config`]: the catalog,
//! the demo tables, configured sources, the domain functions and pg_catalog.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext, col};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use almasql_connectors::acs::{AcsErrorsTable, AcsLogOptions, AcsLogTable};
use almasql_connectors::calibrators::{CalibratorCatalog, CalibratorCatalogOptions};
use almasql_connectors::jira::JiraSource;
use almasql_connectors::jira::api::JiraExportOptions;
use almasql_connectors::monitor_text::{MonitorTextOptions, MonitorTextTable};
use datafusion::catalog::TableProvider;

use crate::config::{Config, SourceConfig};
use crate::demo::{self, Progress};
use crate::error::{EngineError, Result};
use crate::pg_compat;
use crate::tables::{DEMO_TABLES, Format, TableDoc};

/// Builds the session an almasql instance serves: demo data (generated
/// first if needed), configured sources, domain functions and pg_catalog.
pub async fn build_session(
    config: &Config,
    progress: Arc<dyn Progress + Send>,
) -> Result<SessionContext> {
    let session_config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(&config.database, "public")
        .with_create_default_catalog_and_schema(true)
        .set_str("datafusion.sql_parser.dialect", "PostgreSQL")
        // as a PostgreSQL server whose TimeZone is UTC: `now()` and
        // `::timestamptz` are timestamps with a zone
        .set_str("datafusion.execution.time_zone", "UTC");
    let state = SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime_env(config)?)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(crate::optimizer::ShortPolls))
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::optimizer::register(&ctx);

    almasql_udfs::register_all(&ctx)?;
    ctx.register_udf(almasql_connectors::tmcdb::udf::monitor_clob_samples_udf());

    if let Some(demo_config) = &config.demo {
        let dir = demo::dataset_dir(&config.data_dir);
        let (scale, seed, gen_dir) = (demo_config.scale, demo_config.seed, dir.clone());
        let generated = tokio::task::spawn_blocking(move || {
            demo::ensure(&gen_dir, scale, seed, progress.as_ref())
        })
        .await
        .map_err(|e| EngineError::Demo {
            path: dir.clone(),
            message: format!("generator task failed: {e}"),
        })??;
        if generated {
            tracing::info!(dir = %dir.display(), scale = demo_config.scale, "generated the demo dataset");
        }
        register_demo(&ctx, &dir).await?;
    }
    for store in &config.object_stores {
        store
            .register(ctx.runtime_env().as_ref())
            .map_err(|e| EngineError::DataFusion(e.into()))?;
    }
    for source in &config.sources {
        register_source(&ctx, source, &config.data_dir).await?;
    }
    let dashboards = crate::dashboards::register_dashboards(&ctx).await?;
    tracing::debug!(?dashboards, "dashboards created");
    setup_pg_catalog(&ctx, &config.database, EmptyContextProvider)
        .map_err(|e| EngineError::DataFusion(*e))?;
    pg_compat::register(&ctx);
    Ok(ctx)
}

/// The runtime of the session: with `[limits] memory`, a memory pool shared
/// fairly by the running queries, spilling into `spill_dir`.
fn runtime_env(config: &Config) -> Result<Arc<RuntimeEnv>> {
    // DataFusion keeps directory listings (without an expiry by default)
    // and Parquet statistics and footers, so a scan of an unchanged table
    // lists nothing and reads no footer; listings expire after
    // `limits.file_listing_ttl`, so that new files are seen
    let caches = CacheManagerConfig::default()
        .with_list_files_cache_ttl(Some(config.limits.file_listing_ttl.duration()));
    let mut builder = RuntimeEnvBuilder::new().with_cache_manager(caches);
    if let Some(memory) = config.limits.memory {
        let spill_dir = config
            .limits
            .spill_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("spill"));
        std::fs::create_dir_all(&spill_dir).map_err(|source| EngineError::Io {
            path: spill_dir.clone(),
            source,
        })?;
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(memory.0 as usize),
            NonZeroUsize::new(5).expect("non-zero"),
        );
        builder = builder
            .with_memory_pool(Arc::new(pool))
            .with_temp_file_path(spill_dir);
        tracing::info!(bytes = memory.0, "query memory limit");
    }
    Ok(builder.build_arc()?)
}

/// `<schema>.all_samples`: the archive's `monitor.samples` and the TMCDB's
/// `<schema>.tmc_samples` as one table with the archive's columns and an
/// `origin` column (`archive` or `tmcdb`). Not persisted: it exists while
/// the TMCDB source is configured.
async fn register_all_samples(ctx: &SessionContext, schema: &str) -> Result<()> {
    if !ctx.table_exist("monitor.samples")? {
        return Ok(());
    }
    let sql = format!(
        "select time, antenna, device, monitor_point, polarization, baseband, value, unit, \
         'archive' as origin from monitor.samples \
         union all \
         select cast(time as timestamp(6) with time zone) as time, antenna, device, \
         monitor_point, polarization, baseband, value, coalesce(unit, '') as unit, \
         'tmcdb' as origin from \"{schema}\".tmc_samples"
    );
    let view = ctx.sql(&sql).await?.into_view();
    register(ctx, schema, "all_samples", view)
}

/// Registers the demo tables of the dataset in `dir`.
pub async fn register_demo(ctx: &SessionContext, dir: &Path) -> Result<()> {
    let jira = JiraSource::export(&JiraExportOptions {
        schema: "jira".to_string(),
        location: format!("{}/", path_text(&dir.join("jira"))),
        antenna_field: None,
        antenna_regex: None,
    })?;
    register(ctx, "jira", "issues", jira.issues_table())?;
    register(ctx, "jira", "comments", jira.comments_table())?;
    let catalog = CalibratorCatalog::new(
        CalibratorCatalogOptions::new(path_text(&dir.join("calibrators/measurements.csv"))),
        dir.join("cache"),
    );
    for table in DEMO_TABLES {
        let location = dir.join(table.location);
        let connector: Option<Arc<dyn TableProvider>> = match table.format {
            Format::Csv | Format::Parquet => None,
            Format::AcsLogs => Some(Arc::new(AcsLogTable::try_new(AcsLogOptions::new(
                table.qualified(),
                path_text(&location),
            ))?)),
            Format::AcsErrors => Some(Arc::new(AcsErrorsTable::try_new(AcsLogOptions::new(
                format!(
                    "{}.{}",
                    table.schema,
                    table.table.trim_end_matches("_errors")
                ),
                path_text(&location),
            ))?)),
            Format::CalibratorMeasurements => Some(catalog.measurements_table()),
            Format::CalibratorSources => Some(catalog.sources_table()),
            Format::MonitorText => Some(Arc::new(MonitorTextTable::try_new(MonitorTextOptions {
                name: table.qualified(),
                location: path_text(&location),
            })?)),
        };
        if let Some(provider) = connector {
            register(ctx, table.schema, table.table, provider)?;
            continue;
        }
        let url = table_url(&location, table.location.ends_with('/'))?;
        let options = demo_listing_options(table);
        let schema: SchemaRef = Arc::new(table.file_schema());
        let listing = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        let provider = ListingTable::try_new(listing)?;
        register(ctx, table.schema, table.table, Arc::new(provider))?;
    }
    Ok(())
}

fn demo_listing_options(table: &TableDoc) -> ListingOptions {
    let (format, extension): (Arc<dyn FileFormat>, &str) = match table.format {
        Format::Csv => (Arc::new(CsvFormat::default().with_has_header(true)), ".csv"),
        _ => (Arc::new(ParquetFormat::default()), ".parquet"),
    };
    let mut options = ListingOptions::new(format)
        .with_file_extension(extension)
        .with_table_partition_cols(
            table
                .partitions
                .iter()
                .map(|c| (c.name.to_string(), c.ty.arrow()))
                .collect(),
        );
    if !table.sorted_by.is_empty() {
        options = options.with_file_sort_order(vec![
            table
                .sorted_by
                .iter()
                .map(|c| col(*c).sort(true, false))
                .collect(),
        ]);
    }
    options
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Registers one configured source; `data_dir` holds caches.
pub async fn register_source(
    ctx: &SessionContext,
    source: &SourceConfig,
    data_dir: &Path,
) -> Result<()> {
    let (schema, table) = source
        .schema_and_table()
        .expect("validated when the config was read");
    let (location, partitions, format, extension): (&str, &[String], Arc<dyn FileFormat>, &str) =
        match source {
            SourceConfig::AcsLogs(o) => {
                register(
                    ctx,
                    schema,
                    table,
                    Arc::new(AcsLogTable::try_new(o.clone())?),
                )?;
                let errors = format!("{table}_errors");
                return register(
                    ctx,
                    schema,
                    &errors,
                    Arc::new(AcsErrorsTable::try_new(o.clone())?),
                );
            }
            SourceConfig::MonitorText(o) => {
                return register(
                    ctx,
                    schema,
                    table,
                    Arc::new(MonitorTextTable::try_new(o.clone())?),
                );
            }
            SourceConfig::Jira(o) => {
                let source = JiraSource::rest(o)?;
                register(ctx, schema, "issues", source.issues_table())?;
                return register(ctx, schema, "comments", source.comments_table());
            }
            SourceConfig::JiraExport(o) => {
                let source = JiraSource::export(o)?;
                register(ctx, schema, "issues", source.issues_table())?;
                return register(ctx, schema, "comments", source.comments_table());
            }
            SourceConfig::Postgres(o) => {
                // An unreachable database must not keep the server from
                // serving everything else: report it and go on.
                match almasql_connectors::postgres::mount(o).await {
                    Ok(tables) => {
                        for (name, provider) in tables {
                            register(ctx, schema, &name, provider)?;
                        }
                    }
                    Err(e) => tracing::error!(source = %o.schema, error = %e, "source not mounted"),
                }
                return Ok(());
            }
            SourceConfig::Tmcdb(o) => {
                match almasql_connectors::tmcdb::mount(o).await {
                    Ok(tables) => {
                        for (name, provider) in tables {
                            register(ctx, schema, &name, provider)?;
                        }
                        register_all_samples(ctx, schema).await?;
                    }
                    Err(e) => tracing::error!(source = %o.schema, error = %e, "source not mounted"),
                }
                return Ok(());
            }
            SourceConfig::CalibratorCatalog(o) => {
                let catalog = CalibratorCatalog::new(o.clone(), data_dir.join("cache/calibrators"));
                register(ctx, schema, "measurements", catalog.measurements_table())?;
                return register(ctx, schema, "sources", catalog.sources_table());
            }
            SourceConfig::Parquet(o) => (
                &o.location,
                &o.partition_columns,
                Arc::new(ParquetFormat::default()),
                ".parquet",
            ),
            SourceConfig::Json(o) => (
                &o.location,
                &o.partition_columns,
                Arc::new(JsonFormat::default()),
                ".json",
            ),
            SourceConfig::Csv(o) => {
                let delimiter = u8::try_from(o.delimiter).map_err(|_| EngineError::Config {
                    origin: source.name().to_string(),
                    key: "delimiter".to_string(),
                    message: "must be a single-byte character".to_string(),
                })?;
                (
                    &o.location,
                    &o.partition_columns,
                    Arc::new(
                        CsvFormat::default()
                            .with_has_header(o.has_header)
                            .with_delimiter(delimiter),
                    ),
                    ".csv",
                )
            }
        };
    let path = Path::new(location);
    let is_dir = location.ends_with('/') || path.is_dir();
    let url = table_url(path, is_dir)?;
    let extension = if is_dir { extension } else { "" };
    let options = ListingOptions::new(format)
        .with_file_extension(extension)
        .with_table_partition_cols(
            partitions
                .iter()
                .map(|p| (p.clone(), DataType::Utf8))
                .collect(),
        );
    let listing = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await
        .map_err(|e| e.context(format!("source {}", source.name())))?;
    let provider = ListingTable::try_new(listing)?;
    register(ctx, schema, table, Arc::new(provider))
}

fn table_url(path: &Path, is_dir: bool) -> Result<ListingTableUrl> {
    let absolute = std::path::absolute(path).map_err(|e| EngineError::io(path, e))?;
    let mut text = absolute.to_string_lossy().into_owned();
    if is_dir && !text.ends_with('/') {
        text.push('/');
    }
    Ok(ListingTableUrl::parse(&text)?)
}

fn register(
    ctx: &SessionContext,
    schema: &str,
    table: &str,
    provider: Arc<dyn TableProvider>,
) -> Result<()> {
    let catalog_name = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    let catalog = ctx
        .catalog(&catalog_name)
        .expect("the default catalog is created with the session");
    let schema_provider: Arc<dyn SchemaProvider> = match catalog.schema(schema) {
        Some(s) => s,
        None => {
            let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
            catalog.register_schema(schema, s.clone())?;
            s
        }
    };
    schema_provider.register_table(table.to_string(), provider)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::NoProgress;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::SortOptions;
    use datafusion::arrow::row::{RowConverter, SortField};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();

    /// One generated dataset shared by the tests of this module.
    async fn session() -> SessionContext {
        let dir = DIR.get_or_init(|| {
            // Generated here, under the lock, so concurrent tests share one copy.
            let dir = tempfile::tempdir().unwrap();
            crate::demo::generate(&crate::demo::dataset_dir(dir.path()), 1, 42, &NoProgress)
                .unwrap();
            dir
        });
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        build_session(&config, Arc::new(NoProgress)).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn catalog_matches_the_table_reference() {
        let ctx = session().await;
        let batches = ctx
            .sql(
                "select table_schema, table_name, column_name, data_type, is_nullable \
                 from information_schema.columns \
                 where table_schema in ('monitor', 'ops', 'calibrators', 'logs') \
                 order by table_schema, table_name, ordinal_position",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut catalog = vec![];
        for b in &batches {
            let s = |i: usize| b.column(i).as_string::<i32>().clone();
            let (schema, table, column, ty, null) = (s(0), s(1), s(2), s(3), s(4));
            for r in 0..b.num_rows() {
                catalog.push(format!(
                    "{}.{}.{} {} {}",
                    schema.value(r),
                    table.value(r),
                    column.value(r),
                    ty.value(r),
                    null.value(r)
                ));
            }
        }
        let mut documented = vec![];
        let mut tables: Vec<&TableDoc> = DEMO_TABLES.iter().collect();
        tables.sort_by_key(|t| (t.schema, t.table));
        for t in tables {
            for c in t.columns.iter().chain(t.partitions) {
                documented.push(format!(
                    "{}.{}.{} {} {}",
                    t.schema,
                    t.table,
                    c.name,
                    c.ty.arrow(),
                    if c.nullable { "YES" } else { "NO" }
                ));
            }
        }
        assert_eq!(catalog, documented);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sample_files_are_sorted_as_declared() {
        let _ = session().await;
        let table = crate::tables::demo_table("monitor", "samples");
        let file = DIR
            .get()
            .unwrap()
            .path()
            .join("demo")
            .join(table.location)
            .join("date=2026-01-02/samples.parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        let batch =
            datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let key: Vec<_> = table
            .sorted_by
            .iter()
            .map(|c| batch.column_by_name(c).unwrap().clone())
            .collect();
        let options = SortOptions {
            descending: false,
            nulls_first: false,
        };
        let converter = RowConverter::new(
            key.iter()
                .map(|c| SortField::new_with_options(c.data_type().clone(), options))
                .collect(),
        )
        .unwrap();
        let rows = converter.convert_columns(&key).unwrap();
        for i in 1..rows.num_rows() {
            assert!(
                rows.row(i - 1) <= rows.row(i),
                "row {i} is out of the declared order"
            );
        }
        assert!(key[0].null_count() > 0, "weather rows are missing");
    }
}
