"""GetClientToken (the client-credentials grant through the API) and GetDerivedToken (OAuth 2.0
token exchange, RFC 8693) through boto3 (issue #19). Every issued token is checked against the
pool's JWKS, as a downstream service would check it."""
import base64
import html
import json
import re
import sys
import textwrap
import urllib.parse
import uuid

import jwt
import pytest
import requests

from conftest import refusal as error_of

PW = "Correct-horse-1"
CALLBACK = "http://localhost:3000/callback"


def verified(server, pool_id, token, **kwargs):
    issuer = f"{server.url}/{pool_id}"
    key = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    options = {"verify_aud": False} if "audience" not in kwargs else {}
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, options=options, **kwargs)


def unverified(token):
    return jwt.decode(token, options={"verify_signature": False})


def hosted_sign_in(server, client_id, username, scope):
    """Signs in on cognate's hosted page (authorization code grant) and returns the tokens."""
    browser = requests.Session()
    res = browser.get(f"{server.url}/oauth2/authorize", allow_redirects=False, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": scope})
    assert res.status_code == 302, res.text
    login = urllib.parse.urljoin(server.url, res.headers["location"])
    page = browser.get(login).text
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    res = browser.post(urllib.parse.urljoin(login, action), allow_redirects=False,
                       data={"_csrf": csrf, "action": "signin", "username": username, "password": PW})
    assert res.status_code == 302, res.text
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(res.headers["location"]).query))["code"]
    tokens = requests.post(f"{server.url}/oauth2/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": CALLBACK})
    assert tokens.ok, tokens.text
    return tokens.json()


class World:
    """One pool with a resource server, a user, a web app that signs the user in, services that
    exchange tokens, and a machine client."""

    def __init__(self, server, idp):
        self.server = server
        self.idp = idp
        self.pool = idp.create_user_pool(PoolName=f"tx-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
        idp.create_resource_server(UserPoolId=self.pool, Identifier="orders", Name="Orders", Scopes=[
            {"ScopeName": "read", "ScopeDescription": "read"},
            {"ScopeName": "write", "ScopeDescription": "write"}])
        idp.create_resource_server(UserPoolId=self.pool, Identifier="billing", Name="Billing", Scopes=[
            {"ScopeName": "charge", "ScopeDescription": "charge"}])
        self.web = self.client(
            "web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], CallbackURLs=[CALLBACK],
            AllowedOAuthScopes=["openid", "email", "orders/read", "orders/write", "billing/charge"],
            SupportedIdentityProviders=["COGNITO"])
        # A service that may exchange both ways, allowed orders/read and billing/charge only.
        self.svc = self.client(
            "svc", GenerateSecret=True,
            ExplicitAuthFlows=["ALLOW_TOKEN_EXCHANGE_IMPERSONATION", "ALLOW_TOKEN_EXCHANGE_DELEGATION"],
            AllowedOAuthScopes=["orders/read", "billing/charge"])
        self.impersonate_only = self.client(
            "imp", ExplicitAuthFlows=["ALLOW_TOKEN_EXCHANGE_IMPERSONATION"], AllowedOAuthScopes=["orders/read"])
        self.delegate_only = self.client(
            "del", ExplicitAuthFlows=["ALLOW_TOKEN_EXCHANGE_DELEGATION"], AllowedOAuthScopes=["orders/read"])
        self.agent = self.client(
            "agent", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["orders/read", "billing/charge"])
        self.username = "ana"
        idp.admin_create_user(UserPoolId=self.pool, Username=self.username, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "ana@example.com"},
                                              {"Name": "email_verified", "Value": "true"}])
        idp.admin_set_user_password(UserPoolId=self.pool, Username=self.username, Password=PW, Permanent=True)
        self.sub = {a["Name"]: a["Value"] for a in idp.admin_get_user(
            UserPoolId=self.pool, Username=self.username)["UserAttributes"]}["sub"]

    def client(self, name, **kwargs):
        c = self.idp.create_user_pool_client(UserPoolId=self.pool, ClientName=name, **kwargs)["UserPoolClient"]
        return {"id": c["ClientId"], "secret": c.get("ClientSecret")}

    def oauth_tokens(self, scope="openid email orders/read orders/write billing/charge"):
        return hosted_sign_in(self.server, self.web["id"], self.username, scope)

    def api_tokens(self):
        return self.idp.initiate_auth(ClientId=self.web["id"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": self.username, "PASSWORD": PW})["AuthenticationResult"]

    def exchange(self, client, subject, subject_type="ACCESS_TOKEN", **kwargs):
        if client.get("secret"):
            kwargs.setdefault("ClientSecret", client["secret"])
        return self.idp.get_derived_token(ClientId=client["id"], SubjectToken=subject,
                                          SubjectTokenType=subject_type, **kwargs)

    def agent_token(self):
        return self.idp.get_client_token(ClientId=self.agent["id"], Secret=self.agent["secret"])[
            "ClientAuthenticationResult"]["AccessToken"]


@pytest.fixture(scope="module")
def world(server):
    return World(server, server.client())


# --- app clients --------------------------------------------------------------------------------


def test_token_exchange_flows_are_accepted_and_described(world, idp):
    described = idp.describe_user_pool_client(UserPoolId=world.pool, ClientId=world.svc["id"])["UserPoolClient"]
    assert sorted(described["ExplicitAuthFlows"]) == [
        "ALLOW_TOKEN_EXCHANGE_DELEGATION", "ALLOW_TOKEN_EXCHANGE_IMPERSONATION"]
    idp.update_user_pool_client(UserPoolId=world.pool, ClientId=world.delegate_only["id"],
                                ExplicitAuthFlows=["ALLOW_TOKEN_EXCHANGE_DELEGATION", "ALLOW_USER_SRP_AUTH"],
                                AllowedOAuthScopes=["orders/read"])
    code, _ = error_of(lambda: idp.create_user_pool_client(
        UserPoolId=world.pool, ClientName="mixed",
        ExplicitAuthFlows=["ALLOW_TOKEN_EXCHANGE_DELEGATION", "USER_PASSWORD_AUTH"]))
    assert code == "InvalidParameterException"


# --- GetClientToken -----------------------------------------------------------------------------


def test_get_client_token_issues_the_requested_custom_scopes(world, server, idp):
    out = idp.get_client_token(ClientId=world.agent["id"], Secret=world.agent["secret"], Scopes=["orders/read"])
    result = out["ClientAuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 3600
    claims = verified(server, world.pool, result["AccessToken"])
    assert claims["token_use"] == "access"
    assert claims["sub"] == world.agent["id"] and claims["client_id"] == world.agent["id"]
    assert claims["scope"] == "orders/read"
    assert claims["exp"] - claims["iat"] == 3600
    assert "username" not in claims
    # No scopes asked for: every scope the client is allowed.
    every = idp.get_client_token(ClientId=world.agent["id"], Secret=world.agent["secret"])
    claims = verified(server, world.pool, every["ClientAuthenticationResult"]["AccessToken"])
    assert sorted(claims["scope"].split(" ")) == ["billing/charge", "orders/read"]


def test_get_client_token_refuses_a_wrong_secret(world, idp):
    code, _ = error_of(lambda: idp.get_client_token(ClientId=world.agent["id"], Secret="x" * 40))
    assert code == "NotAuthorizedException"


def test_get_client_token_refuses_scopes_outside_the_pool_or_the_client(world, idp):
    code, message = error_of(lambda: idp.get_client_token(
        ClientId=world.agent["id"], Secret=world.agent["secret"], Scopes=["orders/delete"]))
    assert code == "InvalidParameterException" and "orders/delete" in message
    # Defined in the pool, but not allowed to this client: nothing left to grant.
    idp.create_resource_server(UserPoolId=world.pool, Identifier="admin", Name="Admin",
                               Scopes=[{"ScopeName": "all", "ScopeDescription": "all"}])
    code, _ = error_of(lambda: idp.get_client_token(
        ClientId=world.agent["id"], Secret=world.agent["secret"], Scopes=["admin/all"]))
    assert code == "InvalidParameterException"


def test_get_client_token_refuses_a_client_without_client_credentials(world, idp):
    # A client with a secret but only user sign-in flows is no machine client.
    code, message = error_of(lambda: idp.get_client_token(ClientId=world.svc["id"], Secret=world.svc["secret"]))
    assert code == "InvalidParameterException" and "client_credentials" in message
    # A client without a secret cannot be one either.
    code, _ = error_of(lambda: idp.get_client_token(ClientId=world.web["id"], Secret="s" * 40))
    assert code == "InvalidParameterException"
    code, _ = error_of(lambda: idp.get_client_token(ClientId="nosuchclient", Secret="s" * 40))
    assert code == "ResourceNotFoundException"


# --- GetDerivedToken: impersonation -------------------------------------------------------------


def test_impersonation_narrows_scopes_and_binds_the_resource_server(world, server):
    subject = world.oauth_tokens()["access_token"]
    out = world.exchange(world.svc, subject, Scopes=["orders/read"], Resources=["orders"])
    assert out["IssuedTokenType"] == "ACCESS_TOKEN" and out["TokenType"] == "Bearer"
    assert out["Scopes"] == ["orders/read"]
    assert "RefreshToken" not in out
    claims = verified(server, world.pool, out["IssuedToken"], audience="orders")
    original = unverified(subject)
    assert claims["token_use"] == "access"
    assert claims["sub"] == world.sub and claims["username"] == world.username
    assert claims["client_id"] == world.svc["id"]
    assert claims["aud"] == "orders"
    assert claims["scope"] == "orders/read"
    assert "act" not in claims
    assert claims["exp"] <= original["exp"]
    assert abs(claims["exp"] - claims["iat"] - out["ExpiresIn"]) <= 1


def test_requested_scopes_are_intersected_with_the_subjects_and_the_clients(world, server):
    subject = world.oauth_tokens("openid orders/read orders/write")["access_token"]
    # orders/write: the subject has it, the client may not. billing/charge: the client may, the
    # subject has not.
    out = world.exchange(world.svc, subject, Scopes=["orders/read", "orders/write", "billing/charge"])
    assert out["Scopes"] == ["orders/read"]
    assert verified(server, world.pool, out["IssuedToken"])["scope"] == "orders/read"
    code, _ = error_of(lambda: world.exchange(world.svc, subject, Scopes=["billing/charge"]))
    assert code == "InvalidParameterException"
    code, _ = error_of(lambda: world.exchange(world.svc, subject, Scopes=["orders/write"]))
    assert code == "InvalidParameterException"


def test_without_scopes_the_subjects_scopes_are_kept(world, server):
    subject = world.oauth_tokens("openid orders/read orders/write")["access_token"]
    out = world.exchange(world.svc, subject)
    assert sorted(out["Scopes"]) == ["openid", "orders/read", "orders/write"]
    claims = verified(server, world.pool, out["IssuedToken"])
    assert sorted(claims["scope"].split(" ")) == ["openid", "orders/read", "orders/write"]
    assert "aud" not in claims
    # Bound to a resource server, only that server's scopes stay.
    bound = world.exchange(world.svc, subject, Resources=["orders"])
    assert sorted(bound["Scopes"]) == ["orders/read", "orders/write"]


def test_an_id_token_for_an_audience(world, server):
    tokens = world.oauth_tokens()
    out = world.exchange(world.svc, tokens["id_token"], "ID_TOKEN", RequestedTokenType="ID_TOKEN",
                         Audiences=["billing-frontend"])
    assert out["IssuedTokenType"] == "ID_TOKEN" and out["TokenType"] == "N_A"
    assert "Scopes" not in out
    claims = verified(server, world.pool, out["IssuedToken"], audience="billing-frontend")
    assert claims["token_use"] == "id"
    assert claims["sub"] == world.sub and claims["cognito:username"] == world.username
    assert claims["email"] == "ana@example.com" and claims["email_verified"] is True
    # From an access token too; without an audience an ID token is the requesting client's.
    plain = world.exchange(world.svc, tokens["access_token"], RequestedTokenType="ID_TOKEN")
    assert verified(server, world.pool, plain["IssuedToken"], audience=world.svc["id"])["token_use"] == "id"
    # An access token without openid does not widen into the user's profile.
    narrow = world.oauth_tokens("orders/read")["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, narrow, RequestedTokenType="ID_TOKEN"))
    assert code == "InvalidParameterException"


def test_a_derived_token_serves_the_users_own_operations_until_sign_out(world, idp):
    subject = world.api_tokens()["AccessToken"]
    derived = world.exchange(world.svc, subject)
    assert derived["Scopes"] == ["aws.cognito.signin.user.admin"]
    assert idp.get_user(AccessToken=derived["IssuedToken"])["Username"] == world.username
    idp.global_sign_out(AccessToken=subject)
    code, _ = error_of(lambda: idp.get_user(AccessToken=derived["IssuedToken"]))
    assert code == "NotAuthorizedException"
    code, message = error_of(lambda: world.exchange(world.svc, subject))
    assert code == "NotAuthorizedException" and "revoked" in message


# --- GetDerivedToken: delegation ----------------------------------------------------------------


def test_delegation_names_the_actor_in_an_act_claim(world, server):
    subject = world.oauth_tokens()["access_token"]
    actor = world.agent_token()
    out = world.exchange(world.svc, subject, ActorToken=actor, ActorTokenType="ACCESS_TOKEN",
                         Scopes=["orders/read"], Audiences=["orders-api"])
    claims = verified(server, world.pool, out["IssuedToken"], audience="orders-api")
    assert claims["sub"] == world.sub
    assert claims["act"] == {"sub": world.agent["id"], "client_id": world.agent["id"]}
    assert claims["exp"] <= unverified(actor)["exp"]
    # Delegating a delegated token nests the earlier actor.
    again = world.exchange(world.svc, out["IssuedToken"], ActorToken=subject, ActorTokenType="ACCESS_TOKEN")
    chained = verified(server, world.pool, again["IssuedToken"])
    assert chained["act"]["sub"] == world.sub
    assert chained["act"]["act"] == claims["act"]


def test_each_mode_needs_its_own_flow(world):
    subject = world.oauth_tokens()["access_token"]
    actor = world.agent_token()
    code, message = error_of(lambda: world.exchange(world.impersonate_only, subject, ActorToken=actor,
                                                    ActorTokenType="ACCESS_TOKEN"))
    assert code == "InvalidParameterException" and "ALLOW_TOKEN_EXCHANGE_DELEGATION" in message
    code, message = error_of(lambda: world.exchange(world.delegate_only, subject))
    assert code == "InvalidParameterException" and "ALLOW_TOKEN_EXCHANGE_IMPERSONATION" in message
    # A client with neither (the default flows) is refused both.
    code, _ = error_of(lambda: world.exchange(world.web, subject))
    assert code == "InvalidParameterException"
    # Each works where it is enabled.
    world.exchange(world.impersonate_only, subject)
    world.exchange(world.delegate_only, subject, ActorToken=actor, ActorTokenType="ACCESS_TOKEN")


def test_request_shape_refusals(world):
    subject = world.oauth_tokens()["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, subject, ActorToken=world.agent_token()))
    assert code == "InvalidParameterException"
    code, _ = error_of(lambda: world.exchange(world.svc, subject, Audiences=["a"], Resources=["orders"]))
    assert code == "InvalidParameterException"
    code, _ = error_of(lambda: world.exchange(world.svc, subject, Resources=["nosuchserver"]))
    assert code == "InvalidParameterException"


# --- GetDerivedToken: tokens and secrets that do not check out ----------------------------------


def tampered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "orders/read orders/write billing/charge"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def test_a_tampered_subject_token_is_refused(world):
    subject = world.oauth_tokens("openid orders/read")["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, tampered(subject)))
    assert code == "NotAuthorizedException"
    code, _ = error_of(lambda: world.exchange(world.svc, "not.a.token"))
    assert code == "NotAuthorizedException"


def test_a_tampered_actor_token_is_refused(world):
    subject = world.oauth_tokens()["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, subject, ActorToken=tampered(world.agent_token()),
                                              ActorTokenType="ACCESS_TOKEN"))
    assert code == "NotAuthorizedException"


def test_a_token_of_another_pool_is_refused(world, idp):
    other = idp.create_user_pool(PoolName="other")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=other, ClientName="c",
                                         ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    idp.admin_create_user(UserPoolId=other, Username="bo", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=other, Username="bo", Password=PW, Permanent=True)
    foreign = idp.admin_initiate_auth(UserPoolId=other, ClientId=client["ClientId"],
                                      AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "bo", "PASSWORD": PW})["AuthenticationResult"]
    code, message = error_of(lambda: world.exchange(world.svc, foreign["AccessToken"]))
    assert code == "NotAuthorizedException" and "not issued by this user pool" in message
    subject = world.oauth_tokens()["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, subject, ActorToken=foreign["IdToken"],
                                              ActorTokenType="ID_TOKEN"))
    assert code == "NotAuthorizedException"


def test_the_token_type_must_match_the_token(world):
    tokens = world.oauth_tokens()
    code, _ = error_of(lambda: world.exchange(world.svc, tokens["id_token"], "ACCESS_TOKEN"))
    assert code == "NotAuthorizedException"
    code, _ = error_of(lambda: world.exchange(world.svc, tokens["access_token"], "ID_TOKEN"))
    assert code == "NotAuthorizedException"
    # A machine's token is no user's: it may act, not be the subject.
    code, _ = error_of(lambda: world.exchange(world.svc, world.agent_token()))
    assert code == "NotAuthorizedException"


def test_tokens_cognate_cannot_verify_are_refused(world):
    assertion = base64.b64encode(b"<samlp:Response/>").decode()
    code, _ = error_of(lambda: world.exchange(world.svc, assertion, "SAML2"))
    assert code == "InvalidParameterException"
    subject = world.oauth_tokens()["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, subject, SubjectTokenProviderName="SomeOidc"))
    assert code == "InvalidParameterException"


def test_the_client_secret_is_checked(world):
    subject = world.oauth_tokens()["access_token"]
    code, _ = error_of(lambda: world.exchange(world.svc, subject, ClientSecret="w" * 40))
    assert code == "NotAuthorizedException"
    code, _ = error_of(lambda: world.idp.get_derived_token(ClientId=world.svc["id"], SubjectToken=subject,
                                                           SubjectTokenType="ACCESS_TOKEN"))
    assert code == "NotAuthorizedException"


def test_a_disabled_user_cannot_be_exchanged(world, idp):
    subject = world.oauth_tokens()["access_token"]
    idp.admin_disable_user(UserPoolId=world.pool, Username=world.username)
    try:
        code, _ = error_of(lambda: world.exchange(world.svc, subject))
        assert code == "NotAuthorizedException"
    finally:
        idp.admin_enable_user(UserPoolId=world.pool, Username=world.username)


def test_token_exchange_needs_the_essentials_or_plus_plan(idp):
    pool = idp.create_user_pool(PoolName="lite", UserPoolTier="LITE")["UserPool"]["Id"]
    web = idp.create_user_pool_client(UserPoolId=pool, ClientName="web",
                                      ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    svc = idp.create_user_pool_client(UserPoolId=pool, ClientName="svc",
                                      ExplicitAuthFlows=["ALLOW_TOKEN_EXCHANGE_IMPERSONATION"])["UserPoolClient"]
    idp.admin_create_user(UserPoolId=pool, Username="cy", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="cy", Password=PW, Permanent=True)
    token = idp.admin_initiate_auth(UserPoolId=pool, ClientId=web["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "cy", "PASSWORD": PW})["AuthenticationResult"]
    code, _ = error_of(lambda: idp.get_derived_token(ClientId=svc["ClientId"], SubjectToken=token["AccessToken"],
                                                     SubjectTokenType="ACCESS_TOKEN"))
    assert code == "FeatureUnavailableInTierException"


# --- GetClientToken and the pre token generation trigger ----------------------------------------

TRIGGER_POOL = "us-east-1_TokenExch1"
PRE_TOKEN = '''
def handler(event, context):
    event["response"] = {"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {
        "claimsToAddOrOverride": {
            "source": event["triggerSource"],
            "tenant": event["request"]["clientMetadata"].get("tenant", "none"),
            "granted": " ".join(event["request"]["scopes"]),
        },
        "scopesToSuppress": ["orders/write"],
    }}}
    return event
'''


def test_client_metadata_reaches_a_v3_pre_token_generation_trigger(start_server, tmp_path):
    (tmp_path / "pretoken.py").write_text(PRE_TOKEN)
    path = tmp_path / "cognate.toml"
    path.write_text(textwrap.dedent(f"""
        [runtimes]
        python = "{sys.executable}"

        [[pools]]
        Id = "{TRIGGER_POOL}"
        PoolName = "m2m-trigger"

        [pools.LambdaConfig]
        PreTokenGenerationConfig = {{ LambdaArn = "arn:aws:lambda:us-east-1:000000000000:function:pretoken", LambdaVersion = "V3_0" }}

        [functions.pretoken]
        runtime = "python"
        handler = "pretoken.handler"
        timeout_ms = 15000
    """))
    server = start_server("--config", str(path))
    idp = server.client()
    idp.create_resource_server(UserPoolId=TRIGGER_POOL, Identifier="orders", Name="Orders", Scopes=[
        {"ScopeName": "read", "ScopeDescription": "read"}, {"ScopeName": "write", "ScopeDescription": "write"}])
    agent = idp.create_user_pool_client(
        UserPoolId=TRIGGER_POOL, ClientName="agent", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["orders/read", "orders/write"])["UserPoolClient"]
    out = idp.get_client_token(ClientId=agent["ClientId"], Secret=agent["ClientSecret"],
                               ClientMetadata={"tenant": "acme"})
    claims = verified(server, TRIGGER_POOL, out["ClientAuthenticationResult"]["AccessToken"])
    assert claims["source"] == "TokenGeneration_ClientCredentials"
    assert claims["tenant"] == "acme"
    assert sorted(claims["granted"].split(" ")) == ["orders/read", "orders/write"]
    assert claims["scope"] == "orders/read"  # the trigger suppressed orders/write
