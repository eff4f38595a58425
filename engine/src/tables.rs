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
    /// `bigint`
    BigInt,
    /// `bigint` read from an unsigned 64-bit column
    UBigInt,
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
            Self::BigInt => DataType::Int64,
            Self::UBigInt => DataType::UInt64,
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
            Self::BigInt | Self::UBigInt => "bigint",
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
    /// ACS XML log files, read by the `acs_logs` connector.
    AcsLogs,
    /// The unreadable records of ACS log files (`acs_logs` connector).
    AcsErrors,
    /// Calibrator catalog measurements (`calibrator_catalog` connector).
    CalibratorMeasurements,
    /// Calibrator sources derived from the catalog.
    CalibratorSources,
    /// Monitor text files (`monitor_text` connector).
    MonitorText,
}

impl Format {
    /// How the reference describes the storage.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Parquet => "Parquet",
            Self::AcsLogs => "ACS XML logs (`acs_logs` connector)",
            Self::AcsErrors => "the unreadable records of the ACS logs (`acs_logs` connector)",
            Self::CalibratorMeasurements => {
                "a CSV calibrator catalog (`calibrator_catalog` connector)"
            }
            Self::CalibratorSources => {
                "derived from the calibrator catalog (`calibrator_catalog` connector)"
            }
            Self::MonitorText => "monitor text files (`monitor_text` connector)",
        }
    }
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

const TEXT_SAMPLES_COLUMNS: &[ColumnDoc] = &[
    col("time", Timestamptz, false, "Sample time (UTC)."),
    col(
        "antenna",
        Text,
        true,
        "Antenna (directory name); NULL for `-` (site-wide).",
    ),
    col("device", Text, false, "Device (directory name)."),
    col("monitor_point", Text, false, "Monitor point (file name)."),
    col(
        "polarization",
        SmallInt,
        true,
        "N of an `IFProc<N>` device; NULL otherwise.",
    ),
    col(
        "baseband",
        Text,
        true,
        "`BB_<i>` for the i-th value of a multi-value line; NULL for single values.",
    ),
    col("value", Double, false, "The reading."),
    col("unit", Text, true, "From the file's `# unit:` line."),
];

const ACS_COLUMNS: &[ColumnDoc] = &[
    col(
        "time",
        Timestamptz,
        false,
        "`TimeStamp` (UTC, milliseconds).",
    ),
    col(
        "level",
        Text,
        false,
        "Level: the record's element (`Info`, `Error`, …).",
    ),
    col(
        "level_num",
        Int,
        false,
        "ACS numeric level: Trace 1, Delouse 2, Debug 3, Info 4, Notice 5, Warning 6, Error 8, Critical 9, Alert 10, Emergency 11.",
    ),
    col("host", Text, true, "`Host`."),
    col("process", Text, true, "`Process` (container)."),
    col("source_object", Text, true, "`SourceObject` (component)."),
    col("thread", Text, true, "`Thread`."),
    col("file", Text, true, "`File` (source file)."),
    col("line", Int, true, "`Line`; NULL when not a number."),
    col("routine", Text, true, "`Routine`."),
    col("context", Text, true, "`Context`."),
    col("log_id", Text, true, "`LogId`."),
    col("uri", Text, true, "`Uri`."),
    col("stack_id", Text, true, "`StackId`."),
    col(
        "stack_level",
        Int,
        true,
        "`StackLevel`; NULL when not a number.",
    ),
    col("priority", Int, true, "`Priority`; NULL when not a number."),
    col("audience", Text, true, "`Audience`."),
    col("array", Text, true, "`Array`."),
    col("antenna", Text, true, "`Antenna`."),
    col(
        "message",
        Text,
        true,
        "The message (text or CDATA, entities decoded); NULL for an empty record.",
    ),
    col(
        "data",
        Text,
        true,
        "The `<Data Name=…>` children as a JSON object of strings; NULL when there are none.",
    ),
    col(
        "source_file",
        Text,
        false,
        "The file the record was read from.",
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
        doc: "Flux measurements of J-named calibrator sources in Bands 3, 6 and 7 (the calibrator survey). Catalog columns other than the name may be missing in a real catalog, hence nullable.",
        location: "calibrators/measurements.csv",
        format: Format::CalibratorMeasurements,
        columns: &[
            col(
                "source",
                Text,
                false,
                "Calibrator J-name, e.g. `J0854+2006`.",
            ),
            col("ra_deg", Double, true, "Right ascension (J2000), degrees."),
            col("dec_deg", Double, true, "Declination (J2000), degrees."),
            col(
                "band",
                SmallInt,
                true,
                "Receiver band (3, 6 or 7); from the frequency when the catalog has no band column.",
            ),
            col("frequency_ghz", Double, true, "Observing frequency, GHz."),
            col("flux_jy", Double, true, "Measured flux density, Jy."),
            col(
                "flux_error_jy",
                Double,
                true,
                "Uncertainty of the flux density, Jy.",
            ),
            col(
                "observed_at",
                Timestamptz,
                true,
                "When it was measured (UTC).",
            ),
        ],
        partitions: &[],
        sorted_by: &[],
    },
    TableDoc {
        schema: "calibrators",
        table: "sources",
        doc: "One row per calibrator source of the catalog, with its position from the catalog or, failing that, from its J-name.",
        location: "calibrators/measurements.csv",
        format: Format::CalibratorSources,
        columns: &[
            col("source", Text, false, "Calibrator J-name."),
            col("ra_deg", Double, true, "Right ascension (J2000), degrees."),
            col("dec_deg", Double, true, "Declination (J2000), degrees."),
            col(
                "position_from",
                Text,
                false,
                "`catalog`, `jname` (derived from the name) or `unknown`.",
            ),
            col("measurements", BigInt, false, "Number of measurements."),
            col(
                "first_observed",
                Timestamptz,
                true,
                "First measurement (UTC).",
            ),
            col(
                "last_observed",
                Timestamptz,
                true,
                "Last measurement (UTC).",
            ),
        ],
        partitions: &[],
        sorted_by: &[],
    },
    TableDoc {
        schema: "logs",
        table: "acs",
        doc: "ACS XML log records of the array's containers (hosts `gas01`–`gas03`), one file per host and hour, every sixth hour gzipped, a few records broken on purpose. Includes the photonic-reference lock-loss `Error` records (with `Antenna` and `AmbientTemperature` data).",
        location: "logs/acs/",
        format: Format::AcsLogs,
        columns: ACS_COLUMNS,
        partitions: &[],
        sorted_by: &[],
    },
    TableDoc {
        schema: "logs",
        table: "acs_errors",
        doc: "The records of `logs.acs` that could not be read, with the file, the byte offset in the (decompressed) file and the reason.",
        location: "logs/acs/",
        format: Format::AcsErrors,
        columns: &[
            col("source_file", Text, false, "The log file."),
            col(
                "byte_offset",
                UBigInt,
                false,
                "Offset of the record in the decompressed file.",
            ),
            col(
                "element",
                Text,
                true,
                "The record's element name, if known.",
            ),
            col("reason", Text, false, "Why it was skipped."),
        ],
        partitions: &[],
        sorted_by: &[],
    },
    TableDoc {
        schema: "monitor",
        table: "text_samples",
        doc: "Monitor text files (one per antenna, device, monitor point and day, as the text-monitor retrieval writes them) with the columns of `monitor.samples`: the IF total power of two antennas and the weather station, the same values as in `monitor.samples`.",
        location: "monitor/text/",
        format: Format::MonitorText,
        columns: TEXT_SAMPLES_COLUMNS,
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
         <!-- Generated from engine/src/tables.rs by `UPDATE_DOCS=1 cargo test --release --workspace reference_page`; do not edit. -->\n\n\
         The tables of the embedded default (the synthetic ALMA demo dataset). \
         What is planted in them for each mission question is described in `engine/src/demo/mod.rs`.\n",
    );
    for t in DEMO_TABLES {
        write!(
            out,
            "\n## {}\n\n{}\n\nStored as {} at `<data_dir>/demo/{}`",
            t.qualified(),
            t.doc,
            t.format.describe(),
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
        crate::test_support::manifest_dir().join("../docs/tables.md")
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
            "docs/tables.md is stale: run `UPDATE_DOCS=1 cargo test --release --workspace reference_page`"
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
