"""Secure mode keeps no plain-text code at rest (issue #18 item 4): a queued message holds its code
only sealed with the master key until it is sent, the outbox endpoint never shows a code, and the
user still confirms with the code the SMTP server received."""
import json
import re
import sqlite3
import time
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
import requests

from test_delivery import free_port, smtp_server  # noqa: F401  (the fixture)

KEY = "AKIDOUTBOXTEST01"
SECRET = "outbox-" + uuid.uuid4().hex
PASSWORD = "Correct-horse-1"
MAIL_POOL, MAIL_CLIENT = "us-east-1_SealMail01", "sealmailclient000000000001"
BARE_POOL, BARE_CLIENT = "us-east-1_SealBare01", "sealbareclient000000000001"


def config_text(smtp_port):
    return f"""
[[access_keys]]
id = "{KEY}"
secret = "{SECRET}"

[delivery]
retry_initial_ms = 100
retry_max_ms = 300

[[pools]]
Id = "{MAIL_POOL}"
PoolName = "sealed-mail"
AutoVerifiedAttributes = ["email"]

[pools.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "no-reply@example.com"

[[pools.clients]]
ClientId = "{MAIL_CLIENT}"
ClientName = "web"
ExplicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[pools]]
Id = "{BARE_POOL}"
PoolName = "no-transport"
AutoVerifiedAttributes = ["email"]

[[pools.clients]]
ClientId = "{BARE_CLIENT}"
ClientName = "web"
"""


def public_client(server):
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def outbox(server, pool_id):
    url = f"{server.url}/_cognate/outbox?poolId={pool_id}"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(KEY, SECRET), "cognate", "us-east-1").add_auth(req)
    r = requests.get(url, headers=dict(req.headers.items()), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["messages"]


def stored_rows(server):
    """Every row of every table of the server's SQLite file, read directly."""
    db = sqlite3.connect(f"file:{server.dir.name}/cognate.db?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    finally:
        db.close()


def outbox_docs(server):
    db = sqlite3.connect(f"file:{server.dir.name}/cognate.db?mode=ro", uri=True)
    try:
        return [json.loads(r[0]) for r in db.execute("SELECT doc FROM outbox ORDER BY seq")]
    finally:
        db.close()


def holds(value, code):
    """Whether a stored value shows `code` as a number of its own (not inside a longer digit run,
    such as a millisecond timestamp)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return isinstance(value, str) and re.search(rf"(?<!\d){code}(?!\d)", value) is not None


def wait_for(what, check, timeout=20):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_codes_are_sealed_until_sent_and_never_shown(start_server, smtp_server, tmp_path):  # noqa: F811
    smtp_port = free_port()
    path = tmp_path / "cognate.toml"
    path.write_text(config_text(smtp_port))
    server = start_server("--mode", "secure", "--config", str(path))
    idp = public_client(server)

    # The SMTP server is down: the message waits, its code sealed, nowhere in plain text.
    idp.sign_up(
        ClientId=MAIL_CLIENT,
        Username="ana",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "ana@example.com"}],
    )
    waiting = wait_for("a failed attempt", lambda: [m for m in outbox(server, MAIL_POOL) if m["attempts"] >= 1])[0]
    assert waiting["status"] == "PENDING" and waiting["code"] is None
    assert "******" in waiting["body"] and not re.search(r"\d{6}", waiting["body"]), waiting["body"]
    assert "sealed" not in waiting
    [doc] = outbox_docs(server)
    assert doc["status"] == "PENDING" and doc.get("code") is None and doc.get("sealed")
    assert "******" in doc["body"] and not re.search(r"\d{6}", doc["body"] + (doc.get("subject") or ""))

    # Up again: the mail carries the real code, and the sealed copy is dropped once it is sent.
    mailbox = smtp_server(smtp_port)
    mail = mailbox.wait_for("ana@example.com")
    body = mail["message"].get_content()
    code = re.search(r"\b(\d{6})\b", body).group(1)
    sent = wait_for("SENT", lambda: [m for m in outbox(server, MAIL_POOL) if m["status"] == "SENT"])[0]
    assert sent["code"] is None and code not in sent["body"] and "******" in sent["body"]
    assert sent["subject"] == mail["message"]["Subject"]
    [doc] = outbox_docs(server)
    assert doc["status"] == "SENT" and "sealed" not in doc and doc.get("code") is None
    for table, rows in stored_rows(server).items():
        for row in rows:
            assert not any(holds(v, code) for v in row), f"the code is in plain text in {table}: {row}"

    # The code the user received confirms the sign-up.
    idp.confirm_sign_up(ClientId=MAIL_CLIENT, Username="ana", ConfirmationCode=code)
    tokens = idp.initiate_auth(
        ClientId=MAIL_CLIENT, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "ana", "PASSWORD": PASSWORD}
    )
    assert tokens["AuthenticationResult"]["AccessToken"]

    # A pool without a transport: nothing will send the message, so its code is kept nowhere.
    idp.sign_up(
        ClientId=BARE_CLIENT,
        Username="bo",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "bo@example.com"}],
    )
    [recorded] = outbox(server, BARE_POOL)
    assert recorded["status"] == "RECORDED" and recorded["code"] is None
    assert "******" in recorded["body"] and not re.search(r"\d{6}", recorded["body"])
    doc = [d for d in outbox_docs(server) if d["pool_id"] == BARE_POOL][0]
    assert doc.get("code") is None and "sealed" not in doc and not re.search(r"\d{6}", doc["body"])
