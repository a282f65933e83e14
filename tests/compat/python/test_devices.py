"""Remembered devices through boto3 and pycognito's device SRP: NewDeviceMetadata, ConfirmDevice
with a verifier pycognito derives, DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER (pycognito answers
them without the Session), the device operations and their errors."""
import base64
import json

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP, generate_hash_device

PASSWORD = "Correct-horse-9"


def claims(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def error_of(e):
    return e.response["Error"]["Code"], e.response["Error"]["Message"]


def make_pool(idp, **device_config):
    kwargs = {"DeviceConfiguration": device_config} if device_config else {}
    pool = idp.create_user_pool(PoolName="devices", **kwargs)["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="dana", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="dana", Password=PASSWORD, Permanent=True)
    return pool, client


def password_sign_in(idp, client, **extra):
    return idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "dana", "PASSWORD": PASSWORD, **extra})


def test_a_remembered_device_signs_in_with_device_srp(idp):
    pool, client = make_pool(idp, ChallengeRequiredOnNewDevice=True, DeviceOnlyRememberedOnUserPrompt=False)
    first = password_sign_in(idp, client)["AuthenticationResult"]
    meta = first["NewDeviceMetadata"]
    key, group = meta["DeviceKey"], meta["DeviceGroupKey"]
    assert key.startswith("us-east-1_") and len(key) <= 55
    assert claims(first["AccessToken"])["device_key"] == key

    device_password, verifier_config = generate_hash_device(group, key)
    confirmed = idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey=key,
                                   DeviceSecretVerifierConfig=verifier_config, DeviceName="laptop")
    assert confirmed["UserConfirmationNecessary"] is False
    with pytest.raises(ClientError) as e:
        idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey=key, DeviceSecretVerifierConfig=verifier_config)
    assert error_of(e.value)[0] == "DeviceKeyExistsException"

    device = idp.admin_get_device(UserPoolId=pool, Username="dana", DeviceKey=key)["Device"]
    attrs = {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}
    assert attrs["device_name"] == "laptop" and attrs["dev:device_remembered_status"] == "remembered"
    assert attrs["device_status"] == "valid"
    assert [d["DeviceKey"] for d in idp.list_devices(AccessToken=first["AccessToken"])["Devices"]] == [key]

    # pycognito's SRP with the device: PASSWORD_VERIFIER, then DEVICE_SRP_AUTH and
    # DEVICE_PASSWORD_VERIFIER (sent without the Session).
    srp = AWSSRP(username="dana", password=PASSWORD, pool_id=pool, client_id=client, client=idp,
                 device_key=key, device_group_key=group, device_password=device_password)
    tokens = srp.authenticate_user()["AuthenticationResult"]
    assert "NewDeviceMetadata" not in tokens
    assert claims(tokens["AccessToken"])["device_key"] == key

    # A wrong device password fails the device step.
    wrong = AWSSRP(username="dana", password=PASSWORD, pool_id=pool, client_id=client, client=idp,
                   device_key=key, device_group_key=group, device_password="not-the-device-password")
    with pytest.raises(ClientError) as e:
        wrong.authenticate_user()
    assert error_of(e.value) == ("NotAuthorizedException", "Incorrect username or password.")

    # A refresh that names the device keeps it in the access token.
    refreshed = idp.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
        "REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": key})["AuthenticationResult"]
    assert claims(refreshed["AccessToken"])["device_key"] == key

    # A known device that is not remembered signs in without the device step, and stays known.
    idp.admin_update_device_status(UserPoolId=pool, Username="dana", DeviceKey=key,
                                   DeviceRememberedStatus="not_remembered")
    plain = password_sign_in(idp, client, DEVICE_KEY=key)
    assert "ChallengeName" not in plain and "NewDeviceMetadata" not in plain["AuthenticationResult"]
    idp.update_device_status(AccessToken=plain["AuthenticationResult"]["AccessToken"], DeviceKey=key,
                             DeviceRememberedStatus="remembered")

    # A forgotten device is refused by name, before the password proof is spent.
    idp.admin_forget_device(UserPoolId=pool, Username="dana", DeviceKey=key)
    assert idp.admin_list_devices(UserPoolId=pool, Username="dana")["Devices"] == []
    with pytest.raises(ClientError) as e:
        srp.authenticate_user()
    code, message = error_of(e.value)
    assert code == "ResourceNotFoundException" and "evice" in message


def test_device_answers_cannot_be_replayed_or_borrowed(idp):
    pool, client = make_pool(idp, ChallengeRequiredOnNewDevice=True)
    first = password_sign_in(idp, client)["AuthenticationResult"]
    key, group = first["NewDeviceMetadata"]["DeviceKey"], first["NewDeviceMetadata"]["DeviceGroupKey"]
    device_password, config = generate_hash_device(group, key)
    idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey=key, DeviceSecretVerifierConfig=config)

    # DEVICE_SRP_AUTH without a password step before it is refused.
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(ClientId=client, ChallengeName="DEVICE_SRP_AUTH",
                                      ChallengeResponses={"USERNAME": "dana", "DEVICE_KEY": key, "SRP_A": "0a"})
    assert error_of(e.value)[0] == "NotAuthorizedException"

    # A password sign-in presenting the remembered device is asked for the device's proof.
    step = password_sign_in(idp, client, DEVICE_KEY=key)
    assert step["ChallengeName"] == "DEVICE_SRP_AUTH"
    srp = AWSSRP(username="dana", password=PASSWORD, pool_id=pool, client_id=client, client=idp,
                 device_key=key, device_group_key=group, device_password=device_password)
    verifier_step = idp.respond_to_auth_challenge(
        ClientId=client, ChallengeName="DEVICE_SRP_AUTH", Session=step["Session"],
        ChallengeResponses={"USERNAME": "dana", "DEVICE_KEY": key, "SRP_A": format(srp.large_a_value, "x")})
    assert verifier_step["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    answer = srp.process_device_challenge(verifier_step["ChallengeParameters"])
    done = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="DEVICE_PASSWORD_VERIFIER",
                                         Session=verifier_step["Session"], ChallengeResponses=answer)
    assert claims(done["AuthenticationResult"]["AccessToken"])["device_key"] == key
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(ClientId=client, ChallengeName="DEVICE_PASSWORD_VERIFIER",
                                      ChallengeResponses=answer)
    assert error_of(e.value)[0] == "NotAuthorizedException"


def test_device_operations_and_their_errors(idp):
    pool, client = make_pool(idp, DeviceOnlyRememberedOnUserPrompt=True)
    first = password_sign_in(idp, client)["AuthenticationResult"]
    key, group = first["NewDeviceMetadata"]["DeviceKey"], first["NewDeviceMetadata"]["DeviceGroupKey"]
    _, config = generate_hash_device(group, key)
    with pytest.raises(ClientError) as e:
        idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey="us-east-1_00000000-0000-0000-0000-000000000000",
                           DeviceSecretVerifierConfig=config)
    assert error_of(e.value)[0] == "ResourceNotFoundException"
    # Remembered only once the user says so.
    out = idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey=key, DeviceSecretVerifierConfig=config)
    assert out["UserConfirmationNecessary"] is True
    status = lambda: {a["Name"]: a["Value"] for a in idp.get_device(
        AccessToken=first["AccessToken"], DeviceKey=key)["Device"]["DeviceAttributes"]}["dev:device_remembered_status"]
    assert status() == "not_remembered"
    idp.update_device_status(AccessToken=first["AccessToken"], DeviceKey=key, DeviceRememberedStatus="remembered")
    assert status() == "remembered"

    # Paging: one device per page.
    for _ in range(2):
        password_sign_in(idp, client)
    page = idp.admin_list_devices(UserPoolId=pool, Username="dana", Limit=1)
    seen = [d["DeviceKey"] for d in page["Devices"]]
    while page.get("PaginationToken"):
        page = idp.admin_list_devices(UserPoolId=pool, Username="dana", Limit=1, PaginationToken=page["PaginationToken"])
        seen += [d["DeviceKey"] for d in page["Devices"]]
    assert len(seen) == 3 == len(set(seen)) and key in seen

    with pytest.raises(ClientError) as e:
        idp.admin_get_device(UserPoolId=pool, Username="dana", DeviceKey="us-east-1_00000000-0000-0000-0000-000000000001")
    assert error_of(e.value)[0] == "ResourceNotFoundException"
    idp.forget_device(AccessToken=first["AccessToken"], DeviceKey=key)
    with pytest.raises(ClientError) as e:
        idp.get_device(AccessToken=first["AccessToken"], DeviceKey=key)
    assert error_of(e.value)[0] == "ResourceNotFoundException"

    # Admin sign-ins do not track devices.
    admin = idp.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "dana", "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert "NewDeviceMetadata" not in admin and "device_key" not in claims(admin["AccessToken"])


def test_a_pool_without_device_tracking(idp):
    pool, client = make_pool(idp)
    tokens = password_sign_in(idp, client)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in tokens and "device_key" not in claims(tokens["AccessToken"])
    with pytest.raises(ClientError) as e:
        idp.admin_list_devices(UserPoolId=pool, Username="dana")
    assert error_of(e.value)[0] == "InvalidUserPoolConfigurationException"
