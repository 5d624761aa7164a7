"""WeCom (企业微信) group robot: POST {url}?key=KEY with msgtype text or markdown.

Documented payloads:
  {"msgtype": "text", "text": {"content": "...", "mentioned_mobile_list": [...]}}
  {"msgtype": "markdown", "markdown": {"content": "..."}}
"""
from __future__ import annotations

from urllib.parse import urlencode

from .base import Channel, Message

#: WeCom's limit on markdown content (bytes, UTF-8)
MAX_BYTES = 4096


def _clip(text: str, limit: int = MAX_BYTES) -> str:
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[:limit - 3].decode("utf-8", "ignore") + "…"


class WeComChannel(Channel):
    def payload(self, message: Message) -> dict:
        if self.spec.msgtype == "markdown":
            return {"msgtype": "markdown", "markdown": {"content": _clip(message.markdown)}}
        text: dict = {"content": _clip(message.text, 2048)}
        if self.spec.mentioned_mobiles:
            text["mentioned_mobile_list"] = list(self.spec.mentioned_mobiles)
        return {"msgtype": "text", "text": text}

    def url(self) -> str:
        key = self.secret(self.spec.key_env, "企业微信机器人 key")
        return f"{self.spec.url}?{urlencode({'key': key})}" if key else self.spec.url

    def send(self, message: Message) -> None:
        self.post_json(self.url(), self.payload(message))
