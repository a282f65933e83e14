"""A custom SMS sender written in Python, as it runs on AWS Lambda: it decrypts the code with the
AWS Encryption SDK for Python and a strict KMS master-key provider (KMS Decrypt answered by
cognate through AWS_ENDPOINT_URL_KMS) and texts it through boto3's SNS client, which
`capture_aws_messages` points at cognate's outbox."""
import sys
import textwrap
import time

import requests

KEY_ARN = "arn:aws:kms:us-east-1:000000000000:key/7a1e9c2d-3b4f-4a5e-8d6c-9f0e1d2c3b4a"
POOL_ID = "us-east-1_PySender1"
CLIENT_ID = "pysenderwebclient000000001"
PASSWORD = "Correct-horse-1"

HANDLER = '''
import base64
import os

import aws_encryption_sdk
import boto3
from aws_encryption_sdk import CommitmentPolicy

# Cognito's messages use a suite without key commitment.
client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[os.environ["KEY_ARN"]])
sns = boto3.client("sns")


def handler(event, context):
    plaintext, header = client.decrypt(source=base64.b64decode(event["request"]["code"]), key_provider=provider)
    if header.encryption_context.get("userpool-id") != event["userPoolId"]:
        raise ValueError("the code was not encrypted for this user pool")
    source = event["triggerSource"].split("_", 1)[1]
    sns.publish(
        PhoneNumber=event["request"]["userAttributes"]["phone_number"],
        Message=f"{source}: {plaintext.decode()}",
    )
'''


def config(tmp_path):
    (tmp_path / "sender.py").write_text(HANDLER)
    path = tmp_path / "cognate.toml"
    path.write_text(textwrap.dedent(f"""
        [runtimes]
        python = "{sys.executable}"

        [[pools]]
        Id = "{POOL_ID}"
        PoolName = "python-sender"
        AutoVerifiedAttributes = ["phone_number"]

        [pools.LambdaConfig]
        KMSKeyID = "{KEY_ARN}"
        CustomSMSSender = {{ LambdaArn = "arn:aws:lambda:us-east-1:000000000000:function:sms-sender", LambdaVersion = "V1_0" }}

        [[pools.clients]]
        ClientId = "{CLIENT_ID}"
        ClientName = "web"
        ExplicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

        [functions.sms-sender]
        runtime = "python"
        handler = "sender.handler"
        capture_aws_messages = true
        timeout_ms = 15000
        env = {{ KEY_ARN = "{KEY_ARN}" }}
    """))
    return path


def texts(server, phone, count=1):
    """What the function texted to `phone`, once `count` messages arrived, oldest first."""
    deadline = time.time() + 60
    while time.time() < deadline:
        # Filed under the pool and user of the invocation that sent it.
        messages = requests.get(f"{server.url}/_cognate/outbox", params={"poolId": POOL_ID}).json()["messages"]
        messages = [m for m in messages if m["destination"] == phone and m["source"] == "SNS"]
        if len(messages) >= count:
            return list(reversed(messages))
        time.sleep(0.1)
    raise AssertionError(f"nothing texted to {phone} within a minute")


def test_python_handler_decrypts_sign_up_code_and_temporary_password(start_server, tmp_path):
    server = start_server("--config", str(config(tmp_path)))
    idp = server.client()
    phone = "+15555550142"
    out = idp.sign_up(ClientId=CLIENT_ID, Username="fay", Password=PASSWORD,
                      UserAttributes=[{"Name": "phone_number", "Value": phone}])
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    handed = requests.get(f"{server.url}/_cognate/outbox", params={"poolId": POOL_ID, "username": "fay"}).json()["messages"][0]
    assert handed["status"] == "CUSTOM_SENDER"
    [text] = texts(server, phone)
    assert text["body"] == f"SignUp: {handed['code']}"
    idp.confirm_sign_up(ClientId=CLIENT_ID, Username="fay", ConfirmationCode=text["body"].split(": ")[1])
    assert idp.admin_get_user(UserPoolId=POOL_ID, Username="fay")["UserStatus"] == "CONFIRMED"

    # An invitation's temporary password reaches the function HTML-escaped, as Cognito sends it.
    other = "+15555550143"
    idp.admin_create_user(UserPoolId=POOL_ID, Username="gus", TemporaryPassword="Temp<&>Pass1",
                          UserAttributes=[{"Name": "phone_number", "Value": other}])
    [invite] = texts(server, other)
    assert invite["body"] == "AdminCreateUser: Temp&lt;&amp;&gt;Pass1"
