"""Starts a real cognate binary per test module and points boto3 at it."""
import os
import socket
import subprocess
import tempfile
import time

import boto3
import pytest
import requests

BIN = os.environ.get("COGNATE_BIN", os.path.join(os.path.dirname(__file__), "../../../target/debug/cognate"))


def refusal(call):
    """The error code and message `call` fails with (it must fail with a ClientError)."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, extra_args=(), env=None):
        self.dir = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir.name, *extra_args]
        # The server logs a line per request: into a file, never a pipe nobody reads (a full
        # pipe would stall the server).
        self.log_path = os.path.join(self.dir.name, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("cognate did not start")

    def client(self):
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="secret",
        )

    def logs(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def idp(server):
    return server.client()


@pytest.fixture(scope="module")
def start_server():
    """Starts servers with extra `serve` arguments (e.g. `"--config", path`); every server it
    started stops when the module's tests are done."""
    started = []

    def start(*extra_args, env=None):
        s = Server(extra_args, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


# The aws CLI (v1, from the test venv) against a server. v1 fetches parameters that look like
# URLs (callback URLs, IdP endpoints) unless told not to, as v2 does by default.
_CLI_CONFIG = os.path.join(tempfile.mkdtemp(prefix="cognate-aws-"), "config")
with open(_CLI_CONFIG, "w") as f:
    f.write("[default]\ncli_follow_urlparam = false\n")


def aws_idp(server, *args):
    """Runs `aws cognito-idp <args>` against `server`; returns its JSON answer (or {})."""
    import json
    import sys

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": _CLI_CONFIG}
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    done = subprocess.run([aws, "--endpoint-url", server.url, "cognito-idp", *args, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}
