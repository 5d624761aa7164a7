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
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import joblib
import numpy as np

from classifier.features import BatchTokens, Featurizer, TokenIds, token_keys
from classifier.places import Gazetteer, default_places_path
from classifier.sensitive import SensitiveMatcher, default_sensitive_words_path, load_sensitive_levels
from classifier.tokenizer import BACKEND as tokenizer_backend
from classifier.tokenizer import (DIGIT, DOT, char_flags, codepoints, cut_batch, normalize,
                                  normalize_batch, tokenize_batch)
from classifier.posts import classified_json, classified_posts
from yuqing.records import ClassifiedPost, Post

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
#: Only the head of a long post is vectorised (the model was trained on texts
#: of at most a few hundred characters); sensitive words and places scan the whole text.
PREDICT_MAX_CHARS = 3000
N_KEYWORDS = 5
#: Texts per chunk when `Classifier.threads` > 1 pipelines a batch (a batch
#: of fewer than two chunks is done in one piece).
PIPELINE_CHUNK = 250
#: Bits an int64 sort key may use (the keyword ranking packs several fields).
_PACK_BITS = 63

#: Two-character function words that tf-idf would otherwise pick as keywords.
KEYWORD_STOPWORDS = frozenset(
    "我们 你们 他们 她们 它们 自己 这个 那个 这些 那些 什么 怎么 为什么 没有 已经 就是 还是 "
    "可以 因为 所以 但是 如果 现在 还有 一个 一下 一直 这样 那样 然后 而且 或者 不是 真的 "
    "非常 特别 还要 这么 那么 时候 今天 昨天 明天 一些 大家 觉得 知道 问题 情况 有关 进行".split()
)


class ModelError(RuntimeError):
    """A model file that cannot be loaded or used."""


@dataclass(slots=True)
class Prediction:
    """What the model says about one text."""

    topics: list[tuple[str, float]]
    sentiment: tuple[str, float]
    keywords: list[str] = field(default_factory=list)
    sensitive_hits: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)


def _keyword_ok(token: str) -> bool:
    """A token that may be a keyword: 2+ characters, not a stop word, not a number."""
    return len(token) > 1 and token not in KEYWORD_STOPWORDS and not token.replace(".", "").isdigit()


def _neg_second(pair):
    return -pair[1]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


_pool = None  # (pid, executor)
_pool_lock = threading.Lock()


def _thread_pool():
    """The one worker thread that prepares the next chunk of a batch (see `predict_batch`).

    One per process: a forked child (whose copy of the pool has no thread)
    makes its own.
    """
    global _pool
    pool = _pool
    if pool is None or pool[0] != os.getpid():
        with _pool_lock:
            pool = _pool
            if pool is None or pool[0] != os.getpid():
                from concurrent.futures import ThreadPoolExecutor

                pool = _pool = (os.getpid(), ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="yuqing-classify"))
    return pool[1]


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
        self._sensitive = SensitiveMatcher(self.sensitive_levels)
        self.gazetteer = gazetteer or Gazetteer([])
        #: 2: pipeline big batches over two threads (see `predict_batch`; only
        #: rjieba's segmentation runs without the GIL). 1 (the default): on the
        #: shared 2-core machine the second thread was not reliably faster.
        self.threads = 1
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
    def topic_probabilities(self, X) -> np.ndarray:
        """(n_texts, n_topics) probabilities, columns in `topic_codes` order."""
        return _sigmoid(np.asarray(X @ self.topic_weights) + self.topic_bias)

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
        ok = np.fromiter((_keyword_ok(t) for t in bt.uniq), dtype=bool, count=len(bt.uniq))
        uniq = bt.uniq
        return self._top_terms(bt.ids, bt.rows, int(bt.starts.size), len(uniq),
                               vocab_ids[bt.ids], ok[bt.ids],
                               lambda u: [uniq[i] for i in u.tolist()])

    def _keywords_ids(self, ti: TokenIds) -> list[list[str]]:
        """`_keywords_batch` over the token groups of the vectorised path.

        Whether a known string may be a keyword is decided once per model;
        for the batch's unknown strings, length and numbers (digits and dots
        only) are decided on the code points and stop words by key (checked
        on the string beyond 3 characters).
        """
        cb, tables = ti.cb, ti.tables
        known_ok = self._known_keyword_ok(tables)
        n_known = known_ok.size
        ok_known_tok = (known_ok[np.minimum(ti.ids, n_known - 1)] if n_known
                        else np.zeros(ti.ids.size, dtype=bool))
        u_first = ti.unknown_first
        if u_first.size:
            u_ok = self._keyword_ok_spans(cb.cp, cb.flags, cb.start[u_first], cb.length[u_first],
                                          ti.unknown_keys, lambda u: ti.word(n_known + u))
            unknown_tok = ti.ids >= n_known
            ok = np.where(unknown_tok, u_ok[np.maximum(ti.ids - n_known, 0)], ok_known_tok)
        else:
            ok = ok_known_tok
        return self._top_terms(ti.ids, ti.rows, cb.n, ti.n_uniq, ti.col, ok, ti.words_of)

    def _keyword_ok_spans(self, cp, flags, start, length, keys, word) -> np.ndarray:
        """`_keyword_ok` of the strings ``cp[start:start + length]``, on the code points.

        Length; a number is digits (``str.isdigit``) and dots only, with a
        digit; a stop word is matched by `token_keys` key and confirmed on
        the string ``word(i)``.
        """
        digits = np.concatenate([[0], np.cumsum((flags & DIGIT) != 0, dtype=np.int64)])
        dots = np.concatenate([[0], np.cumsum((flags & DOT) != 0, dtype=np.int64)])
        n_digits = digits[start + length] - digits[start]
        n_dots = dots[start + length] - dots[start]
        ok = (length > 1) & ~((n_digits > 0) & (n_digits + n_dots == length))
        for i in np.flatnonzero(np.isin(keys, self._stopword_keys()) & ok).tolist():
            if word(i) in KEYWORD_STOPWORDS:
                ok[i] = False
        return ok

    def _known_keyword_ok(self, tables) -> np.ndarray:
        """`_keyword_ok` of each known string of the featurizer's tables (once)."""
        cached = self.__dict__.get("_known_kw")
        if cached is None or cached[0] is not tables:
            ok = self._keyword_ok_spans(tables.cp, char_flags(tables.cp), tables.start,
                                        tables.length, tables.keys, tables.strings.__getitem__)
            cached = self._known_kw = (tables, ok)
        return cached[1]

    def _stopword_keys(self) -> np.ndarray:
        keys = self.__dict__.get("_stop_keys")
        if keys is None:
            words = sorted(KEYWORD_STOPWORDS)
            cp = codepoints("".join(words))
            length = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            keys = self._stop_keys = token_keys(cp, np.cumsum(length) - length, length)
        return keys

    def _top_terms(self, ids, rows, n_docs: int, n_uniq: int, col, ok, words_of) -> list[list[str]]:
        """Top `N_KEYWORDS` tokens of each text by ``(1 + log tf) * idf`` among `ok` ones.

        Per token, in text order: ``ids`` its string's number (< `n_uniq`),
        ``rows`` its text, ``col`` its word column (-1: unseen, the top idf),
        ``ok`` whether it may be a keyword; ``words_of(u)``: the strings of numbers `u`.
        """
        sel = np.flatnonzero(ok)
        if not sel.size:
            return [[] for _ in range(n_docs)]
        idf = self.featurizer.word_idf.astype(np.float64)
        unseen = float(idf.max()) if idf.size else 1.0
        # count each (text, string) and find its first token: one sort of
        # (text, string, position) keys packed in an int64 when they fit
        key = rows[sel] * n_uniq + ids[sel]
        pos_bits = max(int(ids.size).bit_length(), 1)
        if int(n_docs * n_uniq).bit_length() + pos_bits <= _PACK_BITS:
            packed = np.sort((key << pos_bits) | sel)
            group = packed >> pos_bits
            new = np.empty(group.size, dtype=bool)
            new[0] = True
            np.not_equal(group[1:], group[:-1], out=new[1:])
            at = np.flatnonzero(new)
            kfirst = packed[at] & ((1 << pos_bits) - 1)
            counts = np.diff(at, append=group.size)
        else:
            _, first, counts = np.unique(key, return_index=True, return_counts=True)
            kfirst = sel[first]
        kdoc, kcol = rows[kfirst], col[kfirst]
        k_idf = np.where(kcol >= 0, idf[np.maximum(kcol, 0)] if idf.size else unseen, unseen)
        score = (1.0 + np.log(np.minimum(counts, 63))) * k_idf
        # order by text, score (high first), first token: one sort of packed
        # (text, score rank, position) keys when they fit, else lexsort
        distinct, rank = np.unique(score, return_inverse=True)
        rank_bits = max(int(distinct.size).bit_length(), 1)
        doc_bits = max(int(n_docs).bit_length(), 1)
        if doc_bits + rank_bits + pos_bits <= _PACK_BITS:
            rank = distinct.size - 1 - rank.reshape(-1)
            ordered = np.sort((kdoc << (rank_bits + pos_bits)) | (rank << pos_bits) | kfirst)
            kfirst = ordered & ((1 << pos_bits) - 1)
        else:
            kfirst = kfirst[np.lexsort((kfirst, -score, kdoc))]
        kdoc, kuid = rows[kfirst], ids[kfirst]
        group_start = np.searchsorted(kdoc, kdoc, side="left")
        keep = (np.arange(kdoc.size) - group_start) < N_KEYWORDS
        bounds = np.searchsorted(kdoc[keep], np.arange(n_docs + 1)).tolist()
        words = words_of(kuid[keep])
        return [words[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

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
        """Classify many texts at once (one vectorisation per chunk of the batch).

        Each chunk is cut in one call and vectorised without a Python
        operation per token (`Featurizer.transform_cut`); if that path cannot
        be taken, the per-text token lists are used (the same result). With
        ``threads`` > 1 a batch of two `PIPELINE_CHUNK` texts or more is done
        in chunks, the next chunk normalised and cut in a second thread while
        this one is vectorised (rjieba's segmentation runs without the GIL;
        the strings it returns are made with it).
        """
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return []
        chunk = PIPELINE_CHUNK
        if self.threads < 2 or len(texts) < 2 * chunk:
            return self._finish(*self._prepare(texts))
        parts = [texts[i:i + chunk] for i in range(0, len(texts), chunk)]
        if len(parts[-1]) < chunk // 2:  # no small tail chunk
            parts[-2:] = [parts[-2] + parts[-1]]
        pool = _thread_pool()
        ahead = pool.submit(self._prepare, parts[1])
        out = self._finish(*self._prepare(parts[0]))
        for k in range(1, len(parts)):
            prepared = ahead.result()
            if k + 1 < len(parts):
                ahead = pool.submit(self._prepare, parts[k + 1])
            out += self._finish(*prepared)
        return out

    def _prepare(self, texts: list[str]):
        """(normalised texts, heads, `CutBatch` or None, its char columns).

        What the second thread does when `threads` > 1.
        """
        norms = normalize_batch(texts)  # once; later normalize calls are cheap checks
        if max(map(len, norms)) > PREDICT_MAX_CHARS:
            heads = [t[:PREDICT_MAX_CHARS] for t in norms]
        else:
            heads = norms
        cb = cut_batch(heads)
        return norms, heads, cb, self.featurizer.char_columns(cb) if cb is not None else None

    def _finish(self, norms: list[str], heads: list[str], cb, char_cols) -> list[Prediction]:
        texts = norms
        fast = self.featurizer.transform_cut(cb, char_cols) if cb is not None else None
        if fast is not None:
            X, ti = fast
            keywords = self._keywords_ids(ti)
        else:
            X, bt = self.featurizer.transform_tokens(heads, tokenize_batch(heads))
            keywords = self._keywords_batch(bt)
        if cb is not None:
            cb.words = None  # the batch's token strings (garbage collections walk the list)
        topic_p, sent_p = self._scores(X)
        n_topics = len(self.topic_codes)
        thresholds = np.array([self.thresholds.get(c, 0.5) for c in self.topic_codes])
        sent_k = np.argmax(sent_p, axis=1)
        sent_best = sent_p[np.arange(len(texts)), sent_k].tolist()
        other_score = (1.0 - topic_p.max(axis=1)).tolist() if n_topics else [1.0] * len(texts)
        codes, labels = self.topic_codes, self.sentiment_labels
        # the topics that pass their threshold, per text, highest first
        passed: list = [None] * len(texts)
        hit_rows, hit_cols = np.nonzero(topic_p >= thresholds)
        for i, j, score in zip(hit_rows.tolist(), hit_cols.tolist(),
                               topic_p[hit_rows, hit_cols].tolist()):
            if passed[i] is None:
                passed[i] = []
            passed[i].append((codes[j], score))
        for i in set(hit_rows.tolist()):
            passed[i].sort(key=_neg_second)
        joined = "\x00".join(norms)
        sensitive = self._sensitive.find_batch(norms, joined)
        regions = self.gazetteer.find_batch(norms)
        return [Prediction(topics=topics if topics is not None else [("other", other)],
                           sentiment=(labels[k], best), keywords=kw, sensitive_hits=sens,
                           region=region)
                for topics, other, k, best, kw, sens, region
                in zip(passed, other_score, sent_k.tolist(), sent_best, keywords, sensitive,
                       regions)]

    def predict(self, text: str) -> Prediction:
        return self.predict_batch([text])[0]

    def classify_posts(self, posts: list[Post], *, batch_size: int = 512) -> list[ClassifiedPost]:
        """ClassifiedPost records for `posts`, in order, predicted in batches."""
        return self._records(posts, batch_size, classified_posts)

    def classify_json(self, posts: list[Post], *, batch_size: int = 512) -> list[bytes]:
        """The JSON of `classify_posts(posts)`, made without the ClassifiedPost objects."""
        return self._records(posts, batch_size, classified_json)

    def _records(self, posts: list[Post], batch_size: int, make) -> list:
        out: list = []
        for start in range(0, len(posts), batch_size):
            chunk = posts[start:start + batch_size]
            out += make(chunk, self.predict_batch([p.full_text for p in chunk]), self.version)
        return out
