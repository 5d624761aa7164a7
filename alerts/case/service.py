"""Case operations: small keyword-only functions, each writing its audit entry.

The audit row is added in the caller's session, so it commits or rolls back
together with the change it records.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.deadlines import Clocks
from alerts.errors import CaseError
from alerts.models import EventRow
from alerts.routing import Route
from yuqing.db import now_utc
from yuqing.records import CaseStatus, Severity

from .models import AuditRow, CaseActionRow, CaseRow

#: the clocks a recorded response satisfies
RESPONSE_CLOCKS = {"authoritative_info", "response", "reply"}
MAX_TEXT = 20_000


def audit(session: Session, *, case: Optional[CaseRow], actor: str, action: str, **detail) -> None:
    session.add(AuditRow(case_id=case.id if case else None, actor=actor, action=action,
                         detail=detail, at=now_utc()))


def log_action(session: Session, case: CaseRow, *, actor: str, kind: str, text: str) -> None:
    session.add(CaseActionRow(case_id=case.id, kind=kind, text=text, actor=actor, at=now_utc()))


def _open(case: CaseRow) -> None:
    if case.status == CaseStatus.closed.value:
        raise CaseError("案件已办结，不能再修改")


def get_case(session: Session, *, case_id: int) -> CaseRow:
    case = session.get(CaseRow, case_id)
    if case is None:
        raise CaseError(f"案件 {case_id} 不存在")
    return case


def case_for_event(session: Session, *, event_id: str) -> Optional[CaseRow]:
    return session.scalar(select(CaseRow).where(CaseRow.event_id == event_id))


def open_case(session: Session, *, event: EventRow, severity: Severity, kind: str, route: Route,
              clocks: Clocks, now: Optional[datetime] = None, actor: str = "system") -> CaseRow:
    now = now or now_utc()
    case = CaseRow(
        event_id=event.id, title=event.title, severity=severity.value, kind=kind,
        owner_department=route.department, co_departments=list(route.co_departments),
        status=CaseStatus.collecting.value, created_at=now,
        deadlines=[d.model_dump(mode="json")
                   for d in clocks.deadlines(severity=severity, kind=kind, start=now)],
    )
    session.add(case)
    session.flush()
    log_action(session, case, actor=actor, kind="opened",
         text=f"由预警自动立案，分派至{route.department}（{severity.value}级 {severity.label}）")
    audit(session, case=case, actor=actor, action="case.open", severity=severity.value,
          department=route.department, co_departments=list(route.co_departments))
    return case


def raise_severity(session: Session, *, case: CaseRow, severity: Severity, clocks: Clocks,
                   now: Optional[datetime] = None, actor: str = "system") -> bool:
    """Raise an open case's severity; stricter clocks are added from now on."""
    if case.status == CaseStatus.closed.value or severity.rank <= Severity(case.severity).rank:
        return False
    now = now or now_utc()
    old = case.severity
    case.severity = severity.value
    have = {d["kind"] for d in case.deadlines}
    new = [d.model_dump(mode="json") for d in clocks.deadlines(severity=severity, kind=case.kind, start=now)
           if d.kind not in have]
    case.deadlines = [*case.deadlines, *new]
    log_action(session, case, actor=actor, kind="severity", text=f"级别由 {old} 升为 {severity.value}")
    audit(session, case=case, actor=actor, action="case.severity", old=old, new=severity.value)
    return True


def add_note(session: Session, *, case: CaseRow, actor: str, text: str) -> None:
    text = (text or "").strip()
    if not text:
        raise CaseError("处置记录不能为空")
    if len(text) > MAX_TEXT:
        raise CaseError(f"处置记录过长（最多 {MAX_TEXT} 字）")
    _open(case)
    log_action(session, case, actor=actor, kind="note", text=text)
    audit(session, case=case, actor=actor, action="case.note", text=text)


def set_status(session: Session, *, case: CaseRow, actor: str, status: CaseStatus) -> None:
    _open(case)
    if status == CaseStatus.closed:
        raise CaseError("办结须录入回应内容，请使用“办结”")
    old = case.status
    if old == status.value:
        return
    case.status = status.value
    log_action(session, case, actor=actor, kind="status",
         text=f"状态：{CaseStatus(old).label} → {status.label}")
    audit(session, case=case, actor=actor, action="case.status", old=old, new=status.value)


def assign(session: Session, *, case: CaseRow, actor: str, assignee: str) -> None:
    _open(case)
    assignee = (assignee or "").strip()[:100]
    old = case.assignee
    case.assignee = assignee or None
    log_action(session, case, actor=actor, kind="assign", text=f"承办人：{assignee or '（无）'}")
    audit(session, case=case, actor=actor, action="case.assign", old=old, new=case.assignee)


def mark_deadline_met(session: Session, *, case: CaseRow, actor: str, kind: str,
                      now: Optional[datetime] = None) -> None:
    _open(case)
    now = now or now_utc()
    deadlines = [dict(d) for d in case.deadlines]
    for d in deadlines:
        if d["kind"] == kind and not d.get("met_at"):
            d["met_at"] = now.isoformat()
            case.deadlines = deadlines
            log_action(session, case, actor=actor, kind="deadline", text=f"已完成：{d['label']}")
            audit(session, case=case, actor=actor, action="case.deadline_met", kind=kind)
            return
    raise CaseError(f"没有未完成的时限：{kind}")


def close_case(session: Session, *, case: CaseRow, actor: str, response_text: Optional[str] = None,
               response_url: Optional[str] = None, now: Optional[datetime] = None) -> None:
    """Close with the recorded response; a case never closes without one."""
    _open(case)
    text = (response_text or "").strip()
    url = (response_url or "").strip()
    if not text and not url:
        raise CaseError("办结须录入回应内容或回应链接")
    if len(text) > MAX_TEXT:
        raise CaseError(f"回应内容过长（最多 {MAX_TEXT} 字）")
    if url and urlparse(url).scheme not in ("http", "https"):
        raise CaseError("回应链接须以 http:// 或 https:// 开头")
    now = now or now_utc()
    case.response_text, case.response_url = text or None, url or None
    case.deadlines = [
        {**d, "met_at": d.get("met_at") or now.isoformat()} if d["kind"] in RESPONSE_CLOCKS else d
        for d in case.deadlines
    ]
    old = case.status
    case.status, case.closed_at = CaseStatus.closed.value, now
    log_action(session, case, actor=actor, kind="close", text=text or url)
    audit(session, case=case, actor=actor, action="case.close", old=old,
          response_text=text or None, response_url=url or None)


def overdue(case: CaseRow, *, now: Optional[datetime] = None) -> list[dict]:
    """The clocks of an open case that are past due and not met."""
    now = now or now_utc()
    out = []
    for d in case.deadlines:
        if d.get("met_at"):
            continue
        due = datetime.fromisoformat(d["due_at"])
        if due <= now:
            out.append(d)
    return out
