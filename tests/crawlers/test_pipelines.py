"""Each pipeline on its own, then the chain, on a real SQLite bus and seen-store."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from scrapy.exceptions import DropItem

from crawlers.context import STAT_DEAD_LETTERED, STAT_DUPLICATES, STAT_PUBLISHED
from crawlers.items import new_post_item
from crawlers.pipelines import (CleanPipeline, DedupePipeline, PublishPipeline, ValidatePipeline,
                                clean_text, parse_date)
from crawlers.seen import SeenStore
from stream import DEADLETTER, RAW
from yuqing.records import MAX_TEXT_CHARS, Post, post_id_for

SH = ZoneInfo("Asia/Shanghai")
URL = "http://board.example.test/board/3101.html"


def board_item(url: str = URL, **fields):
    values = dict(title="明珠苑小区地下车库长期积水", text="<p>一下雨就积水。</p><p>请督促解决。</p>",
                  author="留言人：网友孙**", published_at="2025-06-03 08:12:45",
                  reply_status="未回复")
    values.update(fields)
    return new_post_item(source="message_board", source_type="board", url=url,
                         date_format="%Y-%m-%d %H:%M:%S", **values)


class Chain:
    """The four pipelines of one crawl, in order, as Scrapy runs them."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.pipes = [cls.from_crawler(crawler) for cls in
                      (CleanPipeline, DedupePipeline, ValidatePipeline, PublishPipeline)]
        for pipe in self.pipes:
            getattr(pipe, "open_spider", lambda: None)()

    def run(self, item):
        for pipe in self.pipes:
            item = pipe.process_item(item)
        return item

    def close(self):
        for pipe in reversed(self.pipes):
            getattr(pipe, "close_spider", lambda: None)()

    def stat(self, key):
        return self.crawler.stats.get_value(key, 0)


# ------------------------------------------------------------------ clean

def test_clean_text_strips_html_whitespace_and_control_characters():
    raw = ("<div><script>x()</script><p>\u3000\u3000第一段&amp;内容\u0007 \u200b</p>"
           "<p>第二段<br/>换行</p>\r\n<p>   </p></div>")
    assert clean_text(raw) == "第一段&内容\n第二段\n换行"
    assert clean_text(raw, multiline=False) == "第一段&内容 第二段 换行"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    assert clean_text(None) is None


@pytest.mark.parametrize("value, fmt, expected", [
    ("2025-06-03 09:30", "%Y-%m-%d %H:%M", "2025-06-03T09:30:00+08:00"),
    ("发布时间：2025-06-03 09:30", "%Y-%m-%d %H:%M", "2025-06-03T09:30:00+08:00"),
    ("2025年6月3日 09:30", None, "2025-06-03T09:30:00+08:00"),
    ("留言时间：2025年6月3日 09时30分", None, "2025-06-03T09:30:00+08:00"),
    ("<span>2025-06-03</span>\n09:30", "%Y-%m-%d %H:%M", "2025-06-03T09:30:00+08:00"),
    ("2025/06/03", None, "2025-06-03T00:00:00+08:00"),
    ("2025-06-03T01:30:00Z", None, "2025-06-03T09:30:00+08:00"),
    ("Tue, 03 Jun 2025 01:30:00 +0000", None, "2025-06-03T09:30:00+08:00"),
    (datetime(2025, 6, 3, 1, 30, tzinfo=timezone.utc), None, "2025-06-03T09:30:00+08:00"),
    (datetime(2025, 6, 3, 9, 30), None, "2025-06-03T09:30:00+08:00"),  # naive = local
])
def test_parse_date_gives_aware_shanghai_times(value, fmt, expected):
    assert parse_date(value, fmt, SH).isoformat() == expected


def test_parse_date_rejects_nonsense():
    with pytest.raises(ValueError, match="unrecognised date"):
        parse_date("昨天下午", None, SH)
    assert parse_date("<span> </span>", None, SH) is None


def test_clean_pipeline(make_crawler):
    item = CleanPipeline.from_crawler(make_crawler()).process_item(board_item(published_at="刚刚"))
    assert item["text"] == "一下雨就积水。\n请督促解决。"
    assert item["author"] == "网友孙**"
    assert item["published_at"] is None  # unparseable: kept empty, logged, post not lost
    assert item["fetched_at"].utcoffset().total_seconds() == 8 * 3600


# ----------------------------------------------------------------- dedupe

def test_dedupe_ids_come_from_the_canonical_url(make_crawler):
    dedupe = DedupePipeline.from_crawler(make_crawler())
    item = dedupe.process_item(board_item("http://board.example.test/board/view?b=2&a=1#top"))
    assert item["id"] == post_id_for("http://board.example.test/board/view?a=1&b=2")
    with pytest.raises(DropItem):  # same canonical URL, same content, same crawl
        dedupe.process_item(board_item("http://board.example.test/board/view?a=1&b=2"))
    dedupe.close_spider()


def test_unchanged_post_dropped_changed_post_republished_under_the_same_id(make_crawler, bus):
    first = Chain(make_crawler())
    post_id = first.run(board_item())["id"]
    first.close()
    assert first.stat(STAT_PUBLISHED) == 1

    second = Chain(make_crawler())  # the next crawl
    with pytest.raises(DropItem, match="duplicate"):
        second.run(board_item())
    assert second.stat(STAT_DUPLICATES) == 1
    replied = second.run(board_item(reply_status="已回复", reply_text="<p>已督促物业维修。</p>",
                                    reply_at="2025-06-05 10:00:00"))
    second.close()
    assert replied["id"] == post_id

    messages = sorted(bus.read_all(RAW), key=lambda m: m.offset)
    assert [m.key for m in messages] == [post_id, post_id]
    posts = [Post.from_json(m.value) for m in messages]
    assert [p.reply_status for p in posts] == ["未回复", "已回复"]
    assert posts[1].reply_text == "已督促物业维修。"


def test_post_is_marked_seen_only_after_it_is_published(make_crawler, settings):
    crashed = Chain(make_crawler())
    crashed.run(board_item())  # published, never flushed: the process dies here
    assert SeenStore(settings.path("seen.db")).count() == 0

    again = Chain(make_crawler())
    assert again.run(board_item())["id"]  # not dropped as a duplicate
    again.close()
    assert SeenStore(settings.path("seen.db")).count() == 1


def test_publish_flushes_in_batches(make_crawler, bus, settings):
    chain = Chain(make_crawler(YUQING_PUBLISH_BATCH=2))
    for n in range(3):
        chain.run(board_item(f"http://board.example.test/board/{n}.html"))
    assert bus.count(RAW) == 2 and SeenStore(settings.path("seen.db")).count() == 2
    chain.close()
    assert bus.count(RAW) == 3 and SeenStore(settings.path("seen.db")).count() == 3


# --------------------------------------------------------------- validate

def test_oversized_post_is_dead_lettered(make_crawler, bus):
    chain = Chain(make_crawler())
    with pytest.raises(DropItem, match="over MAX_TEXT_CHARS"):
        chain.run(board_item(text="水" * (MAX_TEXT_CHARS + 1)))
    chain.close()
    assert bus.count(RAW) == 0
    (letter,) = [m.json() for m in bus.read_all(DEADLETTER)]
    assert letter["stage"] == "crawl.validate"
    assert f"text is {MAX_TEXT_CHARS + 1} characters" in letter["reason"] and URL in letter["reason"]
    assert letter["payload"]["url"] == URL and len(letter["payload"]["text"]) == MAX_TEXT_CHARS + 1
    assert chain.stat(STAT_DEAD_LETTERED) == 1

    # the same oversized post on the next crawl is not dead-lettered again
    again = Chain(make_crawler())
    with pytest.raises(DropItem, match="duplicate"):
        again.run(board_item(text="水" * (MAX_TEXT_CHARS + 1)))
    assert bus.count(DEADLETTER) == 1


def test_post_without_text_is_dead_lettered(make_crawler, bus):
    chain = Chain(make_crawler())
    with pytest.raises(DropItem, match="text"):
        chain.run(board_item(text="<p>  </p>"))
    (letter,) = [m.json() for m in bus.read_all(DEADLETTER)]
    assert "Post.text" in letter["reason"] and letter["payload"]["url"] == URL
    assert letter["payload"]["published_at"] == "2025-06-03T08:12:45+08:00"


def test_valid_item_carries_its_post(make_crawler):
    crawler = make_crawler()
    item = board_item()
    for cls in (CleanPipeline, DedupePipeline, ValidatePipeline):
        item = cls.from_crawler(crawler).process_item(item)
    post = item["_post"]
    assert isinstance(post, Post) and post.id == item["id"] and post.source_type.value == "board"
    assert post.published_at.isoformat() == "2025-06-03T08:12:45+08:00"
