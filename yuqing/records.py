"""The records that cross process boundaries: typed, validated and versioned.

Every hop of the pipeline serialises one of these as JSON. A record that does
not validate is rejected with a `RecordError` that names the field, and the
caller sends the raw payload to the dead-letter topic.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA_VERSION = 1

#: The longest post body kept. Longer text is rejected, not truncated, so that
#: nothing is lost silently (the dead-letter store keeps the original).
MAX_TEXT_CHARS = 50_000


class RecordError(ValueError):
    """A payload that is not a valid record; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SourceType(str, Enum):
    news = "news"
    board = "board"
    social = "social"
    feed = "feed"
    import_ = "import"


class SentimentLabel(str, Enum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Severity(str, Enum):
    """National emergency grading; I is the most serious."""

    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741

    @property
    def rank(self) -> int:
        return {"IV": 1, "III": 2, "II": 3, "I": 4}[self.value]

    @property
    def label(self) -> str:
        return {"IV": "一般", "III": "较大", "II": "重大", "I": "特别重大"}[self.value]

    @property
    def color(self) -> str:
        return {"IV": "blue", "III": "yellow", "II": "orange", "I": "red"}[self.value]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: Optional[datetime]) -> Optional[datetime]:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def post_id_for(canonical_url: Optional[str] = None, content: Optional[str] = None) -> str:
    """A Post's id: derived from its canonical URL, or from its content."""
    basis = canonical_url or content
    if not basis:
        raise RecordError("a post needs a canonical URL or content to derive its id")
    return hashlib.sha1(basis.encode("utf-8")).hexdigest()


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is newer than this code ({SCHEMA_VERSION})")
        return v

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str | dict):
        """Parse and validate; raise RecordError with a readable reason."""
        try:
            if isinstance(payload, dict):
                return cls.model_validate(payload)
            # pydantic's own JSON parser, on the bytes as they are: about twice as fast as
            # json.loads + model_validate, and no decoding to str first
            return cls.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            if isinstance(payload, bytes):
                try:
                    payload.decode("utf-8")
                except UnicodeDecodeError as uexc:
                    raise RecordError(f"payload is not valid UTF-8: {uexc}") from uexc
            if first.get("type") == "json_invalid":
                raise RecordError(f"payload is not JSON: {first.get('msg')}") from exc
            where = ".".join(str(p) for p in first.get("loc", ())) or "record"
            raise RecordError(f"{cls.__name__}.{where}: {first.get('msg')}") from exc


class Post(Record):
    id: str = Field(min_length=8, max_length=64)
    source: str = Field(min_length=1, max_length=200)
    source_type: SourceType
    url: Optional[str] = Field(default=None, max_length=2048)
    title: str = Field(default="", max_length=1000)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    author: Optional[str] = Field(default=None, max_length=200)
    published_at: Optional[datetime] = None
    fetched_at: datetime = Field(default_factory=utcnow)
    region: list[str] = Field(default_factory=list)
    metrics: dict[str, int] = Field(default_factory=dict)
    lang: str = "zh"
    # message-board posts (网民留言)
    reply_status: Optional[str] = None
    reply_text: Optional[str] = None
    reply_at: Optional[datetime] = None

    @field_validator("published_at", "fetched_at", "reply_at")
    @classmethod
    def _tz(cls, v):
        return _aware(v)

    @field_validator("text")
    @classmethod
    def _has_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty")
        return v

    @property
    def full_text(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


class TopicScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    score: float = Field(ge=0.0, le=1.0)


class Sentiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0)


class ClassifiedPost(Post):
    topics: list[TopicScore] = Field(default_factory=list)
    sentiment: Sentiment
    keywords: list[str] = Field(default_factory=list)
    sensitive_hits: list[str] = Field(default_factory=list)
    cluster_id: Optional[str] = None
    model_version: str
    classified_at: datetime = Field(default_factory=utcnow)

    @property
    def topic_codes(self) -> list[str]:
        return [t.code for t in self.topics]


class Alert(Record):
    id: str
    rule: str
    severity: Severity
    topic: Optional[str] = None
    region: Optional[str] = None
    window: dict[str, Any] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    event_id: Optional[str] = None
    title: str = ""
    summary: str = ""

    @field_validator("created_at")
    @classmethod
    def _tz(cls, v):
        return _aware(v)


class Event(Record):
    """A story that persists across posts, sources and days."""

    id: str
    title: str = Field(max_length=1000)
    topic: Optional[str] = None
    region: Optional[str] = None
    first_post_id: Optional[str] = None
    first_poster: Optional[str] = None
    first_seen_at: datetime
    last_seen_at: datetime
    post_ids: list[str] = Field(default_factory=list)
    alert_ids: list[str] = Field(default_factory=list)

    @field_validator("first_seen_at", "last_seen_at")
    @classmethod
    def _tz(cls, v):
        return _aware(v)


class CaseStatus(str, Enum):
    """收集 → 会商 → 研判 → 回应 → 评估, then closed."""

    collecting = "collecting"
    consulting = "consulting"
    assessing = "assessing"
    responding = "responding"
    evaluating = "evaluating"
    closed = "closed"

    @property
    def label(self) -> str:
        return {
            "collecting": "收集",
            "consulting": "会商",
            "assessing": "研判",
            "responding": "回应",
            "evaluating": "评估",
            "closed": "已办结",
        }[self.value]


class Deadline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    label: str
    due_at: datetime
    met_at: Optional[datetime] = None
    #: when the deadline check first found it past due
    overdue_at: Optional[datetime] = None
    #: when the clock started (else the case's creation)
    start_at: Optional[datetime] = None
    #: the highest level of the escalation chain this clock has reached
    escalation: int = 0
    #: working days added by approved extensions
    extended_working_days: int = 0

    @field_validator("due_at", "met_at", "overdue_at", "start_at")
    @classmethod
    def _tz(cls, v):
        return _aware(v)


class Case(Record):
    id: int
    event_id: str
    title: str
    severity: Severity
    owner_department: str
    co_departments: list[str] = Field(default_factory=list)
    assignee: Optional[str] = None
    status: CaseStatus
    deadlines: list[Deadline] = Field(default_factory=list)
    response_url: Optional[str] = None
    response_text: Optional[str] = None
    evaluation: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    closed_at: Optional[datetime] = None

    @field_validator("created_at", "closed_at")
    @classmethod
    def _tz(cls, v):
        return _aware(v)
