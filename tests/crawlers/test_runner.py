"""Real crawls of the demo site, each in a child process, into a SQLite bus in tmp_path."""
from __future__ import annotations

import logging
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from crawlers.demo import SOURCES_DIR, DemoSite
from crawlers.runner import CrawlError, crawl_in_subprocess
from stream import DEADLETTER, RAW
from stream.sqlite_bus import SQLiteBus
from tests.crawlers.demo.test_site import FakeClock
from yuqing.records import Post


@pytest.fixture
def sources_dir(tmp_path):
    """The demo sources, plus one whose start page does not exist."""
    directory = tmp_path / "sources"
    shutil.copytree(SOURCES_DIR, directory)
    broken = yaml.safe_load((directory / "demo_news.yaml").read_text(encoding="utf-8"))
    broken.update(name="demo_gone", start_urls=["{demo_url}/gone/index.html"])
    (directory / "demo_gone.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    return directory


def crawl_all(names, site, settings, sources_dir):
    with ThreadPoolExecutor(len(names)) as pool:
        runs = {n: pool.submit(crawl_in_subprocess, n, sources_dir=sources_dir, settings=settings,
                               demo_url=site.url, timeout=120) for n in names}
        return {n: run.result() for n, run in runs.items()}


def raw_posts(settings) -> list[Post]:
    bus = SQLiteBus(settings.bus_db_path)
    try:
        return [Post.from_json(m.value) for m in sorted(bus.read_all(RAW, 10_000), key=lambda m: m.offset)]
    finally:
        bus.close()


def test_crawl_demo_site_into_the_bus_then_recrawl(settings, sources_dir, caplog):
    caplog.set_level(logging.WARNING, logger="crawlers.runner")
    clock = FakeClock()
    with DemoSite(clock=clock) as site:
        first = crawl_all(["demo_news", "demo_board", "demo_feed", "demo_gone"], site, settings, sources_dir)
        posts = raw_posts(settings)

        assert first["demo_news"]["published"] == len(site.released("news")) > 10, first  # followed pagination
        assert first["demo_board"]["published"] == len(site.released("board")), first
        assert first["demo_feed"]["published"] == len(site.released("notice")), first
        assert len(posts) == sum(s["published"] for s in first.values())
        assert len({p.id for p in posts}) == len(posts)
        assert {p.source_type.value for p in posts} == {"news", "board", "feed"}
        board = [p for p in posts if p.source == "demo_board"]
        assert all(p.author.startswith("网友") and p.published_at.utcoffset().total_seconds() == 28800
                   for p in board)
        assert {p.reply_status for p in board} == {"已回复", "未回复"}
        for name in ("demo_news", "demo_board", "demo_feed"):
            assert first[name]["errors"] == 0 and first[name]["dead_lettered"] == 0

        # a page that cannot be fetched: logged and dead-lettered, the crawl still ends cleanly
        assert first["demo_gone"]["published"] == 0 and first["demo_gone"]["dead_lettered"] == 1
        assert first["demo_gone"]["finish_reason"] == "finished"
        bus = SQLiteBus(settings.bus_db_path)
        (letter,) = [m.json() for m in bus.read_all(DEADLETTER)]
        bus.close()
        assert letter["payload"]["url"] == f"{site.url}/gone/index.html" and "404" in letter["reason"]
        # the child's error reaches this process's log; the clean crawls log nothing
        (warning,) = [r.getMessage() for r in caplog.records]
        assert warning.startswith("crawl of demo_gone logged errors (1)")
        assert f"could not fetch {site.url}/gone/index.html: HTTP 404" in warning

        # later: a few new posts; board replies to old messages. The second crawl publishes
        # the new posts and the changed messages (under their old ids), and no duplicates.
        clock.t += 100
        second = crawl_all(["demo_news", "demo_board"], site, settings, sources_dir)
        later = raw_posts(settings)[len(posts):]
        assert sum(s["published"] for s in second.values()) == len(later) > 0
        assert len({p.id for p in later}) == len(later)
        before = {p.id: p for p in posts}

        news = [p for p in later if p.source == "demo_news"]
        new_news = [p for p in site.released("news") if 0 < p.release <= 100]
        assert len(news) == len(new_news) > 0 and not any(p.id in before for p in news)
        assert second["demo_news"]["duplicates"] == first["demo_news"]["published"]

        updated = [p for p in later if p.source == "demo_board" and p.id in before]
        assert updated, "some old messages were answered in the meantime"
        for post in updated:
            assert before[post.id].reply_status == "未回复"
            assert post.reply_status == "已回复" and post.reply_text and post.reply_at
        assert second["demo_board"]["duplicates"] == first["demo_board"]["published"] - len(updated)


def test_unknown_source_fails_with_the_childs_error(settings):
    with pytest.raises(CrawlError, match="no source 'nope'"):
        crawl_in_subprocess("nope", sources_dir=SOURCES_DIR, settings=settings, demo_url="http://x.test")
