"""The feed spider against saved RSS, Atom and broken feeds."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scrapy.http import XmlResponse

from crawlers.spiders.feed import FeedSpider
from stream import DEADLETTER
from tests.crawlers.conftest import SITE, page, response


@pytest.fixture
def spider(make_crawler, source):
    return FeedSpider.from_crawler(make_crawler(FeedSpider), source=source("notices"))


def feed_response(name: str, url: str = f"{SITE}/rss.xml"):
    return response(url, page(name), cls=XmlResponse,
                    headers={"Content-Type": "application/rss+xml; charset=utf-8"})


def test_start_request_is_the_feed_url(spider):
    (request,) = spider.start_requests()
    assert request.url == f"{SITE}/rss.xml" and request.callback == spider.parse


def test_rss_entries_become_post_items(spider):
    first, second = spider.parse(feed_response("rss.xml"))
    assert first["source"] == "notices" and first["source_type"] == "feed"
    assert first["url"] == f"{SITE}/notice/501.html"
    assert first["title"] == "关于望江街道部分区域计划停水的通知"
    assert "暂停供水" in first["text"]
    assert first["author"] == "江宁市水务集团"
    assert first["published_at"] == datetime(2025, 6, 3, 1, 30, tzinfo=timezone.utc)
    # a relative link is resolved; content:encoded wins over the short description
    assert second["url"] == f"{SITE}/notice/502.html"
    assert "6月3日起恢复正常" in second["text"] and second["text"] != "短摘要"
    assert second["published_at"] == datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)


def test_atom_entries_become_post_items(spider):
    (entry,) = spider.parse(feed_response("atom.xml", f"{SITE}/atom.xml"))
    assert entry["url"] == f"{SITE}/notice/503.html"
    assert entry["author"] == "江宁市民政局"
    assert entry["published_at"] == datetime(2025, 6, 3, 1, 30, tzinfo=timezone.utc)


def test_malformed_feed_is_logged_and_dead_lettered(spider, bus, caplog):
    assert list(spider.parse(feed_response("malformed_feed.xml"))) == []
    (message,) = bus.read_all(DEADLETTER)
    letter = message.json()
    assert letter["reason"].startswith("malformed feed:")
    assert letter["payload"]["url"] == f"{SITE}/rss.xml"
    assert "502 Bad Gateway" in letter["payload"]["body"]["text"]
    assert any(r.levelname == "ERROR" and "malformed feed" in r.getMessage() for r in caplog.records)


def test_empty_but_valid_feed_is_not_an_error(spider, bus):
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert list(spider.parse(response(f"{SITE}/rss.xml", body, cls=XmlResponse))) == []
    assert bus.read_all(DEADLETTER) == []
