"""Predictions made into records: a Post and its Prediction give a ClassifiedPost.

Two forms of the same record. `classified_posts` builds ClassifiedPost objects
(validated by pydantic). `classified_json` gives the ClassifiedPost's JSON
directly, which is what the classify stage publishes: building and then
serialising the object cost about three times the JSON alone. Both take only
the Post fields of the input (a re-classified ClassifiedPost keeps none of its
old labels), the crawler's places before the gazetteer's, and scores clamped
to [0, 1]; `ClassifiedPost.from_json` of the JSON equals the object (tested).
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional

import orjson
from pydantic import TypeAdapter

from yuqing.records import ClassifiedPost, Post, Sentiment, TopicScore, utcnow

if TYPE_CHECKING:
    from classifier.model import Prediction

_POST_FIELDS = frozenset(Post.model_fields) - {"region"}
_DATETIME = TypeAdapter(datetime)


def _unit(x: float) -> float:
    """Clamp to [0, 1] (float rounding can step just outside)."""
    return min(1.0, max(0.0, float(x)))


def classified_posts(posts: list[Post], preds: list["Prediction"], version: str) -> list[ClassifiedPost]:
    return [ClassifiedPost(
        **post.model_dump(include=_POST_FIELDS),
        topics=[TopicScore(code=c, score=_unit(s)) for c, s in pred.topics],
        sentiment=Sentiment(label=pred.sentiment[0], score=_unit(pred.sentiment[1])),
        keywords=pred.keywords,
        sensitive_hits=pred.sensitive_hits,
        model_version=version,
        region=list(post.region) if post.region else pred.region,
    ) for post, pred in zip(posts, preds)]


def classified_json(posts: list[Post], preds: list["Prediction"], version: str,
                    now: Optional[datetime] = None) -> list[bytes]:
    """The JSON of `classified_posts(posts, preds, version)`, classified at `now`."""
    at = _DATETIME.dump_python(now or utcnow(), mode="json")
    out = []
    for post, pred in zip(posts, preds):
        doc = post.model_dump(mode="json", include=_POST_FIELDS)
        doc["region"] = list(post.region) if post.region else list(pred.region)
        doc["topics"] = [{"code": c, "score": _unit(s)} for c, s in pred.topics]
        doc["sentiment"] = {"label": pred.sentiment[0], "score": _unit(pred.sentiment[1])}
        doc["keywords"] = list(pred.keywords)
        doc["sensitive_hits"] = list(pred.sensitive_hits)
        doc["cluster_id"] = None
        doc["model_version"] = version
        doc["classified_at"] = at
        out.append(orjson.dumps(doc))
    return out
