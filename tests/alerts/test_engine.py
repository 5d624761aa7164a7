from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from alerts.case.models import AuditRow, CaseRow
from alerts.engine import AlertsEngine
from alerts.models import AlertRow, EventPostRow, EventRow, RuleStateRow
from alerts.rules import Rule, RuleOptions
from alerts.rules.keyword import Keyword, KeywordOptions
from alerts.rules.volume_spike import VolumeSpike, VolumeSpikeOptions
from tests.helpers import cpost
from yuqing.records import Severity

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


def rules():
    return [
        VolumeSpike(VolumeSpikeOptions(name="spike", type="volume_spike", min_count=5,
                                       baseline_windows=6, quiet_period_minutes=30,
                                       levels=[{"count": 5, "severity": "IV"},
                                               {"count": 10, "severity": "III"}])),
        Keyword(KeywordOptions(name="kw", type="keyword", lists=[
            {"name": "安全事故", "severity": "II", "words": ["爆炸"]}])),
    ]


def engine(db, routing, clocks, rule_list=None):
    return AlertsEngine(db=db, rules=rule_list or rules(), routing=routing, clocks=clocks)


def count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_burst_raises_alert_event_and_routed_case(db, routing, clocks):
    eng = engine(db, routing, clocks)
    posts = [cpost(at=NOW - timedelta(minutes=i), region=["江宁区"], author=f"网友{i}")
             for i in range(6)]
    [alert_id] = eng.process(posts, now=NOW)
    with db.session() as s:
        alert = s.get(AlertRow, alert_id)
        assert alert.rule == "spike" and alert.severity == "IV" and alert.topic == "utilities"
        event = alert.event
        assert event.post_count == 6
        assert event.first_post_id == posts[-1].id and event.first_poster == "网友5"
        case = s.scalar(select(CaseRow).where(CaseRow.event_id == event.id))
        assert case.owner_department == "市城市管理局"  # region is not part of this rule's key
        assert [d["kind"] for d in case.deadlines] == ["response"]
        due = datetime.fromisoformat(case.deadlines[0]["due_at"])
        assert due == NOW + timedelta(hours=48)
        assert s.scalar(select(AuditRow.action).where(AuditRow.case_id == case.id)) == "case.open"


def test_severe_keyword_gets_the_5h_and_24h_clocks(db, routing, clocks):
    eng = engine(db, routing, clocks)
    [aid] = eng.process([cpost("化工厂发生爆炸", topics=("work_safety",))], now=NOW)
    with db.session() as s:
        case = s.scalar(select(CaseRow))
        assert case.severity == "II" and case.owner_department == "市应急管理局"
        due = {d["kind"]: datetime.fromisoformat(d["due_at"]) for d in case.deadlines}
        assert due == {"authoritative_info": NOW + timedelta(hours=5),
                       "press_conference": NOW + timedelta(hours=24)}


def test_repeat_within_quiet_period_joins_the_alert_then_realerts_on_severity_rise(db, routing, clocks):
    eng = engine(db, routing, clocks)
    eng.process([cpost(at=NOW) for _ in range(5)], now=NOW)
    later = NOW + timedelta(minutes=1)
    assert eng.process([cpost(at=later) for _ in range(2)], now=later) == []  # same level: folded
    assert count(db, AlertRow) == 1
    with db.session() as s:
        assert len(s.scalar(select(AlertRow)).evidence) == 7
    rise = NOW + timedelta(minutes=2)
    [aid] = eng.process([cpost(at=rise) for _ in range(4)], now=rise)  # 11 in window: III
    with db.session() as s:
        assert s.get(AlertRow, aid).severity == "III"
        [case] = s.scalars(select(CaseRow)).all()  # same event, same case, raised
        assert case.severity == "III"
        assert count(db, EventRow) == 1


def test_redelivered_batch_is_not_counted_twice(db, routing, clocks):
    eng = engine(db, routing, clocks)
    posts = [cpost(at=NOW) for _ in range(4)]
    eng.process(posts, now=NOW, offsets={"posts.classified:0": 4})
    # a crash before the bus commit: the same offsets come again
    restarted = engine(db, routing, clocks)
    assert restarted.is_applied("posts.classified", 0, 4)
    assert not restarted.is_applied("posts.classified", 0, 5)
    # rule state survived the restart: one more post tips the spike
    assert restarted.process([cpost(at=NOW)], now=NOW, offsets={"posts.classified:0": 5})


class Broken(Rule):
    type_name = "broken"

    def add_data(self, posts, now):
        raise RuntimeError("boom")


def test_failing_rule_is_disabled_and_reported_others_go_on(db, routing, clocks):
    broken = Broken(RuleOptions(name="broken", type="broken"))
    eng = engine(db, routing, clocks, [broken, *rules()])
    assert eng.process([cpost("发生爆炸")], now=NOW)  # the keyword rule still alerts
    assert eng.disabled["broken"] == "RuntimeError: boom"
    with db.session() as s:
        assert "boom" in s.get(RuleStateRow, "broken").disabled_reason
    eng.process([cpost("again")], now=NOW)  # not called again, nothing raised


def test_new_event_after_the_event_window(db, routing, clocks):
    eng = engine(db, routing, clocks)
    eng.process([cpost("发生爆炸")], now=NOW)
    eng.process([cpost("又发生爆炸")], now=NOW + timedelta(days=3))
    assert count(db, EventRow) == 2 and count(db, CaseRow) == 2
    assert count(db, EventPostRow) == 2


def test_updated_and_redelivered_posts_count_once_in_events_and_rules(db, routing, clocks):
    eng = engine(db, routing, clocks)
    posts = [cpost(f"小区停水第{i}天", at=NOW) for i in range(3)]
    update = posts[0].model_copy(update={"text": "小区停水第0天（已更新）"})
    eng.process([*posts, update], now=NOW)                  # the same post twice in a batch
    eng.process([update, posts[1]], now=NOW + timedelta(minutes=1))    # updated, re-sent
    eng.process(posts, now=NOW + timedelta(minutes=2))     # a re-delivered batch
    spike = eng.by_name["spike"]
    assert sum(spike.buckets["utilities|"].values()) == 3
    assert count(db, EventPostRow) == 3
    with db.session() as s:
        assert sum(e.post_count for e in s.scalars(select(EventRow))) == 3


def test_batch_that_rolls_back_is_forgotten_in_memory_and_counts_once_again(db, routing, clocks):
    eng = engine(db, routing, clocks)
    posts = [cpost(at=NOW) for _ in range(4)]
    real_save = eng._save_state

    def crash(s):
        real_save(s)
        raise OSError("disk full")

    eng._save_state = crash
    try:
        eng.process(posts, now=NOW, offsets={"posts.classified:0": 4})
    except OSError:
        pass
    assert not eng.is_applied("posts.classified", 0, 4)   # it will come again
    eng._save_state = real_save
    assert eng.process(posts, now=NOW, offsets={"posts.classified:0": 4}) == []  # 4 < 5
    assert sum(eng.by_name["spike"].buckets["utilities|"].values()) == 4
    assert count(db, EventPostRow) == 4
    [aid] = eng.process([cpost(at=NOW)], now=NOW, offsets={"posts.classified:0": 5})
    with db.session() as s:
        assert s.get(AlertRow, aid).event.post_count == 5


def test_alert_folds_and_case_raise_use_the_batch_look_ups(db, routing, clocks):
    """Several candidates of one batch on one story: one alert per key, one case raised."""
    eng = engine(db, routing, clocks)
    burst = [cpost("化工厂发生爆炸，现场有人员受伤", topics=("work_safety",), at=NOW)
             for _ in range(5)]
    ids = eng.process(burst, now=NOW)
    with db.session() as s:
        alerts = s.scalars(select(AlertRow)).all()
        assert sorted(a.rule for a in alerts) == ["kw", "spike"] and len(ids) == 2
        assert len({a.event_id for a in alerts}) == 1
        [case] = s.scalars(select(CaseRow)).all()
        assert case.severity == "II"
    later = NOW + timedelta(minutes=1)
    repost = cpost("转发：化工厂发生爆炸，现场有人员受伤", topics=("work_safety",), at=later)
    assert eng.process([repost], now=later) == []  # both alerts absorb it
    with db.session() as s:
        assert count(db, AlertRow) == 2 and count(db, CaseRow) == 1


def test_rule_state_rows_are_written_when_they_change_and_known_terms_apart(db, routing, clocks):
    from alerts.rules.new_term import NewTerm, NewTermOptions

    def make():
        return engine(db, routing, clocks, [*rules(), NewTerm(NewTermOptions(
            name="nt", type="new_term", warmup_posts=2, min_posts=2))])

    def stored():
        with db.session() as s:
            return {r.rule: (r.state, r.updated_at) for r in s.scalars(select(RuleStateRow))}

    eng = make()
    eng.process([cpost(at=NOW, region=["江宁区"]), cpost(at=NOW, region=["秦淮区"])], now=NOW)
    first = stored()
    assert first["nt.known"][0] == ["江宁区", "秦淮区"] and "known" not in first["nt"][0]
    later = NOW + timedelta(minutes=1)
    eng.clock = lambda: later
    eng.process([cpost(at=later, region=["江宁区"])], now=later)  # nothing new learnt
    second = stored()
    assert second["nt.known"] == first["nt.known"]      # not written again
    assert second["kw"] == first["kw"]                  # nor the idle keyword rule's state
    assert second["spike"][0] != first["spike"][0]      # the spike counted the post
    again = make()                                      # a restart reads the rows together
    assert list(again.by_name["nt"].known) == ["江宁区", "秦淮区"]
    assert again.by_name["nt"].posts_seen == 3


def test_state_saved_in_one_row_is_still_read_and_moved_apart(db, routing, clocks):
    from sqlalchemy import delete

    from alerts.rules.new_term import NewTerm, NewTermOptions

    def make():
        return engine(db, routing, clocks, [NewTerm(NewTermOptions(
            name="nt", type="new_term", warmup_posts=0, min_posts=2))])

    with db.session() as s:  # as saved before own rows
        s.add(RuleStateRow(rule="nt", state={"active": {}, "known": ["旧词"], "pending": {},
                                             "posts_seen": 7}))
    eng = make()
    assert list(eng.by_name["nt"].known) == ["旧词"]
    eng.process([cpost(at=NOW)], now=NOW)
    with db.session() as s:
        assert s.get(RuleStateRow, "nt.known").state == ["旧词"]
        assert "known" not in s.get(RuleStateRow, "nt").state
        s.execute(delete(RuleStateRow).where(RuleStateRow.rule == "nt.known"))
    assert list(make().by_name["nt"].known) == []
