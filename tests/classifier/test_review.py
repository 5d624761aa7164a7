"""The label review: reviewed topics replace weak labels of the news paragraphs."""
import json

import pytest

from classifier import corpus, review


def _write(path, lines):
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")


def test_reviewed_labels_replace_weak_ones_and_empty_drops(tmp_path):
    lexicon = corpus.load_lexicon()
    paragraphs = corpus.news_paragraphs()
    weak = {t: corpus.lexicon_topics(t, lexicon) for t in paragraphs[:3000]}
    topical = next(t for t, w in weak.items() if w and w != ["other"])
    plain = next(t for t, w in weak.items() if w == ["other"])
    unclear = next(t for t, w in weak.items() if w is None)
    d = tmp_path / "review"
    d.mkdir()
    _write(d / "a.jsonl", [{"id": review.review_id(topical), "topics": ["food_safety"]},
                           {"id": review.review_id(plain), "topics": []}])
    # a later file wins for the same id
    _write(d / "b.jsonl", [{"id": review.review_id(topical), "topics": ["other"]},
                           {"id": review.review_id(unclear), "topics": ["elderly_care"]}])
    reviewed = review.load_review(d)
    news = {r["text"]: r["topics"] for r in corpus.load_news(lexicon=lexicon, reviewed=reviewed)}
    assert news[topical] == ["other"]
    assert plain not in news                       # reviewed as unusable
    assert news[unclear] == ["elderly_care"]       # was dropped as unclear, now kept
    assert len(news) == len(corpus.load_news(lexicon=lexicon, reviewed={}))  # one out, one in


@pytest.mark.parametrize("line, why", [
    ({"id": "x", "topics": ["nonsense"]}, "unknown topic codes"),
    ({"id": "x", "topics": ["other", "housing"]}, "'other' cannot go"),
    ({"topics": ["housing"]}, "not a review record"),
])
def test_a_bad_review_line_names_file_and_line(tmp_path, line, why):
    _write(tmp_path / "r.jsonl", [{"id": "ok", "topics": ["housing"]}, line])
    with pytest.raises(corpus.CorpusError, match=rf"r\.jsonl:2: .*{why}"):
        review.load_review(tmp_path)


def test_shipped_review_files_are_valid_and_match_paragraphs():
    reviewed = review.load_review()
    st = review.stats(reviewed)
    assert st["unmatched_ids"] == 0
    assert st["reviewed"] == len(reviewed)


def test_reviewed_sentiment_replaces_the_neutral_convention(tmp_path):
    lexicon = corpus.load_lexicon()
    paragraphs = corpus.news_paragraphs()
    topical = next(t for t in paragraphs[:3000] if corpus.lexicon_topics(t, lexicon) not in (None, ["other"]))
    d = tmp_path / "sentiment"
    d.mkdir()
    _write(d / "a.jsonl", [{"id": review.review_id(topical), "sentiment": "positive"}])
    _write(d / "b.jsonl", [{"id": review.review_id(topical), "sentiment": "negative"}])  # later wins
    sentiments = review.load_sentiment_review(d)
    news = {r["text"]: r for r in corpus.load_news(lexicon=lexicon, reviewed={}, sentiments=sentiments)}
    assert news[topical]["sentiment"] == "negative"
    assert {r["sentiment"] for t, r in news.items() if t != topical} == {"neutral"}


def test_the_shipped_sentiment_review_covers_the_corpus_paragraphs():
    sentiments = review.load_sentiment_review()
    news = [r for r in corpus.build_corpus() if r["source"] == "peoples-daily-1998"]
    assert all(review.review_id(r["text"]) in sentiments for r in news)
    assert {r["sentiment"] for r in news} == {"negative", "neutral", "positive"}


def test_extra_paragraphs_read_for_training(tmp_path):
    paragraphs = corpus.news_paragraphs()
    a, b, c = paragraphs[:3]
    d = tmp_path / "extra"
    d.mkdir()
    _write(d / "r.jsonl", [{"id": review.review_id(a), "topics": ["employment"], "sentiment": "positive"},
                           {"id": review.review_id(b), "topics": [], "sentiment": "neutral"},
                           {"id": review.review_id(c), "topics": ["other"], "sentiment": "negative"}])
    read = review.load_news_extra_review(d)
    got = corpus.load_news_extra(reviewed=read, taken=[c])
    assert got == [{"text": a, "topics": ["employment"], "sentiment": "positive",
                    "source": corpus.SOURCE_NEWS_EXTRA}]  # b unusable, c already taken
    _write(d / "r.jsonl", [{"id": "x", "topics": ["other"]}])
    with pytest.raises(corpus.CorpusError, match=r"r\.jsonl:1: not a news review record"):
        review.load_news_extra_review(d)


def test_the_shipped_extra_paragraphs_are_not_in_the_sample():
    read = review.load_news_extra_review()
    sentiments = review.load_sentiment_review()
    ids = {review.review_id(t) for t in corpus.news_paragraphs()}
    assert read and set(read) <= ids and not set(read) & set(sentiments)


def test_a_reviewed_line_sentiment_replaces_the_review_files_label(tmp_path):
    by_file = corpus.load_reviews(sentiments={})
    fragment = next(r for r in by_file if r["sentiment"] == "positive")
    d = tmp_path / "sentiment"
    d.mkdir()
    _write(d / "a.jsonl", [{"id": review.review_id(fragment["text"]), "sentiment": "neutral"}])
    reviews = {r["text"]: r["sentiment"]
               for r in corpus.load_reviews(sentiments=review.load_sentiment_review(d))}
    assert reviews[fragment["text"]] == "neutral"
    assert len(reviews) == len(by_file)
    assert sum(s != r["sentiment"] for r, s in ((r, reviews[r["text"]]) for r in by_file)) == 1


def test_the_shipped_sentiment_review_covers_the_review_lines():
    sentiments = review.load_sentiment_review()
    reviews = corpus.load_reviews(sentiments={})
    assert all(review.review_id(r["text"]) in sentiments for r in reviews)
    reviewed = corpus.load_reviews()
    assert {r["sentiment"] for r in reviewed} == {"negative", "neutral", "positive"}
    changed = sum(a["sentiment"] != b["sentiment"] for a, b in zip(reviews, reviewed))
    assert 0 < changed < len(reviews) // 3  # fragments and mixed lines, not a flipped file


@pytest.mark.parametrize("line, why", [
    ({"id": "x", "sentiment": "angry"}, "unknown sentiment"),
    ({"id": "x"}, "not a sentiment review record"),
])
def test_a_bad_sentiment_line_names_file_and_line(tmp_path, line, why):
    _write(tmp_path / "s.jsonl", [{"id": "ok", "sentiment": "neutral"}, line])
    with pytest.raises(corpus.CorpusError, match=rf"s\.jsonl:2: .*{why}"):
        review.load_sentiment_review(tmp_path)


def test_adjudicated_files_win_and_first_round_only_leaves_them_out(tmp_path):
    _write(tmp_path / "round1-a.jsonl", [{"id": "p1", "topics": ["housing"]},
                                         {"id": "p2", "topics": ["education"]}])
    _write(tmp_path / f"{review.ADJUDICATED_PREFIX}.jsonl", [{"id": "p1", "topics": ["land_demolition"]}])
    assert review.load_review(tmp_path) == {"p1": ["land_demolition"], "p2": ["education"]}
    first = {r["id"]: r["topics"] for _, r in review.review_lines(
        tmp_path, "review record", ("id", "topics"), first_round_only=True)}
    assert first == {"p1": ["housing"], "p2": ["education"]}


def test_the_second_review_is_blind_labels_of_the_reviewed_texts():
    out = review.agreement()
    s, t = out["sentiment"], out["topics"]
    # every news paragraph and reviewed headline was read twice for sentiment
    assert s["n"] == 10_389 + 4_996
    assert 0.6 < s["agreement"] < 0.99 and 0.5 < s["cohen_kappa"] < 0.99
    # each disagreement was adjudicated to one of the two labels or a third
    assert s["final_is_first"] + s["final_is_second"] <= s["adjudicated"]
    assert s["final_is_first"] + s["final_is_second"] > 0.9 * s["adjudicated"]
    assert t["n"] > 9_000 and 0.6 < t["same_set"] < 0.99
    assert 0 < t["final_changed"] <= t["adjudicated"]
    assert set(t["reviewer_f1_per_code"]) <= set(corpus.MODEL_TOPICS)
