"""What the site and feed spiders share: strict decoding, page errors, fetch errors."""
from __future__ import annotations

import logging
from typing import Any, Optional

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from crawlers.context import STAT_PAGE_ERRORS, CrawlContext

logger = logging.getLogger(__name__)


class PageError(Exception):
    """A page that cannot be turned into posts; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PostSpider(scrapy.Spider):
    """A spider for one configured source (``self.source``)."""

    source: Any

    def __init__(self, source=None, *args, **kwargs):
        if source is None:
            raise ValueError(f"{type(self).__name__} needs a source= (crawlers.sources.SourceConfig)")
        super().__init__(*args, **kwargs)
        self.source = source

    @property
    def context(self) -> CrawlContext:
        return CrawlContext.for_crawler(self.crawler)

    def _request(self, url: str, callback, **meta) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self._on_fetch_error, meta=meta)

    def _decode(self, response: Response) -> TextResponse:
        """The response re-decoded strictly in its declared (or configured) encoding.

        Scrapy's own decoding replaces bad bytes silently; here they raise a
        PageError, so a mis-declared page is reported instead of garbled.
        """
        declared = getattr(response, "encoding", None) or "utf-8"
        encoding = self.source.encoding or declared
        body = response.body
        if encoding.replace("_", "-").lower() in ("utf-8", "utf8") and body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise PageError(f"page bytes are not valid {encoding} (byte {exc.start}: {exc.reason})") from exc
        except LookupError as exc:
            raise PageError(f"page declares an unknown encoding {encoding!r}") from exc
        if isinstance(response, TextResponse):
            return response.replace(body=text, encoding="utf-8")
        return TextResponse(url=response.url, body=text, encoding="utf-8", request=response.request,
                            headers=response.headers, status=response.status)

    def _page_error(self, response: Response, reason: str, *, stage: str = "crawl.parse") -> None:
        """Log a broken page and dead-letter its URL, reason and bytes."""
        logger.error("[%s] %s: %s", self.source.name, response.url, reason)
        self.context.inc(STAT_PAGE_ERRORS)
        self.context.dead_letter(stage=stage, reason=reason, key=None, payload={
            "source": self.source.name,
            "url": response.url,
            "status": response.status,
            "reason": reason,
            "body": _body_for_letter(response.body),
        })

    def _on_fetch_error(self, failure) -> None:
        """A request that failed after retries (HTTP error, timeout, refused)."""
        request = failure.request
        if failure.check(HttpError):
            reason = f"HTTP {failure.value.response.status}"
        else:
            reason = f"{type(failure.value).__name__}: {failure.value}"
        logger.error("[%s] could not fetch %s: %s", self.source.name, request.url, reason)
        self.context.inc(STAT_PAGE_ERRORS)
        self.context.dead_letter(stage="crawl.fetch", reason=f"could not fetch: {reason}", payload={
            "source": self.source.name, "url": request.url, "reason": reason})


def _body_for_letter(body: bytes, limit: int = 200_000) -> Any:
    """The page bytes for a dead letter: text if it decodes, else hex (truncated if huge)."""
    kept = body[:limit]
    try:
        text: Optional[str] = kept.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    out: dict[str, Any] = {"bytes": len(body), "truncated": len(body) > limit}
    if text is not None:
        out["text"] = text
    else:
        out["undecodable_hex"] = kept.hex()
    return out
