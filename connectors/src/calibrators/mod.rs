//! The ALMA calibrator survey catalog: `calibrators.measurements` (one row
//! per flux measurement) and `calibrators.sources` (one row per source,
//! with RA/Dec from the catalog or derived from the J-name).
//!
//! The catalog is a CSV file or a VOTable (TABLEDATA), on disk or at an
//! HTTP(S) URL. Remote catalogs are cached in the data directory with their
//! ETag and Last-Modified: within `ttl_seconds` a query reads the cache;
//! after that a conditional request revalidates it (304 keeps the cache).
//! A catalog is small, so it is parsed once per load and kept in memory.

mod cache;
mod parse;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, Float64Builder, Int16Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use serde::Deserialize;
use tokio::sync::Mutex;

pub use parse::{Measurement, jname_position};

/// Options of a `calibrator_catalog` source.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CalibratorCatalogOptions {
    /// Schema holding the two tables (`measurements`, `sources`).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// A local file or an `http(s)://` URL.
    pub location: String,
    /// `csv` or `votable`; guessed from the name (`.xml`, `.vot`) when absent.
    #[serde(default)]
    pub format: Option<CatalogFormat>,
    /// How long a fetched catalog is used without asking the server again.
    #[serde(default = "default_ttl")]
    pub ttl_seconds: u64,
}

fn default_schema() -> String {
    "calibrators".to_string()
}

fn default_ttl() -> u64 {
    3600
}

/// Format of a catalog file.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CatalogFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// IVOA VOTable with TABLEDATA rows.
    Votable,
}

impl CalibratorCatalogOptions {
    /// Options for the catalog at `location` with the defaults.
    pub fn new(location: impl Into<String>) -> Self {
        Self {
            schema: default_schema(),
            location: location.into(),
            format: None,
            ttl_seconds: default_ttl(),
        }
    }

    fn format(&self) -> CatalogFormat {
        self.format.unwrap_or_else(|| {
            let l = self.location.to_ascii_lowercase();
            let l = l.trim_end_matches(".gz");
            if l.ends_with(".xml") || l.ends_with(".vot") || l.ends_with(".votable") {
                CatalogFormat::Votable
            } else {
                CatalogFormat::Csv
            }
        })
    }
}

/// The loaded catalog, shared by its two tables.
#[derive(Debug)]
pub struct CalibratorCatalog {
    options: CalibratorCatalogOptions,
    cache_dir: PathBuf,
    loaded: Mutex<Option<(Instant, Arc<Vec<Measurement>>)>>,
}

impl CalibratorCatalog {
    /// A catalog read from `options.location`, caching remote files in
    /// `cache_dir`.
    pub fn new(options: CalibratorCatalogOptions, cache_dir: impl Into<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            options,
            cache_dir: cache_dir.into(),
            loaded: Mutex::new(None),
        })
    }

    /// The `measurements` table.
    pub fn measurements_table(self: &Arc<Self>) -> Arc<dyn TableProvider> {
        Arc::new(CatalogTable {
            catalog: self.clone(),
            kind: Kind::Measurements,
            schema: measurements_schema(),
        })
    }

    /// The `sources` table.
    pub fn sources_table(self: &Arc<Self>) -> Arc<dyn TableProvider> {
        Arc::new(CatalogTable {
            catalog: self.clone(),
            kind: Kind::Sources,
            schema: sources_schema(),
        })
    }

    /// The measurements, loading or revalidating the catalog when its TTL
    /// has passed.
    pub async fn measurements(&self) -> crate::Result<Arc<Vec<Measurement>>> {
        let ttl = Duration::from_secs(self.options.ttl_seconds);
        let mut loaded = self.loaded.lock().await;
        if let Some((at, rows)) = loaded.as_ref()
            && at.elapsed() < ttl
        {
            return Ok(rows.clone());
        }
        let bytes = cache::fetch(&self.options.location, &self.cache_dir, ttl).await?;
        let rows = match self.options.format() {
            CatalogFormat::Csv => parse::csv(&bytes, &self.options.location)?,
            CatalogFormat::Votable => parse::votable(&bytes, &self.options.location)?,
        };
        tracing::debug!(location = %self.options.location, rows = rows.len(), "loaded calibrator catalog");
        let rows = Arc::new(rows);
        *loaded = Some((Instant::now(), rows.clone()));
        Ok(rows)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Measurements,
    Sources,
}

/// Schema of `calibrators.measurements`.
pub fn measurements_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("ra_deg", DataType::Float64, true),
        Field::new("dec_deg", DataType::Float64, true),
        Field::new("band", DataType::Int16, true),
        Field::new("frequency_ghz", DataType::Float64, true),
        Field::new("flux_jy", DataType::Float64, true),
        Field::new("flux_error_jy", DataType::Float64, true),
        Field::new("observed_at", timestamptz(), true),
    ]))
}

/// Schema of `calibrators.sources`.
pub fn sources_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("ra_deg", DataType::Float64, true),
        Field::new("dec_deg", DataType::Float64, true),
        Field::new("position_from", DataType::Utf8, false),
        Field::new("measurements", DataType::Int64, false),
        Field::new("first_observed", timestamptz(), true),
        Field::new("last_observed", timestamptz(), true),
    ]))
}

fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// One of the catalog's tables.
#[derive(Debug)]
struct CatalogTable {
    catalog: Arc<CalibratorCatalog>,
    kind: Kind,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for CatalogTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows =
            self.catalog.measurements().await.map_err(|e| {
                e.in_source(&format!("{}.calibrators", self.catalog.options.schema))
            })?;
        let batch = match self.kind {
            Kind::Measurements => measurements_batch(&self.schema, &rows)?,
            Kind::Sources => sources_batch(&self.schema, &rows)?,
        };
        MemTable::try_new(self.schema.clone(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

fn measurements_batch(schema: &SchemaRef, rows: &[Measurement]) -> Result<RecordBatch> {
    let mut source = StringBuilder::new();
    let mut ra = Float64Builder::new();
    let mut dec = Float64Builder::new();
    let mut band = Int16Builder::new();
    let mut freq = Float64Builder::new();
    let mut flux = Float64Builder::new();
    let mut err = Float64Builder::new();
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for m in rows {
        source.append_value(&m.source);
        ra.append_option(m.ra_deg);
        dec.append_option(m.dec_deg);
        band.append_option(m.band);
        freq.append_option(m.frequency_ghz);
        flux.append_option(m.flux_jy);
        err.append_option(m.flux_error_jy);
        at.append_option(m.observed_at_us);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(source.finish()),
        Arc::new(ra.finish()),
        Arc::new(dec.finish()),
        Arc::new(band.finish()),
        Arc::new(freq.finish()),
        Arc::new(flux.finish()),
        Arc::new(err.finish()),
        Arc::new(at.finish()),
    ];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn sources_batch(schema: &SchemaRef, rows: &[Measurement]) -> Result<RecordBatch> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Acc {
        ra: Option<f64>,
        dec: Option<f64>,
        count: i64,
        first: Option<i64>,
        last: Option<i64>,
    }
    let mut by_source: BTreeMap<&str, Acc> = BTreeMap::new();
    for m in rows {
        let acc = by_source.entry(&m.source).or_default();
        acc.count += 1;
        if acc.ra.is_none() {
            acc.ra = m.ra_deg;
            acc.dec = m.dec_deg;
        }
        if let Some(t) = m.observed_at_us {
            acc.first = Some(acc.first.map_or(t, |f| f.min(t)));
            acc.last = Some(acc.last.map_or(t, |l| l.max(t)));
        }
    }
    let mut source = StringBuilder::new();
    let mut ra = Float64Builder::new();
    let mut dec = Float64Builder::new();
    let mut from = StringBuilder::new();
    let mut count = Int64Builder::new();
    let mut first = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut last = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for (name, acc) in by_source {
        let (r, d, origin) = match (acc.ra, acc.dec) {
            (Some(r), Some(d)) => (Some(r), Some(d), "catalog"),
            _ => match jname_position(name) {
                Some((r, d)) => (Some(r), Some(d), "jname"),
                None => (None, None, "unknown"),
            },
        };
        source.append_value(name);
        ra.append_option(r);
        dec.append_option(d);
        from.append_value(origin);
        count.append_value(acc.count);
        first.append_option(acc.first);
        last.append_option(acc.last);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(source.finish()),
        Arc::new(ra.finish()),
        Arc::new(dec.finish()),
        Arc::new(from.finish()),
        Arc::new(count.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
    ];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
