"""Per-crawl shared resources: the yuqing settings, the bus and the dead-letter helper.

Spiders and pipelines of one crawl share one bus. Scrapy deep-copies its
settings, so the bus itself cannot travel there; the runner puts the yuqing
settings (plain values) under ``YUQING_SETTINGS`` and the first component that
asks creates the bus with `stream.make_bus`. Tests may `install` their own.
"""
from __future__ import annotations

import json
import logging
import weakref
from datetime import date, datetime
from typing import Any, Optional

from scrapy import signals

import stream
from stream import Bus
from yuqing.config import Settings

logger = logging.getLogger(__name__)

#: Scrapy stats keys, read back by the runner.
STAT_PUBLISHED = "yuqing/published"
STAT_DUPLICATES = "yuqing/duplicates"
STAT_DEAD_LETTERED = "yuqing/dead_lettered"
STAT_PAGE_ERRORS = "yuqing/page_errors"

_CONTEXTS: "weakref.WeakKeyDictionary[Any, CrawlContext]" = weakref.WeakKeyDictionary()


#: Settings a crawl never needs; kept out of Scrapy's settings (and so out of any dump).
PRIVATE_SETTINGS = frozenset({"secret_key", "database_url"})


def settings_to_scrapy(settings: Settings) -> dict[str, Any]:
    """The yuqing settings as plain values for Scrapy's ``YUQING_SETTINGS``."""
    return settings.model_dump(mode="json", exclude_none=True, exclude=set(PRIVATE_SETTINGS))


def jsonable(item: Any) -> Any:
    """An item as JSON-safe data (for dead letters): datetimes become ISO text."""
    if isinstance(item, bytes):
        try:
            return item.decode("utf-8")
        except UnicodeDecodeError:
            return {"undecodable_hex": item.hex(), "text": item.decode("utf-8", errors="replace")}
    if isinstance(item, dict):
        return {str(k): jsonable(v) for k, v in item.items() if not str(k).startswith("__")}
    if isinstance(item, (list, tuple)):
        return [jsonable(v) for v in item]
    if isinstance(item, (datetime, date)):
        return item.isoformat()
    if isinstance(item, (str, int, float, bool)) or item is None:
        return item
    if hasattr(item, "model_dump"):
        return item.model_dump(mode="json")
    try:
        json.dumps(item)
        return item
    except TypeError:
        return repr(item)


class CrawlContext:
    def __init__(self, settings: Settings, bus: Optional[Bus] = None, stats=None):
        self.settings = settings
        self._bus = bus
        self._owns_bus = bus is None
        self.stats = stats

    @classmethod
    def for_crawler(cls, crawler) -> "CrawlContext":
        ctx = _CONTEXTS.get(crawler)
        if ctx is None:
            ctx = cls(Settings(**crawler.settings.getdict("YUQING_SETTINGS")), stats=crawler.stats)
            _CONTEXTS[crawler] = ctx
            crawler.signals.connect(ctx.close, signal=signals.spider_closed)
        return ctx

    @classmethod
    def install(cls, crawler, settings: Settings, bus: Optional[Bus] = None) -> "CrawlContext":
        """Use these settings (and this bus, if given) for the crawler's components."""
        ctx = cls(settings, bus=bus, stats=crawler.stats)
        _CONTEXTS[crawler] = ctx
        crawler.signals.connect(ctx.close, signal=signals.spider_closed)
        return ctx

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = stream.make_bus(self.settings)
        return self._bus

    def inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)

    def dead_letter(self, *, stage: str, reason: str, payload: Any, key: Optional[str] = None) -> bool:
        """Send one dead letter; return False (after logging) if the bus failed too."""
        try:
            kept = payload if isinstance(payload, bytes) else jsonable(payload)
            self.bus.dead_letter(stage=stage, reason=reason, payload=kept, key=key)
        except Exception:  # the bus is down: the log is the last record of it
            logger.exception("could not dead-letter (%s: %s): %r", stage, reason, payload)
            return False
        self.inc(STAT_DEAD_LETTERED)
        return True

    def close(self, *args, **kwargs) -> None:
        if self._bus is not None and self._owns_bus:
            try:
                self._bus.close()
            finally:
                self._bus = None
