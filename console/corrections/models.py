"""Corrections of a post's classification, made in the console.

The row is its own audit record: who corrected what, when, from which labels
to which, on which text (a snapshot: the post may change or leave the index).
`yuqing train` reads these rows as labelled examples that outweigh the weak
labels (see classifier/DATA.md).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, UTCDateTime, now_utc


class Correction(Base):
    __tablename__ = "classification_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(String(64), index=True)
    #: title + text of the post as it was classified
    text: Mapped[str] = mapped_column(Text)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    sentiment: Mapped[str] = mapped_column(String(10))
    previous_topics: Mapped[list] = mapped_column(JSON, default=list)
    previous_sentiment: Mapped[Optional[str]] = mapped_column(String(10))
    model_version: Mapped[Optional[str]] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)

    def as_training_record(self) -> dict:
        return {"text": self.text, "topics": list(self.topics or []) or ["other"],
                "sentiment": self.sentiment, "source": "correction"}
