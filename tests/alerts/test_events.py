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


def test_a_repost_in_traditional_characters_joins_the_story(db):
    from classifier.hanzi import to_simplified

    trad = "江寧區某小區自來水管道爆裂，全小區停水已經三天，物業和供水公司互相推諉無人處理"
    assert to_simplified(trad) == TEXT
    g = EventGrouper()
    orig = cpost(TEXT, at=NOW - timedelta(hours=1), source="bbs")
    repost = cpost(f"轉發：{trad}", at=NOW, source="weibo")
    with db.session() as s:
        ids = g.assign(s, [orig, repost], NOW)
    assert ids[orig.id] == ids[repost.id]


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


def test_batch_signatures_are_datasketch_minhash():
    """Stored signatures are reloaded after a restart: they must stay datasketch's values."""
    import random

    import numpy as np
    from datasketch import MinHash

    from alerts.minhash import NUM_PERM, SCHEME, SEED, Signer, shingles

    rng = random.Random(3)
    alphabet = "停水小区物业ab1😀𠀋é"  # (CJK, ASCII, digits, outside the BMP, accents)
    texts = ["", "!!", "停", "停水", "停水了", "转发：" + TEXT, TEXT, TEXT + "。", "水水水水水",
             "停水三天沒人管", "醫院"] + [
        "".join(rng.choice(alphabet) if rng.random() < 0.3 else chr(rng.randrange(0x4E00, 0x4E80))
                for _ in range(rng.randrange(1, 3000))) for _ in range(200)]

    def datasketch(text):
        m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
        m.update_batch([s.encode("utf-8") for s in shingles(text)])
        return m.hashvalues.tolist()

    signer = Signer(max_shingles=50_000)  # (small: its table starts again on the way)
    sigs = np.concatenate([signer.signatures(texts[i:i + 37]) for i in range(0, len(texts), 37)])
    assert np.array_equal(signer.signatures(texts[::-1]), sigs[::-1])  # from the caches
    for text, sig in zip(texts, sigs):
        assert sig.tolist() == datasketch(text)
    fresh = Signer()
    for text in texts[:20]:  # one at a time, against a table the batch filled
        assert fresh.signatures([text])[0].tolist() == datasketch(text)


def _state(s, eid):
    ev = s.get(EventRow, eid)
    hours = volume(s, eid, NOW - timedelta(days=1), NOW + timedelta(days=5))
    return ev.post_count, ev.negative_count, sorted(ev.sources), hours["posts"]


def test_two_posts_of_a_new_event_in_one_batch(db):
    a = cpost(TEXT, at=NOW - timedelta(minutes=5), source="bbs", author="李四")
    b = cpost("转发：" + TEXT, at=NOW, source="weibo", sentiment="neutral")
    with db.session() as s:
        ids = EventGrouper().assign(s, [b, a], NOW)
    assert ids[a.id] == ids[b.id] == a.cluster_id == b.cluster_id
    with db.session() as s:
        assert _state(s, ids[a.id]) == (2, 1, ["bbs", "weibo"], 2)
        assert s.get(EventRow, ids[a.id]).first_poster == "李四"


def test_updated_post_and_redelivered_batch_count_once(db):
    g = EventGrouper()
    a, b = cpost(TEXT, at=NOW), cpost("转发 " + TEXT, at=NOW)
    update = a.model_copy(update={"text": TEXT + "（更新）"})  # the same post, edited
    with db.session() as s:
        ids = g.assign(s, [a, b, update], NOW)  # and within one batch
    eid = ids[a.id]
    with db.session() as s:
        assert _state(s, eid) == (2, 2, ["test"], 2)
    later = NOW + timedelta(minutes=10)
    with db.session() as s:
        assert g.assign(s, [update, b], later) == {a.id: eid, b.id: eid}
        assert g.assign(s, [a, b], later) == {a.id: eid, b.id: eid}  # re-delivered
    restarted = EventGrouper()
    with db.session() as s:
        restarted.load(s, later)
        assert restarted.assign(s, [b, a], later) == {a.id: eid, b.id: eid}
    with db.session() as s:
        assert _state(s, eid) == (2, 2, ["test"], 2)


def test_post_seen_again_after_its_event_closed_counts_once(db):
    g = EventGrouper(window=timedelta(hours=48))
    a = cpost(TEXT, at=NOW)
    with db.session() as s:
        eid = g.assign(s, [a], NOW)[a.id]
    later = NOW + timedelta(days=3)
    with db.session() as s:
        assert g.assign(s, [a], later) == {a.id: eid}
        assert eid not in g.last_seen and not any(g.tables)  # the closed event left the index
    with db.session() as s:
        assert _state(s, eid)[0] == 1


def test_rollback_of_a_batch_is_redone(db):
    """The index is updated before the batch commits: a batch rolled back (a crash in the
    rules, say) and delivered again still writes its events."""
    g = EventGrouper()
    a, b = cpost(TEXT, at=NOW), cpost("转发 " + TEXT, at=NOW)
    try:
        with db.session() as s:
            g.assign(s, [a, b], NOW)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    with db.session() as s:
        ids = g.assign(s, [a, b], NOW)
    with db.session() as s:
        assert ids[a.id] == ids[b.id] and _state(s, ids[a.id]) == (2, 2, ["test"], 2)


def test_signatures_stored_packed_and_as_lists_before_rebuild_the_index(db):
    from alerts.minhash import Signer, pack, unpack
    from alerts.models import EventPostRow

    sigs = Signer().signatures([TEXT, "市图书馆延长周末开放时间"])
    assert unpack(pack(sigs)).tolist() == sigs.tolist()
    assert unpack([sigs[0].tolist()]).tolist() == sigs[:1].tolist()
    first, other = cpost(TEXT, at=NOW), cpost("市图书馆延长周末开放时间，市民反响良好", at=NOW)
    with db.session() as s:
        ids = EventGrouper().assign(s, [first, other], NOW)
        assert isinstance(s.get(EventPostRow, (ids[first.id], first.id)).signature, str)
    with db.session() as s:  # the first as rows were written before: a list of the values
        s.get(EventPostRow, (ids[first.id], first.id)).signature = sigs[0].tolist()
    g = EventGrouper()
    with db.session() as s:
        g.load(s, NOW)
        a, b = cpost("转发：" + TEXT, at=NOW), cpost("转 市图书馆延长周末开放时间，市民反响良好", at=NOW)
        assert g.assign(s, [a, b], NOW) == {a.id: ids[first.id], b.id: ids[other.id]}
