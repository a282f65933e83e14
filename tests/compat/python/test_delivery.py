"""Real delivery of outbox messages: sign-up codes reach an aiosmtpd SMTP server (retried while
it is down) and an HTTP SMS provider, and the outbox shows each message's delivery state."""
import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from aiosmtpd.controller import Controller

PASSWORD = "Correct-horse-1"


def free_port():
    """A port nothing listens on (until something is started there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message": email.message_from_bytes(envelope.content, policy=email.policy.default),
            }
        )
        return "250 Message accepted for delivery"

    def wait_for(self, address, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.messages:
                if address in m["to"]:
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no mail for {address} arrived; got {self.messages}")


@pytest.fixture
def smtp_server():
    """Starts aiosmtpd servers on given ports; stops them after the test."""
    started = []

    def start(port):
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return mailbox

    yield start
    for controller in started:
        controller.stop()


def write_config(tmp_path, text):
    path = tmp_path / "cognate.toml"
    path.write_text(text)
    return str(path)


def pool_toml(pool_id, client_id, verified, extra=""):
    return f"""
[[pools]]
Id = "{pool_id}"
PoolName = "delivery"
AutoVerifiedAttributes = ["{verified}"]
{extra}

[[pools.clients]]
ClientId = "{client_id}"
ClientName = "web"
"""


def outbox_message(server, pool_id, username):
    messages = requests.get(
        f"{server.url}/_cognate/outbox", params={"poolId": pool_id, "username": username}
    ).json()["messages"]
    assert messages, f"no outbox message for {username}"
    return messages[0]


def wait_for_outbox(server, pool_id, username, done, timeout=20):
    deadline = time.time() + timeout
    while True:
        message = outbox_message(server, pool_id, username)
        if done(message):
            return message
        assert time.time() < deadline, f"outbox message never reached the expected state: {message}"
        time.sleep(0.05)


def test_sign_up_code_is_mailed_through_smtp(start_server, smtp_server, tmp_path):
    smtp_port = free_port()
    mailbox = smtp_server(smtp_port)
    pool_id, client_id = "us-east-1_MailPool01", "mailclient0000000000000001"
    # No `from` in [pools.smtp]: the pool's EmailConfiguration.From is the sender.
    extra = f"""
[pools.EmailConfiguration]
From = "Example <no-reply@example.com>"

[pools.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
"""
    server = start_server("--config", write_config(tmp_path, pool_toml(pool_id, client_id, "email", extra)))
    idp = server.client()
    out = idp.sign_up(
        ClientId=client_id,
        Username="ana",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "ana@example.com"}],
    )
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"

    mail = mailbox.wait_for("ana@example.com")
    message = wait_for_outbox(server, pool_id, "ana", lambda m: m["status"] == "SENT")
    assert message["attempts"] == 1 and message["lastError"] is None and message["nextAttemptAt"] is None
    assert message["sentAt"] >= message["createdAt"]

    assert mail["from"] == "no-reply@example.com"
    assert mail["message"]["To"] == "ana@example.com"
    assert mail["message"]["From"] == "Example <no-reply@example.com>"
    assert mail["message"]["Subject"] == message["subject"]
    body = mail["message"].get_content()
    assert message["code"] in body, body

    # The code that arrived by mail confirms the account.
    idp.confirm_sign_up(ClientId=client_id, Username="ana", ConfirmationCode=message["code"])
    user = idp.admin_get_user(UserPoolId=pool_id, Username="ana")
    assert user["UserStatus"] == "CONFIRMED"


def test_mail_is_retried_until_the_smtp_server_comes_up(start_server, smtp_server, tmp_path):
    smtp_port = free_port()  # nothing listens here yet
    pool_id, client_id = "us-east-1_MailPool02", "mailclient0000000000000002"
    config = f"""
[delivery]
retry_initial_ms = 100
retry_max_ms = 500
max_attempts = 60
""" + pool_toml(
        pool_id,
        client_id,
        "email",
        f"""
[pools.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "no-reply@example.com"
""",
    )
    server = start_server("--config", write_config(tmp_path, config))
    idp = server.client()
    idp.sign_up(
        ClientId=client_id,
        Username="bo",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "bo@example.com"}],
    )

    failing = wait_for_outbox(server, pool_id, "bo", lambda m: m["attempts"] >= 2)
    assert failing["status"] == "PENDING", failing
    assert failing["lastError"].startswith(f"SMTP 127.0.0.1:{smtp_port}: "), failing
    assert failing["code"] not in failing["lastError"]
    assert failing["nextAttemptAt"] is not None and failing["sentAt"] is None

    # The server comes up: the same message goes out on a later attempt, not lost.
    mailbox = smtp_server(smtp_port)
    mail = mailbox.wait_for("bo@example.com")
    sent = wait_for_outbox(server, pool_id, "bo", lambda m: m["status"] == "SENT")
    assert sent["id"] == failing["id"]
    assert sent["attempts"] > failing["attempts"]
    assert sent["lastError"] is None
    assert sent["code"] in mail["message"].get_content()
    assert len([m for m in mailbox.messages if "bo@example.com" in m["to"]]) == 1
    idp.confirm_sign_up(ClientId=client_id, Username="bo", ConfirmationCode=sent["code"])


class SmsProvider(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        SmsProvider.received.append(
            {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "queued"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def sms_provider():
    SmsProvider.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SmsProvider)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", SmsProvider.received
    httpd.shutdown()
    httpd.server_close()


def test_sign_up_code_is_posted_to_the_sms_provider(start_server, sms_provider, tmp_path):
    url, received = sms_provider
    pool_id, client_id = "us-east-1_TextPool01", "textclient0000000000000001"
    config = f"""
[sms]
url = "{url}/send"
headers = {{ Authorization = "Bearer provider-token" }}
""" + pool_toml(pool_id, client_id, "phone_number")
    server = start_server("--config", write_config(tmp_path, config))
    idp = server.client()
    out = idp.sign_up(
        ClientId=client_id,
        Username="cy",
        Password=PASSWORD,
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550123"}],
    )
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"

    message = wait_for_outbox(server, pool_id, "cy", lambda m: m["status"] == "SENT")
    assert message["attempts"] == 1
    assert len(received) == 1
    post = received[0]
    assert post["path"] == "/send"
    assert post["headers"]["authorization"] == "Bearer provider-token"
    assert post["headers"]["content-type"] == "application/json"
    assert post["body"] == {
        "to": "+15555550123",
        "message": message["body"],
        "poolId": pool_id,
        "username": "cy",
        "messageId": message["id"],
    }
    assert message["code"] in post["body"]["message"]
    idp.confirm_sign_up(ClientId=client_id, Username="cy", ConfirmationCode=message["code"])
