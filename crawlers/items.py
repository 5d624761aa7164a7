"""The item every spider yields: a dict with the Post fields.

Keys starting with ``_`` are working data for the pipelines (the date format,
the content hash) and are not part of the Post.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

#: Post fields a spider may fill; the dedupe pipeline adds ``id``.
POST_FIELDS = ("id", "source", "source_type", "url", "title", "text", "author",
               "published_at", "fetched_at", "region", "metrics", "lang",
               "reply_status", "reply_text", "reply_at")
TEXT_FIELDS = ("title", "text", "author", "reply_status", "reply_text")
DATE_FIELDS = ("published_at", "reply_at")
#: Fields whose change means the post changed (metrics and fetch time do not).
CONTENT_FIELDS = ("title", "text", "author", "published_at", "reply_status", "reply_text", "reply_at")


def new_post_item(*, source: str, source_type: str, url: Optional[str],
                  date_format: Optional[str] = None, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "source": source,
        "source_type": source_type,
        "url": url,
        "fetched_at": datetime.now(timezone.utc),
        "_date_format": date_format,
    }
    unknown = set(fields) - set(POST_FIELDS)
    if unknown:
        raise KeyError(f"not Post fields: {sorted(unknown)}")
    item.update(fields)
    return item


def post_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The item without the pipelines' working keys."""
    return {k: v for k, v in item.items() if not k.startswith("_")}
