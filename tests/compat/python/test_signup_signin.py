"""The sign-up → confirm → sign-in → refresh journey through boto3, with the tokens verified by
a standard JWT library against the JWKS and issuer cognate serves."""
import jwt
import pytest
import requests


@pytest.fixture
def app(idp):
    pool = idp.create_user_pool(
        PoolName="app",
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "email", "Required": True}],
    )["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def latest_code(server, pool_id, username):
    messages = requests.get(f"{server.url}/_cognate/outbox", params={"poolId": pool_id, "username": username}).json()[
        "messages"
    ]
    return messages[0]


def verify(server, pool_id, token, **kwargs):
    issuer = f"{server.url}/{pool_id}"
    jwks = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, **kwargs)


def test_sign_up_confirm_sign_in_refresh(server, idp, app):
    pool_id, client_id = app
    out = idp.sign_up(
        ClientId=client_id,
        Username="ana",
        Password="Correct-horse-1",
        UserAttributes=[{"Name": "email", "Value": "ana@example.com"}],
    )
    assert out["UserConfirmed"] is False
    assert out["CodeDeliveryDetails"] == {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}

    message = latest_code(server, pool_id, "ana")
    assert message["source"] == "SignUp" and message["channel"] == "EMAIL"
    assert message["destination"] == "ana@example.com"
    assert message["code"] in message["body"]

    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(ClientId=client_id, Username="ana", ConfirmationCode="000000" if message["code"] != "000000" else "111111")
    idp.confirm_sign_up(ClientId=client_id, Username="ana", ConfirmationCode=message["code"])

    auth = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": "Correct-horse-1"}
    )["AuthenticationResult"]
    id_claims = verify(server, pool_id, auth["IdToken"], audience=client_id)
    assert id_claims["token_use"] == "id"
    assert id_claims["cognito:username"] == "ana"
    assert id_claims["email"] == "ana@example.com" and id_claims["email_verified"] is True
    access_claims = verify(server, pool_id, auth["AccessToken"])
    assert access_claims["token_use"] == "access"
    assert access_claims["client_id"] == client_id
    assert access_claims["scope"] == "aws.cognito.signin.user.admin"
    assert access_claims["sub"] == id_claims["sub"]

    refreshed = idp.initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": auth["RefreshToken"]}
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    new_claims = verify(server, pool_id, refreshed["IdToken"], audience=client_id)
    assert new_claims["origin_jti"] == id_claims["origin_jti"]
    assert new_claims["auth_time"] == id_claims["auth_time"]

    me = idp.get_user(AccessToken=refreshed["AccessToken"])
    assert me["Username"] == "ana"
    assert {"Name": "email", "Value": "ana@example.com"} in me["UserAttributes"]

    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": "wrong-Password-1"}
        )
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."
