"""处置任务: list filters, permissions, every action through the service and audited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from alerts.case.models import AuditRow, CaseActionRow, CaseExtensionRow, CaseRow
from yuqing.records import Severity

from .conftest import make_post, post_form


def audit_actions(db, case_id: int) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(r.action, r.actor) for r in s.scalars(
            select(AuditRow).where(AuditRow.case_id == case_id).order_by(AuditRow.id))]


def case_row(db, case_id: int) -> CaseRow:
    with db.session() as s:
        return s.get(CaseRow, case_id)


def act(client, case_id: int, action: str, data: dict):
    return post_form(client, f"/cases/{case_id}", f"/cases/{case_id}/{action}", data)


@pytest.fixture
def two_cases(make_case):
    """One case for 江宁区城市管理局 (co: 市城市管理局), one for 市教育局, 3 days old."""
    jn = make_case(severity=Severity.II)
    edu = make_case(topic="education", region="鼓楼区", severity=Severity.III,
                    opened_at=datetime.now(timezone.utc) - timedelta(days=3))
    return jn, edu


# -- list ---------------------------------------------------------------------

def test_list_filters(client_as, two_cases):
    jn, edu = two_cases
    c = client_as("duty")

    def listed(query=""):
        html = c.get(f"/cases/?{query}").get_data(as_text=True)
        return {cid for cid in (jn, edu) if f'href="/cases/{cid}"' in html}

    assert listed() == {jn, edu}
    assert listed("department=市教育局") == {edu}
    assert listed("severity=II") == {jn}
    assert listed("overdue=1") == {edu}
    assert listed("status=collecting") == {jn, edu}
    assert listed("status=closed") == set()
    act(c, edu, "close", {"response_text": "已回应"})
    assert listed() == {jn}
    assert listed("status=closed") == {edu}
    assert listed("status=all") == {jn, edu}


def test_department_sees_own_cases(client_as, two_cases):
    jn, edu = two_cases
    html = client_as("jn_city").get("/cases/").get_data(as_text=True)
    assert f'href="/cases/{jn}"' in html and f'href="/cases/{edu}"' not in html
    assert 'value="江宁区城市管理局" disabled' in html
    # a department filter in the URL does not widen a department user's scope
    html = client_as("edu").get("/cases/?department=江宁区城市管理局").get_data(as_text=True)
    assert f'href="/cases/{jn}"' not in html
    html = client_as("city_mgmt").get("/cases/").get_data(as_text=True)   # co-department
    assert f'href="/cases/{jn}"' in html


# -- permissions --------------------------------------------------------------

def test_other_department_forbidden(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("edu")
    assert c.get(f"/cases/{jn}").status_code == 403
    assert c.get(f"/cases/{jn}/audit").status_code == 403
    token_page = c.get("/cases/").data
    from .conftest import csrf_from
    resp = c.post(f"/cases/{jn}/note", data={"text": "越权", "csrf_token": csrf_from(token_page)})
    assert resp.status_code == 403
    assert ("case.note", "edu") not in audit_actions(db, jn)


def test_leader_reads_but_cannot_act(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("leader")
    html = c.get(f"/cases/{jn}").get_data(as_text=True)
    assert "只有查看权限" in html and f'action="/cases/{jn}/note"' not in html
    for action, data in (("note", {"text": "领导批示"}), ("status", {"status": "consulting"}),
                         ("assign", {"assignee": "x"}), ("deadline", {"kind": "authoritative_info"}),
                         ("close", {"response_text": "已回应"})):
        assert act(c, jn, action, data).status_code == 403, action
    assert audit_actions(db, jn) == [("case.open", "system")]
    assert case_row(db, jn).status == "collecting"


def test_co_department_reads_only(client_as, two_cases):
    jn, _edu = two_cases
    c = client_as("city_mgmt")
    assert c.get(f"/cases/{jn}").status_code == 200
    assert act(c, jn, "note", {"text": "协办意见"}).status_code == 403


def test_owner_department_acts(client_as, two_cases, db):
    jn, _edu = two_cases
    resp = act(client_as("jn_city"), jn, "note", {"text": "已联系供水公司抢修"})
    assert resp.status_code == 302
    assert ("case.note", "jn_city") in audit_actions(db, jn)


def test_post_without_csrf_rejected(client_as, two_cases, db):
    jn, _edu = two_cases
    resp = client_as("duty").post(f"/cases/{jn}/note", data={"text": "无令牌"})
    assert resp.status_code == 400
    assert audit_actions(db, jn) == [("case.open", "system")]


# -- actions ------------------------------------------------------------------

def test_every_action_is_audited(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("duty")
    assert act(c, jn, "note", {"text": "已核实情况"}).status_code == 302
    assert act(c, jn, "status", {"status": "consulting"}).status_code == 302
    assert act(c, jn, "assign", {"assignee": "李科长"}).status_code == 302
    assert act(c, jn, "deadline", {"kind": "authoritative_info"}).status_code == 302
    assert act(c, jn, "close", {"response_text": "已发布情况通报",
                                "response_url": "https://gov.example.cn/notice/1"}).status_code == 302
    assert audit_actions(db, jn) == [
        ("case.open", "system"), ("case.note", "duty"), ("case.status", "duty"),
        ("case.assign", "duty"), ("case.deadline_met", "duty"), ("case.close", "duty")]
    row = case_row(db, jn)
    assert row.status == "closed" and row.assignee == "李科长"
    assert row.response_url == "https://gov.example.cn/notice/1"
    html = c.get(f"/cases/{jn}").get_data(as_text=True)
    assert "已办结" in html and "已核实情况" in html and "李科长" in html
    assert '<a href="https://gov.example.cn/notice/1" rel="noopener noreferrer"' in html
    assert f'action="/cases/{jn}/close"' not in html          # no forms on a closed case
    audit = c.get(f"/cases/{jn}/audit").get_data(as_text=True)
    for label in ("立案", "处置记录", "阶段变更", "指派", "时限完成", "办结"):
        assert label in audit


def test_close_without_response_refused(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("duty")
    resp = act(c, jn, "close", {"response_text": "  ", "response_url": ""})
    assert resp.status_code == 302
    html = c.get(f"/cases/{jn}").get_data(as_text=True)
    assert "办结须录入回应内容或回应链接" in html
    assert case_row(db, jn).status == "collecting"
    assert ("case.close", "duty") not in audit_actions(db, jn)


def test_close_with_bad_url_refused(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("duty")
    act(c, jn, "close", {"response_url": "javascript:alert(1)"})
    assert "回应链接须以 http:// 或 https:// 开头" in c.get(f"/cases/{jn}").get_data(as_text=True)
    assert case_row(db, jn).status == "collecting"


def test_close_with_url_only(client_as, two_cases, db):
    jn, _edu = two_cases
    act(client_as("news"), jn, "close", {"response_url": "https://gov.example.cn/r/2"})
    row = case_row(db, jn)
    assert row.status == "closed" and row.closed_at is not None
    assert all(d.get("met_at") for d in row.deadlines if d["kind"] == "authoritative_info")


def test_closed_case_cannot_change(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("duty")
    act(c, jn, "close", {"response_text": "已回应"})
    act(c, jn, "note", {"text": "补充"})
    assert "案件已办结，不能再修改" in c.get(f"/cases/{jn}").get_data(as_text=True)
    with db.session() as s:
        notes = s.scalar(select(func.count()).select_from(CaseActionRow)
                         .where(CaseActionRow.case_id == jn, CaseActionRow.kind == "note"))
    assert notes == 0


def test_bad_inputs_shown(client_as, two_cases, db):
    jn, _edu = two_cases
    c = client_as("duty")
    act(c, jn, "note", {"text": "   "})
    assert "处置记录不能为空" in c.get(f"/cases/{jn}").get_data(as_text=True)
    act(c, jn, "status", {"status": "closed"})
    assert "请使用“办结”" in c.get(f"/cases/{jn}").get_data(as_text=True)
    act(c, jn, "status", {"status": "nonsense"})
    assert "未知的状态" in c.get(f"/cases/{jn}").get_data(as_text=True)
    act(c, jn, "deadline", {"kind": "nope"})
    assert "没有未完成的时限" in c.get(f"/cases/{jn}").get_data(as_text=True)
    assert audit_actions(db, jn) == [("case.open", "system")]


# -- detail page --------------------------------------------------------------

def test_detail_shows_event_evidence_and_local_deadlines(client_as, make_case):
    opened = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)      # 10:00 in Shanghai
    posts = [make_post(title="供水管爆裂多户停水", author="李四", at=opened - timedelta(hours=2)),
             make_post(title="停水第二天仍未恢复", at=opened - timedelta(hours=1))]
    cid = make_case(severity=Severity.II, posts=posts, opened_at=opened)
    html = client_as("duty").get(f"/cases/{cid}").get_data(as_text=True)
    assert "供水管爆裂多户停水" in html and "停水第二天仍未恢复" in html
    assert "证据信息（2 条）" in html
    assert "首发者</dt><dd>李*</dd>" in html and "2026-03-02 08:00" in html   # first seen, local
    assert "相关信息</dt><dd>2 条</dd>" in html
    assert "发布权威信息" in html and "截止：2026-03-02 15:00（北京时间）" in html   # +5 h
    assert "召开新闻发布会" in html and "截止：2026-03-03 10:00（北京时间）" in html  # +24 h
    assert "dl-overdue" in html and "已超时" in html
    assert "II级 重大" in html and "江宁区城市管理局" in html and "市城市管理局" in html


def test_detail_escapes_and_masks(client_as, make_case):
    cid = make_case(posts=[make_post(title="<script>alert(1)</script>",
                                     text="楼主电话13812345678，<img src=x onerror=alert(2)>",
                                     author="王小明", url="javascript:alert(3)")])
    html = client_as("duty").get(f"/cases/{cid}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "13812345678" not in html and "138****5678" in html
    assert "王小明" not in html and "王**" in html
    assert "javascript:" not in html


def test_note_text_escaped(client_as, two_cases):
    jn, _edu = two_cases
    c = client_as("duty")
    act(c, jn, "note", {"text": "<script>alert('note')</script>"})
    for url in (f"/cases/{jn}", f"/cases/{jn}/audit"):
        html = c.get(url).get_data(as_text=True)
        assert "<script>alert(" not in html and "&lt;script&gt;" in html


def test_missing_case_404(client_as):
    assert client_as("duty").get("/cases/424242").status_code == 404


# -- 转办 and extensions through the forms -------------------------------------


def test_transfer_form_moves_the_case_with_a_reason(client_as, two_cases, db):
    jn, _ = two_cases
    duty = client_as("duty")
    refused = act(duty, jn, "transfer", {"department": "市教育局", "reason": ""})
    assert refused.status_code == 302 and case_row(db, jn).owner_department == "江宁区城市管理局"
    act(duty, jn, "transfer", {"department": "不存在的部门", "reason": "误派"})
    assert case_row(db, jn).owner_department == "江宁区城市管理局"
    act(duty, jn, "transfer", {"department": "市教育局", "reason": "涉及学校供水，属教育局管辖"})
    assert case_row(db, jn).owner_department == "市教育局"
    assert ("case.transfer", "duty") in audit_actions(db, jn)
    # the old department no longer acts on it; the new one does
    assert act(client_as("jn_city"), jn, "note", {"text": "x"}).status_code == 403
    assert act(client_as("edu"), jn, "note", {"text": "已接收"}).status_code == 302


def test_extension_needs_a_leader(client_as, make_case, db):
    board = make_case(kind="board", severity=Severity.IV)
    due = {d["kind"]: d["due_at"] for d in case_row(db, board).deadlines}
    assert "reply" in due
    duty = client_as("duty")
    act(duty, board, "extension", {"clock": "reply", "working_days": "3", "reason": "需现场核查"})
    with db.session() as s:
        ext_id = s.scalar(select(CaseExtensionRow.id).where(CaseExtensionRow.case_id == board))
    page = f"/cases/{board}"
    assert post_form(duty, page, f"/cases/{board}/extension/{ext_id}",
                     {"decision": "approve"}).status_code == 403
    assert {d["kind"]: d["due_at"] for d in case_row(db, board).deadlines}["reply"] == due["reply"]
    leader = client_as("leader")
    assert post_form(leader, page, f"/cases/{board}/extension/{ext_id}",
                     {"decision": "approve"}).status_code == 302
    new_due = {d["kind"]: d["due_at"] for d in case_row(db, board).deadlines}["reply"]
    assert new_due > due["reply"]
    actions = audit_actions(db, board)
    assert ("case.extension_request", "duty") in actions
    assert ("case.extension_decide", "leader") in actions
