"""Rate limits (issue #18) as boto3 sees them: TooManyRequestsException, which botocore treats
as throttling; and /metrics counting the refusals."""
import uuid

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import boto3


@pytest.fixture(scope="module")
def limited(start_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "cognate.toml"
    path.write_text(
        """
# Dev mode leaves this machine's callers alone unless told otherwise.
[limits]
loopback_exempt = false

# Slow refills (one every ten seconds) so that a slow machine's calls still meet the limit.
[limits.sign_in]
per_ip = 0.1
per_ip_burst = 4

[limits.sign_up]
per_user = 0.1
per_user_burst = 2
"""
    )
    return start_server("--config", str(path))


def no_retries(server):
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def app(limited):
    idp = no_retries(limited)
    pool = idp.create_user_pool(PoolName="limits")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return idp, pool, client


def test_sign_ins_beyond_the_address_limit_get_too_many_requests(limited, app):
    idp, _, client = app
    codes = []
    for _ in range(8):
        try:
            idp.initiate_auth(
                ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "nobody", "PASSWORD": "x"}
            )
        except ClientError as e:
            codes.append((e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]))
    throttled = [c for c in codes if c[0] == "TooManyRequestsException"]
    assert throttled, codes
    code, message, meta = throttled[0]
    assert message == "Too many requests"
    assert meta["HTTPStatusCode"] == 400
    assert int(meta["HTTPHeaders"]["retry-after"]) >= 1
    # The calls before the limit were answered as usual.
    assert codes[0][0] in ("UserNotFoundException", "NotAuthorizedException"), codes

    metrics = requests.get(f"{limited.url}/metrics", timeout=5).text
    assert 'cognate_rate_limited_total{class="sign_in",scope="ip"}' in metrics


def test_botocore_retries_it_as_throttling():
    from botocore.retries import standard

    checker = standard.ThrottledRetryableChecker()
    context = standard.RetryContext(
        attempt_number=1,
        parsed_response={"Error": {"Code": "TooManyRequestsException", "Message": "Too many requests"}},
    )
    assert checker.is_retryable(context)


def test_sign_ups_of_one_user_are_limited_per_user(app):
    idp, _, client = app
    name = f"u{uuid.uuid4().hex[:8]}"
    outcomes = []
    for _ in range(3):
        try:
            idp.sign_up(ClientId=client, Username=name, Password="Passw0rd!x")
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    # The first signs up, the second finds the name taken, the third is one too many.
    assert outcomes == ["ok", "UsernameExistsException", "TooManyRequestsException"], outcomes
    # Another user is not held back by it.
    idp.sign_up(ClientId=client, Username=f"v{uuid.uuid4().hex[:8]}", Password="Passw0rd!x")
