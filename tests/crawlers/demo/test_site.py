"""The demo website: what it serves, and how its timeline releases posts."""
from __future__ import annotations

import re
import urllib.error
import urllib.request

import feedparser
import pytest

from crawlers.demo import DemoSite
from crawlers.demo.content import BURST_PLACE, build_timeline


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def site(clock):
    with DemoSite(clock=clock) as demo:
        yield demo


def get(site, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(site.url + path, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], ""


def links(html: str, kind: str) -> list[str]:
    return re.findall(rf'href="(/{kind}/\d+\.html)"', html)


def test_about_forty_posts_from_the_past_day_at_start(site):
    visible = site.released()
    assert 35 <= len(visible) <= 45
    assert {p.kind for p in visible} == {"news", "board", "notice"}
    ages = [(site.wall_time(0) - site.wall_time(p.release)).total_seconds() for p in visible]
    assert max(ages) <= 86400 and min(ages) > 0


def test_news_list_is_paginated_by_ten(site):
    status, content_type, first = get(site, "/news/index.html")
    assert status == 200 and content_type == "text/html; charset=utf-8"
    assert len(links(first, "news")) == 10 and 'class="next" href="index_2.html"' in first
    news = site.released("news")
    last_page = -(-len(news) // 10)
    _, _, last = get(site, f"/news/index_{last_page}.html")
    assert len(links(last, "news")) == len(news) - 10 * (last_page - 1)
    assert 'class="next"' not in last
    assert get(site, f"/news/index_{last_page + 1}.html")[0] == 404


def test_article_page(site):
    post = site.released("news")[0]
    status, _, html = get(site, f"/news/{post.id}.html")
    assert status == 200
    assert f'<h1 class="title">{post.title}</h1>' in html
    assert post.paragraphs[0] in html and post.author in html
    assert site.wall_time(post.release).strftime("%Y-%m-%d %H:%M") in html


def test_board_message_page_with_the_message_fields(site):
    post = site.released("board")[0]
    status, _, html = get(site, f"/board/{post.id}.html")
    assert status == 200
    for label in ("留言标题", "留言人", "留言时间", "留言内容", "回复状态"):
        assert f"<th>{label}</th>" in html
    assert re.search(r"网友.\*\*", html)
    assert ("已回复" if site.is_replied(post) else "未回复") in html


def test_rss_and_atom_feeds_parse(site):
    status, content_type, rss = get(site, "/rss.xml")
    assert status == 200 and "rss+xml" in content_type
    parsed = feedparser.parse(rss)
    assert not parsed.bozo and len(parsed.entries) == len(site.released("notice")) > 0
    assert parsed.entries[0].link.startswith(site.url + "/notice/")
    assert get(site, parsed.entries[0].link[len(site.url):])[0] == 200
    atom = feedparser.parse(get(site, "/atom.xml")[2])
    assert not atom.bozo and [e.link for e in atom.entries] == [e.link for e in parsed.entries]


def test_unreleased_and_unknown_pages_are_404(site):
    future = next(p for p in site.posts if p.release > 0)
    assert get(site, f"/{future.kind}/{future.id}.html")[0] == 404
    assert get(site, "/nothing-here")[0] == 404
    assert get(site, "/robots.txt")[0] == 200


def test_new_posts_are_released_over_time(site, clock):
    before = {p.id for p in site.released()}
    clock.t += 10  # demo seconds at speed 1
    new = [p for p in site.released() if p.id not in before]
    assert 1 <= len(new) <= 5
    _, _, html = get(site, f"/{new[0].kind}/index.html")
    assert f"/{new[0].kind}/{new[0].id}.html" in html


def test_speed_scales_the_demo_clock(clock):
    fast = DemoSite(clock=clock, speed=10)
    fast.start()
    try:
        clock.t += 30
        assert fast.now() == pytest.approx(300)
        # a post released at demo second 300 looks published 30 real seconds after start
        assert (fast.wall_time(300) - fast.wall_time(0)).total_seconds() == pytest.approx(30)
    finally:
        fast.stop()


def test_burst_of_negative_posts_on_one_issue():
    burst = [p for p in build_timeline() if "burst" in p.tags]
    assert len(burst) == 15
    assert {p.topic for p in burst} == {"utilities"} and {p.sentiment for p in burst} == {"negative"}
    assert all("翠柳苑" in p.title + "".join(p.paragraphs) and "停水" in p.title + "".join(p.paragraphs)
               for p in burst)
    assert max(p.release for p in burst) - min(p.release for p in burst) <= 120
    assert BURST_PLACE[2] == "翠柳苑小区"


def test_watchlist_words_appear():
    text = "".join(p.title + "".join(p.paragraphs) for p in build_timeline() if p.release > 0)
    for word in ("中毒", "爆炸", "群体性"):
        assert word in text


def test_board_posts_get_replies_later(site, clock):
    pending = [p for p in site.released("board") if p.reply_release and not site.is_replied(p)]
    assert pending
    post = pending[0]
    assert "未回复" in get(site, f"/board/{post.id}.html")[2]
    clock.t += post.reply_release - site.now() + 1
    html = get(site, f"/board/{post.id}.html")[2]
    assert "已回复" in html and post.reply_text in html and "<th>回复内容</th>" in html


def test_the_timeline_is_deterministic():
    def fingerprint(posts):
        return [(p.id, p.kind, p.title, p.release) for p in posts]
    assert fingerprint(build_timeline(7)) == fingerprint(build_timeline(7))
    assert fingerprint(build_timeline(7)) != fingerprint(build_timeline(8))
    titles = {p.title for p in build_timeline(7)}
    assert len(titles) > 100  # variety from the templates
