#!/usr/bin/env python3
"""Python client-compatibility checks for almasql: psycopg 3, SQLAlchemy 2, pandas.

Usage: python3 python_clients.py HOST PORT [--keep-going]

Needs: pip install 'psycopg[binary]' 'sqlalchemy>=2' pandas
Exits non-zero with a message on the first failing check (with --keep-going:
runs every check and exits non-zero if any failed).
"""
import datetime as dt
import sys
import traceback

import psycopg
from psycopg import sql as psql_sql
from checks import CheckFailed, Checks, expect

if len(sys.argv) < 3:
    sys.exit("usage: python_clients.py HOST PORT [--keep-going]")
HOST, PORT = sys.argv[1], int(sys.argv[2])
CHECKS = Checks("python_clients")
check = CHECKS.check
CONNINFO = f"host={HOST} port={PORT} user=almasql dbname=almasql connect_timeout=10 application_name=almasql-compat"
UTC = dt.timezone.utc






def connect(**kw):
    return psycopg.connect(CONNINFO, autocommit=True, **kw)


# ---------------------------------------------------------------- psycopg 3

SAMPLE_SQL = ("select time, antenna, polarization, value, date from monitor.samples "
              "where antenna = 'DV01' and monitor_point = 'TOTAL_POWER' order by time, polarization, baseband limit 20")


def c_connect():
    with connect() as conn:
        expect(conn.info.server_version >= 120000, f"server_version {conn.info.server_version}")
        expect(conn.info.parameter_status("server_encoding") in ("UTF8", "UTF-8"),
               f"server_encoding {conn.info.parameter_status('server_encoding')!r}")
        expect(conn.info.parameter_status("integer_datetimes") == "on",
               f"integer_datetimes {conn.info.parameter_status('integer_datetimes')!r}")


def fetch_samples(binary):
    with connect() as conn, conn.cursor(binary=binary) as cur:
        cur.execute(SAMPLE_SQL)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    return names, rows


def check_sample_rows(names, rows, label):
    expect(names == ["time", "antenna", "polarization", "value", "date"], f"{label}: columns {names}")
    expect(len(rows) == 20, f"{label}: {len(rows)} rows, want 20")
    t, ant, pol, val, day = rows[0]
    expect(isinstance(t, dt.datetime) and t.tzinfo is not None, f"{label}: time is {t!r}, want an aware datetime")
    expect(t == dt.datetime(2026, 1, 1, tzinfo=UTC), f"{label}: first time {t!r}")
    expect(ant == "DV01", f"{label}: antenna {ant!r}")
    expect(isinstance(pol, int), f"{label}: polarization {pol!r} is not an int")
    expect(isinstance(val, float), f"{label}: value {val!r} is not a float")
    expect(day == dt.date(2026, 1, 1), f"{label}: date {day!r}")


def c_text_results():
    names, rows = fetch_samples(binary=False)
    check_sample_rows(names, rows, "text")


def c_binary_results():
    names, rows = fetch_samples(binary=True)
    check_sample_rows(names, rows, "binary")
    _, text_rows = fetch_samples(binary=False)
    expect(rows == text_rows, f"binary rows differ from text rows:\n{rows[:2]}\n{text_rows[:2]}")


def c_simple_protocol_types():
    # psycopg ClientCursor: parameters interpolated client-side, simple query protocol
    with connect() as conn:
        cur = psycopg.ClientCursor(conn)
        cur.execute("select %s::int as i, %s::float8 as f, %s::text as s, %s::timestamptz as t, %s::bool as b",
                    (42, 2.5, "héllo", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), True))
        row = cur.fetchone()
        expect(row == (42, 2.5, "héllo", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), True),
               f"simple-protocol round-trip: {row!r}")


PARAMS = (7, 1.25, "DV01", dt.datetime(2026, 1, 2, 12, 30, tzinfo=UTC), True, None)


def c_param_roundtrip(binary):
    # psycopg declares the parameter types in Parse (int2, float8, unknown,
    # timestamptz, bool, ...) and sends int/float/datetime/bool in binary;
    # PostgreSQL gives `select $1` the declared type.
    def run():
        with connect() as conn, conn.cursor(binary=binary) as cur:
            cur.execute("select %s as i, %s as f, %s as s, %s as t, %s as b, %s::text as n", PARAMS)
            types = [d.type_display for d in cur.description]
            row = cur.fetchone()
            expect(row == PARAMS, f"round-trip (binary={binary}): sent {PARAMS!r} got {row!r}; result types {types}")
    return run


def c_param_expressions(binary):
    def run():
        with connect() as conn, conn.cursor(binary=binary) as cur:
            cur.execute("select %s + 1, %s * 2, %s || '-x', %s + interval '1 hour', not %s, %s is null",
                        (41, 1.5, "DV", dt.datetime(2026, 1, 1, tzinfo=UTC), False, None))
            row = cur.fetchone()
            expect(row == (42, 3.0, "DV-x", dt.datetime(2026, 1, 1, 1, tzinfo=UTC), True, True),
                   f"expressions over parameters (binary={binary}): {row!r}")
    return run


def c_param_filter(binary):
    def run():
        with connect() as conn, conn.cursor(binary=binary) as cur:
            cur.execute("select count(*) from monitor.samples where antenna = 'DV01' and monitor_point = 'TOTAL_POWER' "
                        "and time >= '2026-01-02T00:00:00Z' and time < '2026-01-02T06:00:00Z' and value > -100 and polarization = 0")
            (literal,) = cur.fetchone()
            expect(literal > 0, "the literal query counts no rows")
            cur.execute("select count(*) from monitor.samples where antenna = %s and monitor_point = %s "
                        "and time >= %s and time < %s and value > %s and polarization = %s",
                        ("DV01", "TOTAL_POWER", dt.datetime(2026, 1, 2, tzinfo=UTC),
                         dt.datetime(2026, 1, 2, 6, tzinfo=UTC), -100.0, 0))
            (param,) = cur.fetchone()
            expect(param == literal, f"parameterised count {param} != literal count {literal}")
    return run


def c_prepared_reuse():
    with connect(prepare_threshold=0) as conn, conn.cursor() as cur:
        counts = []
        for ant in ("DV01", "DA41", "PM01"):
            cur.execute("select count(*) from ops.antennas where antenna = %s", (ant,))
            counts.append(cur.fetchone()[0])
        expect(counts == [1, 1, 1], f"server-side prepared statement reused with 3 values: {counts}")


def c_executemany_returning_none():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select %s::int as x", (None,))
        expect(cur.fetchone() == (None,), "NULL int parameter")


def c_stream():
    with connect() as conn, conn.cursor() as cur:
        n = 0
        first = None
        for row in cur.stream("select time, antenna, value from monitor.samples where monitor_point = 'TOTAL_POWER' "
                              "and date = %s limit 100000", (dt.date(2026, 1, 3),)):
            if first is None:
                first = row
            n += 1
        expect(n == 100000, f"cursor.stream() gave {n} rows, want 100000")
        expect(isinstance(first[0], dt.datetime) and first[0].date() == dt.date(2026, 1, 3), f"first streamed row {first!r}")


def expect_described(cur):
    # psycopg describes the cursor's portal after DECLARE (Describe 'P' <name>);
    # with no RowDescription (NoData) its fetch crashes the interpreter (SIGSEGV),
    # so stop here with a message instead.
    expect(cur.description is not None,
           "Describe(portal) of the DECLAREd cursor answered NoData (no RowDescription); "
           "psycopg would crash (SIGSEGV) on the next FETCH")


def c_server_side_cursor_literal():
    with psycopg.connect(CONNINFO) as conn:
        with conn.cursor(name="almasql_compat_lit") as cur:
            cur.itersize = 5000
            cur.execute("select time, antenna, value from monitor.samples where date = '2026-01-02' and monitor_point = 'TOTAL_POWER'")
            expect_described(cur)
            n = sum(1 for _ in cur)
            expect(n == 3041280 // 4, f"named cursor gave {n} rows, want {3041280 // 4}")
        conn.rollback()


def c_declare_fetch_sql():
    # DECLARE / FETCH / CLOSE typed by hand (simple protocol), as psql users do
    with psycopg.connect(CONNINFO) as conn:
        cur = psycopg.ClientCursor(conn)
        cur.execute("declare c_hand cursor for select antenna from ops.antennas order by antenna")
        cur.execute("fetch forward 10 from c_hand")
        first = cur.fetchall()
        cur.execute("fetch all from c_hand")
        rest = cur.fetchall()
        cur.execute("close c_hand")
        expect(len(first) == 10 and len(rest) == 56 and first[0][0] < rest[0][0],
               f"FETCH 10 then FETCH ALL: {len(first)} + {len(rest)} rows")
        conn.rollback()


def c_server_side_cursor():
    with psycopg.connect(CONNINFO) as conn:  # not autocommit: DECLARE needs a transaction
        with conn.cursor(name="almasql_compat_cur") as cur:
            cur.itersize = 5000
            cur.execute("select time, antenna, value from monitor.samples where date = %s and monitor_point = %s",
                        (dt.date(2026, 1, 2), "TOTAL_POWER"))
            expect_described(cur)
            first = cur.fetchmany(10)
            expect(len(first) == 10, f"fetchmany(10) gave {len(first)}")
            n = len(first)
            for _ in cur:
                n += 1
            expect(n == 3041280 // 4, f"named cursor gave {n} rows, want {3041280 // 4}")
        conn.rollback()


def c_server_side_cursor_scroll():
    with psycopg.connect(CONNINFO) as conn:
        with conn.cursor(name="almasql_compat_scroll", scrollable=False, withhold=False) as cur:
            cur.execute("select antenna from ops.antennas order by antenna")
            expect_described(cur)
            a = cur.fetchone()
            b = cur.fetchmany(2)
            rest = cur.fetchall()
            expect(a is not None and len(b) == 2 and 1 + 2 + len(rest) == 66,
                   f"named cursor fetchone/fetchmany/fetchall: {a}, {b}, {len(rest)}")
        conn.commit()


def c_sqlstate_undefined_table():
    with connect() as conn, conn.cursor() as cur:
        try:
            cur.execute("select * from monitor.no_such_table")
        except psycopg.errors.UndefinedTable:
            return
        except psycopg.Error as e:
            raise CheckFailed(f"wrong error: SQLSTATE {e.sqlstate}: {e}")
        raise CheckFailed("no error for a missing table")


def c_failed_transaction():
    with psycopg.connect(CONNINFO) as conn, conn.cursor() as cur:
        try:
            cur.execute("select 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        except psycopg.Error as e:
            raise CheckFailed(f"1/0: SQLSTATE {e.sqlstate} (want 22012): {e}")
        try:
            cur.execute("select 1")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        except psycopg.Error as e:
            raise CheckFailed(f"statement in a failed transaction: SQLSTATE {e.sqlstate} (want 25P02): {e}")
        else:
            raise CheckFailed("a statement in a failed transaction was not refused")
        conn.rollback()
        cur.execute("select 1")
        expect(cur.fetchone() == (1,), "session unusable after rollback")


def c_pg_column_names():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select count(*), max(diameter_m) from ops.antennas")
        names = [d.name for d in cur.description]
        expect(names == ["count", "max"],
               f"unaliased aggregate columns are named {names}; PostgreSQL names them ['count', 'max']")


def c_timestamptz_typing():
    # now() and ::timestamptz are timestamptz (OID 1184) in PostgreSQL; drivers
    # give naive datetimes for timestamp (1114)
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select now() as n, '2026-01-02 03:04:05+00'::timestamptz as c, %s::timestamptz as p",
                    (dt.datetime(2026, 1, 2, tzinfo=UTC),))
        types = [d.type_code for d in cur.description]
        row = cur.fetchone()
        expect(types == [1184, 1184, 1184], f"result type OIDs {types}, want [1184, 1184, 1184] (timestamptz); row {row!r}")
        expect(row[1] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), f"'...+00'::timestamptz gave {row[1]!r}")


def c_show_timezone():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("show timezone")
        (tz,) = cur.fetchone()
        expect(tz in ("UTC", "Etc/UTC"), f"SHOW timezone gave {tz!r} (column {cur.description[0].name!r})")
        cur.execute("set timezone to 'America/Santiago'")
        cur.execute("show timezone")
        (tz,) = cur.fetchone()
        expect(tz == "America/Santiago", f"SHOW timezone after SET gave {tz!r}")


def c_current_setting():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select current_setting('server_version_num')")
        (v,) = cur.fetchone()
        expect(str(v).isdigit() and int(v) >= 120000, f"current_setting('server_version_num') = {v!r}")


def c_search_path():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("set search_path to monitor, public")
        cur.execute("show search_path")
        (sp,) = cur.fetchone()
        expect("monitor" in sp, f"SHOW search_path after SET gave {sp!r}")
        cur.execute("select count(*) from lo2_frequency_offsets")
        (n,) = cur.fetchone()
        expect(n > 0, "unqualified table through search_path: no rows")


def c_session_isolation():
    # SET in one session must not change another session (PostgreSQL GUCs are
    # per session). Runs last: on a server that leaks, it changes the time zone
    # of every session until restarted (RESET restores the default afterwards).
    with connect() as a, connect() as b:
        a.execute("set timezone to 'Asia/Tokyo'")
        try:
            from psycopg.types.string import TextLoader
            b.adapters.register_loader("timestamptz", TextLoader)  # the server's text, unconverted
            cur = b.cursor()
            cur.execute("show timezone")
            (shown,) = cur.fetchone()
            cur.execute("select '2026-01-01 00:00:00+00'::timestamptz::text as t")
            (text,) = cur.fetchone()
        finally:
            a.execute("reset timezone")
        expect(shown != "Asia/Tokyo" and "+09" not in text,
               f"another session's SET timezone changed this session: SHOW timezone {shown!r}, "
               f"'2026-01-01 00:00:00+00'::timestamptz::text = {text!r}")


def c_cast_of_order_column():
    # `select x::type from t order by x` is plain PostgreSQL
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select value::int from monitor.samples where antenna = 'DV01' order by value limit 3")
        rows = cur.fetchall()
        expect(len(rows) == 3 and all(isinstance(r[0], int) for r in rows), f"rows {rows}")


def c_protocol_prepare_sql_deallocate():
    # psqlODBC prepares a named statement with a protocol Parse ("_PLAN0x...")
    # and later frees it with the SQL statement DEALLOCATE "_PLAN0x..."; in
    # PostgreSQL both share one namespace.
    with connect() as conn:
        res = conn.pgconn.prepare(b"_PLAN0xcompat", b"select count(*) from ops.antennas where antenna = $1")
        expect(res.status == psycopg.pq.ExecStatus.COMMAND_OK, f"Parse failed: {res.error_message}")
        res = conn.pgconn.exec_prepared(b"_PLAN0xcompat", [b"DV01"])
        expect(res.status == psycopg.pq.ExecStatus.TUPLES_OK and res.get_value(0, 0) == b"1",
               f"Execute of the named statement: {res.error_message or res.get_value(0, 0)}")
        conn.execute('DEALLOCATE "_PLAN0xcompat"')


def c_sql_composition():
    with connect() as conn, conn.cursor() as cur:
        q = psql_sql.SQL("select count(*) as n from {}.{}").format(psql_sql.Identifier("ops"), psql_sql.Identifier("antennas"))
        cur.execute(q)
        expect(cur.fetchone() == (66,), "quoted identifiers \"ops\".\"antennas\"")


# ---------------------------------------------------------------- SQLAlchemy 2

def engine(**kw):
    # The checks below pass use_native_hstore=False: with the default, the
    # psycopg dialect's first connect runs TypeInfo.fetch('hstore') inside
    # SAVEPOINT "_pg3_1", which is checked (and fails) on its own in
    # c_sa_connect; without it every inspect() check would fail the same way.
    import sqlalchemy
    kw.setdefault("use_native_hstore", False)
    return sqlalchemy.create_engine(f"postgresql+psycopg://almasql@{HOST}:{PORT}/almasql", **kw)


def c_sa_connect():
    import sqlalchemy
    eng = engine(use_native_hstore=True)  # SQLAlchemy's default
    with eng.connect() as conn:
        expect(conn.execute(sqlalchemy.text("select 1")).scalar() == 1, "select 1")
        expect(conn.dialect.server_version_info >= (12,), f"server_version_info {conn.dialect.server_version_info}")


def c_sa_schemas():
    import sqlalchemy
    insp = sqlalchemy.inspect(engine())
    names = set(insp.get_schema_names())
    want = {"monitor", "ops", "calibrators", "dashboards", "logs", "jira"}
    expect(want <= names, f"get_schema_names lacks {sorted(want - names)}: {sorted(names)}")
    expect("pg_catalog" not in names, f"get_schema_names lists pg_catalog: {sorted(names)}")


def c_sa_tables():
    import sqlalchemy
    insp = sqlalchemy.inspect(engine())
    tables = set(insp.get_table_names(schema="monitor"))
    expect({"samples", "lo2_frequency_offsets"} <= tables, f"get_table_names(monitor): {sorted(tables)}")
    ops = set(insp.get_table_names(schema="ops"))
    expect({"antennas", "executions", "projects"} <= ops, f"get_table_names(ops): {sorted(ops)}")
    expect("ifp_drift" not in set(insp.get_table_names(schema="dashboards")), "a view is listed as a table")


def c_sa_views():
    import sqlalchemy
    insp = sqlalchemy.inspect(engine())
    views = set(insp.get_view_names(schema="dashboards"))
    expect({"ifp_drift", "time_by_executive", "pressure_by_band_lst"} <= views, f"get_view_names(dashboards): {sorted(views)}")


def c_sa_view_definition():
    import sqlalchemy
    insp = sqlalchemy.inspect(engine())
    d = insp.get_view_definition("ifp_drift", schema="dashboards")
    expect(d and "monitor.samples" in d, f"get_view_definition: {d!r}")


def c_sa_columns():
    import sqlalchemy
    from sqlalchemy.dialects import postgresql as pg
    insp = sqlalchemy.inspect(engine())
    cols = {c["name"]: c for c in insp.get_columns("samples", schema="monitor")}
    expect(list(cols)[:3] == ["time", "antenna", "device"], f"get_columns order: {list(cols)}")
    t = cols["time"]["type"]
    expect(isinstance(t, sqlalchemy.TIMESTAMP) and t.timezone, f"time type {t!r}")
    expect(isinstance(cols["value"]["type"], (pg.DOUBLE_PRECISION, sqlalchemy.Float)), f"value type {cols['value']['type']!r}")
    expect(isinstance(cols["polarization"]["type"], sqlalchemy.SmallInteger), f"polarization type {cols['polarization']['type']!r}")
    expect(cols["time"]["nullable"] is False and cols["antenna"]["nullable"] is True,
           f"nullable: time {cols['time']['nullable']}, antenna {cols['antenna']['nullable']}")
    vcols = [c["name"] for c in insp.get_columns("time_by_executive", schema="dashboards")]
    expect(vcols == ["month", "executive", "hours", "share_percent"], f"view columns {vcols}")


def c_sa_reflect_table():
    import sqlalchemy
    eng = engine()
    md = sqlalchemy.MetaData()
    t = sqlalchemy.Table("antennas", md, schema="ops", autoload_with=eng)
    expect([c.name for c in t.columns] == ["antenna", "antenna_type", "diameter_m", "array", "pad"],
           f"reflected columns {[c.name for c in t.columns]}")
    with eng.connect() as conn:
        n = conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(t).where(t.c.diameter_m == sqlalchemy.bindparam("d"))
                         , {"d": 12.0}).scalar()
    expect(n and n > 0, f"count of 12 m antennas via reflected Table: {n}")


def c_pandas_view():
    import pandas as pd
    import sqlalchemy
    df = pd.read_sql("select * from dashboards.time_by_executive", engine())
    expect(list(df.columns) == ["month", "executive", "hours", "share_percent"], f"columns {list(df.columns)}")
    expect(len(df) > 0, "no rows")
    expect(str(df["month"].dtype).startswith("datetime64") and "UTC" in str(df["month"].dtype),
           f"month dtype {df['month'].dtype}")
    expect(df["hours"].dtype.kind == "f" and df["hours"].sum() > 0, f"hours {df['hours'].dtype} sum {df['hours'].sum()}")
    df2 = pd.read_sql(sqlalchemy.text("select * from dashboards.pressure_by_band_lst where band = :band"),
                      engine(), params={"band": 6})
    expect(len(df2) > 0 and set(df2["band"]) == {6}, f"pressure_by_band_lst band=6: {len(df2)} rows, bands {set(df2['band'])}")


def c_text_time_parameters():
    # psycopg sends a str parameter as text of no type; the server reads it as
    # PostgreSQL does: `T` or a blank, no seconds, Z, offsets, zone names
    sql = ("select count(*) from monitor.samples where date = '2026-01-02' "
           "and monitor_point = 'TOTAL_POWER' and time < %s")
    with connect() as conn, conn.cursor() as cur:
        cur.execute(sql, (dt.datetime(2026, 1, 2, 6, 30, tzinfo=UTC),))
        want = cur.fetchone()[0]
        expect(want > 0, "no rows before 06:30")
        for form in ["2026-01-02T06:30", "2026-01-02 06:30", "2026-01-02T06:30:00Z",
                     "2026-01-02 06:30:00.000+00", "2026-01-02 03:30-03", "2026-01-02 03:30 America/Santiago",
                     " 2026-01-02 6:30:00 UTC "]:
            cur.execute(sql, (form,))
            got = cur.fetchone()[0]
            expect(got == want, f"time < {form!r}: {got} rows, want {want}")
        cur.execute("select %s::date = current_date, %s::timestamptz = %s",
                    ("today", "epoch", dt.datetime(1970, 1, 1, tzinfo=UTC)))
        expect(cur.fetchone() == (True, True), "'today'::date and 'epoch'::timestamptz")
        for bad, code in [("not a time", "22007"), ("2026-13-01", "22008")]:
            try:
                cur.execute(sql, (bad,))
                raise CheckFailed(f"time < {bad!r} did not fail")
            except psycopg.Error as e:
                expect(e.sqlstate == code, f"time < {bad!r}: SQLSTATE {e.sqlstate}, want {code}: {e}")


def c_pandas_psycopg_conn():
    import warnings
    import pandas as pd
    with connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = pd.read_sql("select antenna, zscore from dashboards.ifp_drift", conn)
    expect(len(df) > 0 and list(df.columns) == ["antenna", "zscore"], f"ifp_drift via DBAPI connection: {df.shape}")


checks = [
    ("psycopg: connect, startup parameters", c_connect),
    ("psycopg: text-format results (timestamptz, text, int2, float8, date)", c_text_results),
    ("psycopg: binary-format results equal the text ones", c_binary_results),
    ("psycopg: ClientCursor (simple protocol) with int/float/text/timestamptz/bool", c_simple_protocol_types),
    ("psycopg: parameter round-trip int/float/text/timestamptz/bool/NULL, text format", c_param_roundtrip(False)),
    ("psycopg: parameter round-trip int/float/text/timestamptz/bool/NULL, binary format", c_param_roundtrip(True)),
    ("psycopg: expressions over typed parameters, text format", c_param_expressions(False)),
    ("psycopg: expressions over typed parameters, binary format", c_param_expressions(True)),
    ("psycopg: parameters in a WHERE on monitor.samples, text format", c_param_filter(False)),
    ("psycopg: parameters in a WHERE on monitor.samples, binary format", c_param_filter(True)),
    ("psycopg: text time parameters as PostgreSQL reads them (T, no seconds, zones, today)", c_text_time_parameters),
    ("psycopg: a prepared statement reused (prepare_threshold=0)", c_prepared_reuse),
    ("psycopg: NULL parameter with a cast", c_executemany_returning_none),
    ("psycopg: cursor.stream() of 100k rows", c_stream),
    ("psycopg: DECLARE/FETCH/CLOSE by hand (simple protocol)", c_declare_fetch_sql),
    ("psycopg: named server-side cursor, no parameters, 760k rows", c_server_side_cursor_literal),
    ("psycopg: named server-side cursor with parameters, 760k rows", c_server_side_cursor),
    ("psycopg: named cursor fetchone/fetchmany/fetchall", c_server_side_cursor_scroll),
    ("psycopg: missing table is SQLSTATE 42P01", c_sqlstate_undefined_table),
    ("psycopg: error in a transaction -> 22012 then 25P02 until rollback", c_failed_transaction),
    ("psycopg: unaliased aggregates named like PostgreSQL (count, max)", c_pg_column_names),
    ("psycopg: sql.Identifier composition", c_sql_composition),
    ("psycopg: protocol-level named statement freed by SQL DEALLOCATE (psqlODBC does this)", c_protocol_prepare_sql_deallocate),
    ("psycopg: select value::int ... order by value (cast of the ORDER BY column)", c_cast_of_order_column),
    ("psycopg: now() / ::timestamptz are timestamptz (OID 1184)", c_timestamptz_typing),
    ("psycopg: SHOW timezone, SET timezone", c_show_timezone),
    ("psycopg: current_setting('server_version_num')", c_current_setting),
    ("psycopg: SET search_path is honoured for unqualified names", c_search_path),
    ("sqlalchemy: connect with default options (postgresql+psycopg), server_version_info", c_sa_connect),
    ("sqlalchemy: inspect().get_schema_names()", c_sa_schemas),
    ("sqlalchemy: inspect().get_table_names(schema=...)", c_sa_tables),
    ("sqlalchemy: inspect().get_view_names(schema='dashboards')", c_sa_views),
    ("sqlalchemy: inspect().get_view_definition()", c_sa_view_definition),
    ("sqlalchemy: inspect().get_columns() types and nullability", c_sa_columns),
    ("sqlalchemy: Table(autoload_with=engine) reflection + bound query", c_sa_reflect_table),
    ("pandas: read_sql on dashboards views (SQLAlchemy engine, params)", c_pandas_view),
    ("pandas: read_sql on a view with a psycopg connection", c_pandas_psycopg_conn),
    ("psycopg: SET timezone in one session does not leak into another", c_session_isolation),
]
only = [a for a in sys.argv[3:] if not a.startswith("--")]
for name, fn in checks:
    if only and not any(o in name for o in only):
        continue
    check(name, fn)

CHECKS.finish()
