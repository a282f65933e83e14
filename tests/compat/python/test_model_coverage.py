"""Operations no other test drives through boto3 (issue #19: every operation of the model is
tested through an SDK): DescribeUserPoolDomain, UpdateUserPoolDomain, UpdateResourceServer and
AdminRespondToAuthChallenge."""
import uuid

from conftest import refusal
from test_fidelity import PW, new_client, new_pool


def test_describe_and_update_user_pool_domain(idp):
    pool = new_pool(idp)
    prefix = f"cov-{uuid.uuid4().hex[:10]}"
    idp.create_user_pool_domain(UserPoolId=pool, Domain=prefix)
    described = idp.describe_user_pool_domain(Domain=prefix)["DomainDescription"]
    assert (described["UserPoolId"], described["Domain"], described["Status"]) == (pool, prefix, "ACTIVE")
    assert described["ManagedLoginVersion"] == 1
    updated = idp.update_user_pool_domain(UserPoolId=pool, Domain=prefix, ManagedLoginVersion=2)
    assert updated["ManagedLoginVersion"] == 2
    assert idp.describe_user_pool_domain(Domain=prefix)["DomainDescription"]["ManagedLoginVersion"] == 2
    # An unknown domain is described as nothing; updating one is refused.
    assert idp.describe_user_pool_domain(Domain="no-such-domain-here")["DomainDescription"] == {}
    code, _ = refusal(lambda: idp.update_user_pool_domain(UserPoolId=pool, Domain="no-such-domain-here",
                                                          ManagedLoginVersion=2))
    assert code == "ResourceNotFoundException"


def test_update_resource_server_replaces_name_and_scopes(idp):
    pool = new_pool(idp)
    idp.create_resource_server(UserPoolId=pool, Identifier="orders", Name="Orders",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "Read"}])
    out = idp.update_resource_server(UserPoolId=pool, Identifier="orders", Name="Orders API",
                                     Scopes=[{"ScopeName": "write", "ScopeDescription": "Write"}])
    assert out["ResourceServer"]["Name"] == "Orders API"
    described = idp.describe_resource_server(UserPoolId=pool, Identifier="orders")["ResourceServer"]
    assert described["Scopes"] == [{"ScopeName": "write", "ScopeDescription": "Write"}]
    code, _ = refusal(lambda: idp.update_resource_server(UserPoolId=pool, Identifier="nope", Name="x"))
    assert code == "ResourceNotFoundException"


def test_admin_respond_to_auth_challenge_sets_the_new_password(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool, ["ALLOW_ADMIN_USER_PASSWORD_AUTH"])
    idp.admin_create_user(UserPoolId=pool, Username="ana", TemporaryPassword="Temp-pass-123", MessageAction="SUPPRESS")
    challenge = idp.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": "ana", "PASSWORD": "Temp-pass-123"})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = idp.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ana", "NEW_PASSWORD": PW})
    assert "AccessToken" in done["AuthenticationResult"]
    assert idp.admin_get_user(UserPoolId=pool, Username="ana")["UserStatus"] == "CONFIRMED"
    # The session is spent.
    assert refusal(lambda: idp.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ana", "NEW_PASSWORD": "Another-pass-1"})) == \
        ("NotAuthorizedException", "Invalid session for the user.")
