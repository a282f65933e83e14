#!/usr/bin/env python3
"""Scale benchmark: how cognate's user calls behave as one pool grows to 1,000,000 users.

For each store (SQLite, PostgreSQL) the script starts `cognate serve` on a fresh data dir (and,
for PostgreSQL, a fresh database it creates and drops), creates one pool and app client, and
grows the pool through user import jobs (GetCSVHeader, CreateUserImportJob, PUT of the CSV to
the job's pre-signed URL, StartUserImportJob, DescribeUserImportJob until Succeeded) to each
size of --sizes. At every size it measures, on one keep-alive connection, one call at a time:

* AdminGetUser of a random user;
* ListUsers with `email = "<a random user's address>"` (one match), `email ^= "<prefix>"` (100
  matches), `email ^= "user0"` (every user), `cognito:user_status = "CONFIRMED"` (the few users
  with a password), `cognito:user_status = "RESET_REQUIRED"` (almost every user),
  `status = "Enabled"` (every user), and without a filter; each asks for one page of 60;

and, with `cognate-loadgen` pointed at the same pool, password sign-ins (InitiateAuth
USER_PASSWORD_AUTH) and SRP sign-ins of 64 random users given a password with
AdminSetUserPassword (Permanent): latency one at a time, throughput and the server's CPU per
sign-in at --concurrency, printed beside the cryptographic floor (`cognate-loadgen --floor`).

Prints one Markdown table per store (each figure at every size and the growth from the first
size to the last) and, with --json, everything as one JSON object. bench/scale.md explains it.

    python3 bench/scale.py                         # 1k, 100k, 1M users; SQLite and PostgreSQL
    python3 bench/scale.py --sizes 1000,10000      # quick mode, a couple of minutes
    python3 bench/scale.py --stores sqlite --no-build --json
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
PASSWORD = "Scale-bench-pass-1!"
FINAL = {"Succeeded", "Failed", "Stopped", "Expired"}
EMAIL_DOMAIN = "scale.example"


def log(msg: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def username(i: int) -> str:
    return f"user{i:07d}"


def email(i: int) -> str:
    return f"{username(i)}@{EMAIL_DOMAIN}"


def fmt_size(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# ----------------------------------------------------------------------------------------------
# CPU accounting from /proc (ticks → seconds)
# ----------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[str, int, int] | None:
    """(comm, ppid, utime + stime ticks) of a process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = data[data.find("(") + 1:data.rfind(")")]
    rest = data[data.rfind(")") + 2:].split()
    return comm, int(rest[1]), int(rest[11]) + int(rest[12])


def _all_stats() -> dict[int, tuple[str, int, int]]:
    out = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            s = _stat(e)
            if s:
                out[int(e)] = s
    return out


def cpu_snapshot(root: int) -> dict[str, dict[int, int]]:
    """Ticks of the server's process tree and of every PostgreSQL process on the machine."""
    stats = _all_stats()
    tree, stack = {}, [root]
    while stack:
        p = stack.pop()
        if p in stats and p not in tree:
            tree[p] = stats[p][2]
            stack.extend(c for c, (_, ppid, _) in stats.items() if ppid == p)
    pg = {p: t for p, (comm, _, t) in stats.items() if comm.startswith("postgres")}
    return {"server": tree, "postgres": pg}


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    out = {}
    for k in ("server", "postgres"):
        ticks = sum(t - before[k].get(p, 0) for p, t in after[k].items())
        out[k] = max(ticks, 0) / CLK_TCK
    return out


# ----------------------------------------------------------------------------------------------
# The Cognito JSON API over one keep-alive connection
# ----------------------------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, op: str, status: int, body: str):
        super().__init__(f"{op}: HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class Api:
    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def raw(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes, float]:
        """One request; (status, body, seconds from sending to the whole answer read)."""
        for attempt in (0, 1):
            conn = self._connection()
            try:
                t0 = time.perf_counter()
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, data, time.perf_counter() - t0
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def timed(self, op: str, body: dict) -> tuple[dict, float]:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET_PREFIX + op}
        status, data, secs = self.raw("POST", "/", payload, headers)
        if status != 200:
            raise ApiError(op, status, data.decode(errors="replace"))
        return json.loads(data), secs

    def call(self, op: str, body: dict) -> dict:
        return self.timed(op, body)[0]


# ----------------------------------------------------------------------------------------------
# Servers and stores
# ----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(admin_url: str, sql: str) -> str:
    r = subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {r.stderr.strip()}")
    return r.stdout.strip()


class Server:
    def __init__(self, binary: Path, store: str, work: Path, pg_base: str):
        self.store = store
        self.work = work
        self.port = free_port()
        self.db_name = None
        self.pg_base = pg_base.rstrip("/")
        data = work / "data"
        data.mkdir(parents=True)
        cmd = [str(binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(data)]
        if store == "postgres":
            self.db_name = f"cognate_scale_{os.getpid()}_{int(time.time())}"
            psql(self.admin_url, f'CREATE DATABASE "{self.db_name}"')
            cmd += ["--database-url", f"{self.pg_base}/{self.db_name}"]
        env = dict(os.environ)
        env["COGNATE_LOG"] = "warn"  # no access-log line per call
        env.pop("RUST_LOG", None)
        env.pop("COGNATE_DATABASE_URL", None)
        env.pop("COGNATE_IMPORT_ROWS_PER_SECOND", None)  # unset: import jobs are not paced
        env.pop("COGNATE_CONFIG", None)
        self.log_path = work / "server.log"
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_up()

    @property
    def admin_url(self) -> str:
        return f"{self.pg_base}/postgres"

    def _wait_up(self) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cognate exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    c.close()
                    return
                c.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("cognate did not answer /health within 60 s")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def db_bytes(self) -> int:
        if self.store == "postgres":
            return int(psql(self.admin_url, f"SELECT pg_database_size('{self.db_name}')"))
        return sum(p.stat().st_size for p in (self.work / "data").rglob("*") if p.is_file())

    def stop(self, drop: bool = True) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.log_file.close()
        if drop and self.db_name:
            try:
                psql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            except RuntimeError as e:
                log(f"could not drop {self.db_name}: {e}")


# ----------------------------------------------------------------------------------------------
# Import jobs
# ----------------------------------------------------------------------------------------------

def csv_rows(header: list[str], start: int, end: int) -> bytes:
    pos = {name: i for i, name in enumerate(header)}
    template = [""] * len(header)
    template[pos["cognito:mfa_enabled"]] = "false"
    template[pos["email_verified"]] = "true"
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    iu, ie, ig, ifam = pos["cognito:username"], pos["email"], pos["given_name"], pos["family_name"]
    for i in range(start, end):
        row = list(template)
        row[iu] = username(i)
        row[ie] = email(i)
        row[ig] = f"Given{i % 997}"
        row[ifam] = f"Family{i % 1009}"
        out.write(",".join(row) + "\n")
    return out.getvalue().encode()


def import_users(api: Api, server: Server, pool_id: str, start: int, end: int, job_rows: int,
                 parallel: int) -> dict:
    """Imports users [start, end): the rows are cut into jobs of at most job_rows rows (and into
    at least `parallel` jobs when there are 10,000 rows or more), every CSV is uploaded, then all
    jobs are started together (the server runs up to 4 at once) and polled until they end."""
    header = api.call("GetCSVHeader", {"UserPoolId": pool_id})["CSVHeader"]
    rows = end - start
    n_jobs = max(-(-rows // job_rows), parallel if rows >= 10_000 else 1)
    bounds = [start + rows * k // n_jobs for k in range(n_jobs + 1)]
    totals = {"rows": rows, "jobs": n_jobs, "upload_s": 0.0, "csv_bytes": 0}
    jobs = []
    for lo, hi in zip(bounds, bounds[1:]):
        body = csv_rows(header, lo, hi)
        job = api.call("CreateUserImportJob", {
            "UserPoolId": pool_id, "JobName": f"scale-{lo}-{hi}",
            "CloudWatchLogsRoleArn": "arn:aws:iam::000000000000:role/import"})["UserImportJob"]
        url = urllib.parse.urlsplit(job["PreSignedUrl"])
        t0 = time.perf_counter()
        status, data, _ = api.raw("PUT", url.path + ("?" + url.query if url.query else ""), body, {
            "Content-Length": str(len(body)), "x-amz-server-side-encryption": "aws:kms"})
        totals["upload_s"] += time.perf_counter() - t0
        if status != 200:
            raise RuntimeError(f"CSV upload: HTTP {status}: {data[:300]!r}")
        totals["csv_bytes"] += len(body)
        jobs.append((job["JobId"], hi - lo))
    before = cpu_snapshot(server.proc.pid)
    t0 = time.perf_counter()
    for job_id, _ in jobs:
        api.call("StartUserImportJob", {"UserPoolId": pool_id, "JobId": job_id})
    pending = dict(jobs)
    last_log = time.perf_counter()
    while pending:
        time.sleep(0.5)
        imported = 0
        for job_id, n in list(pending.items()):
            j = api.call("DescribeUserImportJob", {"UserPoolId": pool_id, "JobId": job_id})["UserImportJob"]
            imported += j.get("ImportedUsers") or 0
            if j["Status"] not in FINAL:
                continue
            if j["Status"] != "Succeeded" or j.get("ImportedUsers") != n or j.get("FailedUsers"):
                raise RuntimeError(f"import job {job_id} ended {j['Status']}: imported {j.get('ImportedUsers')}, "
                                   f"failed {j.get('FailedUsers')} of {n} ({j.get('CompletionMessage')})")
            del pending[job_id]
        if time.perf_counter() - last_log > 30 and pending:
            last_log = time.perf_counter()
            log(f"  {server.store}: {len(pending)} of {n_jobs} jobs running, {time.perf_counter() - t0:.0f} s, "
                f"{imported} rows of {rows} imported")
    totals["job_s"] = time.perf_counter() - t0
    cpu = cpu_delta(before, cpu_snapshot(server.proc.pid))
    totals["rows_per_s"] = rows / totals["job_s"]
    totals["server_cpu_ms_per_row"] = round(cpu["server"] * 1e3 / rows, 3)
    if server.store == "postgres":
        totals["postgres_cpu_ms_per_row"] = round(cpu["postgres"] * 1e3 / rows, 3)
    log(f"  {server.store}: {rows} rows in {n_jobs} job(s): {totals['job_s']:.1f} s = {totals['rows_per_s']:.0f} rows/s, "
        f"cognate CPU {totals['server_cpu_ms_per_row']:.3f} ms/row"
        + (f", PostgreSQL CPU {totals['postgres_cpu_ms_per_row']:.3f} ms/row" if server.store == "postgres" else ""))
    return totals


# ----------------------------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------------------------

def pct(sorted_ms: list[float], p: float) -> float:
    idx = round(p / 100 * (len(sorted_ms) - 1))
    return sorted_ms[min(idx, len(sorted_ms) - 1)]


def latency_run(api: Api, server: Server, samples: int, warmup: int, make, check) -> dict:
    """Sequential calls: `make(rng)` gives (op, body), `check(answer, body)` validates it."""
    rng = random.Random(7)
    for _ in range(warmup):
        op, body = make(rng)
        check(api.call(op, body), body)
    times = []
    before = cpu_snapshot(server.proc.pid)
    for _ in range(samples):
        op, body = make(rng)
        answer, secs = api.timed(op, body)
        times.append(secs * 1e3)
        check(answer, body)
    cpu = cpu_delta(before, cpu_snapshot(server.proc.pid))
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(pct(times, 99), 3),
            "max_ms": round(times[-1], 3), "samples": samples,
            "server_cpu_ms": round(cpu["server"] * 1e3 / samples, 3),
            "postgres_cpu_ms": round(cpu["postgres"] * 1e3 / samples, 3) if server.store == "postgres" else None}


def list_check(expect):
    def check(answer: dict, body: dict) -> None:
        n = len(answer.get("Users", []))
        want = expect(body)
        if n != want:
            raise RuntimeError(f"ListUsers {body.get('Filter')!r}: {n} users, expected {want}")
    return check


def tail(size: int) -> tuple[str, int]:
    """The prefix of user (size * 9 // 10)'s name that keeps the leading digit of size - 1, and
    how many users it matches."""
    digits = len(str(size - 1))
    name = username(size * 9 // 10)
    prefix = name[:4 + 7 - digits + 1]
    scale = 10 ** (digits - 1)
    lo = int(prefix[4:]) * scale
    return prefix, max(0, min(lo + scale, size) - lo)


def measure_calls(api: Api, server: Server, pool_id: str, size: int, confirmed: int, args) -> dict:
    out = {}
    page = 60
    samples, warmup = args.samples, args.call_warmup

    def admin_get(rng):
        return "AdminGetUser", {"UserPoolId": pool_id, "Username": username(rng.randrange(size))}

    def admin_get_check(answer, body):
        if answer.get("Username") != body["Username"]:
            raise RuntimeError(f"AdminGetUser {body['Username']}: {answer.get('Username')}")

    def lu(filter_of):
        def make(rng):
            body = {"UserPoolId": pool_id, "Limit": page}
            f = filter_of(rng)
            if f is not None:
                body["Filter"] = f
            return "ListUsers", body
        return make

    # Prefixes of 100 users each: "user" + the first 5 of 7 digits of a user's number.
    hundreds = max(size // 100, 1)
    # A prefix whose matches come last in key order: the top decade of the pool (users
    # 900,000-999,999 of 1M, 90,000-99,999 of 100k, 900-999 of 1k).
    tail_prefix, tail_matches = tail(size)
    cases = [
        ("AdminGetUser", admin_get, admin_get_check),
        ('ListUsers email = (1 match)', lu(lambda rng: f'email = "{email(rng.randrange(size))}"'),
         list_check(lambda b: 1)),
        ('ListUsers email ^= (100 matches)', lu(lambda rng: f'email ^= "{username(rng.randrange(hundreds) * 100)[:9]}"'),
         list_check(lambda b: min(page, 100))),
        ('ListUsers email ^= "user0" (all users)', lu(lambda rng: 'email ^= "user0"'), list_check(lambda b: min(page, size))),
        ("ListUsers email ^= (last 10% in key order)", lu(lambda rng: f'email ^= "{tail_prefix}"'),
         list_check(lambda b: min(page, tail_matches))),
        ('ListUsers cognito:user_status = "CONFIRMED"', lu(lambda rng: 'cognito:user_status = "CONFIRMED"'),
         list_check(lambda b: min(page, confirmed))),
        ('ListUsers cognito:user_status = "RESET_REQUIRED"', lu(lambda rng: 'cognito:user_status = "RESET_REQUIRED"'),
         list_check(lambda b: min(page, size - confirmed))),
        ('ListUsers status = "Enabled"', lu(lambda rng: 'status = "Enabled"'), list_check(lambda b: min(page, size))),
        ("ListUsers, no filter", lu(lambda rng: None), list_check(lambda b: min(page, size))),
    ]
    for name, make, check in cases:
        r = latency_run(api, server, samples, warmup, make, check)
        if "last 10%" in name:
            r["prefix"], r["matches"] = tail_prefix, tail_matches
        log(f"  {name}: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, server CPU {r['server_cpu_ms']:.2f} ms/call")
        out[name] = r
    return out


def loadgen(args, server: Server, pool_id: str, client_id: str, users_file: Path, flow: str, concurrency: int,
            seconds: float, floor_during: bool = False) -> dict:
    cmd = [str(args.loadgen_bin), "--url", f"http://127.0.0.1:{server.port}", "--flow", flow,
           "--pool-id", pool_id, "--client-id", client_id, "--users-file", str(users_file),
           "--password", PASSWORD, "--concurrency", str(concurrency), "--seconds", str(seconds),
           "--warmup", str(args.signin_warmup), "--server-pid", str(server.proc.pid), "--json",
           "--label", f"{server.store}"] + (["--floor-during"] if floor_during else [])
    before = cpu_snapshot(server.proc.pid)
    r = subprocess.run(cmd, capture_output=True, text=True)
    cpu = cpu_delta(before, cpu_snapshot(server.proc.pid))
    if r.returncode != 0:
        raise RuntimeError(f"cognate-loadgen failed ({r.returncode}): {r.stdout[-1500:]} {r.stderr[-1500:]}")
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    # PostgreSQL's CPU over the whole loadgen run (warm-up included), per counted sign-in is an
    # estimate: warm-up sign-ins are not counted. Scale by the measured fraction instead.
    total_time = summary["seconds"] + args.signin_warmup
    if server.store == "postgres" and summary["sign_ins"]:
        summary["postgres_ms_per_sign_in_est"] = round(
            cpu["postgres"] * 1e3 * (summary["seconds"] / total_time) / summary["sign_ins"], 3)
    return summary


def measure_sign_ins(args, api: Api, server: Server, pool_id: str, client_id: str, users: list[str],
                     work: Path) -> dict:
    users_file = work / "signin-users.txt"
    users_file.write_text("\n".join(users) + "\n")
    out = {}
    runs = [("password", "password", 1, args.signin_seconds_latency),
            ("password", "password", args.concurrency, args.signin_seconds),
            ("srp", "srp", 1, args.signin_seconds_latency),
            ("srp", "srp", args.concurrency, args.signin_seconds)]
    if args.no_srp:
        runs = runs[:2]
    for name, flow, conc, secs in runs:
        if conc == 1:
            s = loadgen(args, server, pool_id, client_id, users_file, flow, conc, secs)
        else:
            s = cpu_rounds(args, server, pool_id, client_id, users_file, flow, conc, secs)
        key = f"{name} c{conc}"
        out[key] = s
        log(f"  {key}: {s['sign_ins_per_s']}/s, p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, "
            f"server CPU {s['server_ms_per_sign_in']:.3f} ms/sign-in"
            + (f" = {s['floor_ratio']:.2f}× the floor before it" if 'floor_ratio' in s else "")
            + (f", {s['floor_during_ratio']:.2f}× the floor during it" if 'floor_during_ratio' in s else "")
            + (f", postgres ≈{s['postgres_ms_per_sign_in_est']:.3f} ms" if 'postgres_ms_per_sign_in_est' in s else ""))
    return out


def cpu_rounds(args, server: Server, pool_id: str, client_id: str, users_file: Path, flow: str, conc: int,
               secs: float) -> dict:
    """The CPU figure of a flow at `conc`, as the median of `--signin-rounds` rounds, each a floor
    measurement followed by a sign-in run. The machine's speed drifts (shared cores: the same
    binary's CPU per sign-in and the floor both moved by a fifth within an hour), so each
    round's CPU is also divided by the floor measured just before it, and the median of those
    ratios is one figure compared across sizes and against 1.3×.

    The other: the floor sampled during the run (`cognate-loadgen --floor-during`). The floor
    before a run is measured with the other core idle; here one busy core slows the other's
    crypto by 5-30% (bench/scale.md), and the server's sign-ins keep both busy. The floor
    sampled during the run sees the machine as the server's own crypto does."""
    floor_key = "password_floor_ms" if flow == "password" else "srp_floor_ms"
    rounds = []
    for _ in range(max(1, args.signin_rounds)):
        floor_ms = floor_figures(args)[floor_key]
        s = loadgen(args, server, pool_id, client_id, users_file, flow, conc, secs, floor_during=True)
        s["floor_ms"] = floor_ms
        s["floor_ratio"] = round(s["server_ms_per_sign_in"] / floor_ms, 3)
        s["floor_during_ratio"] = round(s["server_ms_per_sign_in"] / s["floor_during_ms"], 3)
        s["above_floor_during_ms"] = round(s["server_ms_per_sign_in"] - s["floor_during_ms"], 4)
        rounds.append(s)
    by_ratio = sorted(rounds, key=lambda r: r["floor_ratio"])
    median = dict(by_ratio[len(by_ratio) // 2])
    median["server_ms_per_sign_in"] = statistics.median(r["server_ms_per_sign_in"] for r in rounds)
    median["floor_during_ratio"] = statistics.median(r["floor_during_ratio"] for r in rounds)
    median["above_floor_during_ms"] = statistics.median(r["above_floor_during_ms"] for r in rounds)
    median["rounds"] = [{k: r[k] for k in ("server_ms_per_sign_in", "floor_ms", "floor_ratio", "floor_during_ms",
                                           "floor_during_ratio", "above_floor_during_ms", "sign_ins_per_s")}
                        for r in rounds]
    return median


def set_passwords(api: Api, pool_id: str, names: list[str]) -> None:
    for name in names:
        api.call("AdminSetUserPassword", {"UserPoolId": pool_id, "Username": name, "Password": PASSWORD,
                                          "Permanent": True})


class StoreRun:
    """One store's server, pool and figures, grown and measured size by size."""

    def __init__(self, args, store: str, scratch: Path):
        self.args, self.store = args, store
        self.work = scratch / store
        self.work.mkdir()
        log(f"{store}: starting cognate")
        self.server = Server(args.cognate_bin, store, self.work, args.pg_url)
        self.result = {"store": store, "sizes": {}, "load_start": loadavg()}
        self.api = Api(self.server.port)
        self.have = 0
        self.imports: dict[int, dict] = {}
        try:
            self.pool_id = self.api.call("CreateUserPool", {"PoolName": f"scale-{store}",
                                                            "AutoVerifiedAttributes": ["email"]})["UserPool"]["Id"]
            self.client_id = self.api.call("CreateUserPoolClient", {
                "UserPoolId": self.pool_id, "ClientName": "scale", "GenerateSecret": False,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            })["UserPoolClient"]["ClientId"]
        except Exception:
            self.stop()
            raise
        self.result["pool_id"] = self.pool_id

    def grow(self, size: int, alongside: int = 1) -> None:
        log(f"{self.store}: importing users {self.have}..{size}")
        load = loadavg()
        api = Api(self.server.port)  # grow may run in its own thread
        try:
            imp = import_users(api, self.server, self.pool_id, self.have, size, self.args.job_rows,
                               self.args.parallel_jobs)
        finally:
            api.close()
        imp["load_before"] = load
        imp["stores_importing_at_once"] = alongside
        self.imports[size] = imp
        self.have = size

    def measure(self, size: int) -> None:
        args, api, server = self.args, self.api, self.server
        # A fresh sample of users with a password at each size, spread over the whole pool.
        rng = random.Random(size)
        names = [username(i) for i in rng.sample(range(size), min(args.signin_users, size))]
        set_passwords(api, self.pool_id, names)
        confirmed = count_confirmed(api, self.pool_id)
        if self.store == "postgres":
            # What autovacuum would do soon after a bulk load, done now so that it does not run
            # during the measurements and the plans see real statistics.
            t0 = time.perf_counter()
            psql(f"{server.pg_base}/{server.db_name}", "VACUUM (ANALYZE)")
            log(f"{self.store} @ {size}: VACUUM (ANALYZE) took {time.perf_counter() - t0:.1f} s")
        load_before = loadavg()
        log(f"{self.store} @ {size}: calls")
        calls = measure_calls(api, server, self.pool_id, size, confirmed, args)
        log(f"{self.store} @ {size}: sign-ins")
        signins = measure_sign_ins(args, api, server, self.pool_id, self.client_id, names, self.work)
        self.result["sizes"][str(size)] = {
            "import": self.imports[size], "calls": calls, "sign_ins": signins, "confirmed_users": confirmed,
            "db_bytes": server.db_bytes(), "server_rss_mib": round(server.rss_mib(), 1),
            "load_before": load_before, "load_after": loadavg(),
        }
        if self.args.out:
            self.args.out.write_text(json.dumps(self.args.results))

    def stop(self) -> None:
        self.api.close()
        self.server.stop(drop=not self.args.keep)
        if self.args.keep:
            log(f"{self.store}: kept {self.work}"
                + (f" and database {self.server.db_name}" if self.server.db_name else ""))
        self.result["load_end"] = loadavg()


def run_store(args, store: str, scratch: Path, out: list) -> None:
    """One store after the other: grow, measure, next size."""
    run = StoreRun(args, store, scratch)
    out.append(run.result)
    try:
        for size in args.sizes:
            run.grow(size)
            run.measure(size)
    finally:
        run.stop()


def run_stores_together(args, stores: list[str], scratch: Path, out: list) -> None:
    """Every store's server up at once; at each size the imports run at the same time (one
    thread per store), then each store is measured alone while the others sit idle."""
    runs: list[StoreRun] = []
    try:
        for store in stores:
            runs.append(StoreRun(args, store, scratch))
            out.append(runs[-1].result)
        for size in args.sizes:
            errors: list[BaseException] = []

            def grow(run: StoreRun) -> None:
                try:
                    run.grow(size, alongside=len(runs))
                except BaseException as e:  # reported below
                    errors.append(e)

            threads = [threading.Thread(target=grow, args=(r,)) for r in runs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            for run in runs:
                run.measure(size)
    finally:
        for run in runs:
            run.stop()


def count_confirmed(api: Api, pool_id: str) -> int:
    n, token = 0, None
    while True:
        body = {"UserPoolId": pool_id, "Limit": 60, "Filter": 'cognito:user_status = "CONFIRMED"'}
        if token:
            body["PaginationToken"] = token
        page = api.call("ListUsers", body)
        n += len(page["Users"])
        token = page.get("PaginationToken")
        if not token:
            return n


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def floor_figures(args) -> dict:
    r = subprocess.run([str(args.loadgen_bin), "--floor", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"cognate-loadgen --floor failed: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def growth(first: float | None, last: float | None) -> str:
    if not first or last is None:
        return "–"
    return f"{last / first:.2f}×"


def growth_if_positive(first: float, last: float) -> str:
    """Growth of a figure that may be below zero (SRP's floor counts more modexps than the
    server's SRP math does), shown only where a ratio means something."""
    return growth(first, last) if first > 0 and last > 0 else "–"


def report(results: dict) -> str:
    floor = results["floor"]
    lines = []
    lines.append(f"Floors (this machine, `cognate-loadgen --floor`, CPU): password sign-in "
                 f"{floor['password_floor_ms']:.3f} ms (check_password {floor['check_password_ms']:.3f} + "
                 f"2 × RS256 {floor['rs256_sign_ms']:.3f}); SRP sign-in {floor['srp_floor_ms']:.3f} ms "
                 f"(3 modexps {floor['modexp3_3072_ms']:.3f} + 2 × RS256; the server's real SRP math + 2 RS256: "
                 f"{floor['srp_real_crypto_ms']:.3f} ms).")
    lines.append("")
    for st in results["stores"]:
        # Only the sizes measured (all of them unless the run was cut short).
        sizes = [s for s in results["sizes"] if str(s) in st["sizes"]]
        if not sizes:
            lines.append(f"### {st['store']}\n\nNo size was measured.\n")
            continue
        heads = [fmt_size(s) for s in sizes]
        g_head = f"{heads[-1]} ÷ {heads[0]}" if len(sizes) > 1 else "growth"
        per = [st["sizes"][str(s)] for s in sizes]
        lines.append(f"### {st['store']}")
        lines.append("")
        loads = ", ".join(f"{fmt_size(s)}: {p['load_before']:.2f} → {p['load_after']:.2f}" for s, p in zip(sizes, per))
        lines.append(f"1-minute load average before → after the measurements at each size: {loads} "
                     f"(at the start of each import: "
                     + ", ".join(f"{p['import'].get('load_before', float('nan')):.2f}" for p in per) + ").")
        lines.append("")
        lines.append(f"| figure | {' | '.join(heads)} | {g_head} |")
        lines.append("|---|" + "---:|" * (len(sizes) + 1))

        def row(name, vals, cell, grow_vals=None):
            gv = grow_vals if grow_vals is not None else vals
            lines.append(f"| {name} | " + " | ".join(cell(v) for v in vals) + f" | {growth(gv[0], gv[-1])} |")

        imp = [p["import"] for p in per]
        together = any(i.get("stores_importing_at_once", 1) > 1 for i in imp)
        lines.append("| import rows/s (the jobs that grew the pool to this size"
                     + (", every store importing at once" if together else "") + ") | "
                     + " | ".join(f"{i['rows_per_s']:.0f} ({i['rows']} rows, {i['jobs']} job{'s' if i['jobs'] > 1 else ''}, "
                                  f"{i['job_s']:.0f} s)" for i in imp)
                     + " | – |")
        lines.append("| import: cognate CPU per row" + (" / PostgreSQL CPU per row" if st["store"] == "postgres" else "")
                     + " | " + " | ".join(f"{i['server_cpu_ms_per_row']:.3f}" + (f" / {i['postgres_cpu_ms_per_row']:.3f}"
                                                                                  if "postgres_cpu_ms_per_row" in i else "")
                                          + " ms" for i in imp)
                     + f" | {growth(imp[0]['server_cpu_ms_per_row'], imp[-1]['server_cpu_ms_per_row'])} |")
        for name in per[0]["calls"]:
            cs = [p["calls"][name] for p in per]
            lines.append(f"| {name}: p50 / p99 ms | " + " | ".join(f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f}" for c in cs)
                         + f" | {growth(cs[0]['p50_ms'], cs[-1]['p50_ms'])} |")
        for flow, floor_ms in (("password", floor["password_floor_ms"]), ("srp", floor["srp_floor_ms"])):
            k1, kc = f"{flow} c1", next((k for k in per[0]["sign_ins"] if k.startswith(flow + " c") and k != f"{flow} c1"), None)
            if k1 not in per[0]["sign_ins"]:
                continue
            label = "password sign-in" if flow == "password" else "SRP sign-in (2 calls)"
            plural = "password sign-ins" if flow == "password" else "SRP sign-ins"
            s1 = [p["sign_ins"][k1] for p in per]
            lines.append(f"| {label}, one at a time: p50 / p99 ms | "
                         + " | ".join(f"{s['p50_ms']:.2f} / {s['p99_ms']:.2f}" for s in s1)
                         + f" | {growth(s1[0]['p50_ms'], s1[-1]['p50_ms'])} |")
            if kc:
                sc = [p["sign_ins"][kc] for p in per]
                conc = kc.split(" c")[1]
                lines.append(f"| {plural}/s at concurrency {conc} | "
                             + " | ".join(f"{s['sign_ins_per_s']:.0f}" for s in sc)
                             + f" | {growth(sc[0]['sign_ins_per_s'], sc[-1]['sign_ins_per_s'])} |")
                lines.append(f"| {label}: cognate CPU per sign-in (median of rounds) | "
                             + " | ".join(f"{s['server_ms_per_sign_in']:.3f} ms" for s in sc)
                             + f" | {growth(sc[0]['server_ms_per_sign_in'], sc[-1]['server_ms_per_sign_in'])} |")
                lines.append(f"| {label}: ÷ the floor measured just before, other core idle (median of rounds; floors in ms) | "
                             + " | ".join(f"{ratio_of(s, floor_ms):.2f}× ({rounds_floors(s, floor_ms)})" for s in sc)
                             + f" | {growth(ratio_of(sc[0], floor_ms), ratio_of(sc[-1], floor_ms))} |")
                if all("floor_during_ratio" in s for s in sc):
                    lines.append(f"| {label}: ÷ the floor sampled during the run, both cores busy (median of rounds; floors in ms) | "
                                 + " | ".join(f"{s['floor_during_ratio']:.2f}× ({rounds_floors_during(s)})" for s in sc)
                                 + f" | {growth(sc[0]['floor_during_ratio'], sc[-1]['floor_during_ratio'])} |")
                if all("above_floor_during_ms" in s for s in sc):
                    # The ratios depend on how fast the machine's crypto is; what the server
                    # spends beside it is the figure that compares across machines.
                    lines.append(f"| {label}: CPU above the floor sampled during the run (median of rounds) | "
                                 + " | ".join(f"{s['above_floor_during_ms']:.3f} ms" for s in sc)
                                 + f" | {growth_if_positive(sc[0]['above_floor_during_ms'], sc[-1]['above_floor_during_ms'])} |")
                if st["store"] == "postgres":
                    lines.append(f"| {label}: PostgreSQL CPU per sign-in (estimate) | "
                                 + " | ".join(f"{s.get('postgres_ms_per_sign_in_est', float('nan')):.3f} ms" for s in sc)
                                 + f" | {growth(sc[0].get('postgres_ms_per_sign_in_est'), sc[-1].get('postgres_ms_per_sign_in_est'))} |")
        lines.append("| database size | " + " | ".join(f"{p['db_bytes'] / 2**20:.1f} MiB" for p in per)
                     + f" | {growth(per[0]['db_bytes'], per[-1]['db_bytes'])} |")
        lines.append("| cognate RSS | " + " | ".join(f"{p['server_rss_mib']:.0f} MiB" for p in per)
                     + f" | {growth(per[0]['server_rss_mib'], per[-1]['server_rss_mib'])} |")
        lines.append("")
        # Server CPU per call, to see who does the work.
        lines.append(f"Server CPU per call (cognate{' / PostgreSQL, all its processes' if st['store'] == 'postgres' else ''}), ms:")
        lines.append("")
        lines.append(f"| call | {' | '.join(heads)} |")
        lines.append("|---|" + "---:|" * len(sizes))
        for name in per[0]["calls"]:
            cs = [p["calls"][name] for p in per]
            cell = (lambda c: f"{c['server_cpu_ms']:.2f} / {c['postgres_cpu_ms']:.2f}") if st["store"] == "postgres" \
                else (lambda c: f"{c['server_cpu_ms']:.2f}")
            lines.append(f"| {name} | " + " | ".join(cell(c) for c in cs) + " |")
        lines.append("")
        lines.append(targets(st, sizes, floor))
        lines.append("")
    return "\n".join(lines)


def ratio_of(s: dict, floor_ms: float) -> float:
    """CPU per sign-in ÷ floor: the median of the rounds' own ratios, or (a run from before
    rounds existed) against the run's floor."""
    return s.get("floor_ratio", s["server_ms_per_sign_in"] / floor_ms)


def rounds_floors(s: dict, floor_ms: float) -> str:
    return ", ".join(f"{r['floor_ms']:.2f}" for r in s.get("rounds", [])) or f"{floor_ms:.2f}"


def rounds_floors_during(s: dict) -> str:
    return ", ".join(f"{r['floor_during_ms']:.2f}" for r in s.get("rounds", []))


def targets(st: dict, sizes: list[int], floor: dict) -> str:
    """Issue #20's targets, checked against this store's figures."""
    per = [st["sizes"][str(s)] for s in sizes]
    out = [f"Targets (#20) on {st['store']}:"]
    filtered = [n for n in per[0]["calls"] if n.startswith("ListUsers") and "no filter" not in n]
    worst50 = max((p["calls"][n]["p50_ms"], n, s) for n in filtered for p, s in zip(per, sizes))
    worst99 = max((p["calls"][n]["p99_ms"], n, s) for n in filtered for p, s in zip(per, sizes))
    out.append(f"* ListUsers with a filter under 10 ms: worst median {worst50[0]:.2f} ms ({worst50[1]} at "
               f"{fmt_size(worst50[2])}) → {'holds' if worst50[0] < 10 else 'MISSED'}; worst p99 {worst99[0]:.2f} ms "
               f"({worst99[1]} at {fmt_size(worst99[2])}) → {'holds' if worst99[0] < 10 else 'missed'}.")
    for flow, floor_ms in (("password", floor["password_floor_ms"]), ("srp", floor["srp_floor_ms"])):
        k = next((k for k in per[0]["sign_ins"] if k.startswith(flow + " c") and k != f"{flow} c1"), None)
        if not k:
            continue
        cpu = [p["sign_ins"][k]["server_ms_per_sign_in"] for p in per]
        ratios = [ratio_of(p["sign_ins"][k], floor_ms) for p in per]
        lat = [p["sign_ins"][f"{flow} c1"]["p50_ms"] for p in per]
        spread_cpu = max(cpu) / min(cpu) - 1
        spread_ratio = max(ratios) / min(ratios) - 1
        spread_lat = max(lat) / min(lat) - 1
        worst = max(ratios)
        out.append(f"* {flow} sign-in flat within 10% from {fmt_size(sizes[0])} to {fmt_size(sizes[-1])}: CPU per "
                   f"sign-in ÷ its floor spread {spread_ratio * 100:.0f}% → {'holds' if spread_ratio <= 0.10 else 'MISSED'} "
                   f"(CPU alone: {spread_cpu * 100:.0f}%; latency one at a time, p50: {spread_lat * 100:.0f}%, "
                   f"{'within' if spread_lat <= 0.10 else 'over'} 10%).")
        out.append(f"* {flow} sign-in CPU within 1.3× of the floor measured just before: worst {worst:.2f}× → "
                   f"{'holds' if worst <= 1.3 else 'MISSED'}.")
        during = [p["sign_ins"][k].get("floor_during_ratio") for p in per]
        if all(d is not None for d in during):
            out.append(f"* {flow} sign-in CPU within 1.3× of the floor sampled during the run: worst {max(during):.2f}× → "
                       f"{'holds' if max(during) <= 1.3 else 'MISSED'}; spread across sizes "
                       f"{(max(during) / min(during) - 1) * 100:.0f}% → {'flat' if max(during) / min(during) <= 1.10 else 'NOT flat'} "
                       f"within 10%.")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000,1000000",
                    help="pool sizes, growing (default 1000,100000,1000000; quick mode: 1000,10000)")
    ap.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both (default both)")
    ap.add_argument("--no-build", action="store_true", help="use the existing release binaries")
    ap.add_argument("--json", action="store_true", help="print every figure as one JSON object after the tables")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", str(REPO_DIR / "target")),
                    help="cargo target dir holding release/cognate and release/cognate-loadgen "
                         "(default $CARGO_TARGET_DIR or ./target)")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                    help="PostgreSQL server (no database): a fresh database is created there and dropped")
    ap.add_argument("--samples", type=int, default=200, help="timed calls per call kind and size (default 200)")
    ap.add_argument("--call-warmup", type=int, default=20, help="untimed calls before each kind (default 20)")
    ap.add_argument("--signin-users", type=int, default=64, help="users given a password at each size (default 64)")
    ap.add_argument("--concurrency", type=int, default=16, help="sign-ins in flight for throughput and CPU (default 16)")
    ap.add_argument("--signin-seconds", type=float, default=8.0, help="measured seconds at --concurrency (default 8)")
    ap.add_argument("--signin-seconds-latency", type=float, default=3.0,
                    help="measured seconds one sign-in at a time (default 3)")
    ap.add_argument("--signin-warmup", type=float, default=1.0, help="warm-up seconds of each sign-in run (default 1)")
    ap.add_argument("--no-srp", action="store_true", help="password sign-ins only")
    ap.add_argument("--signin-rounds", type=int, default=3,
                    help="rounds of (floor, sign-in run) per flow and size for the CPU figures; the median counts (default 3)")
    ap.add_argument("--job-rows", type=int, default=250_000, help="most rows per import job (default 250000)")
    ap.add_argument("--parallel-jobs", type=int, default=4,
                    help="import jobs run at once for 10,000 rows or more (default 4, as many as the server runs)")
    ap.add_argument("--concurrent-import", action="store_true",
                    help="run every store's server at once and import into all of them at the same time "
                         "(then measure each alone): about half the wall time on two cores")
    ap.add_argument("--out", type=Path, help="also write every figure as JSON to this file, after each size")
    ap.add_argument("--commit", help="what the binaries were built from, for the report (default: git describe of "
                                      "this checkout)")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs and the PostgreSQL database")
    args = ap.parse_args()

    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or args.sizes != sorted(set(args.sizes)) or args.sizes[0] < 100:
        ap.error("--sizes must grow and start at 100 or more")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or any(s not in ("sqlite", "postgres") for s in stores):
        ap.error("--stores takes sqlite and/or postgres")
    target = Path(args.target_dir)
    args.cognate_bin = target / "release" / "cognate"
    args.loadgen_bin = target / "release" / "cognate-loadgen"
    if not args.no_build:
        log(f"building cognate and cognate-loadgen (release, CARGO_TARGET_DIR={target}) ...")
        r = subprocess.run(["cargo", "build", "--release", "-p", "cognate-server", "--bin", "cognate",
                            "-p", "cognate-loadgen"], cwd=REPO_DIR, env={**os.environ, "CARGO_TARGET_DIR": str(target)})
        if r.returncode != 0:
            return 1
    for b in (args.cognate_bin, args.loadgen_bin):
        if not b.exists():
            ap.error(f"{b} does not exist (build it, or drop --no-build)")

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    log("measuring the floors (cognate-loadgen --floor) ...")
    results = {"started": started, "sizes": args.sizes, "floor": floor_figures(args), "stores": [],
               "load_start": loadavg(), "nproc": os.cpu_count(),
               "commit": args.commit or subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO_DIR,
                                                       capture_output=True, text=True).stdout.strip()}
    args.results = results
    if args.out:
        args.out.write_text(json.dumps(results))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops servers and drops databases too
    scratch = Path(tempfile.mkdtemp(prefix="cognate-scale-"))
    try:
        if args.concurrent_import and len(stores) > 1:
            run_stores_together(args, stores, scratch, results["stores"])
        else:
            for store in stores:
                run_store(args, store, scratch, results["stores"])
    except (Exception, KeyboardInterrupt) as e:
        # Report what was measured before the failure or the interruption.
        results["incomplete"] = f"{type(e).__name__}: {e}"
        log(f"run cut short: {results['incomplete']}")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if args.out:
        args.out.write_text(json.dumps(results))
    results["floor_end"] = floor_figures(args)
    results["load_end"] = loadavg()
    print(f"Scale benchmark, {started} → {results['finished']}, commit {results['commit']}, "
          f"{results['nproc']} CPUs, 1-minute load {results['load_start']:.2f} at the start, "
          f"{results['load_end']:.2f} at the end.\n")
    if "incomplete" in results:
        print(f"**The run was cut short** ({results['incomplete']}): the tables show the sizes measured before.\n")
    print(report(results))
    if args.json:
        print(json.dumps(results))
    return 1 if "incomplete" in results else 0


if __name__ == "__main__":
    sys.exit(main())
