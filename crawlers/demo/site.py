"""A small local website for the demo: news, a message board (网民留言) and feeds.

    site = DemoSite(port=0).start()   # -> "http://127.0.0.1:PORT"
    ...
    site.stop()

Pages (newest first, 10 a page): ``/news/index.html`` → ``/news/index_2.html``
…, ``/news/ID.html``; ``/board/index.html`` …, ``/board/ID.html``;
``/notice/ID.html``; feeds ``/rss.xml`` (RSS 2.0) and ``/atom.xml`` (Atom) of
the 通知公告. Posts appear as the demo clock passes their release time
(``speed`` demo seconds per real second); board messages get their official
reply later, so a re-crawl sees them change.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from zoneinfo import ZoneInfo

from crawlers.demo.content import CITY, DemoPost, build_timeline

logger = logging.getLogger(__name__)
TZ = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 10
SECTIONS = {"news": "新闻动态", "board": "网民留言", "notice": "通知公告"}


class DemoSite:
    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", seed: int = 7, speed: float = 1.0,
                 clock: Optional[Callable[[], float]] = None, **timeline_options):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.host, self.port, self.speed = host, port, speed
        self.clock = clock or time.monotonic
        self.posts = build_timeline(seed, **timeline_options)
        self._by_id = {p.id: p for p in self.posts}
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._started_clock = self.clock()
        self._started_wall = datetime.now(TZ).replace(microsecond=0)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> str:
        site = self

        class Handler(_Handler):
            demo = site

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._started_clock = self.clock()
        self._started_wall = datetime.now(TZ).replace(microsecond=0)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="demo-site", daemon=True)
        self._thread.start()
        logger.info("demo site at %s (speed %s)", self.url, self.speed)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "DemoSite":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------- timeline
    def now(self) -> float:
        """Demo seconds since start."""
        return (self.clock() - self._started_clock) * self.speed

    def wall_time(self, release: float) -> datetime:
        """When a post (released at demo time `release`) appears to have been published."""
        seconds = release if release <= 0 else release / self.speed
        return self._started_wall + timedelta(seconds=seconds)

    def released(self, kind: Optional[str] = None) -> list[DemoPost]:
        """Posts visible now, newest first."""
        now = self.now()
        return [p for p in reversed(self.posts) if p.release <= now and (kind is None or p.kind == kind)]

    def is_replied(self, post: DemoPost) -> bool:
        return post.reply_release is not None and post.reply_release <= self.now()

    def post(self, post_id: int, kind: str) -> Optional[DemoPost]:
        post = self._by_id.get(post_id)
        if post is None or post.kind != kind or post.release > self.now():
            return None
        return post

    # ------------------------------------------------------------ rendering
    def render(self, path: str) -> tuple[int, str, str]:
        """(status, content type, body) for a path."""
        html = "text/html; charset=utf-8"
        if path in ("/", "/index.html"):
            return 200, html, self._home()
        if path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", "User-agent: *\nAllow: /\n"
        if path == "/rss.xml":
            return 200, "application/rss+xml; charset=utf-8", self._rss()
        if path == "/atom.xml":
            return 200, "application/atom+xml; charset=utf-8", self._atom()
        m = re.fullmatch(r"/(news|board|notice)/(?:index(?:_(\d+))?\.html)?", path)
        if m:
            page = self._list_page(m.group(1), int(m.group(2) or 1))
            return (200, html, page) if page else (404, html, _page("404", "<p>页面不存在</p>"))
        m = re.fullmatch(r"/(news|board|notice)/(\d+)\.html", path)
        if m:
            post = self.post(int(m.group(2)), m.group(1))
            if post:
                render = self._board_page if post.kind == "board" else self._article_page
                return 200, html, render(post)
        return 404, html, _page("404", "<p>页面不存在</p>")

    def _home(self) -> str:
        links = "".join(f'<li><a href="/{k}/index.html">{v}</a></li>' for k, v in SECTIONS.items())
        return _page(f"{CITY}人民政府", f"<ul class=\"nav\">{links}</ul>"
                     '<p><a href="/rss.xml">RSS</a> | <a href="/atom.xml">Atom</a></p>')

    def _list_page(self, kind: str, number: int) -> Optional[str]:
        posts = self.released(kind)
        pages = max(1, -(-len(posts) // PAGE_SIZE))
        if number < 1 or number > pages:
            return None
        chunk = posts[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
        if kind == "board":
            rows = "".join(
                f'<tr><td class="t"><a href="/board/{p.id}.html">{escape(p.title)}</a></td>'
                f"<td>{escape(p.author)}</td><td>{self._ts(p.release, seconds=False)}</td>"
                f"<td>{'已回复' if self.is_replied(p) else '未回复'}</td></tr>" for p in chunk)
            body = ('<table class="board-list"><tr><th>标题</th><th>留言人</th><th>留言时间</th>'
                    f"<th>状态</th></tr>{rows}</table>")
        else:
            items = "".join(f'<li><a href="/{kind}/{p.id}.html">{escape(p.title)}</a>'
                            f'<span class="date">{self._ts(p.release)[:10]}</span></li>' for p in chunk)
            body = f'<ul class="list">{items}</ul>'
        pager = [f"<span>共{len(posts)}条 第{number}/{pages}页</span>"]
        if number > 1:
            prev = "index.html" if number == 2 else f"index_{number - 1}.html"
            pager.append(f'<a class="prev" href="{prev}">上一页</a>')
        if number < pages:
            pager.append(f'<a class="next" href="index_{number + 1}.html">下一页</a>')
        return _page(SECTIONS[kind], body + f'<div class="pager">{" ".join(pager)}</div>')

    def _article_page(self, post: DemoPost) -> str:
        paragraphs = "".join(f"<p>\u3000\u3000{escape(p)}</p>" for p in post.paragraphs)
        source = "江宁日报" if post.kind == "news" else f"{CITY}人民政府"
        body = (f'<div class="article"><h1 class="title">{escape(post.title)}</h1>'
                f'<div class="info">来源：{source} 作者：<span class="author">{escape(post.author)}</span> '
                f'发布时间：<span class="pubtime">{self._ts(post.release, seconds=False)}</span> '
                f'阅读：<span class="reads">{post.reads}</span></div>'
                f'<div class="content">{paragraphs}</div></div>')
        return _page(post.title, body)

    def _board_page(self, post: DemoPost) -> str:
        replied = self.is_replied(post)
        rows = [("留言标题", "msg-title", escape(post.title)), ("留言人", "msg-author", escape(post.author)),
                ("留言时间", "msg-time", self._ts(post.release)),
                ("留言内容", "msg-body", "".join(f"<p>{escape(p)}</p>" for p in post.paragraphs)),
                ("回复状态", "reply-status", "已回复" if replied else "未回复")]
        if replied:
            rows += [("回复单位", "reply-dept", escape(post.reply_dept or "")),
                     ("回复时间", "reply-time", self._ts(post.reply_release)),
                     ("回复内容", "reply-body", f"<p>{escape(post.reply_text or '')}</p>")]
        table = "".join(f'<tr><th>{label}</th><td class="{cls}">{value}</td></tr>' for label, cls, value in rows)
        return _page(post.title, f'<table class="message">{table}</table>'
                                 f'<div class="stats">浏览次数：<span class="views">{post.reads}</span></div>')

    def _feed_posts(self) -> list[DemoPost]:
        return self.released("notice")[:20]

    def _rss(self) -> str:
        items = "".join(
            f"<item><title>{escape(p.title)}</title><link>{self.url}/notice/{p.id}.html</link>"
            f'<guid isPermaLink="true">{self.url}/notice/{p.id}.html</guid>'
            f"<pubDate>{format_datetime(self.wall_time(p.release))}</pubDate>"
            f"<dc:creator>{escape(p.author)}</dc:creator>"
            f"<description>{escape(''.join(f'<p>{x}</p>' for x in p.paragraphs))}</description></item>"
            for p in self._feed_posts())
        return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
                f"<title>{CITY}人民政府 通知公告</title><link>{self.url}/</link>"
                f"<description>{CITY}人民政府通知公告</description><language>zh-cn</language>"
                f"<lastBuildDate>{format_datetime(self.wall_time(self.now()))}</lastBuildDate>"
                f"{items}</channel></rss>")

    def _atom(self) -> str:
        entries = "".join(
            f"<entry><title>{escape(p.title)}</title><id>{self.url}/notice/{p.id}.html</id>"
            f'<link href="{self.url}/notice/{p.id}.html"/>'
            f"<updated>{self.wall_time(p.release).isoformat()}</updated>"
            f"<author><name>{escape(p.author)}</name></author>"
            f'<content type="html">{escape("".join(f"<p>{x}</p>" for x in p.paragraphs))}</content></entry>'
            for p in self._feed_posts())
        return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{CITY}人民政府 通知公告</title><id>{self.url}/atom.xml</id>"
                f'<link href="{self.url}/"/><updated>{self.wall_time(self.now()).isoformat()}</updated>'
                f"{entries}</feed>")

    def _ts(self, release: Optional[float], seconds: bool = True) -> str:
        fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        return self.wall_time(release or 0).strftime(fmt)


def _page(title: str, body: str) -> str:
    return ('<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{escape(title)} - {CITY}人民政府</title></head><body>"
            f'<div class="header"><a href="/">{CITY}人民政府门户网站</a></div>'
            f'<div class="main">{body}</div><div class="footer">{CITY}人民政府办公室 主办（演示网站）</div>'
            "</body></html>")


class _Handler(BaseHTTPRequestHandler):
    demo: DemoSite
    server_version = "yuqing-demo/0.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        status, content_type, body = self.demo.render(self.path.split("?", 1)[0])
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # quiet: debug log only
        logger.debug("%s %s", self.address_string(), format % args)
