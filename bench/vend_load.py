"""Benchmark: credit vends through the bank API (``POST /api/v1/vends``), with pgbench on the
same database in the same run as the baseline.

What it does, all on this machine, loopback only:

1. creates a fresh PostgreSQL database ``stsvend_bench_<pid>`` on the local server (user
   postgres, trust auth; ``--admin-url`` to change), migrates it, and seeds a supply group and
   key, a flat tariff, ``--meters`` meters and one API client with a large vendor float and no
   rate limit (every vend really debits the float: the guarded UPDATE is in the measurement);
2. starts gunicorn (``--workers`` sync workers, the project's gunicorn.conf.py, access log
   on as in production, sent to /dev/null) and waits for /readyz;
3. runs ``--clients`` concurrent clients (threads spread over ``--processes`` processes, plain
   http.client so the load generator stays light) for ``--seconds``; each vend goes to a random
   meter with a unique request_id, and its latency is measured from request to full answer;
4. runs ``pgbench -i`` and ``pgbench -T 10 -c 8 -j 2`` on the same database;
5. prints vends/s, p50/p99 latency, error counts, pgbench TPS and the ratio, and drops the
   database. ``--markdown`` also prints a table row for docs/performance.md.

Secrets (SECRET_KEY, the master key) are random for the run and passed to gunicorn in its
environment only; nothing is written to disk.

Usage: ``python bench/vend_load.py [--workers 4] [--clients 16] [--seconds 20] [--meters 2000]``
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
VENDING_KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f001234567")  # a bench-only key
SGC = "654321"


def libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drn(serial: int) -> str:
    import tokens

    body = f"07{serial:08d}"
    return body + tokens.luhn_check_digit(body)


def seed(url: str, env: dict[str, str], meters: int,
         float_: bool = True) -> tuple[list[str], str]:
    """Migrate and seed through the services; returns the meter numbers and the API key."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")

    os.environ.update(env)
    from config import Config
    from vending import create_app
    from vending.database import db
    from vending.services import Actor, ServiceContext, add_vending_key, import_meters
    from vending.services.api_clients import create_api_client
    from vending.services.tariffs import load_tariff

    config = type("BenchConfig", (Config,), {"DATABASE_URL": url, "LOG_LEVEL": "WARNING",
                                             "SECRET_KEY": env["SECRET_KEY"],
                                             "STSVEND_MASTER_KEYS": env["STSVEND_MASTER_KEYS"]})
    app = create_app(config)
    actor = Actor("cli", "bench")
    numbers = [drn(i) for i in range(1, meters + 1)]
    with app.app_context():
        ctx = ServiceContext.from_app(app, db.session)
        add_vending_key(ctx, sgc=SGC, krn=2, dkga="04", base_date=2014, ea="07",
                        key=VENDING_KEY, actor=actor, make_current=True)
        load_tariff(ctx, {"code": "RES", "name": "Residential", "currency": "ZAR",
                          "effective_from": "2020-01-01", "energy": {"flat": "2.5000"}},
                    actor=actor)
        csv = ("meter_number,customer_name,address,account,sgc,ti,krn,kt,ea,dkga,base_date,"
               "tariff\n") + "".join(f"{n},Customer {i},Street {i},ACC-{i},{SGC},1,2,2,07,04,"
                                     f"2014,\n" for i, n in enumerate(numbers))
        import_meters(ctx, io.StringIO(csv), actor=actor)
        client = create_api_client(ctx, name="bench", scopes="vend", actor=actor,
                                   vendor_credit="1000000000.00" if float_ else None,
                                   rate_per_s=None, burst=None)
    app.extensions["stsvend.engine"].dispose()
    return numbers, client.api_key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    full_env = {**os.environ, **env, "PORT": str(port), "WEB_CONCURRENCY": str(workers),
                "LOG_LEVEL": "warning"}
    proc = subprocess.Popen([gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                            cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + proc.stderr.read().decode()[-2000:])
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)  # gunicorn is booting: poll /readyz until the deadline
    proc.kill()
    raise RuntimeError("gunicorn did not become ready in 60 s")


def workers_cpu_seconds(master: int) -> tuple[float, float]:
    """(user, system) CPU seconds used so far by gunicorn's workers (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    user = system = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime
    return user / ticks, system / ticks


def postgres_cpu_seconds() -> float:
    """User+system CPU seconds used so far by the local PostgreSQL server's processes (Linux
    /proc; processes named postgres): the database's share of the cost of a vend."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        if "(postgres)" not in text:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy so far (Linux /proc/stat: everything but idle and
    iowait), to tell how much of the machine the run's own processes had."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful vends
    errors: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0  # CPU seconds of the load generator processes


def _client_thread(port: int, key: str, meters: list[str], until: float, seed_: int,
                   result: LoadResult, lock: threading.Lock) -> None:
    import random

    rng = random.Random(seed_)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    while time.monotonic() < until:
        body = json.dumps({"meter_number": rng.choice(meters), "amount": "10.00",
                           "request_id": uuid.uuid4().hex})
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/api/v1/vends", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            conn.close()
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            continue
        elapsed = time.perf_counter() - start
        if response.status == 201:
            latencies.append(elapsed)
        else:
            code = json.loads(payload).get("error", {}).get("code", str(response.status))
            errors[code] = errors.get(code, 0) + 1
    with lock:
        result.latencies += latencies
        for code, n in errors.items():
            result.errors[code] = result.errors.get(code, 0) + n


def _load_process(args: tuple[int, str, list[str], float, int, int]
                  ) -> tuple[list[float], dict[str, int], float]:
    port, key, meters, until, threads, base_seed = args
    cpu = time.process_time()
    result, lock = LoadResult(), threading.Lock()
    pool = [threading.Thread(target=_client_thread,
                             args=(port, key, meters, until, base_seed + i, result, lock))
            for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return result.latencies, result.errors, time.process_time() - cpu


def run_load(port: int, key: str, meters: list[str], clients: int, processes: int,
             seconds: float) -> tuple[LoadResult, float]:
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    start = time.monotonic()
    until = start + seconds
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_load_process, [(port, key, meters, until, n, 1000 * i)
                                         for i, n in enumerate(per) if n])
    wall = time.monotonic() - start
    total = LoadResult()
    for latencies, errors, cpu in parts:
        total.cpu += cpu
        total.latencies += latencies
        for code, n in errors.items():
            total.errors[code] = total.errors.get(code, 0) + n
    return total, wall


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 \
        else max(values)


def pgbench(url: str, seconds: int) -> float:
    exe = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U",
            parsed.username or "postgres"]
    subprocess.run([exe, "-i", "-q", *conn, parsed.database], check=True,
                   capture_output=True, timeout=600)
    out = subprocess.run([exe, "-T", str(seconds), "-c", "8", "-j", "2", *conn,
                          parsed.database], check=True, capture_output=True, text=True,
                         timeout=seconds + 120).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out) or \
        re.search(r"tps = ([0-9.]+)", out)
    if match is None:
        raise RuntimeError("cannot read pgbench's tps:\n" + out)
    return float(match.group(1))


@dataclass
class Run:
    """One measured load phase."""

    vends: int
    wall: float
    p50: float  # ms
    p99: float  # ms
    errors: dict[str, int]
    user: float  # CPU seconds of the gunicorn workers
    system: float
    postgres: float  # CPU seconds of the PostgreSQL processes
    loadgen: float  # CPU seconds of the load generator
    busy: float  # CPU seconds the whole machine was busy

    @property
    def rate(self) -> float:
        return self.vends / self.wall

    def report(self, args: argparse.Namespace) -> None:
        per = 1000 / max(self.vends, 1)
        cpu = self.user + self.system
        print(f"vends: {self.vends} in {self.wall:.1f} s = {self.rate:.0f} vends/s with "
              f"{args.clients} clients, {args.workers} gunicorn workers, {args.meters} meters")
        print(f"latency: p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms")
        print(f"errors: {self.errors or 'none'}")
        print(f"server CPU: {cpu * per:.1f} ms of gunicorn worker CPU per vend (user "
              f"{self.user * per:.1f}, system {self.system * per:.1f}; {cpu / self.wall:.2f} "
              f"cores busy of {os.cpu_count()})")
        print(f"other CPU per vend: PostgreSQL {self.postgres * per:.1f} ms, "
              f"load generator {self.loadgen * per:.1f} ms")
        others = self.busy - cpu - self.postgres - self.loadgen
        print(f"machine: {self.busy / self.wall:.2f} of {os.cpu_count()} cores busy during the "
              f"load, {max(others, 0.0) / self.wall:.2f} of them by processes outside this run")


def measure(master: int, port: int, key: str, meters: list[str],
            args: argparse.Namespace) -> Run:
    (user0, system0), pg0, busy0 = (workers_cpu_seconds(master), postgres_cpu_seconds(),
                                    machine_busy_seconds())
    result, wall = run_load(port, key, meters, args.clients, args.processes, args.seconds)
    (user1, system1), pg1, busy1 = (workers_cpu_seconds(master), postgres_cpu_seconds(),
                                    machine_busy_seconds())
    return Run(vends=len(result.latencies), wall=wall,
               p50=percentile(result.latencies, 50) * 1000,
               p99=percentile(result.latencies, 99) * 1000, errors=result.errors,
               user=user1 - user0, system=system1 - system0, postgres=pg1 - pg0,
               loadgen=result.cpu, busy=busy1 - busy0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                              DEFAULT_ADMIN))
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--no-float", action="store_true",
                        help="a client without vendor credit (no debit UPDATE per vend)")
    parser.add_argument("--markdown", action="store_true", help="print a docs table row")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure the load (and pgbench) this many times; report each and "
                             "the medians")
    args = parser.parse_args()

    name = f"stsvend_bench_{os.getpid()}"
    url = create_database(args.admin_url, name)
    master = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32),
           "STSVEND_MASTER_KEYS": f"bench:{master}"}
    proc = None
    try:
        t0 = time.monotonic()
        meters, key = seed(url, env, args.meters, float_=not args.no_float)
        print(f"seeded {len(meters)} meters in {time.monotonic() - t0:.1f} s", flush=True)
        port = free_port()
        proc = start_gunicorn(env, port, args.workers)
        # warm-up: every worker imports, connects and caches its statements
        run_load(port, key, meters, min(args.clients, 4), 1, 2.0)
        runs = [measure(proc.pid, port, key, meters, args) for _ in range(args.repeat)]
        stop(proc)
        proc = None
        tps_runs = [pgbench(url, args.pgbench_seconds) for _ in range(args.repeat)]
        for i, run in enumerate(runs, 1):
            if len(runs) > 1:
                print(f"--- run {i} of {len(runs)}")
            run.report(args)
        rate = statistics.median(r.rate for r in runs)
        tps = statistics.median(tps_runs)
        tps_text = ", ".join(f"{t:.0f}" for t in tps_runs)
        print(f"pgbench TPC-B (-c 8 -j 2 -T {args.pgbench_seconds}): {tps:.0f} tps"
              + (f" (median of {tps_text})" if len(tps_runs) > 1 else ""))
        if len(runs) > 1:
            print(f"median of {len(runs)} runs: {rate:.0f} vends/s, p99 "
                  f"{statistics.median(r.p99 for r in runs):.1f} ms "
                  f"(vends/s {min(r.rate for r in runs):.0f}-{max(r.rate for r in runs):.0f}, "
                  f"p99 {min(r.p99 for r in runs):.1f}-{max(r.p99 for r in runs):.1f} ms)")
        print(f"ratio vends/s : pgbench tps = {rate / tps:.3f}")
        if args.markdown:
            for run in runs:
                print(f"| {time.strftime('%Y-%m-%d')} | {os.cpu_count()} | {args.workers} | "
                      f"{args.clients} | {args.meters} | {run.rate:.0f} | {run.p50:.1f} | "
                      f"{run.p99:.1f} | {tps:.0f} | {run.rate / tps:.3f} | "
                      f"{sum(run.errors.values())} |")
        return 0
    finally:
        if proc is not None:
            stop(proc)
        if not args.keep:
            drop_database(args.admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
