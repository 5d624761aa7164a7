"""Periodic case work: the deadline clocks."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlalchemy import select

from yuqing.db import Database, now_utc
from yuqing.records import CaseStatus

from . import service
from .models import CaseRow

log = logging.getLogger(__name__)


def check_deadlines(db: Database, *, now: Optional[datetime] = None) -> list[tuple[int, str]]:
    """Flag each clock of an open case that has run out, once; return (case id, clock kind)."""
    now = now or now_utc()
    flagged: list[tuple[int, str]] = []
    with db.session() as s:
        open_cases = s.scalars(select(CaseRow).where(CaseRow.status != CaseStatus.closed.value))
        for case in open_cases:
            late = [d for d in service.overdue(case, now=now) if not d.get("overdue_at")]
            if not late:
                continue
            kinds = {d["kind"] for d in late}
            case.deadlines = [{**d, "overdue_at": now.isoformat()} if d["kind"] in kinds else d
                              for d in case.deadlines]
            for d in late:
                service.log_action(s, case, actor="system", kind="overdue", text=f"已超时：{d['label']}")
                service.audit(s, case=case, actor="system", action="case.overdue", kind=d["kind"],
                              due_at=d["due_at"])
                log.warning("case %s overdue: %s (%s)", case.id, d["label"], case.owner_department)
                flagged.append((case.id, d["kind"]))
    return flagged
