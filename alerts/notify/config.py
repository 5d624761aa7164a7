"""The escalation chain (config/escalation.yaml) and the channels (config/channels.yaml).

Secrets (SMTP passwords, robot keys and signing secrets) are never in these
files: an entry names the environment variable that holds each one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.errors import ConfigError


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str
    #: e-mail addresses; "{department}" stands for the case's department contacts
    to: list[str] = []


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    label: str
    notify: list[Target] = Field(min_length=1)


class EscalationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    console_url: str = "http://127.0.0.1:5000"
    #: the fraction of a clock elapsed that warns the first level
    near_fraction: float = Field(0.8, gt=0, lt=1)
    #: past due, one more level per this many hours
    overdue_step_hours: float = Field(4, gt=0)
    #: severity I/II notifies every level up to this one at once (要情专报)
    severe_up_to: int = Field(4, ge=1)
    chain: list[Level] = Field(min_length=1)
    #: department -> its contacts' addresses, for "{department}" targets
    departments: dict[str, list[str]] = {}
    default_department_contacts: list[str] = []

    @model_validator(mode="after")
    def _levels(self):
        self.severe_up_to = min(self.severe_up_to, len(self.chain))
        return self

    def level(self, n: int) -> Level:
        return self.chain[n - 1]


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["email", "wecom", "dingtalk"]
    # email
    host: Optional[str] = None
    port: int = 25
    sender: Optional[str] = None
    starttls: bool = False
    ssl: bool = False
    username_env: Optional[str] = None
    password_env: Optional[str] = None
    timeout: float = 10
    # robots
    url: Optional[str] = None
    key_env: Optional[str] = None      # WeCom: the robot key
    token_env: Optional[str] = None    # DingTalk: access_token
    secret_env: Optional[str] = None   # DingTalk: the signing secret
    msgtype: Literal["text", "markdown"] = "markdown"
    mentioned_mobiles: list[str] = []

    @model_validator(mode="after")
    def _needs(self):
        if self.type == "email" and not (self.host and self.sender):
            raise ValueError("an email channel needs host and sender")
        if self.type != "email" and not self.url:
            raise ValueError(f"a {self.type} channel needs url")
        return self


class ChannelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: dict[str, ChannelSpec]
    max_attempts: int = Field(3, ge=1)
    retry_minutes: float = Field(5, ge=0)


def _load(path: Path, model):
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return model.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']}") from exc


def load_escalation(path: Path) -> EscalationConfig:
    return _load(path, EscalationConfig)


def load_channels(path: Path) -> ChannelsConfig:
    return _load(path, ChannelsConfig)
