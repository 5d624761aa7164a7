"""Each channel's payload, against local servers: aiosmtpd for e-mail, an HTTP server for robots."""
import email
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from aiosmtpd.controller import Controller

from alerts.notify.channels import ChannelError, Message, build
from alerts.notify.channels.dingtalk import sign
from alerts.notify.config import ChannelSpec

MSG = Message(subject="【舆情要情专报】II级（重大）化工厂爆炸", text="正文\n查看并确认：http://x/r/t",
              markdown="### 标题\n> 正文\n[查看并确认](http://x/r/t)", recipient="duty@example.gov.cn")


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield ctl, inbox
    ctl.stop()


def test_email_is_sent_over_smtp(smtp):
    ctl, inbox = smtp
    port = ctl.port
    ch = build("email", ChannelSpec(type="email", host="127.0.0.1", port=port,
                                    sender="yuqing@news.example.gov.cn"))
    ch.send(MSG)
    [env] = inbox.messages
    assert env.mail_from == "yuqing@news.example.gov.cn" and env.rcpt_tos == ["duty@example.gov.cn"]
    msg = email.message_from_bytes(env.content, policy=email.policy.default)
    assert msg["Subject"] == MSG.subject and msg.get_content().replace("\r\n", "\n").strip() == MSG.text


def test_email_failure_is_a_channel_error():
    ch = build("email", ChannelSpec(type="email", host="127.0.0.1", port=1, sender="a@b.cn",
                                    timeout=2))
    with pytest.raises(ChannelError, match="SMTP"):
        ch.send(MSG)


class Robot(BaseHTTPRequestHandler):
    received: list = []
    answer = {"errcode": 0, "errmsg": "ok"}

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Robot.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        out = json.dumps(Robot.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


@pytest.fixture
def robot():
    Robot.received, Robot.answer = [], {"errcode": 0, "errmsg": "ok"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send"
    server.shutdown()
    server.server_close()


def test_wecom_markdown_and_text_payloads(robot, monkeypatch):
    monkeypatch.setenv("TEST_WECOM_KEY", "k-123")
    ch = build("wecom", ChannelSpec(type="wecom", url=robot, key_env="TEST_WECOM_KEY"))
    ch.send(MSG)
    path, ctype, payload = Robot.received[-1]
    assert path == "/cgi-bin/webhook/send?key=k-123" and ctype.startswith("application/json")
    assert payload == {"msgtype": "markdown", "markdown": {"content": MSG.markdown}}
    ch = build("wecom", ChannelSpec(type="wecom", url=robot, key_env="TEST_WECOM_KEY",
                                    msgtype="text", mentioned_mobiles=["13800000000"]))
    ch.send(MSG)
    assert Robot.received[-1][2] == {"msgtype": "text", "text": {
        "content": MSG.text, "mentioned_mobile_list": ["13800000000"]}}


def test_wecom_error_code_and_missing_key_fail(robot, monkeypatch):
    monkeypatch.delenv("TEST_WECOM_KEY", raising=False)
    ch = build("wecom", ChannelSpec(type="wecom", url=robot, key_env="TEST_WECOM_KEY"))
    with pytest.raises(ChannelError, match="TEST_WECOM_KEY"):
        ch.send(MSG)
    monkeypatch.setenv("TEST_WECOM_KEY", "bad")
    Robot.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(ChannelError, match="93000"):
        ch.send(MSG)


def test_dingtalk_signed_markdown_and_text_payloads(robot, monkeypatch):
    monkeypatch.setenv("TEST_DT_TOKEN", "tok")
    monkeypatch.setenv("TEST_DT_SECRET", "SECabc")
    ch = build("dingtalk", ChannelSpec(type="dingtalk", url=robot, token_env="TEST_DT_TOKEN",
                                       secret_env="TEST_DT_SECRET"))
    ch.send(MSG)
    path, _ctype, payload = Robot.received[-1]
    assert payload == {"msgtype": "markdown", "markdown": {"title": MSG.subject, "text": MSG.markdown}}
    q = parse_qs(urlparse(path).query)
    assert q["access_token"] == ["tok"] and q["sign"] == [sign("SECabc", int(q["timestamp"][0]))]
    ch = build("dingtalk", ChannelSpec(type="dingtalk", url=robot, token_env="TEST_DT_TOKEN",
                                       msgtype="text"))
    ch.send(MSG)
    assert Robot.received[-1][2] == {"msgtype": "text", "text": {"content": MSG.text},
                                     "at": {"atMobiles": [], "isAtAll": False}}


def test_dingtalk_sign_matches_the_documented_algorithm():
    # base64(hmac_sha256(secret, "{ts}\n{secret}")), computed independently
    import base64
    import hashlib
    import hmac
    want = base64.b64encode(hmac.new(b"s", b"1700000000000\ns", hashlib.sha256).digest()).decode()
    assert sign("s", 1700000000000) == want
