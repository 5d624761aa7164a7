"""Each rule type on scripted post streams: fires, stays quiet, re-alerts, recovers."""
from datetime import datetime, timedelta, timezone

from alerts.rules.event_growth import EventGrowth, EventGrowthOptions
from alerts.rules.keyword import Keyword, KeywordOptions
from alerts.rules.negative_share import NegativeShare, NegativeShareOptions
from alerts.rules.new_term import NewTerm, NewTermOptions
from alerts.rules.sensitive import Sensitive, SensitiveOptions
from alerts.rules.source_silent import SourceSilent, SourceSilentOptions
from alerts.rules.volume_spike import VolumeSpike, VolumeSpikeOptions
from tests.helpers import cpost
from yuqing.config import REPO_ROOT
from yuqing.records import Severity

# Monday 2026-11-16 09:00 local (01:00 UTC)
MON9 = datetime(2026, 11, 16, 1, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def at(minutes: float, base=NOW):
    return base + timedelta(minutes=minutes)


# -- volume spike, seasonal baseline ------------------------------------------

def seasonal():
    return VolumeSpike(VolumeSpikeOptions(
        name="season", type="volume_spike", baseline="seasonal", window_minutes=10, factor=3,
        min_count=5, seasonal_weeks=4))


def history(rule, weeks=3, per_hour=60):
    """Every Monday 09:00-10:00 for `weeks` weeks before MON9: `per_hour` posts."""
    for w in range(weeks, 0, -1):
        start = MON9 - timedelta(weeks=w)
        posts = [cpost(at=start + timedelta(minutes=i * 60 / per_hour)) for i in range(per_hour)]
        rule.add_data(posts, start + timedelta(minutes=59))


def test_seasonal_spike_quiet_in_the_usual_monday_rush_fires_at_night():
    rule = seasonal()
    history(rule)
    now = MON9 + timedelta(minutes=10)
    rush = [cpost(at=now - timedelta(minutes=i * 0.6)) for i in range(15)]  # 15 in 10 min
    assert rule.add_data(rush, now) == []  # the usual Monday 9:00 rate is 10 per 10 min
    night = MON9 + timedelta(hours=18)  # Monday 03:00 local the next night: usually nothing
    [cand] = rule.add_data([cpost(at=night - timedelta(minutes=i)) for i in range(6)], night)
    assert cand.window["basis"] == "seasonal" and cand.window["baseline"] == 0
    assert "近 3 周同一时段" in cand.summary


def test_seasonal_spike_falls_back_to_recent_without_history_and_recovers():
    rule = seasonal()
    [cand] = rule.add_data([cpost(at=at(-i)) for i in range(6)], NOW)
    assert "近期基线" in cand.summary
    assert rule.tick(at(5)) == []  # still 6 in the window
    [rec] = rule.tick(at(30))
    assert rec.recovery and rec.key == cand.key and "回落" in rec.summary
    assert rule.tick(at(40)) == []  # recovered once


def test_volume_spike_state_with_seasonal_history_survives_restart():
    rule = seasonal()
    history(rule, weeks=1)
    again = seasonal()
    again.set_state(rule.get_state())
    assert again.hourly == rule.hourly and again.first_hour == rule.first_hour


# -- negative share -----------------------------------------------------------

def neg_rule(**kw):
    opts = dict(name="neg", type="negative_share", window_minutes=60, baseline_windows=3,
                min_posts=10, min_share=0.6, min_rise=0.2,
                levels=[{"share": 0.6, "severity": "IV"}, {"share": 0.9, "severity": "III"}])
    opts.update(kw)
    return NegativeShare(NegativeShareOptions(**opts))


def mix(n_neg, n_other, when, **kw):
    return ([cpost(sentiment="negative", at=when, **kw) for _ in range(n_neg)]
            + [cpost(sentiment="neutral", at=when, **kw) for _ in range(n_other)])


def test_negative_share_fires_when_share_rises():
    rule = neg_rule()
    assert rule.add_data(mix(3, 9, at(-120)), at(-120)) == []   # baseline 25 %
    [cand] = rule.add_data(mix(8, 4, at(-5)), NOW)               # now 67 %
    assert cand.topic == "utilities" and cand.severity == Severity.IV
    assert cand.window["share"] == 0.667 and cand.window["baseline"] == 0.25
    assert len(cand.evidence) == 8


def test_negative_share_quiet_when_always_negative_or_too_few():
    rule = neg_rule()
    rule.add_data(mix(9, 3, at(-120)), at(-120))                 # baseline 75 %
    assert rule.add_data(mix(9, 3, at(-5)), NOW) == []           # no rise
    assert neg_rule().add_data(mix(5, 0, NOW), NOW) == []        # too few posts


def test_negative_share_by_region_recovers_and_grades():
    rule = neg_rule(group_by="region")
    [cand] = rule.add_data(mix(10, 0, at(-1), region=["江宁区"]), NOW)
    assert cand.region == "江宁区" and cand.severity == Severity.III
    rule.add_data(mix(0, 30, at(1), region=["江宁区"]), at(2))
    [rec] = rule.tick(at(3))
    assert rec.recovery and rec.region == "江宁区"


# -- keyword watchlist and sensitive words ------------------------------------

def test_keyword_keys_by_event_and_recovers_after_quiet():
    rule = Keyword(KeywordOptions(name="kw", type="keyword", recover_after_minutes=60, lists=[
        {"name": "安全事故", "severity": "II", "words": ["爆炸"]}]))
    a, b = cpost("工厂爆炸"), cpost("另一处爆炸")
    a.cluster_id, b.cluster_id = "ev1", "ev2"
    cands = rule.add_data([a, b], NOW)
    assert sorted(c.key for c in cands) == ["kw:安全事故:ev1", "kw:安全事故:ev2"]
    assert {c.event_id for c in cands} == {"ev1", "ev2"}
    assert rule.tick(at(30)) == []
    assert len(rule.tick(at(61))) == 2


def sensitive(**kw):
    rule = Sensitive(SensitiveOptions(name="sens", type="sensitive", **kw))
    rule.bind(REPO_ROOT / "config")
    return rule


def test_sensitive_levels_map_to_severities_from_the_word_file():
    rule = sensitive()
    p_high, p_med, p_low, p_none = (cpost("x"), cpost("y"), cpost("z"), cpost("w"))
    p_high.sensitive_hits, p_med.sensitive_hits = ["爆炸", "维权"], ["堵路"]
    p_low.sensitive_hits = ["曝光"]
    got = {c.window["level"]: c for c in rule.add_data([p_high, p_med, p_low, p_none], NOW)}
    assert {k: c.severity for k, c in got.items()} == {
        "high": Severity.II, "medium": Severity.III, "low": Severity.IV}
    assert got["high"].window["words"] == ["爆炸", "维权"]


def test_sensitive_hits_in_a_calm_post_count_one_level_lower():
    rule = sensitive()
    drill = cpost("市应急管理局组织开展火灾应急疏散演练", sentiment="neutral")
    praise = cpost("消防员成功扑灭仓库火灾，为他们点赞", sentiment="positive")
    fire = cpost("城南一小区发生火灾，消防正在扑救")
    low_calm = cpost("媒体报道了这件事", sentiment="neutral")
    for n, (p, words) in enumerate(((drill, ["火灾"]), (praise, ["火灾"]), (fire, ["火灾"]),
                                    (low_calm, ["曝光"]))):
        p.sensitive_hits, p.cluster_id = words, f"ev{n}"  # four stories
    got = {c.evidence[0]: c for c in rule.add_data([drill, praise, fire, low_calm], NOW)}
    assert got[fire.id].severity == Severity.II and got[fire.id].window["level"] == "high"
    assert got[drill.id].severity == Severity.III and got[drill.id].window["level"] == "medium"
    assert "降级" in got[drill.id].summary and "降级" not in got[fire.id].summary
    assert got[praise.id].severity == Severity.III
    assert low_calm.id not in got  # a low word in a calm post is not alerted
    # a calm repost of a story already alerted at a higher level adds no alert,
    # in the same batch or a later one
    rule = sensitive()
    story = [cpost("化工厂爆炸，消防已到场", sentiment="neutral"), cpost("化工厂爆炸", sentiment="negative")]
    for p in story:
        p.sensitive_hits, p.cluster_id = ["爆炸"], "blast"
    assert [c.window["level"] for c in rule.add_data(story, NOW)] == ["high"]
    later = cpost("化工厂爆炸后的救援", sentiment="positive")
    later.sensitive_hits, later.cluster_id = ["爆炸"], "blast"
    assert rule.add_data([later], NOW) == []
    # with calm_levels_down 0 the word alone decides
    flat = sensitive(calm_levels_down=0)
    assert [c.severity for c in flat.add_data([drill], NOW)] == [Severity.II]


def test_sensitive_levels_left_out_are_quiet_and_inline_words_work():
    rule = sensitive(levels={"high": "I"}, words={"high": ["塌方"], "low": ["曝光"]})
    p, q = cpost("a"), cpost("b")
    p.sensitive_hits, q.sensitive_hits = ["曝光"], ["塌方"]
    [cand] = rule.add_data([p, q], NOW)
    assert cand.severity == Severity.I and cand.evidence == [q.id]


def test_sensitive_levels_match_the_classifiers_normalised_hits():
    # the classifier reports hits normalised (lower case, simplified characters)
    rule = sensitive(levels={"high": "I", "low": "IV"}, words={"high": ["PX项目", " 爆炸 "]})
    p, q = cpost("a"), cpost("b")
    p.sensitive_hits, q.sensitive_hits = ["px项目"], ["爆炸"]
    assert [c.severity for c in rule.add_data([p, q], NOW)] == [Severity.I, Severity.I]


# -- new term -----------------------------------------------------------------

def test_new_term_learns_then_fires_on_a_new_place_and_recovers():
    rule = NewTerm(NewTermOptions(name="nt", type="new_term", warmup_posts=3, min_posts=3,
                                  window_minutes=60))
    learn = [cpost(at=NOW, region=["江宁区"]) for _ in range(3)]
    for p in learn:
        p.keywords = ["停水"]
    assert rule.add_data(learn, NOW) == []
    known = [cpost(at=NOW, region=["江宁区"]) for _ in range(5)]
    for p in known:
        p.keywords = ["停水"]
    assert rule.add_data(known, NOW) == []                      # nothing new
    fresh = [cpost(at=at(i), region=["汤山街道"]) for i in range(3)]
    assert rule.add_data(fresh[:2], at(1)) == []                # not yet many
    [cand] = rule.add_data(fresh[2:], at(2))
    assert cand.key == "nt:汤山街道" and len(cand.evidence) == 3
    [rec] = rule.tick(at(120))
    assert rec.recovery and "汤山街道" in rule.known
    more = [cpost(at=at(130), region=["汤山街道"]) for _ in range(5)]
    assert rule.add_data(more, at(130)) == []                   # known now


# -- event growth -------------------------------------------------------------

def grown(n, eid="ev1", minute=0, sources=None):
    posts = []
    for i in range(n):
        p = cpost(at=at(minute), source=(sources[i % len(sources)] if sources else "weibo"))
        p.cluster_id = eid
        posts.append(p)
    return posts


def test_event_growth_fires_on_post_growth_and_recovers():
    rule = EventGrowth(EventGrowthOptions(name="grow", type="event_growth", window_minutes=60,
                                          min_posts=10, factor=2, recover_after_minutes=90))
    assert rule.add_data(grown(4, minute=-90), at(-90)) == []
    [cand] = rule.add_data(grown(10, minute=-1), NOW)
    assert cand.event_id == "ev1" and cand.key == "grow:ev1" and cand.window["previous"] == 4
    assert rule.tick(at(60)) == []
    [rec] = rule.tick(at(91))
    assert rec.recovery and rec.event_id == "ev1"


def test_event_growth_quiet_at_steady_volume_fires_on_new_sources():
    rule = EventGrowth(EventGrowthOptions(name="grow", type="event_growth", window_minutes=60,
                                          min_posts=10, factor=2, min_new_sources=3))
    rule.add_data(grown(10, minute=-70), at(-70))
    assert rule.add_data(grown(10, minute=-5), NOW) == []       # same as the hour before
    [cand] = rule.add_data(grown(3, "ev1", -1, ["toutiao", "douyin", "bbs"]), NOW)
    assert cand.window["new_sources"] == ["toutiao", "douyin", "bbs"]


# -- source gone silent -------------------------------------------------------

def test_source_silent_learns_the_gap_fires_and_recovers():
    rule = SourceSilent(SourceSilentOptions(name="silent", type="source_silent", factor=4,
                                            min_silence_minutes=30, min_observations=3))
    for i in range(4):
        assert rule.add_data([cpost(source="demo_news")], at(i * 10)) == []  # every 10 min
    assert rule.tick(at(60)) == []           # 30 min silent, expected up to 40
    [cand] = rule.tick(at(75))
    assert cand.key == "silent:demo_news" and not cand.open_case and cand.evidence == []
    assert rule.tick(at(80)) == []           # alerted once
    [rec] = rule.add_data([cpost(source="demo_news")], at(90))
    assert rec.recovery


def test_source_silent_configured_gap_and_unknown_sources_quiet():
    rule = SourceSilent(SourceSilentOptions(name="silent", type="source_silent",
                                            sources={"board": 120}))
    rule.add_data([cpost(source="board"), cpost(source="new_site")], NOW)
    assert rule.tick(at(100)) == []
    assert [c.key for c in rule.tick(at(121))] == ["silent:board"]
