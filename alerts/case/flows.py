"""Multi-step case work: transfer (转办) and extension requests (延期).

- A transfer moves a case to another department with a reason; on a 网民留言
  it satisfies the forwarding clock (转办, 24 h).
- An extension request asks for more working days on an extendable clock
  (config/deadlines.yaml `board.extendable`); only a leader decides it, and
  the clock's total may not pass `board.max_total_working_days` (15).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.deadlines import Clocks
from alerts.errors import CaseError
from yuqing.db import now_utc
from yuqing.records import Severity

from .models import CaseExtensionRow, CaseRow, ExtensionStatus
from .service import _open, audit, log_action

LEADER_ROLES = {"leader"}


def transfer(session: Session, *, case: CaseRow, actor: str, department: str, reason: str,
             co_departments: Optional[list[str]] = None, now: Optional[datetime] = None) -> None:
    _open(case)
    department, reason = (department or "").strip()[:100], (reason or "").strip()
    if not department:
        raise CaseError("请选择转办的部门")
    if not reason:
        raise CaseError("转办须说明理由")
    if department == case.owner_department:
        raise CaseError("转办部门与当前承办部门相同")
    now = now or now_utc()
    old = case.owner_department
    case.owner_department = department
    if co_departments is not None:
        case.co_departments = [d for d in co_departments if d != department]
    case.assignee = None
    case.deadlines = [{**d, "met_at": d.get("met_at") or now.isoformat()} if d["kind"] == "forward"
                      else d for d in case.deadlines]
    log_action(session, case, actor=actor, kind="transfer", text=f"由{old}转办至{department}：{reason}")
    audit(session, case=case, actor=actor, action="case.transfer", old=old, new=department,
          reason=reason)


def request_extension(session: Session, *, case: CaseRow, actor: str, clocks: Clocks, clock: str,
                      working_days: int, reason: str,
                      now: Optional[datetime] = None) -> CaseExtensionRow:
    _open(case)
    reason = (reason or "").strip()
    if not reason:
        raise CaseError("申请延期须说明理由")
    board = clocks.config.board
    if clock not in board.extendable:
        raise CaseError(f"该时限不能延期：{clock}")
    d = next((d for d in case.deadlines if d["kind"] == clock and not d.get("met_at")), None)
    if d is None:
        raise CaseError(f"没有未完成的时限：{clock}")
    if working_days < 1:
        raise CaseError("延期天数须为正整数")
    if session.scalar(select(CaseExtensionRow).where(
            CaseExtensionRow.case_id == case.id, CaseExtensionRow.status == ExtensionStatus.pending)):
        raise CaseError("已有待审批的延期申请")
    _check_total(clocks, case, d, working_days)
    row = CaseExtensionRow(case_id=case.id, clock=clock, working_days=working_days, reason=reason,
                           requested_by=actor, requested_at=now or now_utc())
    session.add(row)
    session.flush()
    log_action(session, case, actor=actor, kind="extension",
               text=f"申请{d['label']}延期 {working_days} 个工作日：{reason}")
    audit(session, case=case, actor=actor, action="case.extension_request", clock=clock,
          working_days=working_days, reason=reason, extension_id=row.id)
    return row


def _check_total(clocks: Clocks, case: CaseRow, d: dict, days: int) -> None:
    spec = clocks.spec(severity=Severity(case.severity), kind=case.kind, clock=d["kind"])
    base = spec.working_days if spec and spec.working_days else 0
    total = base + int(d.get("extended_working_days", 0)) + days
    limit = clocks.config.board.max_total_working_days
    if total > limit:
        raise CaseError(f"延期后共 {total} 个工作日，超过上限 {limit} 个工作日")


def decide_extension(session: Session, *, extension: CaseExtensionRow, actor: str, actor_role: str,
                     approve: bool, clocks: Clocks, note: str = "",
                     now: Optional[datetime] = None) -> None:
    if actor_role not in LEADER_ROLES:
        raise CaseError("延期申请须由领导审批")
    if extension.status != ExtensionStatus.pending:
        raise CaseError("该延期申请已审批")
    case = session.get(CaseRow, extension.case_id)
    _open(case)
    now = now or now_utc()
    extension.status = ExtensionStatus.approved if approve else ExtensionStatus.rejected
    extension.decided_by, extension.decided_at = actor, now
    extension.decision_note = (note or "").strip() or None
    if approve:
        deadlines = [dict(d) for d in case.deadlines]
        d = next(d for d in deadlines if d["kind"] == extension.clock)
        _check_total(clocks, case, d, extension.working_days)
        due = datetime.fromisoformat(d["due_at"])
        d["due_at"] = clocks.calendar.add_working_days(due, extension.working_days).isoformat()
        d["extended_working_days"] = int(d.get("extended_working_days", 0)) + extension.working_days
        d.pop("overdue_at", None)
        d["escalation"] = 0  # the new due date starts the chain afresh
        case.deadlines = deadlines
    verdict = "批准" if approve else "不批准"
    log_action(session, case, actor=actor, kind="extension",
               text=f"{verdict}延期 {extension.working_days} 个工作日" + (f"：{note}" if note else ""))
    audit(session, case=case, actor=actor, action="case.extension_decide",
          extension_id=extension.id, approved=approve, note=extension.decision_note)
