"""The config-driven site spider against saved pages."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from scrapy import Request

from crawlers.context import STAT_PAGE_ERRORS
from crawlers.pipelines import CleanPipeline
from crawlers.spiders.site import SiteSpider
from stream import DEADLETTER
from tests.crawlers.conftest import SITE, page, response


@pytest.fixture
def spider_for(make_crawler, source):
    def make(name: str, **overrides):
        src = source(name)
        if overrides:
            src = src.model_copy(update=overrides)
        crawler = make_crawler(SiteSpider)
        return SiteSpider.from_crawler(crawler, source=src)
    return make


def test_start_requests_are_the_configured_list_pages(spider_for):
    spider = spider_for("news_site")
    requests = list(spider.start_requests())
    assert [r.url for r in requests] == [f"{SITE}/news/index.html"]
    assert requests[0].meta["page"] == 1 and requests[0].callback == spider.parse


def test_list_page_yields_article_requests_then_the_next_page(spider_for):
    spider = spider_for("news_site")
    out = list(spider.parse(response(f"{SITE}/news/index.html", page("news_list.html"), page=1)))
    assert all(isinstance(r, Request) for r in out)
    articles = [r.url for r in out if r.callback == spider.parse_article]
    # relative, query and absolute links resolved; the repeated link asked once
    assert articles == [f"{SITE}/news/2001.html", f"{SITE}/news/2002.html?from=list",
                        f"{SITE}/news/2003.html"]
    (next_page,) = [r for r in out if r.callback == spider.parse]
    assert next_page.url == f"{SITE}/news/index_2.html" and next_page.meta["page"] == 2


def test_pagination_stops_at_max_pages(spider_for):
    spider = spider_for("news_site")  # max_pages: 2
    out = list(spider.parse(response(f"{SITE}/news/index_2.html", page("news_list.html"), page=2)))
    assert [r for r in out if r.callback == spider.parse] == []
    assert len(out) == 3


def test_last_list_page_has_no_next(spider_for):
    spider = spider_for("news_site")
    out = list(spider.parse(response(f"{SITE}/news/index_3.html", page("news_list_last.html"), page=1)))
    assert [r.url for r in out] == [f"{SITE}/news/1980.html"]


def test_xpath_list_selector_on_the_board(spider_for):
    spider = spider_for("message_board")
    out = list(spider.parse(response(f"{SITE}/board/index.html", page("board_list.html"), page=1)))
    assert [r.url for r in out] == [f"{SITE}/board/3101.html", f"{SITE}/board/3100.html",
                                    f"{SITE}/board/index_2.html"]


def test_article_page_gives_one_post_item(spider_for, settings):
    spider = spider_for("news_site")
    (item,) = spider.parse_article(response(f"{SITE}/news/2001.html", page("news_article.html")))
    assert item["source"] == "news_site" and item["source_type"] == "news"
    assert item["url"] == f"{SITE}/news/2001.html"
    assert item["metrics"] == {"reads": 1204}
    assert item["_date_format"] == "%Y-%m-%d %H:%M"
    cleaned = CleanPipeline.from_crawler(spider.crawler).process_item(item)
    assert cleaned["title"] == "临川区开展汛期安全隐患排查"
    assert cleaned["author"] == "记者 陈文博"
    assert cleaned["text"].startswith("入汛以来，临川区组织应急、水利、住建等部门，对辖区内 易涝点、")
    assert "不是正文" not in cleaned["text"] and "编辑" not in cleaned["text"]
    assert cleaned["text"].splitlines()[1] == "截至目前，共排查隐患点位86处，已整改71处，其余正在加紧整改。"
    assert len(cleaned["text"].splitlines()) == 3
    assert cleaned["published_at"].isoformat() == "2025-06-03T09:30:00+08:00"


def test_board_message_unreplied_then_replied(spider_for):
    spider = spider_for("message_board")
    clean = CleanPipeline.from_crawler(spider.crawler)
    url = f"{SITE}/board/3101.html"
    (before,) = spider.parse_article(response(url, page("board_message.html")))
    (after,) = spider.parse_article(response(url, page("board_message_replied.html")))
    before, after = clean.process_item(before), clean.process_item(after)
    assert before["author"] == "网友孙**"
    assert before["published_at"].isoformat() == "2025-06-03T08:12:45+08:00"
    assert before["text"].count("\n") == 1
    assert before["reply_status"] == "未回复" and before["reply_text"] is None and before["reply_at"] is None
    assert after["reply_status"] == "已回复"
    assert after["reply_text"].startswith("网友您好！经核查，明珠苑小区排水泵")
    assert after["reply_at"] == datetime.fromisoformat("2025-06-05T10:00:00+08:00")
    assert after["metrics"] == {"views": 498}


def _letters(bus):
    return [m.json() for m in bus.read_all(DEADLETTER)]


def test_missing_text_is_logged_and_dead_lettered(spider_for, bus, caplog):
    spider = spider_for("news_site")
    url = f"{SITE}/news/2002.html"
    assert list(spider.parse_article(response(url, page("news_article_no_text.html")))) == []
    (letter,) = _letters(bus)
    assert letter["stage"] == "crawl.parse"
    assert "text selector 'div.content p' matched nothing" in letter["reason"]
    assert letter["payload"]["url"] == url and letter["payload"]["source"] == "news_site"
    assert "市卫健委发布夏季防暑提示" in letter["payload"]["body"]["text"]
    assert spider.crawler.stats.get_value(STAT_PAGE_ERRORS) == 1
    assert any(r.levelname == "ERROR" and url in r.getMessage() for r in caplog.records)


def test_invalid_utf8_is_dead_lettered_not_garbled(spider_for, bus, caplog):
    spider = spider_for("news_site")
    url = f"{SITE}/news/2003.html"
    body = page("news_article.html").replace("安全隐患".encode(), b"\xb0\xb2\xff\xfe")
    assert list(spider.parse_article(response(url, body))) == []
    (letter,) = _letters(bus)
    assert "not valid utf-8" in letter["reason"]
    assert letter["payload"]["url"] == url
    assert bytes.fromhex(letter["payload"]["body"]["undecodable_hex"]) == body  # nothing lost
    assert any(r.levelname == "ERROR" and "not valid utf-8" in r.getMessage() for r in caplog.records)


def test_configured_encoding_overrides_a_wrong_declaration(spider_for, bus):
    spider = spider_for("news_site", encoding="gb18030")
    body = page("news_article.html").decode("utf-8").encode("gb18030")  # still says charset=utf-8
    (item,) = spider.parse_article(response(f"{SITE}/news/2001.html", body))
    assert "临川区开展汛期" in item["title"]
    assert _letters(bus) == []


def test_fetch_errors_are_dead_lettered(make_crawler, source, bus):
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    spider = SiteSpider.from_crawler(make_crawler(SiteSpider), source=source("news_site"))
    url = f"{SITE}/news/404.html"
    failed = response(url, b"not found", status=404)
    failure = Failure(HttpError(failed, "Ignoring non-200 response"))
    failure.request = failed.request
    spider._on_fetch_error(failure)
    (letter,) = _letters(bus)
    assert letter["stage"] == "crawl.fetch" and letter["payload"] == {
        "source": "news_site", "url": url, "reason": "HTTP 404"}
    assert json.dumps(letter)  # JSON all the way down
