"""The escalation chain: duty officer → department head → news center director → leader.

- A clock of an open case that has run `near_fraction` of its time warns
  level 1; past due it goes to level 2, and one level higher every
  `overdue_step_hours` after, up to the top. A check that runs late (the
  process was down) goes straight to the level the clock has reached.
- Severity I/II (要情专报) notifies every level up to `severe_up_to` at once,
  when the case opens or is raised to I/II.
- A recovered alert tells level 1.

Each step writes an `EscalationRow`, the case log and audit entries, and one
pending `NoticeRow` per recipient, in the caller's session.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy.orm import Session

from alerts.case import service
from alerts.case.models import CaseRow
from yuqing.privacy import deidentify
from yuqing.records import Severity

from .config import EscalationConfig
from .models import EscalationRow, NoticeRow, NoticeStatus

REASONS = {"near": "处置时限临近", "overdue": "处置时限已超", "severe": "要情专报",
           "recovery": "预警解除"}


def target_level(policy: EscalationConfig, *, start: datetime, due: datetime,
                 now: datetime) -> tuple[int, Optional[str]]:
    """The level a clock has reached at `now`, and why."""
    top = len(policy.chain)
    if now >= due:
        steps = int((now - due) / timedelta(hours=policy.overdue_step_hours))
        return min(2 + steps, top), "overdue"
    length = (due - start).total_seconds()
    if length > 0 and (now - start).total_seconds() / length >= policy.near_fraction:
        return 1, "near"
    return 0, None


def _recipients(policy: EscalationConfig, level: int, case: CaseRow) -> list[tuple[str, str]]:
    out = []
    for target in policy.level(level).notify:
        if not target.to:
            out.append((target.channel, target.channel))  # a robot: the group is the recipient
        for to in target.to:
            if to == "{department}":
                contacts = policy.departments.get(case.owner_department,
                                                  policy.default_department_contacts)
                out.extend((target.channel, c) for c in contacts)
            else:
                out.append((target.channel, to))
    return list(dict.fromkeys(out))


def render(policy: EscalationConfig, case: CaseRow, *, reason: str, level: int,
           clock: Optional[dict], token: str, note: str = "") -> tuple[str, str, str]:
    """Subject, text and markdown of a notice, de-identified."""
    sev = Severity(case.severity)
    head = f"【舆情{REASONS[reason]}】{sev.value}级（{sev.label}）{case.title}"
    link = f"{policy.console_url.rstrip('/')}/notices/r/{token}"
    lines = [f"任务编号：#{case.id}", f"事件：{case.title}", f"级别：{sev.value}级 {sev.label}",
             f"承办部门：{case.owner_department}", f"通知层级：{policy.level(level).label}"]
    if clock:
        lines.append(f"时限：{clock['label']}，截止 {clock['due_at'][:16].replace('T', ' ')}（UTC）")
    if note:
        lines.append(f"说明：{note}")
    lines.append(f"查看并确认：{link}")
    subject = deidentify(head)
    text = deidentify("\n".join([head, *lines]))
    markdown = deidentify("\n".join([f"### {head}", *[f"> {ln}" for ln in lines[:-1]],
                                     f"[查看并确认]({link})"]))
    return subject, text, markdown


def escalate(session: Session, policy: EscalationConfig, case: CaseRow, *, level: int,
             reason: str, now: datetime, clock: Optional[dict] = None,
             levels: Optional[list[int]] = None, note: str = "") -> EscalationRow:
    """Log one escalation and queue the notices of `levels` (default: just `level`)."""
    role = policy.level(level)
    row = EscalationRow(case_id=case.id, level=level, role=role.role, reason=reason,
                        clock=clock["kind"] if clock else None, at=now)
    session.add(row)
    session.flush()
    for n in levels or [level]:
        for channel, recipient in _recipients(policy, n, case):
            token = secrets.token_urlsafe(24)
            subject, text, markdown = render(policy, case, reason=reason, level=n, clock=clock,
                                        token=token, note=note)
            session.add(NoticeRow(case_id=case.id, escalation_id=row.id, channel=channel,
                                  recipient=recipient, subject=subject, body=text, markdown=markdown,
                                  status=NoticeStatus.pending, token=token, created_at=now))
    if reason != "recovery":
        case.escalation_level = max(case.escalation_level or 0, level)
    service.log_action(session, case, actor="system", kind="escalation",
                       text=f"{REASONS[reason]}：通知{role.label}"
                            + (f"（{clock['label']}）" if clock else ""))
    service.audit(session, case=case, actor="system", action="case.escalate", level=level,
                  role=role.role, reason=reason, clock=row.clock)
    return row


def severe(session: Session, policy: EscalationConfig, case: CaseRow, *, now: datetime) -> bool:
    """要情专报: a case of severity I/II notifies the chain up to `severe_up_to`, once."""
    if Severity(case.severity).rank < Severity.II.rank:
        return False
    if (case.escalation_level or 0) >= policy.severe_up_to:
        return False
    up = policy.severe_up_to
    escalate(session, policy, case, level=up, reason="severe", now=now,
             levels=list(range(1, up + 1)))
    return True


def check_case(session: Session, policy: EscalationConfig, case: CaseRow, *,
               now: datetime) -> list[tuple[int, str, str]]:
    """Step a case's unmet clocks up the chain; return (level, reason, clock) stepped."""
    done = []
    deadlines = [dict(d) for d in case.deadlines or []]
    for d in deadlines:
        if d.get("met_at"):
            continue
        start = datetime.fromisoformat(d.get("start_at") or case.created_at.isoformat())
        due = datetime.fromisoformat(d["due_at"])
        level, reason = target_level(policy, start=start, due=due, now=now)
        if level > int(d.get("escalation", 0)):
            d["escalation"] = level
            escalate(session, policy, case, level=level, reason=reason, now=now, clock=d)
            done.append((level, reason, d["kind"]))
    if done:
        case.deadlines = deadlines
    return done


def recovery(session: Session, policy: EscalationConfig, case: CaseRow, *, now: datetime,
             note: str) -> EscalationRow:
    return escalate(session, policy, case, level=1, reason="recovery", now=now, note=note)
