#!/usr/bin/env python3
"""Replays the queries Grafana's PostgreSQL data source sends, against almasql.

Usage: python3 grafana_replay.py HOST PORT [--keep-going]
Needs: pip install 'psycopg[binary]'

Grafana's backend (pgx v5) runs every panel / metadata query with
`c.Conn().PgConn().Exec(ctx, query)`, i.e. the SIMPLE query protocol, text
results, and builds frames from the RowDescription OIDs (an OID pgx does not
know is an error: "unknown data type oid") and only from results whose command
tag is SELECT (`result.CommandTag.Select()`). This script does the same with
libpq's PQexec (psycopg's pgconn.exec_).

Sources (grafana/grafana):
  pkg/tsdb/grafana-postgresql-datasource/sqleng/sql_engine_pgx.go  execQuery (PgConn().Exec), PingPGX (pool.Ping)
  pkg/tsdb/grafana-postgresql-datasource/macros.go                 $__time, $__timeFilter, $__timeGroup(Alias), ...
  public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts
      getVersion, getTimescaleDBVersion, showSchemas, showTables, getSchema (+ buildSchemaConstraint)
  public/app/plugins/datasource/grafana-postgresql-datasource/sqlUtil.ts  toRawSql (visual query builder)
pgx's Ping (jackc/pgx v5 pgconn.Ping) sends the simple query "-- ping".
"""
import datetime as dt
import math
import sys

import psycopg
from psycopg import pq
from checks import CheckFailed, Checks, expect

if len(sys.argv) < 3:
    sys.exit("usage: grafana_replay.py HOST PORT [--keep-going]")
HOST, PORT = sys.argv[1], sys.argv[2]
CHECKS = Checks("grafana_replay")
check = CHECKS.check
CONNINFO = f"host={HOST} port={PORT} user=almasql dbname=almasql connect_timeout=10"

# OIDs pgx v5's pgtype.NewMap() knows (the base types); anything else in a
# RowDescription makes Grafana fail with "unknown data type oid".
PGX_KNOWN_OIDS = {16, 17, 18, 19, 20, 21, 23, 25, 26, 28, 29, 114, 142, 600, 601, 602, 603, 604, 628, 650, 700, 701,
                  718, 774, 790, 829, 869, 1000, 1001, 1002, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1033,
                  1041, 1042, 1043, 1082, 1083, 1114, 1115, 1182, 1183, 1184, 1185, 1186, 1187, 1231, 1266, 1270,
                  1560, 1562, 1700, 2249, 2275, 2950, 2951, 3614, 3615, 3802, 3807, 3904, 3906, 3908, 3910, 3912,
                  3926, 4072, 4073, 4089, 4090}

# The dashboard time range Grafana would send (a day of the demo data), and
# how macros.go formats it: time.RFC3339Nano in UTC.
FROM = dt.datetime(2026, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
TO = dt.datetime(2026, 1, 3, 0, 0, tzinfo=dt.timezone.utc)


def rfc3339nano(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_filter(col):
    # macros.go: fmt.Sprintf("%s BETWEEN '%s' AND '%s'", args[0], From.UTC().Format(RFC3339Nano), To...)
    return f"{col} BETWEEN '{rfc3339nano(FROM)}' AND '{rfc3339nano(TO)}'"


def time_group(col, seconds):
    # macros.go: fmt.Sprintf("floor(extract(epoch from %s)/%v)*%v", args[0], interval.Seconds(), interval.Seconds())
    return f"floor(extract(epoch from {col})/{seconds})*{seconds}"


def time_group_alias(col, seconds):
    return time_group(col, seconds) + ' AS "time"'






class Frame:
    def __init__(self, res):
        self.names = [res.fname(i).decode() for i in range(res.nfields)]
        self.oids = [res.ftype(i) for i in range(res.nfields)]
        self.rows = [[None if res.get_value(r, c) is None else res.get_value(r, c).decode()
                      for c in range(res.nfields)] for r in range(res.ntuples)]
        self.tag = (res.command_status or b"").decode()

    def col(self, name):
        i = self.names.index(name)
        return [r[i] for r in self.rows]


def grafana_exec(sql):
    """PQexec (simple protocol), like pgx's PgConn().Exec; returns the SELECT results as frames."""
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.pgconn.send_query(sql.encode())
        results = []
        while True:  # read every result before judging, so the connection stays in sync
            res = conn.pgconn.get_result()
            if res is None:
                break
            results.append(res)
    frames = []
    for res in results:
        if res.status == pq.ExecStatus.FATAL_ERROR:
            sqlstate = (res.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
            raise CheckFailed(f"server error {sqlstate}: {(res.error_message or b'').decode().strip()}\nSQL: {sql}")
        if res.status == pq.ExecStatus.TUPLES_OK:
            f = Frame(res)
            expect(f.tag.startswith("SELECT"), f"command tag {f.tag!r} is not SELECT (Grafana skips it)\nSQL: {sql}")
            unknown = [(n, o) for n, o in zip(f.names, f.oids) if o not in PGX_KNOWN_OIDS]
            expect(not unknown, f"column type OIDs pgx does not know (Grafana: 'unknown data type oid'): {unknown}\nSQL: {sql}")
            frames.append(f)
    return frames


def one_frame(sql):
    frames = grafana_exec(sql)
    expect(len(frames) == 1, f"{len(frames)} result sets\nSQL: {sql}")
    return frames[0]


# ---------------------------------------------------------------- health check, feature detection

def c_ping():
    # pgxpool.Ping -> pgconn.Ping -> Exec(ctx, "-- ping"): an empty query
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        res = conn.pgconn.exec_(b"-- ping")
        expect(res.status in (pq.ExecStatus.EMPTY_QUERY, pq.ExecStatus.COMMAND_OK),
               f"'-- ping' answered {pq.ExecStatus(res.status).name}: {(res.error_message or b'').decode()}")


def c_version():
    # postgresMetaQuery.ts getVersion()
    f = one_frame("SELECT current_setting('server_version_num')::int/100 as version")
    expect(f.names == ["version"], f"columns {f.names}")
    expect(int(f.rows[0][0]) >= 1200, f"version {f.rows[0][0]}")


def c_timescale():
    # postgresMetaQuery.ts getTimescaleDBVersion()
    f = one_frame("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    expect(f.names == ["extversion"] and f.rows == [], f"columns {f.names} rows {f.rows}")


# ---------------------------------------------------------------- metadata (query editor)

SCHEMA_CONSTRAINT = """
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"""


def c_show_schemas():
    # postgresMetaQuery.ts showSchemas()
    f = one_frame("""SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name""")
    names = set(f.col("name"))
    expect({"monitor", "ops", "dashboards", "calibrators"} <= names, f"schemas {sorted(names)}")


def c_show_tables_schema():
    # postgresMetaQuery.ts showTables('monitor')
    f = one_frame("""SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'monitor'
      ORDER BY 1""")
    tables = f.col("table")
    expect("samples" in tables and tables == sorted(tables), f"tables {tables}")


def c_show_tables_all():
    # postgresMetaQuery.ts showTables() (the SQL editor's table completion, datasource.ts fetchTables)
    f = one_frame(f"""SELECT
    CASE WHEN {SCHEMA_CONSTRAINT}
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN {SCHEMA_CONSTRAINT} THEN 0 ELSE 1 END, 1""")
    tables = f.col("table")
    expect("monitor.samples" in tables and "dashboards.ifp_drift" in tables, f"tables {tables}")


def c_get_schema():
    # postgresMetaQuery.ts getSchema('monitor.samples') (datasource.ts fetchFields)
    t = "'monitor.samples'"
    f = one_frame(f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident({t}),1) = 2
        THEN quote_ident(table_schema) = (parse_ident({t}))[1]
          AND quote_ident(table_name) = (parse_ident({t}))[2]
        ELSE quote_ident(table_name) = {t}
          AND {SCHEMA_CONSTRAINT}
      END""")
    cols = dict(zip(f.col("column"), f.col("type")))
    expect(cols.get("time") == "timestamp with time zone" and cols.get("value") == "double precision",
           f"columns {cols}")


# ---------------------------------------------------------------- panel queries (macros expanded as macros.go does)

def numeric_time(values):
    out = []
    for v in values:
        out.append(float(v))
    return out


def c_time_series_group():
    # raw SQL as a user writes it in a time-series panel:
    #   SELECT $__timeGroupAlias(time,'1h'), antenna AS metric, avg(value) AS "value"
    #   FROM monitor.samples
    #   WHERE $__timeFilter(time) AND monitor_point = 'TOTAL_POWER' AND antenna IN ('DV01','DV02')
    #   GROUP BY 1, 2 ORDER BY 1
    sql = (f"SELECT {time_group_alias('time', 3600)}, antenna AS metric, avg(value) AS \"value\"\n"
           f"FROM monitor.samples\n"
           f"WHERE {time_filter('time')} AND monitor_point = 'TOTAL_POWER' AND antenna IN ('DV01','DV02')\n"
           f"GROUP BY 1, 2 ORDER BY 1")
    f = one_frame(sql)
    expect(f.names == ["time", "metric", "value"], f"columns {f.names}\nSQL: {sql}")
    times = numeric_time(f.col("time"))
    # BETWEEN includes the end instant: 24 hourly buckets + the 00:00 bucket of the next day
    expect(len(set(times)) in (24, 25) and len(f.rows) in (48, 50), f"{len(set(times))} buckets, {len(f.rows)} rows")
    expect(times[0] == FROM.timestamp() and times == sorted(times), f"first bucket {times[0]} != {FROM.timestamp()}")
    expect(all(v is not None and math.isfinite(float(v)) for v in f.col("value")), "null/NaN values")
    expect(set(f.col("metric")) == {"DV01", "DV02"}, f"metrics {set(f.col('metric'))}")


def c_time_series_interval():
    # $__timeGroupAlias(time, $__interval) after sqleng.Interpolate replaced $__interval by "5m":
    #   SELECT $__timeGroupAlias(time, 5m), avg(value) FROM monitor.samples
    #   WHERE $__timeFilter(time) AND antenna = 'DA41' GROUP BY 1 ORDER BY 1
    sql = (f"SELECT {time_group_alias('time', 300)}, avg(value) FROM monitor.samples "
           f"WHERE {time_filter('time')} AND antenna = 'DA41' AND monitor_point = 'TOTAL_POWER' GROUP BY 1 ORDER BY 1")
    f = one_frame(sql)
    expect(f.names[0] == "time" and len(f.rows) in (288, 289), f"columns {f.names}, {len(f.rows)} rows\nSQL: {sql}")
    expect(f.oids[1] in (700, 701, 1700), f"value column OID {f.oids[1]}")


def c_time_macro_table():
    # $__time(time) and $__timeFilter in a table panel
    sql = (f"SELECT time AS \"time\", antenna, polarization, baseband, value FROM monitor.samples "
           f"WHERE {time_filter('time')} AND antenna = 'PM01' AND monitor_point = 'TOTAL_POWER' ORDER BY 1 LIMIT 100")
    f = one_frame(sql)
    expect(f.names[0] == "time" and f.oids[0] in (1114, 1184) and len(f.rows) == 100, f"{f.names} {f.oids} {len(f.rows)}")
    first = dt.datetime.fromisoformat(f.rows[0][0].replace(" ", "T"))
    expect(first.replace(tzinfo=first.tzinfo or dt.timezone.utc) == FROM, f"first time {f.rows[0][0]!r}")


def c_time_group_where_group_by():
    # $__timeGroup (not Alias) used in GROUP BY/ORDER BY, with the alias written by hand
    tg = time_group("time", 900)
    sql = (f"SELECT {tg} AS \"time\", max(value) AS \"max\" FROM monitor.samples "
           f"WHERE {time_filter('time')} AND monitor_point = 'PRESSURE' GROUP BY {tg} ORDER BY {tg}")
    f = one_frame(sql)
    expect(f.names == ["time", "max"] and len(f.rows) in (96, 97), f"{f.names} {len(f.rows)} rows\nSQL: {sql}")


def c_unix_epoch_group():
    # $__unixEpochGroupAlias over a bigint epoch expression
    sql = (f"SELECT floor((extract(epoch from time))/3600)*3600 AS \"time\", count(*) AS n FROM monitor.samples "
           f"WHERE time >= '{rfc3339nano(FROM)}' AND time < '{rfc3339nano(TO)}' AND monitor_point = 'WIND_SPEED' GROUP BY 1 ORDER BY 1")
    f = one_frame(sql)
    expect(len(f.rows) == 24 and all(int(n) == 60 for n in f.col("n")), f"{len(f.rows)} rows, counts {set(f.col('n'))}")


def c_dashboard_view():
    # a Grafana panel on an almasql dashboard view (time_by_executive: month timestamptz)
    f = one_frame('SELECT month AS "time", executive AS metric, hours FROM dashboards.time_by_executive ORDER BY 1')
    expect(f.names == ["time", "metric", "hours"] and len(f.rows) > 0 and f.oids[0] == 1184, f"{f.names} {f.oids} {len(f.rows)}")


def c_builder_query():
    # visual query builder output (sqlUtil.ts toRawSql): "SELECT ... FROM t GROUP BY c ORDER BY c DESC LIMIT 50 "
    f = one_frame("SELECT antenna, AVG(value) FROM monitor.samples GROUP BY antenna ORDER BY antenna DESC LIMIT 50 ")
    # the weather rows have antenna NULL; PostgreSQL sorts NULLs first with DESC
    expect(len(f.rows) == 50 and f.rows[0][0] is None and f.rows[1][0] > f.rows[2][0], f"{len(f.rows)} rows, first {f.rows[:3]}")


def c_variable_query():
    # dashboard variable ("Query" type) returning __text/__value
    f = one_frame("SELECT antenna AS __text, antenna AS __value FROM ops.antennas WHERE array = '7m' ORDER BY 1")
    expect(f.names == ["__text", "__value"] and len(f.rows) > 0, f"{f.names} {len(f.rows)}")


def c_multi_statement():
    # pgx Exec runs a multi-statement string; Grafana keeps the SELECT results
    frames = grafana_exec("SET statement_timeout = 0; SELECT count(*) AS n FROM ops.antennas")
    expect(len(frames) == 1 and frames[0].rows == [["66"]], f"frames {[(f.names, f.rows) for f in frames]}")


check("health check: pgx Ping ('-- ping', empty query)", c_ping)
check("getVersion: current_setting('server_version_num')::int/100", c_version)
check("getTimescaleDBVersion: pg_extension", c_timescale)
check("showSchemas (information_schema.schemata)", c_show_schemas)
check("showTables('monitor')", c_show_tables_schema)
check("showTables() with search_path constraint", c_show_tables_all)
check("getSchema('monitor.samples') (parse_ident, information_schema.columns)", c_get_schema)
check("time series: $__timeGroupAlias(time,'1h') + $__timeFilter, metric column", c_time_series_group)
check("time series: $__timeGroupAlias(time,$__interval=5m)", c_time_series_interval)
check("table: $__time(time) + $__timeFilter, timestamptz time column", c_time_macro_table)
check("$__timeGroup in GROUP BY / ORDER BY", c_time_group_where_group_by)
check("$__unixEpochGroup-style epoch bucket", c_unix_epoch_group)
check("panel on a dashboards view (timestamptz time)", c_dashboard_view)
check("visual query builder SQL", c_builder_query)
check("variable query (__text/__value)", c_variable_query)
check("multi-statement Exec (SET; SELECT)", c_multi_statement)

CHECKS.finish()
