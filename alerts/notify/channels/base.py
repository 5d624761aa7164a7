"""What every channel shares: the message, the error, the secret lookup, JSON over HTTP."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Optional

from alerts.errors import YuqingError

from ..config import ChannelSpec


class ChannelError(YuqingError):
    """A notice could not be delivered; the message is recorded on the notice."""


@dataclass
class Message:
    subject: str
    #: plain text (e-mail, text robots)
    text: str
    #: markdown (robots in markdown mode)
    markdown: str
    #: an e-mail address for e-mail; the group for robots
    recipient: str


class Channel:
    def __init__(self, name: str, spec: ChannelSpec):
        self.name, self.spec = name, spec

    def send(self, message: Message) -> None:
        raise NotImplementedError

    @staticmethod
    def secret(env: Optional[str], what: str) -> Optional[str]:
        if not env:
            return None
        value = os.environ.get(env)
        if not value:
            raise ChannelError(f"{what}未配置：环境变量 {env} 未设置")
        return value

    def post_json(self, url: str, payload: dict) -> dict:
        """POST `payload`; the robots answer {"errcode": 0, "errmsg": "ok"} on success."""
        req = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=self.spec.timeout) as resp:
                body = resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ChannelError(f"连接失败：{getattr(exc, 'reason', exc)}") from exc
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise ChannelError(f"应答不是 JSON：{body[:100]}") from exc
        if answer.get("errcode", 0) != 0:
            raise ChannelError(f"errcode {answer.get('errcode')}: {answer.get('errmsg')}")
        return answer
