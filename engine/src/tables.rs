//! The demo tables: their schemas, files and documentation, in one place.
//!
//! Registration ([`crate::session`]) and the reference page `docs/tables.md`
//! ([`render_reference`]) are both made from [`DEMO_TABLES`]; a test checks
//! that the catalog a session shows matches the committed page.

use std::fmt::Write;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// The column types used by the demo tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `text`
    Text,
    /// `smallint`
    SmallInt,
    /// `integer`
    Int,
    /// `double precision`
    Double,
    /// `timestamp with time zone` (UTC)
    Timestamptz,
    /// `date`
    Date,
}

impl ColumnType {
    /// The Arrow type of the column.
    pub fn arrow(self) -> DataType {
        match self {
            Self::Text => DataType::Utf8,
            Self::SmallInt => DataType::Int16,
            Self::Int => DataType::Int32,
            Self::Double => DataType::Float64,
            Self::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Self::Date => DataType::Date32,
        }
    }

    /// The PostgreSQL name of the type, as the reference shows it.
    pub fn sql_name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::SmallInt => "smallint",
            Self::Int => "integer",
            Self::Double => "double precision",
            Self::Timestamptz => "timestamptz",
            Self::Date => "date",
        }
    }
}

/// How a demo table is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// Parquet.
    Parquet,
}

/// One documented column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDoc {
    /// Column name.
    pub name: &'static str,
    /// Column type.
    pub ty: ColumnType,
    /// Whether it may be NULL.
    pub nullable: bool,
    /// What it holds, with its unit.
    pub doc: &'static str,
}

/// One documented table of the demo dataset.
#[derive(Debug, Clone, Copy)]
pub struct TableDoc {
    /// Schema name.
    pub schema: &'static str,
    /// Table name.
    pub table: &'static str,
    /// What the table holds.
    pub doc: &'static str,
    /// Path inside the dataset directory (a file, or a directory ending in `/`).
    pub location: &'static str,
    /// File format.
    pub format: Format,
    /// Columns stored in the files.
    pub columns: &'static [ColumnDoc],
    /// Hive partition columns (from `key=value` directories).
    pub partitions: &'static [ColumnDoc],
    /// Columns the files are sorted by, within each file.
    pub sorted_by: &'static [&'static str],
}

impl TableDoc {
    /// `schema.table`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// The schema of the files (without partition columns).
    pub fn file_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.ty.arrow(), c.nullable))
                .collect::<Vec<_>>(),
        )
    }
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, doc: &'static str) -> ColumnDoc {
    ColumnDoc {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColumnType::*;

const SAMPLES_COLUMNS: &[ColumnDoc] = &[
    col(
        "time",
        Timestamptz,
        false,
        "Sample time (UTC), 1-minute cadence.",
    ),
    col(
        "antenna",
        Text,
        true,
        "Antenna name (`DV07`); NULL for site-wide weather points.",
    ),
    col(
        "device",
        Text,
        false,
        "Device: `IFProc0`/`IFProc1` (IF processor of polarization 0/1) or `MeteoCentral` (weather station).",
    ),
    col(
        "monitor_point",
        Text,
        false,
        "Monitor point: `TOTAL_POWER` (detector reading per baseband), `AMBIENT_TEMPERATURE`, `PRESSURE`, `RELATIVE_HUMIDITY`, `WIND_SPEED`.",
    ),
    col(
        "polarization",
        SmallInt,
        true,
        "Polarization 0 or 1 for IF points; NULL otherwise.",
    ),
    col(
        "baseband",
        Text,
        true,
        "Baseband `BB_1` … `BB_4` for IF points; NULL otherwise.",
    ),
    col("value", Double, false, "The reading, in `unit`."),
    col(
        "unit",
        Text,
        false,
        "Unit of `value`: `V`, `degC`, `hPa`, `%`, `m/s`.",
    ),
];

const LO2_COLUMNS: &[ColumnDoc] = &[
    col(
        "time",
        Timestamptz,
        false,
        "When the LO2 reported the frequency offset (UTC).",
    ),
    col("antenna", Text, false, "Antenna name."),
    col(
        "device",
        Text,
        false,
        "LO2 module, `LO2BBpr0` … `LO2BBpr3`.",
    ),
    col(
        "baseband_pair",
        SmallInt,
        false,
        "Baseband pair 0–3 served by the module.",
    ),
    col(
        "frequency_offset_hz",
        Double,
        false,
        "Offset of the LO2 frequency from its set point, Hz.",
    ),
];

/// The tables of the demo dataset.
pub const DEMO_TABLES: &[TableDoc] = &[
    TableDoc {
        schema: "ops",
        table: "antennas",
        doc: "The 66 ALMA antennas (DA41–DA65, DV01–DV25, PM01–PM04, CM01–CM12) with type and pad.",
        location: "ops/antennas.csv",
        format: Format::Csv,
        columns: &[
            col("antenna", Text, false, "Antenna name."),
            col(
                "antenna_type",
                Text,
                false,
                "Vendor and model: `AEM 12 m`, `Vertex 12 m`, `MELCO 12 m`, `MELCO 7 m`.",
            ),
            col("diameter_m", Double, false, "Dish diameter, metres."),
            col(
                "array",
                Text,
                false,
                "`12m` (main array), `7m` (ACA) or `TP` (total power).",
            ),
            col("pad", Text, false, "Pad the antenna stands on."),
        ],
        partitions: &[],
        sorted_by: &[],
    },
    TableDoc {
        schema: "ops",
        table: "projects",
        doc: "Observing projects of the cycle: executive, band, requested time and target position.",
        location: "ops/projects.csv",
        format: Format::Csv,
        columns: &[
            col("code", Text, false, "Project code, e.g. `2025.1.00042.S`."),
            col(
                "executive",
                Text,
                false,
                "Executive (region) of the PI: `EU`, `NA`, `EA`, `CL` or `OTHER`.",
            ),
            col("band", Int, false, "Receiver band 1–10."),
            col(
                "requested_hours",
                Double,
                false,
                "Requested observing time, hours.",
            ),
            col(
                "ra_deg",
                Double,
                false,
                "Right ascension of the target (J2000), degrees.",
            ),
            col(
                "dec_deg",
                Double,
                false,
                "Declination of the target (J2000), degrees.",
            ),
            col("array", Text, false, "`12m`, `7m` or `TP`."),
            col("grade", Text, false, "Proposal grade `A`, `B` or `C`."),
        ],
        partitions: &[],
        sorted_by: &[],
    },
    TableDoc {
        schema: "ops",
        table: "executions",
        doc: "Execution blocks run on the array: which project, when, in which band and configuration, and the QA0 status.",
        location: "ops/executions.parquet",
        format: Format::Parquet,
        columns: &[
            col(
                "uid",
                Text,
                false,
                "Execution block UID, `uid://A002/X…/X…`.",
            ),
            col(
                "project",
                Text,
                false,
                "Project code (`ops.projects.code`).",
            ),
            col("start_time", Timestamptz, false, "Start (UTC)."),
            col("end_time", Timestamptz, false, "End (UTC)."),
            col("band", Int, false, "Receiver band 1–10."),
            col(
                "array_config",
                Text,
                false,
                "Array configuration: `C-1` … `C-10`, `7m` or `TP`.",
            ),
            col(
                "status",
                Text,
                false,
                "QA0 status: `Pass`, `SemiPass` or `Fail`.",
            ),
        ],
        partitions: &[],
        sorted_by: &["start_time"],
    },
    TableDoc {
        schema: "monitor",
        table: "samples",
        doc: "Monitor-point samples in long format: IF-processor total-power detector readings per antenna × polarization × baseband, and the ambient weather, at a 1-minute cadence. Parquet, one file per day, partitioned by `date` (hive style).",
        location: "monitor/samples/",
        format: Format::Parquet,
        columns: SAMPLES_COLUMNS,
        partitions: &[col(
            "date",
            Date,
            false,
            "UTC date of the sample (the partition directory).",
        )],
        sorted_by: &["antenna", "polarization", "baseband", "time"],
    },
    TableDoc {
        schema: "monitor",
        table: "lo2_frequency_offsets",
        doc: "LO2 frequency-offset events per antenna and baseband pair.",
        location: "monitor/lo2_frequency_offsets.parquet",
        format: Format::Parquet,
        columns: LO2_COLUMNS,
        partitions: &[],
        sorted_by: &["time"],
    },
    TableDoc {
        schema: "calibrators",
        table: "measurements",
        doc: "Flux measurements of J-named calibrator sources in Bands 3, 6 and 7 (the calibrator survey).",
        location: "calibrators/measurements.csv",
        format: Format::Csv,
        columns: &[
            col(
                "source",
                Text,
                false,
                "Calibrator J-name, e.g. `J0854+2006`.",
            ),
            col("ra_deg", Double, false, "Right ascension (J2000), degrees."),
            col("dec_deg", Double, false, "Declination (J2000), degrees."),
            col("band", Int, false, "Receiver band (3, 6 or 7)."),
            col("frequency_ghz", Double, false, "Observing frequency, GHz."),
            col("flux_jy", Double, false, "Measured flux density, Jy."),
            col(
                "flux_error_jy",
                Double,
                false,
                "Uncertainty of the flux density, Jy.",
            ),
            col(
                "observed_at",
                Timestamptz,
                false,
                "When it was measured (UTC).",
            ),
        ],
        partitions: &[],
        sorted_by: &[],
    },
];

/// Looks a demo table up by schema and name.
pub fn demo_table(schema: &str, table: &str) -> &'static TableDoc {
    DEMO_TABLES
        .iter()
        .find(|t| t.schema == schema && t.table == table)
        .expect("known demo table")
}

/// The file schema of `monitor.samples`.
pub fn samples_file_schema() -> Schema {
    demo_table("monitor", "samples").file_schema()
}

/// The file schema of `monitor.lo2_frequency_offsets`.
pub fn lo2_schema() -> Schema {
    demo_table("monitor", "lo2_frequency_offsets").file_schema()
}

/// Renders the table reference (`docs/tables.md`).
pub fn render_reference() -> String {
    let mut out = String::from(
        "# Table reference\n\n\
         <!-- Generated from engine/src/tables.rs by `UPDATE_DOCS=1 cargo test --release -p almasql-engine`; do not edit. -->\n\n\
         The tables of the embedded default (the synthetic ALMA demo dataset). \
         What is planted in them for each mission question is described in `engine/src/demo/mod.rs`.\n",
    );
    for t in DEMO_TABLES {
        write!(
            out,
            "\n## {}\n\n{}\n\nStored as {} at `<data_dir>/demo/{}`",
            t.qualified(),
            t.doc,
            match t.format {
                Format::Csv => "CSV",
                Format::Parquet => "Parquet",
            },
            t.location
        )
        .expect("write to string");
        if !t.sorted_by.is_empty() {
            write!(out, ", sorted by ({})", t.sorted_by.join(", ")).expect("write to string");
        }
        out.push_str(".\n\n| column | type | null | description |\n|---|---|---|---|\n");
        for c in t.columns.iter().chain(t.partitions) {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                c.name,
                c.ty.sql_name(),
                if c.nullable { "yes" } else { "no" },
                c.doc
            )
            .expect("write to string");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/tables.md")
    }

    #[test]
    fn reference_page_is_up_to_date() {
        let rendered = render_reference();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(reference_path(), &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(reference_path()).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/tables.md is stale: run `UPDATE_DOCS=1 cargo test --release -p almasql-engine reference_page`"
        );
    }

    #[test]
    fn every_column_is_documented() {
        for t in DEMO_TABLES {
            assert!(!t.doc.is_empty(), "{}", t.qualified());
            for c in t.columns.iter().chain(t.partitions) {
                assert!(!c.doc.is_empty(), "{}.{}", t.qualified(), c.name);
            }
            for s in t.sorted_by {
                assert!(
                    t.columns.iter().any(|c| c.name == *s),
                    "{} sorted by unknown {s}",
                    t.qualified()
                );
            }
        }
    }
}
