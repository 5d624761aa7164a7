"""Train the bootstrap classifier from the local corpus (see DATA.md).

    python -m classifier.train [--output classifier/model/model.joblib] [--seed 13] [--limit N]

Steps: build the corpus; split it 70/15/15 into train/dev/test, stratified by
source, first topic and sentiment; fit the features and models on train;
tune one threshold per topic on dev; evaluate on test (never used for
fitting or tuning); save the model with its metadata and write the test
split to ``heldout.jsonl`` next to the model.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from classifier import corpus
from classifier.evaluate import evaluate
from classifier.model import Classifier
from classifier.tokenizer import BACKEND as tokenizer_backend
from classifier.tokenizer import identity, normalize, tokenize_batch

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "model"
DEFAULT_OUTPUT = MODEL_DIR / "model.joblib"

#: Project-written posts are few but in the target domain: weigh them up.
SEED_WEIGHT = 10.0
TOPIC_C = 8.0
SENTIMENT_C = 4.0
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
MIN_DEV_POSITIVES = 3


def _strata(records: list[dict], min_count: int) -> list[str]:
    """A stratum per record; too-rare strata fall back to coarser ones."""
    levels = [
        lambda r: f"{r['source']}|{r['topics'][0]}|{r['sentiment']}",
        lambda r: f"{r['source']}|{r['topics'][0]}",
        lambda r: f"{r['source']}|{r['sentiment']}",
        lambda r: r["source"],
    ]
    keys = [levels[0](r) for r in records]
    for level in levels[1:]:
        counts = Counter(keys)
        keys = [k if counts[k] >= min_count else level(r) for k, r in zip(keys, records)]
    return keys


def split(records: list[dict], seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Stratified 70/15/15 train/dev/test split."""
    idx = np.arange(len(records))
    train_idx, rest = train_test_split(idx, test_size=0.30, random_state=seed,
                                       stratify=_strata(records, 7))
    rest_records = [records[i] for i in rest]
    dev_idx, test_idx = train_test_split(rest, test_size=0.50, random_state=seed,
                                         stratify=_strata(rest_records, 2))
    return ([records[i] for i in train_idx], [records[i] for i in dev_idx],
            [records[i] for i in test_idx])


def _fit_binary(X, y, weights, seed: int):
    # balanced: most topics have a few hundred positives among ~20k texts
    model = LogisticRegression(C=TOPIC_C, solver="liblinear", class_weight="balanced",
                               max_iter=200, random_state=seed)
    model.fit(X, y, sample_weight=weights)
    return model


def tune_threshold(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Threshold of best F1 on dev; ties go to the one nearest 0.5."""
    if y_true.sum() < MIN_DEV_POSITIVES:
        return 0.5
    best = max(THRESHOLD_GRID, key=lambda t: (
        f1_score(y_true, probs >= t, zero_division=0), -abs(t - 0.5)))
    return float(best)


def fit(train_records: list[dict], dev_records: list[dict], *, seed: int = 13,
        n_jobs: int = 2) -> Classifier:
    """Fit features and models on train; tune the topic thresholds on dev."""
    texts = [r["text"] for r in train_records]
    tokens = tokenize_batch(texts + [r["text"] for r in dev_records])
    train_tokens, dev_tokens = tokens[: len(texts)], tokens[len(texts):]
    word_vec = TfidfVectorizer(analyzer=identity, min_df=2, max_df=0.5, sublinear_tf=True,
                               max_features=80_000, dtype=np.float32)
    # char 1-2-grams: trigrams cost twice the time for no gain in our trials
    char_vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), preprocessor=normalize,
                               min_df=2, max_df=0.5, sublinear_tf=True, max_features=150_000,
                               dtype=np.float32)
    Xw = word_vec.fit_transform(train_tokens)
    Xc = char_vec.fit_transform(texts)
    # the terms cut by min_df/max_df/max_features: only needed for introspection,
    # and by far the largest part of a pickled vectorizer
    word_vec.stop_words_ = None
    char_vec.stop_words_ = None
    X = sp.hstack([Xw, Xc], format="csr")
    weights = np.array([SEED_WEIGHT if r["source"] == "seed" else 1.0 for r in train_records])

    codes = list(corpus.MODEL_TOPICS)
    Y = np.array([[int(c in r["topics"]) for c in codes] for r in train_records])
    empty = [c for j, c in enumerate(codes) if Y[:, j].sum() == 0]
    if empty:
        raise corpus.CorpusError(f"no training examples for topics {empty}")
    topic_models = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit_binary)(X, Y[:, j], weights, seed) for j in range(len(codes)))

    sentiment_model = LogisticRegression(C=SENTIMENT_C, solver="lbfgs", max_iter=1000,
                                         random_state=seed)
    sentiment_model.fit(X, [r["sentiment"] for r in train_records], sample_weight=weights)

    clf = Classifier(word_vectorizer=word_vec, char_vectorizer=char_vec, topic_codes=codes,
                     topic_models=topic_models, thresholds={c: 0.5 for c in codes},
                     sentiment_model=sentiment_model, metadata={}, sensitive_words=[])
    _, X_dev = clf._features([r["text"] for r in dev_records], tokens=dev_tokens)
    probs = clf.topic_probabilities(X_dev)
    Y_dev = np.array([[int(c in r["topics"]) for c in codes] for r in dev_records])
    clf.thresholds = {c: tune_threshold(Y_dev[:, j], probs[:, j]) for j, c in enumerate(codes)}
    return clf


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps({"text": r["text"], "topics": r["topics"],
                                 "sentiment": r["sentiment"], "source": r["source"]},
                                ensure_ascii=False) + "\n")


def train(output: Path = DEFAULT_OUTPUT, seed: int = 13, *, limit: Optional[int] = None,
          heldout_path: Optional[Path] = None, n_jobs: int = 2) -> dict:
    """Build, fit, tune, evaluate and save; return the model's metadata.

    `limit` caps the reviews and news paragraphs (seeds are always all used)
    for quick runs. The held-out test split goes to `heldout_path`, by default
    ``heldout.jsonl`` in the output's directory.
    """
    import sklearn

    started = time.perf_counter()
    output = Path(output)
    heldout_path = Path(heldout_path) if heldout_path else output.parent / "heldout.jsonl"
    records = corpus.build_corpus(limit=limit, seed=seed)
    data_hash = corpus.data_hash(records)
    train_records, dev_records, test_records = split(records, seed)
    log.info("corpus %d records: train %d, dev %d, test %d", len(records), len(train_records),
             len(dev_records), len(test_records))

    clf = fit(train_records, dev_records, seed=seed, n_jobs=n_jobs)
    test_metrics = evaluate(clf, test_records)
    seed_test = [r for r in test_records if r["source"] == "seed"]
    seed_metrics = evaluate(clf, seed_test) if seed_test else None

    now = datetime.now(timezone.utc)
    clf.metadata = {
        "version": f"bootstrap-{now:%Y%m%d}-{data_hash[:8]}",
        "trained_at": now.isoformat(timespec="seconds"),
        "data_hash": data_hash,
        "seed": seed,
        "limit": limit,
        "sklearn_version": sklearn.__version__,
        "tokenizer_backend": tokenizer_backend,
        "counts": {"all": corpus.class_counts(records), "train": len(train_records),
                   "dev": len(dev_records), "test": len(test_records)},
        "thresholds": clf.thresholds,
        "metrics": {"test": test_metrics, "test_seed_posts": seed_metrics},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    clf.save(output)
    write_jsonl(heldout_path, test_records)
    return clf.metadata


def summary(metadata: dict) -> str:
    lines = [f"model {metadata['version']}  ({metadata['train_seconds']} s)"]
    for name, m in metadata["metrics"].items():
        if m:
            lines.append(
                f"{name:>16}: n={m['n']}  topic macro-F1 {m['topic_macro_f1']:.3f}  "
                f"micro-F1 {m['topic_micro_f1']:.3f}  sentiment acc {m['sentiment_accuracy']:.3f}  "
                f"macro-F1 {m['sentiment_macro_f1']:.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Train the bootstrap topic/sentiment classifier.")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit", type=int, default=None, help="cap reviews+news (quick runs)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    metadata = train(args.output, args.seed, limit=args.limit, n_jobs=args.jobs)
    print(summary(metadata))
    return 0


if __name__ == "__main__":
    sys.exit(main())
