"""Builders shared by the tests: real records, no mocks."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Optional

from yuqing.records import ClassifiedPost, Sentiment, TopicScore, post_id_for

_seq = itertools.count()


def cpost(text: str = "小区停水三天了没人管", *, topics=("utilities",), sentiment: str = "negative",
          at: Optional[datetime] = None, region=(), source: str = "test", source_type: str = "news",
          title: str = "", author: Optional[str] = "网友张**", pid: Optional[str] = None) -> ClassifiedPost:
    at = at or datetime.now(timezone.utc)
    n = next(_seq)
    return ClassifiedPost(
        id=pid or post_id_for(f"https://example.test/p/{n}"), source=source, source_type=source_type,
        url=f"https://example.test/p/{n}", title=title, text=text, author=author,
        published_at=at, fetched_at=at, region=list(region),
        topics=[TopicScore(code=t, score=0.9) for t in topics],
        sentiment=Sentiment(label=sentiment, score=0.9), model_version="test",
    )


def minutes_ago(now: datetime, m: float) -> datetime:
    return now - timedelta(minutes=m)
