"""Rule types: small classes registered by name, each declaring its options.

A rule sees classified posts through `add_data()` and returns the alert
candidates they trigger. `tick()` is called by the scheduler for rules that
judge windows of time. A rule's window state is a JSON-able dict so that the
engine can save it and a restart does not forget it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Optional, Type

from pydantic import BaseModel, ConfigDict

from yuqing.records import ClassifiedPost, Severity

RULE_TYPES: dict[str, Type["Rule"]] = {}


def register(name: str):
    def wrap(cls: Type["Rule"]) -> Type["Rule"]:
        cls.type_name = name
        RULE_TYPES[name] = cls
        return cls

    return wrap


class RuleOptions(BaseModel):
    """Options common to every rule; each type extends this with its own."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: str
    description: str = ""
    enabled: bool = True
    #: an open alert with the same key absorbs new evidence for this long
    quiet_period_minutes: float = 60


@dataclass
class Candidate:
    """What a rule says should be alerted; the engine dedupes and persists it."""

    rule: str
    #: alerts with the same key belong to the same event (and are de-duplicated)
    key: str
    severity: Severity
    title: str
    summary: str
    evidence: list[str]
    topic: Optional[str] = None
    region: Optional[str] = None
    window: dict = field(default_factory=dict)
    #: "board" when the evidence is a 网民留言, which runs on the board clocks
    kind: str = "opinion"


class Rule:
    type_name: ClassVar[str] = ""
    Options: ClassVar[Type[RuleOptions]] = RuleOptions

    def __init__(self, options: RuleOptions):
        self.options = options
        self.name = options.name

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        raise NotImplementedError

    def tick(self, now: datetime) -> list[Candidate]:
        return []

    def get_state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


def post_time(post: ClassifiedPost) -> datetime:
    return post.published_at or post.fetched_at


def first_region(post: ClassifiedPost) -> Optional[str]:
    return post.region[0] if post.region else None
