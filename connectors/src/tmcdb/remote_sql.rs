//! The SQL almasql sends to a TMCDB: the monitor points with what they
//! belong to, and the `MonitorData` blocks a query needs.
//!
//! Values never enter the SQL text: each pushed-down value is a positional
//! parameter (`$1`, `$2`, ... for PostgreSQL, `?` for MySQL) in
//! [`RemoteQuery::params`]. Identifiers are spelt as in `schema.sql`
//! (unquoted), the SQL uses no dialect-only syntax beyond the placeholders
//! (`CONCAT` with two arguments, `LIMIT`), so the same text runs on
//! PostgreSQL and MySQL.
//!
//! A point's antenna is the `Antenna` of the point's hardware configuration
//! whose name is the second element of the component's path
//! (`CONTROL/DA41` + `IFProc0`); points of other components (e.g.
//! `CONTROL/AOSTiming`) have no antenna.

use super::clob::unix_ns_to_acs_ceil;

/// The placeholder syntax of the remote database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placeholders {
    /// `$1`, `$2`, ... (PostgreSQL).
    #[default]
    Dollar,
    /// `?` (MySQL, JDBC).
    Question,
}

/// A parameter of a remote query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlParam {
    /// A text value (names).
    Text(String),
    /// A 64-bit integer (ACS times, limits).
    BigInt(i64),
}

/// SQL text and its parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteQuery {
    /// The statement.
    pub sql: String,
    /// The values of its placeholders.
    pub params: Vec<SqlParam>,
}

/// What a scan pushes into the remote SQL. `None` leaves a column
/// unfiltered; `Some(vec![])` matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmcdbFilter {
    /// Antenna names (`Antenna.AntennaName`), e.g. `DA41`.
    pub antennas: Option<Vec<String>>,
    /// Monitor point names (`MonitorPoint.MonitorPointName`).
    pub monitor_points: Option<Vec<String>>,
    /// Assembly types (`Assembly.AssemblyTypeName`), e.g. `IFProc`, `LO2`.
    pub assembly_types: Option<Vec<String>>,
    /// Samples at or after this instant (ns since the Unix epoch).
    pub time_from_ns: Option<i64>,
    /// Samples before this instant (ns since the Unix epoch).
    pub time_to_ns: Option<i64>,
    /// At most this many blocks (`MonitorData` rows).
    pub block_limit: Option<u64>,
}

/// Positions of the columns in the rows of [`points_query`] and, first,
/// of [`blocks_query`].
pub mod point_col {
    /// `MonitorPoint.MonitorPointId` (INTEGER).
    pub const MONITOR_POINT_ID: usize = 0;
    /// `MonitorPoint.MonitorPointName`.
    pub const MONITOR_POINT: usize = 1;
    /// `Antenna.AntennaName`, NULL for a point of no antenna.
    pub const ANTENNA: usize = 2;
    /// `Component.Path`, e.g. `CONTROL/DA41`.
    pub const COMPONENT_PATH: usize = 3;
    /// `Component.ComponentName`, e.g. `IFProc0`.
    pub const COMPONENT_NAME: usize = 4;
    /// `Assembly.AssemblyTypeName`, e.g. `IFProc`.
    pub const ASSEMBLY_TYPE: usize = 5;
    /// `AssemblyType.LRUName`.
    pub const LRU_TYPE: usize = 6;
    /// `Assembly.SerialNumber`.
    pub const SERIAL_NUMBER: usize = 7;
    /// `BACIProperty.PropertyName`.
    pub const PROPERTY: usize = 8;
    /// `MonitorPoint.Indice` (INTEGER).
    pub const INDICE: usize = 9;
    /// `MonitorPoint.DataType`.
    pub const DATA_TYPE: usize = 10;
    /// `MonitorPoint.Units`, nullable.
    pub const UNITS: usize = 11;
    /// `MonitorPoint.Description`, nullable.
    pub const DESCRIPTION: usize = 12;
    /// Number of point columns.
    pub const COUNT: usize = 13;
}

/// Positions of the block columns in the rows of [`blocks_query`], after
/// the point columns.
pub mod block_col {
    use super::point_col;
    /// `MonitorData.StartTime` (BIGINT, ACS time).
    pub const START_TIME: usize = point_col::COUNT;
    /// `MonitorData.EndTime` (BIGINT, ACS time).
    pub const END_TIME: usize = point_col::COUNT + 1;
    /// `MonitorData.SampleSize` (INTEGER).
    pub const SAMPLE_SIZE: usize = point_col::COUNT + 2;
    /// `MonitorData.MinStat`, nullable.
    pub const MIN_STAT: usize = point_col::COUNT + 3;
    /// `MonitorData.MaxStat`, nullable.
    pub const MAX_STAT: usize = point_col::COUNT + 4;
    /// `MonitorData.MeanStat`, nullable.
    pub const MEAN_STAT: usize = point_col::COUNT + 5;
    /// `MonitorData.StdDevStat`, nullable.
    pub const STD_DEV_STAT: usize = point_col::COUNT + 6;
    /// `MonitorData.MonitorClob`, when asked for.
    pub const CLOB: usize = point_col::COUNT + 7;
}

const POINT_SELECT: &str = "mp.MonitorPointId, mp.MonitorPointName, ant.AntennaName, \
     c.Path, c.ComponentName, asm.AssemblyTypeName, aty.LRUName, asm.SerialNumber, \
     bp.PropertyName, mp.Indice, mp.DataType, mp.Units, mp.Description";

/// The joins from `mp` (MonitorPoint) to what the point belongs to.
const POINT_JOINS: &str = "JOIN Assembly asm ON asm.AssemblyId = mp.AssemblyId \
     JOIN AssemblyType aty ON aty.AssemblyTypeName = asm.AssemblyTypeName \
     JOIN BACIProperty bp ON bp.BACIPropertyId = mp.BACIPropertyId \
     JOIN Component c ON c.ComponentId = bp.ComponentId \
     LEFT JOIN (BaseElement be JOIN Antenna ant ON ant.BaseElementId = be.BaseElementId) \
     ON be.ConfigurationId = asm.ConfigurationId AND c.Path = CONCAT('CONTROL/', ant.AntennaName)";

const BLOCK_SELECT: &str = "md.StartTime, md.EndTime, md.SampleSize, \
     md.MinStat, md.MaxStat, md.MeanStat, md.StdDevStat";

/// Builds a WHERE clause and its parameters.
struct Where {
    placeholders: Placeholders,
    conditions: Vec<String>,
    params: Vec<SqlParam>,
}

impl Where {
    fn new(placeholders: Placeholders) -> Self {
        Self {
            placeholders,
            conditions: vec![],
            params: vec![],
        }
    }

    /// A placeholder for `param`.
    fn param(&mut self, param: SqlParam) -> String {
        self.params.push(param);
        match self.placeholders {
            Placeholders::Dollar => format!("${}", self.params.len()),
            Placeholders::Question => "?".to_string(),
        }
    }

    fn one_of(&mut self, column: &str, values: Option<&Vec<String>>) {
        let Some(values) = values else {
            return;
        };
        if values.is_empty() {
            self.conditions.push("1 = 0".to_string());
            return;
        }
        let list: Vec<String> = values
            .iter()
            .map(|v| self.param(SqlParam::Text(v.clone())))
            .collect();
        self.conditions
            .push(format!("{column} IN ({})", list.join(", ")));
    }

    fn points(&mut self, filter: &TmcdbFilter) {
        self.one_of("ant.AntennaName", filter.antennas.as_ref());
        self.one_of("mp.MonitorPointName", filter.monitor_points.as_ref());
        self.one_of("asm.AssemblyTypeName", filter.assembly_types.as_ref());
    }

    fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// One row per monitor point, with its antenna, component, assembly type,
/// units, data type and description (columns in [`point_col`]), filtered
/// by antenna, point name and assembly type, ordered by point id.
pub fn points_query(filter: &TmcdbFilter, placeholders: Placeholders) -> RemoteQuery {
    let mut w = Where::new(placeholders);
    w.points(filter);
    let sql = format!(
        "SELECT {POINT_SELECT} FROM MonitorPoint mp {POINT_JOINS}{} ORDER BY mp.MonitorPointId",
        w.sql()
    );
    RemoteQuery {
        sql,
        params: w.params,
    }
}

/// The `MonitorData` blocks of the filtered points that overlap the time
/// range: the point columns ([`point_col`]), then the block's times, size
/// and statistics, and its CLOB when `with_clob` ([`block_col`]). Ordered
/// by point, start time and `MonitorTS`; at most `filter.block_limit`
/// blocks.
///
/// The range `[from, to)` becomes `EndTime >= from AND StartTime < to` in
/// ACS time, both bounds rounded up to the 100 ns unit, which is exact: a
/// block is fetched if and only if it may hold a sample in the range.
pub fn blocks_query(
    filter: &TmcdbFilter,
    with_clob: bool,
    placeholders: Placeholders,
) -> RemoteQuery {
    let mut w = Where::new(placeholders);
    w.points(filter);
    if let Some(from) = filter.time_from_ns {
        let p = w.param(SqlParam::BigInt(unix_ns_to_acs_ceil(from)));
        w.conditions.push(format!("md.EndTime >= {p}"));
    }
    if let Some(to) = filter.time_to_ns {
        let p = w.param(SqlParam::BigInt(unix_ns_to_acs_ceil(to)));
        w.conditions.push(format!("md.StartTime < {p}"));
    }
    let clob = if with_clob { ", md.MonitorClob" } else { "" };
    let mut sql = format!(
        "SELECT {POINT_SELECT}, {BLOCK_SELECT}{clob} FROM MonitorData md \
         JOIN MonitorPoint mp ON mp.MonitorPointId = md.MonitorPointId {POINT_JOINS}{} \
         ORDER BY md.MonitorPointId, md.StartTime, md.MonitorTS",
        w.sql()
    );
    if let Some(limit) = filter.block_limit {
        let p = w.param(SqlParam::BigInt(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql.push_str(" LIMIT ");
        sql.push_str(&p);
    }
    RemoteQuery {
        sql,
        params: w.params,
    }
}

#[cfg(test)]
mod tests {
    use super::super::clob::ACS_UNIX_EPOCH;
    use super::*;

    fn text(v: &str) -> SqlParam {
        SqlParam::Text(v.to_string())
    }

    #[test]
    fn points_without_filters() {
        let q = points_query(&TmcdbFilter::default(), Placeholders::Dollar);
        assert!(q.params.is_empty());
        assert!(
            q.sql
                .starts_with("SELECT mp.MonitorPointId, mp.MonitorPointName, ant.AntennaName,")
        );
        assert!(!q.sql.contains("WHERE"));
        assert!(q.sql.ends_with("ORDER BY mp.MonitorPointId"));
        assert!(
            q.sql
                .contains("c.Path = CONCAT('CONTROL/', ant.AntennaName)")
        );
        assert!(!q.sql.contains("MonitorData"));
    }

    #[test]
    fn points_with_filters_use_placeholders() {
        let filter = TmcdbFilter {
            antennas: Some(vec!["DA41".into(), "DV07".into()]),
            monitor_points: Some(vec!["TOTAL_POWER".into()]),
            assembly_types: Some(vec!["IFProc".into()]),
            // Ignored by the points query.
            time_from_ns: Some(0),
            ..TmcdbFilter::default()
        };
        let q = points_query(&filter, Placeholders::Dollar);
        assert!(
            q.sql.contains(
                " WHERE ant.AntennaName IN ($1, $2) AND mp.MonitorPointName IN ($3) \
                 AND asm.AssemblyTypeName IN ($4) ORDER BY"
            ),
            "{}",
            q.sql
        );
        assert_eq!(
            q.params,
            [
                text("DA41"),
                text("DV07"),
                text("TOTAL_POWER"),
                text("IFProc")
            ]
        );
        let q = points_query(&filter, Placeholders::Question);
        assert!(
            q.sql
                .contains("ant.AntennaName IN (?, ?) AND mp.MonitorPointName IN (?)")
        );
        assert_eq!(q.params.len(), 4);
    }

    #[test]
    fn values_never_enter_the_sql() {
        let evil = "DA41') OR 1=1 --";
        let filter = TmcdbFilter {
            antennas: Some(vec![evil.into()]),
            ..TmcdbFilter::default()
        };
        for q in [
            points_query(&filter, Placeholders::Dollar),
            blocks_query(&filter, true, Placeholders::Dollar),
        ] {
            assert!(!q.sql.contains(evil));
            assert_eq!(q.params, [text(evil)]);
        }
    }

    #[test]
    fn empty_lists_match_nothing() {
        let filter = TmcdbFilter {
            monitor_points: Some(vec![]),
            ..TmcdbFilter::default()
        };
        let q = blocks_query(&filter, false, Placeholders::Dollar);
        assert!(q.sql.contains(" WHERE 1 = 0 ORDER BY"), "{}", q.sql);
        assert!(q.params.is_empty());
    }

    #[test]
    fn blocks_with_time_overlap_and_limit() {
        // [2026-01-01T00:00:00Z + 50 ns, + 1 s) in ns since the Unix epoch.
        let from = 1_767_225_600_000_000_050;
        let to = 1_767_225_601_000_000_000;
        let filter = TmcdbFilter {
            antennas: Some(vec!["DA41".into()]),
            time_from_ns: Some(from),
            time_to_ns: Some(to),
            block_limit: Some(10),
            ..TmcdbFilter::default()
        };
        let q = blocks_query(&filter, true, Placeholders::Dollar);
        assert_eq!(
            q.sql,
            format!(
                "SELECT {POINT_SELECT}, md.StartTime, md.EndTime, md.SampleSize, md.MinStat, \
                 md.MaxStat, md.MeanStat, md.StdDevStat, md.MonitorClob FROM MonitorData md \
                 JOIN MonitorPoint mp ON mp.MonitorPointId = md.MonitorPointId {POINT_JOINS} \
                 WHERE ant.AntennaName IN ($1) AND md.EndTime >= $2 AND md.StartTime < $3 \
                 ORDER BY md.MonitorPointId, md.StartTime, md.MonitorTS LIMIT $4"
            )
        );
        // 50 ns rounds up to the next 100 ns unit; the end is exact.
        assert_eq!(
            q.params,
            [
                text("DA41"),
                SqlParam::BigInt((from + 50) / 100 + ACS_UNIX_EPOCH),
                SqlParam::BigInt(to / 100 + ACS_UNIX_EPOCH),
                SqlParam::BigInt(10),
            ]
        );
        let q = blocks_query(&filter, false, Placeholders::Question);
        assert!(!q.sql.contains("MonitorClob"));
        assert!(q.sql.contains("md.EndTime >= ? AND md.StartTime < ?"));
        assert!(q.sql.ends_with("LIMIT ?"));
        assert_eq!(q.params.len(), 4);
    }

    #[test]
    fn column_positions_match_the_select_lists() {
        assert_eq!(POINT_SELECT.split(", ").count(), point_col::COUNT);
        assert_eq!(
            POINT_SELECT.split(", ").nth(point_col::DATA_TYPE),
            Some("mp.DataType")
        );
        let block: Vec<&str> = BLOCK_SELECT.split(", ").collect();
        assert_eq!(
            block[block_col::START_TIME - point_col::COUNT],
            "md.StartTime"
        );
        assert_eq!(
            block[block_col::STD_DEV_STAT - point_col::COUNT],
            "md.StdDevStat"
        );
        assert_eq!(block.len(), block_col::CLOB - point_col::COUNT);
    }
}
