"""A CAPTCHA-style custom challenge: Cognito's custom-auth triggers (define, create, verify) in
Python, asking a small arithmetic question.

The question goes to the client in publicChallengeParameters; the answer stays on the server in
privateChallengeParameters, which only the verify trigger sees. Every round asks a new question,
and three wrong answers fail the sign-in.

If the client starts with a password (CUSTOM_AUTH with SRP_A and CHALLENGE_NAME=SRP_A, as
amazon-cognito-identity-js and Amplify do when given one), the password is checked first and the
question comes after it. A question on its own tells a person from a script, not one person from
another: keep it in front of a password or a code in anything real.
"""
import os
import secrets

MAX_ATTEMPTS = int(os.environ.get("MAX_ATTEMPTS", "3"))

OPERATIONS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "×": lambda a, b: a * b,
}


def define(event, context):
    """DefineAuthChallenge: password (if the client sent one), then questions until one is right."""
    session = event["request"]["session"]
    response = event["response"]
    response["issueTokens"] = False
    response["failAuthentication"] = False

    steps = [s["challengeName"] for s in session]
    if steps[:1] == ["SRP_A"]:
        if len(steps) == 1:
            response["challengeName"] = "PASSWORD_VERIFIER"
            return event
        if steps[1] != "PASSWORD_VERIFIER" or not session[1]["challengeResult"]:
            response["failAuthentication"] = True
            return event
        session = session[2:]

    if any(s["challengeName"] != "CUSTOM_CHALLENGE" for s in session):
        response["failAuthentication"] = True
    elif session and session[-1]["challengeResult"]:
        response["issueTokens"] = True
    elif len(session) >= MAX_ATTEMPTS:
        response["failAuthentication"] = True
    else:
        response["challengeName"] = "CUSTOM_CHALLENGE"
    return event


def create(event, context):
    """CreateAuthChallenge: a fresh question every round."""
    a = secrets.randbelow(9) + 2
    b = secrets.randbelow(9) + 2
    symbol = secrets.choice(list(OPERATIONS))
    if symbol == "-" and b > a:
        a, b = b, a
    answer = OPERATIONS[symbol](a, b)

    response = event["response"]
    response["publicChallengeParameters"] = {"type": "CAPTCHA", "question": f"What is {a} {symbol} {b}?"}
    response["privateChallengeParameters"] = {"answer": str(answer)}
    # Seen by define in later rounds' session entries; never by the client.
    response["challengeMetadata"] = "CAPTCHA"
    return event


def verify(event, context):
    """VerifyAuthChallengeResponse: the number, ignoring surrounding spaces."""
    request = event["request"]
    given = str(request.get("challengeAnswer") or "").strip()
    event["response"]["answerCorrect"] = given == request["privateChallengeParameters"]["answer"]
    return event
