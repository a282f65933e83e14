"""The first ten minutes: the README's quick start and the examples' walk-throughs, run exactly as
written (shell blocks pasted into bash), with the suite's binary standing in for
`cargo run --release --` and a free port standing in for 9229. Also: functions deployed through
the Lambda API run with relative data dirs from the default, a flag or the environment."""
import base64
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
import pytest
import requests

from conftest import BIN, free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
VENV_BIN = os.path.dirname(sys.executable)


def marked_block(path, marker):
    """The ```sh block right after `<!-- marker -->` in a Markdown file."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"<!-- " + re.escape(marker) + r" -->\s*```sh\n(.*?)```", text, re.S)
    assert m, f"{path} has no sh block marked {marker}"
    return m.group(1)


def section_blocks(path, heading):
    """Every ```sh block of the section that starts with `heading`, up to the next heading of
    the same level."""
    text = open(path, encoding="utf-8").read()
    start = text.index(heading + "\n")
    level = heading.split(" ")[0]
    rest = text[start + len(heading):]
    end = re.search(r"^" + level + r" ", rest, re.M)
    section = rest[: end.start()] if end else rest
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def localise(block, port):
    """The block with the suite's binary and port in place of a fresh machine's."""
    binary = shlex.quote(BIN)
    block = block.replace("cargo run -q --release --", binary).replace("cargo run --release --", binary)
    return block.replace("127.0.0.1:9229", f"127.0.0.1:{port}")


def shell_env(port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COGNATE_"))}
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["COGNATE_LISTEN"] = f"127.0.0.1:{port}"
    env["COGNATE_URL"] = f"http://127.0.0.1:{port}"
    return env


class ShellServer:
    """Runs a README's server command (a shell line) in `cwd` until stopped."""

    def __init__(self, command, cwd, port):
        self.log = open(os.path.join(cwd, "server.log"), "wb")
        self.proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=shell_env(port), stdout=self.log, stderr=self.log,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.proc.poll() is None, self.logs()
            try:
                if requests.get(f"{self.url}/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("cognate did not start:\n" + self.logs())

    def logs(self):
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def run_shell(block, cwd, port):
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env=shell_env(port), capture_output=True,
        text=True, timeout=180,
    )


@pytest.fixture
def fresh():
    d = tempfile.mkdtemp(prefix="cognate-fresh-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_quick_start_as_written(fresh):
    """The README's quick start, in a fresh directory holding only the example it names, ends
    with a user signed up through the PreSignUp trigger, confirmed with the outbox's code and
    signed in."""
    shutil.copytree(os.path.join(ROOT, "examples/quickstart"), os.path.join(fresh, "examples/quickstart"))
    readme = os.path.join(ROOT, "README.md")
    server_block = marked_block(readme, "quickstart:server")
    client_block = marked_block(readme, "quickstart:client")
    assert "cargo run --release -- serve" in server_block
    port = free_port()
    server = ShellServer(localise(server_block, port).strip(), fresh, port)
    try:
        done = run_shell(localise(client_block, port), fresh, port)
        logs = server.logs()
    finally:
        server.stop()
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}\nserver:\n{logs}"
    # The trigger turned eve away with its own message...
    assert "UserLambdaValidationException" in done.stderr, done.stderr
    assert "Only example.com addresses may sign up here." in done.stderr, done.stderr
    # ...and ana ends signed in: the last command printed her ID token.
    id_token = done.stdout.strip().splitlines()[-1].strip('"')
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", id_token), done.stdout
    claims = json.loads(_b64url(id_token.split(".")[1]))
    assert claims["cognito:username"] == "ana" and claims["email_verified"] is True
    # The default data dir is relative (./.cognate): the package unpacked under it, once.
    unpacked = os.path.join(fresh, ".cognate", "functions", "pre-sign-up")
    assert os.path.isdir(unpacked), os.listdir(os.path.join(fresh, ".cognate"))
    (sha,) = os.listdir(unpacked)
    assert os.path.isfile(os.path.join(unpacked, sha, "index.mjs"))
    # One log line per call, and no secret in any of them.
    assert re.search(r"op=SignUp .*status=200", logs), logs
    assert re.search(r"op=SignUp .*status=400 error=UserLambdaValidationException", logs), logs
    assert "Quick-start-1" not in logs


def _b64url(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def python_package(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", source)
    return buf.getvalue()


AUTO_CONFIRM = """
def handler(event, context):
    event["response"]["autoConfirmUser"] = True
    print("auto-confirming", event["userName"])
    return event
"""


@pytest.mark.parametrize("how", ["default", "flag", "env"])
def test_deployed_function_runs_with_a_relative_data_dir(fresh, how):
    """A function deployed with the aws CLI runs as a trigger whether the relative data dir
    comes from the default (./.cognate), --data-dir or COGNATE_DATA_DIR."""
    port = free_port()
    command = shlex.quote(BIN) + " serve"
    data_dir = {"default": ".cognate", "flag": "state/flag", "env": "state/env"}[how]
    if how == "flag":
        command += " --data-dir state/flag"
    if how == "env":
        command = "COGNATE_DATA_DIR=state/env " + command
    server = ShellServer(command, fresh, port)
    try:
        with open(os.path.join(fresh, "fn.zip"), "wb") as f:
            f.write(python_package(AUTO_CONFIRM))
        env = shell_env(port)
        env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1")
        deployed = subprocess.run(
            ["aws", "--endpoint-url", server.url, "lambda", "create-function", "--function-name", "auto-confirm",
             "--runtime", "python3.11", "--handler", "app.handler", "--role", "arn:aws:iam::000000000000:role/x",
             "--zip-file", "fileb://fn.zip"],
            cwd=fresh, env=env, capture_output=True, text=True, timeout=60,
        )
        assert deployed.returncode == 0, deployed.stderr
        idp = boto3.client("cognito-idp", endpoint_url=server.url, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
        pool = idp.create_user_pool(
            PoolName="p", LambdaConfig={"PreSignUp": "arn:aws:lambda:us-east-1:000000000000:function:auto-confirm"}
        )["UserPool"]["Id"]
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="c")["UserPoolClient"]["ClientId"]
        signed = idp.sign_up(ClientId=client, Username="rel", Password="Relative-path-1")
        assert signed["UserConfirmed"] is True
        assert idp.admin_get_user(UserPoolId=pool, Username="rel")["UserStatus"] == "CONFIRMED"
    finally:
        server.stop()
    assert os.path.isdir(os.path.join(fresh, data_dir, "functions", "auto-confirm"))


def test_captcha_walkthrough_as_written(fresh):
    """examples/captcha-challenge/README.md's walk-through, pasted into a shell, signs cara in."""
    example = os.path.join(ROOT, "examples/captcha-challenge")
    shutil.copytree(example, os.path.join(fresh, "examples/captcha-challenge"))
    readme = os.path.join(example, "README.md")
    (server_block,) = section_blocks(readme, "## Run it")
    walk = section_blocks(readme, "## Walk-through with the AWS CLI")
    assert len(walk) == 2, walk
    port = free_port()
    serve = next(line for line in server_block.splitlines() if line.startswith("cargo run"))
    server = ShellServer(localise(serve, port), fresh, port)
    try:
        done = run_shell(localise("\n".join(walk), port), fresh, port)
    finally:
        server.stop()
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    answer = json.loads(_last_json(done.stdout))
    assert "AccessToken" in answer["AuthenticationResult"], done.stdout


def _last_json(text):
    """The last top-level JSON object the AWS CLI printed."""
    starts = [m.start() for m in re.finditer(r"^\{", text, re.M)]
    return text[starts[-1]:]


def test_json_logs_carry_one_object_per_line(start_server):
    """`--log-format json`: every line is a JSON object; API calls log their operation, pool,
    status and duration, never a password."""
    server = start_server("--log-format", "json")
    idp = server.client()
    pool = idp.create_user_pool(PoolName="logs")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="c")["UserPoolClient"]["ClientId"]
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.sign_up(ClientId=client, Username="ana", Password="short")
    time.sleep(0.2)
    lines = [json.loads(line) for line in server.logs().splitlines() if line.strip()]
    calls = [line for line in lines if line.get("message") == "api"]
    assert [c["op"] for c in calls] == ["CreateUserPool", "CreateUserPoolClient", "SignUp"], calls
    assert calls[1]["pool"] == pool and calls[1]["status"] == 200
    assert calls[2]["status"] == 400 and calls[2]["error"] == "InvalidPasswordException"
    assert all(float(c["ms"]) >= 0 for c in calls)
    assert "short" not in server.logs()
    assert any(line.get("message") == "cognate is listening" for line in lines)
