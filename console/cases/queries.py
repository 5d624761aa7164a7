"""Read-side helpers of the cases pages: list filters, deadline states, evidence."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.case.models import AuditRow, CaseExtensionRow, CaseRow
from alerts.notify.models import EscalationRow
from alerts.case.service import overdue
from alerts.models import AlertRow
from console.auth.models import Role, User
from stream.index import SearchIndex, SearchQuery
from yuqing.records import CaseStatus, Severity

from ..filters import as_datetime

#: the statuses a user may set by hand (closing goes through the close form)
WORK_STATUSES = [s for s in CaseStatus if s != CaseStatus.closed]
EVIDENCE_LIMIT = 100


@dataclass
class CaseFilter:
    status: str = "open"          # "open", "all" or a CaseStatus value
    department: str = ""
    severity: str = ""
    overdue_only: bool = False
    #: a department user's own department: limits the list to its cases
    scope_department: Optional[str] = None


def list_cases(session: Session, f: CaseFilter, *, now: datetime) -> list[dict]:
    stmt = select(CaseRow).order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
    if f.status == "open":
        stmt = stmt.where(CaseRow.status != CaseStatus.closed.value)
    elif f.status in CaseStatus.__members__:
        stmt = stmt.where(CaseRow.status == f.status)
    if f.department:
        stmt = stmt.where(CaseRow.owner_department == f.department)
    if f.severity in Severity.__members__:
        stmt = stmt.where(CaseRow.severity == f.severity)
    rows = []
    for case in session.scalars(stmt):
        if f.scope_department and f.scope_department != case.owner_department and \
                f.scope_department not in (case.co_departments or []):
            continue
        late = overdue(case, now=now) if case.status != CaseStatus.closed.value else []
        if f.overdue_only and not late:
            continue
        open_dues = [as_datetime(d["due_at"]) for d in case.deadlines if not d.get("met_at")]
        rows.append({"case": case, "overdue": late,
                     "next_due": min(open_dues) if open_dues else None})
    return rows


def deadline_states(case: CaseRow, *, now: datetime) -> list[dict]:
    out = []
    for d in case.deadlines or []:
        due, met = as_datetime(d.get("due_at")), as_datetime(d.get("met_at"))
        if met:
            state, text = ("met", "已完成") if met <= due else ("met_late", "超时完成")
        elif case.status == CaseStatus.closed.value:
            state, text = ("unmet", "未完成")
        elif due <= now:
            hours = int((now - due).total_seconds() // 3600)
            state, text = "overdue", f"已超时 {hours} 小时" if hours else "已超时"
        else:
            left = int((due - now).total_seconds() // 60)
            state = "pending"
            text = f"剩余 {left // 60} 小时 {left % 60} 分" if left < 48 * 60 else f"剩余 {left // 1440} 天"
        out.append({"kind": d["kind"], "label": d.get("label", d["kind"]), "due_at": due,
                    "met_at": met, "state": state, "text": text})
    return out


def event_alerts(session: Session, case: CaseRow) -> list[AlertRow]:
    return list(session.scalars(select(AlertRow).where(AlertRow.event_id == case.event_id)
                                .order_by(AlertRow.created_at, AlertRow.id)))


def evidence(index: SearchIndex, case: CaseRow, alerts: list[AlertRow]) -> dict:
    """The evidence posts of the case's alerts (else of its event), fetched from the index."""
    ids = list(dict.fromkeys(pid for a in alerts for pid in (a.evidence or [])))
    if not ids and case.event is not None:
        ids = [p.post_id for p in case.event.posts]
    ids = ids[:EVIDENCE_LIMIT]
    first_id = case.event.first_post_id if case.event is not None else None
    try:
        hits = index.search(SearchQuery(ids=ids, size=len(ids))).hits if ids else []
        first = index.get(first_id) if first_id else None
    except Exception:
        current_app.logger.exception("evidence lookup failed for case %s", case.id)
        return {"ids": ids, "hits": None, "first": None}
    return {"ids": ids, "hits": hits, "first": first}


def assignee_choices(session: Session, case: CaseRow) -> list[str]:
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    names = []
    for u in users:
        if u.role_enum == Role.department and u.department != case.owner_department:
            continue
        if u.role_enum == Role.leader:
            continue
        names.append(u.display_name or u.username)
    return list(dict.fromkeys(names))


def audit_rows(session: Session, case: CaseRow) -> list[AuditRow]:
    return list(session.scalars(select(AuditRow).where(AuditRow.case_id == case.id)
                                .order_by(AuditRow.at, AuditRow.id)))


def departments(session: Session, configured: list[str]) -> list[str]:
    seen = set(session.scalars(select(CaseRow.owner_department).distinct()))
    return sorted(set(configured) | seen)


def escalations(session: Session, case: CaseRow) -> list[EscalationRow]:
    return list(session.scalars(select(EscalationRow).where(EscalationRow.case_id == case.id)
                                .order_by(EscalationRow.at, EscalationRow.id)))


def extensions(session: Session, case: CaseRow) -> list[CaseExtensionRow]:
    return list(session.scalars(select(CaseExtensionRow).where(CaseExtensionRow.case_id == case.id)
                                .order_by(CaseExtensionRow.id)))
