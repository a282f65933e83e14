"""A pool's side settings through boto3: tags on the pool's ARN, log delivery, risk
configuration (pool-wide and per client), the CSV header of user imports, and the legacy
SetUserSettings / AdminSetUserSettings MFA options."""
import pytest
from botocore.exceptions import ClientError

PASSWORD = "Correct-horse-9"


def code_of(e):
    return e.value.response["Error"]["Code"]


def test_tags_on_the_pools_arn(idp):
    pool = idp.create_user_pool(PoolName="tagged", UserPoolTags={"team": "auth"})["UserPool"]
    arn = pool["Arn"]
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "auth"}
    idp.tag_resource(ResourceArn=arn, Tags={"env": "ci", "team": "identity"})
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "identity", "env": "ci"}
    idp.untag_resource(ResourceArn=arn, TagKeys=["team", "nothing-here"])
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "ci"}
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["UserPoolTags"] == {"env": "ci"}
    other = arn.replace(pool["Id"], pool["Id"][:-1] + ("x" if pool["Id"][-1] != "x" else "y"))
    for bad in (other, "arn:aws:cognito-idp:us-east-1:000000000000:identitypool/x", "not-an-arn-at-all-really"):
        with pytest.raises(ClientError) as e:
            idp.list_tags_for_resource(ResourceArn=bad)
        assert code_of(e) in ("ResourceNotFoundException", "InvalidParameterException"), bad


def test_log_delivery_and_risk_configuration_are_kept(idp):
    pool = idp.create_user_pool(PoolName="observed")["UserPool"]["Id"]
    empty = idp.get_log_delivery_configuration(UserPoolId=pool)["LogDeliveryConfiguration"]
    assert empty == {"UserPoolId": pool, "LogConfigurations": []}
    config = [{"LogLevel": "ERROR", "EventSource": "userNotification",
               "CloudWatchLogsConfiguration": {"LogGroupArn": "arn:aws:logs:us-east-1:000000000000:log-group:cognito"}}]
    out = idp.set_log_delivery_configuration(UserPoolId=pool, LogConfigurations=config)
    assert out["LogDeliveryConfiguration"]["LogConfigurations"] == config
    assert idp.get_log_delivery_configuration(UserPoolId=pool)["LogDeliveryConfiguration"]["LogConfigurations"] == config
    with pytest.raises(ClientError) as e:
        idp.set_log_delivery_configuration(UserPoolId=pool, LogConfigurations=[{"LogLevel": "INFO", "EventSource": "userAuthEvents"}])
    assert code_of(e) == "InvalidParameterException"

    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app")["UserPoolClient"]["ClientId"]
    assert idp.describe_risk_configuration(UserPoolId=pool)["RiskConfiguration"] == {"UserPoolId": pool}
    exceptions = {"BlockedIPRangeList": ["192.0.2.0/24"], "SkippedIPRangeList": ["198.51.100.0/24"]}
    idp.set_risk_configuration(UserPoolId=pool, RiskExceptionConfiguration=exceptions)
    # A client without a configuration of its own has the pool's.
    for_client = idp.describe_risk_configuration(UserPoolId=pool, ClientId=client)["RiskConfiguration"]
    assert for_client["RiskExceptionConfiguration"] == exceptions
    takeover = {"Actions": {"LowAction": {"Notify": False, "EventAction": "NO_ACTION"},
                            "MediumAction": {"Notify": False, "EventAction": "MFA_IF_CONFIGURED"},
                            "HighAction": {"Notify": False, "EventAction": "BLOCK"}}}
    idp.set_risk_configuration(UserPoolId=pool, ClientId=client, AccountTakeoverRiskConfiguration=takeover)
    mine = idp.describe_risk_configuration(UserPoolId=pool, ClientId=client)["RiskConfiguration"]
    assert mine["ClientId"] == client and mine["AccountTakeoverRiskConfiguration"]["Actions"] == takeover["Actions"]
    assert "AccountTakeoverRiskConfiguration" not in idp.describe_risk_configuration(UserPoolId=pool)["RiskConfiguration"]
    with pytest.raises(ClientError) as e:
        idp.describe_risk_configuration(UserPoolId=pool, ClientId="nosuchclient0000000000000")
    assert code_of(e) == "ResourceNotFoundException"


def test_the_csv_header_names_the_pools_attributes(idp):
    pool = idp.create_user_pool(PoolName="imports", Schema=[
        {"Name": "dept", "AttributeDataType": "String", "Mutable": True}])["UserPool"]["Id"]
    header = idp.get_csv_header(UserPoolId=pool)
    assert header["UserPoolId"] == pool
    columns = header["CSVHeader"]
    for column in ("email", "email_verified", "phone_number", "custom:dept", "cognito:mfa_enabled", "cognito:username"):
        assert column in columns, column
    assert "sub" not in columns


def test_legacy_mfa_options_turn_text_message_mfa_on_and_off(idp):
    pool = idp.create_user_pool(PoolName="legacy", MfaConfiguration="OPTIONAL", SmsConfiguration={
        "SnsCallerArn": "arn:aws:iam::000000000000:role/sns", "ExternalId": "x"})["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="lee", MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "phone_number", "Value": "+15555550100"}, {"Name": "phone_number_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool, Username="lee", Password=PASSWORD, Permanent=True)
    sms = [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    idp.admin_set_user_settings(UserPoolId=pool, Username="lee", MFAOptions=sms)
    assert idp.admin_get_user(UserPoolId=pool, Username="lee")["UserMFASettingList"] == ["SMS_MFA"]
    step = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "lee", "PASSWORD": PASSWORD})
    assert step["ChallengeName"] == "SMS_MFA"
    with pytest.raises(ClientError) as e:
        idp.admin_set_user_settings(UserPoolId=pool, Username="lee",
                                    MFAOptions=[{"DeliveryMedium": "EMAIL", "AttributeName": "email"}])
    assert code_of(e) == "InvalidParameterException"
    idp.admin_set_user_settings(UserPoolId=pool, Username="lee", MFAOptions=[])
    tokens = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "lee", "PASSWORD": PASSWORD})["AuthenticationResult"]
    idp.set_user_settings(AccessToken=tokens["AccessToken"], MFAOptions=sms)
    assert idp.admin_get_user(UserPoolId=pool, Username="lee")["UserMFASettingList"] == ["SMS_MFA"]


def test_terms_documents_per_app_client(idp):
    pool = idp.create_user_pool(PoolName="terms")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"]["ClientId"]
    links = {"cognito:default": "https://example.com/terms", "fr-FR": "https://example.com/fr/conditions"}
    made = idp.create_terms(UserPoolId=pool, ClientId=client, TermsName="terms-of-use", TermsSource="LINK",
                            Enforcement="NONE", Links=links)["Terms"]
    assert (made["ClientId"], made["TermsName"], made["Links"]) == (client, "terms-of-use", links)
    with pytest.raises(ClientError) as e:
        idp.create_terms(UserPoolId=pool, ClientId=client, TermsName="terms-of-use", TermsSource="LINK",
                         Enforcement="NONE", Links=links)
    assert code_of(e) == "TermsExistsException"
    for name, bad_links in (("cookie-policy", links), ("privacy-policy", {"cognito:default": "http://example.com/p"})):
        with pytest.raises(ClientError) as e:
            idp.create_terms(UserPoolId=pool, ClientId=client, TermsName=name, TermsSource="LINK",
                             Enforcement="NONE", Links=bad_links)
        assert code_of(e) == "InvalidParameterException", name
    privacy = idp.create_terms(UserPoolId=pool, ClientId=client, TermsName="privacy-policy", TermsSource="LINK",
                               Enforcement="NONE", Links={"cognito:default": "https://example.com/privacy"})["Terms"]
    updated = idp.update_terms(UserPoolId=pool, TermsId=privacy["TermsId"],
                               Links={"cognito:default": "https://example.com/privacy-v2"})["Terms"]
    assert updated["Links"] == {"cognito:default": "https://example.com/privacy-v2"}
    assert idp.describe_terms(UserPoolId=pool, TermsId=privacy["TermsId"])["Terms"]["Links"] == updated["Links"]
    page = idp.list_terms(UserPoolId=pool, MaxResults=1)
    seen = [t["TermsId"] for t in page["Terms"]]
    page = idp.list_terms(UserPoolId=pool, MaxResults=1, NextToken=page["NextToken"])
    seen += [t["TermsId"] for t in page["Terms"]]
    assert sorted(seen) == sorted([made["TermsId"], privacy["TermsId"]])
    idp.delete_terms(UserPoolId=pool, TermsId=made["TermsId"])
    with pytest.raises(ClientError) as e:
        idp.describe_terms(UserPoolId=pool, TermsId=made["TermsId"])
    assert code_of(e) == "ResourceNotFoundException"


def test_sign_in_events_on_the_plus_plan(idp):
    def pool_with_user(tier):
        pool = idp.create_user_pool(PoolName=f"events-{tier}", UserPoolTier=tier)["UserPool"]["Id"]
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                             ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool, Username="ivy", MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool, Username="ivy", Password=PASSWORD, Permanent=True)
        return pool, client

    pool, client = pool_with_user("PLUS")
    sign_in = lambda password: idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                                 AuthParameters={"USERNAME": "ivy", "PASSWORD": password})
    with pytest.raises(ClientError):
        sign_in("Wrong-horse-9")
    sign_in(PASSWORD)
    events = idp.admin_list_user_auth_events(UserPoolId=pool, Username="ivy")["AuthEvents"]
    assert [(e["EventType"], e["EventResponse"]) for e in events] == [("SignIn", "Pass"), ("SignIn", "Fail")]
    assert events[0]["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    assert events[0]["EventRisk"]["RiskDecision"] == "NoRisk"
    first = idp.admin_list_user_auth_events(UserPoolId=pool, Username="ivy", MaxResults=1)
    assert first["AuthEvents"][0]["EventId"] == events[0]["EventId"] and "NextToken" in first
    idp.admin_update_auth_event_feedback(UserPoolId=pool, Username="ivy", EventId=events[1]["EventId"],
                                         FeedbackValue="Invalid")
    marked = idp.admin_list_user_auth_events(UserPoolId=pool, Username="ivy")["AuthEvents"][1]
    assert (marked["EventFeedback"]["FeedbackValue"], marked["EventFeedback"]["Provider"]) == ("Invalid", "Admin")
    with pytest.raises(ClientError) as e:
        idp.update_auth_event_feedback(UserPoolId=pool, Username="ivy", EventId=events[0]["EventId"],
                                       FeedbackToken="not-the-token", FeedbackValue="Valid")
    assert code_of(e) == "NotAuthorizedException"

    # Without the Plus plan no events are kept.
    essentials, _ = pool_with_user("ESSENTIALS")
    with pytest.raises(ClientError) as e:
        idp.admin_list_user_auth_events(UserPoolId=essentials, Username="ivy")
    assert code_of(e) == "UserPoolAddOnNotEnabledException"
