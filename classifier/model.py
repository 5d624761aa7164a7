"""The trained classifier: topics (multi-label), sentiment, keywords, sensitive words, places.

A model file is a joblib dump of a plain dict (see `Classifier.save`) made by
`classifier.train.train()`. Features come from `classifier.features.Featurizer`
(word + sentiment-cue tf-idf and char 1-2-gram tf-idf). Every model is linear
and stored as a weight matrix: topics are one calibrated binary model per
code (``p = sigmoid(X @ W + b)``) with a per-topic threshold tuned on a dev
split; sentiment is one 3-class model (``softmax(X @ W + b)``). Which model
family produced the weights (logistic regression, or a linear SVM with Platt
scaling) is in ``metadata["family"]``.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import joblib
import numpy as np
import yaml

from classifier.features import BatchTokens, Featurizer, TokenIds, span_hash
from classifier.places import Gazetteer, default_places_path
from classifier.tokenizer import BACKEND as tokenizer_backend
from classifier.tokenizer import (DIGIT, DOT, codepoints, cut_batch, normalize, normalize_batch,
                                  texts_containing, tokenize_batch)
from yuqing.records import ClassifiedPost, Post, Sentiment, TopicScore

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
#: Only the head of a long post is vectorised (the model was trained on texts
#: of at most a few hundred characters); sensitive words and places scan the whole text.
PREDICT_MAX_CHARS = 3000
N_KEYWORDS = 5
SEVERITY_ORDER = ("high", "medium", "low")

#: Two-character function words that tf-idf would otherwise pick as keywords.
KEYWORD_STOPWORDS = frozenset(
    "我们 你们 他们 她们 它们 自己 这个 那个 这些 那些 什么 怎么 为什么 没有 已经 就是 还是 "
    "可以 因为 所以 但是 如果 现在 还有 一个 一下 一直 这样 那样 然后 而且 或者 不是 真的 "
    "非常 特别 还要 这么 那么 时候 今天 昨天 明天 一些 大家 觉得 知道 问题 情况 有关 进行".split()
)


class ModelError(RuntimeError):
    """A model file that cannot be loaded or used."""


@dataclass
class Prediction:
    """What the model says about one text."""

    topics: list[tuple[str, float]]
    sentiment: tuple[str, float]
    keywords: list[str] = field(default_factory=list)
    sensitive_hits: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)


def default_sensitive_words_path() -> Path:
    from yuqing.config import get_settings

    return get_settings().config_file("sensitive_words.yaml")


def load_sensitive_levels(path: Path) -> dict[str, str]:
    """{word: severity} of the severity-keyed YAML, most severe first.

    The file maps a severity (high, medium, low; other keys are accepted and
    ordered after these) to a list of words. A word listed under two
    severities keeps the more severe one. Errors name the file.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: cannot read sensitive words ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping of severity -> list of words")
    keys = [k for k in SEVERITY_ORDER if k in data] + sorted(k for k in data if k not in SEVERITY_ORDER)
    levels: dict[str, str] = {}
    for key in keys:
        items = data[key] or []
        if not isinstance(items, list) or not all(isinstance(w, str) and w.strip() for w in items):
            raise ModelError(f"{path}: '{key}' must be a list of non-empty strings")
        for w in items:
            levels.setdefault(normalize(w.strip()), str(key))
    return levels


def load_sensitive_words(path: Path) -> list[str]:
    """Words of the severity-keyed YAML, most severe first, de-duplicated."""
    return list(load_sensitive_levels(path))


@lru_cache(maxsize=8)
def _levels_of(path: str, mtime: float) -> dict[str, str]:
    return load_sensitive_levels(Path(path))


def sensitive_level(word: str, path: Optional[Path] = None) -> Optional[str]:
    """The severity (``high`` | ``medium`` | ``low`` …) of a sensitive word, or None.

    For alert rules grading a post by its ``sensitive_hits``; reads
    ``config/sensitive_words.yaml`` (or `path`), cached until the file changes.
    """
    path = Path(path or default_sensitive_words_path())
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _levels_of(str(path), mtime).get(normalize(word))


def _neg_second(pair):
    return -pair[1]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def atomic_dump(obj, path: Path, *, compress=0) -> None:
    """joblib.dump to a temporary file in the same directory, then rename over `path`.

    Readers (the worker's ModelHolder reloads by mtime) never see a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        joblib.dump(obj, tmp, compress=compress)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Classifier:
    """Fitted featuriser and linear models; thread-safe for prediction."""

    def __init__(self, *, featurizer: Featurizer, topic_codes: Sequence[str],
                 topic_weights: np.ndarray, topic_bias: np.ndarray, thresholds: dict[str, float],
                 sentiment_labels: Sequence[str], sentiment_weights: np.ndarray,
                 sentiment_bias: np.ndarray, metadata: dict,
                 sensitive_levels: Optional[dict[str, str]] = None,
                 gazetteer: Optional[Gazetteer] = None):
        self.featurizer = featurizer
        self.topic_codes = list(topic_codes)
        self.topic_weights = np.asarray(topic_weights, dtype=np.float32)
        self.topic_bias = np.asarray(topic_bias, dtype=np.float32)
        self.thresholds = dict(thresholds)
        self.sentiment_labels = [str(x) for x in sentiment_labels]
        self.sentiment_weights = np.asarray(sentiment_weights, dtype=np.float32)
        self.sentiment_bias = np.asarray(sentiment_bias, dtype=np.float32)
        self.metadata = dict(metadata)
        self.sensitive_levels = dict(sensitive_levels or {})
        self.gazetteer = gazetteer or Gazetteer([])
        if self.topic_weights.shape != (featurizer.n_features, len(self.topic_codes)):
            raise ModelError("topic weights do not match the features and topic codes")
        if self.sentiment_weights.shape != (featurizer.n_features, len(self.sentiment_labels)):
            raise ModelError("sentiment weights do not match the features and labels")

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def sensitive_words(self) -> list[str]:
        return list(self.sensitive_levels)

    def sensitive_level(self, word: str) -> Optional[str]:
        """Severity of a sensitive word as loaded with this model (None if not one)."""
        return self.sensitive_levels.get(normalize(word))

    # ------------------------------------------------------------------ io
    def save(self, path: Path) -> None:
        """Write the model file atomically (temporary file + rename)."""
        atomic_dump({
            "format": FORMAT_VERSION,
            "featurizer": self.featurizer,
            "topic_codes": self.topic_codes,
            "topic_weights": self.topic_weights,
            "topic_bias": self.topic_bias,
            "thresholds": self.thresholds,
            "sentiment_labels": self.sentiment_labels,
            "sentiment_weights": self.sentiment_weights,
            "sentiment_bias": self.sentiment_bias,
            "metadata": self.metadata,
        }, path, compress=("zlib", 1))

    @classmethod
    def load(cls, path: Path, *, sensitive_words_path: Optional[Path] = None,
             places_path: Optional[Path] = None) -> "Classifier":
        """Load a model file; sensitive words and places come from config (or the given YAML)."""
        path = Path(path)
        if not path.exists():
            raise ModelError(f"{path}: no such model file (run `yuqing train`)")
        try:
            parts = joblib.load(path)
        except Exception as exc:  # pickle/joblib raise many types
            raise ModelError(f"{path}: cannot load model ({exc})") from exc
        if not isinstance(parts, dict) or parts.get("format") != FORMAT_VERSION:
            raise ModelError(f"{path}: not a model file of format {FORMAT_VERSION} (run `yuqing train`)")
        backend = parts["metadata"].get("tokenizer_backend")
        if backend and backend != tokenizer_backend:
            log.warning("%s was trained with the %s tokenizer, running %s (segmentation differs "
                        "on a few percent of texts)", path, backend, tokenizer_backend)
        levels = load_sensitive_levels(sensitive_words_path or default_sensitive_words_path())
        gazetteer = Gazetteer.load(places_path or default_places_path())
        parts.pop("format")
        return cls(sensitive_levels=levels, gazetteer=gazetteer, **parts)

    # ---------------------------------------------------------- features
    def _features(self, texts: list[str], tokens: Optional[list[list[str]]] = None):
        """(tokens, all features) of `texts`; pass `tokens` if already tokenized."""
        heads = [t[:PREDICT_MAX_CHARS] for t in texts]
        if tokens is None:
            tokens = tokenize_batch(heads)
        return tokens, self.featurizer.transform(heads, tokens)

    def topic_probabilities(self, X) -> np.ndarray:
        """(n_texts, n_topics) probabilities, columns in `topic_codes` order."""
        return _sigmoid(np.asarray(X @ self.topic_weights) + self.topic_bias)

    def sentiment_probabilities(self, X) -> np.ndarray:
        """(n_texts, 3) probabilities, columns in `sentiment_labels` order."""
        return _softmax(np.asarray(X @ self.sentiment_weights) + self.sentiment_bias)

    def _keywords(self, tokens: list[str]) -> list[str]:
        """Top tf-idf terms of one text; words unseen in training get the top idf."""
        return self._keywords_batch(BatchTokens([tokens]))[0]

    def _keywords_batch(self, bt: BatchTokens) -> list[list[str]]:
        """`N_KEYWORDS` top tf-idf terms of each text of a batch, vectorised.

        Score ``(1 + log tf) * idf`` (tf capped at 63, idf of unseen words =
        the top idf); ties keep text order. Words of one character, stop
        words and numbers are skipped.
        """
        f = self.featurizer
        vocab_ids = bt.vocab_ids
        if vocab_ids is None:
            get = f.word_vocab.get
            vocab_ids = np.fromiter((get(t, -1) for t in bt.uniq), dtype=np.int64,
                                    count=len(bt.uniq))
        ok = np.fromiter((len(t) > 1 and t not in KEYWORD_STOPWORDS
                          and not t.replace(".", "").isdigit() for t in bt.uniq),
                         dtype=bool, count=len(bt.uniq))
        uniq = bt.uniq
        return self._top_terms(bt.ids, bt.rows, int(bt.starts.size), vocab_ids, ok, uniq.__getitem__)

    def _keywords_ids(self, ti: TokenIds) -> list[list[str]]:
        """`_keywords_batch` over the grouped tokens of the vectorised path.

        Length, numbers (digits and dots only) and stop words are decided on
        the code points; a stop-word hash match is confirmed on the string.
        """
        cb, first = ti.cb, ti.first
        start, length = cb.start[first], cb.length[first]
        flags = cb.flags
        digits = np.concatenate([[0], np.cumsum((flags & DIGIT) != 0, dtype=np.int64)])
        dots = np.concatenate([[0], np.cumsum((flags & DOT) != 0, dtype=np.int64)])
        n_digits = digits[start + length] - digits[start]
        n_dots = dots[start + length] - dots[start]
        numeric = (n_digits > 0) & (n_digits + n_dots == length)
        ok = (length > 1) & ~numeric
        for u in np.flatnonzero(np.isin(ti.hash, self._stopword_hashes()) & ok).tolist():
            if ti.word(u) in KEYWORD_STOPWORDS:
                ok[u] = False
        return self._top_terms(ti.ids, ti.rows, cb.n, ti.vocab_ids, ok, ti.word)

    def _stopword_hashes(self) -> np.ndarray:
        h = self.__dict__.get("_stop_hashes")
        if h is None:
            words = sorted(KEYWORD_STOPWORDS)
            cp = codepoints("".join(words))
            length = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            h = self._stop_hashes = span_hash(cp, np.cumsum(length) - length, length)
        return h

    def _top_terms(self, ids, rows, n_docs: int, vocab_ids, ok, word) -> list[list[str]]:
        """Top `N_KEYWORDS` tokens of each text by ``(1 + log tf) * idf`` among `ok` ones.

        ``ids``/``rows``: distinct-token number and text of each token, in
        text order; ``vocab_ids``/``ok``: per distinct token; ``word(u)``: its string.
        """
        out: list[list[str]] = [[] for _ in range(n_docs)]
        if not ids.size:
            return out
        f = self.featurizer
        idf = f.word_idf.astype(np.float64)
        unseen = float(idf.max()) if idf.size else 1.0
        u_idf = np.where(vocab_ids >= 0, idf[np.maximum(vocab_ids, 0)] if idf.size else unseen,
                         unseen)
        sel = np.flatnonzero(ok[ids])
        if not sel.size:
            return out
        n_uniq = int(vocab_ids.size)
        uid, doc = ids[sel], rows[sel]
        key = doc * n_uniq + uid
        ukey, first, counts = np.unique(key, return_index=True, return_counts=True)
        kdoc, kuid, kfirst = ukey // n_uniq, ukey % n_uniq, sel[first]
        score = (1.0 + np.log(np.minimum(counts, 63))) * u_idf[kuid]
        order = np.lexsort((kfirst, -score, kdoc))
        kdoc, kuid = kdoc[order], kuid[order]
        group_start = np.searchsorted(kdoc, kdoc, side="left")
        keep = (np.arange(kdoc.size) - group_start) < N_KEYWORDS
        for d, u in zip(kdoc[keep].tolist(), kuid[keep].tolist()):
            out[d].append(word(u))
        return out

    def _sensitive(self, norm: str) -> list[str]:
        return [w for w in self.sensitive_levels if w in norm]

    def _sensitive_batch(self, norms: list[str], joined: str) -> list[list[str]]:
        """`_sensitive` of each text; only texts where some word occurs are scanned one by one."""
        out: list[list[str]] = [[] for _ in norms]
        for d in texts_containing(self.sensitive_levels, norms, joined):
            out[d] = self._sensitive(norms[d])
        return out

    def _stacked_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Topic and sentiment weights side by side: one sparse x dense product per batch."""
        parts = (self.topic_weights, self.sentiment_weights, self.topic_bias, self.sentiment_bias)
        cached = self.__dict__.get("_stack")
        if cached is None or any(a is not b for a, b in zip(cached[0], parts)):
            W = np.ascontiguousarray(np.hstack([self.topic_weights, self.sentiment_weights]))
            b = np.concatenate([self.topic_bias, self.sentiment_bias])
            cached = self._stack = (parts, W, b)
        return cached[1], cached[2]

    def _scores(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(topic, sentiment) probabilities of features `X` with one matrix product."""
        W, bias = self._stacked_weights()
        scores = np.asarray(X @ W)
        n_topics = len(self.topic_codes)
        return (_sigmoid(scores[:, :n_topics] + bias[:n_topics]),
                _softmax(scores[:, n_topics:] + bias[n_topics:]))

    # --------------------------------------------------------- prediction
    def predict_batch(self, texts: list[str]) -> list[Prediction]:
        """Classify many texts at once (one vectorisation for the batch).

        The batch is cut in one call and vectorised without a Python
        operation per token (`Featurizer.transform_cut`); if that path cannot
        be taken, the per-text token lists are used (the same result).
        """
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return []
        norms = normalize_batch(texts)  # once; later normalize calls are cheap checks
        if max(map(len, norms)) > PREDICT_MAX_CHARS:
            heads = [t[:PREDICT_MAX_CHARS] for t in norms]
        else:
            heads = norms
        cb = cut_batch(heads)
        fast = self.featurizer.transform_cut(cb) if cb is not None else None
        if fast is not None:
            X, ti = fast
            keywords = self._keywords_ids(ti)
        else:
            X, bt = self.featurizer.transform_tokens(heads, tokenize_batch(heads))
            keywords = self._keywords_batch(bt)
        topic_p, sent_p = self._scores(X)
        n_topics = len(self.topic_codes)
        thresholds = np.array([self.thresholds.get(c, 0.5) for c in self.topic_codes])
        passed_mask = topic_p >= thresholds
        sent_k = np.argmax(sent_p, axis=1)
        sent_best = sent_p[np.arange(len(texts)), sent_k].tolist()
        other_score = (1.0 - topic_p.max(axis=1)).tolist() if n_topics else [1.0] * len(texts)
        any_hit = passed_mask.any(axis=1).tolist()
        codes, labels = self.topic_codes, self.sentiment_labels
        joined = "\x00".join(norms)
        sensitive = self._sensitive_batch(norms, joined)
        regions = self.gazetteer.find_batch(norms)
        out = []
        for i, (hit, k) in enumerate(zip(any_hit, sent_k.tolist())):
            if hit:
                p = topic_p[i]
                passed = sorted(((codes[j], float(p[j])) for j in np.flatnonzero(passed_mask[i])),
                                key=_neg_second)
            else:
                passed = [("other", other_score[i])]
            out.append(Prediction(
                topics=passed,
                sentiment=(labels[k], sent_best[i]),
                keywords=keywords[i],
                sensitive_hits=sensitive[i],
                region=regions[i],
            ))
        return out

    def predict(self, text: str) -> Prediction:
        return self.predict_batch([text])[0]

    def classify_posts(self, posts: list[Post], *, batch_size: int = 256) -> list[ClassifiedPost]:
        """ClassifiedPost records for `posts`, in order, predicted in batches."""
        out: list[ClassifiedPost] = []
        for start in range(0, len(posts), batch_size):
            chunk = posts[start:start + batch_size]
            preds = self.predict_batch([p.full_text for p in chunk])
            for post, pred in zip(chunk, preds):
                out.append(ClassifiedPost(
                    # only the Post fields: a re-classified ClassifiedPost keeps none of
                    # its old labels
                    **post.model_dump(include=_POST_FIELDS - {"region"}),
                    topics=[TopicScore(code=c, score=_unit(s)) for c, s in pred.topics],
                    sentiment=Sentiment(label=pred.sentiment[0], score=_unit(pred.sentiment[1])),
                    keywords=pred.keywords,
                    sensitive_hits=pred.sensitive_hits,
                    model_version=self.version,
                    # the crawler's places win; else the gazetteer's
                    region=list(post.region) if post.region else pred.region,
                ))
        return out


_POST_FIELDS = set(Post.model_fields)



def _unit(x: float) -> float:
    """Clamp to [0, 1] (float rounding can step just outside)."""
    return min(1.0, max(0.0, float(x)))
