#!/usr/bin/env python3
"""ODBC client-compatibility checks for almasql: psqlODBC (Debian's
odbc-postgresql, psqlodbcw.so) through unixODBC and pyodbc.

Usage: python3 odbc_pyodbc.py HOST PORT [--keep-going]

Needs: apt-get install -y odbc-postgresql unixodbc unixodbc-dev; pip install pyodbc
The connection string is DSN-less and names the driver library by path, so no
odbc.ini / odbcinst.ini entry is needed.
Exits non-zero with a message on the first failing check (with --keep-going:
runs every check and exits non-zero if any failed).
"""
import datetime as dt
import glob
import os
import sys

import pyodbc
from checks import CheckFailed, Checks, expect

if len(sys.argv) < 3:
    sys.exit("usage: odbc_pyodbc.py HOST PORT [--keep-going]")
HOST, PORT = sys.argv[1], sys.argv[2]
DRIVER = os.environ.get("PSQLODBC_DRIVER") or next(
    iter(sorted(glob.glob("/usr/lib/*/odbc/psqlodbcw.so"))),
    "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so")
CONN_STR = (f"Driver={{{DRIVER}}};Server={HOST};Port={PORT};Database=almasql;Uid=almasql;Pwd=;"
            "SSLmode=disable;ConnSettings=;")
CHECKS = Checks("odbc_pyodbc")
check = CHECKS.check






def connect(extra=""):
    return pyodbc.connect(CONN_STR + extra, timeout=10, autocommit=True)


def c_connect():
    with connect() as conn:
        name = conn.getinfo(pyodbc.SQL_DBMS_NAME)
        ver = conn.getinfo(pyodbc.SQL_DBMS_VER)
        expect(name == "PostgreSQL", f"SQL_DBMS_NAME {name!r}")
        expect(ver and int(ver.split(".")[0]) >= 12, f"SQL_DBMS_VER {ver!r}")


def c_tables_all():
    with connect() as conn:
        rows = conn.cursor().tables(tableType="TABLE").fetchall()
        names = {(r.table_schem, r.table_name) for r in rows}
        for want in [("monitor", "samples"), ("ops", "antennas"), ("calibrators", "measurements"), ("jira", "issues")]:
            expect(want in names, f"SQLTables(TABLE) lacks {want}; {len(names)} rows: {sorted(names)[:15]}")


def c_tables_schema():
    with connect() as conn:
        rows = conn.cursor().tables(schema="monitor").fetchall()
        names = {r.table_name: r.table_type for r in rows}
        expect(names.get("samples") == "TABLE", f"SQLTables(schema=monitor): {names}")


def c_views():
    with connect() as conn:
        rows = conn.cursor().tables(schema="dashboards", tableType="VIEW").fetchall()
        names = {r.table_name: r.table_type for r in rows}
        expect(names.get("ifp_drift") == "VIEW" and "time_by_executive" in names, f"SQLTables(dashboards, VIEW): {names}")


def c_columns():
    with connect() as conn:
        rows = conn.cursor().columns(table="samples", schema="monitor").fetchall()
        cols = {r.column_name: (r.type_name, r.data_type) for r in rows}
        expect(list(cols)[:3] == ["time", "antenna", "device"], f"SQLColumns order {list(cols)}")
        expect(cols["time"][0] == "timestamptz", f"time: {cols['time']}")
        # psqlODBC reports float8 as SQL_FLOAT (6)
        expect(cols["value"][0] == "float8" and cols["value"][1] in (pyodbc.SQL_FLOAT, pyodbc.SQL_DOUBLE), f"value: {cols['value']}")


def c_query():
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("select antenna, count(*) as n, avg(value) as mean from monitor.samples "
                    "where monitor_point = 'TOTAL_POWER' group by antenna order by antenna")
        rows = cur.fetchall()
        expect(len(rows) == 66, f"{len(rows)} antennas, want 66")
        expect(rows[0].antenna < rows[-1].antenna and rows[0].n > 0 and isinstance(rows[0].mean, float), f"first row {rows[0]}")


def c_query_params():
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("select count(*) from monitor.samples where antenna = ? and polarization = ? and value > ? "
                    "and time >= ? and time < ?",
                    "DV01", 0, -100.5, dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 2, 6))
        (n,) = cur.fetchone()
        cur.execute("select count(*) from monitor.samples where antenna = 'DV01' and polarization = 0 and value > -100.5 "
                    "and time >= '2026-01-02 00:00:00+00' and time < '2026-01-02 06:00:00+00'")
        (lit,) = cur.fetchone()
        expect(lit > 0 and n == lit, f"parameterised count {n}, literal {lit}")


def c_timestamptz():
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("select time from monitor.samples where antenna = 'DV01' order by time limit 1")
        (t,) = cur.fetchone()
        expect(t == dt.datetime(2026, 1, 1, 0, 0), f"timestamptz value {t!r}")


def c_server_side_prepare_and_cursor():
    # UseDeclareFetch=1: psqlODBC sends, as one simple query,
    #   BEGIN;declare "SQL_CUR0x..." cursor with hold for <query>;fetch 1000 in "SQL_CUR0x..."
    # and keeps only the result whose command tag starts with "FETCH"
    # (statement.c: strnicmp(qres->command, "fetch", 5)).
    with pyodbc.connect(CONN_STR + "UseDeclareFetch=1;Fetch=1000;", timeout=10, autocommit=False) as conn:
        cur = conn.cursor()
        cur.execute("select time, value from monitor.samples where date = '2026-01-02' and monitor_point = 'TOTAL_POWER' limit 50000")
        n = 0
        while True:
            rows = cur.fetchmany(5000)
            if not rows:
                break
            n += len(rows)
        expect(n == 50000, f"UseDeclareFetch: {n} rows, want 50000")
        conn.rollback()


check("connect (DSN-less, driver by path), SQL_DBMS_NAME/VER", c_connect)
check("SQLTables: all TABLEs", c_tables_all)
check("SQLTables: schema=monitor", c_tables_schema)
check("SQLTables: dashboards VIEWs", c_views)
check("SQLColumns: monitor.samples", c_columns)
check("query: group by over monitor.samples", c_query)
check("query with ? parameters (text, int, double, timestamp)", c_query_params)
check("timestamptz value", c_timestamptz)
check("UseDeclareFetch=1 (DECLARE/FETCH cursor), 50k rows", c_server_side_prepare_and_cursor)

CHECKS.finish()
