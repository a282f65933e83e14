"""User import jobs with boto3: GetCSVHeader, CreateUserImportJob, the CSV PUT to the job's
pre-signed URL (as the AWS docs' example does it, with requests), StartUserImportJob, and the
job polled to its end; a job stopped half-way; a job carried on by a restarted server.

Jobs are slowed down with COGNATE_IMPORT_ROWS_PER_SECOND so that they can be caught mid-way."""
import csv
import io
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import BIN, free_port

ROLE = "arn:aws:iam::123456789012:role/CognitoImportRole"
FINAL = {"Succeeded", "Failed", "Stopped", "Expired"}


def make_pool(idp, name="import"):
    return idp.create_user_pool(PoolName=name, AutoVerifiedAttributes=["email"])["UserPool"]["Id"]


def csv_of(header, users):
    """A CSV with GetCSVHeader's columns; each user is a dict of the columns it fills."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for user in users:
        writer.writerow([user.get(column, "") for column in header])
    return out.getvalue()


def good_user(name):
    return {"cognito:username": name, "cognito:mfa_enabled": "false", "email": f"{name}@example.com",
            "email_verified": "true", "given_name": name.title()}


def create_job(idp, pool_id, name="import-job"):
    job = idp.create_user_import_job(JobName=name, UserPoolId=pool_id, CloudWatchLogsRoleArn=ROLE)
    return job["UserImportJob"]


def upload(job, text):
    # The AWS docs' example sends the server-side encryption header S3 wants.
    return requests.put(job["PreSignedUrl"], data=text.encode(),
                        headers={"x-amz-server-side-encryption": "aws:kms"}, timeout=30)


def describe(idp, pool_id, job_id):
    return idp.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]


def wait_for(idp, pool_id, job_id, done, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = describe(idp, pool_id, job_id)
        if done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job never got there: {job}")


def all_users(idp, pool_id):
    users, token = [], None
    while True:
        kwargs = {"PaginationToken": token} if token else {}
        page = idp.list_users(UserPoolId=pool_id, Limit=60, **kwargs)
        users += page["Users"]
        token = page.get("PaginationToken")
        if not token:
            return users


def test_import_job_from_csv_header_to_succeeded_with_a_bad_row(server):
    idp = server.client()
    pool_id = make_pool(idp)
    header = idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    assert "cognito:username" in header and "cognito:mfa_enabled" in header and "email_verified" in header
    users = [good_user("ana"), good_user("ben"),
             # No verified contact: email_verified false and no phone.
             {"cognito:username": "dan", "cognito:mfa_enabled": "false", "email": "dan@example.com",
              "email_verified": "false"},
             {**good_user("cai"), "name": "Cai, the \"third\""}]
    job = create_job(idp, pool_id, "first import")
    assert job["Status"] == "Created"
    assert job["JobId"].startswith("import-") and job["JobName"] == "first import"
    assert job["UserPoolId"] == pool_id and job["CloudWatchLogsRoleArn"] == ROLE
    assert job["PreSignedUrl"].startswith(server.url + "/")
    assert "CreationDate" in job and "StartDate" not in job

    put = upload(job, csv_of(header, users))
    assert put.status_code == 200, put.text
    assert put.headers.get("ETag")

    started = idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] in ("Pending", "InProgress", "Succeeded")
    assert "StartDate" in started

    done = wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] in FINAL)
    assert done["Status"] == "Succeeded", done
    assert (done["ImportedUsers"], done["FailedUsers"], done["SkippedUsers"]) == (3, 1, 0)
    assert "CompletionDate" in done and done["CompletionMessage"]

    for name in ("ana", "ben", "cai"):
        user = idp.admin_get_user(UserPoolId=pool_id, Username=name)
        assert user["UserStatus"] == "RESET_REQUIRED"
        attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        assert attrs["email"] == f"{name}@example.com" and attrs["email_verified"] == "true"
        assert attrs["given_name"] == name.title()
    cai = idp.admin_get_user(UserPoolId=pool_id, Username="cai")
    assert {a["Name"]: a["Value"] for a in cai["UserAttributes"]}["name"] == 'Cai, the "third"'
    with pytest.raises(ClientError) as e:
        idp.admin_get_user(UserPoolId=pool_id, Username="dan")
    assert e.value.response["Error"]["Code"] == "UserNotFoundException"

    # An imported user sets a password through the forgotten-password flow, then signs in.
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                               "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    # Signing in first is refused as Cognito refuses an imported user: a reset is required.
    with pytest.raises(ClientError) as e:
        idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "ana", "PASSWORD": "Anything-at-all-1"})
    assert e.value.response["Error"]["Code"] == "PasswordResetRequiredException"
    sent = idp.forgot_password(ClientId=client_id, Username="ana")["CodeDeliveryDetails"]
    assert sent["DeliveryMedium"] == "EMAIL"
    outbox = requests.get(f"{server.url}/_cognate/outbox", params={"pool_id": pool_id, "username": "ana"},
                          timeout=10).json()["messages"]
    idp.confirm_forgot_password(ClientId=client_id, Username="ana", ConfirmationCode=outbox[0]["code"],
                                Password="Imported-user-1")
    assert idp.admin_get_user(UserPoolId=pool_id, Username="ana")["UserStatus"] == "CONFIRMED"
    signed_in = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "ana", "PASSWORD": "Imported-user-1"})
    assert "AccessToken" in signed_in["AuthenticationResult"]

    # The bad row, where a person can read why.
    failures = requests.get(f"{server.url}/_cognate/import-jobs/{job['JobId']}/failures", timeout=10).json()
    assert failures["FailedUsers"] == 1
    [failure] = failures["Failures"]
    assert failure["Row"] == 3 and failure["Username"] == "dan"
    assert "email_verified" in failure["Message"]

    # A finished job cannot start again, nor take another file.
    with pytest.raises(ClientError) as e:
        idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    assert e.value.response["Error"]["Code"] == "PreconditionNotMetException"
    assert upload(job, csv_of(header, [good_user("eve")])).status_code == 403


def test_job_failures_and_refusals(server):
    idp = server.client()
    pool_id = make_pool(idp)
    header = idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]

    # A header missing the pool's columns fails the job.
    job = create_job(idp, pool_id)
    assert upload(job, "cognito:username,email\nana,ana@example.com\n").status_code == 200
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    done = wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] in FINAL)
    assert done["Status"] == "Failed" and "header" in done["CompletionMessage"]

    # Started without a file.
    job = create_job(idp, pool_id)
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    done = wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] in FINAL)
    assert done["Status"] == "Failed"

    # Every row failing fails the job.
    job = create_job(idp, pool_id)
    bad = {"cognito:username": "x", "cognito:mfa_enabled": "maybe", "email": "x@example.com", "email_verified": "true"}
    assert upload(job, csv_of(header, [bad])).status_code == 200
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    done = wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] in FINAL)
    assert (done["Status"], done["FailedUsers"], done["ImportedUsers"]) == ("Failed", 1, 0)

    # The upload URL is the job's own: no token, a forged one, or another job's are refused.
    job = create_job(idp, pool_id)
    other = create_job(idp, pool_id)
    base, token = job["PreSignedUrl"].split("?token=")
    other_token = other["PreSignedUrl"].split("?token=")[1]
    assert requests.put(base, data=b"x", timeout=10).status_code == 403
    assert requests.put(base + "?token=" + token[:-4] + "AAAA", data=b"x", timeout=10).status_code == 403
    refused = requests.put(base + "?token=" + other_token, data=b"x", timeout=10)
    assert refused.status_code == 403 and "<Code>AccessDenied</Code>" in refused.text
    # Not UTF-8.
    assert requests.put(job["PreSignedUrl"], data=b"\xff\xfe,\n", timeout=10).status_code == 400

    # Unknown jobs, and jobs of another pool.
    other_pool = make_pool(idp, "other")
    for pool, job_id in ((pool_id, "import-doesnotexist"), (other_pool, job["JobId"])):
        with pytest.raises(ClientError) as e:
            idp.describe_user_import_job(UserPoolId=pool, JobId=job_id)
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # A job that never started cannot be stopped.
    with pytest.raises(ClientError) as e:
        idp.stop_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    assert e.value.response["Error"]["Code"] == "PreconditionNotMetException"
    # A pool no user could reset a password in (no auto-verified attribute) takes no import.
    plain_pool = idp.create_user_pool(PoolName="plain")["UserPool"]["Id"]
    plain_job = create_job(idp, plain_pool)
    with pytest.raises(ClientError) as e:
        idp.start_user_import_job(UserPoolId=plain_pool, JobId=plain_job["JobId"])
    assert e.value.response["Error"]["Code"] == "PreconditionNotMetException"


def test_list_user_import_jobs_pages(server):
    idp = server.client()
    pool_id = make_pool(idp)
    made = {create_job(idp, pool_id, f"job-{i}")["JobId"] for i in range(5)}
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"PaginationToken": token} if token else {}
        page = idp.list_user_import_jobs(UserPoolId=pool_id, MaxResults=2, **kwargs)
        pages += 1
        assert len(page["UserImportJobs"]) <= 2
        seen += [j["JobId"] for j in page["UserImportJobs"]]
        assert all(j["Status"] == "Created" for j in page["UserImportJobs"])
        token = page.get("PaginationToken")
        if not token:
            break
    assert pages == 3 and len(seen) == 5 and set(seen) == made


def test_stop_a_running_job(start_server):
    s = start_server(env={"COGNATE_IMPORT_ROWS_PER_SECOND": "10"})
    idp = s.client()
    pool_id = make_pool(idp)
    header = idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    job = create_job(idp, pool_id)
    assert upload(job, csv_of(header, [good_user(f"user{i:03}") for i in range(200)])).status_code == 200
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] == "InProgress" and j["ImportedUsers"] > 0)

    stopping = idp.stop_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
    assert stopping["Status"] == "Stopping"
    done = wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] in FINAL)
    assert done["Status"] == "Stopped", done
    assert 0 < done["ImportedUsers"] < 200 and done["FailedUsers"] == 0
    assert done["ImportedUsers"] + done["SkippedUsers"] == 200
    assert "CompletionDate" in done
    # Nothing more is imported once stopped.
    time.sleep(1.5)
    assert describe(idp, pool_id, job["JobId"])["ImportedUsers"] == done["ImportedUsers"]
    assert len(all_users(idp, pool_id)) == done["ImportedUsers"]
    with pytest.raises(ClientError) as e:
        idp.stop_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    assert e.value.response["Error"]["Code"] == "PreconditionNotMetException"


class DataDirServer:
    """A cognate on a data directory that outlives it, so another can start on the same data."""

    def __init__(self, data_dir, env):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = open(os.path.join(data_dir, f"server-{uuid.uuid4().hex[:8]}.log"), "wb")
        args = [BIN, "serve", "--listen", self.url.split("//")[1], "--data-dir", data_dir]
        self.proc = subprocess.Popen(args, env={**os.environ, **env}, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("cognate did not start")

    def client(self):
        import boto3
        return boto3.client("cognito-idp", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def data_dir():
    path = tempfile.mkdtemp(prefix="cognate-import-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_job_resumes_after_a_restart(data_dir):
    first = DataDirServer(data_dir, {"COGNATE_IMPORT_ROWS_PER_SECOND": "10"})
    try:
        idp = first.client()
        pool_id = make_pool(idp)
        header = idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
        job = create_job(idp, pool_id)
        assert upload(job, csv_of(header, [good_user(f"user{i:03}") for i in range(80)])).status_code == 200
        idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
        before = wait_for(idp, pool_id, job["JobId"], lambda j: j["ImportedUsers"] >= 10)
        assert before["Status"] == "InProgress"
    finally:
        first.stop()

    second = DataDirServer(data_dir, {"COGNATE_IMPORT_ROWS_PER_SECOND": "20"})
    try:
        idp = second.client()
        resumed = describe(idp, pool_id, job["JobId"])
        assert resumed["Status"] == "InProgress" and 10 <= resumed["ImportedUsers"] < 80
        done = wait_for(idp, pool_id, job["JobId"], lambda j: j["Status"] in FINAL, timeout=90)
        assert done["Status"] == "Succeeded", done
        # Every row once: none lost, none counted twice, none failed as a duplicate.
        assert (done["ImportedUsers"], done["FailedUsers"], done["SkippedUsers"]) == (80, 0, 0)
        users = all_users(idp, pool_id)
        assert sorted(u["Username"] for u in users) == [f"user{i:03}" for i in range(80)]
        assert {u["UserStatus"] for u in users} == {"RESET_REQUIRED"}
    finally:
        second.stop()
