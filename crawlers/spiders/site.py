"""A config-driven spider for a news site or message board (`type: site` sources).

List pages give article links and a next-page link (followed up to
``max_pages``); article pages give one post each, read with the source's
selectors. Selector values keep their HTML; the clean pipeline strips it.
"""
from __future__ import annotations

import logging
import re
from typing import Iterator, Optional

import scrapy
from scrapy.http import Response, TextResponse

from crawlers.items import new_post_item
from crawlers.sources import SiteSource, is_xpath, strip_xpath_prefix
from crawlers.spiders.base import PageError, PostSpider

logger = logging.getLogger(__name__)


class SiteSpider(PostSpider):
    name = "site"
    source: SiteSource

    async def start(self):
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        for url in self.source.start_urls:
            yield self._request(url, self.parse, page=1)

    def parse(self, response: Response):
        """A list page: its article links, then the next list page."""
        try:
            page = self._decode(response)
        except PageError as exc:
            self._page_error(response, exc.reason)
            return
        links = self._parse_article_links(page)
        if not links:
            logger.warning("[%s] no article links on list page %s (selector %r)",
                           self.source.name, response.url, self.source.list)
        for url in links:
            yield self._request(url, self.parse_article)
        next_page = self._parse_next_page(page)
        if next_page:
            yield next_page

    def parse_article(self, response: Response):
        """An article (or message) page: one post item."""
        try:
            yield self._parse_article(self._decode(response))
        except PageError as exc:
            self._page_error(response, exc.reason)

    def _parse_article_links(self, page: TextResponse) -> list[str]:
        links = []
        for node in _select(page, self.source.list):
            href = _link_of(node)
            if href:
                links.append(page.urljoin(href))
        return list(dict.fromkeys(links))

    def _parse_next_page(self, page: TextResponse) -> Optional[scrapy.Request]:
        number = page.meta.get("page", 1)
        if not self.source.next_page or number >= self.source.max_pages:
            return None
        for node in _select(page, self.source.next_page):
            href = _link_of(node)
            if href:
                return self._request(page.urljoin(href), self.parse, page=number + 1)
        return None

    def _parse_article(self, page: TextResponse) -> dict:
        sel = self.source.article
        text = _join(page, sel.text)
        if text is None:
            raise PageError(f"article text selector {sel.text!r} matched nothing")
        fields = {
            "title": _first(page, sel.title) or "",
            "text": text,
            "author": _first(page, sel.author),
            "published_at": _first(page, sel.published_at),
        }
        if sel.reply_status or sel.reply_text or sel.reply_at:
            fields.update(reply_status=_first(page, sel.reply_status),
                          reply_text=_join(page, sel.reply_text),
                          reply_at=_first(page, sel.reply_at))
        metrics = {}
        for name, selector in sel.metrics.items():
            number = _number(_first(page, selector))
            if number is not None:
                metrics[name] = number
        if metrics:
            fields["metrics"] = metrics
        return new_post_item(source=self.source.name, source_type=self.source.source_type.value,
                             url=page.url, date_format=sel.date_format, **fields)


def _select(page: TextResponse, selector: Optional[str]):
    if not selector:
        return []
    if is_xpath(selector):
        return page.xpath(strip_xpath_prefix(selector))
    return page.css(selector)


def _link_of(node) -> Optional[str]:
    """An href: the node itself if it is a string (``::attr(href)``), else its or a child's href."""
    if isinstance(node.root, str):
        return node.root.strip() or None
    href = node.attrib.get("href") or node.xpath(".//a/@href").get()
    return href.strip() if href else None


def _first(page: TextResponse, selector: Optional[str]) -> Optional[str]:
    value = _select(page, selector)
    return value[0].get() if value else None


def _join(page: TextResponse, selector: Optional[str]) -> Optional[str]:
    """Every match, one per line (paragraphs selected one by one stay paragraphs)."""
    values = [v.get() for v in _select(page, selector)]
    return "\n".join(values) if values else None


def _number(value: Optional[str]) -> Optional[int]:
    if not value:
        return None
    digits = re.sub(r"<[^>]+>", "", value).replace(",", "")
    match = re.search(r"\d+", digits)
    return int(match.group()) if match else None
