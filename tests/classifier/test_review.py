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
