"""The Lambda API through the real `aws` CLI: deploy a node and a python handler, attach them
to a pool with `aws cognito-idp update-user-pool`, fire them with a boto3 SignUp, invoke them
with `aws lambda invoke` (with `--log-type Tail`), replace code, and Lambda's errors."""
import base64
import json
import os
import subprocess
import sys
import zipfile

import pytest

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
PW = "Correct-horse-1"
ROLE = "arn:aws:iam::000000000000:role/lambda"

NODE_V1 = """
exports.handler = async (event) => {
  console.log("node-saw", event.userName || event.a);
  if (event.triggerSource) { throw new Error("node v1 rejects " + event.userName); }
  return { got: event.a, dep: require("shout")("hi") };
};
"""
NODE_DEP = "module.exports = (s) => s.toUpperCase();"
NODE_V2 = """
exports.handler = async (event) => {
  if (event.triggerSource) { event.response.autoConfirmUser = true; return event; }
  return { version: 2 };
};
"""
PY = """
import helper

def handler(event, context):
    print("py-saw", event.get("userName") or event.get("a"))
    if "triggerSource" in event:
        raise Exception("python rejects " + event["userName"])
    return {"got": event["a"], "helper": helper.VALUE}
"""


def make_zip(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return str(path)


@pytest.fixture
def aws(server):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)

    def run(*args, check=True):
        p = subprocess.run(
            [AWS, "--endpoint-url", server.url, "--region", "us-east-1", "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert p.returncode == 0, p.stderr
            return json.loads(p.stdout) if p.stdout.strip() else None
        return p

    return run


def create(aws, tmp_path, name, runtime, handler, files, check=True):
    z = make_zip(tmp_path / f"{name}-{runtime}.zip", files)
    return aws(
        "lambda", "create-function", "--function-name", name, "--runtime", runtime, "--handler", handler,
        "--role", ROLE, "--zip-file", f"fileb://{z}", check=check,
    )


def pool_with(aws, idp, function_arn):
    pool = idp.create_user_pool(PoolName="lambda")["UserPool"]["Id"]
    aws("cognito-idp", "update-user-pool", "--user-pool-id", pool, "--lambda-config", f"PreSignUp={function_arn}")
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="c")["UserPoolClient"]["ClientId"]
    return pool, client


def test_deploy_attach_fire_invoke_update_delete(aws, idp, tmp_path):
    node = create(aws, tmp_path, "node-fn", "nodejs20.x", "index.handler",
                  {"index.js": NODE_V1, "node_modules/shout/index.js": NODE_DEP})
    assert node["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:node-fn"
    py = create(aws, tmp_path, "py-fn", "python3.12", "app.handler", {"app.py": PY, "helper.py": "VALUE = 42\n"})
    assert py["Runtime"] == "python3.12" and py["State"] == "Active"
    names = [f["FunctionName"] for f in aws("lambda", "list-functions")["Functions"]]
    assert names == ["node-fn", "py-fn"]
    assert aws("lambda", "get-function", "--function-name", "py-fn")["Configuration"]["Handler"] == "app.handler"

    # aws lambda invoke: the handler's result, and its output with --log-type Tail.
    out = tmp_path / "out.json"
    meta = aws("lambda", "invoke", "--function-name", "node-fn",
               "--payload", '{"a": 5}', "--log-type", "Tail", str(out))
    assert meta["StatusCode"] == 200 and "FunctionError" not in meta
    assert json.loads(out.read_text()) == {"got": 5, "dep": "HI"}
    assert "node-saw 5" in base64.b64decode(meta["LogResult"]).decode()
    meta = aws("lambda", "invoke", "--function-name", "py-fn",
               "--payload", '{"a": 6}', "--log-type", "Tail", str(out))
    assert json.loads(out.read_text()) == {"got": 6, "helper": 42}
    assert "py-saw 6" in base64.b64decode(meta["LogResult"]).decode()
    meta = aws("lambda", "invoke", "--function-name", "py-fn", str(out))
    assert meta["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorType"] == "KeyError"

    # Attached with the CLI, fired by a boto3 SignUp.
    pool, client = pool_with(aws, idp, node["FunctionArn"])
    with pytest.raises(idp.exceptions.UserLambdaValidationException, match="node v1 rejects ana"):
        idp.sign_up(ClientId=client, Username="ana", Password=PW)
    _, py_client = pool_with(aws, idp, py["FunctionArn"])
    with pytest.raises(idp.exceptions.UserLambdaValidationException, match="python rejects bo"):
        idp.sign_up(ClientId=py_client, Username="bo", Password=PW)

    # New code changes the next sign-up.
    z = make_zip(tmp_path / "v2.zip", {"index.js": NODE_V2})
    aws("lambda", "update-function-code", "--function-name", "node-fn", "--zip-file", f"fileb://{z}")
    assert idp.sign_up(ClientId=client, Username="ana", Password=PW)["UserConfirmed"] is True
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "CONFIRMED"

    # Deleted but still named by the pool.
    aws("lambda", "delete-function", "--function-name", "node-fn")
    p = aws("lambda", "get-function", "--function-name", "node-fn", check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr
    with pytest.raises(idp.exceptions.UnexpectedLambdaException):
        idp.sign_up(ClientId=client, Username="cy", Password=PW)


def test_configuration_and_permissions(aws, tmp_path):
    create(aws, tmp_path, "conf-fn", "nodejs22.x", "index.handler", {"index.js": NODE_V2})
    c = aws("lambda", "update-function-configuration", "--function-name", "conf-fn", "--timeout", "7",
            "--environment", "Variables={K=v}")
    assert c["Timeout"] == 7 and c["Environment"]["Variables"] == {"K": "v"}
    assert aws("lambda", "get-function-configuration", "--function-name", "conf-fn")["Timeout"] == 7
    s = aws("lambda", "add-permission", "--function-name", "conf-fn", "--statement-id", "cognito",
            "--action", "lambda:InvokeFunction", "--principal", "cognito-idp.amazonaws.com")
    assert json.loads(s["Statement"])["Sid"] == "cognito"
    policy = json.loads(aws("lambda", "get-policy", "--function-name", "conf-fn")["Policy"])
    assert [st["Sid"] for st in policy["Statement"]] == ["cognito"]
    aws("lambda", "remove-permission", "--function-name", "conf-fn", "--statement-id", "cognito")
    p = aws("lambda", "get-policy", "--function-name", "conf-fn", check=False)
    assert "ResourceNotFoundException" in p.stderr


def test_bad_packages_and_runtimes(aws, tmp_path):
    p = create(aws, tmp_path, "evil", "nodejs20.x", "index.handler",
               {"index.js": NODE_V2, "../../escape.js": "x"}, check=False)
    assert p.returncode != 0 and "InvalidParameterValueException" in p.stderr, p.stderr
    p = create(aws, tmp_path, "old", "nodejs8.10", "index.handler", {"index.js": NODE_V2}, check=False)
    assert p.returncode != 0 and "InvalidParameterValueException" in p.stderr, p.stderr
    create(aws, tmp_path, "twice", "nodejs20.x", "index.handler", {"index.js": NODE_V2})
    p = create(aws, tmp_path, "twice", "nodejs20.x", "index.handler", {"index.js": NODE_V2}, check=False)
    assert "ResourceConflictException" in p.stderr


def test_missing_interpreter_fails_at_create(start_server, tmp_path):
    cfg = tmp_path / "cognate.toml"
    cfg.write_text('[runtimes]\npython = "/nonexistent/python3"\n')
    s = start_server("--config", str(cfg))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret"}
    z = make_zip(tmp_path / "p.zip", {"app.py": PY, "helper.py": "VALUE = 1\n"})
    p = subprocess.run(
        [AWS, "--endpoint-url", s.url, "--region", "us-east-1", "lambda", "create-function", "--function-name", "p",
         "--runtime", "python3.12", "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{z}"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert p.returncode != 0 and "InvalidParameterValueException" in p.stderr, p.stderr
