"""Places where cognate answers exactly as Cognito does (issue #19, "Behaviours to match"): each
test drives one behaviour through boto3 and checks the exception and, where Cognito's wording is
known, its message word for word."""
import uuid

import pytest
from botocore.exceptions import ClientError

PW = "Correct-horse-1"


def error_of(e):
    err = e.value.response["Error"]
    return err["Code"], err["Message"]


def new_pool(idp, **kwargs):
    return idp.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:8]}", **kwargs)["UserPool"]["Id"]


def new_client(idp, pool_id, flows=None, **kwargs):
    if flows is not None:
        kwargs["ExplicitAuthFlows"] = flows
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c", **kwargs)["UserPoolClient"]["ClientId"]


def confirmed_user(idp, pool_id, username="ana", attributes=()):
    idp.admin_create_user(
        UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS", UserAttributes=list(attributes)
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PW, Permanent=True)


# --- auth flows ---------------------------------------------------------------------------------


def test_admin_initiate_auth_refuses_client_side_password_flow(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"])
    confirmed_user(idp, pool)
    with pytest.raises(ClientError) as e:
        idp.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ana", "PASSWORD": PW},
        )
    assert error_of(e) == ("InvalidParameterException", "Initiate Auth method not supported")
    # USER_SRP_AUTH is different: AWS answers AdminInitiateAuth with PASSWORD_VERIFIER, as
    # measured against a real pool (ministack PR 1758), and so does cognate.
    srp_client = new_client(idp, pool, ["ALLOW_USER_SRP_AUTH"])
    out = idp.admin_initiate_auth(
        UserPoolId=pool, ClientId=srp_client, AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "ana", "SRP_A": "ab" * 64}
    )
    assert out["ChallengeName"] == "PASSWORD_VERIFIER"
    # And the other way round: the admin flow is not InitiateAuth's.
    with pytest.raises(ClientError) as e:
        idp.initiate_auth(
            ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": PW}
        )
    assert error_of(e) == ("InvalidParameterException", "Initiate Auth method not supported")


def test_flow_not_enabled_messages(idp):
    pool = new_pool(idp)
    confirmed_user(idp, pool)
    only_refresh = new_client(idp, pool, ["ALLOW_REFRESH_TOKEN_AUTH"])
    cases = [
        ("USER_SRP_AUTH", {"USERNAME": "ana", "SRP_A": "abcd"}, "USER_SRP_AUTH is not enabled for the client."),
        ("USER_PASSWORD_AUTH", {"USERNAME": "ana", "PASSWORD": PW}, "USER_PASSWORD_AUTH flow not enabled for this client"),
        ("CUSTOM_AUTH", {"USERNAME": "ana"}, "CUSTOM_AUTH is not enabled for the client."),
    ]
    for flow, params, message in cases:
        with pytest.raises(ClientError) as e:
            idp.initiate_auth(ClientId=only_refresh, AuthFlow=flow, AuthParameters=params)
        assert error_of(e) == ("InvalidParameterException", message), flow
    with pytest.raises(ClientError) as e:
        idp.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=only_refresh,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ana", "PASSWORD": PW},
        )
    assert error_of(e) == ("InvalidParameterException", "Auth flow not enabled for this client")


# --- attributes ---------------------------------------------------------------------------------


def test_boolean_attributes_accept_any_case(idp):
    pool = new_pool(idp, AutoVerifiedAttributes=["email"])
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    idp.admin_create_user(
        UserPoolId=pool,
        Username="ana",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "ana@example.com"}, {"Name": "email_verified", "Value": "True"}],
    )
    idp.admin_set_user_password(UserPoolId=pool, Username="ana", Password=PW, Permanent=True)
    attrs = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=pool, Username="ana")["UserAttributes"]}
    assert attrs["email_verified"].lower() == "true"
    # A verified email: the ID token says so, and the address can take a password reset code.
    tokens = idp.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": PW}
    )["AuthenticationResult"]
    import jwt

    assert jwt.decode(tokens["IdToken"], options={"verify_signature": False})["email_verified"] is True
    out = idp.forgot_password(ClientId=client, Username="ana")
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    for value in ["FALSE", "false", "TRUE", "tRuE"]:
        idp.admin_update_user_attributes(
            UserPoolId=pool, Username="ana", UserAttributes=[{"Name": "email_verified", "Value": value}]
        )
    with pytest.raises(ClientError) as e:
        idp.admin_update_user_attributes(
            UserPoolId=pool, Username="ana", UserAttributes=[{"Name": "email_verified", "Value": "yes"}]
        )
    assert error_of(e)[0] == "InvalidParameterException"


def test_attribute_refusals_name_every_attribute(idp):
    pool = new_pool(
        idp,
        Schema=[
            {"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True},
            {"Name": "tier", "AttributeDataType": "String", "Mutable": False},
            {"Name": "age", "AttributeDataType": "Number", "Mutable": True},
        ],
    )
    confirmed_user(idp, pool, attributes=[{"Name": "name", "Value": "Ana"}])

    def refusal(call, **kwargs):
        with pytest.raises(ClientError) as e:
            call(UserPoolId=pool, Username="ana", **kwargs)
        return error_of(e)

    prefix = "Attributes did not conform to the schema: "
    # Every offending attribute, one per line, each worded as Cognito words it.
    code, message = refusal(
        idp.admin_update_user_attributes,
        UserAttributes=[
            {"Name": "custom:tier", "Value": "gold"},
            {"Name": "custom:age", "Value": "old"},
            {"Name": "custom:nope", "Value": "x"},
        ],
    )
    assert code == "InvalidParameterException"
    assert message == prefix + "\n".join(
        [
            "custom:tier: Attribute cannot be updated.",
            "custom:age: Number must be a valid number.",
            "Type for attribute {custom:nope} could not be determined",
        ]
    )
    assert refusal(idp.admin_update_user_attributes, UserAttributes=[{"Name": "nickname2", "Value": "x"}]) == (
        "InvalidParameterException",
        prefix + "nickname2: Attribute does not exist in the schema.",
    )
    assert refusal(idp.admin_delete_user_attributes, UserAttributeNames=["name", "custom:nope"]) == (
        "InvalidParameterException",
        prefix + "name: The attribute is required\nType for attribute {custom:nope} could not be determined",
    )
    # Nothing was changed by the refused calls.
    attrs = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=pool, Username="ana")["UserAttributes"]}
    assert attrs["name"] == "Ana" and "custom:tier" not in attrs and "custom:age" not in attrs


# --- paging -------------------------------------------------------------------------------------


def test_invalid_pagination_token_is_refused(idp):
    pool = new_pool(idp)
    for name in ["a", "b", "c"]:
        idp.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
        idp.create_group(UserPoolId=pool, GroupName=name)
        idp.create_user_pool_client(UserPoolId=pool, ClientName=name)
    # Tokens cognate issued page on.
    first = idp.list_users(UserPoolId=pool, Limit=2)
    rest = idp.list_users(UserPoolId=pool, Limit=2, PaginationToken=first["PaginationToken"])
    assert len(first["Users"]) == 2 and len(rest["Users"]) == 1 and "PaginationToken" not in rest
    first = idp.list_groups(UserPoolId=pool, Limit=2)
    assert len(idp.list_groups(UserPoolId=pool, Limit=2, NextToken=first["NextToken"])["Groups"]) == 1
    # Any other token is an error, not the first page.
    bad = "bm90LWEtdG9rZW4="
    calls = [
        lambda: idp.list_users(UserPoolId=pool, PaginationToken=bad),
        lambda: idp.list_groups(UserPoolId=pool, NextToken=bad),
        lambda: idp.list_user_pools(MaxResults=10, NextToken=bad),
        lambda: idp.list_user_pool_clients(UserPoolId=pool, NextToken=bad),
        lambda: idp.list_users_in_group(UserPoolId=pool, GroupName="a", NextToken=bad),
        lambda: idp.admin_list_groups_for_user(UserPoolId=pool, Username="a", NextToken=bad),
        lambda: idp.list_resource_servers(UserPoolId=pool, MaxResults=10, NextToken=bad),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[0] == "InvalidParameterException"
        assert bad in error_of(e)[1]


# --- password recovery --------------------------------------------------------------------------


def test_forgot_password_on_an_admin_only_pool(idp):
    pool = new_pool(
        idp, AccountRecoverySetting={"RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]}
    )
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    confirmed_user(
        idp, pool, attributes=[{"Name": "email", "Value": "ana@example.com"}, {"Name": "email_verified", "Value": "true"}]
    )
    with pytest.raises(ClientError) as e:
        idp.forgot_password(ClientId=client, Username="ana")
    assert error_of(e) == ("NotAuthorizedException", "Contact administrator to reset password.")
    # The administrator still can.
    idp.admin_reset_user_password(UserPoolId=pool, Username="ana")
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "RESET_REQUIRED"


def test_no_reset_for_a_user_who_never_signed_in(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    idp.admin_create_user(
        UserPoolId=pool,
        Username="ana",
        TemporaryPassword=PW,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "ana@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    with pytest.raises(ClientError) as e:
        idp.admin_reset_user_password(UserPoolId=pool, Username="ana")
    assert error_of(e) == ("NotAuthorizedException", "User password cannot be reset in the current state.")
    with pytest.raises(ClientError) as e:
        idp.forgot_password(ClientId=client, Username="ana")
    assert error_of(e) == ("NotAuthorizedException", "User password cannot be reset in the current state.")
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    # A disabled user's password is not reset either.
    confirmed_user(idp, pool, "bo")
    idp.admin_disable_user(UserPoolId=pool, Username="bo")
    with pytest.raises(ClientError) as e:
        idp.admin_reset_user_password(UserPoolId=pool, Username="bo")
    assert error_of(e)[0] == "NotAuthorizedException"
    assert idp.admin_get_user(UserPoolId=pool, Username="bo")["UserStatus"] == "CONFIRMED"


# --- MFA ----------------------------------------------------------------------------------------


def test_mfa_on_or_optional_needs_a_factor(idp):
    pool = new_pool(idp)
    for mode in ["ON", "OPTIONAL"]:
        with pytest.raises(ClientError) as e:
            idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration=mode)
        assert error_of(e)[0] == "InvalidParameterException", mode
        with pytest.raises(ClientError) as e:
            idp.set_user_pool_mfa_config(
                UserPoolId=pool, MfaConfiguration=mode, SoftwareTokenMfaConfiguration={"Enabled": False}
            )
        assert error_of(e)[0] == "InvalidParameterException", mode
    assert idp.get_user_pool_mfa_config(UserPoolId=pool)["MfaConfiguration"] == "OFF"
    idp.set_user_pool_mfa_config(
        UserPoolId=pool, MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True}
    )


def totp(secret, at):
    import base64
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def test_verify_software_token_during_mfa_setup_enrols_and_a_code_counts_once(idp):
    import time

    pool = new_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON", SoftwareTokenMfaConfiguration={"Enabled": True})
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    confirmed_user(idp, pool)

    def sign_in():
        return idp.initiate_auth(
            ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": PW}
        )

    setup = sign_in()
    assert setup["ChallengeName"] == "MFA_SETUP"
    assoc = idp.associate_software_token(Session=setup["Session"])
    if time.time() % 30 > 25:  # stay within one time step for the codes below
        time.sleep(30 - time.time() % 30 + 0.5)
    now = time.time()
    previous, current = totp(assoc["SecretCode"], now - 30), totp(assoc["SecretCode"], now)
    verified = idp.verify_software_token(Session=assoc["Session"], UserCode=previous)
    assert verified["Status"] == "SUCCESS"
    # The MFA_SETUP challenge is never answered: the app is enrolled all the same.
    challenge = sign_in()
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(
            ClientId=client,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "ana", "SOFTWARE_TOKEN_MFA_CODE": previous},
        )
    assert error_of(e) == ("ExpiredCodeException", "Your software token has already been used once.")
    done = idp.respond_to_auth_challenge(
        ClientId=client,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ana", "SOFTWARE_TOKEN_MFA_CODE": current},
    )
    assert "AccessToken" in done["AuthenticationResult"]
    # And the code just used is spent too.
    again = sign_in()
    with pytest.raises(ClientError) as e:
        idp.respond_to_auth_challenge(
            ClientId=client,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=again["Session"],
            ChallengeResponses={"USERNAME": "ana", "SOFTWARE_TOKEN_MFA_CODE": current},
        )
    assert error_of(e) == ("ExpiredCodeException", "Your software token has already been used once.")


# --- refresh tokens -----------------------------------------------------------------------------


def test_a_refresh_token_belongs_to_its_client(idp):
    pool = new_pool(idp)
    flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    web, other = new_client(idp, pool, flows), new_client(idp, pool, flows)
    confirmed_user(idp, pool)
    refresh = idp.initiate_auth(
        ClientId=web, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": PW}
    )["AuthenticationResult"]["RefreshToken"]
    with pytest.raises(ClientError) as e:
        idp.initiate_auth(ClientId=other, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh})
    assert error_of(e) == ("NotAuthorizedException", "Refresh Token has different Client")
    # Another client cannot revoke it either, and the token lives on.
    with pytest.raises(ClientError) as e:
        idp.revoke_token(Token=refresh, ClientId=other)
    assert error_of(e)[0] == "UnauthorizedException"
    idp.initiate_auth(ClientId=web, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh})
    idp.revoke_token(Token=refresh, ClientId=web)
    with pytest.raises(ClientError) as e:
        idp.initiate_auth(ClientId=web, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh})
    assert error_of(e) == ("NotAuthorizedException", "Refresh Token has been revoked")


# --- usernames ----------------------------------------------------------------------------------


def test_email_username_and_a_different_email_attribute(idp):
    pool = new_pool(idp, UsernameAttributes=["email"])
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    message = "User email should be empty or same as username, since username attribute is email"
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(
            UserPoolId=pool,
            Username="ana@example.com",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "other@example.com"}],
        )
    assert error_of(e) == ("InvalidParameterException", message)
    with pytest.raises(ClientError) as e:
        idp.sign_up(
            ClientId=client,
            Username="bo@example.com",
            Password=PW,
            UserAttributes=[{"Name": "email", "Value": "other@example.com"}],
        )
    assert error_of(e) == ("InvalidParameterException", message)
    assert idp.list_users(UserPoolId=pool)["Users"] == []
    # The same address, or none, is fine.
    idp.admin_create_user(
        UserPoolId=pool,
        Username="ana@example.com",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "ana@example.com"}],
    )
    idp.sign_up(ClientId=client, Username="bo@example.com", Password=PW)


def test_case_insensitive_usernames_fold_ascii_only(idp):
    pool = new_pool(idp, UsernameConfiguration={"CaseSensitive": False})
    idp.admin_create_user(UserPoolId=pool, Username="kim", MessageAction="SUPPRESS")
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(UserPoolId=pool, Username="KIM", MessageAction="SUPPRESS")
    assert error_of(e)[0] == "UsernameExistsException"
    assert idp.admin_get_user(UserPoolId=pool, Username="Kim")["Username"] == "kim"
    # The Kelvin sign lowercases to k under Unicode rules, but is another name.
    kelvin = "\u212aim"
    idp.admin_create_user(UserPoolId=pool, Username=kelvin, MessageAction="SUPPRESS")
    assert idp.admin_get_user(UserPoolId=pool, Username=kelvin)["Username"] == kelvin
    assert idp.admin_get_user(UserPoolId=pool, Username="kim")["Username"] == "kim"
    assert sorted(u["Username"] for u in idp.list_users(UserPoolId=pool)["Users"]) == sorted(["kim", kelvin])


# --- pool schema --------------------------------------------------------------------------------


def test_schema_is_validated(idp):
    def refused(message, schema, add=False):
        with pytest.raises(ClientError) as e:
            if add:
                idp.add_custom_attributes(UserPoolId=add, CustomAttributes=schema)
            else:
                new_pool(idp, Schema=schema)
        assert error_of(e) == ("InvalidParameterException", message)

    # A standard attribute keeps its type and cannot be made developer-only.
    standard = "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {}"
    refused(standard.format("email_verified"), [{"Name": "email_verified", "AttributeDataType": "String"}])
    refused(standard.format("updated_at"), [{"Name": "updated_at", "AttributeDataType": "String"}])
    refused(standard.format("email"), [{"Name": "email", "DeveloperOnlyAttribute": True}])
    # String lengths within 0-2048, and min <= max for lengths and values.
    too_long = "user.{}: String attributes cannot have a length of more than 2048"
    refused(too_long.format("email"), [{"Name": "email", "StringAttributeConstraints": {"MaxLength": "2049"}}])
    refused(
        too_long.format("custom:note"),
        [{"Name": "note", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "4096"}}],
    )
    refused(
        "user.custom:note: Max length cannot be less than min length.",
        [{"Name": "note", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "10", "MaxLength": "5"}}],
    )
    refused(
        "user.updated_at: Max value cannot be less than min value.",
        [{"Name": "updated_at", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "2", "MaxValue": "1"}}],
    )
    refused(
        "user.custom:age: Max value cannot be less than min value.",
        [{"Name": "age", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "2", "MaxValue": "1"}}],
    )
    # AddCustomAttributes checks the same, and a refusal adds nothing.
    pool = new_pool(
        idp,
        Schema=[
            {"Name": "email", "AttributeDataType": "String", "Required": True, "StringAttributeConstraints": {"MinLength": "0", "MaxLength": "2048"}},
            {"Name": "updated_at", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "0"}},
        ],
    )
    refused(
        too_long.format("custom:note"),
        [{"Name": "note", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "3000"}}],
        add=pool,
    )
    refused(
        "user.custom:n: Max value cannot be less than min value.",
        [{"Name": "n", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "5", "MaxValue": "-5"}}],
        add=pool,
    )
    names = [a["Name"] for a in idp.describe_user_pool(UserPoolId=pool)["UserPool"]["SchemaAttributes"]]
    assert not any(n.startswith("custom:") for n in names)
    idp.add_custom_attributes(
        UserPoolId=pool,
        CustomAttributes=[{"Name": "note", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "2048"}}],
    )


# --- verification messages ----------------------------------------------------------------------


def test_verification_template_and_legacy_fields_mirror_each_other(idp):
    def described(pool):
        p = idp.describe_user_pool(UserPoolId=pool)["UserPool"]
        t = p["VerificationMessageTemplate"]
        return (
            (p.get("EmailVerificationSubject"), p.get("EmailVerificationMessage"), p.get("SmsVerificationMessage")),
            (t.get("EmailSubject"), t.get("EmailMessage"), t.get("SmsMessage")),
        )

    # Legacy fields given: the template describes them.
    legacy = ("Hello", "Code {####}", "SMS {####}")
    pool = new_pool(
        idp, EmailVerificationSubject=legacy[0], EmailVerificationMessage=legacy[1], SmsVerificationMessage=legacy[2]
    )
    assert described(pool) == (legacy, legacy)
    # The template given: the legacy fields describe it.
    template = ("Hi", "Your code {####}", "Your SMS code {####}")
    tpl = {"EmailSubject": template[0], "EmailMessage": template[1], "SmsMessage": template[2]}
    pool = new_pool(idp, VerificationMessageTemplate=tpl)
    assert described(pool) == (template, template)
    # And the same both ways on UpdateUserPool.
    idp.update_user_pool(
        UserPoolId=pool, EmailVerificationSubject=legacy[0], EmailVerificationMessage=legacy[1], SmsVerificationMessage=legacy[2]
    )
    assert described(pool) == (legacy, legacy)
    idp.update_user_pool(UserPoolId=pool, VerificationMessageTemplate=tpl)
    assert described(pool) == (template, template)


# --- unconfirmed users --------------------------------------------------------------------------


def test_unconfirmed_user_is_told_so_after_the_password(idp):
    from pycognito.aws_srp import AWSSRP

    pool = new_pool(idp)
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"])
    idp.sign_up(ClientId=client, Username="ana", Password=PW)
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "UNCONFIRMED"
    # A wrong password is a wrong password first; the right one learns the user is unconfirmed.
    for password, expected in [
        ("Wrong-horse-1", ("NotAuthorizedException", "Incorrect username or password.")),
        (PW, ("UserNotConfirmedException", "User is not confirmed.")),
    ]:
        with pytest.raises(ClientError) as e:
            idp.initiate_auth(
                ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": password}
            )
        assert error_of(e) == expected
        with pytest.raises(ClientError) as e:
            idp.admin_initiate_auth(
                UserPoolId=pool,
                ClientId=client,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "ana", "PASSWORD": password},
            )
        assert error_of(e) == expected
        # USER_SRP_AUTH: the challenge is given, and the answer to PASSWORD_VERIFIER is refused.
        srp = AWSSRP(username="ana", password=password, pool_id=pool, client_id=client, client=idp)
        challenge = idp.initiate_auth(ClientId=client, AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params())
        assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
        answers = srp.process_challenge(challenge["ChallengeParameters"], srp.get_auth_params())
        with pytest.raises(ClientError) as e:
            idp.respond_to_auth_challenge(ClientId=client, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers)
        assert error_of(e) == expected
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "UNCONFIRMED"
    # Once confirmed, the same password signs in.
    idp.admin_confirm_sign_up(UserPoolId=pool, Username="ana")
    idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": PW})


# --- CustomMessage failures ---------------------------------------------------------------------

FAILING_CUSTOM_MESSAGE = """
exports.handler = async (event) => { throw new Error("no message for " + event.userName); };
"""


def test_a_failed_custom_message_changes_nothing(server, idp):
    import io
    import zipfile

    import boto3
    import requests

    lam = boto3.client(
        "lambda", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.js", FAILING_CUSTOM_MESSAGE)
    name = f"nomsg-{uuid.uuid4().hex[:6]}"
    arn = lam.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/lambda",
        Code={"ZipFile": buf.getvalue()},
    )["FunctionArn"]

    def outbox(pool, username):
        return requests.get(f"{server.url}/_cognate/outbox", params={"poolId": pool, "username": username}).json()["messages"]

    # A sign-up made before the trigger is attached: its code is on file.
    pool = new_pool(idp, AutoVerifiedAttributes=["email"])
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    idp.sign_up(ClientId=client, Username="bo", Password=PW, UserAttributes=[{"Name": "email", "Value": "bo@example.com"}])
    code = outbox(pool, "bo")[0]["code"]
    idp.admin_create_user(
        UserPoolId=pool,
        Username="cy",
        TemporaryPassword=PW,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "cy@example.com"}],
    )
    idp.update_user_pool(UserPoolId=pool, AutoVerifiedAttributes=["email"], LambdaConfig={"CustomMessage": arn})

    # AdminCreateUser whose invitation fails: no user.
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(
            UserPoolId=pool,
            Username="ana",
            UserAttributes=[{"Name": "email", "Value": "ana@example.com"}],
            DesiredDeliveryMediums=["EMAIL"],
        )
    assert error_of(e)[0] == "UserLambdaValidationException"
    with pytest.raises(ClientError) as e:
        idp.admin_get_user(UserPoolId=pool, Username="ana")
    assert error_of(e)[0] == "UserNotFoundException"
    assert sorted(u["Username"] for u in idp.list_users(UserPoolId=pool)["Users"]) == ["bo", "cy"]
    # A name already taken is refused as such, before the trigger runs.
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(UserPoolId=pool, Username="cy", DesiredDeliveryMediums=["EMAIL"])
    assert error_of(e) == ("UsernameExistsException", "User already exists")

    # A failed ResendConfirmationCode: the code sent earlier still confirms.
    with pytest.raises(ClientError) as e:
        idp.resend_confirmation_code(ClientId=client, Username="bo")
    assert error_of(e)[0] == "UserLambdaValidationException"
    assert len(outbox(pool, "bo")) == 1
    idp.confirm_sign_up(ClientId=client, Username="bo", ConfirmationCode=code)

    # A failed AdminCreateUser RESEND: the temporary password is unchanged.
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(
            UserPoolId=pool,
            Username="cy",
            MessageAction="RESEND",
            DesiredDeliveryMediums=["EMAIL"],
        )
    assert error_of(e)[0] == "UserLambdaValidationException"
    assert outbox(pool, "cy") == []
    challenge = idp.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "cy", "PASSWORD": PW}
    )
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    lam.delete_function(FunctionName=name)


def test_phone_number_usernames(idp):
    pool = new_pool(idp, UsernameAttributes=["phone_number"])
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    # E.164 only: a '+' and digits.
    for bad in ["5551234567", "+1-555-123-4567", "(555)123-4567", "+", "ana", "+1555000111122223"]:
        with pytest.raises(ClientError) as e:
            idp.admin_create_user(UserPoolId=pool, Username=bad, MessageAction="SUPPRESS")
        assert error_of(e) == ("InvalidParameterException", "Username should be a phone number."), bad
        with pytest.raises(ClientError) as e:
            idp.sign_up(ClientId=client, Username=bad, Password=PW)
        assert error_of(e) == ("InvalidParameterException", "Username should be a phone number."), bad
    # (With a space the name fails the model's username pattern before any of this.)
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(UserPoolId=pool, Username="+1 555 123 4567", MessageAction="SUPPRESS")
    assert error_of(e)[0] == "InvalidParameterException"
    # A phone_number attribute other than the username is refused; the same one is fine.
    message = "User phone_number should be empty or same as username, since username attribute is phone_number"
    with pytest.raises(ClientError) as e:
        idp.admin_create_user(
            UserPoolId=pool,
            Username="+15550001111",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "phone_number", "Value": "+15550002222"}],
        )
    assert error_of(e) == ("InvalidParameterException", message)
    with pytest.raises(ClientError) as e:
        idp.sign_up(
            ClientId=client,
            Username="+15550003333",
            Password=PW,
            UserAttributes=[{"Name": "phone_number", "Value": "+15550002222"}],
        )
    assert error_of(e) == ("InvalidParameterException", message)
    assert idp.list_users(UserPoolId=pool)["Users"] == []
    created = idp.admin_create_user(
        UserPoolId=pool,
        Username="+15550001111",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "phone_number", "Value": "+15550001111"}],
    )["User"]
    attrs = {a["Name"]: a["Value"] for a in created["Attributes"]}
    assert attrs["phone_number"] == "+15550001111" and created["Username"] != "+15550001111"
    idp.admin_set_user_password(UserPoolId=pool, Username="+15550001111", Password=PW, Permanent=True)
    idp.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "+15550001111", "PASSWORD": PW}
    )
    idp.sign_up(ClientId=client, Username="+15550003333", Password=PW)
