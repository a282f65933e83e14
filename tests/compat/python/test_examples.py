"""The examples in examples/, driven with boto3 against a real cognate started with each
example's cognate.toml: CUSTOM_AUTH through initiate_auth(AuthFlow="CUSTOM_AUTH") and
respond_to_auth_challenge — the CAPTCHA example's Python triggers (alone and after an SRP
password step computed with pycognito's SRP helper) and the passwordless example's emailed code.
"""
import base64
import json
import os
import re

import botocore.exceptions
import pytest
import requests
from pycognito.aws_srp import AWSSRP

EXAMPLES = os.path.normpath(os.path.join(os.path.dirname(__file__), "../../../examples"))
PASSWORD = "Correct-horse-1"
INCORRECT = ("NotAuthorizedException", "Incorrect username or password.")


def serve(start_server, name):
    """cognate serving one example's cognate.toml."""
    folder = os.path.join(EXAMPLES, name)
    if os.path.exists(os.path.join(folder, "package.json")):
        assert os.path.isdir(os.path.join(folder, "node_modules")), f"run bash scripts/compat-setup first ({folder})"
    return start_server("--config", os.path.join(folder, "cognate.toml"))


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def user(idp, pool_id, username, attributes):
    idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS", UserAttributes=attributes)
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)


QUESTION = re.compile(r"^What is (\d+) ([+\-×]) (\d+)\?$")


def solve(params):
    """The answer to the example's arithmetic question."""
    assert params["type"] == "CAPTCHA"
    m = QUESTION.match(params["question"])
    assert m, params["question"]
    a, op, b = int(m[1]), m[2], int(m[3])
    return str({"+": a + b, "-": a - b, "×": a * b}[op])


CAPTCHA_POOL = "us-east-1_Captcha001"
EMAIL_OTP_POOL = "us-east-1_EmailOtp01"
DEE = "dee@example.com"


@pytest.fixture(scope="module")
def captcha(start_server):
    server = serve(start_server, "captcha-challenge")
    idp = server.client()
    user(idp, CAPTCHA_POOL, "cara", [{"Name": "email", "Value": "cara@example.com"}])
    return server, idp


@pytest.fixture(scope="module")
def email_otp(start_server):
    server = serve(start_server, "passwordless-email-otp")
    idp = server.client()
    user(idp, EMAIL_OTP_POOL, DEE, [{"Name": "email", "Value": DEE}, {"Name": "email_verified", "Value": "true"}])
    return server, idp


class TestCaptchaChallenge:
    POOL = CAPTCHA_POOL
    CLIENT = "captchawebclient0000000001"

    def start(self, idp, username="cara"):
        out = idp.initiate_auth(ClientId=self.CLIENT, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username})
        assert out["ChallengeName"] == "CUSTOM_CHALLENGE"
        return out

    def respond(self, idp, out, answer, username="cara"):
        return idp.respond_to_auth_challenge(
            ClientId=self.CLIENT,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=out["Session"],
            ChallengeResponses={"USERNAME": username, "ANSWER": answer},
        )

    def test_question_then_tokens(self, captcha):
        server, idp = captcha
        out = self.start(idp)
        params = out["ChallengeParameters"]
        # Only the public parameters reach the client; the answer stays on the server.
        assert set(params) == {"type", "question", "USERNAME"}
        assert params["USERNAME"] == "cara"
        answer = solve(params)

        # A wrong answer: a new round with a new question.
        retry = self.respond(idp, out, str(int(answer) + 1))
        assert retry["ChallengeName"] == "CUSTOM_CHALLENGE"
        assert "AuthenticationResult" not in retry
        assert retry["Session"] != out["Session"]

        # Answers with stray spaces are fine.
        done = self.respond(idp, retry, f"  {solve(retry['ChallengeParameters'])} ")
        tokens = done["AuthenticationResult"]
        assert tokens["TokenType"] == "Bearer"
        assert tokens["ExpiresIn"] == 3600
        assert tokens["RefreshToken"]
        id_claims = claims(tokens["IdToken"])
        assert id_claims["cognito:username"] == "cara"
        assert id_claims["email"] == "cara@example.com"
        assert id_claims["aud"] == self.CLIENT
        assert id_claims["iss"] == f"{server.url}/{self.POOL}"
        assert idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "cara"

        # The verify trigger saw the private answer; the client never did.
        log = requests.get(f"{server.url}/_cognate/invocations", params={"poolId": self.POOL}).json()["invocations"]
        verifies = [i for i in log if i["triggerSource"] == "VerifyAuthChallengeResponse_Authentication"]
        assert verifies[0]["event"]["request"]["privateChallengeParameters"] == {"answer": solve(retry["ChallengeParameters"])}

    def test_three_wrong_answers_fail(self, captcha):
        _, idp = captcha
        out = self.start(idp)
        for _ in range(2):
            out = self.respond(idp, out, "not a number")
            assert out["ChallengeName"] == "CUSTOM_CHALLENGE"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            self.respond(idp, out, solve(out["ChallengeParameters"]) + "0")
        assert error_of(e) == INCORRECT

    def test_unknown_user(self, captcha):
        _, idp = captcha
        with pytest.raises(botocore.exceptions.ClientError) as e:
            self.start(idp, "ghost")
        assert error_of(e) == ("UserNotFoundException", "User does not exist.")

    def test_password_first_then_question(self, captcha):
        """CUSTOM_AUTH with SRP_A and CHALLENGE_NAME=SRP_A: PASSWORD_VERIFIER, then the question."""
        _, idp = captcha
        for password, ok in [("Wrong-horse-1", False), (PASSWORD, True)]:
            srp = AWSSRP(username="cara", password=password, pool_id=self.POOL, client_id=self.CLIENT, client=idp)
            out = idp.initiate_auth(
                ClientId=self.CLIENT,
                AuthFlow="CUSTOM_AUTH",
                AuthParameters={**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"},
            )
            assert out["ChallengeName"] == "PASSWORD_VERIFIER"
            responses = srp.process_challenge(out["ChallengeParameters"], {"USERNAME": "cara"})
            call = lambda: idp.respond_to_auth_challenge(  # noqa: E731
                ClientId=self.CLIENT, ChallengeName="PASSWORD_VERIFIER", Session=out["Session"], ChallengeResponses=responses
            )
            if not ok:
                with pytest.raises(botocore.exceptions.ClientError) as e:
                    call()
                assert error_of(e) == INCORRECT
                continue
            question = call()
            assert question["ChallengeName"] == "CUSTOM_CHALLENGE"
            done = self.respond(idp, question, solve(question["ChallengeParameters"]))
            assert claims(done["AuthenticationResult"]["AccessToken"])["username"] == "cara"


class TestPasswordlessEmailOtp:
    CLIENT = "emailotpwebclient000000001"
    EMAIL = DEE

    def emails(self, server):
        # Filed under the pool and user of the invocation that sent it.
        res = requests.get(f"{server.url}/_cognate/outbox", params={"poolId": EMAIL_OTP_POOL})
        assert res.status_code == 200
        return [m for m in res.json()["messages"] if m["destination"] == self.EMAIL]

    def test_emailed_code_then_tokens(self, email_otp):
        server, idp = email_otp
        out = idp.initiate_auth(ClientId=self.CLIENT, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": self.EMAIL})
        assert out["ChallengeName"] == "CUSTOM_CHALLENGE"
        assert out["ChallengeParameters"]["destination"] == "d***@example.com"
        [mail] = self.emails(server)
        assert (mail["source"], mail["channel"], mail["destination"]) == ("SES", "EMAIL", self.EMAIL)
        code = re.search(r"\b(\d{6})\b", mail["body"])[1]

        respond = lambda o, answer: idp.respond_to_auth_challenge(  # noqa: E731
            ClientId=self.CLIENT,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=o["Session"],
            ChallengeResponses={"USERNAME": self.EMAIL, "ANSWER": answer},
        )
        retry = respond(out, "000000" if code != "000000" else "111111")
        assert retry["ChallengeName"] == "CUSTOM_CHALLENGE"
        assert retry["ChallengeParameters"]["attemptsLeft"] == "2"
        assert len(self.emails(server)) == 1
        tokens = respond(retry, code)["AuthenticationResult"]
        assert claims(tokens["IdToken"])["email"] == self.EMAIL
        assert idp.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]
