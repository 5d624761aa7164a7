"""Evaluate a classifier on labelled records.

Records are ``{"text": ..., "topics": [...], "sentiment": ...}`` (extra keys
are ignored), one JSON object per line in a ``.jsonl`` file. Topics are
scored as a multi-label problem over the codes that occur in the gold labels
or the predictions (``other`` included: a text with no topic above its
threshold is predicted ``other``).

    python -m classifier.evaluate classifier/model/heldout.jsonl [--model PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

SENTIMENTS = ("negative", "neutral", "positive")


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


def evaluate(classifier, records: Sequence[dict], *, batch_size: int = 1024) -> dict:
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
    return metrics(
        [r["topics"] for r in records],
        [[code for code, _ in p.topics] for p in preds],
        [r["sentiment"] for r in records],
        [p.sentiment[0] for p in preds],
    )


def main(argv=None) -> int:
    from classifier.model import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="labelled JSONL file")
    ap.add_argument("--model", type=Path, default=None, help="model file (default: settings)")
    args = ap.parse_args(argv)
    if args.model is None:
        from yuqing.config import get_settings

        args.model = get_settings().model_file
    result = evaluate(Classifier.load(args.model), load_jsonl(args.data))
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
