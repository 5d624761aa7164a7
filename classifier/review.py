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
    python -m classifier.review agreement
        how often a second, blind review agreed with the first (below)

Second review (Nov 2026): the sentiment of every news paragraph and reviewed
headline, and the topics of every topic-reviewed paragraph and headline, were
read again by other reviewers who did not see the first labels
(``classifier/data/second_review/{sentiment,topics}-*.jsonl``). Where the two
disagreed a third reviewer, shown the text and both labels in random order,
decided; those decisions are the ``second-review-adjudicated*.jsonl`` files of
the label directories, which sort after the first rounds and so win. Where
the two agreed, the first label stands.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

DATA_DIR = Path(__file__).resolve().parent / "data"
REVIEW_DIR = DATA_DIR / "label_review"
SENTIMENT_REVIEW_DIR = DATA_DIR / "sentiment_review"
SECOND_REVIEW_DIR = DATA_DIR / "second_review"
#: Topics and sentiment of the paragraphs the corpus does not otherwise take
#: (read once; training text only, `classifier.corpus.load_news_extra`).
NEWS_EXTRA_DIR = DATA_DIR / "news_extra_review"
#: The adjudicated labels of a label directory (they sort after its first rounds).
ADJUDICATED_PREFIX = "second-review-adjudicated"


def review_id(text: str) -> str:
    """A paragraph's id in the review file: the first 16 hex digits of its text's sha1."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def review_lines(directory: Path, what: str, keys: tuple[str, ...], pattern: str = "*.jsonl",
                 first_round_only: bool = False):
    """("file:line", record) for every line of the directory's JSON Lines files, files in name
    order; a line that is not a JSON object with `keys` raises CorpusError naming the place.
    `first_round_only` leaves out the adjudicated files of the second review."""
    from classifier.corpus import CorpusError

    for path in sorted(Path(directory).glob(pattern)):
        if first_round_only and path.name.startswith(ADJUDICATED_PREFIX):
            continue
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


def load_news_extra_review(directory: Path = NEWS_EXTRA_DIR) -> dict[str, tuple[list[str], str]]:
    """id -> (topics, sentiment) of a paragraph read once for training; a bad line names its place."""
    return {str(rec["id"]): (checked_topics(rec["topics"], where), checked_sentiment(rec["sentiment"], where))
            for where, rec in review_lines(directory, "news review record", ("id", "topics", "sentiment"))}


def load_sentiment_review(directory: Path = SENTIMENT_REVIEW_DIR) -> dict[str, str]:
    """id -> reviewed sentiment of a news paragraph; a bad line names the file and line."""
    return {str(rec["id"]): checked_sentiment(rec["sentiment"], where)
            for where, rec in review_lines(directory, "sentiment review record", ("id", "sentiment"))}


def agreement(directory: Path = SECOND_REVIEW_DIR) -> dict:
    """How the second, blind review compares with the first: raw agreement and Cohen's kappa
    for sentiment; exact agreement and per-code F1 between the two reviewers for topics;
    and how many labels the adjudication changed."""
    import numpy as np
    from sklearn.metrics import cohen_kappa_score, f1_score

    from classifier.corpus import MODEL_TOPICS
    from classifier.headlines import load_review as load_headline_review

    heads = load_headline_review(first_round_only=True)
    first_s = {str(r["id"]): r["sentiment"] for _, r in review_lines(
        SENTIMENT_REVIEW_DIR, "sentiment review record", ("id", "sentiment"), first_round_only=True)}
    first_s.update({k: v["sentiment"] for k, v in heads.items()})
    first_t = {str(r["id"]): r["topics"] for _, r in review_lines(
        REVIEW_DIR, "review record", ("id", "topics"), first_round_only=True)}
    first_t.update({k: v["topics"] for k, v in heads.items()})
    final_s = load_sentiment_review()
    final_heads = load_headline_review()
    final_s.update({k: v["sentiment"] for k, v in final_heads.items()})
    final_t = load_review()
    final_t.update({k: v["topics"] for k, v in final_heads.items()})

    out = {}
    second_s = {str(r["id"]): checked_sentiment(r["sentiment"], w) for w, r in review_lines(
        directory, "second review record", ("id", "sentiment"), "sentiment-*.jsonl")}
    ids = [i for i in second_s if i in first_s]
    if ids:
        a, b = [first_s[i] for i in ids], [second_s[i] for i in ids]
        out["sentiment"] = {
            "n": len(ids), "agreement": round(float(np.mean([x == y for x, y in zip(a, b)])), 3),
            "cohen_kappa": round(float(cohen_kappa_score(a, b)), 3),
            "adjudicated": sum(x != y for x, y in zip(a, b)),
            "final_is_first": sum(final_s.get(i) == first_s[i] for i in ids if first_s[i] != second_s[i]),
            "final_is_second": sum(final_s.get(i) == second_s[i] for i in ids if first_s[i] != second_s[i]),
        }
    second_t = {str(r["id"]): checked_topics(r["topics"], w) for w, r in review_lines(
        directory, "second review record", ("id", "topics"), "topics-*.jsonl")}
    ids = [i for i in second_t if first_t.get(i)]
    if ids:
        f1 = {}
        for code in MODEL_TOPICS:
            a = [code in first_t[i] for i in ids]
            b = [code in second_t[i] for i in ids]
            if any(a) or any(b):
                f1[code] = round(float(f1_score(a, b)), 3)
        out["topics"] = {
            "n": len(ids),
            "same_set": round(float(np.mean([set(first_t[i]) == set(second_t[i]) for i in ids])), 3),
            "same_first_topic": round(float(np.mean([first_t[i][0] == second_t[i][0] for i in ids])), 3),
            "reviewer_f1_per_code": f1,
            "reviewer_macro_f1": round(float(np.mean(list(f1.values()))), 3) if f1 else None,
            "adjudicated": sum(set(first_t[i]) != set(second_t[i]) for i in ids),
            "final_changed": sum(set(final_t.get(i) or []) != set(first_t[i]) for i in ids),
        }
    return out


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
    sub.add_parser("agreement")
    args = ap.parse_args(argv)
    if args.cmd in ("stats", "agreement"):
        print(json.dumps(stats() if args.cmd == "stats" else agreement(), ensure_ascii=False,
                         indent=2))
        return 0
    found = candidates({t.strip() for t in args.topics.split(",") if t.strip()})
    for rec in found[: args.limit or None]:
        print(json.dumps(rec, ensure_ascii=False))
    print(f"{len(found)} candidate(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
