"""Operations and members that botocore 1.44's cognito-idp model adds (issue #19): each through
boto3, with its refusals. (Sessions, token exchange, replicas / point-in-time recovery / limits and
CIMD policies have their own files.)"""
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from test_fidelity import PW, confirmed_user, error_of, new_client, new_pool, totp


def sign_in(idp, client, username="ana"):
    return idp.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": PW}
    )


def enrol_authenticator(idp, access_token):
    secret = idp.associate_software_token(AccessToken=access_token)["SecretCode"]
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30 + 0.5)
    out = idp.verify_software_token(AccessToken=access_token, UserCode=totp(secret, time.time()))
    assert out["Status"] == "SUCCESS"
    return secret


def test_admin_delete_software_token_and_admin_get_user_auth_factors(idp):
    pool = new_pool(idp)
    idp.set_user_pool_mfa_config(
        UserPoolId=pool, MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True}
    )
    client = new_client(idp, pool, ["ALLOW_USER_PASSWORD_AUTH"])
    confirmed_user(idp, pool)
    access = sign_in(idp, client)["AuthenticationResult"]["AccessToken"]
    enrol_authenticator(idp, access)
    idp.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )

    factors = idp.admin_get_user_auth_factors(UserPoolId=pool, Username="ana")
    assert factors["Username"] == "ana"
    assert factors["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    assert factors["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "SOFTWARE_TOKEN"]
    # The user's own view agrees.
    own = idp.get_user_auth_factors(AccessToken=access)
    assert own["ConfiguredUserAuthFactors"] == factors["ConfiguredUserAuthFactors"]
    assert sign_in(idp, client)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"

    # A lost phone: the administrator removes the authenticator.
    idp.admin_delete_software_token(UserPoolId=pool, Username="ana")
    factors = idp.admin_get_user_auth_factors(UserPoolId=pool, Username="ana")
    assert "PreferredMfaSetting" not in factors
    assert factors.get("UserMFASettingList", []) == []
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD"]
    done = sign_in(idp, client)
    assert "AuthenticationResult" in done, "no second factor is asked for any more"
    # Turning the app back on needs a new enrolment...
    with pytest.raises(ClientError) as e:
        idp.admin_set_user_mfa_preference(
            UserPoolId=pool, Username="ana", SoftwareTokenMfaSettings={"Enabled": True}
        )
    assert error_of(e)[0] == "InvalidParameterException"
    # ...which works as the first one did.
    enrol_authenticator(idp, done["AuthenticationResult"]["AccessToken"])

    for call in (idp.admin_delete_software_token, idp.admin_get_user_auth_factors):
        with pytest.raises(ClientError) as e:
            call(UserPoolId=pool, Username="nobody")
        assert error_of(e) == ("UserNotFoundException", "User does not exist.")
        with pytest.raises(ClientError) as e:
            call(UserPoolId="us-east-1_NoSuchPoo", Username="ana")
        assert error_of(e)[0] == "ResourceNotFoundException"


def test_software_token_is_not_a_first_factor(idp):
    with pytest.raises(ClientError) as e:
        new_pool(idp, Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "SOFTWARE_TOKEN"]}})
    assert error_of(e)[0] == "InvalidParameterException"
    pool = new_pool(idp)
    with pytest.raises(ClientError) as e:
        idp.update_user_pool(
            UserPoolId=pool, Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["SOFTWARE_TOKEN"]}}
        )
    assert error_of(e)[0] == "InvalidParameterException"


def test_describe_terms_by_client(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    other = new_client(idp, pool)
    created = idp.create_terms(
        UserPoolId=pool,
        ClientId=client,
        TermsName="terms-of-use",
        TermsSource="LINK",
        Enforcement="NONE",
        Links={"cognito:default": "https://example.com/terms"},
    )["Terms"]
    found = idp.describe_terms_by_client(UserPoolId=pool, ClientId=client, TermsName="terms-of-use")["Terms"]
    assert found == created
    for client_id, name in [(client, "privacy-policy"), (other, "terms-of-use")]:
        with pytest.raises(ClientError) as e:
            idp.describe_terms_by_client(UserPoolId=pool, ClientId=client_id, TermsName=name)
        assert error_of(e)[0] == "ResourceNotFoundException"


def test_new_members_of_existing_shapes_are_kept(idp):
    pool = idp.create_user_pool(
        PoolName=f"p-{uuid.uuid4().hex[:8]}",
        IssuerConfiguration={"Type": "ORIGINAL"},
        KeyConfiguration={"KeyType": "AWS_OWNED_KEY"},
        AcrConfiguration={"Level1": {"AcrValue": "urn:example:loa:1"}},
    )["UserPool"]
    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["IssuerConfiguration"] == {"Type": "ORIGINAL"}
    assert described["KeyConfiguration"] == {"KeyType": "AWS_OWNED_KEY"}
    assert described["AcrConfiguration"] == {"Level1": {"AcrValue": "urn:example:loa:1"}}

    idp.create_identity_provider(
        UserPoolId=pool["Id"],
        ProviderName="Corp",
        ProviderType="OIDC",
        ProviderDetails={
            "client_id": "cid",
            "client_secret": "shh",
            "authorize_scopes": "openid",
            "attributes_request_method": "GET",
            "oidc_issuer": "https://idp.example.com",
            "authorize_url": "https://idp.example.com/authorize",
            "token_url": "https://idp.example.com/token",
            "attributes_url": "https://idp.example.com/userinfo",
            "jwks_uri": "https://idp.example.com/jwks",
        },
        AcrMapping={"Level1": "urn:corp:mfa"},
    )
    provider = idp.describe_identity_provider(UserPoolId=pool["Id"], ProviderName="Corp")["IdentityProvider"]
    assert provider["AcrMapping"] == {"Level1": "urn:corp:mfa"}
    idp.update_identity_provider(UserPoolId=pool["Id"], ProviderName="Corp", AcrMapping={"Level2": "urn:corp:hw"})
    provider = idp.describe_identity_provider(UserPoolId=pool["Id"], ProviderName="Corp")["IdentityProvider"]
    assert provider["AcrMapping"] == {"Level2": "urn:corp:hw"}

    job = idp.create_user_import_job(
        UserPoolId=pool["Id"],
        JobName="hashes",
        CloudWatchLogsRoleArn="arn:aws:iam::000000000000:role/import",
        PasswordHashingAlgorithm="BCRYPT",
    )["UserImportJob"]
    assert job["PasswordHashingAlgorithm"] == "BCRYPT"
    described = idp.describe_user_import_job(UserPoolId=pool["Id"], JobId=job["JobId"])["UserImportJob"]
    assert described["PasswordHashingAlgorithm"] == "BCRYPT"


def test_client_type(idp):
    pool = new_pool(idp)
    ids = sorted(new_client(idp, pool) for _ in range(3))
    described = idp.describe_user_pool_client(UserPoolId=pool, ClientId=ids[0])["UserPoolClient"]
    assert described["ClientType"] == "REGULAR"
    regular = idp.list_user_pool_clients(UserPoolId=pool, MaxResults=10, ClientType="REGULAR")["UserPoolClients"]
    assert sorted(c["ClientId"] for c in regular) == ids
    assert all("ClientType" not in c for c in regular)
    assert idp.list_user_pool_clients(UserPoolId=pool, MaxResults=10, ClientType="DCR")["UserPoolClients"] == []
