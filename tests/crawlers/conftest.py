"""Fixtures for the crawler tests: saved pages, test sources, a crawler on a tmp bus."""
from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from crawlers.context import settings_to_scrapy
from crawlers.sources import load_source
from stream.sqlite_bus import SQLiteBus
from yuqing.config import Settings

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
SOURCES = HERE / "sources"
SITE = "http://news.example.test"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def response(url: str, body: bytes, *, cls=HtmlResponse, headers=None, status=200, **meta) -> TextResponse:
    """A response as the downloader would hand it over, with its request (and meta)."""
    request = Request(url, meta=meta)
    return cls(url=url, body=body, request=request, headers=headers or {}, status=status)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture
def source():
    def load(name: str):
        return load_source(SOURCES / f"{name}.yaml", demo_url=SITE)
    return load


@pytest.fixture
def make_crawler(settings):
    """A real (unstarted) Scrapy crawler whose components publish to a tmp SQLite bus."""
    def make(spidercls=None, **extra):
        return get_crawler(spidercls, {"YUQING_SETTINGS": settings_to_scrapy(settings), **extra})
    return make


@pytest.fixture
def bus(settings):
    """A second handle on the crawl's bus file, to read what was published."""
    b = SQLiteBus(settings.bus_db_path)
    yield b
    b.close()
