"""Trigger functions as infrastructure-as-code deploys them: published versions and aliases
through boto3's Lambda client, invoked by qualifier, and a pool whose LambdaConfig names an
alias (`…:function:NAME:live`) or a version (`…:function:NAME:1`) runs that version's code."""
import io
import json
import zipfile

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/lambda"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:gate"
PW = "Correct-horse-1"

# Version 1 refuses every sign-up; version 2 confirms it. Invoked directly, each says which it is.
V1 = """
exports.handler = async (event) => {
  if (event.triggerSource) { throw new Error("v1 refuses " + event.userName); }
  return { version: 1 };
};
"""
V2 = """
exports.handler = async (event) => {
  if (event.triggerSource) { event.response.autoConfirmUser = true; return event; }
  return { version: 2 };
};
"""


def package(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.js", source)
    return buf.getvalue()


@pytest.fixture(scope="module")
def lam(server):
    return boto3.client("lambda", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")


@pytest.fixture(scope="module")
def gate(lam):
    """`gate` with versions 1 (V1) and 2 (V2), `$LATEST` = V2, alias `live` → 1."""
    lam.create_function(FunctionName="gate", Runtime="nodejs20.x", Handler="index.handler", Role=ROLE,
                        Code={"ZipFile": package(V1)})
    v1 = lam.publish_version(FunctionName="gate", Description="first")
    lam.update_function_code(FunctionName="gate", ZipFile=package(V2))
    v2 = lam.publish_version(FunctionName="gate")
    alias = lam.create_alias(FunctionName="gate", Name="live", FunctionVersion="1", Description="prod")
    yield {"v1": v1, "v2": v2, "alias": alias}
    lam.delete_function(FunctionName="gate")


def invoke(lam, **kwargs):
    res = lam.invoke(FunctionName="gate", Payload=b"{}", **kwargs)
    return json.loads(res["Payload"].read()), res["ExecutedVersion"]


def test_versions_are_numbered_snapshots(lam, gate):
    assert (gate["v1"]["Version"], gate["v2"]["Version"]) == ("1", "2")
    assert gate["v1"]["FunctionArn"] == f"{ARN}:1" and gate["v1"]["Description"] == "first"
    assert gate["v1"]["CodeSha256"] != gate["v2"]["CodeSha256"]
    # Nothing changed since version 2: publishing again answers version 2.
    assert lam.publish_version(FunctionName="gate")["Version"] == "2"
    listed = lam.list_versions_by_function(FunctionName="gate")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    # Versions and aliases are not functions of their own.
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("gate")] == ["gate"]


def test_invoke_by_version_alias_and_latest(lam, gate):
    assert invoke(lam) == ({"version": 2}, "$LATEST")
    assert invoke(lam, Qualifier="1") == ({"version": 1}, "1")
    assert invoke(lam, Qualifier="live") == ({"version": 1}, "1")
    assert invoke(lam, Qualifier="$LATEST") == ({"version": 2}, "$LATEST")
    with pytest.raises(ClientError) as e:
        invoke(lam, Qualifier="9")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_lambda_api_invocations_are_in_the_invocation_log(server, lam, gate):
    lam.invoke(FunctionName="gate", Qualifier="live", Payload=json.dumps({"probe": "log"}).encode())
    log = requests.get(f"{server.url}/_cognate/invocations", timeout=10).json()["invocations"]
    mine = [i for i in log if i["event"] == {"probe": "log"}]
    assert len(mine) == 1, log[:3]
    assert mine[0]["function"] == "gate:1" and mine[0]["response"] == {"version": 1}


def test_aliases(lam, gate):
    alias = gate["alias"]
    assert alias["AliasArn"] == f"{ARN}:live" and alias["FunctionVersion"] == "1" and alias["Description"] == "prod"
    assert lam.get_alias(FunctionName="gate", Name="live")["FunctionVersion"] == "1"
    lam.create_alias(FunctionName="gate", Name="canary", FunctionVersion="2")
    names = [a["Name"] for a in lam.list_aliases(FunctionName="gate")["Aliases"]]
    assert names == ["canary", "live"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName="gate", FunctionVersion="2")["Aliases"]] == ["canary"]
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="gate", Name="live", FunctionVersion="2")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="gate", Name="broken", FunctionVersion="7")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="gate", Name="123", FunctionVersion="1")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.delete_alias(FunctionName="gate", Name="canary")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName="gate", Name="canary")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_pool_runs_the_version_its_lambda_config_names(server, lam, gate):
    idp = server.client()
    pool = idp.create_user_pool(PoolName="versions", LambdaConfig={"PreSignUp": f"{ARN}:live"})["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app")["UserPoolClient"]["ClientId"]
    # live → version 1, which refuses.
    with pytest.raises(ClientError) as e:
        idp.sign_up(ClientId=client, Username="ann", Password=PW)
    assert e.value.response["Error"]["Code"] == "UserLambdaValidationException"
    assert "v1 refuses ann" in e.value.response["Error"]["Message"]
    # Moving the alias to version 2 changes what the pool runs, with no change to the pool.
    lam.update_alias(FunctionName="gate", Name="live", FunctionVersion="2")
    assert idp.sign_up(ClientId=client, Username="ann", Password=PW)["UserConfirmed"] is True
    # A version number in the ARN pins that version.
    idp.update_user_pool(UserPoolId=pool, LambdaConfig={"PreSignUp": f"{ARN}:1"})
    with pytest.raises(ClientError) as e:
        idp.sign_up(ClientId=client, Username="bob", Password=PW)
    assert "v1 refuses bob" in e.value.response["Error"]["Message"]
    lam.update_alias(FunctionName="gate", Name="live", FunctionVersion="1")


def test_deleting_the_function_takes_its_versions_and_aliases(lam):
    lam.create_function(FunctionName="brief", Runtime="nodejs20.x", Handler="index.handler", Role=ROLE,
                        Code={"ZipFile": package(V2)})
    lam.publish_version(FunctionName="brief")
    lam.create_alias(FunctionName="brief", Name="now", FunctionVersion="1")
    lam.delete_function(FunctionName="brief")
    lam.create_function(FunctionName="brief", Runtime="nodejs20.x", Handler="index.handler", Role=ROLE,
                        Code={"ZipFile": package(V1)})
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="brief")["Versions"]] == ["$LATEST"]
    assert lam.list_aliases(FunctionName="brief")["Aliases"] == []
    lam.delete_function(FunctionName="brief")
