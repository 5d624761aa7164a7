"""Rule window state: bounded whatever the volume, the same judgement as counting every post,
and the state saved by earlier versions (lists of every post) still read."""
import json
from datetime import datetime, timedelta, timezone

from alerts.rules import event_growth, negative_share, new_term, volume_spike
from alerts.rules.event_growth import EventGrowth, EventGrowthOptions
from alerts.rules.negative_share import NegativeShare, NegativeShareOptions
from alerts.rules.new_term import NewTerm, NewTermOptions
from alerts.rules.volume_spike import VolumeSpike, VolumeSpikeOptions
from tests.helpers import cpost

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def at(minutes: float):
    return NOW + timedelta(minutes=minutes)


def roundtrip(rule, again):
    """The state as the engine saves and reads it: through JSON."""
    again.set_state(json.loads(json.dumps(rule.get_state())))
    return again


def test_volume_spike_state_is_bounded_and_survives_json():
    make = lambda: VolumeSpike(VolumeSpikeOptions(name="v", type="volume_spike", min_count=5))  # noqa: E731
    rule = make()
    for i in range(10):
        rule.add_data([cpost(at=at(i * 0.1)) for _ in range(300)], at(i * 0.1))
    assert len(rule.recent["utilities|"]) == volume_spike.RECENT
    again = roundtrip(rule, make())
    assert again.buckets == rule.buckets and again.recent["utilities|"] == rule.recent["utilities|"]
    [cand] = again.add_data([cpost(at=at(1))], at(1))
    assert cand.window["count"] == 3001 and len(cand.evidence) == 50


def test_negative_share_counts_every_post_with_bounded_state():
    make = lambda: NegativeShare(NegativeShareOptions(  # noqa: E731
        name="n", type="negative_share", window_minutes=60, baseline_windows=3, min_posts=10,
        min_share=0.6, min_rise=0.2))
    rule = make()
    rule.add_data([cpost(sentiment="neutral", at=at(-100)) for _ in range(900)]
                  + [cpost(sentiment="negative", at=at(-100)) for _ in range(300)], at(-100))
    [cand] = rule.add_data([cpost(sentiment="negative", at=at(-1)) for _ in range(700)]
                           + [cpost(sentiment="neutral", at=at(-1)) for _ in range(300)], NOW)
    assert cand.window == {"minutes": 60, "posts": 1000, "share": 0.7, "baseline": 0.25}
    assert len(cand.evidence) == 50
    assert len(rule.recent["utilities"]) <= negative_share.RECENT
    assert len(rule.negatives["utilities"]) <= negative_share.EVIDENCE
    again = roundtrip(rule, make())
    assert again._judge("utilities", NOW).window == cand.window
    assert again.tick(at(30)) == []  # still firing from the state read back
    assert [c.recovery for c in again.tick(at(200))] == [True]


def test_negative_share_reads_the_state_of_every_post():
    old = {"active": {}, "seen": {"utilities": [[int(at(-1).timestamp() // 60), f"p{i}", i < 8]
                                                for i in range(12)]}}
    rule = NegativeShare(NegativeShareOptions(name="n", type="negative_share", min_posts=10,
                                              min_share=0.6, min_rise=0.2))
    rule.set_state(old)
    cand = rule._judge("utilities", NOW)
    assert cand.window["posts"] == 12 and cand.window["share"] == 0.667
    assert cand.evidence == [f"p{i}" for i in range(8)]


def test_event_growth_state_is_bounded_and_reads_the_state_of_every_post():
    make = lambda: EventGrowth(EventGrowthOptions(  # noqa: E731
        name="g", type="event_growth", window_minutes=60, min_posts=10, factor=2))
    rule = make()
    posts = [cpost(at=at(-1)) for _ in range(500)]
    for p in posts:
        p.cluster_id = "ev1"
    [cand] = rule.add_data(posts, NOW)
    assert cand.window["posts"] == 500 and cand.evidence == [p.id for p in posts[-50:]]
    assert len(rule.events["ev1"]["recent"]) == event_growth.RECENT
    assert roundtrip(rule, make())._judge("ev1", NOW).window == cand.window
    m = int(at(-1).timestamp() // 60)
    old = {"active": {}, "events": {"ev1": {
        "posts": [[m, f"p{i}", "weibo"] for i in range(12)], "sources": ["weibo"],
        "new_sources": [], "meta": {"title": "t", "region": None, "topic": None,
                                    "kind": "opinion"}}}}
    rule = make()
    rule.set_state(old)
    assert rule._judge("ev1", NOW).window["posts"] == 12


def test_new_term_counts_every_post_keeps_the_first_and_newest():
    rule = NewTerm(NewTermOptions(name="t", type="new_term", warmup_posts=0, min_posts=3))
    posts = [cpost(at=at(i / 100), region=["汤山街道"]) for i in range(600)]
    cands = rule.add_data(posts, at(6))
    [cand] = [c for c in cands if c.key == "t:汤山街道"]
    assert cand.window["posts"] == 600 and cand.evidence == [p.id for p in posts[-50:]]
    entries = rule.pending["汤山街道"]
    assert len(entries) == new_term.RECENT and entries[0][1] == posts[0].id
    again = NewTerm(NewTermOptions(name="t", type="new_term", warmup_posts=0, min_posts=3))
    again.set_state(json.loads(json.dumps(rule.get_state())))
    assert again.counts == rule.counts and again.pending == rule.pending
    # the state saved before the counts: the entries are the posts
    old = {"active": {}, "known": [], "posts_seen": 9,
           "pending": {"新词": [[int(NOW.timestamp() // 60), f"p{i}", "utilities", "board"]
                              for i in range(4)]}}
    again.set_state(old)
    assert sum(again.counts["新词"].values()) == 4
    [cand] = again.add_data([cpost(at=NOW, region=["新词"])], NOW)
    assert cand.window["posts"] == 5 and cand.kind == "board"


def test_facts_are_shared_by_the_rules_of_one_batch_only():
    from alerts.rules.base import facts

    posts = [cpost(at=at(-1), region=["江宁区"], sentiment="negative"), cpost(at=at(5))]
    first = facts(posts, NOW)
    assert facts(posts, NOW) is first                   # the next rule on the same batch
    assert [f.at for f in first] == [at(-1), NOW]       # not later than now
    assert first[0].region == "江宁区" and first[0].negative and first[0].topics == ("utilities",)
    assert facts(list(posts), NOW) is not first         # another batch
    assert facts(posts, at(10))[1].at == at(5)          # judged at another time
