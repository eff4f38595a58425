#!/usr/bin/env python3
"""almasql against DuckDB and PostgreSQL on the same ALMA demo data, in one run.

    python3 benches/compare/compare.py [--scale N] [--repeat N] [--out DIR] [--almasql BIN]
                                       [--build-inprocess | --inprocess-bin BIN]
    python3 benches/compare/compare.py --smoke   # tiny, 1 repetition, < 60 s, no timings asserted

Steps: generate the demo dataset at --scale; export the tables almasql reads
through connectors (ACS XML logs, JIRA export, calibrator catalog) to Parquet
once, with almasql itself; start a PostgreSQL 15 of our own and COPY the
same rows into it, index, VACUUM ANALYZE; build a TMCDB in it from
monitor.samples; start almasql (pgwire) with a `tmcdb` source on that TMCDB,
each server on a free port; let DuckDB read the same Parquet files
in-process; run every query on every engine and compare the results (a
mismatch is a failure), then time them; time a one-antenna day and a full
scan on the TMCDB against the Parquet archive (TMCDB vs Parquet); stream
1 M / 10 M rows from both servers (rows/s, server RSS); run pgbench with
small dashboard queries against both servers.

The exit status is 0 when every step ran and every result agreed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import glob
import io
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import queries as qset  # noqa: E402

PG_USER = "bench"
PG_DB = "postgres"
ALMASQL_USER = "almasql"
ALMASQL_DB = "almasql"
# --smoke builds its TMCDB from these antennas (and the weather) only.
SMOKE_TMCDB_ANTENNAS = ("DA41", "DV07")
RTOL = 1e-6
ATOL = 1e-9
ENGINES = ("almasql", "duckdb", "postgres")  # almasql = over pgwire
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# --------------------------------------------------------------------------- options


def target_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    return Path(target) if target else REPO_ROOT / "target"


def default_almasql() -> Path:
    return target_dir() / "release" / "almasql"


def default_pg_bin() -> Path:
    """PostgreSQL 15's server binaries (Debian's postgresql-15), else the
    newest installed version's."""
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted((p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
                   key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return found[-1] if found else preferred


def _cargo_executables(args: list[str], names: tuple[str, ...]) -> dict[str, Path]:
    """Runs `cargo <args> --message-format=json` in the repository and
    returns the executables of the targets `names` from cargo's messages."""
    cargo = shutil.which("cargo")
    if not cargo:
        raise Failure("--build-inprocess: cargo not found on PATH")
    cmd = [cargo, *args, "--message-format=json"]
    log(f"building: cargo {' '.join(cmd[1:])}")
    # stdout: one JSON message per line; stderr (cargo's progress) goes to ours.
    r = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    exes = {}
    for line in r.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = msg.get("target", {}).get("name")
        if msg.get("reason") == "compiler-artifact" and name in names and msg.get("executable"):
            exes[name] = Path(msg["executable"])
    if r.returncode != 0:
        raise Failure(f"cargo {' '.join(cmd[1:])} exited {r.returncode}")
    missing = [n for n in names if n not in exes or not exes[n].exists()]
    if missing:
        raise Failure(f"cargo {' '.join(cmd[1:])}: no executable for {missing} in cargo's output")
    return exes


def build_inprocess() -> Path:
    """Builds the `inprocess` bench (bench profile; cargo names it
    release/deps/inprocess-<hash>) and returns its path."""
    return _cargo_executables(["bench", "--workspace", "--bench", "inprocess", "--no-run"],
                              ("inprocess",))["inprocess"]


def build_stream_client() -> Path:
    """Builds the `stream_client` example (the tokio-postgres streaming
    client, release/examples/stream_client) and returns its path."""
    return _cargo_executables(["build", "--release", "--workspace", "--example", "stream_client"],
                              ("stream_client",))["stream_client"]


def default_stream_client() -> Path | None:
    """The stream_client example if a release build made it (`cargo test
    --release` and `cargo build --release --examples` do)."""
    exe = target_dir() / "release" / "examples" / "stream_client"
    return exe if exe.exists() else None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, default=2, help="demo scale: 4 x N days, ~3 M samples per unit (default 2)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions per query and engine (default 5)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed runs before the timed ones, besides the checking run (default 1)")
    p.add_argument("--smoke", action="store_true",
                   help="scale 1, 1 repetition, small streaming and pgbench runs, a TMCDB of two antennas: "
                        "checks that everything runs and agrees, in under a minute")
    p.add_argument("--out", type=Path, default=None,
                   help="write results.md, results.json and ratios.png here (default: print only)")
    p.add_argument("--almasql", type=Path, default=default_almasql(),
                   help="almasql binary (default: $CARGO_TARGET_DIR/release/almasql or target/release/almasql)")
    p.add_argument("--inprocess-bin", type=Path, default=None,
                   help="Rust bench binary (benches/inprocess.rs): <bin> --config C --data-dir D "
                        "--queries queries.json --repeat N --warmup W prints {name: [seconds, ...]}; "
                        "without it (or --build-inprocess) the column is skipped")
    p.add_argument("--stream-client-bin", type=Path, default=None,
                   help="the tokio-postgres streaming client (example stream_client, benches/compare/stream_client.rs; "
                        "default: $CARGO_TARGET_DIR/release/examples/stream_client if built); without it that "
                        "client is skipped")
    p.add_argument("--build-inprocess", action="store_true",
                   help="build the in-process bench binary and the streaming client first where --inprocess-bin / "
                        "--stream-client-bin do not name them (cargo bench --bench inprocess --no-run; cargo build "
                        "--release --example stream_client)")
    p.add_argument("--pg-bin", type=Path, default=default_pg_bin(),
                   help="PostgreSQL server binaries (default: /usr/lib/postgresql/15/bin, else the newest)")
    p.add_argument("--pgbench", default=shutil.which("pgbench") or "/usr/bin/pgbench")
    p.add_argument("--stream-rows", default="1000000,10000000",
                   help="row counts for the streaming test, comma-separated")
    p.add_argument("--pgbench-clients", type=int, default=32)
    p.add_argument("--pgbench-seconds", type=int, default=10)
    p.add_argument("--tmcdb-antennas", default="",
                   help="build the TMCDB from these antennas' samples (comma-separated; the weather, of no "
                        "antenna, always) rather than from every sample; --smoke: DA41,DV07")
    p.add_argument("--workdir", type=Path, default=None, help="keep data and logs here (default: a temp dir, removed)")
    p.add_argument("--write-queries", action="store_true", help="rewrite queries.json from queries.py and exit")
    a = p.parse_args(argv)
    if a.smoke:
        a.scale, a.repeat, a.warmup = 1, 1, 0
        a.stream_rows = "20000,200000"
        a.pgbench_seconds = 1
        a.tmcdb_antennas = a.tmcdb_antennas or ",".join(SMOKE_TMCDB_ANTENNAS)
    a.tmcdb_antennas = [x.strip() for x in str(a.tmcdb_antennas).split(",") if x.strip()] or None
    if a.tmcdb_antennas and qset.TMCDB_ANTENNA not in a.tmcdb_antennas:
        p.error(f"--tmcdb-antennas must include {qset.TMCDB_ANTENNA}, the antenna of the one-day query")
    a.stream_rows = [int(x) for x in str(a.stream_rows).split(",") if x.strip()]
    return a


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_root() -> bool:
    return os.geteuid() == 0


def as_pg_user(cmd: list) -> list:
    return ["runuser", "-u", "postgres", "--", *map(str, cmd)] if is_root() else list(map(str, cmd))


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise Failure(f"{' '.join(map(str, cmd))[:300]} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return r


def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


class RssSampler:
    """Samples VmRSS of a process every few milliseconds while active."""

    def __init__(self, pid: int, every: float = 0.01):
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_status(self.pid).get("VmRSS", 0))
            self._stop.wait(self.every)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def toml_sources(sources: list[dict]) -> str:
    """`[[sources]]` tables (string and integer values only)."""
    out = ""
    for source in sources:
        out += "\n[[sources]]\n" + "".join(
            f"{k} = {v if isinstance(v, int) else json.dumps(str(v))}\n" for k, v in source.items())
    return out


class Almasql:
    def __init__(self, binary: Path, workdir: Path, data_dir: Path, scale: int, seed: int):
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.config = workdir / "almasql.toml"
        # `[demo]` with the scale and seed we generated: the server finds the
        # manifest it expects in <data_dir>/demo and does not regenerate.
        # This config (the demo only) is the CLI's and the in-process
        # binary's; the server's adds the sources given to start().
        self.config.write_text(
            f'listen = "127.0.0.1:{self.port}"\n'
            f'data_dir = "{data_dir}"\n'
            f"[demo]\nscale = {scale}\nseed = {seed}\n"
        )
        self.serve_config = self.config
        self.proc = None
        self.log_path = workdir / "almasql-serve.log"

    def query_cli(self, sql: str, fmt: str = "csv") -> str:
        return run([self.binary, "query", "--config", self.config, "--format", fmt, sql]).stdout

    def start(self, sources: list[dict] = ()):
        """Starts the server; `sources` (e.g. the TMCDB) go into its config
        file, almasql-serve.toml, beside the demo."""
        if sources:
            self.serve_config = self.workdir / "almasql-serve.toml"
            self.serve_config.write_text(self.config.read_text() + toml_sources(list(sources)))
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.serve_config)],
            stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        import psycopg

        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"almasql serve exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=2) as c:
                    c.execute("select 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise Failure(f"almasql did not accept connections:\n{self.log_tail()}")
                time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={ALMASQL_USER} dbname={ALMASQL_DB}"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log_file.close()


PG_SETTINGS = {
    # What a user tuning PostgreSQL for analytics on this machine would set.
    "shared_buffers": "2GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "12GB",
    "max_wal_size": "8GB",
    "timezone": "UTC",
    "max_connections": "100",
    # Durability is irrelevant to a read benchmark; these only speed up the load.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class Postgres:
    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="almasql-bench-pg-"))
        self.port = free_port()
        self.started = False

    def start(self):
        for prog in ("initdb", "pg_ctl"):
            if not (self.bin / prog).exists():
                raise Failure(f"{self.bin / prog} not found (apt-get install postgresql-15)")
        if is_root():
            run(["chown", "-R", "postgres:postgres", self.dir])
        data = self.dir / "data"
        run(as_pg_user([self.bin / "initdb", "-D", data, "-U", PG_USER, "--auth=trust",
                        "-E", "UTF8", "--no-locale"]))
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {k}={v}" for k, v in PG_SETTINGS.items())
        run(as_pg_user([self.bin / "pg_ctl", "-D", data, "-o", opts, "-l", self.dir / "server.log",
                        "-w", "-t", "60", "start"]))
        self.started = True

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={PG_USER} dbname={PG_DB}"

    def stop(self):
        if self.started:
            subprocess.run(as_pg_user([self.bin / "pg_ctl", "-D", self.dir / "data", "-m", "fast", "stop"]),
                           capture_output=True)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- data


def parquet_tables(data: Path, export: Path) -> dict[str, list[Path]]:
    """Table name -> the Parquet files holding its rows (the same files for
    DuckDB and for the PostgreSQL load)."""
    demo = data / "demo"
    return {
        "monitor.samples": sorted(demo.glob("monitor/samples/date=*/*.parquet")),
        "monitor.lo2_frequency_offsets": [demo / "monitor/lo2_frequency_offsets.parquet"],
        "logs.acs": [export / "logs_acs.parquet"],
        "jira.issues": [export / "jira_issues.parquet"],
        "calibrators.measurements": [export / "calibrators_measurements.parquet"],
    }


# The tables almasql reads through its connectors, exported once with almasql.
EXPORTS = {
    "logs_acs": "select * from logs.acs",
    "jira_issues": (
        "select key, id, project, issue_type, status, status_category, priority, summary, "
        "assignee, reporter, created, updated, resolved, resolution, antenna from jira.issues"
    ),
    "calibrators_measurements": "select * from calibrators.measurements",
}

INDEXES = [
    # What a PostgreSQL user would create for these dashboards.
    "create index on monitor.samples (antenna, time)",
    "create index on monitor.samples (time)",
    "create index on monitor.lo2_frequency_offsets (antenna)",
    "create index on logs.acs (time)",
    "create index on jira.issues (antenna)",
    "create index on calibrators.measurements (source, band)",
]


def pg_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "text"
    if pa.types.is_int16(t) or pa.types.is_int8(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "boolean"
    raise Failure(f"no PostgreSQL type for Arrow {t}")


def load_postgres(dsn: str, tables: dict[str, list[Path]]) -> dict:
    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    info = {"rows": {}, "seconds": {}}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, files in tables.items():
            t0 = time.perf_counter()
            schema = pq.read_schema(files[0])
            cols = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in schema)
            conn.execute(f"create schema if not exists {name.split('.')[0]}")
            conn.execute(f"drop table if exists {name}")
            # Unlogged: no WAL during the load; reads are the same as a logged table's.
            conn.execute(f"create unlogged table {name} ({cols})")
            names = ", ".join(f'"{f}"' for f in schema.names)
            n = 0
            with conn.cursor() as cur:
                with cur.copy(f"copy {name} ({names}) from stdin (format csv)") as cp:
                    for f in files:
                        for batch in pq.ParquetFile(f).iter_batches(batch_size=100_000):
                            buf = io.BytesIO()
                            pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
                            cp.write(buf.getbuffer())
                            n += batch.num_rows
            got = conn.execute(f"select count(*) from {name}").fetchone()[0]
            if got != n:
                raise Failure(f"PostgreSQL {name}: loaded {got} rows, expected {n}")
            info["rows"][name] = n
            info["seconds"][name] = round(time.perf_counter() - t0, 2)
            log(f"  PostgreSQL {name}: {n} rows in {info['seconds'][name]} s")
        t0 = time.perf_counter()
        for stmt in INDEXES:
            conn.execute(stmt)
        info["index_seconds"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        conn.execute("vacuum analyze")
        info["vacuum_analyze_seconds"] = round(time.perf_counter() - t0, 2)
    info["indexes"] = INDEXES
    return info


# --------------------------------------------------------------------------- TMCDB

TMCDB_DDL = REPO_ROOT / "connectors" / "src" / "tmcdb" / "schema.sql"
# The PostgreSQL schema holding the TMCDB tables, and the almasql schema the
# `tmcdb` source mounts them in (the demo's are monitor, logs, jira,
# calibrators, ops, dashboards).
TMCDB_REMOTE_SCHEMA = "tmcdb"
TMCDB_SCHEMA = "tmcdb_monitor"
# ACS time (100 ns units since 1582-10-15T00:00:00 UTC) of the Unix epoch.
ACS_UNIX_EPOCH = 122_192_928_000_000_000

# The configuration tables, after tests/it/tmcdb.rs: one monitor point per
# (antenna, device, monitor point) of monitor.samples (of the antennas
# chosen, --tmcdb-antennas, and those of no antenna); one component (and
# assembly) per (antenna, device), named after the device, at path
# CONTROL/<antenna> (CONTROL/WeatherStation for points of no antenna: no
# Antenna matches it); the assembly type is the device without its trailing
# digits (IFProc0 -> IFProc). Points with basebands (IF total power) are
# sequences: DataType 'double[]', one value per baseband in baseband order.
TMCDB_POINTS = """
create temp table bench_points as
select (row_number() over (order by antenna nulls last, device, monitor_point))::integer as id,
       antenna, device, monitor_point, min(unit) as unit, bool_or(baseband is not null) as sequence,
       regexp_replace(device, '[0-9]+$', '') as assembly_type
from monitor.samples where {where} group by antenna, device, monitor_point"""
TMCDB_CONFIGURATION = [
    """create temp table bench_components as
       select (row_number() over (order by antenna nulls last, device))::integer as id,
              antenna, device, assembly_type, 'CONTROL/' || coalesce(antenna, 'WeatherStation') as path
       from (select distinct antenna, device, assembly_type from bench_points) c""",
    """create temp table bench_types as
       select (row_number() over (order by assembly_type))::integer as id, assembly_type
       from (select distinct assembly_type from bench_points) t""",
    """insert into Configuration (ConfigurationId, ConfigurationName, FullName, Active, CreationTime, Description)
       values (1, 'almasql-bench', 'almasql benchmark TMCDB', true, localtimestamp,
               'filled from monitor.samples by benches/compare/compare.py')""",
    "insert into HWConfiguration (ConfigurationId, SwConfigurationId, TelescopeName) values (1, 1, 'ALMA')",
    """insert into ComponentType (ComponentTypeId, IDL)
       select id, 'IDL:alma/Control/' || assembly_type || ':1.0' from bench_types""",
    """insert into Component (ComponentId, ComponentTypeId, ComponentName, ConfigurationId, Path)
       select c.id, t.id, c.device, 1, c.path from bench_components c join bench_types t using (assembly_type)""",
    """insert into BACIProperty (BACIPropertyId, ComponentId, PropertyName, units)
       select p.id, c.id, p.monitor_point, p.unit
       from bench_points p join bench_components c
         on c.antenna is not distinct from p.antenna and c.device = p.device""",
    "insert into LRUType (LRUName, FullName) select assembly_type, assembly_type from bench_types",
    """insert into AssemblyType (AssemblyTypeName, LRUName, ComponentTypeId)
       select assembly_type, assembly_type, id from bench_types""",
    """insert into Assembly (AssemblyId, AssemblyTypeName, ConfigurationId, SerialNumber)
       select id, assembly_type, 1, assembly_type || '-' || coalesce(antenna, 'AOS') || '-' || device
       from bench_components""",
    """insert into BaseElement (BaseElementId, BaseType, BaseElementName, ConfigurationId)
       select row_number() over (order by antenna), 'Antenna', antenna, 1
       from (select distinct antenna from bench_components where antenna is not null) a""",
    """insert into Antenna (BaseElementId, AntennaName, AntennaType, DishDiameter)
       select BaseElementId, BaseElementName, left(BaseElementName, 2),
              case when BaseElementName like 'CM%' then 7.0 else 12.0 end
       from BaseElement where BaseType = 'Antenna'""",
    """insert into MonitorPoint (MonitorPointId, BACIPropertyId, MonitorPointName, AssemblyId, Indice, DataType,
                                Units, Description)
       select p.id, p.id, p.monitor_point, c.id, 0, case when p.sequence then 'double[]' else 'double' end,
              p.unit, 'from monitor.samples'
       from bench_points p join bench_components c
         on c.antenna is not distinct from p.antenna and c.device = p.device""",
]

# MonitorData: one block per point and UTC hour. A CLOB slot is
# 'acs|value' (a sequence's values by baseband, blank-separated), slots
# joined by '|' in time order, ending in a newline as ACS's Clobber writes
# it. ACS times are exact (extract(epoch) is numeric); float8::text is the
# shortest text that reads back as the same double (PostgreSQL 12+, with
# extra_float_digits > 0). Statistics over every value of the block.
TMCDB_MONITOR_DATA = f"""
insert into MonitorData (MonitorPointId, StartTime, EndTime, MonitorTS, SampleSize, MonitorClob,
                         MinStat, MaxStat, MeanStat, StdDevStat)
with s as (
    select p.id, s.time, date_trunc('hour', s.time, 'UTC') as hour, s.baseband, s.value
    from monitor.samples s join bench_points p
      on coalesce(s.antenna, '') = coalesce(p.antenna, '') and s.device = p.device
     and s.monitor_point = p.monitor_point
), slots as (
    select id, hour, time,
           (extract(epoch from time) * 1000000)::bigint * 10 + {ACS_UNIX_EPOCH} as acs,
           string_agg(value::text, ' ' order by baseband) as slot_value
    from s group by id, hour, time
), blocks as (
    select id, hour, min(acs) as start_acs, max(acs) as end_acs, min(time) as first_time,
           count(*) as slots, string_agg(acs::text || '|' || slot_value, '|' order by time) || E'\n' as clob
    from slots group by id, hour
), stats as (
    select id, hour, min(value) as min_v, max(value) as max_v, avg(value) as mean_v,
           stddev_samp(value) as sd_v
    from s group by id, hour
)
select b.id, b.start_acs, b.end_acs, b.first_time at time zone 'UTC', b.slots, b.clob,
       st.min_v, st.max_v, st.mean_v, st.sd_v
from blocks b join stats st using (id, hour)
"""


def tmcdb_points_where(antennas: list[str] | None) -> str:
    """The rows of monitor.samples that go into the TMCDB (a condition in
    both almasql's and PostgreSQL's SQL): all, or those of the antennas
    given and of no antenna (weather)."""
    if not antennas:
        return "true"
    names = ", ".join("'" + a.replace("'", "''") + "'" for a in antennas)
    return f"(antenna is null or antenna in ({names}))"


def tmcdb_source(pg: "Postgres") -> dict:
    """The almasql `tmcdb` source for the TMCDB in our PostgreSQL (trust
    auth: no password)."""
    return {"kind": "tmcdb", "schema": TMCDB_SCHEMA, "host": "127.0.0.1", "port": pg.port, "user": PG_USER,
            "database": PG_DB, "remote_schema": TMCDB_REMOTE_SCHEMA, "sslmode": "disable"}


def build_tmcdb(dsn: str, antennas: list[str] | None) -> dict:
    """Creates a TMCDB (schema.sql) in schema `tmcdb` of our PostgreSQL and
    fills it from monitor.samples (of `antennas` and the weather, or all)
    with SQL; returns its size and the time taken."""
    import psycopg

    where = tmcdb_points_where(antennas)
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {TMCDB_REMOTE_SCHEMA} cascade")
        conn.execute(f"create schema {TMCDB_REMOTE_SCHEMA}")
        conn.execute(f"set search_path = {TMCDB_REMOTE_SCHEMA}")
        conn.execute("set extra_float_digits = 1")
        conn.execute(TMCDB_DDL.read_text())
        with conn.transaction():
            conn.execute(TMCDB_POINTS.format(where=where))
            for stmt in TMCDB_CONFIGURATION:
                conn.execute(stmt)
            conn.execute(TMCDB_MONITOR_DATA)
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        conn.execute("vacuum analyze monitordata, monitorpoint, assembly, assemblytype, baciproperty, component, "
                     "baseelement, antenna")
        analyze = time.perf_counter() - t1
        points, sequences = conn.execute(
            "select count(*), count(*) filter (where DataType = 'double[]') from MonitorPoint").fetchone()
        blocks, slots, clob_bytes = conn.execute(
            "select count(*), sum(SampleSize), sum(octet_length(MonitorClob)) from MonitorData").fetchone()
        table_bytes = conn.execute("select pg_total_relation_size('monitordata')").fetchone()[0]
        samples = conn.execute(f"select count(*) from monitor.samples where {where}").fetchone()[0]
    if not blocks:
        raise Failure("TMCDB: no MonitorData blocks built from monitor.samples")
    info = {"points": points, "sequence_points": sequences, "blocks": blocks, "slots": int(slots),
            "samples": samples, "clob_bytes": int(clob_bytes), "monitordata_bytes": table_bytes,
            "seconds": round(seconds, 2), "vacuum_analyze_seconds": round(analyze, 2),
            "remote_schema": TMCDB_REMOTE_SCHEMA, "schema": TMCDB_SCHEMA, "antennas": antennas or "all",
            "points_where": where}
    log(f"  TMCDB ({'antennas ' + ', '.join(antennas) + ' and weather' if antennas else 'every point'}): "
        f"{points} points ({sequences} sequences), {blocks} blocks, {slots} slots holding {samples} samples, "
        f"{clob_bytes / 1e6:.1f} MB of CLOBs, in {info['seconds']} s (+ {info['vacuum_analyze_seconds']} s "
        "VACUUM ANALYZE)")
    return info


def duckdb_connect(tables: dict[str, list[Path]]):
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for name, files in tables.items():
        schema = name.split(".")[0]
        con.execute(f"create schema if not exists {schema}")
        paths = ", ".join(f"'{p}'" for p in files)
        con.execute(f"create view {name} as select * from read_parquet([{paths}], hive_partitioning = false)")
    return con


# --------------------------------------------------------------------------- results


def norm_value(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bool) or v is None or isinstance(v, (int, float, str)):
        return v
    return str(v)


def norm_rows(rows) -> list[tuple]:
    rows = [tuple(norm_value(v) for v in r) for r in rows]

    def key(r):
        # Exact columns first, floats last: rows that differ in a float's last
        # bits still sort alike on every engine.
        exact = tuple((v is None, "" if v is None else str(v)) for v in r if not isinstance(v, float))
        approx = tuple((v is None, 0.0 if v is None else v) for v in r if isinstance(v, float))
        return exact, approx

    return sorted(rows, key=key)


def same_value(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= ATOL + RTOL * max(abs(a), abs(b))
    return a == b


def diff_results(ref: list[tuple], other: list[tuple]) -> str | None:
    if len(ref) != len(other):
        return f"{len(other)} rows, expected {len(ref)}; first rows {other[:2]} vs {ref[:2]}"
    for i, (r, o) in enumerate(zip(ref, other)):
        if len(r) != len(o) or not all(same_value(a, b) for a, b in zip(r, o)):
            return f"row {i}: {o} vs {r}"
    return None


def summary(samples: list[float]) -> dict:
    s = sorted(samples)
    out = {"n": len(s), "median": statistics.median(s), "min": s[0], "max": s[-1]}
    if len(s) >= 4:
        q = statistics.quantiles(s, n=4)
        out["q1"], out["q3"] = q[0], q[2]
    return out


# --------------------------------------------------------------------------- phases


class Runner:
    def __init__(self, pg_conn, alma_conn, duck):
        self.conns = {"almasql": alma_conn, "postgres": pg_conn, "duckdb": duck}

    def run(self, engine: str, sql: str):
        if engine == "duckdb":
            return self.conns["duckdb"].execute(sql).fetchall()
        with self.conns[engine].cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def timed(self, engine: str, sql: str) -> float:
        t0 = time.perf_counter()
        self.run(engine, sql)
        return time.perf_counter() - t0


def run_queries(runner: Runner, args, failures: list) -> dict:
    out = {}
    for q in qset.QUERIES:
        entry = {"what": q.what, "sql": {e: q.sql(e) for e in ENGINES}, "rows": None, "check": "ok",
                 "times": {}, "errors": {}}
        results = {}
        for e in ENGINES:
            try:
                results[e] = norm_rows(runner.run(e, q.sql(e)))
            except Exception as exc:  # noqa: BLE001 - reported, run goes on
                entry["errors"][e] = f"{type(exc).__name__}: {exc}"
                failures.append(f"{q.name} on {e}: {entry['errors'][e]}")
                _reset(runner, e)
        ref = results.get("almasql")
        if ref is not None:
            entry["rows"] = len(ref)
            for e in ("duckdb", "postgres"):
                if e in results:
                    d = diff_results(ref, results[e])
                    if d:
                        entry["check"] = "MISMATCH"
                        entry["errors"][e] = f"result differs from almasql: {d}"
                        failures.append(f"{q.name}: {e} differs from almasql: {d}")
        if entry["check"] != "ok" or entry["errors"]:
            log(f"{q.name}: not timed ({'; '.join(entry['errors'].values())[:300]})")
            out[q.name] = entry
            continue
        for e in ENGINES:
            sql = q.sql(e)
            try:
                for _ in range(args.warmup):
                    runner.run(e, sql)
                entry["times"][e] = summary([runner.timed(e, sql) for _ in range(args.repeat)])
            except Exception as exc:  # noqa: BLE001
                entry["errors"][e] = f"while timing: {type(exc).__name__}: {exc}"
                failures.append(f"{q.name} on {e}: {entry['errors'][e]}")
                _reset(runner, e)
        log(f"{q.name}: {len(ref)} rows, agree; median ms " + ", ".join(
            f"{e} {entry['times'][e]['median'] * 1000:.1f}" for e in ENGINES if e in entry["times"]))
        out[q.name] = entry
    return out


def _reset(runner: Runner, engine: str):
    conn = runner.conns[engine]
    if engine != "duckdb":
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001
            pass


def run_inprocess(args, config: Path, data_dir: Path, workdir: Path, results: dict, notes: list,
                  failures: list):
    if not args.inprocess_bin:
        notes.append("almasql in-process: skipped (no --inprocess-bin or --build-inprocess given)")
        return
    if not Path(args.inprocess_bin).exists():
        notes.append(f"almasql in-process: skipped ({args.inprocess_bin} does not exist)")
        return
    qfile = workdir / "queries.json"
    qfile.write_text(json.dumps(qset.almasql_queries(), indent=2) + "\n")
    # The same config file as the server's (data_dir, [demo] scale/seed).
    # One more warm-up than the other engines: they also ran the checking run.
    cmd = [args.inprocess_bin, "--config", config, "--data-dir", data_dir, "--queries", qfile,
           "--repeat", str(args.repeat), "--warmup", str(args.warmup + 1)]
    log(f"almasql in-process: {' '.join(map(str, cmd))}")
    try:
        times = json.loads(run(cmd, timeout=3600).stdout)
    except (Failure, json.JSONDecodeError, subprocess.TimeoutExpired) as exc:
        failures.append(f"almasql in-process bench binary: {exc}")
        return
    for name, samples in times.items():
        if name in results and samples:
            results[name]["times"]["almasql_inprocess"] = summary([float(s) for s in samples])


# TMCDB vs Parquet: variant -> (engine, table).
TMCDB_VARIANTS = {
    "tmcdb": ("almasql", f"{TMCDB_SCHEMA}.tmc_samples"),
    "parquet": ("almasql", "monitor.samples"),
    "postgres": ("postgres", "monitor.samples"),
}
TMCDB_REFERENCE = "parquet"


def tmcdb_checks(runner: Runner, build: dict) -> dict:
    """What almasql reads from the TMCDB against what was built: sample,
    point and block counts, and the one-antenna day's samples exactly
    (EXCEPT both ways, in almasql, against the Parquet archive)."""
    def one(engine: str, sql: str):
        return runner.run(engine, sql)[0][0]

    tmc, parquet = TMCDB_VARIANTS["tmcdb"][1], TMCDB_VARIANTS["parquet"][1]
    day_tmc, day_parquet = qset.TMCDB_DAY_ROWS.format(table=tmc), qset.TMCDB_DAY_ROWS.format(table=parquet)
    checks = {
        "tmc_samples rows": (one("almasql", f"select count(*) from {tmc}"),
                             one("postgres", f"select count(*) from monitor.samples where {build['points_where']}")),
        "tmc_points rows": (one("almasql", f"select count(*) from {TMCDB_SCHEMA}.tmc_points"), build["points"]),
        "tmc_blocks rows": (one("almasql", f"select count(*) from {TMCDB_SCHEMA}.tmc_blocks"), build["blocks"]),
        "one-day samples in tmc_samples, not in monitor.samples":
            (one("almasql", f"select count(*) from ({day_tmc} except {day_parquet})"), 0),
        "one-day samples in monitor.samples, not in tmc_samples":
            (one("almasql", f"select count(*) from ({day_parquet} except {day_tmc})"), 0),
    }
    return {k: {"almasql": got, "expected": want, "ok": got == want} for k, (got, want) in checks.items()}


def run_tmcdb(runner: Runner, args, build: dict, failures: list) -> dict:
    """The TMCDB vs Parquet comparison: checks, then each query on every
    variant, checked against the Parquet archive's result, then timed."""
    out = {"checks": {}, "queries": {}, "full_scan_rows_per_s": {}}
    try:
        out["checks"] = tmcdb_checks(runner, build)
    except Exception as exc:  # noqa: BLE001 - reported, run goes on
        failures.append(f"TMCDB checks: {type(exc).__name__}: {exc}")
        _reset(runner, "almasql")
        return out
    bad = [f"{k}: almasql {c['almasql']}, expected {c['expected']}" for k, c in out["checks"].items() if not c["ok"]]
    failures.extend(f"TMCDB check {b}" for b in bad)
    log("TMCDB checks: " + ("; ".join(bad) if bad else "samples, points, blocks and the one-day samples agree"))
    for name, template in qset.TMCDB_QUERIES.items():
        # Only the TMCDB's points, where it holds a subset (--tmcdb-antennas).
        where = "" if build["points_where"] == "true" else f" where {build['points_where']}"
        sqls = {v: template.format(table=table, where=where) for v, (_, table) in TMCDB_VARIANTS.items()}
        entry = {"sql": sqls, "engines": {v: e for v, (e, _) in TMCDB_VARIANTS.items()}, "rows": None,
                 "check": "ok", "times": {}, "errors": {}, "result": None}
        results = {}
        for v, (engine, _) in TMCDB_VARIANTS.items():
            try:
                results[v] = norm_rows(runner.run(engine, sqls[v]))
            except Exception as exc:  # noqa: BLE001
                entry["errors"][v] = f"{type(exc).__name__}: {exc}"
                failures.append(f"TMCDB {name} ({v}): {entry['errors'][v]}")
                _reset(runner, engine)
        ref = results.get(TMCDB_REFERENCE)
        if ref is not None:
            entry["rows"], entry["result"] = len(ref), ref
            for v, rows in results.items():
                d = diff_results(ref, rows) if v != TMCDB_REFERENCE else None
                if d:
                    entry["check"] = "MISMATCH"
                    entry["errors"][v] = f"result differs from {TMCDB_REFERENCE}: {d}"
                    failures.append(f"TMCDB {name}: {v} differs from {TMCDB_REFERENCE}: {d}")
        out["queries"][name] = entry
        if entry["check"] != "ok" or entry["errors"]:
            log(f"TMCDB {name}: not timed ({'; '.join(entry['errors'].values())[:300]})")
            continue
        for v, (engine, _) in TMCDB_VARIANTS.items():
            try:
                for _ in range(args.warmup):
                    runner.run(engine, sqls[v])
                entry["times"][v] = summary([runner.timed(engine, sqls[v]) for _ in range(args.repeat)])
            except Exception as exc:  # noqa: BLE001
                entry["errors"][v] = f"while timing: {type(exc).__name__}: {exc}"
                failures.append(f"TMCDB {name} ({v}): {entry['errors'][v]}")
                _reset(runner, engine)
        log(f"TMCDB {name}: {len(ref)} rows, agree; median ms " + ", ".join(
            f"{v} {entry['times'][v]['median'] * 1000:.1f}" for v in TMCDB_VARIANTS if v in entry["times"]))
    full = out["queries"].get("full_scan", {})
    if full.get("result"):
        samples = full["result"][0][0]
        out["full_scan_rows_per_s"] = {v: samples / t["median"] for v, t in full["times"].items() if t["median"] > 0}
    return out


STREAM_MODES = {
    "psycopg": "psycopg 3, binary, Cursor.stream(size=10 000): every row built as a Python tuple",
    "libpq": "psycopg's libpq wrapper, binary, chunked rows mode (10 000): rows counted, not converted",
    "tokio-postgres": "tokio-postgres 0.7 (Rust, benches/compare/stream_client.rs), extended protocol, binary results, "
                      "rows received as they arrive and every value decoded",
}


def _stream_psycopg(conn, sql: str) -> int:
    n = 0
    with conn.cursor(binary=True) as cur:
        for _ in cur.stream(sql, size=10_000):
            n += 1
    return n


def _stream_libpq(conn, sql: str) -> int:
    from psycopg import pq

    pgc, n = conn.pgconn, 0
    pgc.send_query_params(sql.encode(), None, result_format=pq.Format.BINARY)  # raises on error
    pgc.set_chunked_rows_mode(10_000)
    while (res := pgc.get_result()) is not None:
        if res.status in (pq.ExecStatus.TUPLES_CHUNK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_OK):
            n += res.ntuples
        else:
            raise Failure(res.error_message.decode(errors="replace"))
    return n


def _stream_tokio_postgres(client_bin: Path, dsn: str, server_pid_sql: str | None, server_pid: int | None,
                           sql: str) -> tuple[int, float, int, dict, RssSampler, dict]:
    """Runs benches/compare/stream_client.rs: it connects and reports the backend
    pid, then streams when told to, so the sampler covers only the query."""
    cmd = [str(client_bin), "--dsn", f"{dsn} connect_timeout=10", "--sql", sql]
    if server_pid_sql:
        cmd += ["--pid-sql", server_pid_sql]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        if not first:
            raise Failure(f"stream_client: {proc.stderr.read()[-1500:]}")
        pid = json.loads(first)["pid"] or server_pid
        before = proc_status(pid)
        with RssSampler(pid) as sampler:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=600)
        after = proc_status(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise Failure(f"stream_client exited {proc.returncode}: {err[-1500:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return result["rows"], result["seconds"], pid, before, sampler, after


def stream_once(dsn: str, server_pid_sql: str | None, server_pid: int | None, rows: int, mode: str,
                client_bin: Path | None = None) -> dict:
    import psycopg

    sql = qset.streaming_sql(rows)
    if mode == "tokio-postgres":
        n, secs, pid, before, sampler, after = _stream_tokio_postgres(client_bin, dsn, server_pid_sql, server_pid,
                                                                       sql)
    else:
        with psycopg.connect(dsn, autocommit=True) as conn:
            pid = conn.execute(server_pid_sql).fetchone()[0] if server_pid_sql else server_pid
            before = proc_status(pid)
            with RssSampler(pid) as sampler:
                t0 = time.perf_counter()
                n = (_stream_psycopg if mode == "psycopg" else _stream_libpq)(conn, sql)
                secs = time.perf_counter() - t0
            after = proc_status(pid)
    if n != rows:
        raise Failure(f"streamed {n} rows, expected {rows}")
    return {"rows": n, "mode": mode, "seconds": secs, "rows_per_s": n / secs,
            "rss_before_kb": before.get("VmRSS"),
            "rss_peak_during_kb": max(sampler.peak, after.get("VmRSS", 0)),
            "vmhwm_after_kb": after.get("VmHWM"), "server_pid": pid}


def run_streaming(args, alma: Almasql, pg: Postgres, failures: list) -> list:
    out = []
    for mode in STREAM_MODES:
        if mode == "tokio-postgres" and not args.stream_client_bin:
            continue
        for rows in args.stream_rows:
            for name, dsn, pid_sql, pid in (("almasql", alma.dsn, None, alma.pid),
                                            ("postgres", pg.dsn, "select pg_backend_pid()", None)):
                try:
                    r = stream_once(dsn, pid_sql, pid, rows, mode, args.stream_client_bin)
                    r["server"] = name
                    out.append(r)
                    log(f"stream {rows} rows from {name} ({mode}): {r['rows_per_s'] / 1e6:.2f} M rows/s, "
                        f"RSS {r['rss_before_kb'] // 1024} -> peak {r['rss_peak_during_kb'] // 1024} MiB")
                except Exception as exc:  # noqa: BLE001
                    msg = f"streaming {rows} rows from {name} ({mode}): {type(exc).__name__}: {exc}"
                    failures.append(msg)
                    out.append({"server": name, "rows": rows, "mode": mode, "error": msg})
                    log(msg)
    return out


def pgbench_check(alma_conn, pg_conn, failures: list):
    """Runs the pgbench statements once on both servers (parameters fixed)
    and compares the results."""
    for i, stmt in enumerate(qset.pgbench_statements()):
        res = {}
        for name, conn in (("almasql", alma_conn), ("postgres", pg_conn)):
            try:
                with conn.cursor() as cur:
                    cur.execute(stmt["sql"], stmt["params"])
                    res[name] = norm_rows(cur.fetchall())
            except Exception as exc:  # noqa: BLE001
                failures.append(f"pgbench statement {i + 1} on {name}: {type(exc).__name__}: {exc}")
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001
                    pass
        if len(res) == 2:
            d = diff_results(res["postgres"], res["almasql"])
            if d:
                failures.append(f"pgbench statement {i + 1}: almasql differs from PostgreSQL: {d}")


def run_pgbench(args, script_name: str, name: str, port: int, user: str, db: str, workdir: Path,
                failures: list) -> dict:
    script = workdir / f"pgbench_{script_name}.sql"
    script.write_text(qset.PGBENCH_SCRIPTS[script_name])
    prefix = workdir / f"pgbench_{script_name}_{name}"
    for f in glob.glob(f"{prefix}.*"):
        os.remove(f)
    threads = max(1, min(os.cpu_count() or 1, args.pgbench_clients))
    cmd = [args.pgbench, "-n", "-M", "extended", "-c", str(args.pgbench_clients), "-j", str(threads),
           "-T", str(args.pgbench_seconds), "-f", str(script), "-r", "--log", f"--log-prefix={prefix}",
           "-h", "127.0.0.1", "-p", str(port), "-U", user, db]
    log(f"pgbench {script_name} against {name}: {args.pgbench_clients} clients, {args.pgbench_seconds} s")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.pgbench_seconds + 120)
    out = {"script": script_name, "server": name, "clients": args.pgbench_clients, "threads": threads,
           "seconds": args.pgbench_seconds, "protocol": "extended", "exit_code": r.returncode,
           "command": " ".join(cmd)}
    in_statements, out["statement_latency_ms"] = False, []
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("statement latencies"):
            in_statements = True
            continue
        if in_statements:
            parts = line.split(None, 2)
            try:
                out["statement_latency_ms"].append(
                    {"ms": float(parts[0]), "failures": int(parts[1]), "statement": parts[2]})
            except (ValueError, IndexError):
                in_statements = False
        if line.startswith("tps =") and "without initial connection time" in line:
            out["tps"] = float(line.split()[2])
        elif line.startswith("number of failed transactions:"):
            out["failed_transactions"] = int(line.split(":")[1].split()[0])
        elif line.startswith("number of transactions actually processed:"):
            out["transactions"] = int(line.split(":")[1].split("/")[0].strip())
    lat, failed = [], 0
    for f in glob.glob(f"{prefix}.*"):
        with open(f) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3:
                    if parts[2].isdigit():
                        lat.append(int(parts[2]) / 1000.0)  # ms
                    else:
                        failed += 1
    if lat:
        lat.sort()
        out["p50_ms"] = lat[len(lat) // 2]
        out["p99_ms"] = lat[min(len(lat) - 1, int(math.ceil(0.99 * len(lat))) - 1)]
        out["logged_transactions"] = len(lat)
    out["logged_failures"] = failed
    problems = [ln for ln in (r.stderr + "\n" + r.stdout).splitlines()
                if any(w in ln for w in ("error", "ERROR", "aborted", "FATAL", "failed"))
                and "number of failed transactions: 0" not in ln]
    if r.returncode != 0 or not lat or out.get("failed_transactions"):
        out["error"] = "\n".join(problems[:20]) or r.stderr[-2000:]
        failures.append(f"pgbench {script_name} against {name} (exit {r.returncode}): {out['error'][:1500]}")
    log(f"pgbench {script_name} {name}: tps {out.get('tps')}, p50 {out.get('p50_ms')} ms, p99 {out.get('p99_ms')} ms"
        + (f", ERROR {out['error'][:300]}" if "error" in out else ""))
    return out


# --------------------------------------------------------------------------- report


def machine_info() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        info["loadavg_start"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return info


def fmt_ms(t: dict | None) -> str:
    if not t:
        return "–"
    spread = f"{t['min'] * 1000:.1f}–{t['max'] * 1000:.1f}" if t["n"] > 1 else ""
    return f"{t['median'] * 1000:.1f}" + (f" ({spread})" if spread else "")


def ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or b["median"] <= 0:
        return None
    return a["median"] / b["median"]


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}"


def markdown_tmcdb(tm: dict) -> list[str]:
    """The "TMCDB vs Parquet" section."""
    lines = ["", "## TMCDB vs Parquet", ""]
    if "error" in tm:
        return lines + [f"FAILED: {tm['error'][:500]}"]
    b = tm["build"]
    lines += [
        f"A TMCDB (`connectors/src/tmcdb/schema.sql`) in the same PostgreSQL, schema `{b['remote_schema']}`, "
        f"filled from monitor.samples"
        + (f" (antennas {', '.join(b['antennas'])} and the weather)" if isinstance(b["antennas"], list) else "")
        + f" with SQL: {b['points']} monitor points ({b['sequence_points']} IF total "
        f"power sequences of 4 basebands), {b['blocks']:,} MonitorData blocks (one per point and hour), "
        f"{b['slots']:,} CLOB slots holding {b['samples']:,} samples, {b['clob_bytes'] / 1e6:.1f} MB of CLOB text "
        f"({b['monitordata_bytes'] / 1e6:.1f} MB on disk); built in {b['seconds']} s "
        f"(+ {b['vacuum_analyze_seconds']} s VACUUM ANALYZE). almasql reads it through a `tmcdb` source in "
        f"schema `{b['schema']}` (`tmc_samples`: the blocks are fetched, the CLOBs decoded into rows); "
        "`parquet` is almasql on the Parquet archive monitor.samples, `postgres` PostgreSQL on its indexed "
        "monitor.samples. Median (min–max) in ms; results checked equal first.",
        "",
    ]
    failed = [k for k, c in tm.get("checks", {}).items() if not c["ok"]]
    if tm.get("checks"):
        lines += [("Checks: " + "; ".join(f"{k}: {tm['checks'][k]['almasql']} (expected "
                                          f"{tm['checks'][k]['expected']})" for k in failed)) if failed else
                  "Checks: tmc_samples has every sample of the TMCDB's points, tmc_points every point, tmc_blocks "
                  "every block; the one-antenna day's samples are exactly the archive's.", ""]
    lines += ["| query | rows | almasql TMCDB | almasql Parquet | PostgreSQL | TMCDB/Parquet | TMCDB/PostgreSQL |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, q in tm.get("queries", {}).items():
        t = q["times"]
        if q["errors"]:
            lines.append(f"| {name} | {q['rows'] if q['rows'] is not None else '–'} | "
                         f"FAILED: {'; '.join(f'{k}: {v}' for k, v in q['errors'].items())[:200]} |||||")
            continue
        lines.append(f"| {name} | {q['rows']} | {fmt_ms(t.get('tmcdb'))} | {fmt_ms(t.get('parquet'))} | "
                     f"{fmt_ms(t.get('postgres'))} | {fmt_ratio(ratio(t.get('tmcdb'), t.get('parquet')))} | "
                     f"{fmt_ratio(ratio(t.get('tmcdb'), t.get('postgres')))} |")
    where = "" if b["points_where"] == "true" else f" where {b['points_where']}"
    lines += [""] + [f"- `{name}`: `{sql.format(table='X', where=where)}`"
                     for name, sql in qset.TMCDB_QUERIES.items()]
    rps = tm.get("full_scan_rows_per_s")
    if rps:
        lines += ["", "Full scan, rows/s: " + ", ".join(f"{v} {r / 1e6:.2f} M" for v, r in rps.items())
                  + " (TMCDB: fetch from PostgreSQL + CLOB decode)."]
    return lines


def markdown(report: dict) -> str:
    m, cfg = report["machine"], report["config"]
    lines = [
        f"# almasql vs DuckDB vs PostgreSQL — scale {cfg['scale']} "
        f"({report['dataset_rows'].get('monitor.samples', 0):,} monitor samples, {cfg['scale'] * 4} days)",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('mem_gib')} GiB; load average at start "
        f"{' '.join(m.get('loadavg_start', []))}. {report['versions'].get('almasql')}; "
        f"PostgreSQL {report['versions'].get('postgres')}; DuckDB {report['versions'].get('duckdb')}; "
        f"psycopg {report['versions'].get('psycopg')}. {cfg['repeat']} timed runs after {cfg['warmup']} warm-up "
        "(plus the checking run); median (min–max) in ms; ratio = almasql over pgwire / other "
        "(< 1: almasql faster).",
        "",
        "| query | rows | almasql pgwire | almasql in-process | DuckDB | PostgreSQL | almasql/DuckDB | almasql/PostgreSQL |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, q in report["queries"].items():
        t = q["times"]
        if q["errors"]:
            lines.append(f"| {name} | {q['rows'] if q['rows'] is not None else '–'} | "
                         f"FAILED: {'; '.join(f'{k}: {v}' for k, v in q['errors'].items())[:200]} ||||||")
            continue
        lines.append(
            f"| {name} | {q['rows']} | {fmt_ms(t.get('almasql'))} | {fmt_ms(t.get('almasql_inprocess'))} | "
            f"{fmt_ms(t.get('duckdb'))} | {fmt_ms(t.get('postgres'))} | "
            f"{fmt_ratio(ratio(t.get('almasql'), t.get('duckdb')))} | "
            f"{fmt_ratio(ratio(t.get('almasql'), t.get('postgres')))} |")
    if report.get("tmcdb"):
        lines += markdown_tmcdb(report["tmcdb"])
    if report.get("streaming"):
        lines += ["", "## Result streaming (`" + qset.streaming_sql(0).replace("0)", "N)") + "`)", ""]
        lines += [f"- {k}: {v}" for k, v in STREAM_MODES.items()]
        lines += ["- RSS is the server process's (PostgreSQL: the connection's backend; almasql: the server, "
                  "so VmHWM includes earlier work); peak sampled every 10 ms.", "",
                  "| server | client | rows | seconds | rows/s | server RSS before | peak RSS during | VmHWM after |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for s in report["streaming"]:
            if "error" in s:
                lines.append(f"| {s['server']} | {s['mode']} | {s['rows']:,} | FAILED: {s['error'][:200]} |||||")
                continue
            mib = lambda kb: f"{kb / 1024:.0f} MiB" if kb else "?"  # noqa: E731
            lines.append(f"| {s['server']} | {s['mode']} | {s['rows']:,} | {s['seconds']:.2f} | {s['rows_per_s'] / 1e6:.2f} M | "
                         f"{mib(s['rss_before_kb'])} | {mib(s['rss_peak_during_kb'])} | {mib(s['vmhwm_after_kb'])} |")
    if report.get("pgbench"):
        lines += ["", "## Concurrency (pgbench -M extended; `dashboard`: three small dashboard queries per "
                  "transaction, `select1`: the protocol floor)", "",
                  "| script | server | clients | seconds | transactions | tps | p50 ms | p99 ms | failed |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for b in report["pgbench"]:
            f2 = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
            failed = b.get("error", "").replace("\n", " ")[:200] if b.get("error") else str(b.get("failed_transactions", 0))
            lines.append(f"| {b['script']} | {b['server']} | {b['clients']} | {b['seconds']} | {b.get('transactions', '–')} | "
                         f"{f2(b.get('tps'))} | {f2(b.get('p50_ms'))} | {f2(b.get('p99_ms'))} | {failed} |")
    stmts = [b for b in report.get("pgbench", []) if b.get("statement_latency_ms") and b["script"] == "dashboard"]
    if stmts:
        lines += ["", "Average latency per statement of the dashboard script (ms, pgbench -r):", "",
                  "| statement | " + " | ".join(b["server"] for b in stmts) + " |",
                  "|---|" + "---:|" * len(stmts)]
        for i, s in enumerate(stmts[0]["statement_latency_ms"]):
            if s["statement"].startswith("\\"):
                continue
            cells = []
            for b in stmts:
                sl = b["statement_latency_ms"]
                cells.append(f"{sl[i]['ms']:.2f}" if i < len(sl) else "–")
            lines.append(f"| `{s['statement'][:90]}…` | " + " | ".join(cells) + " |")
    pl = report.get("postgres_load", {})
    if pl:
        lines += ["", f"PostgreSQL load: {sum(pl.get('seconds', {}).values()):.1f} s COPY, "
                      f"{pl.get('index_seconds')} s indexes, {pl.get('vacuum_analyze_seconds')} s VACUUM ANALYZE."]
    if report["notes"]:
        lines += ["", "Notes:"] + [f"- {n}" for n in report["notes"]]
    if report["failures"]:
        lines += ["", "**Failures:**"] + [f"- {f}" for f in report["failures"]]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("almasql pgwire / DuckDB", "almasql", "duckdb"),
              ("almasql pgwire / PostgreSQL", "almasql", "postgres"),
              ("almasql in-process / DuckDB", "almasql_inprocess", "duckdb"),
              ("almasql in-process / PostgreSQL", "almasql_inprocess", "postgres")]
    names = [n for n, q in report["queries"].items() if q["times"]]
    series = [s for s in series if any(ratio(report["queries"][n]["times"].get(s[1]),
                                             report["queries"][n]["times"].get(s[2])) for n in names)]
    fig, ax = plt.subplots(figsize=(10, 0.6 * max(len(names), 1) * max(len(series), 1) / 2 + 2))
    h = 0.8 / max(len(series), 1)
    for i, (label, a, b) in enumerate(series):
        vals = [ratio(report["queries"][n]["times"].get(a), report["queries"][n]["times"].get(b)) or float("nan")
                for n in names]
        ax.barh([y + i * h for y in range(len(names))], vals, height=h, label=label)
    ax.set_yticks([y + h * (len(series) - 1) / 2 for y in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", lw=1)
    ax.axvline(1 / 20, color="grey", ls="--", lw=1, label="target vs PostgreSQL (1/20)")
    ax.set_xlabel("time ratio (log scale; < 1: almasql faster)")
    ax.set_title(f"almasql time ratios, scale {report['config']['scale']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def check_queries_json(failures: list):
    path = HERE / "queries.json"
    want = qset.almasql_queries()
    try:
        have = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        failures.append(f"{path}: {exc} (run compare.py --write-queries)")
        return
    if have != want:
        failures.append(f"{path} is out of date with queries.py (run compare.py --write-queries)")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.write_queries:
        (HERE / "queries.json").write_text(json.dumps(qset.almasql_queries(), indent=2) + "\n")
        print(HERE / "queries.json")
        return 0
    import duckdb
    import psycopg

    if not args.almasql.exists():
        print(f"almasql binary not found: {args.almasql} (cargo build --release, or --almasql BIN)", file=sys.stderr)
        return 2
    failures, notes = [], []
    if args.smoke:
        check_queries_json(failures)
    for attr, build in (("inprocess_bin", build_inprocess), ("stream_client_bin", build_stream_client)):
        if args.build_inprocess and getattr(args, attr) is None:
            try:
                setattr(args, attr, build())
            except Failure as exc:
                failures.append(str(exc))
                log(f"FAILED: {exc}")
    if args.stream_client_bin is None:
        args.stream_client_bin = default_stream_client()
    keep = args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="almasql-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir, export = workdir / "data", workdir / "export"
    export.mkdir(exist_ok=True)
    alma, pg = None, Postgres(args.pg_bin)
    report = {"config": {"scale": args.scale, "seed": args.seed, "repeat": args.repeat, "warmup": args.warmup,
                         "smoke": args.smoke, "rtol": RTOL, "atol": ATOL, "postgres_settings": PG_SETTINGS},
              "machine": machine_info(), "versions": {"duckdb": duckdb.__version__, "psycopg": psycopg.__version__},
              "notes": notes, "failures": failures, "dataset_rows": {}}
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        log(f"workdir {workdir}; generating the demo dataset, scale {args.scale}")
        run([args.almasql, "demo-data", "--out", data_dir / "demo", "--scale", args.scale, "--seed", args.seed])
        manifest_text = (data_dir / "demo" / "manifest.json").read_text()
        manifest = json.loads(manifest_text)
        report["dataset_rows"] = dict(manifest["rows"], **{"logs.acs (records)": manifest["log_records"],
                                                           "jira.issues": manifest["jira_issues"]})
        alma = Almasql(args.almasql, workdir, data_dir, args.scale, args.seed)
        for name, sql in EXPORTS.items():
            alma.query_cli(f"copy ({sql}) to '{export / (name + '.parquet')}' stored as parquet")
        log("exported logs.acs, jira.issues, calibrators.measurements to Parquet with almasql")
        tables = parquet_tables(data_dir, export)

        log("starting PostgreSQL")
        pg.start()
        log(f"PostgreSQL on port {pg.port}; loading it")
        report["postgres_load"] = load_postgres(pg.dsn, tables)
        # The TMCDB before almasql starts: the tmcdb source connects at start-up.
        sources = []
        log(f"building a TMCDB in PostgreSQL schema {TMCDB_REMOTE_SCHEMA} from monitor.samples")
        try:
            report["tmcdb"] = {"build": build_tmcdb(pg.dsn, args.tmcdb_antennas), "source": tmcdb_source(pg)}
            sources.append(tmcdb_source(pg))
        except (Failure, psycopg.Error) as exc:
            report["tmcdb"] = {"error": f"building the TMCDB: {type(exc).__name__}: {exc}"}
            failures.append(report["tmcdb"]["error"])
            log(f"FAILED: {report['tmcdb']['error']}")
        log("starting almasql" + (f" with the tmcdb source in schema {TMCDB_SCHEMA}" if sources else ""))
        alma.start(sources)
        log(f"almasql on port {alma.port} (pid {alma.pid})")
        duck = duckdb_connect(tables)

        alma_conn = psycopg.connect(alma.dsn, autocommit=True)
        pg_conn = psycopg.connect(pg.dsn, autocommit=True)
        report["versions"]["almasql"] = alma_conn.execute("select version()").fetchone()[0]
        report["versions"]["postgres"] = pg_conn.execute("show server_version").fetchone()[0]

        # Streaming first: the almasql server is fresh, so its VmHWM means something.
        report["streaming"] = run_streaming(args, alma, pg, failures)
        if not args.stream_client_bin:
            notes.append("streaming with tokio-postgres: skipped (no --stream-client-bin or --build-inprocess given)")

        log("queries: checking results, then timing")
        runner = Runner(pg_conn, alma_conn, duck)
        report["queries"] = run_queries(runner, args, failures)
        if sources:
            log("TMCDB vs Parquet: checking, then timing")
            report["tmcdb"].update(run_tmcdb(runner, args, report["tmcdb"]["build"], failures))

        pgbench_check(alma_conn, pg_conn, failures)
        alma_conn.close()
        pg_conn.close()
        report["pgbench"] = []
        for script_name in qset.PGBENCH_SCRIPTS:
            for name, port, user, db in (("almasql", alma.port, ALMASQL_USER, ALMASQL_DB),
                                         ("postgres", pg.port, PG_USER, PG_DB)):
                report["pgbench"].append(run_pgbench(args, script_name, name, port, user, db, workdir, failures))
        if not alma.alive():
            failures.append(f"almasql server died: exit {alma.proc.returncode}\n{alma.log_tail()}")
        alma.stop()
        pg.stop()
        # Last: a bench binary that regenerated the dataset would spoil nothing after it.
        run_inprocess(args, alma.config, data_dir, workdir, report["queries"], notes, failures)
        if (data_dir / "demo" / "manifest.json").read_text() != manifest_text:
            failures.append("the in-process bench binary rewrote the demo dataset (it must open the existing "
                            "dataset at its manifest's scale and seed)")
    except Failure as exc:
        failures.append(str(exc))
        log(f"FAILED: {exc}")
    except KeyboardInterrupt:
        failures.append("interrupted")
    finally:
        if alma:
            alma.stop()
        pg.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report.setdefault("queries", {})
    report["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    for q in report["queries"].values():
        t = q["times"]
        q["ratios"] = {"almasql/duckdb": ratio(t.get("almasql"), t.get("duckdb")),
                       "almasql/postgres": ratio(t.get("almasql"), t.get("postgres")),
                       "almasql_inprocess/duckdb": ratio(t.get("almasql_inprocess"), t.get("duckdb")),
                       "almasql_inprocess/postgres": ratio(t.get("almasql_inprocess"), t.get("postgres"))}
    md = markdown(report)
    print(md)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(md)
        (args.out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        try:
            plot(report, args.out / "ratios.png")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"plot: {exc}")
        log(f"wrote {args.out}/results.md, results.json, ratios.png")
    if failures:
        print(f"{len(failures)} failure(s):", *failures, sep="\n- ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
