"""USER_SRP_AUTH driven by pycognito (the SRP client most Python apps use): sign-in, wrong
passwords, NEW_PASSWORD_REQUIRED, clients with a secret, email-as-username pools, and pycognito's
own token verification against the JWKS and issuer cognate serves."""
import base64
import datetime
import hashlib
import hmac

import botocore.exceptions
import pytest
from pycognito import Cognito
from pycognito.aws_srp import N_HEX, AWSSRP, compute_hkdf, hex_to_long, long_to_hex, pad_hex
from pycognito.exceptions import ForceChangePasswordException

PASSWORD = "Correct-horse-1"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


class App:
    def __init__(self, server):
        self.server = server
        self.idp = server.client()
        self.pool_id = self.idp.create_user_pool(PoolName="srp")["UserPool"]["Id"]
        self.client_id = self.idp.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName="web", ExplicitAuthFlows=FLOWS
        )["UserPoolClient"]["ClientId"]
        secret_client = self.idp.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName="backend", ExplicitAuthFlows=FLOWS, GenerateSecret=True
        )["UserPoolClient"]
        self.secret_client_id = secret_client["ClientId"]
        self.client_secret = secret_client["ClientSecret"]

    def user(self, username, password=PASSWORD, pool_id=None):
        """A CONFIRMED user with a permanent password."""
        pool_id = pool_id or self.pool_id
        self.idp.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": f"{username.split('@')[0]}@example.com"}],
        )
        self.idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)

    def cognito(self, username, pool_id=None, client_id=None, client_secret=None):
        return Cognito(
            pool_id or self.pool_id,
            client_id or self.client_id,
            username=username,
            client_secret=client_secret,
            user_pool_region="us-east-1",
            boto3_client_kwargs={
                "endpoint_url": self.server.url,
                "aws_access_key_id": "AKIDTEST",
                "aws_secret_access_key": "secret",
                "region_name": "us-east-1",
            },
        )


@pytest.fixture(scope="module")
def app(server):
    return App(server)


def assert_error(exc_info, code, message, operation):
    err = exc_info.value
    assert isinstance(err, botocore.exceptions.ClientError)
    assert err.response["Error"]["Code"] == code
    assert err.response["Error"]["Message"] == message
    assert err.operation_name == operation


def sign(key, pool_id, user_id_for_srp, secret_block, timestamp):
    """PASSWORD_CLAIM_SIGNATURE over poolName || USER_ID_FOR_SRP || block bytes || TIMESTAMP."""
    msg = pool_id.split("_")[1].encode() + user_id_for_srp.encode() + base64.b64decode(secret_block) + timestamp.encode()
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def test_authenticate_with_correct_password(app):
    app.user("srp-ana")
    u = app.cognito("srp-ana")
    u.authenticate(password=PASSWORD)

    # authenticate() already ran pycognito's verify_token on both tokens (JWKS fetched from
    # <endpoint_url>/<poolId>/.well-known/jwks.json, issuer <endpoint_url>/<poolId>).
    assert u.id_token and u.access_token and u.refresh_token
    assert u.token_type == "Bearer"
    assert u.id_claims["token_use"] == "id"
    assert u.id_claims["aud"] == app.client_id
    assert u.id_claims["cognito:username"] == "srp-ana"
    assert u.id_claims["iss"] == f"{app.server.url}/{app.pool_id}"
    assert u.access_claims["token_use"] == "access"
    assert u.access_claims["client_id"] == app.client_id
    assert u.access_claims["username"] == "srp-ana"
    assert u.access_claims["sub"] == u.id_claims["sub"]

    # Verifying again from scratch (fresh object, externally remembered tokens) passes too.
    again = app.cognito("srp-ana")
    again.id_token, again.access_token = u.id_token, u.access_token
    again.verify_tokens()
    assert again.id_claims["sub"] == u.id_claims["sub"]
    assert again.check_token(renew=False) is False

    # The tokens work against the API.
    me = u.get_user()
    assert me.username == "srp-ana"
    assert me.email == "srp-ana@example.com"

    # And pycognito's refresh path.
    old_access = u.access_token
    u.renew_access_token()
    assert u.access_token and u.access_token != old_access
    assert u.access_claims["sub"] == u.id_claims["sub"]


def test_wrong_password(app):
    app.user("srp-ben")
    u = app.cognito("srp-ben")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u.authenticate(password="Wrong-horse-1")
    # The challenge is issued; the password proof is what fails.
    assert_error(e, "NotAuthorizedException", "Incorrect username or password.", "RespondToAuthChallenge")
    assert u.id_token is None and u.access_token is None

    # A failed attempt does not spoil the next correct one.
    u.authenticate(password=PASSWORD)
    assert u.access_claims["username"] == "srp-ben"


def test_unknown_user(app):
    u = app.cognito("srp-nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u.authenticate(password=PASSWORD)
    assert_error(e, "UserNotFoundException", "User does not exist.", "InitiateAuth")


def test_unknown_user_with_prevent_user_existence_errors(app):
    client_id = app.idp.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName="quiet", ExplicitAuthFlows=FLOWS, PreventUserExistenceErrors="ENABLED"
    )["UserPoolClient"]["ClientId"]
    u = app.cognito("srp-nobody", client_id=client_id)
    # Cognito answers with a plausible PASSWORD_VERIFIER challenge and only fails the proof.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        u.authenticate(password=PASSWORD)
    assert_error(e, "NotAuthorizedException", "Incorrect username or password.", "RespondToAuthChallenge")


def test_challenge_parameters(app):
    """The PASSWORD_VERIFIER challenge as pycognito's AWSSRP sees it, then a hand-driven answer."""
    app.user("srp-cid")
    aws = AWSSRP(username="srp-cid", password=PASSWORD, pool_id=app.pool_id, client_id=app.client_id, client=app.idp)
    params = aws.get_auth_params()
    out = app.idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    assert out["ChallengeName"] == "PASSWORD_VERIFIER"
    cp = out["ChallengeParameters"]
    assert set(cp) == {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"}
    assert cp["USER_ID_FOR_SRP"] == "srp-cid" and cp["USERNAME"] == "srp-cid"
    assert hex_to_long(cp["SALT"]) > 0
    assert hex_to_long(cp["SRP_B"]) % hex_to_long(N_HEX) != 0
    base64.b64decode(cp["SECRET_BLOCK"], validate=True)  # strict standard base64, as pycognito decodes it

    answer = aws.process_challenge(cp, params)
    tokens = app.idp.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer
    )
    assert tokens["AuthenticationResult"]["TokenType"] == "Bearer"
    assert app.idp.get_user(AccessToken=tokens["AuthenticationResult"]["AccessToken"])["Username"] == "srp-cid"

    # Each refusal below gets a fresh challenge (whether a secret block survives a failed answer
    # is not something clients rely on: they start over with InitiateAuth).
    def challenge():
        return app.idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)[
            "ChallengeParameters"
        ]

    # A tampered signature is refused...
    second = challenge()
    assert second["SRP_B"] != cp["SRP_B"] and second["SECRET_BLOCK"] != cp["SECRET_BLOCK"]
    bad = dict(aws.process_challenge(second, params), PASSWORD_CLAIM_SIGNATURE=base64.b64encode(b"\0" * 32).decode())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.idp.respond_to_auth_challenge(ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=bad)
    assert_error(e, "NotAuthorizedException", "Incorrect username or password.", "RespondToAuthChallenge")

    # ...and so is a proof made with one challenge's key over another challenge's secret block:
    # the server must take B (b) from the block it is shown, and then the key no longer fits.
    key = aws.get_password_authentication_key("srp-cid", PASSWORD, hex_to_long(second["SRP_B"]), second["SALT"])
    third = challenge()
    timestamp = AWSSRP.get_cognito_formatted_timestamp(datetime.datetime.now(datetime.timezone.utc))
    swapped = {
        "USERNAME": "srp-cid",
        "TIMESTAMP": timestamp,
        "PASSWORD_CLAIM_SECRET_BLOCK": third["SECRET_BLOCK"],
        "PASSWORD_CLAIM_SIGNATURE": sign(key, app.pool_id, "srp-cid", third["SECRET_BLOCK"], timestamp),
    }
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.idp.respond_to_auth_challenge(
            ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=swapped
        )
    assert_error(e, "NotAuthorizedException", "Incorrect username or password.", "RespondToAuthChallenge")


def test_zero_public_a_cannot_sign_in(app):
    """SRP_A ≡ 0 (mod N) would make the server's premaster secret 0, so a client that knows no
    password could forge the proof. The server must refuse it, at one step or the other."""
    app.user("srp-dee")
    n = hex_to_long(N_HEX)
    for srp_a in (0, n, 2 * n):
        try:
            out = app.idp.initiate_auth(
                ClientId=app.client_id,
                AuthFlow="USER_SRP_AUTH",
                AuthParameters={"USERNAME": "srp-dee", "SRP_A": long_to_hex(srp_a)},
            )
        except botocore.exceptions.ClientError:
            continue
        cp = out["ChallengeParameters"]
        b = hex_to_long(cp["SRP_B"])
        u = hex_to_long(hashlib.sha256(bytes.fromhex(pad_hex(srp_a) + pad_hex(b))).hexdigest())
        key = compute_hkdf(bytes.fromhex(pad_hex(0)), bytes.fromhex(pad_hex(long_to_hex(u))))
        timestamp = AWSSRP.get_cognito_formatted_timestamp(datetime.datetime.now(datetime.timezone.utc))
        forged = sign(key, app.pool_id, cp["USER_ID_FOR_SRP"], cp["SECRET_BLOCK"], timestamp)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            app.idp.respond_to_auth_challenge(
                ClientId=app.client_id,
                ChallengeName="PASSWORD_VERIFIER",
                ChallengeResponses={
                    "USERNAME": cp["USERNAME"],
                    "PASSWORD_CLAIM_SECRET_BLOCK": cp["SECRET_BLOCK"],
                    "PASSWORD_CLAIM_SIGNATURE": forged,
                    "TIMESTAMP": timestamp,
                },
            )
        assert e.value.response["Error"]["Code"] in ("NotAuthorizedException", "InvalidParameterException")


def test_new_password_required(app):
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="srp-eve",
        TemporaryPassword="Temp-horse-1",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "eve@example.com"}],
    )
    assert app.idp.admin_get_user(UserPoolId=app.pool_id, Username="srp-eve")["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    u = app.cognito("srp-eve")
    with pytest.raises(ForceChangePasswordException):
        u.authenticate(password="Temp-horse-1")
    assert u.access_token is None

    u.new_password_challenge(password="Temp-horse-1", new_password="New-horse-1")
    assert u.id_claims["cognito:username"] == "srp-eve"
    assert u.access_claims["username"] == "srp-eve"
    assert app.idp.admin_get_user(UserPoolId=app.pool_id, Username="srp-eve")["UserStatus"] == "CONFIRMED"

    # The new password works over SRP; the temporary one no longer does.
    fresh = app.cognito("srp-eve")
    fresh.authenticate(password="New-horse-1")
    assert fresh.access_claims["username"] == "srp-eve"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.cognito("srp-eve").authenticate(password="Temp-horse-1")
    assert_error(e, "NotAuthorizedException", "Incorrect username or password.", "RespondToAuthChallenge")


def test_client_with_secret(app):
    app.user("srp-fay")
    u = app.cognito("srp-fay", client_id=app.secret_client_id, client_secret=app.client_secret)
    u.authenticate(password=PASSWORD)
    assert u.id_claims["aud"] == app.secret_client_id
    assert u.access_claims["client_id"] == app.secret_client_id

    # pycognito sends SECRET_HASH on refresh as well.
    u.renew_access_token()
    assert u.access_claims["client_id"] == app.secret_client_id

    wrong = app.cognito("srp-fay", client_id=app.secret_client_id, client_secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wrong.authenticate(password=PASSWORD)
    assert_error(e, "NotAuthorizedException", f"Unable to verify secret hash for client {app.secret_client_id}", "InitiateAuth")

    missing = app.cognito("srp-fay", client_id=app.secret_client_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        missing.authenticate(password=PASSWORD)
    assert_error(
        e,
        "NotAuthorizedException",
        f"Client {app.secret_client_id} is configured for secret but secret was not received",
        "InitiateAuth",
    )


def test_email_as_username_pool(app):
    """Signing in with the email: USER_ID_FOR_SRP is the internal username (a UUID), which the
    client uses in the proof; with a secret, pycognito hashes the email first and the internal
    username in the challenge response."""
    pool_id = app.idp.create_user_pool(PoolName="srp-email", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = app.idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=FLOWS)[
        "UserPoolClient"
    ]["ClientId"]
    secret_client = app.idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="backend", ExplicitAuthFlows=FLOWS, GenerateSecret=True
    )["UserPoolClient"]
    app.idp.admin_create_user(
        UserPoolId=pool_id,
        Username="gus@example.com",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "gus@example.com"}],
    )
    app.idp.admin_set_user_password(UserPoolId=pool_id, Username="gus@example.com", Password=PASSWORD, Permanent=True)
    internal = app.idp.admin_get_user(UserPoolId=pool_id, Username="gus@example.com")["Username"]
    assert internal != "gus@example.com"

    aws = AWSSRP(username="gus@example.com", password=PASSWORD, pool_id=pool_id, client_id=client_id, client=app.idp)
    cp = app.idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=aws.get_auth_params())[
        "ChallengeParameters"
    ]
    assert cp["USER_ID_FOR_SRP"] == internal
    assert cp["USERNAME"] == internal

    u = app.cognito("gus@example.com", pool_id=pool_id, client_id=client_id)
    u.authenticate(password=PASSWORD)
    assert u.id_claims["cognito:username"] == internal
    assert u.id_claims["email"] == "gus@example.com"

    s = app.cognito(
        "gus@example.com", pool_id=pool_id, client_id=secret_client["ClientId"], client_secret=secret_client["ClientSecret"]
    )
    s.authenticate(password=PASSWORD)
    assert s.access_claims["username"] == internal
    assert s.access_claims["client_id"] == secret_client["ClientId"]
