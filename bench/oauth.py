#!/usr/bin/env python3
"""OAuth 2.0 client_credentials benchmark: token issuance, cognate against peers.

Measures, one server at a time on this machine, how many access tokens a server
issues per second at ``POST /oauth2/token`` with ``grant_type=client_credentials``
(RFC 6749 §4.4), the client authenticated with HTTP Basic (client id and secret)
and one resource-server scope requested:

  * setup through boto3 (cognito-idp, endpoint_url = the server): CreateUserPool,
    CreateUserPoolDomain, CreateResourceServer (identifier ``bench-api``, scope
    ``read``), CreateUserPoolClient with GenerateSecret, AllowedOAuthFlows
    [client_credentials], AllowedOAuthFlowsUserPoolClient and AllowedOAuthScopes
    [bench-api/read];
  * one probe request: a server that does not answer it with 200 and an
    ``access_token`` is reported as not supporting the grant (with the answer it
    gave) and is not loaded;
  * load: --concurrency keep-alive HTTP/1.1 connections (asyncio protocols over
    raw sockets, in --procs load-generator processes), each sending the next
    request as soon as the previous answer is in, for --warmup seconds (not
    counted) and then --duration seconds (counted); answers still in flight at
    the deadline complete but are not counted;
  * every answer is checked: HTTP 200 and a JSON body whose ``access_token`` is a
    three-part JWT; anything else counts as a failure;
  * CPU: user + system time of the server's process tree and of the load
    generator processes (/proc/PID/stat, getrusage), and of the whole machine
    (/proc/stat), over the counted window.

Servers: cognate (this repository, release build), ministack (PyPI), moto
(PyPI) and cognito-local (npm). Peers are installed exactly as
bench/startup.py does it (that module's helpers are imported, not copied), into
bench/.peers/ or the directory given with --peers-dir. moto and cognito-local
have no client_credentials grant; they are set up and probed only, so the table
shows what they answer. The setup needs boto3: if this Python lacks it, the
script re-runs itself with the peers' venv Python (moto brings boto3 along).

Run ``python3 bench/oauth.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import resource
import secrets
import shutil
import socket
import sys
import tempfile
import time
import types
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
import startup  # noqa: E402  (bench/startup.py: peer install, ports, process-tree handling)
import triggers  # noqa: E402  (bench/triggers.py: spawn, readiness, CPU of a process tree, percentiles)

HOST = startup.HOST
TOKEN_PATH = "/oauth2/token"
RS_IDENTIFIER = "bench-api"
RS_SCOPE = "read"
SCOPE = f"{RS_IDENTIFIER}/{RS_SCOPE}"
REGION = "us-east-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
REEXEC_MARK = "COGNATE_OAUTH_BENCH_REEXEC"


def log(msg: str) -> None:
    startup.log(msg)


# --------------------------------------------------------------------------
# boto3 (setup only)


def ensure_boto3(args) -> None:
    """Import boto3, or re-run this script under the peers' venv Python, which has it."""
    try:
        import boto3  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get(REEXEC_MARK):
        raise SystemExit("boto3 is not importable, not even from the peers' venv")
    log(f"boto3 not importable here: re-running with {startup.VENV_PY} (moto, which brings boto3, installed there if missing)")
    startup.ensure_venv_pkg("moto", f"moto[server]=={startup.MOTO_VERSION}", startup.MOTO_VERSION)
    env = dict(os.environ)
    env[REEXEC_MARK] = "1"
    py = str(startup.VENV_PY)
    os.execve(py, [py, str(Path(__file__).resolve()), *sys.argv[1:]], env)


def idp_client(port: int):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "cognito-idp",
        endpoint_url=f"http://{HOST}:{port}",
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        # No retries: an operation a server lacks should fail at once, not after backoff.
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60),
    )


def short_error(e: BaseException) -> str:
    msg = " ".join(str(e).split()).replace("|", "\\|")
    return msg if len(msg) <= 200 else msg[:197] + "..."


@dataclass
class Setup:
    pool_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    domain: str = ""
    # Steps that failed but did not stop the run (the probe decides): op -> error.
    failed: dict[str, str] = field(default_factory=dict)


def setup_pool(port: int) -> Setup:
    """Create pool, domain, resource server and a confidential client_credentials client."""
    idp = idp_client(port)
    s = Setup()
    s.pool_id = idp.create_user_pool(PoolName="oauth-bench")["UserPool"]["Id"]
    s.domain = "oauth-bench-" + secrets.token_hex(4)
    try:
        idp.create_user_pool_domain(UserPoolId=s.pool_id, Domain=s.domain)
    except Exception as e:  # noqa: BLE001  (the probe decides whether it mattered)
        s.failed["CreateUserPoolDomain"] = short_error(e)
        s.domain = ""
    try:
        idp.create_resource_server(
            UserPoolId=s.pool_id,
            Identifier=RS_IDENTIFIER,
            Name="oauth bench API",
            Scopes=[{"ScopeName": RS_SCOPE, "ScopeDescription": "benchmark scope"}],
        )
    except Exception as e:  # noqa: BLE001
        s.failed["CreateResourceServer"] = short_error(e)
    client = idp.create_user_pool_client(
        UserPoolId=s.pool_id,
        ClientName="oauth-bench-m2m",
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=[SCOPE],
    )["UserPoolClient"]
    s.client_id = client["ClientId"]
    s.client_secret = client.get("ClientSecret") or ""
    if not s.client_secret:
        raise RuntimeError("CreateUserPoolClient with GenerateSecret=true returned no ClientSecret")
    return s


# --------------------------------------------------------------------------
# the token request


def token_request(port: int, path: str, setup: Setup) -> bytes:
    """The exact bytes every request sends (HTTP/1.1, keep-alive)."""
    # Authorization: Basic base64(client_id:client_secret), as the Cognito docs show it
    # (no form-encoding of the two parts; the secrets here are [A-Za-z0-9+/=] anyway).
    basic = base64.b64encode(f"{setup.client_id}:{setup.client_secret}".encode()).decode()
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPE}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        f"Authorization: Basic {basic}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def excerpt(body: bytes, limit: int = 120) -> str:
    """A body as one short line (for logs and table cells)."""
    text = " ".join(body[: limit * 2].decode(errors="replace").split()).replace("|", "\\|")
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_answer(status: int, body: bytes) -> str | None:
    """None if the answer is a token; otherwise what is wrong with it."""
    if status != 200:
        return f"HTTP {status} {excerpt(body)}"
    try:
        tok = json.loads(body).get("access_token")
    except (ValueError, AttributeError):
        return f"HTTP 200, not a JSON object: {excerpt(body)}"
    if not isinstance(tok, str) or tok.count(".") != 2:
        return f"HTTP 200 without a JWT access_token: {excerpt(body)}"
    return None


def jwt_claims(token: str) -> dict:
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}


def one_exchange(port: int, raw: bytes, timeout: float = 30.0) -> tuple[int, bytes, dict[str, str]]:
    """Send one raw request on a fresh connection; (status, body, headers) of the answer."""
    import http.client

    # Replay the prepared bytes through http.client's parser rather than hand-parse here.
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:])
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def probe(port: int, setup: Setup) -> tuple[str | None, dict]:
    """Find the token endpoint: (path, first token's details) or (None, {"answers": ...}).

    ``POST /oauth2/token`` at the root of the listener first. If that is a 404 or
    405, the path of the pool's discovery document's ``token_endpoint`` is tried
    as well (cognate's openid-configuration names ``<issuer>/oauth2/token``).
    """
    candidates = [TOKEN_PATH]
    answers: dict[str, str] = {}
    i = 0
    while i < len(candidates):
        path = candidates[i]
        i += 1
        try:
            status, body, headers = one_exchange(port, token_request(port, path, setup))
        except OSError as e:
            answers[path] = f"no answer ({e})"
            continue
        problem = check_answer(status, body)
        if problem is None:
            answer = json.loads(body)
            claims = jwt_claims(answer["access_token"])
            return path, {
                "answer_keys": sorted(answer),
                "token_type": answer.get("token_type"),
                "expires_in": answer.get("expires_in"),
                "content_type": headers.get("content-type"),
                "claims": {k: claims.get(k) for k in ("token_use", "client_id", "scope", "iss", "sub") if k in claims},
                "access_token_bytes": len(answer["access_token"]),
                "answer_bytes": len(body),
            }
        answers[path] = problem
        if status in (404, 405) and i == 1:
            disc = discovery_token_path(port, setup.pool_id)
            if disc and disc not in candidates:
                candidates.append(disc)
    return None, {"answers": answers}


def discovery_token_path(port: int, pool_id: str) -> str | None:
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", f"/{pool_id}/.well-known/openid-configuration")
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            return None
        url = json.loads(data).get("token_endpoint")
        if not isinstance(url, str):
            return None
        return urllib.parse.urlsplit(url).path or None
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return None
    finally:
        conn.close()


# --------------------------------------------------------------------------
# load generator (runs in --procs forked processes)


class Stats:
    def __init__(self) -> None:
        self.lat_ms: list[float] = []  # counted window only
        self.ok = 0
        self.failed = 0
        self.warm_ok = 0
        self.warm_failed = 0
        self.conn_errors = 0
        self.errors: dict[str, int] = {}

    def failure(self, what: str, counted: bool) -> None:
        if counted:
            self.failed += 1
        else:
            self.warm_failed += 1
        key = what[:200]
        if len(self.errors) < 20 or key in self.errors:
            self.errors[key] = self.errors.get(key, 0) + 1


class TokenConn(asyncio.Protocol):
    """One keep-alive connection: send, parse the answer, check it, send again."""

    def __init__(self, gen: "Generator") -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.head: tuple[int, int | None, bool, bool] | None = None  # status, length, chunked, close
        self.t0 = 0.0
        self.busy = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self) -> None:
        self.busy = True
        self.t0 = time.perf_counter()
        self.transport.write(self.gen.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.busy:
            body = self._take_answer()
            if body is None:
                return
            status, _, _, close = self.head  # type: ignore[misc]
            self.head = None
            self.busy = False
            self.gen.answered(self, status, body, close)

    def _take_answer(self) -> bytes | None:
        buf = self.buf
        if self.head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return None
            lines = bytes(buf[:end]).split(b"\r\n")
            del buf[: end + 4]
            try:
                status = int(lines[0].split(None, 2)[1])
            except (IndexError, ValueError):
                status = 0
            length: int | None = None
            chunked = close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if lines[0].startswith(b"HTTP/1.0") and b"keep-alive" not in bytes(b"\n".join(lines[1:])).lower():
                close = True
            if 100 <= status < 200:
                return self._take_answer()  # skip an interim answer
            self.head = (status, length, chunked, close)
        _, length, chunked, close = self.head
        if chunked:
            return self._take_chunked()
        if length is None:
            return None  # body runs to the end of the connection: handled in connection_lost
        if len(buf) < length:
            return None
        body = bytes(buf[:length])
        del buf[:length]
        return body

    def _take_chunked(self) -> bytes | None:
        buf = self.buf
        pos = 0
        parts = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            if size == 0:
                # Trailers (none expected) end with an empty line.
                end = buf.find(b"\r\n\r\n", eol)
                if end < 0:
                    if buf[eol : eol + 4] == b"\r\n\r\n":
                        end = eol
                    else:
                        return None
                del buf[: end + 4]
                return b"".join(parts)
            start = eol + 2
            if len(buf) < start + size + 2:
                return None
            parts.append(bytes(buf[start : start + size]))
            pos = start + size + 2

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        if self.busy and self.head is not None and self.head[1] is None and not self.head[2]:
            # An answer delimited by the end of the connection.
            status = self.head[0]
            self.busy = False
            self.gen.answered(self, status, bytes(self.buf), True)
        elif self.busy:
            self.busy = False
            self.gen.lost(self, exc)


class Generator:
    def __init__(self, port: int, request: bytes, t_start: float, t_count: float, t_end: float) -> None:
        self.port = port
        self.request = request
        self.t_start = t_start
        self.t_count = t_count
        self.t_end = t_end
        self.stats = Stats()
        self.conns: set[TokenConn] = set()
        self.cpu_marks: list[float] = []
        self.inflight_done: asyncio.Event | None = None

    def _cpu(self) -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    async def connect(self) -> TokenConn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: TokenConn(self), HOST, self.port)
        self.conns.add(conn)
        return conn

    def answered(self, conn: TokenConn, status: int, body: bytes, close: bool) -> None:
        now = time.perf_counter()
        mono = time.monotonic()
        counted = self.t_count <= mono < self.t_end
        problem = check_answer(status, body)
        if problem is None:
            if counted:
                self.stats.ok += 1
                self.stats.lat_ms.append((now - conn.t0) * 1000.0)
            elif mono < self.t_count:
                self.stats.warm_ok += 1
        elif mono < self.t_end:
            self.stats.failure(problem, counted)
        if close:
            conn.transport.close()  # type: ignore[union-attr]
            self.conns.discard(conn)
            self._replace()
        elif mono < self.t_end:
            conn.send()
        self._check_done()

    def lost(self, conn: TokenConn, exc) -> None:
        mono = time.monotonic()
        self.conns.discard(conn)
        if mono < self.t_end:
            self.stats.conn_errors += 1
            self.stats.failure(f"connection lost mid-request: {exc!r}", self.t_count <= mono)
            self._replace()
        self._check_done()

    def _replace(self) -> None:
        if time.monotonic() >= self.t_end:
            return

        async def reopen() -> None:
            try:
                conn = await self.connect()
            except OSError as e:
                self.stats.conn_errors += 1
                self.stats.failure(f"connect failed: {e!r}", self.t_count <= time.monotonic())
                await asyncio.sleep(0.05)
                return self._replace()
            if time.monotonic() < self.t_end:
                conn.send()

        asyncio.get_running_loop().create_task(reopen())

    def _check_done(self) -> None:
        if self.inflight_done is not None and not any(c.busy for c in self.conns):
            self.inflight_done.set()

    async def run(self, n_conns: int, grace: float) -> dict:
        loop = asyncio.get_running_loop()
        conns = [await self.connect() for _ in range(n_conns)]
        await asyncio.sleep(max(0.0, self.t_start - time.monotonic()))
        for c in conns:
            c.send()
        loop.call_at(self.t_count, lambda: self.cpu_marks.append(self._cpu()))
        loop.call_at(self.t_end, lambda: self.cpu_marks.append(self._cpu()))
        await asyncio.sleep(max(0.0, self.t_end - time.monotonic()))
        self.inflight_done = asyncio.Event()
        self._check_done()
        unfinished = 0
        try:
            await asyncio.wait_for(self.inflight_done.wait(), grace)
        except asyncio.TimeoutError:
            unfinished = sum(1 for c in self.conns if c.busy)
        for c in list(self.conns):
            c.transport.close()  # type: ignore[union-attr]
        await asyncio.sleep(0)
        s = self.stats
        cpu = (self.cpu_marks[1] - self.cpu_marks[0]) if len(self.cpu_marks) == 2 else None
        return {
            "lat_ms": s.lat_ms, "ok": s.ok, "failed": s.failed, "warm_ok": s.warm_ok,
            "warm_failed": s.warm_failed, "conn_errors": s.conn_errors, "errors": s.errors,
            "unfinished": unfinished, "cpu_s": cpu,
        }


def generator_main(port: int, request: bytes, n_conns: int, t_start: float, t_count: float, t_end: float,
                   grace: float, out) -> None:
    try:
        gen = Generator(port, request, t_start, t_count, t_end)
        out.send(asyncio.run(gen.run(n_conns, grace)))
    except BaseException as e:  # reported by the parent
        out.send({"fatal": f"{type(e).__name__}: {e}"})
    finally:
        out.close()


# --------------------------------------------------------------------------
# CPU of the machine


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user/nice)
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def drive_load(port: int, request: bytes, server_pid: int, args) -> dict:
    """--warmup s of load, then --duration s counted; one server, --procs generator processes."""
    ctx = multiprocessing.get_context("fork")
    procs = max(1, min(args.procs, args.concurrency))
    per = [args.concurrency // procs + (1 if i < args.concurrency % procs else 0) for i in range(procs)]
    t_start = time.monotonic() + 0.5 + 0.1 * procs  # time for the workers to fork and connect
    t_count = t_start + args.warmup
    t_end = t_count + args.duration
    workers = []
    for n in per:
        rx, tx = ctx.Pipe(duplex=False)
        p = ctx.Process(target=generator_main, args=(port, request, n, t_start, t_count, t_end, args.grace, tx),
                        daemon=True)
        p.start()
        tx.close()
        workers.append((p, rx))
    time.sleep(max(0.0, t_count - time.monotonic()))
    srv0, mach0 = triggers.tree_cpu_s(server_pid), machine_cpu_s()
    w0 = time.monotonic()
    time.sleep(max(0.0, t_end - time.monotonic()))
    srv1, mach1 = triggers.tree_cpu_s(server_pid), machine_cpu_s()
    wall = time.monotonic() - w0
    results = []
    for p, rx in workers:
        if rx.poll(args.grace + 30):
            results.append(rx.recv())
        else:
            results.append({"fatal": "load generator process did not report"})
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    fatal = [r["fatal"] for r in results if "fatal" in r]
    if fatal:
        raise RuntimeError("load generator failed: " + fatal[0])
    lat = sorted(x for r in results for x in r["lat_ms"])
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    gen_cpu = [r["cpu_s"] for r in results if r["cpu_s"] is not None]
    ok = sum(r["ok"] for r in results)
    return {
        "concurrency": args.concurrency,
        "procs": procs,
        "warmup_s": args.warmup,
        "duration_s": round(wall, 3),
        "ok": ok,
        "failed": sum(r["failed"] for r in results),
        "warmup_ok": sum(r["warm_ok"] for r in results),
        "warmup_failed": sum(r["warm_failed"] for r in results),
        "connection_errors": sum(r["conn_errors"] for r in results),
        "unfinished_at_end": sum(r["unfinished"] for r in results),
        "errors": errors,
        "tokens_per_s": round(ok / wall, 1) if wall > 0 else None,
        "latency_ms": {
            "p50": round(triggers.pct(lat, 50), 3) if lat else None,
            "p90": round(triggers.pct(lat, 90), 3) if lat else None,
            "p99": round(triggers.pct(lat, 99), 3) if lat else None,
            "max": round(lat[-1], 3) if lat else None,
        },
        "server_cpu_s": round(srv1 - srv0, 3),
        "server_cpu_ms_per_token": round((srv1 - srv0) * 1000.0 / ok, 4) if ok else None,
        "server_cores": round((srv1 - srv0) / wall, 2) if wall > 0 else None,
        "loadgen_cpu_s": round(sum(gen_cpu), 3),
        # Busiest generator process, in cores: near 1.0 means that process was the limit.
        "loadgen_max_proc_cores": round(max(gen_cpu) / wall, 2) if gen_cpu and wall > 0 else None,
        "loadgen_cores": round(sum(gen_cpu) / wall, 2) if gen_cpu and wall > 0 else None,
        "machine_busy_cores": round((mach1[0] - mach0[0]) / wall, 2) if wall > 0 else None,
        "machine_cores": os.cpu_count(),
    }


# --------------------------------------------------------------------------
# servers


@dataclass
class ServerRun:
    name: str
    version: str = "?"
    endpoint: str | None = None
    setup: dict = field(default_factory=dict)
    first_token: dict = field(default_factory=dict)
    load: dict = field(default_factory=dict)
    unsupported: str | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


def cognate_launch(args) -> tuple[str, "callable"]:
    binary = triggers.cognate_binary(args)
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

    def launch(work: Path, port: int) -> startup.Launch:
        env = startup.base_env()
        env["RUST_LOG"] = "warn"  # no per-request log lines
        argv = [str(binary), "serve", "--listen", f"{HOST}:{port}", "--data-dir", str(work / "data")]
        return startup.Launch(argv=argv, env=env, cwd=work)

    return version, launch


def peer_launch(name: str, run: "ServerRun") -> tuple[str, "callable"]:
    srv = startup.PREPARERS[name](types.SimpleNamespace(peer_runs=1))
    if name == "ministack":
        # ministack signs its JWTs (RS256, 2048-bit key) only when `cryptography` imports; it
        # is not one of its declared dependencies (moto brings it into the shared venv).
        crypto = startup.venv_pkg_version("cryptography")
        run.notes.append(
            f"ministack: `cryptography` {crypto} is in its venv, so its tokens are RS256-signed (2048-bit key)."
            if crypto else
            "ministack: `cryptography` is NOT in its venv, so its tokens carry random bytes instead of an RS256 "
            "signature (cheaper than real signing)."
        )

    def launch(work: Path, port: int) -> startup.Launch:
        spec = srv.launch(work, port)
        if name == "ministack":
            spec.env["LOG_LEVEL"] = "WARNING"
        return spec

    return srv.version, launch


def bench_server(name: str, args, scratch: Path) -> ServerRun:
    run = ServerRun(name)
    try:
        if name == "cognate":
            run.version, launch = cognate_launch(args)
        else:
            run.version, launch = peer_launch(name, run)
    except SystemExit as e:  # cognate: build failed or no binary; the peers are still measured
        run.skipped = f"not run: {e}"
        log(f"skipping {name}: {e}")
        return run
    except Exception as e:  # install failure: skip this peer
        run.skipped = f"not installed: {e}"
        log(f"skipping {name}: {e}")
        return run
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=scratch))
    port = startup.free_port()
    spec = launch(work, port)
    log(f"{name} {run.version}: starting on port {port}")
    proc = triggers.spawn(spec.argv, spec.env, spec.cwd, work / "server.log")
    try:
        try:
            triggers.wait_http(port, proc)
        except RuntimeError as e:
            run.skipped = f"did not start: {e}"
            log(f"  {name}: {run.skipped}\n  --- server log tail ---\n{startup.tail(work / 'server.log')}\n  ---")
            return run
        try:
            s = setup_pool(port)
        except Exception as e:  # noqa: BLE001
            run.skipped = f"setup failed: {short_error(e)}"
            log(f"  {name}: {run.skipped}")
            return run
        run.setup = {"pool_id": s.pool_id, "client_id": s.client_id, "domain": s.domain or None,
                     "failed_steps": s.failed}
        for op, err in s.failed.items():
            log(f"  {name}: {op} failed (continuing): {err}")
        path, info = probe(port, s)
        if path is None:
            answers = info["answers"]
            run.unsupported = "; ".join(f"POST {p} → {a}" for p, a in answers.items())
            log(f"  {name}: NO client_credentials token endpoint: {run.unsupported}")
            if name == "cognate":
                log("  cognate does not issue client_credentials tokens at POST /oauth2/token (yet); "
                    "measuring the peers anyway")
            return run
        run.endpoint = path
        run.first_token = info
        log(f"  {name}: POST {path} → 200, token_type={info['token_type']!r} expires_in={info['expires_in']!r} "
            f"claims={json.dumps(info['claims'])}")
        request = token_request(port, path, s)
        log(f"  {name}: {args.concurrency} connections, {args.warmup:g} s warm-up + {args.duration:g} s counted ...")
        run.load = drive_load(port, request, proc.pid, args)
        ld = run.load
        log(f"  {name}: {ld['tokens_per_s']:.0f} tokens/s, p50 {ld['latency_ms']['p50']} ms, "
            f"p99 {ld['latency_ms']['p99']} ms, {ld['failed']} failed, server {ld['server_cores']} cores, "
            f"load generator {ld['loadgen_cores']} cores, machine {ld['machine_busy_cores']}/{ld['machine_cores']} busy")
        if ld["failed"] or ld["warmup_failed"]:
            for k, v in list(ld["errors"].items())[:5]:
                log(f"    {v}× {k}")
        if proc.poll() is not None:
            run.notes.append(f"{name} exited (code {proc.returncode}) during the run")
    finally:
        startup.stop_tree(proc)
        if args.keep_logs:
            log(f"  {name} log: {work / 'server.log'}")
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
    return f"{r:.2f}×" if r < 10 else (f"{r:.1f}×" if r < 100 else f"{r:.0f}×")


def summary(runs: list[ServerRun]) -> list[dict]:
    out = []
    for r in runs:
        d: dict = {"server": r.name, "version": r.version}
        for k in ("endpoint", "unsupported", "skipped"):
            if getattr(r, k):
                d[k] = getattr(r, k)
        for k in ("setup", "first_token", "load"):
            if getattr(r, k):
                d[k] = getattr(r, k)
        if r.notes:
            d["notes"] = r.notes
        out.append(d)
    return out


def markdown(rows: list[dict], meta: dict, args) -> str:
    base = next((s for s in rows if s["server"] == "cognate" and s.get("load", {}).get("ok")), None)
    b_tps = base["load"]["tokens_per_s"] if base else None
    b_cpu = base["load"]["server_cpu_ms_per_token"] if base else None
    L = [
        f"OAuth client_credentials benchmark — {meta['date']} — {meta['machine']} — 1-min load average "
        f"{meta['loadavg_1m'][0]:g} before / {meta['loadavg_1m'][1]:g} after",
        "",
        f"`POST /oauth2/token` `grant_type=client_credentials&scope={SCOPE}`, HTTP Basic client auth; "
        f"{args.concurrency} keep-alive connections ({meta['procs']} load-generator process"
        f"{'es' if meta['procs'] != 1 else ''}), {args.warmup:g} s warm-up, {args.duration:g} s counted.",
        "",
        "| server | version | tokens/s | p50 ms | p99 ms | ok | failed | server CPU ms / token | server cores | "
        "load-gen cores | machine busy cores | cognate's tokens/s ÷ this | CPU / token ÷ cognate's |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in rows:
        label = s["server"]
        if "load" not in s:
            why = s.get("skipped") or ("no client_credentials grant: " + s["unsupported"] if s.get("unsupported")
                                       else "not measured")
            L.append(f"| {label} | {s['version']} | {why} | | | | | | | | | | |")
            continue
        ld = s["load"]
        is_base = s is base
        L.append(
            "| {srv} | {ver} | {tps} | {p50} | {p99} | {ok} | {failed} | {cpu} | {sc} | {gc} | {mc} | {r1} | {r2} |".format(
                srv=label, ver=s["version"], tps=fmt(ld["tokens_per_s"], 0),
                p50=fmt(ld["latency_ms"]["p50"]), p99=fmt(ld["latency_ms"]["p99"]),
                ok=ld["ok"], failed=ld["failed"] + ld["unfinished_at_end"],
                cpu=fmt(ld["server_cpu_ms_per_token"], 3), sc=fmt(ld["server_cores"]),
                gc=fmt(ld["loadgen_cores"]), mc=f"{fmt(ld['machine_busy_cores'])} / {ld['machine_cores']}",
                r1="1.0×" if is_base else ratio(b_tps, ld["tokens_per_s"]),
                r2="1.0×" if is_base else ratio(ld["server_cpu_ms_per_token"], b_cpu),
            )
        )
    L.append("")
    if base is None:
        cg = next((s for s in rows if s["server"] == "cognate"), None)
        if cg is not None:
            why = cg.get("skipped") or cg.get("unsupported") or "no successful token"
            L.append(f"- **cognate was not measured** ({why}), so there are no ratios.")
    for s in rows:
        ft = s.get("first_token")
        if ft:
            L.append(f"- {s['server']}: `POST {s['endpoint']}` answers keys {', '.join(ft['answer_keys'])}; "
                     f"token_type {ft['token_type']!r}, expires_in {ft['expires_in']!r}; access token claims "
                     f"{json.dumps(ft['claims'])}.")
        failed_steps = s.get("setup", {}).get("failed_steps") or {}
        for op, err in failed_steps.items():
            L.append(f"- {s['server']}: setup step {op} failed: {err}")
        ld = s.get("load", {})
        if ld.get("loadgen_max_proc_cores") is not None and ld["loadgen_max_proc_cores"] >= 0.85:
            L.append(f"- {s['server']}: a load-generator process used {ld['loadgen_max_proc_cores']:.2f} cores: the "
                     "load generator may have been the limit (try --procs 2).")
        if ld.get("errors"):
            top = sorted(ld["errors"].items(), key=lambda kv: -kv[1])[:3]
            L.append(f"- {s['server']} failures: " + "; ".join(f"{v}× {k}" for k, v in top))
        for n in s.get("notes", []):
            L.append(f"- {n}")
    L += [
        "",
        "tokens/s = answers that were HTTP 200 with a three-part JWT `access_token`, completed inside the counted "
        "window, ÷ its length. Latency is per request on its connection. Server CPU = user + system time of the "
        "server's process tree over the window; load-gen and machine cores = CPU seconds ÷ wall seconds "
        "(machine = everything on the host, builds of other people included).",
    ]
    return "\n".join(L)


SERVERS = ("cognate", "ministack", "moto", "cognito-local")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma-separated subset of: " + ", ".join(SERVERS) + " (default: all)")
    ap.add_argument("--concurrency", type=int, default=16, help="keep-alive connections sending requests (default 16)")
    ap.add_argument("--duration", type=float, default=10.0, help="counted seconds per server (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds of load first (default 2)")
    ap.add_argument("--procs", type=int, default=1,
                    help="load-generator processes sharing the connections (default 1; 2 if the generator is the limit)")
    ap.add_argument("--grace", type=float, default=10.0, help="seconds to wait for answers in flight at the end (10)")
    ap.add_argument("--peers-dir", help="install/use peers here (node/ and venv/ inside) instead of bench/.peers")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release/cognate")
    ap.add_argument("--cognate-bin", help="benchmark this cognate binary")
    ap.add_argument("--cognate-version", help="version label for the cognate row (default: its --version)")
    ap.add_argument("--keep-logs", action="store_true", help="keep server logs (prints where)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ap.add_argument("--json-out", help="also write the JSON to this file")
    args = ap.parse_args()
    if not 1 <= args.concurrency <= 1024:
        ap.error("--concurrency must be 1..1024")
    if not 1 <= args.procs <= 64:
        ap.error("--procs must be 1..64")
    if not (0 < args.duration <= 600 and 0 <= args.warmup <= 600):
        ap.error("--duration must be in (0, 600] and --warmup in [0, 600]")
    if not sys.platform.startswith("linux"):
        ap.error("this benchmark reads /proc and runs on Linux only")
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SERVERS]
    if unknown:
        ap.error(f"unknown server(s): {', '.join(unknown)}")
    if "cognate" in wanted:  # cognate first: it is the baseline of the ratios
        wanted.remove("cognate")
        wanted.insert(0, "cognate")
    if args.peers_dir:
        peers = Path(args.peers_dir).resolve()
        startup.PEERS_DIR = peers
        startup.NODE_DIR = peers / "node"
        startup.VENV_DIR = peers / "venv"
        startup.VENV_PY = peers / "venv" / "bin" / "python"
    ensure_boto3(args)

    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": startup.machine_info(),
            "uptime_before": triggers.uptime(), "python": sys.version.split()[0],
            "procs": max(1, min(args.procs, args.concurrency)),
            "request": f"POST /oauth2/token grant_type=client_credentials&scope={SCOPE}, Authorization: Basic"}
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="cognate-oauth-bench-"))
    runs: list[ServerRun] = []
    try:
        for name in wanted:  # sequential on purpose: one server at a time
            try:
                runs.append(bench_server(name, args, scratch))
            except SystemExit:
                raise
            except Exception as e:  # noqa: BLE001
                log(f"{name}: FAILED: {e}")
                runs.append(ServerRun(name, skipped=f"failed: {short_error(e)}"))
    finally:
        if not args.keep_logs:
            shutil.rmtree(scratch, ignore_errors=True)
    meta["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    meta["uptime_after"] = triggers.uptime()
    rows = summary(runs)
    doc = {"meta": meta, "args": vars(args), "results": rows}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(markdown(rows, meta, args))
        print(f"\n`uptime` before: {meta['uptime_before']}  \n`uptime` after: {meta['uptime_after']}")
    return 0 if any(s.get("load", {}).get("ok") for s in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
