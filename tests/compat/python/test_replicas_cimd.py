"""Replicas, point-in-time recovery, provisioned limits and CIMD policies (issue #19): what
cannot be real on one server is stored and described as Cognito describes it. Every operation
is driven through boto3 against the real binary."""
import json
import os
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def error_code(e):
    return e.value.response["Error"]["Code"]


def new_pool(idp, **kwargs):
    return idp.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:8]}", **kwargs)["UserPool"]["Id"]


def new_client(idp, pool_id):
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c")["UserPoolClient"]["ClientId"]


def client_for(server, region="us-east-1", validate=True):
    """A boto3 client signing for `region`; `validate=False` sends what botocore would refuse,
    to see the server refuse it."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=Config(parameter_validation=validate),
    )


@pytest.fixture
def raw(server):
    return client_for(server, validate=False)


def db(server):
    conn = sqlite3.connect(os.path.join(server.dir.name, "cognate.db"), timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def age_pool(server, pool_id, seconds):
    """Makes the pool look `seconds` older than it is: a recovery point must be at least 15
    minutes in the past and not before the pool was created, so a new pool has none yet."""
    with db(server) as conn:
        (doc,) = conn.execute("SELECT doc FROM pools WHERE id = ?", (pool_id,)).fetchone()
        doc = json.loads(doc)
        doc["CreationDate"] = doc["CreationDate"] - seconds
        conn.execute("UPDATE pools SET doc = ? WHERE id = ?", (json.dumps(doc), pool_id))


# --- replicas -----------------------------------------------------------------------------------


def test_replica_lifecycle(idp):
    pool = new_pool(idp)
    arn = idp.describe_user_pool(UserPoolId=pool)["UserPool"]["Arn"]
    # Every pool is its own primary replica.
    only = idp.list_user_pool_replicas(UserPoolId=pool)
    assert only["UserPoolReplicas"] == [
        {"RegionName": "us-east-1", "Status": "ACTIVE", "Role": "PRIMARY", "UserPoolArn": arn}
    ]
    assert "NextToken" not in only
    listed = {p["Id"]: p for p in idp.list_user_pools(MaxResults=60)["UserPools"]}
    assert "ReplicaRegions" not in listed[pool]

    created = idp.create_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1", UserPoolTags={"team": "id"})
    assert created["UserPoolReplica"] == {
        "RegionName": "eu-west-1",
        "Status": "CREATING",
        "Role": "SECONDARY",
        "UserPoolArn": arn.replace(":us-east-1:", ":eu-west-1:"),
    }
    idp.create_user_pool_replica(UserPoolId=pool, RegionName="ap-southeast-2")
    replicas = idp.list_user_pool_replicas(UserPoolId=pool)["UserPoolReplicas"]
    assert [(r["RegionName"], r["Status"], r["Role"]) for r in replicas] == [
        ("us-east-1", "ACTIVE", "PRIMARY"),
        ("ap-southeast-2", "INACTIVE", "SECONDARY"),
        ("eu-west-1", "INACTIVE", "SECONDARY"),
    ]
    listed = {p["Id"]: p for p in idp.list_user_pools(MaxResults=60)["UserPools"]}
    assert listed[pool]["ReplicaRegions"] == ["ap-southeast-2", "eu-west-1"]

    updated = idp.update_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1", Status="ACTIVE")
    assert updated["UserPoolReplica"]["Status"] == "ACTIVE"
    # An ACTIVE replica cannot be deleted: deactivate it first.
    with pytest.raises(ClientError) as e:
        idp.delete_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    assert error_code(e) == "InvalidParameterException"
    assert "INACTIVE" in e.value.response["Error"]["Message"]
    idp.update_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1", Status="INACTIVE")
    deleted = idp.delete_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    assert deleted["UserPoolReplica"]["Status"] == "DELETING"
    regions = [r["RegionName"] for r in idp.list_user_pool_replicas(UserPoolId=pool)["UserPoolReplicas"]]
    assert regions == ["us-east-1", "ap-southeast-2"]
    # Gone means gone.
    with pytest.raises(ClientError) as e:
        idp.update_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1", Status="ACTIVE")
    assert error_code(e) == "ResourceNotFoundException"


def test_replica_refusals(idp, server):
    pool = new_pool(idp)
    for region, code in [
        ("us-east-1", "InvalidParameterException"),  # the pool's own region
        ("mars-north-1x", "InvalidParameterException"),
        ("Eu-West-1", "InvalidParameterException"),
    ]:
        with pytest.raises(ClientError) as e:
            idp.create_user_pool_replica(UserPoolId=pool, RegionName=region)
        assert error_code(e) == code, region
    idp.create_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    with pytest.raises(ClientError) as e:
        idp.create_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    assert error_code(e) == "InvalidParameterException"
    # Unknown pool, unknown replica.
    with pytest.raises(ClientError) as e:
        idp.create_user_pool_replica(UserPoolId="us-east-1_nope00000", RegionName="eu-west-1")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        idp.delete_user_pool_replica(UserPoolId=pool, RegionName="eu-central-1")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        idp.list_user_pool_replicas(UserPoolId="us-east-1_nope00000")
    assert error_code(e) == "ResourceNotFoundException"
    # The primary's status is not the caller's to change.
    with pytest.raises(ClientError) as e:
        idp.update_user_pool_replica(UserPoolId=pool, RegionName="us-east-1", Status="INACTIVE")
    assert error_code(e) == "InvalidParameterException"
    # Deleting a replica must be done from the primary region.
    from_replica = client_for(server, "eu-west-1")
    with pytest.raises(ClientError) as e:
        from_replica.delete_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    assert error_code(e) == "InvalidParameterException"
    # ... while an update may come from either.
    from_replica.update_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1", Status="ACTIVE")
    # A paging marker cognate never issued.
    with pytest.raises(ClientError) as e:
        idp.list_user_pool_replicas(UserPoolId=pool, NextToken="bogus")
    assert error_code(e) == "InvalidParameterException"


def test_replica_limit_and_tags(idp, raw):
    pool = new_pool(idp)
    regions = ["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1"]
    for r in regions:
        idp.create_user_pool_replica(UserPoolId=pool, RegionName=r)
    with pytest.raises(ClientError) as e:
        idp.create_user_pool_replica(UserPoolId=pool, RegionName="ap-south-1")
    assert error_code(e) == "LimitExceededException"
    other = new_pool(idp)
    with pytest.raises(ClientError) as e:
        raw.create_user_pool_replica(
            UserPoolId=other, RegionName="eu-west-1", UserPoolTags={f"k{i}": "v" for i in range(51)}
        )
    assert error_code(e) == "InvalidParameterException"


def test_deleting_a_pool_deletes_its_replicas(idp):
    pool = new_pool(idp)
    idp.create_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    idp.delete_user_pool(UserPoolId=pool)
    # A new pool never sees them; the old id is unknown.
    with pytest.raises(ClientError) as e:
        idp.list_user_pool_replicas(UserPoolId=pool)
    assert error_code(e) == "ResourceNotFoundException"


# --- point-in-time recovery -----------------------------------------------------------------------


def test_recovery_lifecycle(idp, server):
    pool = new_pool(idp)
    age_pool(server, pool, 2 * HOUR)
    point = time.time() - HOUR
    initiated = idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=point)["Restoration"]
    restore_id = initiated["RestoreId"]
    assert len(restore_id) == 36 and restore_id == restore_id.lower()
    assert initiated["RestoreStatus"] == "PREVIEW_GENERATING"
    assert "RestorePreview" not in initiated
    assert abs(initiated["RestoreTimestamp"].timestamp() - point) < 1
    assert abs(initiated["TriggerTimestamp"].timestamp() - time.time()) < 60

    described = idp.describe_point_in_time_recovery(UserPoolId=pool, RestoreId=restore_id)["Restoration"]
    assert described["RestoreStatus"] == "PREVIEW_GENERATED"
    preview = {p["Entity"]: p for p in described["RestorePreview"]}
    assert set(preview) == {"Users", "Groups", "User MFAs", "Passkeys"}
    assert all(p["CreateCount"] == p["UpdateCount"] == p["DeleteCount"] == 0 for p in preview.values())

    # Only one active recovery at a time.
    with pytest.raises(ClientError) as e:
        idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=point)
    assert error_code(e) == "LimitExceededException"

    started = idp.start_point_in_time_recovery(UserPoolId=pool, RestoreId=restore_id)["Restoration"]
    assert started["RestoreStatus"] == "RESTORING"
    done = idp.describe_point_in_time_recovery(UserPoolId=pool, RestoreId=restore_id)["Restoration"]
    assert done["RestoreStatus"] == "RESTORE_COMPLETED"
    # A started recovery can neither be cancelled nor started again.
    with pytest.raises(ClientError) as e:
        idp.cancel_point_in_time_recovery(UserPoolId=pool, RestoreId=restore_id)
    assert error_code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        idp.start_point_in_time_recovery(UserPoolId=pool, RestoreId=restore_id)
    assert error_code(e) == "InvalidParameterException"
    # One completed recovery per pool in 24 hours.
    with pytest.raises(ClientError) as e:
        idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=point)
    assert error_code(e) == "LimitExceededException"


def test_recovery_cancel_list_and_paging(idp, server):
    pool = new_pool(idp)
    age_pool(server, pool, 3 * HOUR)
    ids = []
    for minutes_ago in (150, 120, 90):
        r = idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=time.time() - minutes_ago * MINUTE)
        rid = r["Restoration"]["RestoreId"]
        cancelled = idp.cancel_point_in_time_recovery(UserPoolId=pool, RestoreId=rid)["Restoration"]
        assert cancelled["RestoreStatus"] == "PREVIEW_CANCELLED"
        assert "RestorePreview" not in cancelled
        ids.append(rid)
        time.sleep(0.01)
    # Three previews in 24 hours is the pool's limit.
    with pytest.raises(ClientError) as e:
        idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=time.time() - HOUR)
    assert error_code(e) == "LimitExceededException"
    # A cancelled recovery cannot be started.
    with pytest.raises(ClientError) as e:
        idp.start_point_in_time_recovery(UserPoolId=pool, RestoreId=ids[0])
    assert error_code(e) == "InvalidParameterException"

    everything = idp.list_point_in_time_recoveries(UserPoolId=pool)["Restorations"]
    assert [r["RestoreId"] for r in everything] == ids[::-1]  # newest first
    assert all(r["RestoreStatus"] == "PREVIEW_CANCELLED" and "RestorePreview" not in r for r in everything)
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = idp.list_point_in_time_recoveries(UserPoolId=pool, MaxResults=2, **kwargs)
        assert len(page["Restorations"]) <= 2
        seen += [r["RestoreId"] for r in page["Restorations"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ids[::-1]
    paginated = idp.get_paginator("list_point_in_time_recoveries") if idp.can_paginate(
        "list_point_in_time_recoveries"
    ) else None
    if paginated:
        pages = paginated.paginate(UserPoolId=pool, PaginationConfig={"PageSize": 1})
        assert [r["RestoreId"] for p in pages for r in p["Restorations"]] == ids[::-1]
    with pytest.raises(ClientError) as e:
        idp.list_point_in_time_recoveries(UserPoolId=pool, NextToken="not-a-token")
    assert error_code(e) == "InvalidParameterException"


def test_recovery_refusals(idp, raw, server):
    young = new_pool(idp)
    # Too recent, and before the pool existed.
    for point in (time.time() - 5 * MINUTE, time.time() + HOUR, time.time() - 30 * MINUTE):
        with pytest.raises(ClientError) as e:
            idp.initiate_point_in_time_recovery(UserPoolId=young, RestoreTimestamp=point)
        assert error_code(e) == "InvalidParameterException"

    essentials = new_pool(idp)
    age_pool(server, essentials, 30 * DAY)
    with pytest.raises(ClientError) as e:
        idp.initiate_point_in_time_recovery(UserPoolId=essentials, RestoreTimestamp=time.time() - 2 * DAY)
    assert error_code(e) == "InvalidParameterException"
    assert "1 day" in e.value.response["Error"]["Message"]

    plus = new_pool(idp, UserPoolTier="PLUS")
    age_pool(server, plus, 30 * DAY)
    r = idp.initiate_point_in_time_recovery(UserPoolId=plus, RestoreTimestamp=time.time() - 2 * DAY)
    idp.cancel_point_in_time_recovery(UserPoolId=plus, RestoreId=r["Restoration"]["RestoreId"])
    with pytest.raises(ClientError) as e:
        idp.initiate_point_in_time_recovery(UserPoolId=plus, RestoreTimestamp=time.time() - 15 * DAY)
    assert error_code(e) == "InvalidParameterException"

    lite = new_pool(idp, UserPoolTier="LITE")
    age_pool(server, lite, DAY)
    with pytest.raises(ClientError) as e:
        idp.initiate_point_in_time_recovery(UserPoolId=lite, RestoreTimestamp=time.time() - HOUR)
    assert error_code(e) == "FeatureUnavailableInTierException"

    # Unknown recoveries and pools.
    unknown = str(uuid.uuid4())
    for call in (
        idp.describe_point_in_time_recovery,
        idp.start_point_in_time_recovery,
        idp.cancel_point_in_time_recovery,
    ):
        with pytest.raises(ClientError) as e:
            call(UserPoolId=plus, RestoreId=unknown)
        assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        idp.list_point_in_time_recoveries(UserPoolId="us-east-1_nope00000")
    assert error_code(e) == "ResourceNotFoundException"
    # A recovery id of another pool is not this pool's.
    with pytest.raises(ClientError) as e:
        idp.describe_point_in_time_recovery(UserPoolId=essentials, RestoreId=r["Restoration"]["RestoreId"])
    assert error_code(e) == "ResourceNotFoundException"
    # Not a recovery id at all.
    with pytest.raises(ClientError) as e:
        raw.describe_point_in_time_recovery(UserPoolId=plus, RestoreId="NOT-A-UUID")
    assert error_code(e) == "InvalidParameterException"


def test_recovery_only_from_the_primary_region(idp, server):
    pool = new_pool(idp)
    age_pool(server, pool, 2 * HOUR)
    idp.create_user_pool_replica(UserPoolId=pool, RegionName="eu-west-1")
    with pytest.raises(ClientError) as e:
        client_for(server, "eu-west-1").initiate_point_in_time_recovery(
            UserPoolId=pool, RestoreTimestamp=time.time() - HOUR
        )
    assert error_code(e) == "InvalidParameterException"


def test_concurrent_initiations_start_one_recovery(server):
    idp = client_for(server)
    pool = new_pool(idp)
    age_pool(server, pool, 2 * HOUR)
    point = time.time() - HOUR

    def initiate(_):
        c = client_for(server)
        try:
            return c.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=point)["Restoration"]["RestoreId"]
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as pool_of_threads:
        answers = list(pool_of_threads.map(initiate, range(8)))
    started = [a for a in answers if not a.endswith("Exception")]
    assert len(started) == 1, answers
    assert set(answers) - set(started) == {"LimitExceededException"}
    listed = idp.list_point_in_time_recoveries(UserPoolId=pool)["Restorations"]
    assert [r["RestoreId"] for r in listed] == started

    # Starting and cancelling it at once: exactly one of them ends it.
    rid = started[0]

    def end(action):
        c = client_for(server)
        try:
            getattr(c, action)(UserPoolId=pool, RestoreId=rid)
            return "ok"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(2) as pool_of_threads:
        results = list(pool_of_threads.map(end, ["start_point_in_time_recovery", "cancel_point_in_time_recovery"]))
    assert results.count("ok") == 1, results
    assert set(results) - {"ok"} <= {"ConcurrentModificationException", "InvalidParameterException"}
    final = idp.describe_point_in_time_recovery(UserPoolId=pool, RestoreId=rid)["Restoration"]["RestoreStatus"]
    assert final == ("RESTORE_COMPLETED" if results[0] == "ok" else "PREVIEW_CANCELLED")


def test_preview_expires_after_24_hours(idp, server):
    pool = new_pool(idp)
    age_pool(server, pool, 2 * HOUR)
    rid = idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=time.time() - HOUR)["Restoration"][
        "RestoreId"
    ]
    # Push its initiation a day back.
    with db(server) as conn:
        (doc,) = conn.execute("SELECT doc FROM pool_objects WHERE kind = 'pitr' AND pool_id = ?", (pool,)).fetchone()
        doc = json.loads(doc)
        doc["initiated_ms"] -= (DAY + MINUTE) * 1000
        conn.execute("UPDATE pool_objects SET doc = ? WHERE kind = 'pitr' AND pool_id = ?", (json.dumps(doc), pool))
    expired = idp.describe_point_in_time_recovery(UserPoolId=pool, RestoreId=rid)["Restoration"]
    assert expired["RestoreStatus"] == "PREVIEW_EXPIRED"
    assert "RestorePreview" not in expired
    with pytest.raises(ClientError) as e:
        idp.start_point_in_time_recovery(UserPoolId=pool, RestoreId=rid)
    assert error_code(e) == "InvalidParameterException"
    # No longer active: a new recovery may begin.
    idp.initiate_point_in_time_recovery(UserPoolId=pool, RestoreTimestamp=time.time() - HOUR)


# --- provisioned limits ---------------------------------------------------------------------------


def category(name):
    return {"LimitClass": "API_CATEGORY", "Attributes": {"Category": name}}


def test_provisioned_limits(idp, server):
    got = idp.get_provisioned_limit(LimitDefinition=category("UserAuthentication"))["Limit"]
    assert got == {"LimitDefinition": category("UserAuthentication"), "ProvisionedLimitValue": 120, "FreeLimitValue": 120}
    updated = idp.update_provisioned_limit(LimitDefinition=category("UserAuthentication"), RequestedLimitValue=300)
    assert updated["Limit"]["ProvisionedLimitValue"] == 300
    assert updated["Limit"]["FreeLimitValue"] == 120
    again = idp.get_provisioned_limit(LimitDefinition=category("UserAuthentication"))["Limit"]
    assert again["ProvisionedLimitValue"] == 300
    # Other categories keep their own; limits are per region.
    assert idp.get_provisioned_limit(LimitDefinition=category("UserCreation"))["Limit"]["ProvisionedLimitValue"] == 50
    elsewhere = client_for(server, "eu-west-1").get_provisioned_limit(LimitDefinition=category("UserAuthentication"))
    assert elsewhere["Limit"]["ProvisionedLimitValue"] == 120
    # Back down to the free rate is allowed.
    idp.update_provisioned_limit(LimitDefinition=category("UserAuthentication"), RequestedLimitValue=120)


def test_provisioned_limit_refusals(idp):
    with pytest.raises(ClientError) as e:
        idp.update_provisioned_limit(LimitDefinition=category("UserCreation"), RequestedLimitValue=10)
    assert error_code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        idp.update_provisioned_limit(LimitDefinition=category("UserCreation"), RequestedLimitValue=1_000_000)
    assert error_code(e) == "ServiceQuotaExceededException"
    with pytest.raises(ClientError) as e:
        idp.get_provisioned_limit(LimitDefinition=category("NoSuchCategory"))
    assert error_code(e) == "ResourceNotFoundException"
    for attributes in ({}, {"Kind": "UserCreation"}, {"Category": "UserCreation", "Extra": "x"}):
        with pytest.raises(ClientError) as e:
            idp.get_provisioned_limit(LimitDefinition={"LimitClass": "API_CATEGORY", "Attributes": attributes})
        assert error_code(e) == "InvalidParameterException", attributes


# --- CIMD policies --------------------------------------------------------------------------------


def test_cimd_policy_lifecycle(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    created = idp.create_cimd_policy(
        UserPoolId=pool,
        ClientId=client,
        PolicyName="partners",
        URLPatterns=["https://apps.example.com/clients/*", "https://*.partner.example.org/cimd.json"],
    )["CIMDPolicy"]
    pid = created["CIMDPolicyId"]
    assert pid.isalnum() and pid == pid.lower()
    assert created["UserPoolId"] == pool and created["ClientId"] == client
    assert created["PolicyName"] == "partners"
    assert created["CacheDuration"] == 86400  # the documented default
    assert created["URLPatterns"] == ["https://apps.example.com/clients/*", "https://*.partner.example.org/cimd.json"]
    assert created["CreationDate"] == created["LastModifiedDate"]

    described = idp.describe_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid)["CIMDPolicy"]
    assert described == created

    time.sleep(0.01)
    updated = idp.update_cimd_policy(
        UserPoolId=pool, CIMDPolicyId=pid, ClientId=client, URLPatterns=["https://apps.example.com/v2/*"],
        CacheDuration=7 * 86400,
    )["CIMDPolicy"]
    assert updated["PolicyName"] == "partners"  # kept when omitted
    assert updated["CacheDuration"] == 7 * 86400
    assert updated["URLPatterns"] == ["https://apps.example.com/v2/*"]
    assert updated["LastModifiedDate"] > updated["CreationDate"]
    renamed = idp.update_cimd_policy(
        UserPoolId=pool, CIMDPolicyId=pid, ClientId=client, PolicyName="renamed", URLPatterns=["https://apps.example.com/v2/*"]
    )["CIMDPolicy"]
    assert renamed["PolicyName"] == "renamed" and renamed["CacheDuration"] == 7 * 86400

    # The client goes: the policy stays and no longer names it.
    idp.delete_user_pool_client(UserPoolId=pool, ClientId=client)
    assert "ClientId" not in idp.describe_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid)["CIMDPolicy"]
    assert "ClientId" not in idp.list_cimd_policies(UserPoolId=pool)["CIMDPolicies"][0]

    idp.delete_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid)
    with pytest.raises(ClientError) as e:
        idp.describe_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid)
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        idp.delete_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid)
    assert error_code(e) == "ResourceNotFoundException"
    assert idp.list_cimd_policies(UserPoolId=pool)["CIMDPolicies"] == []


def test_cimd_policy_listing_pages_and_limit(idp):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    made = []
    for i in range(20):
        p = idp.create_cimd_policy(
            UserPoolId=pool, ClientId=client, PolicyName=f"p{i}", URLPatterns=[f"https://app{i}.example.com/*"]
        )["CIMDPolicy"]
        made.append(p["CIMDPolicyId"])
    with pytest.raises(ClientError) as e:
        idp.create_cimd_policy(UserPoolId=pool, ClientId=client, PolicyName="one-too-many",
                               URLPatterns=["https://x.example.com/*"])
    assert error_code(e) == "LimitExceededException"
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = idp.list_cimd_policies(UserPoolId=pool, MaxResults=7, **kwargs)
        assert len(page["CIMDPolicies"]) <= 7
        for s in page["CIMDPolicies"]:
            assert s["ClientId"] == client and s["CacheDuration"] == 86400 and "URLPatterns" not in s
        seen += [s["CIMDPolicyId"] for s in page["CIMDPolicies"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 20
    with pytest.raises(ClientError) as e:
        idp.list_cimd_policies(UserPoolId=pool, NextToken="not-a-token")
    assert error_code(e) == "InvalidParameterException"


def test_cimd_policy_refusals(idp, raw):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    other_pool = new_pool(idp)
    foreign_client = new_client(idp, other_pool)

    def create(patterns=("https://apps.example.com/*",), client_id=client, **kwargs):
        return raw.create_cimd_policy(
            UserPoolId=pool, ClientId=client_id, PolicyName="p", URLPatterns=list(patterns), **kwargs
        )

    for patterns in (
        ["http://apps.example.com/*"],  # not https
        ["https://apps.example.com/?q=1"],  # a character patterns cannot have
        ["https://*"],  # too short, and no host
        ["https:///just/a/path"],
        ["https://user@apps.example.com/"],
        ["https://apps.example.*/cimd"],
        ["https://*.com/cimd.json"],
        ["https://apps.example.com/" + "a" * 300],
        [],
        [f"https://a{i}.example.com/" for i in range(6)],
        ["https://apps.example.com/*", "https://apps.example.com/*"],
    ):
        with pytest.raises(ClientError) as e:
            create(patterns)
        assert error_code(e) == "InvalidParameterException", patterns
    for duration in (86399, 31556953, 0):
        with pytest.raises(ClientError) as e:
            create(CacheDuration=duration)
        assert error_code(e) == "InvalidParameterException", duration
    assert create(CacheDuration=31556952)["CIMDPolicy"]["CacheDuration"] == 31556952
    # The client must exist, in this pool.
    for client_id in ("nosuchclient0000000000000", foreign_client):
        with pytest.raises(ClientError) as e:
            create(client_id=client_id)
        assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        raw.create_cimd_policy(UserPoolId="us-east-1_nope00000", ClientId=client, PolicyName="p",
                               URLPatterns=["https://apps.example.com/*"])
    assert error_code(e) == "ResourceNotFoundException"
    pid = create()["CIMDPolicy"]["CIMDPolicyId"]
    with pytest.raises(ClientError) as e:
        raw.update_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid, ClientId=foreign_client,
                               URLPatterns=["https://apps.example.com/*"])
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        raw.update_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid, ClientId=client, URLPatterns=["ftp://x.example.com/a"])
    assert error_code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        raw.update_cimd_policy(UserPoolId=pool, CIMDPolicyId="nosuchpolicy", ClientId=client,
                               URLPatterns=["https://apps.example.com/*"])
    assert error_code(e) == "ResourceNotFoundException"
    # A policy id of another pool.
    with pytest.raises(ClientError) as e:
        raw.describe_cimd_policy(UserPoolId=other_pool, CIMDPolicyId=pid)
    assert error_code(e) == "ResourceNotFoundException"


def test_client_metadata_urls(idp, server):
    pool = new_pool(idp)
    client = new_client(idp, pool)
    pid = idp.create_cimd_policy(
        UserPoolId=pool, ClientId=client, PolicyName="p", URLPatterns=["https://apps.example.com/*"]
    )["CIMDPolicy"]["CIMDPolicyId"]
    # Nothing is cached until an authorization request names a URL.
    assert idp.list_client_metadata_urls(UserPoolId=pool, CIMDPolicyId=pid)["ClientMetadataURLs"] == []
    for action in ("REFRESH", "INVALIDATE"):
        with pytest.raises(ClientError) as e:
            idp.update_client_metadata_url_state(
                UserPoolId=pool, CIMDPolicyId=pid, URL="https://apps.example.com/c.json", Action=action
            )
        assert error_code(e) == "CachedCIMDURLDoesNotExistException"
    with pytest.raises(ClientError) as e:
        idp.list_client_metadata_urls(UserPoolId=pool, CIMDPolicyId="nosuchpolicy")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        idp.update_client_metadata_url_state(
            UserPoolId=pool, CIMDPolicyId="nosuchpolicy", URL="https://apps.example.com/c.json", Action="REFRESH"
        )
    assert error_code(e) == "ResourceNotFoundException"

    # cognate's authorize endpoint does not fetch metadata documents yet: seed the cache as the
    # fetch would write it, to see the listing and the cache actions work on cached URLs.
    now_ms = int(time.time() * 1000)
    urls = [f"https://apps.example.com/c{i:02}.json" for i in range(5)]
    with db(server) as conn:
        for url in urls:
            doc = {"url": url, "cached_ms": now_ms, "expires_ms": now_ms + 86400 * 1000}
            conn.execute(
                "INSERT INTO pool_objects (kind, key, pool_id, doc, created_ms) VALUES (?, ?, ?, ?, ?)",
                ("cimd-url", f"{pool}\n{pid}\n{url}", pool, json.dumps(doc), now_ms),
            )
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = idp.list_client_metadata_urls(UserPoolId=pool, CIMDPolicyId=pid, MaxResults=2, **kwargs)
        for u in page["ClientMetadataURLs"]:
            assert (u["ExpirationDate"] - u["CachedDate"]).total_seconds() == pytest.approx(86400, abs=1)
        seen += [u["URL"] for u in page["ClientMetadataURLs"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == urls
    idp.update_client_metadata_url_state(UserPoolId=pool, CIMDPolicyId=pid, URL=urls[0], Action="INVALIDATE")
    idp.update_client_metadata_url_state(UserPoolId=pool, CIMDPolicyId=pid, URL=urls[1], Action="REFRESH")
    left = [u["URL"] for u in idp.list_client_metadata_urls(UserPoolId=pool, CIMDPolicyId=pid)["ClientMetadataURLs"]]
    assert left == urls[2:]
    with pytest.raises(ClientError) as e:
        idp.update_client_metadata_url_state(UserPoolId=pool, CIMDPolicyId=pid, URL=urls[0], Action="INVALIDATE")
    assert error_code(e) == "CachedCIMDURLDoesNotExistException"
    # Deleting the policy drops what was cached for it.
    idp.delete_cimd_policy(UserPoolId=pool, CIMDPolicyId=pid)
    with db(server) as conn:
        (n,) = conn.execute("SELECT count(*) FROM pool_objects WHERE kind = 'cimd-url' AND pool_id = ?", (pool,)).fetchone()
    assert n == 0

