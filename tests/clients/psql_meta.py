#!/usr/bin/env python3
"""psql client-compatibility checks for almasql.

Usage: python3 psql_meta.py HOST PORT [--keep-going]

Drives the real `psql` binary (Debian's postgresql-client, psql 15) against a
running almasql server: meta-commands (\\l, \\dn, \\dt *.*, \\dv, \\d+ table,
\\d+ view, \\df), the queries psql 15's tab completion sends, \\copy (query) to
stdout, \\timing and an error in the middle of a script.

Exits non-zero with a message on the first failing check (with --keep-going:
runs every check and exits non-zero if any failed).
Needs: psql (apt-get install -y postgresql-client).
"""
import os
import re
import subprocess
import sys
import tempfile
from checks import CheckFailed, Checks, expect

if len(sys.argv) < 3:
    sys.exit("usage: psql_meta.py HOST PORT [--keep-going]")
HOST, PORT = sys.argv[1], sys.argv[2]
CHECKS = Checks("psql_meta")
check = CHECKS.check

ENV = dict(os.environ, PGCONNECT_TIMEOUT="10", PGUSER="almasql", PGDATABASE="almasql",
           PGHOST=HOST, PGPORT=PORT, PAGER="cat", PSQL_PAGER="cat", PGCLIENTENCODING="UTF8",
           LC_ALL="C.UTF-8", COLUMNS="250")
ENV.pop("PGPASSWORD", None)



def psql(*args, stdin=None, timeout=60):
    """Runs psql -X (no psqlrc) with ON_ERROR_STOP unless the caller overrides."""
    cmd = ["psql", "-X", "-P", "pager=off"] + list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=ENV, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def meta(command):
    """Runs one meta-command with ON_ERROR_STOP; fails on a non-zero exit or any ERROR."""
    rc, out, err = psql("-v", "ON_ERROR_STOP=1", "-c", command)
    if rc != 0 or "ERROR" in err:
        raise CheckFailed(f"psql -c '{command}' exited {rc}: {err.strip()}")
    return out





def rows_of(out):
    """The data rows of an aligned psql table: lists of stripped cells."""
    rows = []
    for line in out.splitlines():
        if "|" in line and not re.match(r"^[-+]+$", line.strip()):
            rows.append([c.strip() for c in line.split("|")])
    return rows


def c_version():
    rc, out, err = psql("-At", "-c", "select version()")
    expect(rc == 0, f"select version() failed: {err.strip()}")
    expect(out.startswith("PostgreSQL "), f"version() must start with 'PostgreSQL ': {out!r}")


def c_list_databases():
    out = meta(r"\l")
    names = [r[0] for r in rows_of(out)]
    expect("almasql" in names, f"\\l does not list database almasql; got {names}")


def c_schemas():
    out = meta(r"\dn")
    names = {r[0] for r in rows_of(out)}
    want = {"monitor", "ops", "calibrators", "dashboards", "logs", "jira", "almasql"}
    expect(want <= names, f"\\dn lacks {sorted(want - names)}; got {sorted(names)}")
    expect(not any(n.startswith("pg_") for n in names), f"\\dn shows pg_ schemas: {sorted(names)}")


def c_tables_all():
    out = meta(r"\dt *.*")
    rows = {(r[0], r[1]): r[2] for r in rows_of(out) if len(r) >= 3}
    for t in [("monitor", "samples"), ("ops", "antennas"), ("ops", "executions"),
              ("calibrators", "measurements"), ("logs", "acs"), ("jira", "issues")]:
        expect(rows.get(t) == "table", f"\\dt *.* lacks table {t[0]}.{t[1]} (got {rows.get(t)})")
    expect(("dashboards", "ifp_drift") not in rows, "\\dt *.* lists the view dashboards.ifp_drift as a table")


def c_views_dashboards():
    out = meta(r"\dv dashboards.*")
    rows = [r for r in rows_of(out) if len(r) >= 3 and r[0] == "dashboards"]
    names = {r[1] for r in rows}
    expect({"ifp_drift", "time_by_executive", "pressure_by_band_lst"} <= names,
           f"\\dv dashboards.* lacks dashboard views; got {sorted(names)}")
    expect(all(r[2] == "view" for r in rows), f"\\dv rows are not of type view: {rows}")


def c_describe_table():
    out = meta(r"\d+ monitor.samples")
    expect('Table "monitor.samples"' in out, f"no 'Table \"monitor.samples\"' header:\n{out}")
    cols = {r[0]: r[1] for r in rows_of(out) if len(r) >= 2}
    expect(cols.get("time") == "timestamp with time zone", f"column time: {cols.get('time')!r}")
    expect(cols.get("value") == "double precision", f"column value: {cols.get('value')!r}")
    expect(cols.get("antenna") == "text", f"column antenna: {cols.get('antenna')!r}")
    expect("Storage" in out, f"\\d+ output has no Storage column (not the + form):\n{out}")


def c_describe_view():
    out = meta(r"\d+ dashboards.ifp_drift")
    expect('View "dashboards.ifp_drift"' in out, f"no 'View \"dashboards.ifp_drift\"' header:\n{out}")
    cols = {r[0] for r in rows_of(out)}
    expect({"antenna", "volts_per_day", "zscore"} <= cols, f"view columns missing: {sorted(cols)}")
    m = re.search(r"View definition:\n(.*)", out, re.S)
    expect(m is not None, f"\\d+ of a view shows no 'View definition:':\n{out}")
    expect("monitor.samples" in m.group(1) and "drift_slope" in m.group(1),
           f"view definition does not show the dashboard's SQL:\n{m.group(1)[:500]}")


def c_functions():
    out = meta(r"\df")
    names = {r[1] for r in rows_of(out) if len(r) >= 2}
    # almasql's own UDFs (docs/functions.md) are what \df should list
    # (PostgreSQL's \df hides pg_catalog and information_schema).
    expect("acs_to_timestamp" in names or "mjd" in names,
           f"\\df does not list almasql's functions (acs_to_timestamp, mjd); got {sorted(names)[:20]}")


def c_functions_pattern():
    out = meta(r"\df *.*acs_to_timestamp*")
    expect("acs_to_timestamp" in out, f"\\df *.*acs_to_timestamp* lists nothing:\n{out}")


# Tab completion: the queries psql 15.18 sends on <TAB>, captured from the
# wire (server log), built by src/bin/psql/tab-complete.c (PostgreSQL 15) from
# Query_for_list_of_selectables (a SchemaQuery), Query_for_list_of_schemas and
# Query_for_list_of_attributes_with_schema.
TAB_QUERIES = [
    # "select * from mon<TAB>": visible relations + schemas
    ("select * from mon<TAB>",
     "SELECT c.relname, NULL::pg_catalog.text FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') "
     "AND (c.relname) LIKE 'mon%' AND pg_catalog.pg_table_is_visible(c.oid) AND c.relnamespace <> "
     "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog')\n"
     "UNION ALL\n"
     "SELECT NULL::pg_catalog.text, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname LIKE 'mon%' "
     "AND n.nspname NOT LIKE E'pg\\\\_%'\nLIMIT 1000",
     lambda rows: ["", "monitor"] in rows),
    # "select * from monitor.sa<TAB>": relations of one schema
    ("select * from monitor.sa<TAB>",
     "SELECT c.relname, n.nspname FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n WHERE c.relnamespace = n.oid "
     "AND c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') AND (c.relname) LIKE 'sa%' AND n.nspname = 'monitor'\nLIMIT 1000",
     lambda rows: ["samples", "monitor"] in rows),
    # "select * from monitor.samples where mon<TAB>": columns
    ("select * from monitor.samples where mon<TAB>",
     "SELECT a.attname, NULL::pg_catalog.text FROM pg_catalog.pg_attribute a, pg_catalog.pg_class c, pg_catalog.pg_namespace nr "
     "WHERE c.oid = a.attrelid and a.attnum > 0 and not a.attisdropped AND (a.attname) LIKE 'mon%' AND c.relname = 'samples' "
     "AND c.relnamespace = nr.oid AND nr.nspname = 'monitor'\nLIMIT 1000",
     lambda rows: ["monitor_point", ""] in rows),
    # "\dv dashboards.<TAB>": views of one schema
    ("\\dv dashboards.<TAB>",
     "SELECT c.relname, n.nspname FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n WHERE c.relnamespace = n.oid "
     "AND c.relkind IN ('v') AND (c.relname) LIKE '%' AND n.nspname = 'dashboards'\nLIMIT 1000",
     lambda rows: ["ifp_drift", "dashboards"] in rows and ["samples", "monitor"] not in rows),
]


def make_tab_check(label, sql, ok):
    def run():
        rc, out, err = psql("-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql)
        expect(rc == 0, f"{label}: {err.strip()}\nSQL: {sql}")
        rows = [line.split("|") for line in out.splitlines()]
        expect(ok(rows), f"{label}: unexpected rows {rows[:10]}\nSQL: {sql}")
    return run


def c_copy_stdout():
    cmd = (r"\copy (select antenna, count(*) as n from monitor.samples "
           r"where antenna like 'DV%' group by antenna order by antenna) to stdout with (format csv, header)")
    rc, out, err = psql("-v", "ON_ERROR_STOP=1", "-c", cmd)
    expect(rc == 0, f"{cmd}: {err.strip()}")
    lines = out.strip().splitlines()
    expect(len(lines) >= 2 and lines[0] == "antenna,n", f"\\copy output has no header or rows: {lines[:5]}")
    ant, n = lines[1].split(",")
    expect(ant.startswith("DV") and int(n) > 0, f"\\copy first row {lines[1]!r}")


def c_copy_stdout_text():
    cmd = r"\copy (select 1 as a, 'x y' as b, null::text as c) to stdout"
    rc, out, err = psql("-v", "ON_ERROR_STOP=1", "-c", cmd)
    expect(rc == 0, f"{cmd}: {err.strip()}")
    expect(out == "1\tx y\t\\N\n", f"\\copy text format: {out!r}")


def c_timing():
    script = "\\timing on\nselect count(*) from ops.antennas;\n"
    rc, out, err = psql("-v", "ON_ERROR_STOP=1", "-f", "-", stdin=script)
    expect(rc == 0, f"\\timing script failed: {err.strip()}")
    expect("Timing is on." in out, f"no 'Timing is on.': {out!r}")
    expect(re.search(r"^Time: [0-9.]+ ms", out, re.M), f"no 'Time: N ms' line: {out!r}")
    expect(re.search(r"^\s+66\s*$", out, re.M), f"ops.antennas should have 66 rows: {out!r}")


def c_error_mid_script():
    script = ("select 'before' as marker;\n"
              "select * from monitor.no_such_table;\n"
              "select 'after' as marker;\n"
              "begin;\n"
              "select 'in_tx' as marker;\n"
              "select 1/0 as boom_in_tx;\n"
              "select 'aborted' as marker;\n"
              "rollback;\n"
              "select 'after_rollback' as marker;\n")
    rc, out, err = psql("-At", "-f", "-", stdin=script)
    expect("before" in out and "after" in out, f"statements around the error did not all run: out={out!r} err={err!r}")
    expect(re.search(r"ERROR:.*no_such_table", err), f"no error naming no_such_table: {err!r}")
    # like PostgreSQL: inside a failed transaction the next statement is refused (25P02) until ROLLBACK
    expect("in_tx" in out, f"statement in the transaction did not run: {out!r}")
    expect("aborted" not in out.split(),
           f"a statement after an error in a transaction ran (PostgreSQL refuses it: 25P02): out={out!r}")
    expect("after_rollback" in out, f"statement after ROLLBACK did not run: out={out!r} err={err!r}")
    expect(rc == 0, f"psql exited {rc} without ON_ERROR_STOP")
    rc, out, err = psql("-At", "-v", "ON_ERROR_STOP=1", "-f", "-", stdin=script)
    expect(rc == 3 and "before" in out and "after" not in out.split(),
           f"with ON_ERROR_STOP psql should stop at the error (exit 3): rc={rc} out={out!r}")


check("select version() looks like PostgreSQL", c_version)
check(r"\l lists database almasql", c_list_databases)
check(r"\dn lists the ALMA schemas", c_schemas)
check(r"\dt *.* lists monitor.samples etc. as tables", c_tables_all)
check(r"\dv dashboards.* lists the dashboard views", c_views_dashboards)
check(r"\d+ monitor.samples shows columns and types", c_describe_table)
check(r"\d+ dashboards.ifp_drift shows columns and the view definition", c_describe_view)
check(r"\df runs and lists almasql's functions", c_functions)
check(r"\df *.*acs_to_timestamp* finds the UDF", c_functions_pattern)
for label, sql, ok in TAB_QUERIES:
    check(f"tab completion: {label}", make_tab_check(label, sql, ok))
check(r"\copy (select ...) to stdout (csv, header)", c_copy_stdout)
check(r"\copy (select ...) to stdout (text, NULL as \N)", c_copy_stdout_text)
check(r"\timing prints Time: ... ms", c_timing)
check("an error mid-script: next statements still run; failed transaction needs ROLLBACK", c_error_mid_script)

CHECKS.finish()
