"""通知记录: the list, and the token link that records a notice as read."""
from alerts.case.models import CaseRow
from alerts.notify.config import load_escalation
from alerts.notify.escalation import escalate
from alerts.notify.models import NoticeRow
from yuqing.config import REPO_ROOT
from yuqing.db import now_utc
from yuqing.records import Severity


def test_notice_list_and_read_link(client_as, client, make_case, db):
    cid = make_case(severity=Severity.II)
    policy = load_escalation(REPO_ROOT / "config" / "escalation.yaml")
    with db.session() as s:
        escalate(s, policy, s.get(CaseRow, cid), level=1, reason="near", now=now_utc())
    with db.session() as s:
        notice = s.query(NoticeRow).first()
        token = notice.token
    html = client_as("duty").get("/notices/").get_data(as_text=True)
    assert "通知记录" in html and "d***@news.example.gov.cn" in html and "未读" in html
    assert "江宁区城市管理局" not in client_as("edu").get("/notices/").get_data(as_text=True)
    resp = client.get(f"/notices/r/{token}")          # no login needed to record the read
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{cid}")
    assert client.get("/notices/r/not-a-token").status_code == 404
    with db.session() as s:
        assert s.get(NoticeRow, notice.id).read_at is not None
