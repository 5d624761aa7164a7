"""Tables for alerts, events (with their members and hourly volume) and rule state."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yuqing.db import Base, UTCDateTime, now_utc
from yuqing.records import Alert, Event


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: what groups alerts into this event, e.g. "volume_spike:utilities:江宁区"
    key: Mapped[str] = mapped_column(String(300), index=True)
    title: Mapped[str] = mapped_column(Text)
    topic: Mapped[Optional[str]] = mapped_column(String(40))
    region: Mapped[Optional[str]] = mapped_column(String(100))
    first_post_id: Mapped[Optional[str]] = mapped_column(String(64))
    first_poster: Mapped[Optional[str]] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    #: "content" (posts grouped by near-duplicate text) or "aggregate" (a rule's situation)
    kind: Mapped[str] = mapped_column(String(20), default="content", server_default="aggregate")
    negative_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sources: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")

    @property
    def source_count(self) -> int:
        return len(self.sources or [])

    @property
    def negative_share(self) -> float:
        return self.negative_count / self.post_count if self.post_count else 0.0

    posts: Mapped[list["EventPostRow"]] = relationship(back_populates="event", cascade="all, delete-orphan")
    alerts: Mapped[list["AlertRow"]] = relationship(back_populates="event", order_by="AlertRow.created_at")

    def to_record(self) -> Event:
        return Event(
            id=self.id, title=self.title, topic=self.topic, region=self.region,
            first_post_id=self.first_post_id, first_poster=self.first_poster,
            first_seen_at=self.first_seen_at, last_seen_at=self.last_seen_at,
            post_ids=[p.post_id for p in self.posts], alert_ids=[a.id for a in self.alerts],
        )


class EventPostRow(Base):
    __tablename__ = "event_posts"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: when the post was published (else fetched): what the hourly buckets count
    posted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    source: Mapped[Optional[str]] = mapped_column(String(200))
    sentiment: Mapped[Optional[str]] = mapped_column(String(10))
    #: the post's MinHash values, to rebuild the LSH index after a restart: the base64 of the
    #: values as little-endian uint32 (alerts.minhash.pack); rows written before, a JSON list
    signature: Mapped[Optional[str | list]] = mapped_column(JSON)

    event: Mapped[EventRow] = relationship(back_populates="posts")


class EventBucketRow(Base):
    """An event's volume and negative count per hour (UTC hour start)."""

    __tablename__ = "event_buckets"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)

    #: lets a flush insert a new event before its buckets
    event: Mapped[EventRow] = relationship(viewonly=False)


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(100), index=True)
    #: the rule's grouping key; alerts with one key are de-duplicated
    key: Mapped[str] = mapped_column(String(300), index=True)
    severity: Mapped[str] = mapped_column(String(4))
    topic: Mapped[Optional[str]] = mapped_column(String(40))
    region: Mapped[Optional[str]] = mapped_column(String(100))
    window: Mapped[dict] = mapped_column(JSON, default=dict)
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True, default=now_utc)
    event_id: Mapped[Optional[str]] = mapped_column(ForeignKey("events.id"), index=True)
    #: when the rule found the condition cleared (a recovery notice went out)
    recovered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    event: Mapped[Optional[EventRow]] = relationship(back_populates="alerts")

    def to_record(self) -> Alert:
        return Alert(
            id=self.id, rule=self.rule, severity=self.severity, topic=self.topic,
            region=self.region, window=self.window or {}, evidence=list(self.evidence or []),
            created_at=self.created_at, event_id=self.event_id, title=self.title,
            summary=self.summary,
        )


class RuleStateRow(Base):
    """A rule's window state, saved so that a restart does not forget it."""

    __tablename__ = "rule_state"

    rule: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    disabled_reason: Mapped[Optional[str]] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)


class JobRunRow(Base):
    """When a scheduled job last ran, so that a restart catches up on what it missed."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
