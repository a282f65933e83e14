#!/usr/bin/env python3
"""Startup benchmark: cognate against other local Cognito emulators.

Measures, in one run on this machine and one server at a time:

  * cold start to first answer: wall time from process spawn until the first
    200 answer to a Cognito ``ListUserPools`` call (polled every 2 ms);
  * idle RSS: about one second after that first answer, the summed VmRSS of
    the server process and all of its descendants.

Servers: cognate (this repository, release build), cognito-local (npm),
moto server and ministack (PyPI). The peers are installed on first use into
bench/.peers/ at pinned versions; a peer whose install fails is skipped.

Standard library only. Run ``python3 bench/startup.py --help``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / ".peers"
NODE_DIR = PEERS_DIR / "node"
VENV_DIR = PEERS_DIR / "venv"
VENV_PY = VENV_DIR / "bin" / "python"

# Pinned peer versions (latest on their registries when this was written).
COGNITO_LOCAL_VERSION = "5.3.0"
MOTO_VERSION = "5.2.5"
MINISTACK_VERSION = "1.5.33"

HOST = "127.0.0.1"
PROBE_BODY = b'{"MaxResults": 10}'
PROBE_HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
    # moto routes on the service named in the credential scope; the
    # signature itself is not checked by any of the servers.
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/cognito-idp/aws4_request, "
        "SignedHeaders=host, Signature=00"
    ),
    "X-Amz-Date": "20240101T000000Z",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# /proc helpers


def _ppid_map() -> dict[int, int]:
    """pid -> ppid for every process visible in /proc."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may contain
        # spaces or parentheses; the fields after the last ')' are fixed.
        rest = data[data.rfind(b")") + 2 :].split()
        try:
            out[int(entry)] = int(rest[1])
        except (IndexError, ValueError):
            continue
    return out


def descendants(pid: int) -> list[int]:
    """All live descendants of pid (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for child, parent in _ppid_map().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    stack = [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in found:
                found.append(c)
                stack.append(c)
    return found


def vm_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie / kernel thread without VmRSS


def tree_rss_mib(pid: int) -> tuple[float, int]:
    """(summed VmRSS in MiB, number of processes) of pid and its descendants."""
    pids = [pid] + descendants(pid)
    return sum(vm_rss_kib(p) for p in pids) / 1024.0, len(pids)


# --------------------------------------------------------------------------
# process handling


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def stop_tree(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop the server and everything it started.

    The server runs in its own session, so its process group id is its pid;
    descendants that left the group are collected up front and signalled by
    pid. SIGTERM first, SIGKILL after ``grace`` seconds.
    """
    pids = [proc.pid] + descendants(proc.pid)

    def signal_all(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for p in pids:
            try:
                os.kill(p, sig)
            except (ProcessLookupError, PermissionError):
                pass

    if proc.poll() is None:
        signal_all(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    signal_all(signal.SIGKILL)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"  warning: pid {proc.pid} did not exit after SIGKILL")
    # Wait until the descendants (reaped by init, not by us) are gone too.
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(vm_rss_kib(p) for p in pids[1:]):
        time.sleep(0.02)


def probe_once(port: int, timeout: float) -> int | None:
    """One ListUserPools call; the HTTP status, or None if it did not get one.

    A 200 only counts when the body is a real ListUserPools answer (a JSON
    object with a ``UserPools`` list); any other 200 is reported as 0.
    """
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/", body=PROBE_BODY, headers=PROBE_HEADERS)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 200:
            try:
                ok = isinstance(json.loads(body).get("UserPools"), list)
            except (ValueError, AttributeError):
                ok = False
            return 200 if ok else 0
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@dataclass
class Sample:
    start_ms: float | None = None
    rss_mib: float | None = None
    nprocs: int | None = None
    error: str | None = None


def measure_once(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    port: int,
    log_path: Path,
    timeout: float,
    poll: float,
    settle: float,
) -> Sample:
    """Spawn a server, time it to the first 200, read its idle RSS, stop it."""
    sample = Sample()
    with open(log_path, "ab") as logf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = t0 + timeout
            last_status: int | None = None
            while True:
                now = time.perf_counter()
                if now >= deadline:
                    sample.error = f"no 200 within {timeout:.0f} s (last status {last_status})"
                    return sample
                if proc.poll() is not None:
                    sample.error = f"exited with code {proc.returncode} before answering"
                    return sample
                status = probe_once(port, max(0.05, deadline - now))
                if status == 200:
                    sample.start_ms = (time.perf_counter() - t0) * 1000.0
                    break
                if status is not None:
                    last_status = status
                time.sleep(poll)
            time.sleep(settle)
            if proc.poll() is not None:
                sample.error = f"exited with code {proc.returncode} while idle"
                return sample
            sample.rss_mib, sample.nprocs = tree_rss_mib(proc.pid)
            return sample
        finally:
            stop_tree(proc)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# servers


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass
class Server:
    name: str
    runtime: str
    version: str
    runs: int
    # Called with (work_dir, port); returns how to start one instance.
    launch: Callable[[Path, int], Launch]
    # For cognate: also time a second start on the data dir of the first.
    warm_restart: bool = False


@dataclass
class Result:
    name: str
    runtime: str = ""
    version: str = ""
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None

    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None and s.start_ms is not None]

    def summary(self) -> dict:
        ok = self.ok()
        starts = [s.start_ms for s in ok]
        rss = [s.rss_mib for s in ok if s.rss_mib is not None]
        d: dict = {
            "server": self.name,
            "runtime": self.runtime,
            "version": self.version,
            "runs": len(self.samples),
            "ok_runs": len(ok),
        }
        if self.skipped:
            d["skipped"] = self.skipped
        if starts:
            d["cold_start_ms"] = {
                "median": round(statistics.median(starts), 1),
                "min": round(min(starts), 1),
                "max": round(max(starts), 1),
                "samples": [round(x, 1) for x in starts],
            }
        if rss:
            d["idle_rss_mib"] = {
                "median": round(statistics.median(rss), 1),
                "min": round(min(rss), 1),
                "max": round(max(rss), 1),
                "processes": max(s.nprocs or 1 for s in ok),
            }
        errors = [s.error for s in self.samples if s.error]
        if errors:
            d["errors"] = errors
        return d


def run_cmd(argv: list[str], *, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    # Nothing in the environment should point a server elsewhere.
    for k in list(env):
        if k.startswith(("AWS_", "COGNATE_", "MOTO_", "MINISTACK_")) or k in ("PORT", "HOST", "DEBUG"):
            del env[k]
    return env


def prepare_cognate(args) -> Server:
    binary = Path(args.cognate_bin).resolve() if args.cognate_bin else REPO_DIR / "target" / "release" / "cognate"
    if not args.no_build and not args.cognate_bin:
        log("building cognate (cargo build --release -p cognate-server --bin cognate) ...")
        r = subprocess.run(
            ["cargo", "build", "--release", "-p", "cognate-server", "--bin", "cognate"],
            cwd=REPO_DIR,
        )
        if r.returncode != 0:
            raise SystemExit("cargo build failed")
    if not binary.exists():
        raise SystemExit(f"{binary} not found (build it, or drop --no-build)")
    version = run_cmd([str(binary), "--version"]).stdout.strip().removeprefix("cognate ").strip()
    if not args.cognate_bin:
        rev = run_cmd(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR)
        if rev.returncode == 0 and rev.stdout.strip():
            dirty = run_cmd(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_DIR).stdout.strip()
            version += f" ({rev.stdout.strip()}{'+dirty' if dirty else ''})"
    if args.cognate_version:
        version = args.cognate_version

    def launch(work: Path, port: int) -> Launch:
        env = base_env()
        env.setdefault("RUST_LOG", "info")
        return Launch(
            argv=[str(binary), "serve", "--listen", f"{HOST}:{port}", "--data-dir", str(work / "data")],
            env=env,
            cwd=work,
        )

    return Server("cognate", "Rust (native)", version, args.cognate_runs, launch, warm_restart=True)


def node_version() -> str:
    try:
        return run_cmd(["node", "--version"], timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def prepare_cognito_local(args) -> Server:
    pkg = NODE_DIR / "node_modules" / "cognito-local"
    entry = pkg / "lib" / "bin" / "start.js"

    def installed() -> str | None:
        try:
            return json.loads((pkg / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return None

    if installed() != COGNITO_LOCAL_VERSION:
        if shutil.which("npm") is None or shutil.which("node") is None:
            raise RuntimeError("node/npm not found on PATH")
        log(f"installing cognito-local@{COGNITO_LOCAL_VERSION} into {NODE_DIR} ...")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        manifest = NODE_DIR / "package.json"
        if not manifest.exists():
            manifest.write_text('{"name": "cognate-bench-peers", "private": true}\n')
        r = run_cmd(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", f"cognito-local@{COGNITO_LOCAL_VERSION}"],
            cwd=NODE_DIR,
        )
        if r.returncode != 0 or installed() != COGNITO_LOCAL_VERSION:
            raise RuntimeError("npm install failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    if not entry.exists():
        raise RuntimeError(f"{entry} missing")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found on PATH")

    def launch(work: Path, port: int) -> Launch:
        env = base_env()
        env["PORT"] = str(port)
        env["HOST"] = HOST
        # cognito-local keeps its state in ./.cognito: the fresh cwd is its
        # empty data dir.
        return Launch(argv=[node, str(entry)], env=env, cwd=work)

    return Server("cognito-local", f"Node {node_version()}", COGNITO_LOCAL_VERSION, args.peer_runs, launch)


def venv_pkg_version(dist: str) -> str | None:
    if not VENV_PY.exists():
        return None
    r = run_cmd(
        [str(VENV_PY), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        timeout=60,
    )
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_venv_pkg(dist: str, spec: str, version: str) -> None:
    if venv_pkg_version(dist) == version:
        return
    if not VENV_PY.exists():
        log(f"creating venv {VENV_DIR} ...")
        r = run_cmd([sys.executable, "-m", "venv", str(VENV_DIR)])
        if r.returncode != 0:
            raise RuntimeError("venv creation failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    log(f"installing {spec} into {VENV_DIR} ...")
    r = run_cmd([str(VENV_PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", spec])
    if r.returncode != 0 or venv_pkg_version(dist) != version:
        raise RuntimeError("pip install failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])


def venv_python_version() -> str:
    r = run_cmd([str(VENV_PY), "-c", "import platform; print(platform.python_version())"], timeout=60)
    return r.stdout.strip() or "?"


def prepare_moto(args) -> Server:
    ensure_venv_pkg("moto", f"moto[server]=={MOTO_VERSION}", MOTO_VERSION)
    script = VENV_DIR / "bin" / "moto_server"
    if not script.exists():
        raise RuntimeError(f"{script} missing")

    def launch(work: Path, port: int) -> Launch:
        env = base_env()
        return Launch(argv=[str(script), "-H", HOST, "-p", str(port)], env=env, cwd=work)

    return Server("moto", f"Python {venv_python_version()}", MOTO_VERSION, args.peer_runs, launch)


def prepare_ministack(args) -> Server:
    ensure_venv_pkg("ministack", f"ministack=={MINISTACK_VERSION}", MINISTACK_VERSION)
    script = VENV_DIR / "bin" / "ministack"
    if not script.exists():
        raise RuntimeError(f"{script} missing")

    def launch(work: Path, port: int) -> Launch:
        env = base_env()
        env["GATEWAY_PORT"] = str(port)
        env["BIND_HOST"] = HOST
        # Keep its pid file, state and S3 data inside the run's scratch dir.
        env["TMPDIR"] = str(work)
        env["STATE_DIR"] = str(work / "state")
        env["S3_DATA_DIR"] = str(work / "s3")
        return Launch(argv=[str(script)], env=env, cwd=work)

    return Server("ministack", f"Python {venv_python_version()}", MINISTACK_VERSION, args.peer_runs, launch)


PREPARERS: dict[str, Callable] = {
    "cognate": prepare_cognate,
    "cognito-local": prepare_cognito_local,
    "moto": prepare_moto,
    "ministack": prepare_ministack,
}


# --------------------------------------------------------------------------
# benchmark loop


def bench_server(srv: Server, args, scratch: Path) -> list[Result]:
    cold = Result(srv.name, srv.runtime, srv.version)
    warm = Result(f"{srv.name} (warm data dir)", srv.runtime, srv.version) if srv.warm_restart else None

    def one(work: Path, label: str) -> Sample:
        port = free_port()
        spec = srv.launch(work, port)
        log_path = work / ("server-" + "".join(c if c.isalnum() else "-" for c in label) + ".log")
        s = measure_once(
            spec.argv,
            env=spec.env,
            cwd=spec.cwd,
            port=port,
            log_path=log_path,
            timeout=args.timeout,
            poll=args.poll_ms / 1000.0,
            settle=args.settle,
        )
        if s.error:
            log(f"  {srv.name} {label}: FAILED: {s.error}")
            excerpt = tail(log_path)
            if excerpt:
                log("  --- server log tail ---\n" + excerpt + "\n  ---")
        else:
            log(f"  {srv.name} {label}: first answer {s.start_ms:.1f} ms, idle RSS {s.rss_mib:.1f} MiB ({s.nprocs} proc)")
        return s

    total = srv.runs + (1 if args.warmup else 0)
    for i in range(total):
        is_warmup = args.warmup and i == 0
        label = "warm-up" if is_warmup else f"run {i + (0 if args.warmup else 1)}/{srv.runs}"
        work = Path(tempfile.mkdtemp(prefix=f"{srv.name}-", dir=scratch))
        try:
            s = one(work, label)
            if not is_warmup:
                cold.samples.append(s)
            if s.error:
                if is_warmup or len(cold.ok()) == 0:
                    # First start failed: this server is not going to work.
                    cold.skipped = cold.skipped or f"did not start: {s.error}"
                    break
                continue
            if warm is not None:
                w = one(work, label.replace("run", "warm-dir run"))
                if not is_warmup:
                    warm.samples.append(w)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if warm is not None and cold.skipped and not warm.samples:
        warm.skipped = "no fresh start to restart from"
    return [cold] + ([warm] if warm is not None else [])


# --------------------------------------------------------------------------
# output


def fmt(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "–"
    r = a / b
    return f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def markdown(summaries: list[dict], meta: dict) -> str:
    base = next((s for s in summaries if s["server"] == "cognate" and "cold_start_ms" in s), None)
    base_start = base["cold_start_ms"]["median"] if base else None
    base_rss = base["idle_rss_mib"]["median"] if base and "idle_rss_mib" in base else None
    lines = [
        f"Startup benchmark — {meta['date']} — {meta['machine']} — "
        f"1-min load average {meta['loadavg_1m'][0]:g} before / {meta['loadavg_1m'][1]:g} after",
        "",
        "| server | runtime | version | runs | cold start median ms | min ms | max ms | idle RSS MB | start ÷ cognate | RSS ÷ cognate |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        if "cold_start_ms" not in s:
            why = s.get("skipped") or "; ".join(s.get("errors", [])) or "no successful run"
            lines.append(f"| {s['server']} | {s['runtime']} | {s['version']} | 0 | skipped: {why} | | | | | |")
            continue
        cs = s["cold_start_ms"]
        rss = s.get("idle_rss_mib", {}).get("median")
        is_base = s is base
        lines.append(
            "| {server} | {runtime} | {version} | {runs} | {med} | {mn} | {mx} | {rss} | {r1} | {r2} |".format(
                server=s["server"],
                runtime=s["runtime"],
                version=s["version"],
                runs=f"{s['ok_runs']}/{s['runs']}" if s["ok_runs"] != s["runs"] else s["runs"],
                med=fmt(cs["median"]),
                mn=fmt(cs["min"]),
                mx=fmt(cs["max"]),
                rss=fmt(rss),
                r1="1.0×" if is_base else ratio(cs["median"], base_start),
                r2="1.0×" if is_base else ratio(rss, base_rss),
            )
        )
    lines += [
        "",
        "Cold start = spawn → first HTTP 200 to `ListUserPools` (polled every "
        f"{meta['poll_ms']:g} ms), fresh data dir / state per run. Idle RSS = summed VmRSS of the "
        f"server and its descendants {meta['settle_s']:g} s after that answer (median; MB = MiB). "
        "Ratios are peer median ÷ cognate (fresh data dir) median.",
    ]
    return "\n".join(lines)


def machine_info() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {mem}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, help="runs per server (sets both --cognate-runs and --peer-runs)")
    ap.add_argument("--cognate-runs", type=int, default=10, help="runs for cognate (default 10)")
    ap.add_argument("--peer-runs", type=int, default=5, help="runs per peer (default 5)")
    ap.add_argument(
        "--servers",
        default=",".join(PREPARERS),
        help="comma-separated subset of: " + ", ".join(PREPARERS) + " (default: all)",
    )
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release/cognate")
    ap.add_argument("--cognate-bin", help="benchmark this cognate binary instead of building target/release/cognate")
    ap.add_argument("--cognate-version", help="version label for --cognate-bin (default: its --version)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the untimed first start per server")
    ap.add_argument("--timeout", type=float, default=60.0, help="give up on a start after this many seconds (60)")
    ap.add_argument("--poll-ms", type=float, default=2.0, help="delay between probes in ms (2)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to idle before reading RSS (1)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the Markdown table")
    args = ap.parse_args()
    if args.runs is not None:
        args.cognate_runs = args.peer_runs = args.runs
    if args.cognate_runs < 1 or args.peer_runs < 1:
        ap.error("runs must be >= 1")
    if not sys.platform.startswith("linux"):
        ap.error("this benchmark reads /proc and runs on Linux only")

    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in PREPARERS]
    if unknown:
        ap.error(f"unknown server(s): {', '.join(unknown)}")
    if "cognate" in wanted:  # cognate first: it is the baseline of the ratios
        wanted.remove("cognate")
        wanted.insert(0, "cognate")

    load_before = os.getloadavg()[0]
    results: list[Result] = []
    scratch = Path(tempfile.mkdtemp(prefix="cognate-startup-bench-"))
    try:
        # Sequential on purpose: one server at a time so none competes for CPU.
        for name in wanted:
            try:
                srv = PREPARERS[name](args)
            except SystemExit:
                raise
            except Exception as e:  # install / setup failure: skip this peer
                log(f"skipping {name}: {e}")
                results.append(Result(name, skipped=str(e)))
                continue
            log(f"benchmarking {srv.name} {srv.version} ({srv.runtime}): {srv.runs} run(s)")
            results.extend(bench_server(srv, args, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine_info(),
        "poll_ms": args.poll_ms,
        "settle_s": args.settle,
        "timeout_s": args.timeout,
        "warmup": args.warmup,
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "probe": "POST / X-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools {\"MaxResults\": 10}",
    }
    summaries = [r.summary() for r in results]
    if args.json:
        print(json.dumps({"meta": meta, "results": summaries}, indent=2))
    else:
        print(markdown(summaries, meta))
    return 0 if any("cold_start_ms" in s for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
