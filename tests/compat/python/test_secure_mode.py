"""Secure mode (`cognate serve --mode secure`): SigV4 on Admin and management operations and on
the dev endpoints, AWS's errors for unsigned and badly signed calls, public operations unsigned,
CORS only for the configured origins."""
import datetime
import json
import os
import subprocess
import tempfile
import uuid
from unittest import mock

import boto3
import botocore.auth
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BIN, free_port

KEY = "AKIDSECURETEST01"
SECRET = "s3cr3t-" + uuid.uuid4().hex
INLINE_KEY = "AKIDINLINE"
INLINE_SECRET = "inline-" + uuid.uuid4().hex
ORIGIN = "https://app.example"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@pytest.fixture(scope="module")
def secure(start_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("secure") / "cognate.toml"
    path.write_text(
        f"""
[[access_keys]]
id = "{KEY}"
secret_env = "COGNATE_TEST_ACCESS_SECRET"

[[access_keys]]
id = "{INLINE_KEY}"
secret = "{INLINE_SECRET}"

[http]
cors_origins = ["{ORIGIN}"]
"""
    )
    return start_server("--mode", "secure", "--config", str(path), env={"COGNATE_TEST_ACCESS_SECRET": SECRET})


def client(server, service="cognito-idp", key=KEY, secret=SECRET, unsigned=False):
    config = Config(signature_version=UNSIGNED, retries={"max_attempts": 1}) if unsigned else Config(
        retries={"max_attempts": 1}
    )
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response


def signed_request(method, url, service, key=KEY, secret=SECRET, body=b"", headers=None):
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(req)
    return requests.request(method, url, headers=dict(req.headers.items()), data=body, timeout=30)


@pytest.fixture(scope="module")
def pool(secure):
    idp = client(secure)
    pool_id = idp.create_user_pool(PoolName="secure")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def test_signed_admin_calls_work(secure, pool):
    pool_id, _ = pool
    idp = client(secure)
    idp.admin_create_user(UserPoolId=pool_id, Username="signed-admin", MessageAction="SUPPRESS")
    assert idp.admin_get_user(UserPoolId=pool_id, Username="signed-admin")["Username"] == "signed-admin"
    # A key whose secret is written in the file works as well as one read from the environment.
    inline = client(secure, key=INLINE_KEY, secret=INLINE_SECRET)
    assert any(p["Id"] == pool_id for p in inline.list_user_pools(MaxResults=60)["UserPools"])


def test_unsigned_admin_call_is_refused(secure, pool):
    pool_id, _ = pool
    r = error_of(lambda: client(secure, unsigned=True).list_users(UserPoolId=pool_id))
    assert r["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert r["Error"]["Message"] == "Request is missing Authentication Token"
    r = error_of(lambda: client(secure, unsigned=True).create_user_pool(PoolName="nope"))
    assert r["Error"]["Code"] == "MissingAuthenticationTokenException"


def test_unknown_key_is_refused(secure):
    r = error_of(lambda: client(secure, key="AKIDNOBODY", secret=SECRET).list_user_pools(MaxResults=1))
    assert r["Error"]["Code"] == "UnrecognizedClientException"
    assert r["Error"]["Message"] == "The security token included in the request is invalid."


def test_wrong_secret_is_refused(secure):
    r = error_of(lambda: client(secure, secret="not-" + SECRET).list_user_pools(MaxResults=1))
    assert r["Error"]["Code"] == "InvalidSignatureException"
    assert r["Error"]["Message"] == SIGNATURE_MISMATCH


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_date_outside_five_minutes_is_refused(secure, minutes):
    real = botocore.auth.get_current_datetime
    with mock.patch("botocore.auth.get_current_datetime", lambda: real() + datetime.timedelta(minutes=minutes)):
        r = error_of(lambda: client(secure).list_user_pools(MaxResults=1))
    assert r["Error"]["Code"] == "InvalidSignatureException"
    expected = "Signature expired: " if minutes < 0 else "Signature not yet current: "
    assert r["Error"]["Message"].startswith(expected), r["Error"]["Message"]
    assert r["Error"]["Message"].endswith(" - 5 min.)" if minutes < 0 else " + 5 min.)")
    # Four minutes off is within the window.
    with mock.patch("botocore.auth.get_current_datetime", lambda: real() - datetime.timedelta(minutes=4)):
        client(secure).list_user_pools(MaxResults=1)


def test_public_operations_work_unsigned(secure, pool):
    pool_id, client_id = pool
    public = client(secure, unsigned=True)
    public.sign_up(ClientId=client_id, Username="public-user", Password="Public-pass-1")
    client(secure).admin_confirm_sign_up(UserPoolId=pool_id, Username="public-user")
    auth = public.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "public-user", "PASSWORD": "Public-pass-1"},
    )["AuthenticationResult"]
    assert public.get_user(AccessToken=auth["AccessToken"])["Username"] == "public-user"
    # A signature on a public operation does no harm, whatever its key.
    client(secure, key="AKIDNOBODY").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "public-user", "PASSWORD": "Public-pass-1"},
    )
    # GetClientToken authenticates with the client's secret, not IAM (its documentation says
    # so though the model marks it signed): unsigned, it reaches the client check.
    r = error_of(lambda: public.get_client_token(ClientId=client_id, Secret="not-the-secret-" + "x" * 24))
    assert r["Error"]["Code"] not in ("MissingAuthenticationTokenException", "UnrecognizedClientException"), r


def test_only_configured_origins_get_cors_headers(secure, pool):
    _, client_id = pool
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent",
    }
    ok = requests.options(f"{secure.url}/", headers={"Origin": ORIGIN, **preflight})
    assert ok.headers.get("access-control-allow-origin") == ORIGIN
    other = requests.options(f"{secure.url}/", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    # The call itself: the listed origin can read the answer, another cannot.
    call = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    }
    body = json.dumps(
        {"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "x", "PASSWORD": "y"}}
    )
    for origin, allowed in [(ORIGIN, True), ("https://evil.example", False)]:
        r = requests.post(f"{secure.url}/", headers={**call, "Origin": origin}, data=body)
        assert r.status_code == 400
        assert (r.headers.get("access-control-allow-origin") == origin) is allowed


def test_dev_endpoints_need_a_signature(secure):
    # The Lambda API: unsigned refused with Lambda's error shape, signed works.
    r = requests.get(f"{secure.url}/2015-03-31/functions/")
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")
    r = error_of(lambda: client(secure, "lambda", unsigned=True).list_functions())
    assert r["Error"]["Code"] == "MissingAuthenticationTokenException"
    r = error_of(lambda: client(secure, "lambda", secret="wrong").list_functions())
    assert r["Error"]["Code"] == "InvalidSignatureException"
    assert client(secure, "lambda").list_functions()["Functions"] == []
    # /_cognate/*: unsigned refused, signed (any service name) answered.
    for path in ["/_cognate/invocations", "/_cognate/outbox"]:
        r = requests.get(f"{secure.url}{path}")
        assert r.status_code == 403, path
        assert r.json()["__type"] == "MissingAuthenticationTokenException"
        r = signed_request("GET", f"{secure.url}{path}?limit=5", "cognate")
        assert r.status_code == 200, (path, r.text)
        r = signed_request("GET", f"{secure.url}{path}", "cognate", secret="wrong")
        assert r.status_code == 403 and r.json()["__type"] == "InvalidSignatureException"
    # KMS and SNS capture likewise.
    r = error_of(lambda: client(secure, "kms", unsigned=True).decrypt(CiphertextBlob=b"x"))
    assert r["Error"]["Code"] == "MissingAuthenticationTokenException"
    r = error_of(lambda: client(secure, "sns", unsigned=True).publish(PhoneNumber="+15555550100", Message="hi"))
    assert r["Error"]["Code"] == "MissingAuthenticationToken"
    r = error_of(lambda: client(secure, "sns", key="AKIDNOBODY").publish(PhoneNumber="+15555550100", Message="hi"))
    assert r["Error"]["Code"] == "InvalidClientTokenId"
    assert client(secure, "sns").publish(PhoneNumber="+15555550100", Message="hi")["MessageId"]


def test_no_secret_reaches_the_log(secure):
    logs = secure.logs()
    assert SECRET not in logs and INLINE_SECRET not in logs
    assert "refused an unsigned or badly signed call" in logs


def test_secure_mode_without_access_keys_does_not_start():
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        done = subprocess.run(
            [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", d],
            env={**os.environ, "COGNATE_MODE": "secure", "COGNATE_CONFIG": os.path.join(d, "none.toml")},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode != 0
        assert "cannot read" in done.stderr  # a named config file must exist
        config = os.path.join(d, "cognate.toml")
        with open(config, "w") as f:
            f.write('[[pools]]\nPoolName = "p"\n')
        done = subprocess.run(
            [BIN, "serve", "--mode", "secure", "--listen", f"127.0.0.1:{port}", "--data-dir", d, "--config", config],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode != 0
        assert "secure mode needs access keys" in done.stderr and "[[access_keys]]" in done.stderr
        # An access key whose secret variable is missing is named, without any secret.
        with open(config, "w") as f:
            f.write('[[access_keys]]\nid = "AKIDX"\nsecret_env = "COGNATE_TEST_UNSET_VARIABLE"\n')
        env = {k: v for k, v in os.environ.items() if k != "COGNATE_TEST_UNSET_VARIABLE"}
        done = subprocess.run(
            [BIN, "serve", "--mode", "secure", "--listen", f"127.0.0.1:{port}", "--data-dir", d, "--config", config],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode != 0
        assert "access_keys[0].secret_env" in done.stderr and "COGNATE_TEST_UNSET_VARIABLE" in done.stderr


TRIGGER = '''
import boto3

idp = boto3.client("cognito-idp")
sns = boto3.client("sns")


def handler(event, context):
    # Admin calls and SNS from trigger code: signed with the worker's stand-in credentials,
    # which secure mode accepts from the worker's own session.
    idp.admin_add_user_to_group(UserPoolId=event["userPoolId"], Username=event["userName"], GroupName="members")
    sns.publish(PhoneNumber="+15555550177", Message="welcome " + event["userName"])
    return event
'''


def test_trigger_code_calls_admin_operations_and_sns_in_secure_mode(start_server, tmp_path):
    import sys
    import textwrap
    import time

    (tmp_path / "welcome.py").write_text(TRIGGER)
    path = tmp_path / "cognate.toml"
    path.write_text(textwrap.dedent(f"""
        [[access_keys]]
        id = "{KEY}"
        secret_env = "COGNATE_TEST_ACCESS_SECRET"

        [runtimes]
        python = "{sys.executable}"

        [[pools]]
        Id = "us-east-1_SecureTrg1"
        PoolName = "secure-trigger"

        [pools.LambdaConfig]
        PostConfirmation = "arn:aws:lambda:us-east-1:000000000000:function:welcome"

        [[pools.clients]]
        ClientId = "securetriggerclient0000001"
        ClientName = "web"
        ExplicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

        [functions.welcome]
        runtime = "python"
        handler = "welcome.handler"
        capture_aws_messages = true
        timeout_ms = 15000
    """))
    server = start_server("--mode", "secure", "--config", str(path), env={"COGNATE_TEST_ACCESS_SECRET": SECRET})
    idp = client(server)
    idp.create_group(UserPoolId="us-east-1_SecureTrg1", GroupName="members")
    client(server, unsigned=True).sign_up(ClientId="securetriggerclient0000001", Username="hal", Password="Secure-pass-1")
    idp.admin_confirm_sign_up(UserPoolId="us-east-1_SecureTrg1", Username="hal")
    groups = idp.admin_list_groups_for_user(UserPoolId="us-east-1_SecureTrg1", Username="hal")["Groups"]
    assert [g["GroupName"] for g in groups] == ["members"]
    deadline = time.time() + 30
    while True:
        r = signed_request("GET", f"{server.url}/_cognate/outbox?poolId=us-east-1_SecureTrg1", "cognate")
        if any(m["body"] == "welcome hal" for m in r.json()["messages"]):
            break
        assert time.time() < deadline, r.text
        time.sleep(0.1)
    # The same stand-in credentials from anywhere else are not a key this server knows.
    r = error_of(lambda: client(server, key="test", secret="test").list_groups(UserPoolId="us-east-1_SecureTrg1"))
    assert r["Error"]["Code"] == "UnrecognizedClientException"


def test_the_cli_signs_its_calls_with_the_environments_credentials(secure):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    unsigned = subprocess.run([BIN, "invocations", "--url", secure.url], env=env,
                              capture_output=True, text=True, timeout=30)
    assert unsigned.returncode != 0 and "MissingAuthenticationToken" in unsigned.stderr, unsigned.stderr
    signed = subprocess.run([BIN, "invocations", "--url", secure.url], capture_output=True, text=True, timeout=30,
                            env={**env, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET})
    assert signed.returncode == 0, signed.stderr
    wrong = subprocess.run([BIN, "outbox", "--url", secure.url], capture_output=True, text=True, timeout=30,
                           env={**env, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "not-it"})
    assert wrong.returncode != 0 and "InvalidSignature" in wrong.stderr, wrong.stderr
