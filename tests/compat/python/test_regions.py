"""Pools of several regions on one server: a request's SigV4 credential scope decides the region
of the pool it creates (boto3 clients of two regions), and the pool's id, ARN, token issuer and
domain name carry that region; unsigned calls get the server's `--region`."""
import boto3
import jwt
import requests
from botocore import UNSIGNED
from botocore.config import Config

PW = "Correct-horse-1"


def client(server, region, **kwargs):
    return boto3.client("cognito-idp", endpoint_url=server.url, region_name=region,
                        aws_access_key_id="AKIDTEST", aws_secret_access_key="secret", **kwargs)


def id_token(idp, pool_id):
    app = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                      ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    app_id = app["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username="rey", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username="rey", Password=PW, Permanent=True)
    out = idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=app_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "rey", "PASSWORD": PW})
    return jwt.decode(out["AuthenticationResult"]["IdToken"], options={"verify_signature": False})


def test_each_region_gets_its_own_pools(server):
    east, west = client(server, "us-east-1"), client(server, "eu-west-1")
    a = east.create_user_pool(PoolName="east")["UserPool"]
    b = west.create_user_pool(PoolName="west")["UserPool"]
    assert a["Id"].startswith("us-east-1_") and b["Id"].startswith("eu-west-1_")
    assert a["Arn"] == f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{a['Id']}"
    assert b["Arn"] == f"arn:aws:cognito-idp:eu-west-1:000000000000:userpool/{b['Id']}"
    # Either client reaches either pool (one server), and describes it with its own region.
    assert east.describe_user_pool(UserPoolId=b["Id"])["UserPool"]["Arn"] == b["Arn"]
    assert id_token(west, b["Id"])["iss"] == f"{server.url}/{b['Id']}"
    # An unsigned call is the server's region.
    unsigned = client(server, "ap-south-1", config=Config(signature_version=UNSIGNED))
    assert unsigned.create_user_pool(PoolName="plain")["UserPool"]["Id"].startswith("us-east-1_")


def test_an_aws_style_public_url_gives_each_pool_its_regions_issuer(start_server):
    server = start_server("--public-url", "https://cognito-idp.us-east-1.amazonaws.com")
    west = client(server, "eu-west-1")
    pool = west.create_user_pool(PoolName="west")["UserPool"]["Id"]
    assert id_token(west, pool)["iss"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{pool}"
    # The pool's domain answers under its own region's name: there, only its own clients.
    west.create_user_pool_domain(UserPoolId=pool, Domain="west-shop")
    mine = west.create_user_pool_client(UserPoolId=pool, ClientName="web", AllowedOAuthFlowsUserPoolClient=True,
                                        AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
                                        CallbackURLs=["http://localhost:3000/cb"])["UserPoolClient"]["ClientId"]
    other_pool = client(server, "us-east-1").create_user_pool(PoolName="east")["UserPool"]["Id"]
    theirs = client(server, "us-east-1").create_user_pool_client(
        UserPoolId=other_pool, ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=["http://localhost:3000/cb"])["UserPoolClient"]["ClientId"]

    def authorize(client_id):
        return requests.get(f"{server.url}/oauth2/authorize", allow_redirects=False,
                            headers={"Host": "west-shop.auth.eu-west-1.amazoncognito.com"},
                            params={"client_id": client_id, "response_type": "code", "scope": "openid",
                                    "redirect_uri": "http://localhost:3000/cb"}).headers["location"]
    assert authorize(mine).startswith("/login?")
    assert authorize(theirs).startswith("/error?")


def test_the_account_id_in_arns_is_configurable(start_server):
    server = start_server("--account-id", "123456789012")
    pool = client(server, "eu-central-1").create_user_pool(PoolName="acct")["UserPool"]
    assert pool["Arn"] == f"arn:aws:cognito-idp:eu-central-1:123456789012:userpool/{pool['Id']}"
    lam = boto3.client("lambda", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.js", "exports.handler = async () => ({});")
    made = lam.create_function(FunctionName="acct", Runtime="nodejs20.x", Handler="index.handler",
                               Role="arn:aws:iam::123456789012:role/x", Code={"ZipFile": buf.getvalue()})
    assert made["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:acct"
