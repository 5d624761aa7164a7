"""The clocks on APScheduler: deadlines and escalation, notice delivery, case evaluation.

`register_jobs(scheduler, settings, db)` adds the jobs. Each job records when
it last ran (`JobRunRow`); on start a job whose interval has passed since its
last run (or that never ran) runs at once, and every job judges from state,
not from the moment: the escalation check steps each clock straight to the
level it has reached, the evaluation records the windows fixed by the
response time, and undelivered notices are still pending. So a process that
was down catches up on everything past due when it comes back.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import select

from alerts.case.evaluation import evaluate_cases
from alerts.case.models import CaseRow
from alerts.case.scheduled import check_deadlines
from alerts.models import JobRunRow
from alerts.notify import escalation
from alerts.notify.channels import build_all
from alerts.notify.config import (ChannelsConfig, EscalationConfig, load_channels,
                                  load_escalation)
from alerts.notify.dispatch import deliver_pending
from yuqing.config import Settings
from yuqing.db import Database, now_utc
from yuqing.records import CaseStatus

log = logging.getLogger(__name__)

INTERVALS = {"cases:deadlines": 60, "notices:deliver": 30, "cases:evaluation": 600}


def check_escalations(db: Database, policy: EscalationConfig, *,
                      now: Optional[datetime] = None) -> list[tuple[int, int, str, str]]:
    """Step every open case's clocks up the chain; return (case, level, reason, clock)."""
    now = now or now_utc()
    out = []
    with db.session() as s:
        for case in s.scalars(select(CaseRow).where(CaseRow.status != CaseStatus.closed.value)
                              .order_by(CaseRow.id)):
            out.extend((case.id, *step) for step in escalation.check_case(s, policy, case, now=now))
            escalation.severe(s, policy, case, now=now)  # a I/II case that was never reported
    return out


def clock_job(db: Database, policy: Optional[EscalationConfig], *, now: Optional[datetime] = None):
    now = now or now_utc()
    flagged = check_deadlines(db, now=now)
    stepped = check_escalations(db, policy, now=now) if policy is not None else []
    return flagged, stepped


def last_run(db: Database, job: str) -> Optional[datetime]:
    with db.session() as s:
        row = s.get(JobRunRow, job)
        return row.last_run_at if row else None


def record_run(db: Database, job: str, at: datetime) -> None:
    with db.session() as s:
        row = s.get(JobRunRow, job) or JobRunRow(job=job, last_run_at=at)
        row.last_run_at = at
        s.add(row)


def tracked(db: Database, job: str, fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        started = now_utc()
        try:
            fn()
        except Exception:  # a failing job is reported; the scheduler keeps the others
            log.exception("job %s failed", job)
            return
        record_run(db, job, started)
    return run


def first_run(db: Database, job: str, now: datetime) -> datetime:
    """Now when the job missed a run (or never ran), else one interval after its last run."""
    last = last_run(db, job)
    due = last + timedelta(seconds=INTERVALS[job]) if last else now
    return min(max(due, now), now + timedelta(seconds=INTERVALS[job]))


def load_configs(settings: Settings) -> tuple[Optional[EscalationConfig], Optional[ChannelsConfig]]:
    esc, ch = settings.config_file("escalation.yaml"), settings.config_file("channels.yaml")
    return (load_escalation(esc) if esc.exists() else None,
            load_channels(ch) if ch.exists() else None)


def register_jobs(scheduler, settings: Settings, db: Database) -> list[str]:
    """Add the clock, delivery and evaluation jobs to an APScheduler scheduler."""
    policy, channels_cfg = load_configs(settings)
    channels = build_all(channels_cfg) if channels_cfg else {}
    jobs: dict[str, Callable[[], object]] = {
        "cases:deadlines": lambda: clock_job(db, policy),
        "cases:evaluation": lambda: evaluate_cases(db),
    }
    if channels_cfg is not None:
        jobs["notices:deliver"] = lambda: deliver_pending(
            db, channels, max_attempts=channels_cfg.max_attempts,
            retry_minutes=channels_cfg.retry_minutes)
    now = now_utc()
    for job, fn in jobs.items():
        scheduler.add_job(tracked(db, job, fn), "interval", seconds=INTERVALS[job], id=job,
                          next_run_time=first_run(db, job, now), max_instances=1, coalesce=True,
                          misfire_grace_time=None, replace_existing=True)
    return list(jobs)
