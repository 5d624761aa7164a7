from datetime import datetime, timezone

import pytest

from alerts.errors import ConfigError
from alerts.rules import load_rules
from alerts.rules.keyword import Keyword, KeywordOptions
from alerts.rules.volume_spike import VolumeSpike, VolumeSpikeOptions
from tests.helpers import cpost, minutes_ago
from yuqing.config import REPO_ROOT
from yuqing.records import Severity

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def spike(**kw):
    opts = dict(name="spike", type="volume_spike", window_minutes=10, baseline_windows=6,
                factor=3, min_count=5,
                levels=[{"count": 5, "severity": "IV"}, {"count": 10, "severity": "III"}])
    opts.update(kw)
    return VolumeSpike(VolumeSpikeOptions(**opts))


def test_volume_spike_fires_on_a_burst_and_grades_it():
    rule = spike()
    baseline = [cpost(at=minutes_ago(NOW, m)) for m in (25, 35, 45, 55)]  # ~0.7 per window
    assert rule.add_data(baseline, NOW) == []
    burst = [cpost(at=minutes_ago(NOW, i * 0.5)) for i in range(6)]
    [cand] = rule.add_data(burst, NOW)
    assert cand.topic == "utilities" and cand.severity == Severity.IV
    assert cand.window["count"] == 6
    assert set(p.id for p in burst) <= set(cand.evidence)
    more = [cpost(at=minutes_ago(NOW, 1)) for _ in range(5)]
    [cand] = rule.add_data(more, NOW)
    assert cand.severity == Severity.III and cand.window["count"] == 11


def test_volume_spike_stays_quiet_at_the_usual_rate():
    rule = spike()
    steady = [cpost(at=minutes_ago(NOW, m)) for m in range(0, 70, 2)]  # 5 per window, always
    assert rule.add_data(steady, NOW) == []


def test_volume_spike_ignores_old_posts_other_topics_and_filtered_sentiment():
    rule = spike(sentiment="negative")
    old = [cpost(at=minutes_ago(NOW, 300)) for _ in range(20)]
    other = [cpost(topics=("other",), at=NOW) for _ in range(20)]
    positive = [cpost(sentiment="positive", at=NOW) for _ in range(20)]
    assert rule.add_data(old + other + positive, NOW) == []


def test_volume_spike_by_region_keeps_places_apart():
    rule = spike(by_region=True)
    a = [cpost(region=["江宁区"], at=NOW) for _ in range(5)]
    b = [cpost(region=["秦淮区"], at=NOW) for _ in range(4)]
    [cand] = rule.add_data(a + b, NOW)
    assert cand.region == "江宁区"


def test_volume_spike_state_survives_a_restart():
    rule = spike()
    rule.add_data([cpost(at=NOW) for _ in range(4)], NOW)
    again = spike()
    again.set_state(rule.get_state())
    assert again.add_data([cpost(at=NOW)], NOW)  # the fifth post tips it over


def test_keyword_rule_matches_each_word_once_per_batch():
    rule = Keyword(KeywordOptions(name="kw", type="keyword", lists=[
        {"name": "安全事故", "severity": "II", "words": ["爆炸", "中毒"]}]))
    posts = [cpost("工厂发生爆炸"), cpost("又一起爆炸"), cpost("学生食物中毒", source_type="board"),
             cpost("一切正常")]
    cands = {c.window["word"]: c for c in rule.add_data(posts, NOW)}
    assert set(cands) == {"爆炸", "中毒"}
    assert len(cands["爆炸"].evidence) == 2 and cands["爆炸"].severity == Severity.II
    assert cands["中毒"].kind == "board"


def test_shipped_rules_load():
    names = [r.name for r in load_rules(REPO_ROOT / "config" / "rules.yaml")]
    assert "topic_volume_spike" in names and "watchlist" in names


@pytest.mark.parametrize("body, expected", [
    ("rules: [{name: a, type: nope}]", "type: unknown rule type 'nope'"),
    ("rules: [{name: a, type: volume_spike, window_minutes: -1}]", "window_minutes"),
    ("rules: [{name: a, type: keyword, lists: []}]", "lists"),
    ("rules: [{name: a, type: keyword, lists: [{name: x, severity: V, words: [a]}]}]", "severity"),
    ("rules: [{name: a, type: volume_spike, colour: red}]", "colour"),
    ("rules: [{name: a, type: volume_spike}, {name: a, type: volume_spike}]", "duplicate"),
    ("rules: {}", "list under 'rules'"),
    ("rules: [unclosed", "rules.yaml"),
])
def test_bad_rule_file_names_the_file_and_field(tmp_path, body, expected):
    path = tmp_path / "rules.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_volume_spike_counts_an_updated_post_once():
    rule = spike()
    post = cpost(at=NOW)
    for _ in range(6):
        assert rule.add_data([post], NOW) == []
