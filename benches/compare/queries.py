"""The benchmark's query set: one query per dashboard question, written for
each engine with the same semantics.

`QUERIES` is the source of truth; `queries.json` (name -> almasql SQL, the
input of the in-process Rust bench binary) is generated from it by
`compare.py --write-queries` and checked against it by `compare.py --smoke`.

Conventions that make results comparable:
- every engine runs with the session time zone UTC (PostgreSQL: server
  setting `timezone`, DuckDB: `SET TimeZone`), so `date_trunc('day', time)`
  means the UTC day everywhere;
- every query orders its output completely (ties broken by key columns),
  so LIMIT picks the same rows everywhere;
- PostgreSQL uses `date_part('epoch', ...)` (double precision) rather than
  `extract(epoch ...)` (numeric since PostgreSQL 14, much slower), DuckDB
  uses `epoch(...)`; all three mean seconds since 1970-01-01 UTC.
"""

from dataclasses import dataclass, field

# A time range present at every scale (scale 1 = 2026-01-01 .. 2026-01-05).
RANGE_FROM = "2026-01-02T00:00:00Z"
RANGE_TO = "2026-01-03T12:00:00Z"
POINT_DAY_FROM = "2026-01-02T00:00:00Z"
POINT_DAY_TO = "2026-01-03T00:00:00Z"


@dataclass(frozen=True)
class Query:
    name: str
    what: str
    almasql: str
    # None: the same SQL as almasql.
    duckdb: str | None = None
    postgres: str | None = None
    tags: tuple = field(default=())

    def sql(self, engine: str) -> str:
        if engine == "duckdb" and self.duckdb is not None:
            return self.duckdb
        if engine == "postgres" and self.postgres is not None:
            return self.postgres
        return self.almasql


def _drift(slope_almasql: str, slope_duckdb: str, slope_postgres: str) -> dict:
    template = (
        "select antenna, polarization, baseband, {slope} as volts_per_day, count(*) as samples "
        "from monitor.samples where monitor_point = 'TOTAL_POWER' "
        "group by antenna, polarization, baseband "
        "order by antenna, polarization, baseband"
    )
    return dict(
        almasql=template.format(slope=slope_almasql),
        duckdb=template.format(slope=slope_duckdb),
        postgres=template.format(slope=slope_postgres),
    )


_REGR_DUCKDB = "regr_slope(value, epoch(time) / 86400.0)"
_REGR_POSTGRES = "regr_slope(value, date_part('epoch', time) / 86400)"

_DAYS_SINCE = (
    "select m.source, m.band, "
    "({epoch_as_of} - {epoch_last}) / 86400.0 as days_since "
    "from calibrators.measurements m "
    "cross join (select max(observed_at) as as_of from calibrators.measurements) a "
    "group by m.source, m.band, a.as_of "
    "order by days_since desc, m.source, m.band"
)

QUERIES: list[Query] = [
    Query(
        name="drift_per_channel",
        what="IF drift: slope of total power per day, per antenna x polarization x baseband "
        "(almasql: drift_slope; others: regr_slope)",
        **_drift(
            "drift_slope(value, time)",
            _REGR_DUCKDB,
            _REGR_POSTGRES,
        ),
    ),
    Query(
        name="drift_per_channel_regr_slope",
        what="the same with DataFusion's regr_slope(value, epoch days) in almasql",
        **_drift(
            "regr_slope(value, extract(epoch from time) / 86400.0)",
            _REGR_DUCKDB,
            _REGR_POSTGRES,
        ),
    ),
    Query(
        name="daily_stats_total_power",
        what="daily avg/min/max/stddev/count of TOTAL_POWER per antenna",
        almasql=(
            "select date_trunc('day', time) as day, antenna, avg(value) as mean_v, "
            "min(value) as min_v, max(value) as max_v, stddev_samp(value) as sd_v, count(*) as n "
            "from monitor.samples where monitor_point = 'TOTAL_POWER' "
            "group by 1, 2 order by 1, 2"
        ),
    ),
    Query(
        name="top_lo2_antennas",
        what="top 5 antennas by LO2 frequency-offset count",
        almasql=(
            "select antenna, count(*) as offsets, avg(abs(frequency_offset_hz)) as mean_abs_hz "
            "from monitor.lo2_frequency_offsets "
            "group by antenna order by offsets desc, antenna limit 5"
        ),
    ),
    Query(
        name="log_levels_per_hour",
        what=f"ACS log records per level per hour, {RANGE_FROM} .. {RANGE_TO} "
        "(almasql parses the XML logs; DuckDB/PostgreSQL get the same records, exported once)",
        almasql=(
            "select date_trunc('hour', time) as hour, level, count(*) as records "
            f"from logs.acs where time >= '{RANGE_FROM}' and time < '{RANGE_TO}' "
            "group by 1, 2 order by 1, 2"
        ),
    ),
    Query(
        name="calibrator_days_since",
        what="days since the last observation of each calibrator per band, "
        "counted from the catalog's latest measurement",
        almasql=_DAYS_SINCE.format(
            epoch_as_of="extract(epoch from a.as_of)",
            epoch_last="extract(epoch from max(m.observed_at))",
        ),
        duckdb=_DAYS_SINCE.format(
            epoch_as_of="epoch(a.as_of)", epoch_last="epoch(max(m.observed_at))"
        ),
        postgres=_DAYS_SINCE.format(
            epoch_as_of="date_part('epoch', a.as_of)",
            epoch_last="date_part('epoch', max(m.observed_at))",
        ),
    ),
    Query(
        name="samples_join_tickets",
        what="per JIRA ticket naming an antenna: that antenna's TOTAL_POWER samples "
        "in the 24 h before the ticket was created",
        almasql=(
            "select i.key, i.antenna, count(*) as samples, avg(s.value) as mean_v, "
            "max(s.value) as max_v "
            "from jira.issues i join monitor.samples s on s.antenna = i.antenna "
            "where s.monitor_point = 'TOTAL_POWER' "
            "and s.time >= i.created - interval '1 day' and s.time < i.created "
            "group by i.key, i.antenna order by i.key"
        ),
    ),
    Query(
        name="point_one_antenna_day",
        what="one antenna, one day of TOTAL_POWER, ordered (11 520 rows; PostgreSQL's index case)",
        almasql=(
            "select time, polarization, baseband, value from monitor.samples "
            "where antenna = 'DV07' and monitor_point = 'TOTAL_POWER' "
            f"and time >= '{POINT_DAY_FROM}' and time < '{POINT_DAY_TO}' "
            "order by time, polarization, baseband"
        ),
    ),
]


# TMCDB vs Parquet (compare.py builds a TMCDB from monitor.samples): the
# same queries on the Parquet archive, on the TMCDB through almasql's
# `tmcdb` source (`tmc_samples`: fetch the blocks, decode the CLOBs) and on
# PostgreSQL's monitor.samples. Not in QUERIES: DuckDB has no TMCDB.
TMCDB_ANTENNA = "DA41"
TMCDB_QUERIES = {
    "one_antenna_day": (
        "select monitor_point, polarization, baseband, count(*) as samples, avg(value) as mean_v "
        f"from {{table}} where antenna = '{TMCDB_ANTENNA}' "
        f"and time >= '{POINT_DAY_FROM}' and time < '{POINT_DAY_TO}' "
        "group by 1, 2, 3 order by 1, 2, 3"
    ),
    # every sample (of the TMCDB's points: `where` selects them when the
    # TMCDB holds a subset): the TMCDB's fetch + decode rate
    "full_scan": "select count(*) as samples, sum(value) as total from {table}{where}",
}
# The one-antenna day's samples, to compare exactly (EXCEPT, in almasql).
TMCDB_DAY_ROWS = (
    "select time, antenna, device, monitor_point, polarization, baseband, value, unit from {table} "
    f"where antenna = '{TMCDB_ANTENNA}' and time >= '{POINT_DAY_FROM}' and time < '{POINT_DAY_TO}'"
)


def streaming_sql(rows: int) -> str:
    """The result-streaming query: valid, with the same column types, in
    PostgreSQL and almasql."""
    return (
        "select cast(g as bigint) as id, cast(g as bigint) * 2 as twice, "
        "concat('row ', g) as label, cast(g as double precision) / 7 as ratio "
        f"from generate_series(1, {int(rows)}) as t(g)"
    )


def almasql_queries() -> dict[str, str]:
    """The content of queries.json: query name -> almasql SQL."""
    return {q.name: q.almasql for q in QUERIES}


# pgbench: small dashboard queries, one transaction = the three statements.
# Variables are drawn per transaction; literals avoid ':' (pgbench would take
# ':00' in '00:00:00' for a variable).
PGBENCH_VARIABLES = {"p": (0, 3), "pol": (0, 1)}
PGBENCH_STATEMENTS = [
    "select antenna, count(*) as offsets from monitor.lo2_frequency_offsets "
    "where baseband_pair = :p group by antenna order by offsets desc, antenna limit 5",
    "select source, max(observed_at) as last_observed from calibrators.measurements "
    "where band = 3 group by source order by last_observed, source limit 5",
    "select avg(value) as mean_v, max(value) as max_v, count(*) as n from monitor.samples "
    "where antenna = 'DV07' and polarization = :pol and monitor_point = 'TOTAL_POWER' "
    "and time >= '2026-01-02' and time < '2026-01-03'",
]
PGBENCH_SCRIPTS = {
    "dashboard": "".join(f"\\set {k} random({lo}, {hi})\n" for k, (lo, hi) in PGBENCH_VARIABLES.items())
    + "".join(s + ";\n" for s in PGBENCH_STATEMENTS),
    # The protocol and scheduling floor: no table at all.
    "select1": "select 1;\n",
}


def pgbench_statements() -> list[dict]:
    """The pgbench statements with psycopg placeholders and fixed values, to
    check them on both servers before the run."""
    import re

    out = []
    for s in PGBENCH_STATEMENTS:
        names = re.findall(r":([a-z_]+)\b", s)
        out.append({"sql": re.sub(r":([a-z_]+)\b", r"%(\1)s", s),
                    "params": {n: PGBENCH_VARIABLES[n][1] for n in names}})
    return out
