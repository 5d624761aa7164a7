"""评估: the event's volume and negative share at 24 h and 72 h after the response.

For each closed case, once 24 h (then 72 h) have passed since it closed with
its response, the job records on `case.evaluation` the event's posts and
negative share in the 24 h before the response and in the window after it.
Windows are fixed by the response time, so a late run (the process was down)
records the same figures.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select

from alerts.events import volume
from yuqing.db import Database, now_utc
from yuqing.records import CaseStatus

from .models import CaseRow
from .service import audit

CHECKPOINTS = {"24h": timedelta(hours=24), "72h": timedelta(hours=72)}


def evaluate_cases(db: Database, *, now: Optional[datetime] = None) -> list[tuple[int, str]]:
    now = now or now_utc()
    done = []
    with db.session() as s:
        cases = s.scalars(select(CaseRow).where(CaseRow.status == CaseStatus.closed.value,
                                                CaseRow.closed_at <= now - CHECKPOINTS["24h"]))
        for case in cases:
            ev = dict(case.evaluation or {})
            at = case.closed_at
            changed = False
            if "before" not in ev:
                ev["before"] = {**volume(s, case.event_id, at - timedelta(hours=24), at),
                                "window": "回应前 24 小时"}
                changed = True
            for name, delta in CHECKPOINTS.items():
                if name in ev or now < at + delta:
                    continue
                ev[name] = {**volume(s, case.event_id, at, at + delta),
                            "recorded_at": now.isoformat()}
                done.append((case.id, name))
                changed = True
            if changed:
                case.evaluation = ev
                for cid, name in done:
                    if cid == case.id:
                        audit(s, case=case, actor="system", action="case.evaluate", checkpoint=name,
                              **{k: v for k, v in ev[name].items() if k != "recorded_at"})
    return done
