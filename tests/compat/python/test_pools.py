"""User pools and clients through boto3, as an app's IaC or test set-up would create them."""
import botocore.exceptions
import pytest


def test_create_describe_round_trip(idp):
    lambda_config = {
        "PreSignUp": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "PreTokenGenerationConfig": {
            "LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:t",
            "LambdaVersion": "V2_0",
        },
    }
    pool = idp.create_user_pool(PoolName="demo", LambdaConfig=lambda_config)["UserPool"]
    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["LambdaConfig"] == lambda_config
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="web", GenerateSecret=True)[
        "UserPoolClient"
    ]
    assert len(client["ClientSecret"]) == 51
    assert idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"] == client


def test_errors_are_typed(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.describe_user_pool(UserPoolId="us-east-1_missing12")
    assert e.value.response["Error"]["Message"] == "User pool us-east-1_missing12 does not exist."
    with pytest.raises(botocore.exceptions.ClientError) as e:
        idp.list_user_pools(MaxResults=100)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
