"""Evaluate a classifier on labelled records.

Records are ``{"text": ..., "topics": [...], "sentiment": ...}`` (extra keys
are ignored, but ``source`` adds a breakdown by source), one JSON object per
line in a ``.jsonl`` file. Topics are scored as a multi-label problem over the
codes that occur in the gold labels or the predictions (``other`` included: a
text with no topic above its threshold is predicted ``other``);
``topic_macro_f1_livelihood`` is the macro-F1 over the 17 livelihood codes
(``other`` left out), the product's target figure. ``intervals`` gives 95 %
bootstrap intervals (1,000 resamples of the records) of the headline figures:
with a handful of texts of a rare code, one text moves its F1 by 0.1–0.3.

    python -m classifier.evaluate classifier/model/heldout.jsonl [--model PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from classifier.corpus import MODEL_TOPICS as LIVELIHOOD  # the 17 codes of the topic target

SENTIMENTS = ("negative", "neutral", "positive")
BOOTSTRAP_SAMPLES = 1000


class EvaluationDataError(ValueError):
    """A labelled file or record that cannot be used; the message says where."""


def load_jsonl(path: Path) -> list[dict]:
    """Labelled records of a JSONL file; an error names the file and line."""
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvaluationDataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            try:
                _check_record(rec)
            except EvaluationDataError as exc:
                raise EvaluationDataError(f"{path}:{lineno}: {exc}") from None
            records.append(rec)
    return records


def _check_record(rec) -> None:
    if not isinstance(rec, dict):
        raise EvaluationDataError("record is not a JSON object")
    missing = [k for k in ("text", "topics", "sentiment") if k not in rec]
    if missing:
        raise EvaluationDataError(f"record lacks {', '.join(missing)}")
    if not isinstance(rec["text"], str):
        raise EvaluationDataError("'text' is not a string")
    topics = rec["topics"]
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise EvaluationDataError("'topics' must be a non-empty list of topic codes")
    if rec["sentiment"] not in SENTIMENTS:
        raise EvaluationDataError(f"'sentiment' must be one of {', '.join(SENTIMENTS)}")


def metrics(gold_topics: Sequence[Sequence[str]], pred_topics: Sequence[Sequence[str]],
            gold_sentiment: Sequence[str], pred_sentiment: Sequence[str]) -> dict:
    """The metrics dict from gold and predicted labels (no model involved)."""
    n = len(gold_topics)
    if not (n == len(pred_topics) == len(gold_sentiment) == len(pred_sentiment)):
        raise ValueError("gold and predicted label lists differ in length")
    if n == 0:
        raise EvaluationDataError("no records to evaluate")
    labels = sorted({t for ts in gold_topics for t in ts} | {t for ts in pred_topics for t in ts})
    mlb = MultiLabelBinarizer(classes=labels)
    y_true = mlb.fit_transform([list(t) for t in gold_topics])
    y_pred = mlb.transform([list(t) for t in pred_topics])
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    per_topic = {code: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                        "support": int(s[i])} for i, code in enumerate(labels)}
    sent_labels = [x for x in SENTIMENTS if x in set(gold_sentiment) | set(pred_sentiment)]
    sp, sr, sf, ss = precision_recall_fscore_support(
        gold_sentiment, pred_sentiment, labels=sent_labels, average=None, zero_division=0)
    return {
        "n": n,
        "topic_macro_f1_livelihood": livelihood_macro_f1(per_topic),
        "topic_macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "topic_micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "topic_exact_match": float(accuracy_score(y_true, y_pred)),
        "sentiment_accuracy": float(accuracy_score(gold_sentiment, pred_sentiment)),
        "sentiment_macro_f1": float(f1_score(gold_sentiment, pred_sentiment, labels=sent_labels,
                                             average="macro", zero_division=0)),
        "per_topic": per_topic,
        "per_sentiment": {lab: {"precision": float(sp[i]), "recall": float(sr[i]),
                                "f1": float(sf[i]), "support": int(ss[i])}
                          for i, lab in enumerate(sent_labels)},
    }


def livelihood_macro_f1(per_topic: dict) -> float:
    """Mean F1 over the livelihood codes that occur in the gold labels (as `intervals`)."""
    f = [per_topic[c]["f1"] for c in LIVELIHOOD if c in per_topic and per_topic[c]["support"] > 0]
    return float(np.mean(f)) if f else 0.0


def _f1_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """F1 of each column of 0/1 gold `a` and predicted `b` (0 where there is nothing to score)."""
    tp = (a & b).sum(0)
    denom = a.sum(0) + b.sum(0)
    return np.divide(2 * tp, denom, out=np.zeros(tp.shape, dtype=np.float64), where=denom > 0)


def intervals(gold_topics: Sequence[Sequence[str]], pred_topics: Sequence[Sequence[str]],
              gold_sentiment: Sequence[str], pred_sentiment: Sequence[str], *,
              samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict:
    """95 % percentile-bootstrap intervals [low, high] of the livelihood topic macro-F1 and the
    sentiment accuracy and macro-F1, resampling the records with replacement."""
    n = len(gold_topics)
    yt = np.array([[c in set(g) for c in LIVELIHOOD] for g in gold_topics], dtype=np.int32)
    yp = np.array([[c in set(p) for c in LIVELIHOOD] for p in pred_topics], dtype=np.int32)
    st = (np.array(gold_sentiment)[:, None] == np.array(SENTIMENTS)).astype(np.int32)
    sp_ = (np.array(pred_sentiment)[:, None] == np.array(SENTIMENTS)).astype(np.int32)
    rng = np.random.default_rng(seed)
    topic, acc, sent = [], [], []
    for _ in range(samples):
        idx = rng.integers(0, n, n)
        a = yt[idx]
        f = _f1_columns(a, yp[idx])[a.sum(0) > 0]  # the codes the resample has texts of
        topic.append(f.mean() if f.size else 0.0)
        g, p = st[idx], sp_[idx]
        acc.append(float((g & p).sum() / n))
        present = (g.sum(0) + p.sum(0)) > 0
        sent.append(float(_f1_columns(g, p)[present].mean()))

    def band(xs):
        lo, hi = np.percentile(xs, [2.5, 97.5])
        return [round(float(lo), 3), round(float(hi), 3)]

    return {"samples": samples, "topic_macro_f1_livelihood": band(topic),
            "sentiment_accuracy": band(acc), "sentiment_macro_f1": band(sent)}


def evaluate(classifier, records: Sequence[dict], *, batch_size: int = 1024,
             with_intervals: bool = False) -> dict:
    """Run `classifier.predict_batch` over `records` and score it (JSON-able dict)."""
    for i, rec in enumerate(records):
        try:
            _check_record(rec)
        except EvaluationDataError as exc:
            raise EvaluationDataError(f"record {i}: {exc}") from None
    preds = []
    for start in range(0, len(records), batch_size):
        texts = [r["text"] for r in records[start:start + batch_size]]
        preds.extend(classifier.predict_batch(texts))
    labels = ([r["topics"] for r in records], [[code for code, _ in p.topics] for p in preds],
              [r["sentiment"] for r in records], [p.sentiment[0] for p in preds])
    result = metrics(*labels)
    if with_intervals:
        result["intervals"] = intervals(*labels)
    sources = [r.get("source") for r in records]
    if all(isinstance(x, str) and x for x in sources) and len(set(sources)) > 1:
        by: dict[str, list[int]] = defaultdict(list)
        for i, src in enumerate(sources):
            by[src].append(i)
        result["by_source"] = {}
        for src, idx in sorted(by.items()):
            m = metrics(*([lab[i] for i in idx] for lab in labels))
            part = {k: m[k] for k in ("n", "topic_macro_f1_livelihood", "topic_micro_f1",
                                      "sentiment_accuracy", "sentiment_macro_f1")}
            if not any(c in LIVELIHOOD for i in idx for c in labels[0][i]):
                part["topic_macro_f1_livelihood"] = None  # no livelihood text to score
            result["by_source"][src] = part
    return result


def main(argv=None) -> int:
    from classifier.model import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="labelled JSONL file")
    ap.add_argument("--model", type=Path, default=None, help="model file (default: settings)")
    args = ap.parse_args(argv)
    if args.model is None:
        from yuqing.config import get_settings

        args.model = get_settings().model_file
    result = evaluate(Classifier.load(args.model), load_jsonl(args.data), with_intervals=True)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
