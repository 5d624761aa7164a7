"""Tables for response cases, their actions and the audit log."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerts.models import EventRow
from yuqing.db import Base, UTCDateTime, now_utc
from yuqing.records import Case, CaseStatus, Deadline


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), unique=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(4), index=True)
    #: "opinion" (政务舆情) or "board" (网民留言): selects the deadline clocks
    kind: Mapped[str] = mapped_column(String(20), default="opinion")
    owner_department: Mapped[str] = mapped_column(String(100), index=True)
    co_departments: Mapped[list] = mapped_column(JSON, default=list)
    assignee: Mapped[Optional[str]] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True, default=CaseStatus.collecting.value)
    deadlines: Mapped[list] = mapped_column(JSON, default=list)
    response_url: Mapped[Optional[str]] = mapped_column(Text)
    response_text: Mapped[Optional[str]] = mapped_column(Text)
    evaluation: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the highest level of the escalation chain notified so far (0: none)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    event: Mapped[EventRow] = relationship()
    actions: Mapped[list["CaseActionRow"]] = relationship(
        back_populates="case", order_by="CaseActionRow.at", cascade="all, delete-orphan")

    @property
    def status_enum(self) -> CaseStatus:
        return CaseStatus(self.status)

    def to_record(self) -> Case:
        return Case(
            id=self.id, event_id=self.event_id, title=self.title, severity=self.severity,
            owner_department=self.owner_department, co_departments=list(self.co_departments or []),
            assignee=self.assignee, status=self.status,
            deadlines=[Deadline.model_validate(d) for d in self.deadlines or []],
            response_url=self.response_url, response_text=self.response_text,
            evaluation=self.evaluation or {}, created_at=self.created_at, closed_at=self.closed_at,
        )


class CaseActionRow(Base):
    """The case log a duty officer keeps: notes, status changes, the response."""

    __tablename__ = "case_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    case: Mapped[CaseRow] = relationship(back_populates="actions")


class AuditRow(Base):
    """Who did what, when: written in the same transaction as the change."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)


class ExtensionStatus:
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class CaseExtensionRow(Base):
    """A request to extend a clock (网民留言), decided by a leader."""

    __tablename__ = "case_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    clock: Mapped[str] = mapped_column(String(50))
    working_days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    status: Mapped[str] = mapped_column(String(10), default=ExtensionStatus.pending, index=True)
    decided_by: Mapped[Optional[str]] = mapped_column(String(100))
    decided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
