from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from alerts.case import service
from alerts.case.models import AuditRow
from alerts.case.scheduled import check_deadlines
from alerts.errors import CaseError
from alerts.models import EventRow
from alerts.routing import Route
from yuqing.records import CaseStatus, Severity

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def case_id(db, clocks):
    with db.session() as s:
        event = EventRow(id="e1", key="k", title="某小区停水", first_seen_at=NOW, last_seen_at=NOW)
        s.add(event)
        s.flush()
        case = service.open_case(s, event=event, severity=Severity.IV, kind="opinion",
                                 route=Route("市城市管理局"), clocks=clocks, now=NOW)
        return case.id


def actions(db, case_id):
    with db.session() as s:
        return [a.action for a in s.scalars(select(AuditRow).where(AuditRow.case_id == case_id)
                                             .order_by(AuditRow.id))]


def test_every_action_is_audited(db, case_id):
    with db.session() as s:
        case = service.get_case(s, case_id=case_id)
        service.add_note(s, case=case, actor="duty", text="已联系供水公司")
        service.assign(s, case=case, actor="duty", assignee="王科长")
        service.set_status(s, case=case, actor="duty", status=CaseStatus.consulting)
        service.close_case(s, case=case, actor="duty", response_url="https://gov.example/reply/1",
                           now=NOW + timedelta(hours=3))
    assert actions(db, case_id) == ["case.open", "case.note", "case.assign", "case.status",
                                    "case.close"]
    with db.session() as s:
        case = service.get_case(s, case_id=case_id)
        assert case.status == "closed" and case.deadlines[0]["met_at"]
        assert [a.kind for a in case.actions] == ["opened", "note", "assign", "status", "close"]


@pytest.mark.parametrize("kw, message", [
    ({}, "回应内容"),
    ({"response_text": "   "}, "回应内容"),
    ({"response_url": "javascript:alert(1)"}, "http"),
])
def test_no_close_without_a_real_response(db, case_id, kw, message):
    with db.session() as s, pytest.raises(CaseError, match=message):
        service.close_case(s, case=service.get_case(s, case_id=case_id), actor="duty", **kw)
    with db.session() as s:
        assert service.get_case(s, case_id=case_id).status == "collecting"


def test_closed_case_is_frozen_and_status_cannot_skip_to_closed(db, case_id):
    with db.session() as s:
        case = service.get_case(s, case_id=case_id)
        with pytest.raises(CaseError):
            service.set_status(s, case=case, actor="d", status=CaseStatus.closed)
        service.close_case(s, case=case, actor="d", response_text="已恢复供水并致歉")
    with db.session() as s, pytest.raises(CaseError, match="已办结"):
        service.add_note(s, case=service.get_case(s, case_id=case_id), actor="d", text="x")


def test_deadline_check_flags_each_overdue_clock_once(db, case_id):
    assert check_deadlines(db, now=NOW + timedelta(hours=47)) == []
    assert check_deadlines(db, now=NOW + timedelta(hours=49)) == [(case_id, "response")]
    assert check_deadlines(db, now=NOW + timedelta(hours=50)) == []
    assert actions(db, case_id)[-1] == "case.overdue"


def test_mark_deadline_met(db, case_id):
    with db.session() as s:
        case = service.get_case(s, case_id=case_id)
        service.mark_deadline_met(s, case=case, actor="d", kind="response", now=NOW)
        with pytest.raises(CaseError):
            service.mark_deadline_met(s, case=case, actor="d", kind="response")
    assert check_deadlines(db, now=NOW + timedelta(hours=49)) == []
