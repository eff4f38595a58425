#!/usr/bin/env python3
"""Raw protocol check of what pgjdbc's setFetchSize(n) and psqlODBC rely on:
Execute(portal, max_rows=n) must send at most n DataRows and then
PortalSuspended ('s'); the next Execute on the same portal continues where the
previous one stopped; the last one ends with CommandComplete.
(pgjdbc would also "work" if the server sent every row at once, so the JDBC
test cannot see this; this script can.)

Usage: python3 wire_fetchsize.py HOST PORT
Standard library only.
"""
import socket
import struct
import sys

if len(sys.argv) < 3:
    sys.exit("usage: wire_fetchsize.py HOST PORT")
HOST, PORT = sys.argv[1], int(sys.argv[2])
SQL = "select x from generate_series(1, 5000) as t(x)"
FETCH = 1000


def fail(msg):
    sys.exit(f"wire_fetchsize: FAILED: {msg}")


def msg(kind, payload=b""):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def cstr(s):
    return s.encode() + b"\0"


class Conn:
    def __init__(self):
        self.s = socket.create_connection((HOST, PORT), timeout=30)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def read(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!I", self.buf[1:5])[0]:
            chunk = self.s.recv(65536)
            if not chunk:
                fail("connection closed by the server")
            self.buf += chunk
        n = struct.unpack("!I", self.buf[1:5])[0]
        kind, body = self.buf[:1], self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return kind, body


def error_text(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return f"{fields.get('C')}: {fields.get('M')}"


def main():
    c = Conn()
    params = cstr("user") + cstr("almasql") + cstr("database") + cstr("almasql") + b"\0"
    c.send(struct.pack("!II", len(params) + 8, 196608) + params)
    while True:
        k, b = c.read()
        if k == b"E":
            fail("startup: " + error_text(b))
        if k == b"Z":
            break
    print("CHECK connected ... ok")

    # BEGIN (pgjdbc with autocommit off), then Parse/Bind/Describe/Execute(max_rows)/Sync
    c.send(msg(b"Q", cstr("BEGIN")))
    while c.read()[0] != b"Z":
        pass
    c.send(msg(b"P", cstr("") + cstr(SQL) + struct.pack("!H", 0))
           + msg(b"B", cstr("C_1") + cstr("") + struct.pack("!HHH", 0, 0, 0))
           + msg(b"D", b"P" + cstr("C_1"))
           + msg(b"E", cstr("C_1") + struct.pack("!I", FETCH))
           + msg(b"S"))
    total, rounds, last_value = 0, 0, 0
    while True:
        rows = 0
        end = None
        while True:
            k, b = c.read()
            if k == b"D":
                rows += 1
                (ncol,) = struct.unpack("!H", b[:2])
                (ln,) = struct.unpack("!i", b[2:6])
                last_value = int(b[6:6 + ln])
            elif k == b"E":
                fail(f"round {rounds + 1}: {error_text(b)}")
            elif k in (b"s", b"C"):
                end = k
            elif k == b"Z":
                break
        rounds += 1
        total += rows
        print(f"CHECK Execute #{rounds} (max_rows={FETCH}) -> {rows} rows, then {'PortalSuspended' if end == b's' else 'CommandComplete' if end == b'C' else end} ... ", end="")
        if rows > FETCH:
            print("FAIL")
            fail(f"Execute with max_rows={FETCH} sent {rows} rows (the server ignores the row limit: "
                 f"the whole result is sent/buffered at once)")
        if end == b"s" and rows != FETCH:
            print("FAIL")
            fail(f"PortalSuspended after {rows} rows, want {FETCH}")
        print("ok")
        if end == b"C":
            break
        if rounds > 10:
            fail("more Execute rounds than rows")
        c.send(msg(b"E", cstr("C_1") + struct.pack("!I", FETCH)) + msg(b"S"))
    if total != 5000 or last_value != 5000:
        fail(f"{total} rows in {rounds} rounds, last value {last_value}; want 5000 rows ending with 5000")
    print(f"CHECK all 5000 rows in {rounds} rounds ... ok")
    c.send(msg(b"Q", cstr("COMMIT")))
    while c.read()[0] != b"Z":
        pass
    c.send(msg(b"X"))
    print("wire_fetchsize: all checks passed")


main()
