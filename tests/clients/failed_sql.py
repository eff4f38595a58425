#!/usr/bin/env python3
"""Prints each statement that failed in an almasql server log, with its error.

Usage: python3 failed_sql.py SERVER_LOG [FIRST_LINE]
The server must run with RUST_LOG=info,almasql=debug,datafusion_postgres=debug
(datafusion_postgres logs 'Received query/parse extended query/execute extended
query: <sql>', almasql::server logs 'query failed error=...').
"""
import re
import sys

lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")
last_sql = None
i = first
while i < len(lines):
    line = lines[i]
    m = re.search(r"datafusion_postgres::handlers: Received (query|parse extended query|execute extended query): (.*)", line)
    if m:
        sql = [m.group(2)]
        i += 1
        while i < len(lines) and not STAMP.match(lines[i]):
            sql.append(lines[i])
            i += 1
        if m.group(1) != "execute extended query" or last_sql is None:
            last_sql = (m.group(1), "\n".join(sql).strip())
        continue
    m = re.search(r"almasql::server: query failed error=(.*)", line)
    if m:
        err = [m.group(1)]
        i += 1
        while i < len(lines) and not STAMP.match(lines[i]):
            err.append(lines[i])
            i += 1
        print("=" * 100)
        print(f"-- {last_sql[0] if last_sql else '?'}:")
        print(last_sql[1] if last_sql else "?")
        print("-- ERROR: " + "\n".join(err).strip())
        continue
    i += 1
