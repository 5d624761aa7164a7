"""DingTalk (钉钉) group robot: POST {url}?access_token=TOKEN[&timestamp=&sign=].

Documented payloads:
  {"msgtype": "text", "text": {"content": "..."}, "at": {"atMobiles": [...], "isAtAll": false}}
  {"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}
With a signing secret: sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Optional
from urllib.parse import urlencode

from .base import Channel, Message


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkChannel(Channel):
    def payload(self, message: Message) -> dict:
        if self.spec.msgtype == "markdown":
            return {"msgtype": "markdown",
                    "markdown": {"title": message.subject, "text": message.markdown}}
        return {"msgtype": "text", "text": {"content": message.text},
                "at": {"atMobiles": list(self.spec.mentioned_mobiles), "isAtAll": False}}

    def url(self, now_ms: Optional[int] = None) -> str:
        params = {}
        token = self.secret(self.spec.token_env, "钉钉机器人 access_token")
        if token:
            params["access_token"] = token
        secret = self.secret(self.spec.secret_env, "钉钉机器人加签密钥")
        if secret:
            ts = now_ms if now_ms is not None else int(time.time() * 1000)
            params.update(timestamp=str(ts), sign=sign(secret, ts))
        return f"{self.spec.url}?{urlencode(params)}" if params else self.spec.url

    def send(self, message: Message) -> None:
        self.post_json(self.url(), self.payload(message))
