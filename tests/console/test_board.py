"""预警看板: alerts with coloured severity, counters, topic/sentiment mix, auto refresh."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from yuqing.records import Severity

from .conftest import make_post


def test_board_shows_alerts_and_counters(client_as, make_case, index_posts):
    recent = make_case(severity=Severity.II)
    late = make_case(topic="education", region="鼓楼区", severity=Severity.III,
                     opened_at=datetime.now(timezone.utc) - timedelta(days=3))
    index_posts(make_post(at=datetime.now(timezone.utc) - timedelta(days=5)))
    html = client_as("news").get("/").get_data(as_text=True)
    assert "预警看板" in html
    assert '<meta http-equiv="refresh" content="10">' in html
    assert 'class="badge sev-orange"' in html and "II级 重大" in html
    assert 'class="badge sev-yellow"' in html and "III级 较大" in html
    assert "供水/供电/供气/供热" in html and "教育" in html and "江宁区" in html
    assert f'href="/cases/{recent}"' in html and f'href="/cases/{late}"' in html
    # 3 posts per case today (the 5-day-old one is not), 1 alert today, 2 open, 1 overdue
    assert '<span class="num">6</span><span class="lbl">今日入库信息</span>' in html
    assert '<span class="num">1</span><span class="lbl">今日预警</span>' in html
    assert '<span class="num">2</span><span class="lbl">在办任务</span>' in html
    assert '<span class="num">1</span><span class="lbl">超时任务</span>' in html


def test_board_severity_colours(client_as, make_case):
    for sev in Severity:
        make_case(severity=sev)
    html = client_as("leader").get("/").get_data(as_text=True)
    for sev, colour, label in (("IV", "blue", "一般"), ("III", "yellow", "较大"),
                               ("II", "orange", "重大"), ("I", "red", "特别重大")):
        assert f'<span class="badge sev-{colour}" title="{sev}级">{sev}级 {label}</span>' in html


def test_board_topic_and_sentiment_mix(client_as, index_posts):
    index_posts(make_post(topics=("education",), sentiment="negative"),
                make_post(topics=("education",), sentiment="positive"),
                make_post(topics=("transport",), sentiment="negative"))
    html = client_as("duty").get("/").get_data(as_text=True)
    assert '<a href="/search/?topic=education">教育</a>' in html
    assert 'value="2">2</meter>' in html        # education: 2, negative: 2
    assert "交通出行" in html and "负面" in html and "正面" in html


def test_board_without_alerts(client_as):
    html = client_as("duty").get("/").get_data(as_text=True)
    assert "暂无预警" in html


def test_board_summary_escaped(client_as, make_case, db):
    from alerts.models import AlertRow
    make_case()
    with db.session() as s:
        s.query(AlertRow).update({"summary": "<img src=x onerror=alert(1)> 电话13812345678"})
    html = client_as("duty").get("/").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "13812345678" not in html and "138****5678" in html


def test_board_marks_recovered_alerts(client_as, make_case, db):
    from alerts.models import AlertRow
    make_case()
    make_case(topic="education", region="鼓楼区")
    with db.session() as s:
        first = s.query(AlertRow).order_by(AlertRow.id).first()
        first.recovered_at = datetime(2026, 11, 23, 6, 30, tzinfo=timezone.utc)
    html = client_as("duty").get("/").get_data(as_text=True)
    assert html.count("status-recovered") == 1 and "已恢复 11-23 14:30" in html
