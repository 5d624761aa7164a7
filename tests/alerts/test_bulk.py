"""Rows written in bulk are stored exactly as the ORM stores them, on both backends."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from alerts import bulk
from alerts.models import EventBucketRow, EventPostRow, EventRow

NOW = datetime(2026, 11, 20, 2, 0, 0, 123456, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))


def event(eid, **kw):
    return dict(id=eid, key=f"event:{eid}", kind="content", title="小区停水", first_post_id=None,
                first_poster=None, first_seen_at=NOW, last_seen_at=NOW.astimezone(CST),
                post_count=1, negative_count=0, sources=["bbs", "微博"], topic=None,
                region="江宁区", **kw)


def raw(db, table, key, value):
    with db.session() as s:
        row = s.execute(text(f"SELECT * FROM {table} WHERE {key} = :v"), {"v": value}).mappings().one()
        return {k: v for k, v in row.items() if k != key}


def test_inserted_rows_are_stored_as_the_orm_stores_them(db):
    member = dict(seen_at=NOW, posted_at=NOW.astimezone(CST), source="bbs", sentiment="negative",
                  signature=[0, 7, 4294967295])
    with db.session() as s:
        s.add(EventRow(**event("orm")))
        s.flush()
        s.add(EventPostRow(event_id="orm", post_id="p-orm", **member))
        s.add(EventBucketRow(event_id="orm", hour=NOW.replace(minute=0, second=0, microsecond=0),
                             posts=2, negative=1))
    with db.session() as s:
        bulk.insert_rows(s, EventRow.__table__, [event("bulk")])
        bulk.insert_rows(s, EventPostRow.__table__,
                         [dict(event_id="bulk", post_id="p-bulk", **member)])
        bulk.insert_rows(s, EventBucketRow.__table__, [dict(
            event_id="bulk", hour=NOW.replace(minute=0, second=0, microsecond=0), posts=2,
            negative=1)])
    strip = lambda r: {k: v for k, v in r.items() if k not in ("id", "key", "event_id")}  # noqa: E731
    assert strip(raw(db, "events", "id", "bulk")) == strip(raw(db, "events", "id", "orm"))
    assert raw(db, "event_posts", "post_id", "p-bulk") == {
        **raw(db, "event_posts", "post_id", "p-orm"), "event_id": "bulk"}
    assert strip(raw(db, "event_buckets", "event_id", "bulk")) == strip(
        raw(db, "event_buckets", "event_id", "orm"))
    with db.session() as s:  # and read back through the models
        ev = s.get(EventRow, "bulk")
        assert ev.sources == ["bbs", "微博"] and ev.last_seen_at == NOW and ev.first_post_id is None
        assert s.get(EventPostRow, ("bulk", "p-bulk")).signature == [0, 7, 4294967295]


def test_select_in_and_add_counts(db):
    ids = [f"e{i}" for i in range(2500)]
    with db.session() as s:
        bulk.insert_rows(s, EventRow.__table__, [event(e) for e in ids[::2]])
    with db.session() as s:
        found = bulk.select_in(s, EventRow.id, EventRow.id, ids)
        assert sorted(found) == sorted(ids[::2])
        assert bulk.select_in(s, EventRow, EventRow.id, []) == []
        hour = NOW.replace(minute=0, second=0, microsecond=0)
        for n in (1, 2):
            bulk.add_counts(s, EventBucketRow.__table__, ["event_id", "hour"],
                            ["posts", "negative"], [dict(event_id="e0", hour=hour, posts=n,
                                                         negative=1)])
    with db.session() as s:
        [b] = s.scalars(select(EventBucketRow)).all()
        assert (b.posts, b.negative) == (3, 2)
