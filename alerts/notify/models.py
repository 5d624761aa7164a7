"""Tables of escalations and notices."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, UTCDateTime, now_utc


class EscalationRow(Base):
    """One step up the chain for a case: logged, with the notices it sent."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(50))
    #: "near" (clock nearly run out), "overdue", "severe" (要情专报) or "recovery"
    reason: Mapped[str] = mapped_column(String(20))
    clock: Mapped[Optional[str]] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)


class NoticeStatus:
    pending = "pending"
    sent = "sent"
    failed = "failed"


class NoticeRow(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cases.id"), index=True)
    escalation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("escalations.id"))
    alert_id: Mapped[Optional[str]] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), index=True, default=NoticeStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    last_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
