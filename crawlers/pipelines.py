"""Item pipelines, one purpose each, ordered by number in the settings.

100 Clean → 200 Dedupe → 300 Validate → 400 Publish. A post is marked as seen
only once it is durable: Publish flushes the bus, then sends the
`item_durable` signal that Dedupe listens to (Validate sends it too after a
dead letter, so an unchanged bad post is not dead-lettered on every crawl).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Optional
from zoneinfo import ZoneInfo

from scrapy.exceptions import DropItem
from w3lib.html import remove_tags, replace_entities
from w3lib.url import canonicalize_url

import stream
from crawlers.context import STAT_DUPLICATES, STAT_PUBLISHED, CrawlContext
from crawlers.items import CONTENT_FIELDS, DATE_FIELDS, TEXT_FIELDS, post_fields
from crawlers.seen import SeenStore
from yuqing.records import MAX_TEXT_CHARS, Post, RecordError, post_id_for

logger = logging.getLogger(__name__)

#: Sent with items=[...] once those items are durable on the bus.
item_durable = object()


class _Pipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def context(self) -> CrawlContext:
        return CrawlContext.for_crawler(self.crawler)


# ---------------------------------------------------------------- 100 clean

_DROP_BLOCKS = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>|<!--.*?-->")
_LINE_BREAKS = re.compile(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|table|section|article|blockquote)\s*>")
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a\u202f\u205f]+")
_INVISIBLE = {"\u200b", "\ufeff", "\u2060"}
_LABEL = re.compile(r"^(作者|留言人|发布者|来源|记者|编辑|回复状态|办理状态)\s*[:：]\s*")
_DATE_IN_TEXT = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
                           r"(?:\s*\d{1,2}\s*[:：时]\s*\d{1,2}(?:\s*[:：分]\s*\d{1,2})?)?")
_FALLBACK_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
                     "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d %H:%M", "%Y.%m.%d",
                     "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日")


def clean_text(value: Any, *, multiline: bool = True) -> Optional[str]:
    """HTML stripped, entities replaced, NFC, no control characters, tidy whitespace."""
    if value is None:
        return None
    text = _LINE_BREAKS.sub("\n", _DROP_BLOCKS.sub(" ", str(value)))
    text = unicodedata.normalize("NFC", replace_entities(remove_tags(text)))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = "".join(ch for ch in text if ch == "\n" or (ch not in _INVISIBLE
                                                      and unicodedata.category(ch) != "Cc"))
    lines = [line.strip() for line in _SPACES.sub(" ", text).split("\n")]
    lines = [line for line in lines if line]
    return ("\n" if multiline else " ").join(lines)


def parse_date(value: Any, date_format: Optional[str], tz: ZoneInfo) -> Optional[datetime]:
    """An aware datetime in `tz`; naive values are taken as local time in `tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(tz)
    text = clean_text(value, multiline=False)
    if not text:
        return None
    formats = ((date_format,) if date_format else ()) + _FALLBACK_FORMATS
    parsed = _strptime(text, formats) or _iso_or_rfc2822(text)
    if parsed is None:
        found = _DATE_IN_TEXT.search(text)  # e.g. "发布时间：2025-06-03 09:30"
        if found:
            squeezed = re.sub(r"\s*([-/.:年月日时分：])\s*", r"\1", found.group())
            squeezed = squeezed.replace("：", ":").replace("时", ":").replace("分", ":").rstrip(":")
            squeezed = re.sub(r"日(?=\d)", "日 ", squeezed)
            parsed = _strptime(squeezed, formats)
    if parsed is None:
        raise ValueError(f"unrecognised date {text!r} (format {date_format!r})")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(tz)


def _strptime(text: str, formats) -> Optional[datetime]:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _iso_or_rfc2822(text: str) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


class CleanPipeline(_Pipeline):
    def process_item(self, item, spider=None):
        tz = ZoneInfo(self.context.settings.timezone)
        for field in TEXT_FIELDS:
            if field in item:
                item[field] = clean_text(item[field], multiline=field in ("text", "reply_text"))
        for field in ("author", "reply_status", "reply_text"):
            if field in item:
                item[field] = _LABEL.sub("", item[field] or "") or None
        for field in DATE_FIELDS:
            if item.get(field) is None:
                continue
            try:
                item[field] = parse_date(item[field], item.get("_date_format"), tz)
            except ValueError as exc:  # keep the post; the raw value stays in the log
                logger.warning("%s: %s; %s left empty", item.get("url"), exc, field)
                item[field] = None
        if isinstance(item.get("fetched_at"), datetime):
            item["fetched_at"] = item["fetched_at"].astimezone(tz)
        return item


# --------------------------------------------------------------- 200 dedupe

def content_hash(item: dict) -> str:
    content = {f: item.get(f) for f in CONTENT_FIELDS}
    blob = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


class DedupePipeline(_Pipeline):
    """Drop a post already published with the same content; let a changed one through."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.seen: Optional[SeenStore] = None
        self._in_flight: dict[tuple[str, str], str] = {}  # passed on, not yet durable
        crawler.signals.connect(self._on_durable, signal=item_durable)

    def open_spider(self, spider=None):
        self.seen = SeenStore(self.context.settings.path("seen.db"))

    def close_spider(self, spider=None):
        if self.seen is not None:
            self.seen.close()
            self.seen = None

    def process_item(self, item, spider=None):
        if self.seen is None:
            self.open_spider()
        url = item.get("url")
        canonical = canonicalize_url(url) if url else None
        item["id"] = post_id_for(canonical, None if canonical else
                                 f"{item.get('source')}\n{item.get('title')}\n{item.get('text')}")
        item["_content_hash"] = digest = content_hash(item)
        key = (item["id"], item["source"])
        if digest in (self._in_flight.get(key), self.seen.content_hash(*key)):
            self.context.inc(STAT_DUPLICATES)
            raise DropItem(f"duplicate post {item['id']} ({url})", log_level="DEBUG")
        self._in_flight[key] = digest
        return item

    def _on_durable(self, items, **kwargs):
        if self.seen is None:
            self.open_spider()
        self.seen.mark((it["id"], it["source"], it["_content_hash"], it.get("url")) for it in items)
        for it in items:
            self._in_flight.pop((it["id"], it["source"]), None)


# ------------------------------------------------------------- 300 validate

class ValidatePipeline(_Pipeline):
    """Build the Post record; dead-letter the raw item when it is not one."""

    def process_item(self, item, spider=None):
        text = item.get("text") or ""
        try:
            if len(text) > MAX_TEXT_CHARS:
                raise RecordError(f"text is {len(text)} characters, over MAX_TEXT_CHARS ({MAX_TEXT_CHARS})")
            post = Post.from_json(post_fields(item))
        except RecordError as exc:
            reason = f"invalid post from {item.get('url')}: {exc.reason}"
            logger.error("[%s] %s", item.get("source"), reason)
            if self.context.dead_letter(stage="crawl.validate", reason=reason, key=item.get("id"),
                                        payload=item) and item.get("_content_hash"):
                self.crawler.signals.send_catch_log(item_durable, items=[item])
            raise DropItem(reason, log_level="DEBUG") from exc
        item["_post"] = post
        return item


# -------------------------------------------------------------- 400 publish

class PublishPipeline(_Pipeline):
    """Put each Post on ``posts.raw``; flush in batches and when the spider closes."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.batch_size = crawler.settings.getint("YUQING_PUBLISH_BATCH", 50)
        self._pending: list[dict] = []

    def process_item(self, item, spider=None):
        post: Post = item["_post"]
        self.context.bus.publish(stream.RAW, post.id, post.to_json())
        self._pending.append(item)
        if len(self._pending) >= self.batch_size:
            self._flush()
        return item

    def close_spider(self, spider=None):
        self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        try:
            self.context.bus.flush()
        except Exception:
            logger.exception("bus flush failed; %d posts stay unseen and are published again "
                             "on the next crawl", len(self._pending))
            self._pending.clear()
            return
        done, self._pending = self._pending, []
        self.context.inc(STAT_PUBLISHED, len(done))
        self.crawler.signals.send_catch_log(item_durable, items=done)
