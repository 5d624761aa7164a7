"""The escalation chain: near, overdue, stepping up, catch-up, 要情专报, delivery and read."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from alerts.case import service
from alerts.models import EventRow
from alerts.notify.channels import ChannelError
from alerts.notify.config import load_escalation
from alerts.notify.dispatch import deliver_pending, mark_read
from alerts.notify.models import EscalationRow, NoticeRow
from alerts.routing import Route
from alerts.scheduled import check_escalations, first_run, record_run
from yuqing.config import REPO_ROOT
from yuqing.records import Severity

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def policy():
    return load_escalation(REPO_ROOT / "config" / "escalation.yaml")


def open_case(db, clocks, severity=Severity.IV, title="某小区停水，联系人13812345678"):
    with db.session() as s:
        event = EventRow(id=f"e{severity.value}", key="k", title=title, first_seen_at=NOW,
                         last_seen_at=NOW)
        s.add(event)
        s.flush()
        return service.open_case(s, event=event, severity=severity, kind="opinion",
                                 route=Route("市城市管理局"), clocks=clocks, now=NOW).id


def steps(db):
    with db.session() as s:
        return [(e.level, e.reason) for e in s.scalars(select(EscalationRow).order_by(EscalationRow.id))]


def notices(db):
    with db.session() as s:
        return s.scalars(select(NoticeRow).order_by(NoticeRow.id)).all()


def test_near_then_overdue_then_one_level_per_step(db, clocks, policy):
    cid = open_case(db, clocks)  # response clock: 48 h
    assert check_escalations(db, policy, now=NOW + timedelta(hours=38)) == []
    assert check_escalations(db, policy, now=NOW + timedelta(hours=39)) == [(cid, 1, "near", "response")]
    assert check_escalations(db, policy, now=NOW + timedelta(hours=40)) == []
    assert check_escalations(db, policy, now=NOW + timedelta(hours=48)) == [(cid, 2, "overdue", "response")]
    assert check_escalations(db, policy, now=NOW + timedelta(hours=52)) == [(cid, 3, "overdue", "response")]
    assert check_escalations(db, policy, now=NOW + timedelta(hours=56)) == [(cid, 4, "overdue", "response")]
    assert check_escalations(db, policy, now=NOW + timedelta(hours=90)) == []  # top of the chain
    recipients = [(n.channel, n.recipient) for n in notices(db)]
    assert recipients == [("email", "duty@news.example.gov.cn"), ("wecom_duty", "wecom_duty"),
                          ("email", "head@cgj.example.gov.cn"),
                          ("email", "director@news.example.gov.cn"), ("dingtalk_leaders", "dingtalk_leaders"),
                          ("email", "leader@gov.example.gov.cn"), ("dingtalk_leaders", "dingtalk_leaders")]


def test_late_check_goes_straight_to_the_reached_level(db, clocks, policy):
    cid = open_case(db, clocks)
    assert check_escalations(db, policy, now=NOW + timedelta(hours=53)) == [(cid, 3, "overdue", "response")]
    with db.session() as s:
        assert service.get_case(s, case_id=cid).escalation_level == 3


def test_met_clock_does_not_escalate(db, clocks, policy):
    cid = open_case(db, clocks)
    with db.session() as s:
        service.mark_deadline_met(s, case=service.get_case(s, case_id=cid), actor="d",
                                  kind="response", now=NOW)
    assert check_escalations(db, policy, now=NOW + timedelta(hours=60)) == []


def test_severe_case_is_reported_up_the_whole_chain_once_deidentified(db, clocks, policy):
    cid = open_case(db, clocks, Severity.II)
    out = check_escalations(db, policy, now=NOW)
    assert steps(db) == [(4, "severe")] and out == []
    check_escalations(db, policy, now=NOW + timedelta(minutes=1))
    assert steps(db) == [(4, "severe")]
    ns = notices(db)
    assert len(ns) == 7 and all("13812345678" not in n.body for n in ns)
    assert "138****5678" in ns[0].body and "要情专报" in ns[0].subject
    assert f"/notices/r/{ns[0].token}" in ns[0].body and ns[0].case_id == cid


class Flaky:
    def __init__(self, fail=0):
        self.fail, self.sent = fail, []

    def send(self, message):
        if self.fail:
            self.fail -= 1
            raise ChannelError("连接失败：refused")
        self.sent.append(message)


def test_delivery_records_status_retries_and_read(db, clocks, policy):
    open_case(db, clocks, Severity.II)
    check_escalations(db, policy, now=NOW)
    email, wecom, ding = Flaky(), Flaky(fail=1), Flaky(fail=5)
    channels = {"email": email, "wecom_duty": wecom, "dingtalk_leaders": ding}
    assert deliver_pending(db, channels, max_attempts=2, retry_minutes=5, now=NOW) == {"sent": 4, "failed": 3}
    by = {(n.channel, n.recipient): n for n in notices(db)}
    w = by[("wecom_duty", "wecom_duty")]
    assert w.status == "failed" and w.attempts == 1 and "refused" in w.error
    assert deliver_pending(db, channels, max_attempts=2, now=NOW + timedelta(minutes=1)) == {"sent": 0, "failed": 0}
    assert deliver_pending(db, channels, max_attempts=2, now=NOW + timedelta(minutes=6)) == {"sent": 1, "failed": 2}
    assert deliver_pending(db, channels, max_attempts=2, now=NOW + timedelta(minutes=20)) == {"sent": 0, "failed": 0}
    by = {(n.channel, n.recipient, n.id): n for n in notices(db)}
    statuses = sorted((k[0], n.status, n.attempts) for k, n in by.items())
    assert ("wecom_duty", "sent", 2) in statuses and ("dingtalk_leaders", "failed", 2) in statuses
    first = notices(db)[0]
    assert first.read_at is None
    assert mark_read(db, first.token, now=NOW) == first.case_id
    assert mark_read(db, "nope") is None
    assert notices(db)[0].read_at == NOW


def test_missed_job_runs_at_once_on_start(db):
    now = NOW
    assert first_run(db, "cases:deadlines", now) == now             # never ran
    record_run(db, "cases:deadlines", now - timedelta(seconds=10))
    assert first_run(db, "cases:deadlines", now) == now + timedelta(seconds=50)
    record_run(db, "cases:deadlines", now - timedelta(hours=5))        # the process was down
    assert first_run(db, "cases:deadlines", now) == now
