"""A scripted day through the whole pipeline: SQLite bus and index, the real classifier, the
alerts engine on simulated time, the clocks, escalation and notice delivery."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from alerts.case.models import CaseRow
from alerts.engine import AlertsEngine
from alerts.models import AlertRow, EventRow
from alerts.notify.config import load_escalation
from alerts.notify.dispatch import deliver_pending
from alerts.notify.models import EscalationRow, NoticeRow
from alerts.rules import load_rules
from alerts.scheduled import clock_job
from classifier.model import Classifier
from stream.bus import RAW
from stream.sqlite_bus import SQLiteBus
from stream.sqlite_index import SQLiteIndex
from stream.worker import ModelHolder, Pipeline
from yuqing.config import REPO_ROOT
from yuqing.records import Post, post_id_for

CONFIG = REPO_ROOT / "config"
DAY = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)  # 08:00 Beijing time
BLAST = ("江宁区某化工厂今天上午发生爆炸，现场浓烟滚滚，已造成多人受伤，周边居民紧急疏散，"
         "知情人王先生电话13812345678")
SOURCES = ["weibo", "toutiao", "douyin", "bbs_jn", "wechat_a", "wechat_b"]
ORDINARY = ["市图书馆延长周末开放时间，市民反响良好", "新开通的公交线路方便了居民出行",
            "社区养老服务中心举办重阳节活动", "市区新增多个便民停车场",
            "学校食堂引入明厨亮灶工程", "公园改造完成后重新开放"]


class Recorder:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


def post(n, text, at, source="news_site", source_type="news", title="", author="网友甲"):
    return Post(id=post_id_for(f"https://scenario.test/{n}"), source=source,
                source_type=source_type, url=f"https://scenario.test/{n}", title=title, text=text,
                author=author, published_at=at, fetched_at=at)


@pytest.fixture
def world(tmp_path, db, routing, clocks, model_path):
    sim = [DAY]
    engine = AlertsEngine(db=db, rules=load_rules(CONFIG / "rules.yaml"), routing=routing,
                          clocks=clocks, escalation_policy=load_escalation(CONFIG / "escalation.yaml"),
                          clock=lambda: sim[0])
    bus, index = SQLiteBus(tmp_path / "bus.db"), SQLiteIndex(tmp_path / "index.db")
    pipeline = Pipeline(bus=bus, index=index, classifier=ModelHolder(model_path, Classifier.load),
                        engine=engine)
    yield sim, engine, pipeline
    pipeline.close()
    index.close()
    bus.close()


def feed(sim, pipeline, at, posts):
    sim[0] = at
    for p in posts:
        pipeline.bus.publish(RAW, p.id, p.to_json())
    pipeline.bus.flush()
    pipeline.drain()


def test_a_day_of_posts(world, db):
    sim, engine, pipeline = world
    n = iter(range(10_000))
    # 08:00-09:00 an ordinary morning
    feed(sim, pipeline, DAY + timedelta(minutes=50),
         [post(next(n), t, DAY + timedelta(minutes=5 * i)) for i, t in enumerate(ORDINARY)])
    with db.session() as s:
        assert s.scalars(select(AlertRow)).all() == []
    # 09:00 the blast, then reposts on six platforms within 20 minutes
    t0 = DAY + timedelta(hours=1)
    feed(sim, pipeline, t0 + timedelta(minutes=1),
         [post(next(n), BLAST, t0, title="化工厂发生爆炸", author="王小明")])
    reposts = [post(next(n), f"转发：{BLAST}" + ("！" * (i % 3)), t0 + timedelta(minutes=2 + i),
                    source=SOURCES[i % len(SOURCES)], source_type="social", author=f"网友{i}")
               for i in range(12)]
    feed(sim, pipeline, t0 + timedelta(minutes=20), reposts)
    # 14:00 a complaint on the message board
    t1 = DAY + timedelta(hours=6)
    feed(sim, pipeline, t1, [post(next(n), "投诉：秦淮区某小区门口居民聚集拉横幅，要求物业退还多收的费用",
                                 t1, source="board", source_type="board", title="投诉物业")])

    with db.session() as s:
        alerts = s.scalars(select(AlertRow).order_by(AlertRow.created_at)).all()
        blast_event = s.scalar(select(EventRow).where(EventRow.post_count == 13))
        assert blast_event is not None and blast_event.first_poster == "王小明"
        assert len(blast_event.sources) == 7 and blast_event.first_seen_at == t0
        blast_alerts = {a.rule for a in alerts if a.event_id == blast_event.id}
        assert {"watchlist", "sensitive_words", "event_growth"} <= blast_alerts
        cases = s.scalars(select(CaseRow).order_by(CaseRow.id)).all()
        blast_case = next(c for c in cases if c.event_id == blast_event.id)
        assert blast_case.severity == "II"
        assert {d["kind"] for d in blast_case.deadlines} >= {"authoritative_info", "press_conference"}
        board_case = next(c for c in cases if c.kind.startswith("board"))
        assert board_case.kind == "board_complaint" and board_case.severity == "III"
        assert len(cases) == 2
        esc = s.scalars(select(EscalationRow).where(EscalationRow.case_id == blast_case.id)).all()
        assert [(e.level, e.reason) for e in esc] == [(4, "severe")]  # 要情专报

    # the clocks: 13:30 the 5-hour clock is 80 % gone; 14:30 it is past due
    clock_job(db, engine.policy, now=t0 + timedelta(hours=4, minutes=30))
    clock_job(db, engine.policy, now=t0 + timedelta(hours=5, minutes=30))
    # rules judge their windows; the word alerts recover two quiet hours later
    for minutes in range(30, 300, 30):
        sim[0] = t0 + timedelta(minutes=minutes)
        engine.tick()
    rec = Recorder()
    channels = {"email": rec, "wecom_duty": rec, "dingtalk_leaders": rec}
    assert deliver_pending(db, channels, now=t1 + timedelta(minutes=5))["failed"] == 0
    with db.session() as s:
        steps = [(e.level, e.reason, e.clock) for e in s.scalars(
            select(EscalationRow).where(EscalationRow.case_id == blast_case.id)
            .order_by(EscalationRow.id))]
        assert steps[:3] == [(4, "severe", None), (1, "near", "authoritative_info"),
                             (2, "overdue", "authoritative_info")]
        assert ("recovery" in {r for _l, r, _c in steps})
        recovered = s.scalars(select(AlertRow).where(AlertRow.recovered_at.is_not(None))).all()
        assert {"watchlist", "sensitive_words"} <= {a.rule for a in recovered}
        notices = s.scalars(select(NoticeRow)).all()
        assert notices and all(n.status == "sent" for n in notices)
    assert len(rec.sent) == len(notices)
    assert all("13812345678" not in m.text and "王小明" not in m.text for m in rec.sent)
    assert any("要情专报" in m.subject for m in rec.sent)
