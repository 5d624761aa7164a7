"""An RSS / Atom source (`type: feed`): Scrapy fetches, feedparser parses the bytes.

A feed that feedparser cannot read at all (``bozo`` with no entries) is a page
error: logged and dead-lettered with its URL. A feed that is slightly broken
but still has entries is read, with a warning.
"""
from __future__ import annotations

import calendar
import logging
from datetime import datetime, timezone
from typing import Iterator, Optional

import feedparser
import scrapy
from scrapy.http import Response

from crawlers.items import new_post_item
from crawlers.sources import FeedSource
from crawlers.spiders.base import PostSpider

logger = logging.getLogger(__name__)


class FeedSpider(PostSpider):
    name = "feed"
    source: FeedSource

    async def start(self):
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        yield self._request(self.source.url, self.parse)

    def parse(self, response: Response):
        parsed = self._parse_feed(response)
        if parsed is None:
            return
        for entry in parsed.entries:
            yield self._parse_entry(response, entry)

    def _parse_feed(self, response: Response):
        content_type = response.headers.get("Content-Type", b"application/xml").decode("latin-1")
        if self.source.encoding:
            content_type = f"application/xml; charset={self.source.encoding}"
        parsed = feedparser.parse(response.body, response_headers={"content-type": content_type})
        if parsed.bozo and not parsed.entries:
            self._page_error(response, f"malformed feed: {_bozo_reason(parsed)}")
            return None
        if parsed.bozo:
            logger.warning("[%s] feed %s is not well-formed (%s); read %d entries anyway",
                           self.source.name, response.url, _bozo_reason(parsed), len(parsed.entries))
        if not parsed.entries:
            logger.info("[%s] feed %s has no entries", self.source.name, response.url)
        return parsed

    def _parse_entry(self, response: Response, entry) -> dict:
        link = entry.get("link")
        text = _entry_text(entry)
        return new_post_item(
            source=self.source.name,
            source_type=self.source.source_type.value,
            url=response.urljoin(link) if link else None,
            title=entry.get("title", ""),
            text=text,
            author=entry.get("author"),
            published_at=_entry_date(entry),
        )


def _bozo_reason(parsed) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "not a feed"


def _entry_text(entry) -> Optional[str]:
    """The fullest body an entry has: content (Atom / content:encoded), else summary."""
    for content in entry.get("content") or []:
        if content.get("value"):
            return content["value"]
    return entry.get("summary") or entry.get("description")


def _entry_date(entry):
    """An aware UTC datetime if feedparser parsed one, else the raw text for the clean pipeline."""
    for key in ("published", "updated", "created"):
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc)
    for key in ("published", "updated", "created"):
        if entry.get(key):
            return entry[key]
    return None
