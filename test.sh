#!/usr/bin/env bash
# The whole almasql test suite, from a fresh clone: installs what the tests
# need (psql, a PostgreSQL server, moto, the benchmark harness's Python
# packages), checks formatting, then builds and runs every test of every
# crate in release mode (one profile for `cargo run --release` and the tests,
# so DataFusion is compiled once). Lints: `ALMASQL_CLIPPY=1 ./test.sh` also
# runs clippy (a separate check pass over every dependency on a cold cache).
set -euo pipefail
cd "$(dirname "$0")"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/almasql-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

need_apt=()
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
# A PostgreSQL server for the SQL-database connector's tests (started by the
# tests themselves in a temporary directory), and OpenSSL headers for the
# PostgreSQL driver's TLS.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
# The client-compatibility tests (tests/clients): Java for pgjdbc, Debian's
# pgjdbc and psqlODBC with unixODBC.
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
[ -f /usr/share/java/postgresql.jar ] || need_apt+=(libpostgresql-jdbc-java)
ls /usr/lib/*/odbc/psqlodbcw.so >/dev/null 2>&1 || need_apt+=(odbc-postgresql)
dpkg -s unixodbc >/dev/null 2>&1 || need_apt+=(unixodbc)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]} (needed by the tests)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python tools the tests start as real servers: moto (an S3-compatible
# server) and boto3 to load it; http.server comes with Python.
if ! python3 -c "import moto.server, boto3, flask_cors" >/dev/null 2>&1; then
    echo "installing moto[server] and boto3 from PyPI (needed by the tests)"
    python3 -m pip install --quiet --disable-pip-version-check "moto[server]>=5,<6" "boto3>=1.34"
fi

# The benchmark harness (benches/compare), whose smoke mode is a test:
# psycopg, DuckDB, pyarrow and matplotlib, pinned in its requirements.txt.
if ! python3 -c "import duckdb, psycopg, pyarrow, matplotlib" >/dev/null 2>&1; then
    echo "installing the benchmark harness's Python packages from PyPI (needed by the tests)"
    python3 -m pip install --quiet --disable-pip-version-check -r benches/compare/requirements.txt
fi

# The Python clients of the client-compatibility tests: psycopg 3,
# SQLAlchemy 2, pandas and pyodbc.
if ! python3 -c "import psycopg, sqlalchemy, pandas, pyodbc" >/dev/null 2>&1; then
    echo "installing the Python database clients from PyPI (needed by the tests)"
    python3 -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
fi

cargo fmt --all -- --check
if [ "${ALMASQL_CLIPPY:-0}" = 1 ]; then
    cargo clippy --release --workspace --all-targets --locked -- -D warnings
fi
cargo test --release --workspace --locked --no-fail-fast
