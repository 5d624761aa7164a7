"""The label review: weak topic labels of the news paragraphs, read and corrected by people.

The lexicon labels (`classifier.corpus.lexicon_topics`) misfire: 坍塌 in an
astronomy story is not work safety, a paragraph about 老干部 is not elderly
care, and a paragraph that names one 敬老院 is dropped as unclear although it
is plainly about elderly care. Reviewers read the paragraphs and write the
right topics to the JSON Lines files in ``classifier/data/label_review/`` (one
file per review round, read in name order; a later line for the same id wins),
one line per paragraph:

    {"id": "<review_id>", "topics": ["elderly_care"]}

``topics`` are codes of `classifier.corpus.TOPICS`; ``["other"]`` when the
paragraph is about none of them; ``[]`` when it is unusable (a fragment, a
list of names). The file keeps ids only, not the corpus text. A reviewed
label replaces the weak one wherever the paragraph falls (train, dev or test),
so the test split is scored against reviewed labels where there are any.

The paragraphs' sentiment was `neutral` by convention (news prose), though
some report disasters and many celebrate. ``classifier/data/sentiment_review/``
holds the sentiment reviewers gave each paragraph of the corpus, one line per
paragraph: ``{"id": "<review_id>", "sentiment": "negative"}``; a paragraph
without one stays `neutral`.

    python -m classifier.review candidates --topics elderly_care,procurement
        prints, as JSON lines, the paragraphs not reviewed yet whose weak label
        has one of the topics or which have a term of one (id, weak, hits, text)
    python -m classifier.review stats
        counts of reviewed paragraphs and how often the review changed the label
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

REVIEW_DIR = Path(__file__).resolve().parent / "data" / "label_review"
SENTIMENT_REVIEW_DIR = Path(__file__).resolve().parent / "data" / "sentiment_review"


def review_id(text: str) -> str:
    """A paragraph's id in the review file: the first 16 hex digits of its text's sha1."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def review_lines(directory: Path, what: str, keys: tuple[str, ...]):
    """("file:line", record) for every line of the directory's JSON Lines files, files in name
    order; a line that is not a JSON object with `keys` raises CorpusError naming the place."""
    from classifier.corpus import CorpusError

    for path in sorted(Path(directory).glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                missing = [k for k in keys if k not in rec]
                if missing:
                    raise KeyError(", ".join(missing))
            except (ValueError, KeyError, TypeError) as exc:
                raise CorpusError(f"{path}:{n}: not a {what} ({exc})") from exc
            yield f"{path}:{n}", rec


def checked_topics(value, where: str) -> list[str]:
    """`value` as a list of topic codes; an unknown code or `other` with others is an error."""
    from classifier.corpus import TOPICS, CorpusError

    topics = list(value) if isinstance(value, list) else None
    if topics is None:
        raise CorpusError(f"{where}: not a review record (topics is not a list)")
    bad = [t for t in topics if t not in TOPICS]
    if bad:
        raise CorpusError(f"{where}: unknown topic codes {bad}")
    if "other" in topics and len(topics) > 1:
        raise CorpusError(f"{where}: 'other' cannot go with other topics")
    return topics


def checked_sentiment(value, where: str) -> str:
    from classifier.corpus import SENTIMENTS, CorpusError

    if value not in SENTIMENTS:
        raise CorpusError(f"{where}: unknown sentiment {value!r}")
    return value


def load_review(directory: Path = REVIEW_DIR) -> dict[str, list[str]]:
    """id -> reviewed topics; a malformed line or an unknown code names the file and line."""
    return {str(rec["id"]): checked_topics(rec["topics"], where)
            for where, rec in review_lines(directory, "review record", ("id", "topics"))}


def load_sentiment_review(directory: Path = SENTIMENT_REVIEW_DIR) -> dict[str, str]:
    """id -> reviewed sentiment of a news paragraph; a bad line names the file and line."""
    return {str(rec["id"]): checked_sentiment(rec["sentiment"], where)
            for where, rec in review_lines(directory, "sentiment review record", ("id", "sentiment"))}


def candidates(topics: set[str], reviewed: Optional[dict] = None) -> list[dict]:
    from classifier.corpus import lexicon_candidates, lexicon_topics, load_lexicon, news_paragraphs

    lexicon = load_lexicon()
    reviewed = load_review() if reviewed is None else reviewed
    out = []
    for text in news_paragraphs():
        rid = review_id(text)
        if rid in reviewed:
            continue
        weak = lexicon_topics(text, lexicon)
        hits = lexicon_candidates(text, lexicon)
        if topics & set(weak or []) or topics & set(hits):
            out.append({"id": rid, "weak": weak, "hits": hits, "text": text})
    return out


def stats(reviewed: Optional[dict] = None) -> dict:
    from classifier.corpus import lexicon_topics, load_lexicon, news_paragraphs

    lexicon = load_lexicon()
    reviewed = load_review() if reviewed is None else reviewed
    kept, changed, dropped, per_topic = 0, 0, 0, Counter()
    for text in news_paragraphs():
        topics = reviewed.get(review_id(text))
        if topics is None:
            continue
        kept += 1
        dropped += not topics
        changed += sorted(topics) != sorted(lexicon_topics(text, lexicon) or [])
        per_topic.update(topics)
    return {"reviewed": kept, "label_changed": changed, "dropped": dropped,
            "unmatched_ids": len(reviewed) - kept, "topics": dict(per_topic.most_common())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("candidates")
    c.add_argument("--topics", required=True, help="comma-separated topic codes")
    c.add_argument("--limit", type=int, default=0)
    sub.add_parser("stats")
    args = ap.parse_args(argv)
    if args.cmd == "stats":
        print(json.dumps(stats(), ensure_ascii=False, indent=2))
        return 0
    found = candidates({t.strip() for t in args.topics.split(",") if t.strip()})
    for rec in found[: args.limit or None]:
        print(json.dumps(rec, ensure_ascii=False))
    print(f"{len(found)} candidate(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
