"""Signing in with Facebook, played by a local stand-in: the provider's endpoints given in
ProviderDetails win over Facebook's, so the whole OAuth exchange runs on this machine. Facebook is
OAuth 2.0 without ID tokens: cognate exchanges the code with a GET, then reads the person from
the graph `me?fields=` URL with the mapped attribute names appended
(`attributes_url_add_attributes`), and keeps the user as `Facebook_<id>`."""
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests

PERSON = {"id": "10158", "email": "rae@example.com", "name": "Rae Cole", "birthday": "01/02/1990"}


class StandIn:
    """The provider: /dialog/oauth sends the browser back with a code, /oauth/access_token
    (GET) trades it for a token, /me answers the fields asked for. Records what it was asked."""

    def __init__(self):
        self.requests = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                stand_in.requests.append({"path": url.path, "query": query, "raw_query": url.query,
                                          "authorization": self.headers.get("authorization")})
                if url.path == "/dialog/oauth":
                    back = query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": "fb-code", "state": query["state"]})
                    self.send_response(302)
                    self.send_header("location", back)
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif url.path == "/oauth/access_token":
                    if query.get("code") != "fb-code" or query.get("client_secret") != "fb-secret":
                        return self.answer(400, {"error": {"message": "bad code or secret"}})
                    self.answer(200, {"access_token": "fb-token", "token_type": "bearer", "expires_in": 3600})
                elif url.path == "/me":
                    if self.headers.get("authorization") != "Bearer fb-token":
                        return self.answer(401, {"error": {"message": "no token"}})
                    fields = query.get("fields", "").split(",")
                    self.answer(200, {k: v for k, v in PERSON.items() if k in fields or k == "id"})
                else:
                    self.answer(404, {})

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self):
        self.http.shutdown()


@pytest.fixture(scope="module")
def facebook():
    s = StandIn()
    yield s
    s.stop()


def test_facebook_sign_in_through_a_stand_in(server, facebook):
    idp = server.client()
    pool = idp.create_user_pool(PoolName="social")["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=pool, Domain=f"social-{pool.split('_')[1].lower()}")
    idp.create_identity_provider(
        UserPoolId=pool, ProviderName="Facebook", ProviderType="Facebook",
        ProviderDetails={
            "client_id": "fb-app", "client_secret": "fb-secret", "authorize_scopes": "public_profile,email",
            "api_version": "v17.0",
            "authorize_url": f"{facebook.origin}/dialog/oauth",
            "token_url": f"{facebook.origin}/oauth/access_token",
            "attributes_url": f"{facebook.origin}/me?fields=",
        },
        AttributeMapping={"email": "email", "name": "name", "username": "id"},
    )
    described = idp.describe_identity_provider(UserPoolId=pool, ProviderName="Facebook")["IdentityProvider"]
    assert described["ProviderDetails"]["attributes_url_add_attributes"] == "true"
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email"], CallbackURLs=["http://localhost:3000/callback"],
        SupportedIdentityProviders=["Facebook"],
    )["UserPoolClient"]["ClientId"]

    browser = requests.Session()
    res = browser.get(f"{server.url}/oauth2/authorize", allow_redirects=False, params={
        "response_type": "code", "client_id": client, "redirect_uri": "http://localhost:3000/callback",
        "identity_provider": "Facebook", "scope": "openid email", "state": "s-1"})
    assert res.status_code == 302, res.text
    to_provider = urllib.parse.urlsplit(res.headers["location"])
    assert f"{to_provider.scheme}://{to_provider.netloc}{to_provider.path}" == f"{facebook.origin}/dialog/oauth"
    asked = dict(urllib.parse.parse_qsl(to_provider.query))
    assert asked["client_id"] == "fb-app" and asked["scope"] == "public_profile email"
    assert "nonce" not in asked  # no OpenID Connect: no ID token to carry one
    # The provider sends the browser back; cognate trades the code and reads the person.
    back = browser.get(res.headers["location"], allow_redirects=False)
    assert back.status_code == 302
    done = browser.get(back.headers["location"], allow_redirects=False)
    assert done.status_code == 302, done.text
    at_app = urllib.parse.urlsplit(done.headers["location"])
    got = dict(urllib.parse.parse_qsl(at_app.query))
    assert at_app.path == "/callback" and got.get("state") == "s-1" and "code" in got, got

    token_calls = [r for r in facebook.requests if r["path"] == "/oauth/access_token"]
    assert len(token_calls) == 1 and token_calls[0]["query"]["client_id"] == "fb-app"
    me = [r for r in facebook.requests if r["path"] == "/me"]
    assert len(me) == 1
    assert me[0]["query"]["fields"] == "email,id,name"  # the mapped names, with the id
    assert me[0]["authorization"] == "Bearer fb-token"

    tokens = requests.post(f"{server.url}/oauth2/token", data={
        "grant_type": "authorization_code", "client_id": client, "code": got["code"],
        "redirect_uri": "http://localhost:3000/callback"}).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["cognito:username"] == "Facebook_10158"
    assert claims["identities"][0]["providerType"] == "Facebook"
    assert claims["identities"][0]["userId"] == "10158"
    user = idp.admin_get_user(UserPoolId=pool, Username="Facebook_10158")
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    assert attrs["email"] == "rae@example.com" and attrs["name"] == "Rae Cole"
    assert "birthday" not in json.dumps(attrs)
