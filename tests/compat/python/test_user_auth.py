"""Choice-based sign-in (USER_AUTH) through boto3: EMAIL_OTP, SMS_OTP, PASSWORD and PASSWORD_SRP
(pycognito's SRP math), SELECT_CHALLENGE with AvailableChallenges when nothing is preferred,
and the errors for factors the pool or the client does not allow."""
import base64
import json

import pytest
import requests
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP, long_to_hex

PASSWORD = "Correct-horse-9"
FACTORS = ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]


def claims(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def error_of(e):
    return e.response["Error"]["Code"], e.response["Error"]["Message"]


def make_pool(idp, factors=FACTORS, flows=("ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"), **extra):
    pool = idp.create_user_pool(PoolName="choices", Policies={"SignInPolicy": {"AllowedFirstAuthFactors": factors}},
                                **extra)["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                         ExplicitAuthFlows=list(flows))["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="uma", MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "email", "Value": "uma@example.com"}, {"Name": "email_verified", "Value": "true"},
        {"Name": "phone_number", "Value": "+15555550123"}, {"Name": "phone_number_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool, Username="uma", Password=PASSWORD, Permanent=True)
    return pool, client


def last_code(server, pool):
    messages = requests.get(f"{server.url}/_cognate/outbox", params={"poolId": pool, "username": "uma"}).json()["messages"]
    return max(messages, key=lambda m: m["createdAt"])["code"]


def start(idp, client, **params):
    return idp.initiate_auth(ClientId=client, AuthFlow="USER_AUTH", AuthParameters={"USERNAME": "uma", **params})


@pytest.mark.parametrize("factor,key,medium", [("EMAIL_OTP", "EMAIL_OTP_CODE", "EMAIL"), ("SMS_OTP", "SMS_OTP_CODE", "SMS")])
def test_one_time_codes_as_the_first_factor(server, idp, factor, key, medium):
    pool, client = make_pool(idp)
    step = start(idp, client, PREFERRED_CHALLENGE=factor)
    assert step["ChallengeName"] == factor
    assert step["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == medium
    code = last_code(server, pool)
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(ClientId=client, ChallengeName=factor, Session=step["Session"],
                                      ChallengeResponses={"USERNAME": "uma", key: "000000" if code != "000000" else "111111"})
    assert error_of(e.value)[0] == "CodeMismatchException"
    done = idp.respond_to_auth_challenge(ClientId=client, ChallengeName=factor, Session=step["Session"],
                                         ChallengeResponses={"USERNAME": "uma", key: code})
    assert claims(done["AuthenticationResult"]["AccessToken"])["username"] == "uma"


def test_password_and_srp_as_the_first_factor(idp):
    pool, client = make_pool(idp)
    tokens = start(idp, client, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]
    assert claims(tokens["IdToken"])["cognito:username"] == "uma"
    with pytest.raises(ClientError) as e:
        start(idp, client, PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wrong-horse-9")
    assert error_of(e.value) == ("NotAuthorizedException", "Incorrect username or password.")

    srp = AWSSRP(username="uma", password=PASSWORD, pool_id=pool, client_id=client, client=idp)
    step = start(idp, client, PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=long_to_hex(srp.large_a_value))
    assert step["ChallengeName"] == "PASSWORD_VERIFIER"
    answer = srp.process_challenge(step["ChallengeParameters"], {"USERNAME": "uma"})
    done = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)
    assert "AccessToken" in done["AuthenticationResult"]


def test_select_challenge_when_nothing_is_preferred(server, idp):
    pool, client = make_pool(idp)
    step = start(idp, client)
    assert step["ChallengeName"] == "SELECT_CHALLENGE"
    assert step["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP"]
    chosen = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="SELECT_CHALLENGE", Session=step["Session"],
                                           ChallengeResponses={"USERNAME": "uma", "ANSWER": "EMAIL_OTP"})
    assert chosen["ChallengeName"] == "EMAIL_OTP"
    done = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="EMAIL_OTP", Session=chosen["Session"],
                                         ChallengeResponses={"USERNAME": "uma", "EMAIL_OTP_CODE": last_code(server, pool)})
    assert "AccessToken" in done["AuthenticationResult"]

    step = start(idp, client)
    done = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="SELECT_CHALLENGE", Session=step["Session"],
                                         ChallengeResponses={"USERNAME": "uma", "ANSWER": "PASSWORD", "PASSWORD": PASSWORD})
    assert "AccessToken" in done["AuthenticationResult"]
    # The session was used up.
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(ClientId=client, ChallengeName="SELECT_CHALLENGE", Session=step["Session"],
                                      ChallengeResponses={"USERNAME": "uma", "ANSWER": "PASSWORD", "PASSWORD": PASSWORD})
    assert error_of(e.value)[0] == "NotAuthorizedException"

    factors = idp.get_user_auth_factors(AccessToken=done["AuthenticationResult"]["AccessToken"])
    assert factors["Username"] == "uma" and factors["ConfiguredUserAuthFactors"] == FACTORS


def test_factors_the_pool_or_the_user_cannot_use(idp):
    pool, client = make_pool(idp, factors=["PASSWORD"])
    # A preferred factor the pool does not allow falls back to the choice of what it allows...
    step = start(idp, client, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert step["ChallengeName"] == "SELECT_CHALLENGE" and step["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]
    # ...and choosing it anyway is refused.
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(ClientId=client, ChallengeName="SELECT_CHALLENGE", Session=step["Session"],
                                      ChallengeResponses={"USERNAME": "uma", "ANSWER": "EMAIL_OTP"})
    assert error_of(e.value)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        start(idp, client, PREFERRED_CHALLENGE="FAX")
    assert error_of(e.value)[0] == "InvalidParameterException"

    # An unverified address gets no codes.
    pool, client = make_pool(idp)
    idp.admin_update_user_attributes(UserPoolId=pool, Username="uma",
                                     UserAttributes=[{"Name": "email_verified", "Value": "false"}])
    assert start(idp, client)["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "SMS_OTP"]

    # The client must allow USER_AUTH; the pool's plan must have it.
    _, password_only = make_pool(idp, flows=("ALLOW_USER_PASSWORD_AUTH",))
    with pytest.raises(ClientError) as e:
        start(idp, password_only, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert error_of(e.value) == ("InvalidParameterException", "USER_AUTH flow not enabled for this client")
    _, lite = make_pool(idp, UserPoolTier="LITE")
    with pytest.raises(ClientError) as e:
        start(idp, lite, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert error_of(e.value)[0] == "FeatureUnavailableInTierException"
