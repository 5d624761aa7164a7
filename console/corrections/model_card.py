"""What the corrections page shows about the classifier in use.

The model file carries its own metadata (`classifier.train`): version,
training time, the sources it learned from and its scores on the held-out
sets. Reading it loads the whole file once, so the card is cached until the
file changes (a new `yuqing train`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

#: held-out sets of the metadata, in the order and with the names shown
EVAL_NAMES = (
    ("test", "留出测试集（真实文本，从未用于训练）"),
    ("posts_eval", "网民帖文评测集（项目编写，未用于训练）"),
    ("colloquial_eval", "口语短帖评测集（项目编写，未用于训练）"),
)


@dataclass(frozen=True)
class Figures:
    name: str
    n: int
    topic_macro_f1: float
    topic_interval: Optional[tuple[float, float]]
    sentiment_accuracy: float
    sentiment_interval: Optional[tuple[float, float]]


@dataclass(frozen=True)
class ModelCard:
    version: str
    trained_at: Optional[datetime]
    corrections_used: int
    figures: list[Figures] = field(default_factory=list)


def _interval(intervals: dict, key: str) -> Optional[tuple[float, float]]:
    band = intervals.get(key)
    return (float(band[0]), float(band[1])) if band else None


def card_from_metadata(metadata: dict) -> ModelCard:
    metrics = metadata.get("metrics") or {}
    figures = []
    for key, name in EVAL_NAMES:
        m = metrics.get(key)
        if not m:
            continue
        ci = m.get("intervals") or {}
        figures.append(Figures(
            name=name, n=int(m["n"]), topic_macro_f1=float(m["topic_macro_f1_livelihood"]),
            topic_interval=_interval(ci, "topic_macro_f1_livelihood"),
            sentiment_accuracy=float(m["sentiment_accuracy"]),
            sentiment_interval=_interval(ci, "sentiment_accuracy")))
    try:
        trained_at = datetime.fromisoformat(str(metadata.get("trained_at")))
    except ValueError:
        trained_at = None
    sources = ((metadata.get("counts") or {}).get("all") or {}).get("sources") or {}
    return ModelCard(version=str(metadata.get("version", "unknown")), trained_at=trained_at,
                     corrections_used=int(sources.get("correction", 0)), figures=figures)


@lru_cache(maxsize=4)
def _card(path: str, mtime_ns: int) -> Optional[ModelCard]:
    import joblib

    try:
        parts = joblib.load(path)
        return card_from_metadata(parts["metadata"])
    except Exception as exc:  # a broken or foreign file: the page still works
        log.warning("%s: cannot read the model's metadata (%s)", path, exc)
        return None


def model_card(path: Path) -> Optional[ModelCard]:
    """The card of the model file at `path`, or None when there is none (or it is unreadable)."""
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        return None
    return _card(str(path), mtime)
