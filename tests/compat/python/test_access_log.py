"""`--log-format json` access logs: one line per API call, carrying the request id that the
answer's `x-amzn-RequestId` repeats (also on errors), so an error a client saw is found in the
server's log."""
import json

import pytest
from botocore.exceptions import ClientError


def test_each_call_is_logged_under_its_answers_request_id(start_server):
    server = start_server("--log-format", "json")
    idp = server.client()
    pool = idp.create_user_pool(PoolName="logged")
    ok_id = pool["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as e:
        idp.describe_user_pool(UserPoolId="us-east-1_Nope12345")
    err_id = e.value.response["ResponseMetadata"]["RequestId"]
    assert ok_id and err_id and ok_id != err_id

    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    api = {line.get("request_id"): line for line in lines if line.get("message") == "api"}
    assert api[ok_id]["op"] == "CreateUserPool" and api[ok_id]["status"] == 200
    assert api[err_id]["op"] == "DescribeUserPool"
    assert api[err_id]["error"] == "ResourceNotFoundException" and api[err_id]["status"] == 400
