"""Identity providers (CreateIdentityProvider and friends) through the aws CLI and boto3: one
provider of each type, the keys Describe adds for social providers, listing and paging, lookup by
IdP identifier, update and delete, app clients naming providers, and Cognito's refusals.

Sources: botocore's cognito-idp model (ProviderDetailsType documentation: the per-type "create"
and "Describe response" examples; the error lists of the operations) and
the shared reference beside the checkout (oauth-devices-passkeys.md §6.1)."""
import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import aws_idp as aws


def error_of(e):
    return e.response["Error"]["Code"], e.response["Error"]["Message"]


OIDC_DETAILS = {
    "client_id": "corp-client",
    "client_secret": "corp-secret",
    "authorize_scopes": "openid email profile",
    "attributes_request_method": "GET",
    "oidc_issuer": "https://idp.example.com",
    # Explicit endpoints: Cognito accepts them when it cannot discover them from oidc_issuer, and
    # nothing answers at idp.example.com.
    "authorize_url": "https://idp.example.com/authorize",
    "token_url": "https://idp.example.com/token",
    "attributes_url": "https://idp.example.com/userinfo",
    "jwks_uri": "https://idp.example.com/.well-known/jwks.json",
}

# Any base64 will do: the certificate itself is not checked here.
CERT = base64.b64encode(b"not a real certificate; only its encoding is looked at " * 3).decode()
SSO_REDIRECT = "https://example.okta.com/app/exk1example/sso/saml/redirect"
SSO_POST = "https://example.okta.com/app/exk1example/sso/saml/post"
SAML_METADATA = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exk1example">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{CERT}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SSO_REDIRECT}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{SSO_POST}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""
SAML_DETAILS = {"MetadataFile": SAML_METADATA, "IDPSignout": "true"}

APPLE_KEY = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgexample\n-----END PRIVATE KEY-----"

# name → (type, ProviderDetails sent). Social providers must be named after their type.
PROVIDERS = {
    "Corp": ("OIDC", OIDC_DETAILS),
    "Okta": ("SAML", SAML_DETAILS),
    "Google": ("Google", {"client_id": "g-client.apps.googleusercontent.com", "client_secret": "g-secret",
                          "authorize_scopes": "email profile openid"}),
    "Facebook": ("Facebook", {"client_id": "fb-client", "client_secret": "fb-secret",
                              "authorize_scopes": "public_profile,email", "api_version": "v17.0"}),
    "LoginWithAmazon": ("LoginWithAmazon", {"client_id": "amzn1.application-oa2-client.example", "client_secret": "lwa-secret",
                                            "authorize_scopes": "profile"}),
    "SignInWithApple": ("SignInWithApple", {"client_id": "com.example.cognito", "team_id": "TEAM123456", "key_id": "KEY1234567",
                                            "private_key": APPLE_KEY, "authorize_scopes": "email name"}),
}

# What Describe adds for social types, after the model's "Describe response" examples. None means
# "present, an https URL" (the exact URLs are Cognito's business, not asserted here).
DERIVED = {
    "Google": {"authorize_url": None, "token_url": None, "attributes_url": None, "oidc_issuer": "https://accounts.google.com",
               "token_request_method": "POST", "attributes_url_add_attributes": "true"},
    "Facebook": {"authorize_url": None, "token_url": None, "attributes_url": None, "token_request_method": "GET",
                 "attributes_url_add_attributes": "true"},
    "LoginWithAmazon": {"authorize_url": None, "token_url": None, "attributes_url": None, "token_request_method": "POST",
                        "attributes_url_add_attributes": "false"},
    "SignInWithApple": {"authorize_url": None, "token_url": None, "oidc_issuer": "https://appleid.apple.com",
                        "token_request_method": "POST"},
}


@pytest.fixture(scope="module")
def six(server):
    """A pool with one provider of each type, created through the aws CLI as a user would.
    Returns the pool id and each create answer by provider name."""
    pool = server.client().create_user_pool(PoolName="federated")["UserPool"]["Id"]

    def create(name):
        ptype, details = PROVIDERS[name]
        args = ["create-identity-provider", "--user-pool-id", pool, "--provider-name", name, "--provider-type", ptype]
        if name == "LoginWithAmazon":
            # The shorthand form too, where no value has a space or a comma.
            args += ["--provider-details", ",".join(f"{k}={v}" for k, v in details.items())]
        else:
            # JSON where values hold spaces, commas, quotes or newlines (scopes, XML, PEM).
            args += ["--provider-details", json.dumps(details)]
        if name == "Corp":
            args += ["--attribute-mapping", "email=email,name=name", "--idp-identifiers", "corp.example.com"]
        return name, aws(server, *args)["IdentityProvider"]

    # Side by side: each CLI start costs most of a second, and the creates do not depend on each other.
    with ThreadPoolExecutor(max_workers=3) as pool_of_clis:
        created = dict(pool_of_clis.map(create, PROVIDERS))
    return pool, created


def test_the_cli_creates_one_provider_of_each_type(six):
    pool, created = six
    for name, (ptype, _) in PROVIDERS.items():
        out = created[name]
        assert (out["ProviderName"], out["ProviderType"], out["UserPoolId"]) == (name, ptype, pool)
        assert "CreationDate" in out and "LastModifiedDate" in out
    assert created["Corp"]["IdpIdentifiers"] == ["corp.example.com"]


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_describe_returns_what_was_sent_and_what_cognito_derives(server, six, name):
    pool, _ = six
    ptype, sent = PROVIDERS[name]
    got = server.client().describe_identity_provider(UserPoolId=pool, ProviderName=name)["IdentityProvider"]
    assert (got["ProviderName"], got["ProviderType"], got["UserPoolId"]) == (name, ptype, pool)
    assert got["CreationDate"] <= got["LastModifiedDate"]
    details = got["ProviderDetails"]

    if ptype == "OIDC":
        # The model's OIDC example: Describe echoes every key sent and adds only this one.
        assert details == {**sent, "attributes_url_add_attributes": "false"}
        # Cognito may add its own default (username) mapping; ours must be there.
        assert got["AttributeMapping"].items() >= {"email": "email", "name": "name"}.items()
        assert got["IdpIdentifiers"] == ["corp.example.com"]
        return
    if ptype == "SAML":
        assert details["MetadataFile"] == SAML_METADATA and details["IDPSignout"] == "true"
        return

    # Social providers: the keys sent come back (Apple's private key excepted), plus the derived ones.
    expected_sent = {k: v for k, v in sent.items() if k != "private_key"}
    assert details.items() >= expected_sent.items()
    for key, value in DERIVED[ptype].items():
        if value is None:
            assert details.get(key, "").startswith("https://"), (key, details)
        else:
            assert details.get(key) == value, (key, details)
    if ptype == "SignInWithApple":
        # A secret that signs Cognito's client assertion: never handed back.
        assert "private_key" not in details


def test_saml_describe_reports_the_redirect_sign_in_binding_from_the_metadata(server, six):
    # The model's SAML "Describe response" example carries SSORedirectBindingURI, read from the
    # metadata's HTTP-Redirect SingleSignOnService.
    pool, _ = six
    details = server.client().describe_identity_provider(UserPoolId=pool, ProviderName="Okta")["IdentityProvider"]["ProviderDetails"]
    assert details.get("SSORedirectBindingURI") == SSO_REDIRECT


def test_apple_describe_says_attributes_are_not_added_to_the_url(server, six):
    pool, _ = six
    details = server.client().describe_identity_provider(UserPoolId=pool, ProviderName="SignInWithApple")["IdentityProvider"]["ProviderDetails"]
    assert details.get("attributes_url_add_attributes") == "false"


def test_list_names_all_six(server, six):
    pool, _ = six
    everything = aws(server, "list-identity-providers", "--user-pool-id", pool)["Providers"]
    assert {p["ProviderName"]: p["ProviderType"] for p in everything} == {n: t for n, (t, _) in PROVIDERS.items()}
    for p in everything:
        assert "CreationDate" in p and "LastModifiedDate" in p
        # The summary is a ProviderDescription: no secrets or details in it.
        assert "ProviderDetails" not in p


def test_list_pages_with_max_results_and_next_token(server, six):
    pool, _ = six
    # --max-results turns off the CLI's own paging, so each call is one page.
    seen, token, pages = [], None, 0
    while True:
        args = ["list-identity-providers", "--user-pool-id", pool, "--max-results", "2"]
        if token:
            args += ["--next-token", token]
        page = aws(server, *args)
        pages += 1
        assert len(page["Providers"]) <= 2
        seen += [p["ProviderName"] for p in page["Providers"]]
        token = page.get("NextToken")
        if not token:
            break
        assert pages < 6, "paging does not end"
    assert sorted(seen) == sorted(PROVIDERS) and len(seen) == 6
    # A token cognate never issued is refused, not read as a place in the list.
    with pytest.raises(ClientError) as e:
        server.client().list_identity_providers(UserPoolId=pool, MaxResults=2, NextToken="Google")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_a_provider_is_found_by_its_idp_identifier(server, six):
    pool, _ = six
    out = aws(server, "get-identity-provider-by-identifier", "--user-pool-id", pool, "--idp-identifier", "corp.example.com")
    assert out["IdentityProvider"]["ProviderName"] == "Corp"
    assert out["IdentityProvider"]["ProviderType"] == "OIDC"


def test_app_clients_may_name_the_providers(server, six, idp):
    pool, _ = six
    client = aws(server, "create-user-pool-client", "--user-pool-id", pool, "--client-name", "web",
                 "--supported-identity-providers", "COGNITO", "Corp", "Google")["UserPoolClient"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", "Corp", "Google"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_client(UserPoolId=pool, ClientName="web2", SupportedIdentityProviders=["COGNITO", "Okta2"])


def test_update_changes_mapping_and_details_then_delete_removes_it(server, idp):
    pool = idp.create_user_pool(PoolName="updates")["UserPool"]["Id"]
    idp.create_identity_provider(UserPoolId=pool, ProviderName="Corp", ProviderType="OIDC", ProviderDetails=OIDC_DETAILS,
                                 AttributeMapping={"email": "email", "name": "name"})
    before = idp.describe_identity_provider(UserPoolId=pool, ProviderName="Corp")["IdentityProvider"]
    # Cognito's dates may have one-second resolution; make sure the update lands in a later second.
    time.sleep(1.1)
    updated_details = {**OIDC_DETAILS, "authorize_scopes": "openid email"}
    aws(server, "update-identity-provider", "--user-pool-id", pool, "--provider-name", "Corp",
        "--provider-details", json.dumps(updated_details), "--attribute-mapping", "email=email,given_name=given_name")

    after = idp.describe_identity_provider(UserPoolId=pool, ProviderName="Corp")["IdentityProvider"]
    assert after["ProviderDetails"]["authorize_scopes"] == "openid email"
    assert after["AttributeMapping"].items() >= {"email": "email", "given_name": "given_name"}.items()
    assert after["CreationDate"] == before["CreationDate"]
    assert after["LastModifiedDate"] > before["LastModifiedDate"]

    aws(server, "delete-identity-provider", "--user-pool-id", pool, "--provider-name", "Corp")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_identity_provider(UserPoolId=pool, ProviderName="Corp")
    assert idp.list_identity_providers(UserPoolId=pool)["Providers"] == []


@pytest.fixture(scope="module")
def refusals_pool(server):
    """A pool holding one OIDC provider, for the duplicate cases."""
    idp = server.client()
    pool = idp.create_user_pool(PoolName="refusals")["UserPool"]["Id"]
    idp.create_identity_provider(UserPoolId=pool, ProviderName="Corp", ProviderType="OIDC", ProviderDetails=OIDC_DETAILS,
                                 IdpIdentifiers=["corp.example.com"])
    return pool


def without(details, *keys):
    return {k: v for k, v in details.items() if k not in keys}


# (id, exception, CreateIdentityProvider arguments other than UserPoolId).
CREATE_REFUSALS = [
    ("duplicate-name", "DuplicateProviderException", dict(ProviderName="Corp", ProviderType="OIDC", ProviderDetails=OIDC_DETAILS)),
    ("duplicate-idp-identifier", "DuplicateProviderException",
     dict(ProviderName="Corp2", ProviderType="OIDC", ProviderDetails=OIDC_DETAILS, IdpIdentifiers=["corp.example.com"])),
    ("oidc-without-client_id", "InvalidParameterException",
     dict(ProviderName="NoId", ProviderType="OIDC", ProviderDetails=without(OIDC_DETAILS, "client_id"))),
    ("oidc-without-oidc_issuer", "InvalidParameterException",
     dict(ProviderName="NoIssuer", ProviderType="OIDC", ProviderDetails=without(OIDC_DETAILS, "oidc_issuer"))),
    ("oidc-without-authorize_scopes", "InvalidParameterException",
     dict(ProviderName="NoScopes", ProviderType="OIDC", ProviderDetails=without(OIDC_DETAILS, "authorize_scopes"))),
    ("saml-without-metadata", "InvalidParameterException",
     dict(ProviderName="NoMeta", ProviderType="SAML", ProviderDetails={"IDPSignout": "true"})),
    ("saml-with-url-and-file", "InvalidParameterException",
     dict(ProviderName="BothMeta", ProviderType="SAML",
          ProviderDetails={"MetadataURL": "https://example.okta.com/metadata", "MetadataFile": SAML_METADATA})),
    ("google-not-named-google", "InvalidParameterException",
     dict(ProviderName="MyGoogle", ProviderType="Google", ProviderDetails=PROVIDERS["Google"][1])),
    ("reserved-name-COGNITO", "InvalidParameterException", dict(ProviderName="COGNITO", ProviderType="OIDC", ProviderDetails=OIDC_DETAILS)),
    ("reserved-name-Cognito", "InvalidParameterException", dict(ProviderName="Cognito", ProviderType="OIDC", ProviderDetails=OIDC_DETAILS)),
]


@pytest.mark.parametrize("code,kwargs", [c[1:] for c in CREATE_REFUSALS], ids=[c[0] for c in CREATE_REFUSALS])
def test_create_refusals(idp, refusals_pool, code, kwargs):
    with pytest.raises(idp.exceptions.ClientError) as e:
        idp.create_identity_provider(UserPoolId=refusals_pool, **kwargs)
    assert error_of(e.value)[0] == code
    # A refused create leaves nothing behind.
    names = [p["ProviderName"] for p in idp.list_identity_providers(UserPoolId=refusals_pool)["Providers"]]
    assert names == ["Corp"]


def test_a_social_provider_named_otherwise_is_refused_with_cognitos_message(idp, refusals_pool):
    # The message as users report it from the real service (aws/aws-cli#3179,
    # hashicorp/terraform-provider-aws#4822, and Terraform comments quoting it).
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_identity_provider(UserPoolId=refusals_pool, ProviderName="MyGoogle", ProviderType="Google",
                                     ProviderDetails=PROVIDERS["Google"][1])
    assert error_of(e.value)[1] == "Provider MyGoogle cannot be of type Google."


def test_unknown_pools_providers_and_identifiers_are_not_found(idp, refusals_pool):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.create_identity_provider(UserPoolId="us-east-1_Nowhere00", ProviderName="Corp", ProviderType="OIDC",
                                     ProviderDetails=OIDC_DETAILS)
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_identity_provider(UserPoolId=refusals_pool, ProviderName="Nobody")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.update_identity_provider(UserPoolId=refusals_pool, ProviderName="Nobody", AttributeMapping={"email": "email"})
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_identity_provider(UserPoolId=refusals_pool, ProviderName="Nobody")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_identity_provider_by_identifier(UserPoolId=refusals_pool, IdpIdentifier="nobody.example.com")
