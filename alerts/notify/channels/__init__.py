"""Notification channels, one class per file, built from config/channels.yaml."""
from __future__ import annotations

from ..config import ChannelsConfig, ChannelSpec
from .base import Channel, ChannelError, Message
from .dingtalk import DingTalkChannel
from .email import EmailChannel
from .wecom import WeComChannel

TYPES = {"email": EmailChannel, "wecom": WeComChannel, "dingtalk": DingTalkChannel}


def build(name: str, spec: ChannelSpec) -> Channel:
    return TYPES[spec.type](name, spec)


def build_all(config: ChannelsConfig) -> dict[str, Channel]:
    return {name: build(name, spec) for name, spec in config.channels.items()}


__all__ = ["Channel", "ChannelError", "Message", "build", "build_all", "TYPES"]
