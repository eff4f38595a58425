#!/usr/bin/env python3
"""Soak: many clients against one almasql server, for a while, on loopback.

    python3 benches/soak/soak.py --port 5433 --pid PID [--clients 64] [--seconds 60]
                                 [--stream-rows 10000000] [--out DIR]

Two clients (--big-streams) stream --stream-rows rows again and again; each
other client connects, runs a random mix, disconnects and starts again:
dashboard queries (simple protocol), prepared statements with parameters
(extended protocol), 100 000-row streams, cancels of a runaway join
(psycopg `cancel()`), `statement_timeout` hits, and disconnects in the
middle of a result stream or of a protocol message. Every outcome is
counted; an outcome that is not the expected one is an error.

After the clients leave, 200 connections send random bytes, and the server
must still answer a new connection, and `almasql.sessions` must hold only
the checking connection. The server's RSS is sampled every second; after a
warm-up (--warmup, a fifth of the run by default) it must stay within
--rss-limit (1.5) times its value then. With --out, the RSS curve is written as rss.png and the figures as
soak.json. The exit status is 0 when every check passed.
"""

import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import psycopg

DASHBOARD = [
    "select antenna, count(*) from monitor.lo2_frequency_offsets group by 1 order by 2 desc, 1 limit 5",
    "select source, max(observed_at) from calibrators.measurements where band in (3, 7) "
    "group by 1 order by 2, 1 limit 5",
    "select 1",
]
PREPARED = (
    "select avg(value), max(value), count(*) from monitor.samples where antenna = %s "
    "and time >= %s::timestamptz and time < %s::timestamptz"
)
RUNAWAY = (
    "select count(*) from monitor.samples a, monitor.samples b where a.value + b.value > 1e300"
)


class Soak:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = {}
        self.stop = time.time() + args.seconds

    def bump(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def error(self, e):
        key = f"{type(e).__name__}: {str(e).strip()[:160]}"
        with self.lock:
            self.errors[key] = self.errors.get(key, 0) + 1

    def connect(self, application_name="soak"):
        return psycopg.connect(host="127.0.0.1", port=self.args.port, user="almasql",
                               dbname="almasql", autocommit=True, connect_timeout=10,
                               application_name=application_name)

    def streamer(self):
        """A client that streams --stream-rows rows, again and again."""
        while time.time() < self.stop:
            try:
                with self.connect() as c:
                    self.stream(c, self.args.stream_rows, "big_streams")
            except Exception as e:  # noqa: BLE001
                self.error(e)

    def stream(self, c, rows, key):
        n = 0
        for _ in c.cursor().stream(f"select * from generate_series(1, {rows})"):
            n += 1
        if n != rows:
            raise AssertionError(f"stream ended after {n} rows")
        self.bump(key)
        self.bump("stream_rows", n)

    def worker(self, i):
        if i < self.args.big_streams:
            return self.streamer()
        rng = random.Random(i)
        while time.time() < self.stop:
            try:
                with self.connect() as c:
                    for _ in range(rng.randint(1, 20)):
                        if time.time() >= self.stop:
                            break
                        if not self.one(c, rng):
                            break
            except Exception as e:  # noqa: BLE001 - every unexpected failure is counted
                self.error(e)

    def one(self, c, rng) -> bool:
        """Runs one action; False when the connection is gone."""
        r = rng.random()
        if r < 0.35:
            c.execute(rng.choice(DASHBOARD)).fetchall()
            self.bump("dashboard")
        elif r < 0.6:
            antenna = "DV%02d" % rng.randint(1, 25)
            day = rng.randint(1, 3)
            hour = rng.randint(0, 22)
            start = f"2026-01-0{day} {hour:02d}:00:00+00"
            end = f"2026-01-0{day} {hour + 1:02d}:00:00+00"
            c.execute(PREPARED, (antenna, start, end), prepare=True).fetchall()
            self.bump("prepared")
        elif r < 0.7:
            self.stream(c, 100_000, "streams")
        elif r < 0.8:
            # a cancel that arrives before the query starts is lost (as in
            # PostgreSQL): the timeout stops the query then
            c.execute("set statement_timeout = '10s'")
            timer = threading.Timer(rng.uniform(0.05, 1.0), c.cancel)
            timer.start()
            try:
                c.execute(RUNAWAY).fetchall()
                raise AssertionError("the runaway join finished")
            except psycopg.errors.QueryCanceled:
                self.bump("cancels")
            finally:
                timer.cancel()
                c.execute("set statement_timeout = 0")
        elif r < 0.88:
            c.execute("set statement_timeout = '300ms'")
            try:
                c.execute(RUNAWAY).fetchall()
                raise AssertionError("the runaway join finished")
            except psycopg.errors.QueryCanceled:
                self.bump("timeouts")
            finally:
                c.execute("set statement_timeout = 0")
        elif r < 0.95:
            it = c.cursor().stream("select * from generate_series(1, 100000000)")
            next(it)
            next(it)
            c.pgconn.finish()
            self.bump("mid_stream_disconnects")
            return False
        else:
            self.mid_message_disconnect(rng)
            self.bump("mid_message_disconnects")
        return True

    def mid_message_disconnect(self, rng):
        """A connection that logs in, then sends half a Query message."""
        s = socket.create_connection(("127.0.0.1", self.args.port), timeout=10)
        try:
            params = b"user\0almasql\0database\0almasql\0\0"
            s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
            s.recv(4096)
            body = b"select 1\0"
            msg = b"Q" + struct.pack("!i", 4 + len(body)) + body
            s.sendall(msg[: rng.randint(1, len(msg) - 1)])
        finally:
            s.close()


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--pid", type=int, required=True, help="the server's process id (for its RSS)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--stream-rows", type=int, default=10_000_000,
                   help="rows of each stream of the streaming clients (others stream 100 000)")
    p.add_argument("--big-streams", type=int, default=2, help="clients that only stream (default 2)")
    p.add_argument("--warmup", type=float, help="seconds before the RSS reference (default: a fifth of the run)")
    p.add_argument("--rss-limit", type=float, default=1.5,
                   help="the most the RSS may grow over its value after warm-up (default 1.5)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()

    soak = Soak(args)
    threads = [threading.Thread(target=soak.worker, args=(i,), daemon=True) for i in range(args.clients)]
    start = time.time()
    samples = []
    for t in threads:
        t.start()
    # the clients stop starting actions at the deadline; a last action
    # (a stream) may take a while, but not forever
    hard_stop = soak.stop + 120
    while any(t.is_alive() for t in threads) and time.time() < hard_stop:
        samples.append((round(time.time() - start, 1), rss_mib(args.pid)))
        time.sleep(1)
    stuck = sum(t.is_alive() for t in threads)

    garbage = 0
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=5) as s:
                s.sendall(os.urandom(random.randint(1, 2048)))
            garbage += 1
        except OSError:
            pass

    checks = {}
    failures = []
    try:
        with soak.connect("soak-check") as c:
            checks["alive"] = c.execute("select 41 + 1").fetchone()[0] == 42
            # sessions close asynchronously after the clients leave
            deadline = time.time() + 20
            while True:
                others = c.execute(
                    "select count(*) from almasql.sessions "
                    "where coalesce(application_name, '') <> 'soak-check'"
                ).fetchone()[0]
                if others == 0 or time.time() > deadline:
                    break
                time.sleep(0.5)
            checks["sessions_left"] = others
    except Exception as e:  # noqa: BLE001
        failures.append(f"the server did not answer after the soak: {e}")

    warmup = args.warmup if args.warmup is not None else args.seconds / 5
    after = [v for t, v in samples if v is not None and t >= warmup]
    values = [v for _, v in samples if v is not None]
    warm = after[0] if after else None
    peak = max(after) if after else None
    result = {
        "clients": args.clients, "seconds": args.seconds, "counts": soak.counts,
        "errors": soak.errors, "clients_stuck": stuck, "garbage_connections": garbage,
        "rss_mib": {"start": values[0] if values else None, "after_warmup": warm, "peak": peak,
                    "end": rss_mib(args.pid)},
        "checks": checks,
    }
    if soak.errors:
        failures.append(f"unexpected errors: {soak.errors}")
    if stuck:
        failures.append(f"{stuck} clients still running 120 s after the deadline")
    if checks.get("sessions_left"):
        failures.append(f"{checks['sessions_left']} sessions left in almasql.sessions")
    if warm and peak and peak > args.rss_limit * warm:
        failures.append(f"RSS grew from {warm:.0f} MiB after warm-up to {peak:.0f} MiB")
    result["failures"] = failures
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "soak.json").write_text(json.dumps(result, indent=2))
        plot(samples, warm, args.rss_limit, args.out / "rss.png")
    sys.exit(1 if failures else 0)


def plot(samples, warm, limit, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [t for t, v in samples if v is not None]
    ys = [v for _, v in samples if v is not None]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(xs, ys, label="server RSS")
    if warm:
        ax.axhline(warm * limit, color="red", linestyle="--", label=f"{limit} × after warm-up")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
