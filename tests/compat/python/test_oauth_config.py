"""The OAuth side's configuration through the aws CLI and boto3: the README's domain, resource
server and app clients, Cognito's validation of OAuth settings, client secrets, UI customization
and managed-login branding, and a client_credentials token over plain HTTP."""
import base64
import json

import boto3
import pytest
import requests

from conftest import aws_idp as aws


def error_of(e):
    return e.response["Error"]["Code"], e.response["Error"]["Message"]


def test_the_readme_example_through_the_aws_cli(server, idp):
    pool = aws(server, "create-user-pool", "--pool-name", "shop")["UserPool"]["Id"]
    out = aws(server, "create-user-pool-domain", "--user-pool-id", pool, "--domain", "shop-auth", "--managed-login-version", "2")
    assert out["ManagedLoginVersion"] == 2
    described = aws(server, "describe-user-pool-domain", "--domain", "shop-auth")["DomainDescription"]
    assert (described["UserPoolId"], described["Status"], described["Domain"]) == (pool, "ACTIVE", "shop-auth")
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["Domain"] == "shop-auth"
    assert aws(server, "describe-user-pool-domain", "--domain", "nobody-has-this")["DomainDescription"] == {}

    server_out = aws(server, "create-resource-server", "--user-pool-id", pool, "--identifier", "orders", "--name", "Orders API",
                     "--scopes", "ScopeName=read,ScopeDescription=Read orders", "ScopeName=write,ScopeDescription=Place orders")
    assert [s["ScopeName"] for s in server_out["ResourceServer"]["Scopes"]] == ["read", "write"]

    web = aws(server, "create-user-pool-client", "--user-pool-id", pool, "--client-name", "web",
              "--allowed-o-auth-flows-user-pool-client", "--allowed-o-auth-flows", "code",
              "--allowed-o-auth-scopes", "openid", "email", "orders/read",
              "--callback-urls", "http://localhost:3000/callback", "--logout-urls", "http://localhost:3000/",
              "--supported-identity-providers", "COGNITO")["UserPoolClient"]
    assert web["AllowedOAuthFlows"] == ["code"] and "orders/read" in web["AllowedOAuthScopes"]
    m2m = aws(server, "create-user-pool-client", "--user-pool-id", pool, "--client-name", "worker", "--generate-secret",
              "--allowed-o-auth-flows-user-pool-client", "--allowed-o-auth-flows", "client_credentials",
              "--allowed-o-auth-scopes", "orders/read", "orders/write")["UserPoolClient"]

    # The machine client gets a token over plain HTTP with Basic authentication.
    res = requests.post(f"{server.url}/oauth2/token", auth=(m2m["ClientId"], m2m["ClientSecret"]),
                        data={"grant_type": "client_credentials", "scope": "orders/write"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and "refresh_token" not in body
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert (claims["sub"], claims["client_id"], claims["scope"], claims["token_use"]) == (m2m["ClientId"], m2m["ClientId"], "orders/write", "access")
    assert "username" not in claims and claims["iss"] == f"{server.url}/{pool}"

    # The discovery document lists what answers.
    discovery = requests.get(f"{server.url}/{pool}/.well-known/openid-configuration").json()
    assert discovery["token_endpoint"] == f"{server.url}/oauth2/token"
    assert set(discovery["grant_types_supported"]) >= {"authorization_code", "client_credentials", "refresh_token"}

    listed = aws(server, "list-resource-servers", "--user-pool-id", pool, "--max-results", "10")["ResourceServers"]
    assert [s["Identifier"] for s in listed] == ["orders"]
    aws(server, "update-resource-server", "--user-pool-id", pool, "--identifier", "orders", "--name", "Orders",
        "--scopes", "ScopeName=read,ScopeDescription=Read")
    assert aws(server, "describe-resource-server", "--user-pool-id", pool, "--identifier", "orders")["ResourceServer"]["Name"] == "Orders"
    aws(server, "delete-user-pool-domain", "--user-pool-id", pool, "--domain", "shop-auth")
    assert "Domain" not in idp.describe_user_pool(UserPoolId=pool)["UserPool"]


def test_oauth_client_settings_are_checked_as_cognito_checks_them(idp):
    pool = idp.create_user_pool(PoolName="rules")["UserPool"]["Id"]
    idp.create_resource_server(UserPoolId=pool, Identifier="orders", Name="o", Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}])

    def refused(**kwargs):
        with pytest.raises(idp.exceptions.ClientError) as e:
            idp.create_user_pool_client(UserPoolId=pool, ClientName="c", **kwargs)
        return error_of(e.value)

    assert refused(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], CallbackURLs=["https://a.example/cb"]) == (
        "InvalidParameterException",
        "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.")
    assert refused(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["orders/read"]) == (
        "InvalidOAuthFlowException", "client_credentials flow can not be selected if client does not have a client secret.")
    code, _ = refused(GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials", "code"],
                      AllowedOAuthScopes=["orders/read"], CallbackURLs=["https://a.example/cb"])
    assert code == "InvalidOAuthFlowException"
    assert refused(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"])[0] == "InvalidOAuthFlowException"
    assert refused(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["orders/delete"],
                   CallbackURLs=["https://a.example/cb"])[0] == "ScopeDoesNotExistException"
    assert refused(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
                   CallbackURLs=["http://a.example/cb"])[0] == "InvalidParameterException"
    assert refused(SupportedIdentityProviders=["Google"]) == (
        "InvalidParameterException", f"The provider Google does not exist for User Pool {pool}")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_client(UserPoolId=pool, ClientName="c", AllowedOAuthFlows=["token"])
    # http is fine on this machine, and custom schemes are fine anywhere.
    idp.create_user_pool_client(UserPoolId=pool, ClientName="ok", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                                AllowedOAuthScopes=["openid", "orders/read"],
                                CallbackURLs=["http://localhost:8080/cb", "myapp://callback"], DefaultRedirectURI="myapp://callback")


def test_domains_resource_servers_and_their_errors(idp):
    pool = idp.create_user_pool(PoolName="d")["UserPool"]["Id"]
    other = idp.create_user_pool(PoolName="e")["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=pool, Domain="taken-prefix")
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_domain(UserPoolId=other, Domain="taken-prefix")
    assert error_of(e.value)[1] == "Domain already associated with another user pool."
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_domain(UserPoolId=pool, Domain="second-prefix")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_domain(UserPoolId=other, Domain="my-aws-login")
    custom = idp.create_user_pool_domain(UserPoolId=pool, Domain="auth.example.com",
                                          CustomDomainConfig={"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"})
    assert custom["CloudFrontDomain"].endswith(".cloudfront.net")
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["CustomDomain"] == "auth.example.com"
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_user_pool_domain(UserPoolId=other, Domain="taken-prefix")

    idp.create_resource_server(UserPoolId=pool, Identifier="api", Name="a")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_resource_server(UserPoolId=pool, Identifier="api", Name="again")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_resource_server(UserPoolId=pool, Identifier="nope")
    for i in range(12):
        idp.create_resource_server(UserPoolId=pool, Identifier=f"api-{i:02}", Name="x")
    first = idp.list_resource_servers(UserPoolId=pool, MaxResults=5)
    second = idp.list_resource_servers(UserPoolId=pool, MaxResults=50, NextToken=first["NextToken"])
    names = [s["Identifier"] for s in first["ResourceServers"] + second["ResourceServers"]]
    assert names == sorted(names) and len(names) == 13 and "NextToken" not in second
    idp.delete_resource_server(UserPoolId=pool, Identifier="api")
    # Deleting the pool takes its domains with it: the prefix is free again.
    idp.delete_user_pool(UserPoolId=pool)
    idp.create_user_pool_domain(UserPoolId=other, Domain="taken-prefix")


def test_client_secrets_ui_customization_and_branding(server, idp):
    pool = idp.create_user_pool(PoolName="s")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="c", GenerateSecret=True)["UserPoolClient"]
    cid = client["ClientId"]
    added = idp.add_user_pool_client_secret(UserPoolId=pool, ClientId=cid)["ClientSecretDescriptor"]
    assert added["ClientSecretId"].startswith(f"{cid}--") and len(added["ClientSecretValue"]) >= 24
    listed = idp.list_user_pool_client_secrets(UserPoolId=pool, ClientId=cid)["ClientSecrets"]
    assert len(listed) == 2 and all("ClientSecretValue" not in s for s in listed)
    with pytest.raises(idp.exceptions.LimitExceededException):
        idp.add_user_pool_client_secret(UserPoolId=pool, ClientId=cid)
    # Both secrets work for the API's raw-secret calls while both exist.
    public = idp.create_user_pool_client(UserPoolId=pool, ClientName="p")["UserPoolClient"]["ClientId"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.add_user_pool_client_secret(UserPoolId=pool, ClientId=public)
    idp.delete_user_pool_client_secret(UserPoolId=pool, ClientId=cid, ClientSecretId=listed[0]["ClientSecretId"])
    left = idp.list_user_pool_client_secrets(UserPoolId=pool, ClientId=cid)["ClientSecrets"]
    assert [s["ClientSecretId"] for s in left] == [added["ClientSecretId"]]
    assert idp.describe_user_pool_client(UserPoolId=pool, ClientId=cid)["UserPoolClient"]["ClientSecret"] == added["ClientSecretValue"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.delete_user_pool_client_secret(UserPoolId=pool, ClientId=cid, ClientSecretId=added["ClientSecretId"])

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    out = idp.set_ui_customization(UserPoolId=pool, CSS=".submitButton-customizable { background: #0a7; }", ImageFile=png)
    assert out["UICustomization"]["ClientId"] == "ALL" and out["UICustomization"]["ImageUrl"]
    assert requests.get(out["UICustomization"]["ImageUrl"]).content == png
    got = idp.get_ui_customization(UserPoolId=pool, ClientId=cid)["UICustomization"]
    assert got["CSS"].startswith(".submitButton-customizable")

    branding = idp.create_managed_login_branding(UserPoolId=pool, ClientId=cid, Settings={"components": {}})["ManagedLoginBranding"]
    with pytest.raises(idp.exceptions.ClientError) as e:
        idp.create_managed_login_branding(UserPoolId=pool, ClientId=cid, UseCognitoProvidedValues=True)
    assert error_of(e.value)[0] == "ManagedLoginBrandingExistsException"
    by_client = idp.describe_managed_login_branding_by_client(UserPoolId=pool, ClientId=cid)["ManagedLoginBranding"]
    assert by_client["ManagedLoginBrandingId"] == branding["ManagedLoginBrandingId"]
    updated = idp.update_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding["ManagedLoginBrandingId"],
                                                UseCognitoProvidedValues=True)["ManagedLoginBranding"]
    assert updated["UseCognitoProvidedValues"] is True
    idp.delete_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding["ManagedLoginBrandingId"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding["ManagedLoginBrandingId"])


def test_the_pool_domain_host_name_serves_only_its_pool(server, idp):
    """Requests under a pool domain's host name (`<prefix>.localhost`, `<prefix>.auth.<region>.
    amazoncognito.com` or a custom domain) answer for that pool's clients only."""
    clients = {}
    for name in ("north", "south"):
        pool = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
        idp.create_user_pool_domain(UserPoolId=pool, Domain=f"{name}-shop")
        clients[name] = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid"], CallbackURLs=["https://app.example/cb"], SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]["ClientId"]
    idp.create_user_pool_domain(UserPoolId=pool, Domain="login.south.example", CustomDomainConfig={
        "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0d1b6a7e-52a7-4a3f-9bd3-2f6b6a6c1e11"})

    def authorize(host, client_id):
        return requests.get(f"{server.url}/oauth2/authorize", headers={"Host": host}, allow_redirects=False, params={
            "response_type": "code", "client_id": client_id, "redirect_uri": "https://app.example/cb", "scope": "openid"})

    port = server.url.rsplit(":", 1)[1]
    for host in (f"north-shop.localhost:{port}", "north-shop.auth.us-east-1.amazoncognito.com"):
        res = authorize(host, clients["north"])
        assert res.status_code == 302 and res.headers["Location"].startswith("/login?"), (host, res.status_code)
        res = authorize(host, clients["south"])
        assert res.status_code == 302 and "/error?error=invalid_request" in res.headers["Location"], (host, res.headers)
    assert authorize("login.south.example", clients["south"]).headers["Location"].startswith("/login?")
    assert "/error?" in authorize("login.south.example", clients["north"]).headers["Location"]
    # The listener's own address serves every pool, the pool found from client_id.
    assert authorize(f"127.0.0.1:{port}", clients["north"]).headers["Location"].startswith("/login?")
