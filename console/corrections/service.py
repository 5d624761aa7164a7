"""Small keyword-only functions over corrections."""
from __future__ import annotations

from datetime import datetime
from typing import Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.taxonomy import SENTIMENTS, TOPICS

from .models import Correction

MAX_TOPICS = 3
MAX_TEXT = 5000


class CorrectionError(ValueError):
    """A correction that cannot be recorded; the message is shown to the user."""


def record_correction(session: Session, *, post_id: str, text: str, topics: Sequence[str],
                      sentiment: str, username: str, role: str,
                      previous_topics: Sequence[str] = (), previous_sentiment: Optional[str] = None,
                      model_version: Optional[str] = None, note: str = "") -> Correction:
    topics = list(dict.fromkeys(t for t in topics if t))
    if not topics:
        raise CorrectionError("请至少选择一个话题")
    if any(t not in TOPICS for t in topics):
        raise CorrectionError("话题无效")
    if "other" in topics and len(topics) > 1:
        raise CorrectionError("“其他”不能与其他话题同时选择")
    if len(topics) > MAX_TOPICS:
        raise CorrectionError(f"最多选择 {MAX_TOPICS} 个话题")
    if sentiment not in SENTIMENTS:
        raise CorrectionError("请选择情感倾向")
    text = (text or "").strip()[:MAX_TEXT]
    if not text:
        raise CorrectionError("该信息没有可用于训练的文本")
    row = Correction(post_id=post_id, text=text, topics=topics, sentiment=sentiment,
                     previous_topics=list(previous_topics or []),
                     previous_sentiment=previous_sentiment, model_version=model_version,
                     username=username, role=role, note=(note or "").strip()[:500])
    session.add(row)
    session.flush()
    return row


def recent_corrections(session: Session, *, limit: int = 100,
                       post_id: Optional[str] = None) -> list[Correction]:
    q = select(Correction).order_by(Correction.created_at.desc(), Correction.id.desc()).limit(limit)
    if post_id:
        q = q.where(Correction.post_id == post_id)
    return list(session.scalars(q))


def corrections_since(session: Session, when: datetime) -> int:
    """How many corrections were made after `when` (a model's training time)."""
    return int(session.scalar(select(func.count()).select_from(Correction)
                              .where(Correction.created_at > when)) or 0)


def training_records(session: Session) -> list[dict]:
    """Every correction as a labelled record, oldest first (the latest of a text wins)."""
    rows = session.scalars(select(Correction).order_by(Correction.created_at, Correction.id))
    return [r.as_training_record() for r in rows]
