"""Content events: reposts folded into the original, kept apart from other stories, rebuilt
after a restart, with hourly volume."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from alerts.events import EventGrouper, volume
from alerts.models import EventRow
from tests.helpers import cpost

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
TEXT = "江宁区某小区自来水管道爆裂，全小区停水已经三天，物业和供水公司互相推诿无人处理"


def test_reposts_join_the_original_and_other_stories_stay_apart(db):
    g = EventGrouper()
    orig = cpost(TEXT, at=NOW - timedelta(hours=1), author="李四", source="bbs")
    copies = [cpost(f"转发：{TEXT}", at=NOW, source="weibo"),
              cpost(TEXT + "！！", at=NOW, source="toutiao", sentiment="neutral")]
    other = cpost("市图书馆延长周末开放时间，市民反响良好", at=NOW, sentiment="positive")
    with db.session() as s:
        ids = g.assign(s, [*copies, orig, other], NOW)
    assert ids[orig.id] == ids[copies[0].id] == ids[copies[1].id] != ids[other.id]
    assert orig.cluster_id == ids[orig.id]
    with db.session() as s:
        ev = s.get(EventRow, ids[orig.id])
        assert ev.post_count == 3 and ev.first_poster == "李四" and ev.first_post_id == orig.id
        assert sorted(ev.sources) == ["bbs", "toutiao", "weibo"] and ev.negative_count == 2
        assert volume(s, ev.id, NOW - timedelta(hours=1), NOW + timedelta(hours=1)) == {
            "posts": 3, "negative": 2, "negative_share": 0.667}
        assert volume(s, ev.id, NOW, NOW + timedelta(hours=1))["posts"] == 2


def test_index_is_rebuilt_after_restart_and_updated_post_counts_once(db):
    first = cpost(TEXT, at=NOW)
    with db.session() as s:
        eid = EventGrouper().assign(s, [first], NOW)[first.id]
    g = EventGrouper()
    with db.session() as s:
        g.load(s, NOW)
        later = cpost("转发 " + TEXT, at=NOW + timedelta(days=1))
        assert g.assign(s, [later, first], NOW + timedelta(days=1)) == {later.id: eid, first.id: eid}
    with db.session() as s:
        assert s.get(EventRow, eid).post_count == 2


def test_event_closes_after_its_window(db):
    g = EventGrouper(window=timedelta(hours=48))
    a, b = cpost(TEXT, at=NOW), cpost(TEXT, at=NOW + timedelta(days=3))
    with db.session() as s:
        ea = g.assign(s, [a], NOW)[a.id]
        eb = g.assign(s, [b], NOW + timedelta(days=3))[b.id]
    assert ea != eb
    with db.session() as s:
        assert len(s.scalars(select(EventRow)).all()) == 2
