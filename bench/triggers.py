#!/usr/bin/env python3
"""Trigger benchmark: what Cognito Lambda triggers cost a SignUp, cognate against peers.

Measures, one server at a time on this machine:

  * cognate's node runtime round trip for a trivial handler
    (``exports.handler = async (e) => e``, bench/fixtures/trivial.js):
      - in-server: the ``durationMs`` the server records per invocation
        (``GET /_cognate/invocations``), i.e. event handed to the runtime ->
        response back, warm worker;
      - through the server: median SignUp latency of a pool whose PreSignUp is
        the trivial function minus the median of an identical pool without
        triggers;
  * SignUp throughput and latency (p50 / p99), sequential and with --concurrency
    client threads, for three pools per server:
      - ``plain``: no triggers;
      - ``presignup``: PreSignUp = trivial.js (nothing auto-confirmed, so only
        PreSignUp runs);
      - ``both``: PreSignUp = autoconfirm.js (auto-confirms) and
        PostConfirmation = trivial.js, so every SignUp runs two triggers;
  * the same against cognito-local (npm), which runs triggers only through the
    AWS Lambda Invoke API: this script serves the same handler files behind a
    Lambda-Invoke endpoint of its own (``--lambda-shim`` mode: a threaded
    http.server in a separate Python process, one warm ``node`` worker per
    function fed JSON lines on stdin, bench/fixtures/lambda_worker.js);
  * and against ministack (PyPI), which creates the functions through its own
    Lambda API (a zip of the same handler file, runtime nodejs20.x) and runs
    them on its local warm node workers.

Peers are installed into bench/.peers/ exactly as bench/startup.py does it
(that module's helpers are imported, not copied). Standard library only.
Run ``python3 bench/triggers.py --help``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
FIXTURES = BENCH_DIR / "fixtures"
sys.path.insert(0, str(BENCH_DIR))
import startup  # noqa: E402  (bench/startup.py: peer install, ports, process-tree handling)

HOST = startup.HOST
PASSWORD = "Bench-Passw0rd!"
SCENARIOS = ("plain", "presignup", "both")
COGNATE_CLIENTS = {  # from bench/fixtures/cognate-triggers.toml
    "plain": ("us-east-1_BenchPlain", "benchplainclient0000000001"),
    "presignup": ("us-east-1_BenchPreSU", "benchpresignupclient000001"),
    "both": ("us-east-1_BenchBoth1", "benchbothclient00000000001"),
}
# The functions each scenario uses: (function name, handler file) per trigger.
SCENARIO_TRIGGERS = {
    "plain": {},
    "presignup": {"PreSignUp": ("trivial", "trivial.js")},
    "both": {"PreSignUp": ("autoconfirm", "autoconfirm.js"), "PostConfirmation": ("postconfirm", "trivial.js")},
}
FAKE_AUTH = {
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{svc}/aws4_request, "
        "SignedHeaders=host, Signature=00"
    ),
    "X-Amz-Date": "20240101T000000Z",
}


def log(msg: str) -> None:
    startup.log(msg)


def auth_headers(service: str) -> dict[str, str]:
    return {k: v.format(svc=service) for k, v in FAKE_AUTH.items()}


# --------------------------------------------------------------------------
# HTTP client (keep-alive, one connection per thread)


class Client:
    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes, dict]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def idp(self, action: str, payload: dict) -> tuple[int, dict]:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{action}",
            **auth_headers("cognito-idp"),
        }
        status, data, _ = self.request("POST", "/", json.dumps(payload).encode(), headers)
        try:
            return status, json.loads(data) if data else {}
        except ValueError:
            return status, {"raw": data[:300].decode(errors="replace")}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def wait_http(port: int, proc: subprocess.Popen | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with code {proc.returncode} before answering")
        if startup.probe_once(port, 1.0) == 200:
            return
        time.sleep(0.02)
    raise RuntimeError(f"no answer on port {port} within {timeout:.0f} s")


def spawn(argv: list[str], env: dict, cwd: Path, log_path: Path) -> subprocess.Popen:
    logf = open(log_path, "ab")
    try:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        logf.close()


# --------------------------------------------------------------------------
# CPU accounting


CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of root and its live descendants (/proc/PID/stat)."""
    total = 0
    for pid in [root] + startup.descendants(root):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                rest = f.read().rsplit(b")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


# --------------------------------------------------------------------------
# statistics


def pct(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return float("nan")
    k = max(0, min(len(sorted_ms) - 1, int(round(p / 100.0 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[k]


def summarize(samples_ms: list[float], wall_s: float | None = None) -> dict:
    s = sorted(samples_ms)
    d = {
        "n": len(s),
        "p50": round(pct(s, 50), 3),
        "p90": round(pct(s, 90), 3),
        "p99": round(pct(s, 99), 3),
        "max": round(s[-1], 3) if s else None,
        "mean": round(statistics.fmean(s), 3) if s else None,
    }
    if wall_s:
        d["per_s"] = round(len(s) / wall_s, 1)
    return d


# --------------------------------------------------------------------------
# the SignUp driver shared by every server


@dataclass
class Target:
    """One pool on one server: where SignUp goes for a scenario."""
    port: int
    client_id: str
    pool_id: str
    # The server process whose tree (workers included) is charged for CPU.
    cpu_root: int | None = None


@dataclass
class ServerRun:
    name: str
    version: str
    # scenario -> {"seq": [...ms], "conc": [...ms], "conc_wall": s}
    results: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    skipped: str | None = None


class UserNames:
    """Unique usernames across every call of a run."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.n = 0
        self.lock = threading.Lock()

    def next(self) -> str:
        with self.lock:
            self.n += 1
            return f"{self.prefix}{self.n:06d}"


def sign_up_once(client: Client, tgt: Target, names: UserNames, expect_confirmed: bool | None) -> float:
    name = names.next()
    body = {
        "ClientId": tgt.client_id,
        "Username": name,
        "Password": PASSWORD,
        "UserAttributes": [{"Name": "email", "Value": f"{name}@example.com"}],
    }
    t0 = time.perf_counter()
    status, out = client.idp("SignUp", body)
    ms = (time.perf_counter() - t0) * 1000.0
    if status != 200 or "UserSub" not in out:
        raise RuntimeError(f"SignUp failed: HTTP {status} {json.dumps(out)[:300]}")
    if expect_confirmed is not None and bool(out.get("UserConfirmed")) != expect_confirmed:
        raise RuntimeError(f"SignUp: UserConfirmed={out.get('UserConfirmed')} (expected {expect_confirmed})")
    return ms


def run_sequential(tgt: Target, names: UserNames, n: int, confirmed: bool | None) -> list[float]:
    c = Client(tgt.port)
    try:
        return [sign_up_once(c, tgt, names, confirmed) for _ in range(n)]
    finally:
        c.close()


def run_concurrent(tgt: Target, names: UserNames, threads: int, per_thread: int, confirmed: bool | None) -> tuple[list[float], float]:
    out: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        c = Client(tgt.port)
        try:
            # Open the connection before the clock starts.
            c.request("GET", "/", None, {})
        except Exception:
            pass
        try:
            start.wait()
            for _ in range(per_thread):
                out[i].append(sign_up_once(c, tgt, names, confirmed))
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            c.close()

    ts = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join(timeout=600)
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"concurrent SignUp: {errors[0]}")
    return [x for lst in out for x in lst], wall


def bench_signups(run: ServerRun, targets: dict[str, Target], args, confirmed: dict[str, bool | None]) -> None:
    """Warm-up, then sequential rounds interleaved across scenarios, then concurrent runs."""
    names = UserNames(f"b{os.getpid()}{run.name[:2]}")
    for sc, tgt in targets.items():
        log(f"  {run.name}/{sc}: warm-up {args.warmup} sign-ups")
        run_sequential(tgt, names, args.warmup, confirmed[sc])
        if args.concurrency > 1:
            # Also a short concurrent burst, so every warm worker a server keeps for
            # concurrent calls exists before the clock starts (cold starts are not measured).
            run_concurrent(tgt, names, args.concurrency, 2, confirmed[sc])
        run.results[sc] = {"seq": [], "conc": [], "conc_wall": 0.0, "seq_cpu_s": 0.0}
    per_round = max(1, args.n // args.rounds)
    for r in range(args.rounds):
        for sc, tgt in targets.items():
            cpu0 = tree_cpu_s(tgt.cpu_root) if tgt.cpu_root else 0.0
            run.results[sc]["seq"] += run_sequential(tgt, names, per_round, confirmed[sc])
            if tgt.cpu_root:
                run.results[sc]["seq_cpu_s"] += tree_cpu_s(tgt.cpu_root) - cpu0
        log(f"  {run.name}: sequential round {r + 1}/{args.rounds} done")
    if args.concurrency > 1:
        per_thread = max(1, args.conc_n // args.concurrency)
        for sc, tgt in targets.items():
            lat, wall = run_concurrent(tgt, names, args.concurrency, per_thread, confirmed[sc])
            run.results[sc]["conc"] = lat
            run.results[sc]["conc_wall"] = wall
            log(f"  {run.name}/{sc}: {args.concurrency} threads x {per_thread}: {len(lat) / wall:.0f}/s")


# --------------------------------------------------------------------------
# cognate


def cognate_binary(args) -> Path:
    if args.cognate_bin:
        return Path(args.cognate_bin).resolve()
    binary = REPO_DIR / "target" / "release" / "cognate"
    if not args.no_build:
        log("building cognate (cargo build --release -p cognate-server --bin cognate) ...")
        r = subprocess.run(["cargo", "build", "--release", "-p", "cognate-server", "--bin", "cognate"], cwd=REPO_DIR)
        if r.returncode != 0:
            raise SystemExit("cargo build failed")
    return binary


def invocation_durations(port: int, pool_id: str, source: str, limit: int) -> list[float]:
    c = Client(port)
    try:
        q = f"/_cognate/invocations?poolId={pool_id}&triggerSource={source}&limit={limit}"
        status, data, _ = c.request("GET", q, None, {})
        if status != 200:
            raise RuntimeError(f"GET {q}: HTTP {status}")
        recs = json.loads(data)["invocations"]
        bad = [r for r in recs if r.get("error")]
        if bad:
            raise RuntimeError(f"trigger failed: {bad[0]['error']}")
        return [float(r["durationMs"]) for r in recs]
    finally:
        c.close()


def bench_cognate(args, scratch: Path) -> ServerRun:
    binary = cognate_binary(args)
    if not binary.exists():
        raise SystemExit(f"{binary} not found (build it, or drop --no-build)")
    version = startup.run_cmd([str(binary), "--version"]).stdout.strip().removeprefix("cognate ").strip()
    if args.cognate_version:
        version = args.cognate_version
    elif not args.cognate_bin:
        rev = startup.run_cmd(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR).stdout.strip()
        if rev:
            dirty = startup.run_cmd(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_DIR).stdout.strip()
            version += f" ({rev}{'+dirty' if dirty else ''})"
    run = ServerRun("cognate", version)
    work = Path(tempfile.mkdtemp(prefix="cognate-", dir=scratch))
    port = startup.free_port()
    env = startup.base_env()
    env["RUST_LOG"] = "warn"
    argv = [str(binary), "serve", "--listen", f"{HOST}:{port}", "--data-dir", str(work / "data"),
            "--config", str(FIXTURES / "cognate-triggers.toml")]
    log(f"cognate {version}: starting on port {port}")
    proc = spawn(argv, env, work, work / "server.log")
    try:
        wait_http(port, proc)
        targets = {sc: Target(port, cid, pid, proc.pid) for sc, (pid, cid) in COGNATE_CLIENTS.items()}
        bench_signups(run, targets, args, {"plain": False, "presignup": False, "both": True})
        # The last phase was the `both` pool's concurrent run: its PostConfirmation invocations
        # must be in the log, without errors (invocation_durations raises on a failed one).
        both_post = invocation_durations(port, COGNATE_CLIENTS["both"][0], "PostConfirmation_ConfirmSignUp", 1000)
        if not both_post:
            raise RuntimeError("no PostConfirmation invocation recorded for the `both` pool")
        run.extra["postconfirmation_invocations_seen"] = len(both_post)
        # The runtime's own view of the round trip: durationMs of exactly the invocations of
        # N more sign-ups on the presignup pool, sequential, then from --concurrency threads.
        # (The log keeps the newest 1000 invocations of all pools, hence the dedicated runs.)
        names = UserNames(f"inv{os.getpid()}")
        m = min(args.n, 1000)
        run_sequential(targets["presignup"], names, m, False)
        seq_inv = invocation_durations(port, COGNATE_CLIENTS["presignup"][0], "PreSignUp_SignUp", m)
        run.extra["invocation_seq_ms"] = summarize(seq_inv)
        if args.concurrency > 1:
            per_thread = max(1, min(args.conc_n, 1000) // args.concurrency)
            run_concurrent(targets["presignup"], names, args.concurrency, per_thread, False)
            conc_inv = invocation_durations(port, COGNATE_CLIENTS["presignup"][0], "PreSignUp_SignUp",
                                            per_thread * args.concurrency)
            run.extra["invocation_conc_ms"] = summarize(conc_inv)
    finally:
        startup.stop_tree(proc)
        if args.keep_logs:
            log(f"  cognate log: {work / 'server.log'}")
    return run


# --------------------------------------------------------------------------
# Lambda-Invoke endpoint with warm node workers (for cognito-local)


class NodeWorker:
    """One warm `node` process running bench/fixtures/lambda_worker.js for one handler file."""

    def __init__(self, handler_file: Path):
        self.proc = subprocess.Popen(
            ["node", str(FIXTURES / "lambda_worker.js"), str(handler_file), "handler"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, bufsize=0,
        )
        self.lock = threading.Lock()
        self.pending: dict[int, queue.SimpleQueue] = {}
        self.next_id = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self.lock:
                q = self.pending.pop(msg["id"], None)
            if q is not None:
                q.put(msg)

    def invoke(self, event_json: bytes, timeout: float = 30.0) -> dict:
        q: queue.SimpleQueue = queue.SimpleQueue()
        with self.lock:
            self.next_id += 1
            rid = self.next_id
            self.pending[rid] = q
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"id":%d,"event":%s}\n' % (rid, event_json))
        return q.get(timeout=timeout)


def lambda_shim_main(port: int, functions: list[str]) -> int:
    """`--lambda-shim`: serve `POST /2015-03-31/functions/NAME/invocations` until killed."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    workers: dict[str, NodeWorker] = {}
    counts: dict[str, dict[str, int]] = {}
    counts_lock = threading.Lock()
    for spec in functions:
        name, _, file = spec.partition("=")
        workers[name] = NodeWorker(FIXTURES / file)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without TCP_NODELAY the body waits for the
        # client's delayed ACK (~40 ms on Linux).
        disable_nagle_algorithm = True

        def log_message(self, *a) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # readiness probe and invocation counts
            with counts_lock:
                body = json.dumps(counts).encode()
            self.send(200, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b"null"
            parts = self.path.split("?")[0].strip("/").split("/")
            # 2015-03-31 / functions / NAME / invocations
            if len(parts) != 4 or parts[1] != "functions" or parts[3] != "invocations":
                return self.send(404, b'{"Message":"not found"}')
            name = parts[2].split(":")[6] if parts[2].startswith("arn:") else parts[2]
            worker = workers.get(name)
            if worker is None:
                msg = json.dumps({"Type": "User", "Message": f"Function not found: {name}"}).encode()
                return self.send(404, msg, {"x-amzn-ErrorType": "ResourceNotFoundException"})
            reply = worker.invoke(payload)
            with counts_lock:
                c = counts.setdefault(name, {"ok": 0, "error": 0})
                c["ok" if reply["ok"] else "error"] += 1
            if reply["ok"]:
                return self.send(200, json.dumps(reply["result"]).encode(), {"X-Amz-Executed-Version": "$LATEST"})
            return self.send(200, json.dumps(reply["error"]).encode(),
                             {"X-Amz-Executed-Version": "$LATEST", "X-Amz-Function-Error": "Unhandled"})

    class Server(ThreadingHTTPServer):
        # cognito-local's SDK opens a new connection per Invoke; with the default backlog
        # of 5 a burst of them overflows it and a dropped SYN costs a 1 s retransmit.
        request_queue_size = 256

    server = Server((HOST, port), Handler)
    server.daemon_threads = True
    server.serve_forever()
    return 0


def start_lambda_shim(functions: dict[str, str], work: Path) -> tuple[subprocess.Popen, int]:
    port = startup.free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--lambda-shim", str(port)]
    argv += [f"{n}={f}" for n, f in functions.items()]
    proc = spawn(argv, startup.base_env(), work, work / "lambda-shim.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("lambda shim exited: " + startup.tail(work / "lambda-shim.log"))
        try:
            status, _, _ = Client(port, 1.0).request("GET", "/", None, {})
            if status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("lambda shim did not start")


def direct_invoke_ms(port: int, function: str, n: int, headers: dict | None = None) -> list[float]:
    """Round trips of a direct Lambda Invoke of `function` (a PreSignUp-shaped event)."""
    event = json.dumps({
        "version": "1", "triggerSource": "PreSignUp_SignUp", "region": "us-east-1",
        "userPoolId": "us-east-1_AbCdEfGhI", "userName": "alice",
        "callerContext": {"awsSdkVersion": "bench", "clientId": "1example23456789"},
        "request": {"userAttributes": {"email": "alice@example.com"}, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    c = Client(port)
    out = []
    try:
        for i in range(n + 50):  # the first 50 are an untimed warm-up
            if i == 50:
                out.clear()
            t0 = time.perf_counter()
            status, data, h = c.request("POST", f"/2015-03-31/functions/{function}/invocations", event, hdrs)
            out.append((time.perf_counter() - t0) * 1000.0)
            if status != 200 or "x-amz-function-error" in h or json.loads(data).get("userName") != "alice":
                raise RuntimeError(f"direct invoke of {function}: HTTP {status} {data[:200]!r}")
    finally:
        c.close()
    return out


# --------------------------------------------------------------------------
# cognito-local


def bench_cognito_local(args, scratch: Path) -> ServerRun:
    srv = startup.prepare_cognito_local(types.SimpleNamespace(peer_runs=1))
    run = ServerRun("cognito-local", srv.version)
    work = Path(tempfile.mkdtemp(prefix="cognito-local-", dir=scratch))
    fns = {name: file for trig in SCENARIO_TRIGGERS.values() for name, file in trig.values()}
    shim, shim_port = start_lambda_shim(fns, work)
    procs: list[subprocess.Popen] = []
    try:
        run.extra["shim_direct_ms"] = summarize(direct_invoke_ms(shim_port, "trivial", args.roundtrip_n))
        # cognito-local's trigger functions are server-wide (config.json), not per pool:
        # one instance per scenario.
        targets: dict[str, Target] = {}
        for sc, trig in SCENARIO_TRIGGERS.items():
            inst = work / sc
            (inst / ".cognito").mkdir(parents=True)
            config = {
                "LambdaClient": {
                    "endpoint": f"http://{HOST}:{shim_port}",
                    "region": "us-east-1",
                    "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
                },
                "TriggerFunctions": {t: name for t, (name, _) in trig.items()},
                "UserPoolDefaults": {"UsernameAttributes": []},
            }
            (inst / ".cognito" / "config.json").write_text(json.dumps(config, indent=2))
            port = startup.free_port()
            launch = srv.launch(inst, port)
            log(f"cognito-local {srv.version} ({sc}): starting on port {port}")
            p = spawn(launch.argv, launch.env, launch.cwd, inst / "server.log")
            procs.append(p)
            wait_http(port, p)
            c = Client(port)
            st, pool = c.idp("CreateUserPool", {"PoolName": f"bench-{sc}"})
            if st != 200:
                raise RuntimeError(f"CreateUserPool: {st} {pool}")
            pid = pool["UserPool"]["Id"]
            st, cl = c.idp("CreateUserPoolClient", {"UserPoolId": pid, "ClientName": "bench"})
            if st != 200:
                raise RuntimeError(f"CreateUserPoolClient: {st} {cl}")
            c.close()
            targets[sc] = Target(port, cl["UserPoolClient"]["ClientId"], pid, p.pid)
        shim_cpu0 = tree_cpu_s(shim.pid)
        bench_signups(run, targets, args, {"plain": False, "presignup": False, "both": True})
        run.extra["shim_cpu_s_total"] = round(tree_cpu_s(shim.pid) - shim_cpu0, 3)
        st, data, _ = Client(shim_port).request("GET", "/", None, {})
        counts = json.loads(data)
        run.extra["shim_invocations"] = counts
        # Every SignUp must have reached the handlers (cognito-local swallows PostConfirmation errors).
        warm = args.warmup + (2 * args.concurrency if args.concurrency > 1 else 0)
        n_both = len(run.results["both"]["seq"]) + len(run.results["both"]["conc"]) + warm
        n_pre = len(run.results["presignup"]["seq"]) + len(run.results["presignup"]["conc"]) + warm
        expect = {"trivial": n_pre + args.roundtrip_n + 50, "autoconfirm": n_both, "postconfirm": n_both}
        for fn, want in expect.items():
            got = counts.get(fn, {})
            if got.get("ok") != want or got.get("error"):
                raise RuntimeError(f"lambda shim saw {got} invocations of {fn}, expected {want} successful")
        run.notes.append(
            "cognito-local invokes triggers through the AWS SDK v2 Lambda client (`LambdaClient.endpoint` in "
            ".cognito/config.json); they are server-wide, so each scenario ran on its own instance. The endpoint "
            "is this script's Lambda-Invoke shim (Python ThreadingHTTPServer, one warm node worker per function)."
        )
    finally:
        for p in procs:
            startup.stop_tree(p)
        startup.stop_tree(shim)
        if args.keep_logs:
            log(f"  cognito-local logs under {work}")
    return run


# --------------------------------------------------------------------------
# ministack


def zip_handler(file: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(FIXTURES / file, arcname=file)
    return buf.getvalue()


def bench_ministack(args, scratch: Path) -> ServerRun:
    srv = startup.prepare_ministack(types.SimpleNamespace(peer_runs=1))
    run = ServerRun("ministack", srv.version)
    work = Path(tempfile.mkdtemp(prefix="ministack-", dir=scratch))
    port = startup.free_port()
    launch = srv.launch(work, port)
    launch.env["LOG_LEVEL"] = "WARNING"
    log(f"ministack {srv.version}: starting on port {port}")
    proc = spawn(launch.argv, launch.env, launch.cwd, work / "server.log")
    try:
        wait_http(port, proc)
        c = Client(port, timeout=60)
        arns: dict[str, str] = {}
        for trig in SCENARIO_TRIGGERS.values():
            for name, file in trig.values():
                if name in arns:
                    continue
                module = file.removesuffix(".js")
                body = {
                    "FunctionName": name,
                    "Runtime": "nodejs20.x",
                    "Role": "arn:aws:iam::000000000000:role/bench",
                    "Handler": f"{module}.handler",
                    "Code": {"ZipFile": base64.b64encode(zip_handler(file)).decode()},
                    "Timeout": 5,
                }
                st, data, _ = c.request("POST", "/2015-03-31/functions", json.dumps(body).encode(),
                                        {"Content-Type": "application/json", **auth_headers("lambda")})
                if st not in (200, 201):
                    raise RuntimeError(f"CreateFunction {name}: HTTP {st} {data[:300]!r}")
                arns[name] = json.loads(data)["FunctionArn"]
        run.extra["lambda_invoke_direct_ms"] = summarize(
            direct_invoke_ms(port, "trivial", args.roundtrip_n, auth_headers("lambda")))
        targets: dict[str, Target] = {}
        for sc, trig in SCENARIO_TRIGGERS.items():
            req: dict = {"PoolName": f"bench-{sc}"}
            if trig:
                req["LambdaConfig"] = {t: arns[name] for t, (name, _) in trig.items()}
            st, pool = c.idp("CreateUserPool", req)
            if st != 200:
                raise RuntimeError(f"CreateUserPool: {st} {pool}")
            pid = pool["UserPool"]["Id"]
            st, cl = c.idp("CreateUserPoolClient", {"UserPoolId": pid, "ClientName": "bench"})
            if st != 200:
                raise RuntimeError(f"CreateUserPoolClient: {st} {cl}")
            targets[sc] = Target(port, cl["UserPoolClient"]["ClientId"], pid, proc.pid)
        c.close()
        bench_signups(run, targets, args, {"plain": False, "presignup": False, "both": True})
        run.notes.append(
            f"ministack {srv.version} runs PreSignUp on SignUp but has no PostConfirmation trigger at all "
            "(the string does not occur in its package), so its `both` scenario runs one trigger, not two."
        )
    finally:
        startup.stop_tree(proc)
        if args.keep_logs:
            log(f"  ministack log: {work / 'server.log'}")
    return run


# --------------------------------------------------------------------------
# output


def fmt(x: float | None, nd: int = 2) -> str:
    if x is None or x != x:
        return "–"
    return f"{x:.{nd}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b or a != a:
        return "–"
    r = a / b
    return f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def build_summary(runs: list[ServerRun], args) -> list[dict]:
    out = []
    for r in runs:
        d: dict = {"server": r.name, "version": r.version, "notes": r.notes, **r.extra}
        if r.skipped:
            d["skipped"] = r.skipped
        for sc, res in r.results.items():
            d[sc] = {"seq": summarize(res["seq"])}
            if res["conc"]:
                d[sc]["conc"] = summarize(res["conc"], res["conc_wall"])
            seq_wall = sum(res["seq"]) / 1000.0
            if res.get("seq_cpu_s") and res["seq"]:
                d[sc]["seq"]["cpu_ms_per_signup"] = round(res["seq_cpu_s"] * 1000.0 / len(res["seq"]), 3)
            d[sc]["seq"]["per_s"] = round(len(res["seq"]) / seq_wall, 1) if seq_wall else None
        if "plain" in d:
            for sc in ("presignup", "both"):
                if sc in d:
                    d[sc]["overhead_p50_ms"] = round(d[sc]["seq"]["p50"] - d["plain"]["seq"]["p50"], 3)
        out.append(d)
    return out


def markdown(summary: list[dict], meta: dict, args) -> str:
    base = next((s for s in summary if s["server"] == "cognate" and "plain" in s), None)
    L = [
        f"Trigger benchmark — {meta['date']} — {meta['machine']} — 1-min load average "
        f"{meta['loadavg_1m'][0]:g} before / {meta['loadavg_1m'][1]:g} after (`uptime` before: {meta['uptime_before']})",
        "",
    ]
    if base is not None:
        inv = base.get("invocation_seq_ms", {})
        L += [
            "**cognate node runtime round trip** (trivial.js, warm worker):",
            "",
            "| measure | n | p50 ms | p90 ms | p99 ms |",
            "|---|---:|---:|---:|---:|",
        ]
        if inv:
            L.append(f"| in-server `durationMs` (sequential SignUps) | {inv['n']} | {fmt(inv['p50'])} | {fmt(inv['p90'])} | {fmt(inv['p99'])} |")
        invc = base.get("invocation_conc_ms", {})
        if invc:
            L.append(f"| in-server `durationMs` ({args.concurrency} concurrent SignUps, 2 warm workers) | {invc['n']} | {fmt(invc['p50'])} | {fmt(invc['p90'])} | {fmt(invc['p99'])} |")
        if "presignup" in base:
            L.append(f"| SignUp(PreSignUp) − SignUp(no trigger), median | {base['presignup']['seq']['n']} | "
                     f"{fmt(base['presignup']['overhead_p50_ms'])} | | |")
        L.append("")
    L += [
        "**Trigger round trip seen from outside** (direct Lambda Invoke of trivial.js from this script, keep-alive):",
        "",
        "| endpoint | n | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for s in summary:
        for key, label in (("shim_direct_ms", "this script's Lambda-Invoke shim (used by cognito-local)"),
                           ("lambda_invoke_direct_ms", "ministack Lambda Invoke API")):
            if key in s:
                v = s[key]
                L.append(f"| {label} | {v['n']} | {fmt(v['p50'])} | {fmt(v['p99'])} |")
    L += [
        "",
        f"**SignUp** (sequential: one keep-alive connection; concurrent: {args.concurrency} client threads):",
        "",
        "| server | pool | seq p50 ms | seq p99 ms | seq /s | trigger cost (p50 − plain p50) ms | server CPU ms / SignUp | "
        f"conc p50 ms | conc p99 ms | conc /s | seq p50 ÷ cognate's | cognate's conc /s ÷ this |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        if "skipped" in s and "plain" not in s:
            L.append(f"| {s['server']} | skipped: {s['skipped']} | | | | | | | | | | |")
            continue
        for sc in SCENARIOS:
            if sc not in s:
                continue
            v = s[sc]
            b = base.get(sc) if base else None
            conc = v.get("conc", {})
            L.append(
                "| {srv} | {sc} | {p50} | {p99} | {rps} | {ovh} | {cpu} | {cp50} | {cp99} | {crps} | {r1} | {r2} |".format(
                    srv=f"{s['server']} {s['version']}" if sc == "plain" else "",
                    sc=sc,
                    p50=fmt(v["seq"]["p50"]), p99=fmt(v["seq"]["p99"]), rps=fmt(v["seq"].get("per_s"), 0),
                    ovh=fmt(v.get("overhead_p50_ms")) if sc != "plain" else "",
                    cpu=fmt(v["seq"].get("cpu_ms_per_signup")),
                    cp50=fmt(conc.get("p50")), cp99=fmt(conc.get("p99")), crps=fmt(conc.get("per_s"), 0),
                    r1="1.0×" if s is base else ratio(v["seq"]["p50"], b["seq"]["p50"] if b else None),
                    r2="1.0×" if s is base else (ratio(b["conc"]["per_s"] if b and "conc" in b else None,
                                                       conc.get("per_s")) if conc else "–"),
                )
            )
    L.append("")
    for s in summary:
        for n in s.get("notes", []):
            L.append(f"- {n}")
    return "\n".join(L)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


BENCHES = {"cognate": bench_cognate, "cognito-local": bench_cognito_local, "ministack": bench_ministack}


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--lambda-shim":
        return lambda_shim_main(int(sys.argv[2]), sys.argv[3:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(BENCHES), help="comma-separated subset of: " + ", ".join(BENCHES))
    ap.add_argument("--n", type=int, default=600, help="sequential sign-ups per pool (default 600)")
    ap.add_argument("--rounds", type=int, default=3, help="sequential rounds, interleaved across pools (default 3)")
    ap.add_argument("--concurrency", type=int, default=8, help="client threads for the concurrent run (default 8; 1 = skip)")
    ap.add_argument("--conc-n", type=int, default=400, help="sign-ups per pool in the concurrent run (default 400)")
    ap.add_argument("--warmup", type=int, default=30, help="untimed sign-ups per pool first (default 30)")
    ap.add_argument("--roundtrip-n", type=int, default=1000, help="direct Lambda Invokes timed per peer (default 1000)")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release/cognate")
    ap.add_argument("--cognate-bin", help="benchmark this cognate binary")
    ap.add_argument("--cognate-version", help="version label for the cognate row (default: its --version)")
    ap.add_argument("--keep-logs", action="store_true", help="keep server logs (prints where)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ap.add_argument("--json-out", help="also write the JSON (raw summaries) to this file")
    args = ap.parse_args()
    for k in ("n", "rounds", "warmup", "conc_n", "roundtrip_n", "concurrency"):
        if getattr(args, k) < 1 or getattr(args, k) > 100_000:
            ap.error(f"--{k.replace('_', '-')} must be 1..100000")
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    for w in wanted:
        if w not in BENCHES:
            ap.error(f"unknown server {w}")
    if shutil.which("node") is None:
        ap.error("node is required (the trigger handlers are node)")

    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": startup.machine_info(),
            "uptime_before": uptime(), "node": startup.node_version()}
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="cognate-triggers-bench-"))
    runs: list[ServerRun] = []
    try:
        for name in wanted:  # sequential on purpose: one server at a time
            try:
                runs.append(BENCHES[name](args, scratch))
            except SystemExit:
                raise
            except Exception as e:
                log(f"{name}: FAILED: {e}")
                runs.append(ServerRun(name, "?", skipped=str(e)))
    finally:
        if not args.keep_logs:
            shutil.rmtree(scratch, ignore_errors=True)
    meta["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    meta["uptime_after"] = uptime()
    summary = build_summary(runs, args)
    doc = {"meta": meta, "args": vars(args), "results": summary}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(markdown(summary, meta, args))
        print(f"\n`uptime` after: {meta['uptime_after']}")
    return 0 if any("plain" in s for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
