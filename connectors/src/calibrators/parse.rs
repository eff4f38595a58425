//! Reading catalog files: CSV with a header, and VOTable TABLEDATA.
//!
//! Columns are found by name, case-insensitively, under the names the ALMA
//! calibrator catalogue and common exports use (see [`COLUMN_NAMES`]).

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::{ConnectorError, Result};

/// One flux measurement of a calibrator.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Source name (J-name).
    pub source: String,
    /// Right ascension in degrees, if the catalog gives it.
    pub ra_deg: Option<f64>,
    /// Declination in degrees, if the catalog gives it.
    pub dec_deg: Option<f64>,
    /// ALMA band; derived from the frequency when the catalog has no band.
    pub band: Option<i16>,
    /// Observing frequency, GHz.
    pub frequency_ghz: Option<f64>,
    /// Flux density, Jy.
    pub flux_jy: Option<f64>,
    /// Flux density error, Jy.
    pub flux_error_jy: Option<f64>,
    /// When the measurement was made, microseconds since the Unix epoch.
    pub observed_at_us: Option<i64>,
}

/// The accepted column names of each field, lower case.
pub const COLUMN_NAMES: [(&str, &[&str]); 8] = [
    (
        "source",
        &[
            "source",
            "source_name",
            "source name",
            "name",
            "calibrator",
            "jname",
        ],
    ),
    ("ra_deg", &["ra_deg", "ra", "raj2000", "ra (deg)"]),
    ("dec_deg", &["dec_deg", "dec", "dej2000", "dec (deg)"]),
    ("band", &["band"]),
    (
        "frequency_ghz",
        &[
            "frequency_ghz",
            "frequency",
            "freq",
            "freq_ghz",
            "frequency (ghz)",
        ],
    ),
    (
        "flux_jy",
        &[
            "flux_jy",
            "flux",
            "flux_density",
            "flux density",
            "flux (jy)",
        ],
    ),
    (
        "flux_error_jy",
        &[
            "flux_error_jy",
            "flux_error",
            "flux_err",
            "e_flux",
            "error",
            "flux density error",
        ],
    ),
    (
        "observed_at",
        &[
            "observed_at",
            "date",
            "obs_date",
            "date_observed",
            "observation_date",
            "date observed",
        ],
    ),
];

/// Column positions of the fields in a header.
struct Columns([Option<usize>; 8]);

impl Columns {
    fn find(header: &[String], origin: &str) -> Result<Self> {
        let lower: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let mut found = [None; 8];
        for (slot, (_, names)) in found.iter_mut().zip(COLUMN_NAMES.iter()) {
            *slot = names.iter().find_map(|n| lower.iter().position(|h| h == n));
        }
        if found[0].is_none() {
            return Err(ConnectorError::Format {
                file: origin.to_string(),
                message: format!(
                    "no source name column: expected one of {:?}, found {header:?}",
                    COLUMN_NAMES[0].1
                ),
            });
        }
        Ok(Self(found))
    }

    fn row(&self, cells: &[&str], origin: &str, line: usize) -> Result<Option<Measurement>> {
        let get = |i: usize| {
            self.0[i]
                .and_then(|p| cells.get(p))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(source) = get(0) else {
            return Ok(None);
        };
        let number = |i: usize| -> Result<Option<f64>> {
            match get(i) {
                None => Ok(None),
                Some(s) => s
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| ConnectorError::Format {
                        file: origin.to_string(),
                        message: format!(
                            "row {line}: `{s}` is not a number ({})",
                            COLUMN_NAMES[i].0
                        ),
                    }),
            }
        };
        let ra_deg = match get(1) {
            Some(s) if s.contains(':') || s.contains(' ') => sexagesimal(s).map(|h| h * 15.0),
            _ => number(1)?,
        };
        let dec_deg = match get(2) {
            Some(s) if s.contains(':') || s[1..].contains(' ') => sexagesimal(s),
            _ => number(2)?,
        };
        let frequency_ghz = number(4)?;
        let band = match get(3) {
            Some(s) => Some(
                s.trim_start_matches(['B', 'b'])
                    .trim_start_matches("and")
                    .trim()
                    .parse::<i16>()
                    .map_err(|_| ConnectorError::Format {
                        file: origin.to_string(),
                        message: format!("row {line}: `{s}` is not a band number"),
                    })?,
            ),
            None => frequency_ghz
                .and_then(almasql_udfs::sky::alma_band::band_of)
                .map(|b| b as i16),
        };
        let observed_at_us = match get(7) {
            None => None,
            Some(s) => Some(parse_time(s).ok_or_else(|| ConnectorError::Format {
                file: origin.to_string(),
                message: format!("row {line}: `{s}` is not a date or timestamp"),
            })?),
        };
        Ok(Some(Measurement {
            source: source.to_string(),
            ra_deg,
            dec_deg,
            band,
            frequency_ghz,
            flux_jy: number(5)?,
            flux_error_jy: number(6)?,
            observed_at_us,
        }))
    }
}

/// Parses a CSV catalog with a header line.
pub fn csv(bytes: &[u8], origin: &str) -> Result<Vec<Measurement>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format_error(origin, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let columns = Columns::find(&header, origin)?;
    let mut rows = vec![];
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format_error(origin, e))?;
        let cells: Vec<&str> = record.iter().collect();
        if let Some(m) = columns.row(&cells, origin, i + 2)? {
            rows.push(m);
        }
    }
    Ok(rows)
}

/// Parses a VOTable with TABLEDATA rows (the first TABLE).
pub fn votable(bytes: &[u8], origin: &str) -> Result<Vec<Measurement>> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buf = vec![];
    let mut fields: Vec<String> = vec![];
    let mut columns: Option<Columns> = None;
    let mut row: Vec<String> = vec![];
    let mut in_td = false;
    let mut cell = String::new();
    let mut rows = vec![];
    let mut tables = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Err(e) => {
                return Err(ConnectorError::Format {
                    file: origin.to_string(),
                    message: format!("invalid VOTable at byte {}: {e}", reader.error_position()),
                });
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == b"TABLE" => {
                tables += 1;
                if tables > 1 {
                    break;
                }
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == b"FIELD" => {
                let name = e
                    .try_get_attribute("name")
                    .ok()
                    .flatten()
                    .or_else(|| e.try_get_attribute("ID").ok().flatten())
                    .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                    .unwrap_or_default();
                fields.push(name);
            }
            Ok(Event::Start(e))
                if e.local_name().as_ref() == b"BINARY"
                    || e.local_name().as_ref() == b"BINARY2"
                    || e.local_name().as_ref() == b"FITS" =>
            {
                return Err(ConnectorError::Format {
                    file: origin.to_string(),
                    message: "only TABLEDATA VOTables are supported, not BINARY or FITS".into(),
                });
            }
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"TABLEDATA" => {
                columns = Some(Columns::find(&fields, origin)?);
            }
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"TR" => row.clear(),
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"TD" => {
                in_td = true;
                cell.clear();
            }
            Ok(Event::Empty(e)) if e.local_name().as_ref() == b"TD" => row.push(String::new()),
            Ok(Event::Text(t)) if in_td => {
                let text = t.decode().map_err(|e| format_error(origin, e))?;
                cell.push_str(
                    &quick_xml::escape::unescape(&text).map_err(|e| format_error(origin, e))?,
                );
            }
            Ok(Event::GeneralRef(r)) if in_td => {
                let name = r.decode().map_err(|e| format_error(origin, e))?;
                let entity = format!("&{name};");
                cell.push_str(
                    &quick_xml::escape::unescape(&entity).map_err(|e| format_error(origin, e))?,
                );
            }
            Ok(Event::CData(t)) if in_td => cell.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::End(e)) if e.local_name().as_ref() == b"TD" => {
                in_td = false;
                row.push(std::mem::take(&mut cell));
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == b"TR" => {
                let Some(columns) = &columns else {
                    continue;
                };
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                if let Some(m) = columns.row(&cells, origin, rows.len() + 1)? {
                    rows.push(m);
                }
            }
            Ok(_) => {}
        }
        buf.clear();
    }
    if columns.is_none() {
        return Err(ConnectorError::Format {
            file: origin.to_string(),
            message: "no TABLEDATA element: not a VOTable with rows".into(),
        });
    }
    Ok(rows)
}

fn format_error(origin: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Format {
        file: origin.to_string(),
        message: e.to_string(),
    }
}

/// `HH:MM:SS.s` or `±DD MM SS` as a decimal number of the first unit.
fn sexagesimal(text: &str) -> Option<f64> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    let parts: Vec<f64> = rest
        .split([':', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let value = parts
        .iter()
        .zip([1.0, 60.0, 3600.0])
        .map(|(v, d)| v / d)
        .sum::<f64>();
    Some(sign * value)
}

/// An ISO date or timestamp (UTC when no zone is given), in microseconds.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    for format in ["%Y-%m-%d", "%d-%b-%Y", "%Y/%m/%d"] {
        if let Ok(d) = chrono::NaiveDate::parse_from_str(text, format) {
            return Some(
                d.and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp_micros(),
            );
        }
    }
    None
}

/// RA and Dec in degrees from a J-name, as the `jname_ra` / `jname_dec`
/// functions read it.
pub fn jname_position(name: &str) -> Option<(f64, f64)> {
    almasql_udfs::sky::jname::parse_jname(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_with_aliases_and_derives_bands() {
        let text = "# ALMA calibrator catalogue export\n\
                    Name,RA,Dec,Frequency,Flux,Flux_err,Date\n\
                    J0006-0623,00:06:13.89,-06:23:35.3,91.5,2.10,0.11,2025-10-01\n\
                    J0237+2848,39.468,28.802,343.5,1.1,,2025-10-02T10:00:00Z\n";
        let rows = csv(text.as_bytes(), "t.csv").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].source, "J0006-0623");
        // 00:06:13.89 h = 1.557875 deg; -06:23:35.3 = -6.393139 deg.
        assert!((rows[0].ra_deg.unwrap() - 1.557_875).abs() < 1e-6);
        assert!((rows[0].dec_deg.unwrap() + 6.393_138_9).abs() < 1e-6);
        assert_eq!(rows[0].band, Some(3));
        assert_eq!(rows[1].band, Some(7));
        assert_eq!(rows[1].flux_error_jy, None);
        assert_eq!(
            rows[1].observed_at_us,
            Some(
                chrono::DateTime::parse_from_rfc3339("2025-10-02T10:00:00Z")
                    .unwrap()
                    .timestamp_micros()
            )
        );
    }

    #[test]
    fn bad_values_name_the_file_and_row() {
        let err = csv(b"source,flux\nJ0006-0623,lots\n", "cat.csv").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cat.csv") && text.contains("row 2") && text.contains("lots"),
            "{text}"
        );
        let err = csv(b"flux\n1.0\n", "cat.csv").unwrap_err();
        assert!(err.to_string().contains("no source name column"), "{err}");
    }

    #[test]
    fn reads_votable_tabledata() {
        let text = r#"<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
 <RESOURCE><TABLE name="calibrators">
  <FIELD name="Source" datatype="char" arraysize="*"/>
  <FIELD name="Band" datatype="short"/>
  <FIELD name="Frequency" datatype="double" unit="GHz"/>
  <FIELD name="Flux" datatype="double" unit="Jy"/>
  <FIELD name="Date" datatype="char" arraysize="*"/>
  <DATA><TABLEDATA>
   <TR><TD>J1924-2914</TD><TD>3</TD><TD>103.5</TD><TD>3.4</TD><TD>2025-11-01</TD></TR>
   <TR><TD>J1924&#45;2914</TD><TD>7</TD><TD>343.5</TD><TD/><TD>2025-11-02</TD></TR>
  </TABLEDATA></DATA>
 </TABLE></RESOURCE>
</VOTABLE>"#;
        let rows = votable(text.as_bytes(), "t.vot").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].source, "J1924-2914");
        assert_eq!(rows[1].band, Some(7));
        assert_eq!(rows[1].flux_jy, None);
        assert_eq!(rows[0].flux_jy, Some(3.4));
    }

    #[test]
    fn rejects_binary_votables() {
        let text = r#"<VOTABLE><RESOURCE><TABLE><FIELD name="Source"/><DATA><BINARY><STREAM encoding="base64">AAAA</STREAM></BINARY></DATA></TABLE></RESOURCE></VOTABLE>"#;
        let err = votable(text.as_bytes(), "t.vot").unwrap_err();
        assert!(err.to_string().contains("TABLEDATA"), "{err}");
    }
}
