"""The trained classifier: topics (multi-label), sentiment, keywords, sensitive words.

A model file is a joblib dump of a plain dict (see `Classifier.save`) made by
`classifier.train.train()`. Features are tf-idf over jieba words plus tf-idf
over character 1-3-grams, stacked; topics are one binary logistic regression
per code with a per-topic threshold tuned on a dev split; sentiment is one
3-class logistic regression.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import joblib
import numpy as np
import scipy.sparse as sp
import yaml

from classifier.tokenizer import BACKEND as tokenizer_backend
from classifier.tokenizer import normalize, tokenize_batch
from yuqing.records import ClassifiedPost, Post, Sentiment, TopicScore

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Only the head of a long post is vectorised (the model was trained on texts
#: of at most a few hundred characters); sensitive words scan the whole text.
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


def default_sensitive_words_path() -> Path:
    from yuqing.config import get_settings

    return get_settings().config_file("sensitive_words.yaml")


def load_sensitive_words(path: Path) -> list[str]:
    """Words of the severity-keyed YAML, most severe first, de-duplicated.

    The file maps a severity (high, medium, low; other keys are accepted and
    ordered after these) to a list of words. Errors name the file.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: cannot read sensitive words ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping of severity -> list of words")
    keys = [k for k in SEVERITY_ORDER if k in data] + sorted(k for k in data if k not in SEVERITY_ORDER)
    words: list[str] = []
    for key in keys:
        items = data[key] or []
        if not isinstance(items, list) or not all(isinstance(w, str) and w.strip() for w in items):
            raise ModelError(f"{path}: '{key}' must be a list of non-empty strings")
        for w in items:
            w = normalize(w.strip())
            if w not in words:
                words.append(w)
    return words


class Classifier:
    """Fitted featurisers and models; thread-safe for prediction."""

    def __init__(self, *, word_vectorizer, char_vectorizer, topic_codes: Sequence[str],
                 topic_models: Sequence[Any], thresholds: dict[str, float],
                 sentiment_model, metadata: dict, sensitive_words: Optional[list[str]] = None):
        self.word_vectorizer = word_vectorizer
        self.char_vectorizer = char_vectorizer
        self.topic_codes = list(topic_codes)
        self.topic_models = list(topic_models)
        self.thresholds = dict(thresholds)
        self.sentiment_model = sentiment_model
        self.metadata = dict(metadata)
        self.sensitive_words = sensitive_words
        self._vocab: Optional[tuple[dict, float]] = None  # (term -> idf, idf of unseen)
        self._vocab_lock = threading.Lock()
        if len(self.topic_codes) != len(self.topic_models):
            raise ModelError("topic_codes and topic_models differ in length")

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    # ------------------------------------------------------------------ io
    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({
            "format": FORMAT_VERSION,
            "word_vectorizer": self.word_vectorizer,
            "char_vectorizer": self.char_vectorizer,
            "topic_codes": self.topic_codes,
            "topic_models": self.topic_models,
            "thresholds": self.thresholds,
            "sentiment_model": self.sentiment_model,
            "metadata": self.metadata,
        }, path, compress=3)

    @classmethod
    def load(cls, path: Path, *, sensitive_words_path: Optional[Path] = None) -> "Classifier":
        """Load a model file; sensitive words come from config (or the given YAML)."""
        path = Path(path)
        if not path.exists():
            raise ModelError(f"{path}: no such model file (run `python -m classifier.train`)")
        try:
            parts = joblib.load(path)
        except Exception as exc:  # pickle/joblib raise many types
            raise ModelError(f"{path}: cannot load model ({exc})") from exc
        if not isinstance(parts, dict) or parts.get("format") != FORMAT_VERSION:
            raise ModelError(f"{path}: not a model file of format {FORMAT_VERSION}")
        import sklearn

        trained_with = parts["metadata"].get("sklearn_version")
        if trained_with and trained_with != sklearn.__version__:
            log.warning("%s was trained with scikit-learn %s, running %s", path, trained_with,
                        sklearn.__version__)
        backend = parts["metadata"].get("tokenizer_backend")
        if backend and backend != tokenizer_backend:
            log.warning("%s was trained with the %s tokenizer, running %s (segmentation differs "
                        "on a few percent of texts)", path, backend, tokenizer_backend)
        words = load_sensitive_words(sensitive_words_path or default_sensitive_words_path())
        parts.pop("format")
        return cls(sensitive_words=words, **parts)

    # ---------------------------------------------------------- features
    def _features(self, texts: list[str], tokens: Optional[list[list[str]]] = None):
        """(tokens, all features) of `texts`; pass `tokens` if already tokenized."""
        heads = [t[:PREDICT_MAX_CHARS] for t in texts]
        if tokens is None:
            tokens = tokenize_batch(heads)
        words = self.word_vectorizer.transform(tokens)
        chars = self.char_vectorizer.transform(heads)
        return tokens, sp.hstack([words, chars], format="csr")

    def topic_probabilities(self, X) -> np.ndarray:
        """(n_texts, n_topics) probabilities, columns in `topic_codes` order."""
        return np.column_stack([m.predict_proba(X)[:, 1] for m in self.topic_models])

    def _idf(self) -> tuple[dict, float]:
        if self._vocab is None:
            with self._vocab_lock:
                if self._vocab is None:
                    vec = self.word_vectorizer
                    idf = vec.idf_
                    self._vocab = ({t: float(idf[i]) for t, i in vec.vocabulary_.items()},
                                   float(idf.max()))
        return self._vocab

    def _keywords(self, tokens: list[str]) -> list[str]:
        """Top tf-idf terms of one text; words unseen in training get the top idf."""
        idf, unseen_idf = self._idf()
        counts: dict[str, int] = {}
        for tok in tokens:
            if len(tok) < 2 or tok in KEYWORD_STOPWORDS or tok.replace(".", "").isdigit():
                continue
            counts[tok] = counts.get(tok, 0) + 1
        # dicts keep first-occurrence order, so equal scores keep text order
        scored = sorted(counts, key=lambda t: -(1.0 + np.log(counts[t])) * idf.get(t, unseen_idf))
        return scored[:N_KEYWORDS]

    def _sensitive(self, text: str) -> list[str]:
        if not self.sensitive_words:
            return []
        norm = normalize(text)
        return [w for w in self.sensitive_words if w in norm]

    # --------------------------------------------------------- prediction
    def predict_batch(self, texts: list[str]) -> list[Prediction]:
        """Classify many texts at once (one vectorisation for the batch)."""
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return []
        tokens, X = self._features(texts)
        topic_p = self.topic_probabilities(X)
        sent_p = self.sentiment_model.predict_proba(X)
        sent_labels = [str(c) for c in self.sentiment_model.classes_]
        thresholds = np.array([self.thresholds.get(c, 0.5) for c in self.topic_codes])
        out = []
        for i, text in enumerate(texts):
            p = topic_p[i]
            passed = [(self.topic_codes[j], float(p[j])) for j in np.flatnonzero(p >= thresholds)]
            passed.sort(key=lambda x: -x[1])
            if not passed:
                passed = [("other", float(1.0 - p.max()) if p.size else 1.0)]
            k = int(np.argmax(sent_p[i]))
            out.append(Prediction(
                topics=passed,
                sentiment=(sent_labels[k], float(sent_p[i, k])),
                keywords=self._keywords(tokens[i]),
                sensitive_hits=self._sensitive(text),
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
                    **post.model_dump(include=_POST_FIELDS),
                    topics=[TopicScore(code=c, score=_unit(s)) for c, s in pred.topics],
                    sentiment=Sentiment(label=pred.sentiment[0], score=_unit(pred.sentiment[1])),
                    keywords=pred.keywords,
                    sensitive_hits=pred.sensitive_hits,
                    model_version=self.version,
                ))
        return out


_POST_FIELDS = set(Post.model_fields)


def _unit(x: float) -> float:
    """Clamp to [0, 1] (float rounding can step just outside)."""
    return min(1.0, max(0.0, float(x)))
