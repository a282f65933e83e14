"""The dev endpoints' "local tools only" check uses the peer address, not `Host` (issue #18 item 3).

The test makes a network namespace joined to this one by a veth pair, starts cognate in dev mode
on the host end's address, and calls it from inside the namespace, a peer on another address,
with `Host: localhost`: the dev endpoints (the outbox, the Lambda API) refuse it, the public
JSON API answers. Skipped where namespaces cannot be made (not root, no iproute2 or curl, no
CAP_NET_ADMIN)."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import BIN

HOST_ONLY = "This endpoint answers local tools only"


def run(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def netns():
    """A namespace `ns` whose veth end has `peer_ip`, joined to `host_ip` on this side."""
    for tool in ("ip", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"network namespace test skipped: `{tool}` is not installed")
    if os.geteuid() != 0:
        pytest.skip("network namespace test skipped: making a namespace needs root (CAP_NET_ADMIN)")
    tag = f"{os.getpid() % 100000}{random.randrange(100)}"
    ns, host_if, ns_if = f"cognate-t{tag}", f"cgh{tag}", f"cgn{tag}"
    made = run("ip", "netns", "add", ns, check=False)
    if made.returncode != 0:
        pytest.skip(f"network namespace test skipped: `ip netns add` failed: {made.stderr.strip()}")
    subnet = f"10.{random.randrange(200, 250)}.{random.randrange(256)}"
    host_ip, peer_ip = f"{subnet}.1", f"{subnet}.2"
    try:
        try:
            run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            run("ip", "link", "set", ns_if, "netns", ns)
            run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
            run("ip", "link", "set", host_if, "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{peer_ip}/30", "dev", ns_if)
            run("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            pytest.skip(f"network namespace test skipped: cannot set up the veth pair: {e.stderr.strip()}")
        yield {"ns": ns, "host_ip": host_ip, "peer_ip": peer_ip}
    finally:
        # Deleting the namespace deletes its veth end and with it the pair; the host end is
        # deleted by name in case the pair was never moved.
        run("ip", "link", "del", host_if, check=False)
        run("ip", "netns", "del", ns, check=False)


def free_port_on(ip):
    import socket

    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


@pytest.fixture
def server_on_host_end(netns):
    """cognate in dev mode, listening on the host end's address only."""
    port = free_port_on(netns["host_ip"])
    data = tempfile.TemporaryDirectory()
    log = open(os.path.join(data.name, "server.log"), "wb")
    proc = subprocess.Popen(
        [BIN, "serve", "--listen", f"{netns['host_ip']}:{port}", "--data-dir", data.name], stderr=log
    )
    url = f"http://{netns['host_ip']}:{port}"
    try:
        deadline = time.time() + 30
        while run("curl", "-s", "-o", "/dev/null", "-m", "1", f"{url}/health", check=False).returncode != 0:
            assert proc.poll() is None, "cognate exited at start"
            assert time.time() < deadline, "cognate did not start"
            time.sleep(0.05)
        yield {**netns, "url": url, "log": os.path.join(data.name, "server.log")}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        data.cleanup()


def curl(url, *args, ns=None, source=None):
    """Status and body of a request, made from inside `ns` when given (else from this namespace,
    from `source` when given)."""
    cmd = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "-H", "Host: localhost", *args]
    if source:
        cmd += ["--interface", source]
    cmd.append(url)
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    out = run(*cmd, check=False)
    assert out.returncode == 0, f"curl failed ({out.returncode}): {out.stderr}"
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def list_user_pools(url, **where):
    return curl(
        url,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/x-amz-json-1.1",
        "-H",
        "X-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools",
        "--data",
        json.dumps({"MaxResults": 10}),
        **where,
    )


def test_a_peer_on_the_network_saying_host_localhost_is_refused_the_dev_endpoints(server_on_host_end):
    s = server_on_host_end
    ns, url = s["ns"], s["url"]
    # The peer really is another address on the network.
    status, body = curl(f"{url}/health", ns=ns)
    assert status == 200, body

    for path in ["/_cognate/outbox", "/_cognate/invocations", "/2015-03-31/functions/"]:
        status, body = curl(f"{url}{path}", ns=ns)
        assert status == 403, (path, status, body)
        assert "AccessDeniedException" in body and HOST_ONLY in body, (path, body)

    # The public JSON API answers the same peer.
    status, body = list_user_pools(url, ns=ns)
    assert status == 200, body
    assert json.loads(body) == {"UserPools": []}

    # Control: from a loopback source on this machine the same dev endpoints answer, so the
    # refusal above is the peer check's, not a missing route.
    status, body = curl(f"{url}/_cognate/outbox", source="127.0.0.1")
    assert status == 200, body
    assert json.loads(body) == {"messages": []}
    status, body = curl(f"{url}/2015-03-31/functions/", source="127.0.0.1")
    assert status == 200, body

    # The start-up warning says the dev endpoints are refused to non-loopback peers.
    with open(s["log"], encoding="utf-8", errors="replace") as f:
        assert "refused to non-loopback peers" in f.read()
