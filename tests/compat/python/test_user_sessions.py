"""User sessions (issue #19) through boto3: the pool's and the client's session configuration,
listing a user's token and SSO sessions (as an administrator and as the user), revoking them
(alone or with their linked sessions), RevokeToken's RevokeAssociatedSessions, the MaxPerUser
eviction and paging. A revoked session's refresh token and access tokens stop working."""
import html
import re
import time
import urllib.parse
import uuid

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import refusal as error_of

PW = "Correct-horse-1"
CALLBACK = "http://localhost:3000/callback"


@pytest.fixture
def raw(server):
    """A client that sends what it is given: the server, not botocore, validates."""
    return boto3.client(
        "cognito-idp", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret", config=Config(parameter_validation=False))


def new_pool(idp, tracking=True, max_per_user=20, **kwargs):
    pool = idp.create_user_pool(PoolName=f"s-{uuid.uuid4().hex[:8]}", **kwargs)["UserPool"]["Id"]
    if tracking:
        idp.set_user_pool_session_configuration(
            UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": max_per_user})
    return pool


def new_client(idp, pool, **kwargs):
    return idp.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        **kwargs)["UserPoolClient"]["ClientId"]


def web_client(idp, pool):
    return new_client(idp, pool, AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                      CallbackURLs=[CALLBACK], AllowedOAuthScopes=["openid", "aws.cognito.signin.user.admin"],
                      SupportedIdentityProviders=["COGNITO"])


def add_user(idp, pool, username="ana"):
    idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=PW, Permanent=True)


def sign_in(idp, client, username="ana"):
    return idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": PW})["AuthenticationResult"]


def refresh(idp, client, token):
    return idp.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": token})["AuthenticationResult"]


def sessions(idp, pool, username="ana"):
    return idp.admin_list_user_sessions(UserPoolId=pool, Username=username)["Sessions"]


class Browser:
    """A browser on the managed-login pages: it keeps the hosted session cookie."""

    def __init__(self, server):
        self.server = server
        self.http = requests.Session()

    def code(self, client, username="ana"):
        """The authorization code for `client`: signs in on the page unless the cookie is reused."""
        res = self.http.get(f"{self.server.url}/oauth2/authorize", allow_redirects=False, params={
            "response_type": "code", "client_id": client, "redirect_uri": CALLBACK,
            "scope": "openid aws.cognito.signin.user.admin"})
        assert res.status_code == 302, res.text
        location = urllib.parse.urljoin(self.server.url, res.headers["location"])
        if not location.startswith(CALLBACK):
            page = self.http.get(location).text
            csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
            action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
            res = self.http.post(urllib.parse.urljoin(location, action), allow_redirects=False,
                                 data={"_csrf": csrf, "action": "signin", "username": username, "password": PW})
            assert res.status_code == 302, res.text
            location = res.headers["location"]
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]

    def token_response(self, client, username="ana"):
        code = self.code(client, username)
        return requests.post(f"{self.server.url}/oauth2/token", data={
            "grant_type": "authorization_code", "client_id": client, "code": code, "redirect_uri": CALLBACK})

    def tokens(self, client, username="ana"):
        res = self.token_response(client, username)
        assert res.ok, res.text
        return res.json()


# --- configuration ------------------------------------------------------------------------------


def test_pool_session_configuration_defaults_round_trip_and_validation(idp, raw):
    pool = new_pool(idp, tracking=False)
    got = idp.get_user_pool_session_configuration(UserPoolId=pool)
    assert (got["UserPoolId"], got["UserSessionTracking"], got["TokenSession"]) == (pool, "DISABLED",
                                                                                   {"MaxPerUser": 20})
    done = idp.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 7})
    assert (done["UserPoolId"], done["UserSessionTracking"], done["TokenSession"]) == (pool, "ENABLED",
                                                                                      {"MaxPerUser": 7})
    got = idp.get_user_pool_session_configuration(UserPoolId=pool)
    assert (got["UserSessionTracking"], got["TokenSession"]) == ("ENABLED", {"MaxPerUser": 7})
    # UpdateUserPool rebuilds the pool's document; the session configuration stays.
    idp.update_user_pool(UserPoolId=pool)
    assert idp.get_user_pool_session_configuration(UserPoolId=pool)["TokenSession"] == {"MaxPerUser": 7}
    # Kept beside the pool's settings, not among them.
    assert "SessionConfiguration" not in idp.describe_user_pool(UserPoolId=pool)["UserPool"]

    for bad in (0, 101, -3):
        code, message = error_of(lambda: raw.set_user_pool_session_configuration(
            UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": bad}))
        assert code == "InvalidParameterException", message
        assert "maxPerUser" in message
    code, _ = error_of(lambda: raw.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="MAYBE", TokenSession={"MaxPerUser": 5}))
    assert code == "InvalidParameterException"
    code, _ = error_of(lambda: raw.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="ENABLED"))
    assert code == "InvalidParameterException"
    # Nothing of the refused requests stuck.
    assert idp.get_user_pool_session_configuration(UserPoolId=pool)["TokenSession"] == {"MaxPerUser": 7}

    assert error_of(lambda: idp.get_user_pool_session_configuration(UserPoolId="us-east-1_nope"))[0] == \
        "ResourceNotFoundException"
    lite = new_pool(idp, tracking=False, UserPoolTier="LITE")
    assert error_of(lambda: idp.set_user_pool_session_configuration(
        UserPoolId=lite, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 5}))[0] == \
        "FeatureUnavailableInTierException"


def test_client_session_configuration(idp, raw):
    pool = new_pool(idp, tracking=False)
    client = new_client(idp, pool)
    got = idp.get_user_pool_client_session_configuration(UserPoolId=pool, ClientId=client)
    assert (got["UserPoolId"], got["ClientId"], got["SSOSession"]) == (pool, client, {"MaxValidityMinutes": 60})
    # Session tracking must be enabled first.
    assert error_of(lambda: idp.set_user_pool_client_session_configuration(
        UserPoolId=pool, ClientId=client, SSOSession={"MaxValidityMinutes": 5}))[0] == "InvalidParameterException"
    idp.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 20})
    done = idp.set_user_pool_client_session_configuration(
        UserPoolId=pool, ClientId=client, SSOSession={"MaxValidityMinutes": 0})
    assert (done["UserPoolId"], done["ClientId"], done["SSOSession"]) == (pool, client, {"MaxValidityMinutes": 0})
    assert idp.get_user_pool_client_session_configuration(UserPoolId=pool, ClientId=client)["SSOSession"] == \
        {"MaxValidityMinutes": 0}
    idp.set_user_pool_client_session_configuration(
        UserPoolId=pool, ClientId=client, SSOSession={"MaxValidityMinutes": 129600})
    # Disabling tracking keeps the client's configuration (dormant).
    idp.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="DISABLED", TokenSession={"MaxPerUser": 20})
    assert idp.get_user_pool_client_session_configuration(UserPoolId=pool, ClientId=client)["SSOSession"] == \
        {"MaxValidityMinutes": 129600}
    idp.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 20})

    for bad in (-1, 129601):
        code, message = error_of(lambda: raw.set_user_pool_client_session_configuration(
            UserPoolId=pool, ClientId=client, SSOSession={"MaxValidityMinutes": bad}))
        assert code == "InvalidParameterException", message
    assert error_of(lambda: idp.get_user_pool_client_session_configuration(
        UserPoolId=pool, ClientId="nosuchclient123"))[0] == "ResourceNotFoundException"
    assert error_of(lambda: idp.set_user_pool_client_session_configuration(
        UserPoolId=pool, ClientId="nosuchclient123", SSOSession={"MaxValidityMinutes": 5}))[0] == \
        "ResourceNotFoundException"


# --- token sessions -----------------------------------------------------------------------------


def test_two_sign_ins_are_two_sessions_and_revoking_one_ends_only_it(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    add_user(idp, pool)
    before = time.time()
    first = sign_in(idp, client)
    second = sign_in(idp, client)

    listed = sessions(idp, pool)
    assert len(listed) == 2
    for s in listed:
        assert re.fullmatch(r"tkn[a-z0-9]{25}", s["SessionId"])
        assert s["SessionType"] == "TOKEN"
        assert s["ClientId"] == client
        assert s["CreateDate"].timestamp() >= before - 1
        assert s["LastActiveDate"] >= s["CreateDate"]
        # Where the sign-in came from: this machine, through boto3 on Linux.
        assert s["LastIPAddress"] == "127.0.0.1"
        assert s["DeviceType"] in ("Linux, Boto3", "Boto3"), s["DeviceType"]
        assert s["IsCurrentSession"] is False
        assert "OriginSessionId" not in s

    # The user sees the same sessions, the one of their access token marked current.
    mine = idp.list_user_sessions(AccessToken=first["AccessToken"])
    assert "NextToken" not in mine
    assert {s["SessionId"] for s in mine["Sessions"]} == {s["SessionId"] for s in listed}
    current = [s["SessionId"] for s in mine["Sessions"] if s["IsCurrentSession"]]
    assert len(current) == 1
    seen_by_second = idp.list_user_sessions(AccessToken=second["AccessToken"])["Sessions"]
    other = [s["SessionId"] for s in seen_by_second if s["IsCurrentSession"]]
    assert len(other) == 1 and other != current

    # A refresh is activity on the session, not a new one.
    time.sleep(0.05)
    refresh(idp, client, first["RefreshToken"])
    after = {s["SessionId"]: s for s in sessions(idp, pool)}
    assert len(after) == 2
    assert after[current[0]]["LastActiveDate"] > after[current[0]]["CreateDate"]
    assert after[other[0]]["LastActiveDate"] == after[other[0]]["CreateDate"]

    # The user cannot revoke the session of the token they call with...
    code, _ = error_of(lambda: idp.revoke_user_session(AccessToken=first["AccessToken"], SessionId=current[0]))
    assert code == "InvalidParameterException"
    # ...but can revoke the other one.
    idp.revoke_user_session(AccessToken=first["AccessToken"], SessionId=other[0])
    assert [s["SessionId"] for s in sessions(idp, pool)] == current
    assert error_of(lambda: refresh(idp, client, second["RefreshToken"]))[0] == "NotAuthorizedException"
    assert error_of(lambda: idp.get_user(AccessToken=second["AccessToken"])) == \
        ("NotAuthorizedException", "Access Token has been revoked")
    # The first session keeps working.
    assert idp.get_user(AccessToken=first["AccessToken"])["Username"] == "ana"
    assert refresh(idp, client, first["RefreshToken"])["AccessToken"]

    # An administrator revokes the last one.
    idp.admin_revoke_user_session(UserPoolId=pool, Username="ana", SessionId=current[0])
    assert sessions(idp, pool) == []
    assert error_of(lambda: idp.get_user(AccessToken=first["AccessToken"]))[0] == "NotAuthorizedException"
    assert error_of(lambda: refresh(idp, client, first["RefreshToken"]))[0] == "NotAuthorizedException"


def test_unknown_and_foreign_session_ids_are_not_found(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    add_user(idp, pool, "ana")
    add_user(idp, pool, "bob")
    ana = sign_in(idp, client, "ana")
    bob = sign_in(idp, client, "bob")
    bobs = sessions(idp, pool, "bob")[0]["SessionId"]
    unknown = "tkn" + "0" * 25
    for call in (
        lambda: idp.admin_revoke_user_session(UserPoolId=pool, Username="ana", SessionId=unknown),
        lambda: idp.revoke_user_session(AccessToken=ana["AccessToken"], SessionId=unknown),
        lambda: idp.admin_revoke_user_session(UserPoolId=pool, Username="ana", SessionId=bobs),
        lambda: idp.revoke_user_session(AccessToken=ana["AccessToken"], SessionId=bobs),
    ):
        assert error_of(call)[0] == "ResourceNotFoundException"
    assert idp.get_user(AccessToken=bob["AccessToken"])["Username"] == "bob"
    # A revoked session is gone too.
    idp.admin_revoke_user_session(UserPoolId=pool, Username="bob", SessionId=bobs)
    assert error_of(lambda: idp.admin_revoke_user_session(UserPoolId=pool, Username="bob", SessionId=bobs))[0] == \
        "ResourceNotFoundException"
    # Malformed ids, unknown users and pools.
    assert error_of(lambda: idp.admin_revoke_user_session(
        UserPoolId=pool, Username="ana", SessionId="abc" + "0" * 25))[0] == "InvalidParameterException"
    assert error_of(lambda: idp.admin_list_user_sessions(UserPoolId=pool, Username="nobody"))[0] == \
        "UserNotFoundException"
    assert error_of(lambda: idp.admin_list_user_sessions(UserPoolId="us-east-1_nope", Username="ana"))[0] == \
        "ResourceNotFoundException"
    assert error_of(lambda: idp.list_user_sessions(AccessToken="not.a.token"))[0] == "NotAuthorizedException"


def test_without_tracking_nothing_is_recorded(idp):
    pool = new_pool(idp, tracking=False)
    client = new_client(idp, pool)
    add_user(idp, pool)
    tokens = sign_in(idp, client)
    assert sessions(idp, pool) == []
    assert idp.list_user_sessions(AccessToken=tokens["AccessToken"])["Sessions"] == []
    # Turning tracking on records the sign-ins from then on.
    idp.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 20})
    sign_in(idp, client)
    assert len(sessions(idp, pool)) == 1


def test_revoke_token_and_global_sign_out_end_sessions(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    add_user(idp, pool)
    a = sign_in(idp, client)
    b = sign_in(idp, client)
    idp.revoke_token(Token=a["RefreshToken"], ClientId=client)
    assert len(sessions(idp, pool)) == 1
    idp.global_sign_out(AccessToken=b["AccessToken"])
    assert sessions(idp, pool) == []


def test_the_least_recently_used_session_is_evicted_at_max_per_user(idp):
    pool = new_pool(idp, max_per_user=2)
    client = new_client(idp, pool)
    add_user(idp, pool)
    oldest = sign_in(idp, client)
    middle = sign_in(idp, client)
    time.sleep(0.01)
    # The oldest is used again, so the middle one is now the least recently used.
    refresh(idp, client, oldest["RefreshToken"])
    newest = sign_in(idp, client)
    assert len(sessions(idp, pool)) == 2
    assert error_of(lambda: refresh(idp, client, middle["RefreshToken"]))[0] == "NotAuthorizedException"
    assert error_of(lambda: idp.get_user(AccessToken=middle["AccessToken"]))[0] == "NotAuthorizedException"
    for kept in (oldest, newest):
        assert idp.get_user(AccessToken=kept["AccessToken"])["Username"] == "ana"
    # Lowering the limit evicts nothing until the next sign-in.
    idp.set_user_pool_session_configuration(
        UserPoolId=pool, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 1})
    assert len(sessions(idp, pool)) == 2
    last = sign_in(idp, client)
    listed = idp.list_user_sessions(AccessToken=last["AccessToken"])["Sessions"]
    assert len(listed) == 1 and listed[0]["IsCurrentSession"] is True


# --- SSO sessions (managed login) ---------------------------------------------------------------


def test_sso_sessions_link_token_sessions_and_revoke_token_linked(idp, server):
    pool = new_pool(idp)
    app_a = web_client(idp, pool)
    app_b = web_client(idp, pool)
    add_user(idp, pool)
    browser = Browser(server)
    a = browser.tokens(app_a)
    b = browser.tokens(app_b)  # the hosted session cookie is reused: no second sign-in

    listed = sessions(idp, pool)
    sso = [s for s in listed if s["SessionType"] == "SSO"]
    tokens = [s for s in listed if s["SessionType"] == "TOKEN"]
    assert len(sso) == 1 and len(tokens) == 2
    assert re.fullmatch(r"sso[a-z0-9]{25}", sso[0]["SessionId"])
    assert sso[0]["ClientId"] == app_a
    assert "OriginSessionId" not in sso[0]
    assert {t["ClientId"] for t in tokens} == {app_a, app_b}
    assert all(t["OriginSessionId"] == sso[0]["SessionId"] for t in tokens)

    # LINKED: app A's token session and the SSO session it came through; app B's stays.
    idp.revoke_token(Token=a["refresh_token"], ClientId=app_a, RevokeAssociatedSessions="LINKED")
    left = sessions(idp, pool)
    assert [(s["SessionType"], s["ClientId"]) for s in left] == [("TOKEN", app_b)]
    assert error_of(lambda: idp.get_user(AccessToken=a["access_token"]))[0] == "NotAuthorizedException"
    assert idp.get_user(AccessToken=b["access_token"])["Username"] == "ana"
    # The browser's hosted sign-in is revoked: the page asks for the password again.
    res = browser.http.get(f"{server.url}/oauth2/authorize", allow_redirects=False, params={
        "response_type": "code", "client_id": app_b, "redirect_uri": CALLBACK, "scope": "openid"})
    assert res.status_code == 302 and not res.headers["location"].startswith(CALLBACK)
    # A fresh sign-in (another browser, a second later) works and is a new SSO session.
    time.sleep(1.1)
    Browser(server).tokens(app_a)
    assert len([s for s in sessions(idp, pool) if s["SessionType"] == "SSO"]) == 1


def test_revoking_an_sso_session_with_linked_sessions(idp, server):
    pool = new_pool(idp)
    app_a = web_client(idp, pool)
    app_b = web_client(idp, pool)
    api = new_client(idp, pool)
    add_user(idp, pool)
    browser = Browser(server)
    a = browser.tokens(app_a)
    b = browser.tokens(app_b)
    own = sign_in(idp, api)  # an API sign-in: no SSO session behind it
    listed = idp.list_user_sessions(AccessToken=own["AccessToken"])["Sessions"]
    sso = next(s["SessionId"] for s in listed if s["SessionType"] == "SSO")
    api_session = next(s for s in listed if s["ClientId"] == api)
    assert "OriginSessionId" not in api_session and api_session["IsCurrentSession"] is True

    # Without LINKED only the SSO session goes.
    idp.revoke_user_session(AccessToken=own["AccessToken"], SessionId=sso)
    assert sorted(s["SessionType"] for s in sessions(idp, pool)) == ["TOKEN"] * 3
    assert idp.get_user(AccessToken=a["access_token"])["Username"] == "ana"

    # With LINKED, an SSO session takes the token sessions that came through it.
    browser2 = Browser(server)
    time.sleep(1.1)  # another sign-in second: another SSO session
    c = browser2.tokens(app_a)
    d = browser2.tokens(app_b)
    sso2 = next(s["SessionId"] for s in sessions(idp, pool) if s["SessionType"] == "SSO")
    idp.admin_revoke_user_session(UserPoolId=pool, Username="ana", SessionId=sso2,
                                  RevokeAssociatedSessions="LINKED")
    for gone in (c, d):
        assert error_of(lambda: idp.get_user(AccessToken=gone["access_token"]))[0] == "NotAuthorizedException"
    for kept in (a, b):
        assert idp.get_user(AccessToken=kept["access_token"])["Username"] == "ana"
    assert len(sessions(idp, pool)) == 3

    # With LINKED, a token session takes its SSO session (and not its siblings).
    browser3 = Browser(server)
    time.sleep(1.1)
    e = browser3.tokens(app_a)
    f = browser3.tokens(app_b)
    listed = sessions(idp, pool)
    sso3 = next(s["SessionId"] for s in listed if s["SessionType"] == "SSO")
    e_session = next(s["SessionId"] for s in listed if s.get("OriginSessionId") == sso3 and s["ClientId"] == app_a)
    idp.admin_revoke_user_session(UserPoolId=pool, Username="ana", SessionId=e_session,
                                  RevokeAssociatedSessions="LINKED")
    assert error_of(lambda: idp.get_user(AccessToken=e["access_token"]))[0] == "NotAuthorizedException"
    assert idp.get_user(AccessToken=f["access_token"])["Username"] == "ana"
    assert not any(s["SessionType"] == "SSO" for s in sessions(idp, pool))


def test_a_revoked_sso_session_is_not_reused_by_the_sign_in_page(idp, server):
    pool = new_pool(idp)
    app = web_client(idp, pool)
    add_user(idp, pool)
    browser = Browser(server)
    browser.tokens(app)
    sso = next(s["SessionId"] for s in sessions(idp, pool) if s["SessionType"] == "SSO")

    def lands_on_sign_in_page():
        res = browser.http.get(f"{server.url}/oauth2/authorize", allow_redirects=False, params={
            "response_type": "code", "client_id": app, "redirect_uri": CALLBACK, "scope": "openid"})
        assert res.status_code == 302, res.text
        return not res.headers["location"].startswith(CALLBACK)

    assert not lands_on_sign_in_page(), "the cookie is reused while its SSO session lives"
    idp.admin_revoke_user_session(UserPoolId=pool, Username="ana", SessionId=sso)
    assert lands_on_sign_in_page(), "a revoked SSO session asks for the password again"
    time.sleep(1.1)  # another sign-in second: another SSO session
    assert "access_token" in browser.tokens(app)


# --- paging -------------------------------------------------------------------------------------


def test_sessions_come_in_pages_of_125(idp, server):
    pool = new_pool(idp, max_per_user=100)
    app = web_client(idp, pool)
    api = new_client(idp, pool)
    add_user(idp, pool)
    # 26 hosted sign-ins, each in a second of its own (26 SSO + 26 token sessions), and 74 API
    # sign-ins: 126 sessions.
    for _ in range(26):
        Browser(server).tokens(app)
        time.sleep(1.0 - time.time() % 1.0 + 0.02)
    for _ in range(74):
        tokens = sign_in(idp, api)

    first = idp.admin_list_user_sessions(UserPoolId=pool, Username="ana")
    assert len(first["Sessions"]) == 125 and first["NextToken"]
    second = idp.admin_list_user_sessions(UserPoolId=pool, Username="ana", NextToken=first["NextToken"])
    assert len(second["Sessions"]) == 1 and "NextToken" not in second
    ids = [s["SessionId"] for s in first["Sessions"] + second["Sessions"]]
    assert len(set(ids)) == 126
    assert sum(1 for i in ids if i.startswith("sso")) == 26

    mine = idp.list_user_sessions(AccessToken=tokens["AccessToken"])
    rest = idp.list_user_sessions(AccessToken=tokens["AccessToken"], NextToken=mine["NextToken"])
    assert len(mine["Sessions"]) + len(rest["Sessions"]) == 126
    assert sum(1 for s in mine["Sessions"] + rest["Sessions"] if s["IsCurrentSession"]) == 1

    assert error_of(lambda: idp.admin_list_user_sessions(UserPoolId=pool, Username="ana", NextToken="garbage"))[0] \
        == "InvalidParameterException"
