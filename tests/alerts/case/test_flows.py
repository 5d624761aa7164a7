"""Transfer, extensions (leader, 15 working days), inquiry/complaint clocks, evaluation."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from alerts.case import flows, service
from alerts.case.evaluation import evaluate_cases
from alerts.engine import AlertsEngine
from alerts.errors import CaseError
from alerts.models import EventRow
from alerts.routing import Route
from alerts.rules.keyword import Keyword, KeywordOptions
from tests.helpers import cpost
from yuqing.records import Severity

CST = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc)  # Wed 10:00 local, before 国庆


def board_case(db, clocks, kind="board_inquiry"):
    with db.session() as s:
        event = EventRow(id="eb", key="k", title="留言：小区停水", first_seen_at=NOW, last_seen_at=NOW)
        s.add(event)
        s.flush()
        return service.open_case(s, event=event, severity=Severity.IV, kind=kind,
                                 route=Route("市城市管理局"), clocks=clocks, now=NOW).id


def due(db, cid, kind):
    with db.session() as s:
        d = next(d for d in service.get_case(s, case_id=cid).deadlines if d["kind"] == kind)
        return datetime.fromisoformat(d["due_at"]).astimezone(CST).date().isoformat()


def test_inquiry_5_and_complaint_7_working_days_over_holidays(db, clocks):
    assert due(db, board_case(db, clocks), "reply") == "2026-10-13"
    with db.session() as s:
        event = EventRow(id="ec", key="k2", title="t", first_seen_at=NOW, last_seen_at=NOW)
        s.add(event)
        s.flush()
        cid = service.open_case(s, event=event, severity=Severity.IV, kind="board_complaint",
                                route=Route("x"), clocks=clocks, now=NOW).id
    assert due(db, cid, "reply") == "2026-10-15"  # Oct 8, 9, 10 (make-up), 12, 13, 14, 15
    assert clocks.board_kind("我要投诉物业") == "board_complaint"
    assert clocks.board_kind("请问何时恢复供水") == "board_inquiry"


def test_engine_opens_board_complaint_from_the_post_text(db, routing, clocks):
    rule = Keyword(KeywordOptions(name="kw", type="keyword", lists=[
        {"name": "民生", "severity": "IV", "words": ["停水"]}]))
    eng = AlertsEngine(db=db, rules=[rule], routing=routing, clocks=clocks)
    eng.process([cpost("我要投诉：小区停水三天", source_type="board")], now=NOW)
    with db.session() as s:
        from alerts.case.models import CaseRow
        case = s.query(CaseRow).one()
        assert case.kind == "board_complaint" and {d["kind"] for d in case.deadlines} == {"forward", "reply"}


def test_transfer_with_reason_meets_forward_clock_and_is_audited(db, clocks):
    cid = board_case(db, clocks)
    with db.session() as s:
        case = service.get_case(s, case_id=cid)
        with pytest.raises(CaseError, match="理由"):
            flows.transfer(s, case=case, actor="duty", department="市水务局", reason=" ")
        flows.transfer(s, case=case, actor="duty", department="市水务局", reason="供水归水务",
                       now=NOW + timedelta(hours=2))
    with db.session() as s:
        case = service.get_case(s, case_id=cid)
        assert case.owner_department == "市水务局"
        assert next(d for d in case.deadlines if d["kind"] == "forward")["met_at"]
        assert case.actions[-1].kind == "transfer" and "供水归水务" in case.actions[-1].text


def test_extension_needs_a_leader_and_stays_within_15_working_days(db, clocks):
    cid = board_case(db, clocks)
    with db.session() as s:
        case = service.get_case(s, case_id=cid)
        with pytest.raises(CaseError, match="上限"):
            flows.request_extension(s, case=case, actor="dept", clocks=clocks, clock="reply",
                                    working_days=11, reason="需现场核查")
        with pytest.raises(CaseError, match="不能延期"):
            flows.request_extension(s, case=case, actor="dept", clocks=clocks, clock="forward",
                                    working_days=1, reason="x")
        ext = flows.request_extension(s, case=case, actor="dept", clocks=clocks, clock="reply",
                                      working_days=5, reason="需现场核查")
        with pytest.raises(CaseError, match="待审批"):
            flows.request_extension(s, case=case, actor="dept", clocks=clocks, clock="reply",
                                    working_days=1, reason="again")
        with pytest.raises(CaseError, match="领导"):
            flows.decide_extension(s, extension=ext, actor="duty", actor_role="duty_officer",
                                   approve=True, clocks=clocks)
        flows.decide_extension(s, extension=ext, actor="boss", actor_role="leader", approve=True,
                               clocks=clocks)
    assert due(db, cid, "reply") == "2026-10-20"  # 5 more working days after Oct 13
    with db.session() as s:
        case = service.get_case(s, case_id=cid)
        ext = flows.request_extension(s, case=case, actor="dept", clocks=clocks, clock="reply",
                                      working_days=5, reason="再延")
        flows.decide_extension(s, extension=ext, actor="boss", actor_role="leader", approve=False,
                               clocks=clocks)
        with pytest.raises(CaseError, match="上限"):
            flows.request_extension(s, case=case, actor="dept", clocks=clocks, clock="reply",
                                    working_days=6, reason="超限")
    assert due(db, cid, "reply") == "2026-10-20"


def test_evaluation_records_volume_and_negative_share_at_24h_and_72h(db, routing, clocks):
    rule = Keyword(KeywordOptions(name="kw", type="keyword", lists=[
        {"name": "民生", "severity": "IV", "words": ["停水"]}]))
    eng = AlertsEngine(db=db, rules=[rule], routing=routing, clocks=clocks)
    text = "江宁区某小区停水三天无人处理，居民生活受到严重影响"
    eng.process([cpost(text, at=NOW - timedelta(hours=h)) for h in range(1, 5)], now=NOW)
    with db.session() as s:
        from alerts.case.models import CaseRow
        case = s.query(CaseRow).one()
        service.close_case(s, case=case, actor="d", response_text="已恢复供水", now=NOW)
        cid = case.id
    after = [cpost("转发：" + text, at=NOW + timedelta(hours=2)),
             cpost(text + "。已恢复", sentiment="positive", at=NOW + timedelta(hours=30))]
    eng.process(after, now=NOW + timedelta(hours=31))
    assert evaluate_cases(db, now=NOW + timedelta(hours=23)) == []
    assert evaluate_cases(db, now=NOW + timedelta(hours=25)) == [(cid, "24h")]
    assert evaluate_cases(db, now=NOW + timedelta(days=5)) == [(cid, "72h")]
    with db.session() as s:
        ev = service.get_case(s, case_id=cid).evaluation
    assert ev["before"]["posts"] == 4 and ev["before"]["negative_share"] == 1.0
    assert ev["24h"]["posts"] == 1 and ev["72h"]["posts"] == 2 and ev["72h"]["negative_share"] == 0.5
