"""The source loader: valid files load; a bad file names the file and the field."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawlers.demo import SOURCES_DIR
from crawlers.sources import FeedSource, SiteSource, SourceConfigError, load_source, load_sources
from tests.crawlers.conftest import SOURCES

GOOD_SITE = {
    "name": "city_news", "type": "site", "source_type": "news", "schedule_seconds": 600,
    "start_urls": ["https://news.example.test/list.html"], "list": "ul.list a",
    "next_page": "a.next", "max_pages": 3,
    "article": {"title": "h1", "text": "div.content p", "published_at": "span.date::text",
                "date_format": "%Y-%m-%d"},
}


def write(directory: Path, data, name: str = "city_news") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True),
                    encoding="utf-8")
    return path


def with_(**changes):
    data = {**GOOD_SITE, "article": dict(GOOD_SITE["article"])}
    for key, value in changes.items():
        target = data
        *parents, last = key.split("__")
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(last)
        else:
            target[last] = value
    return data


def test_a_good_site_file_loads(tmp_path):
    source = load_source(write(tmp_path, GOOD_SITE))
    assert isinstance(source, SiteSource)
    assert source.article.text == "div.content p" and source.profile == "production"


def test_demo_sources_load_with_the_demo_url():
    sources = load_sources(SOURCES_DIR, demo_url="http://127.0.0.1:8800/")
    assert set(sources) == {"demo_news", "demo_board", "demo_feed"}
    assert sources["demo_news"].start_urls == ["http://127.0.0.1:8800/news/index.html"]
    assert isinstance(sources["demo_feed"], FeedSource)
    assert sources["demo_feed"].url == "http://127.0.0.1:8800/rss.xml"
    assert all(10 <= s.schedule_seconds <= 15 for s in sources.values())


def test_test_sources_load():
    assert set(load_sources(SOURCES, demo_url="http://x.test")) == {"news_site", "message_board", "notices"}


@pytest.mark.parametrize("data, field, message", [
    (with_(article__text=None), "article.text", "Field required"),
    (with_(schedule_seconds="often"), "schedule_seconds", "integer"),
    (with_(schedule_seconds=0), "schedule_seconds", "greater than 0"),
    (with_(source_type="blog"), "source_type", "news"),
    (with_(type="api"), "type", "site"),
    (with_(lists="ul a"), "lists", "Extra inputs"),
    (with_(article__title="h1[[["), "article.title", "invalid selector"),
    (with_(list="//ul[@class='list'"), "list", "invalid selector"),
    (with_(encoding="klingon-8"), "encoding", "unknown encoding"),
    (with_(start_urls=["ftp://x.test/"]), "start_urls", "not an http(s) URL: 'ftp://x.test/'"),
    (with_(start_urls=[]), "start_urls", "at least 1"),
    (with_(article__date_format="yyyy-mm-dd"), "article.date_format", "strptime"),
    (with_(max_pages=0), "max_pages", "greater than or equal to 1"),
    (with_(name="other_name"), "name", "differs from the file name"),
    ({"name": "city_news", "type": "feed", "source_type": "feed", "schedule_seconds": 60},
     "url", "Field required"),
])
def test_a_bad_file_names_the_file_and_the_field(tmp_path, data, field, message):
    path = write(tmp_path, data)
    with pytest.raises(SourceConfigError) as err:
        load_source(path)
    assert err.value.path == path and err.value.field == field
    assert message in err.value.reason
    assert str(err.value).startswith(f"{path}: {field}: ")


def test_invalid_yaml_and_non_mapping(tmp_path):
    with pytest.raises(SourceConfigError, match=r"city_news\.yaml: \(file\): invalid YAML"):
        load_source(write(tmp_path, "name: [unclosed"))
    with pytest.raises(SourceConfigError, match="expected a mapping"):
        load_source(write(tmp_path, "- just\n- a list\n"))


def test_demo_url_placeholder_needs_a_value(tmp_path):
    path = write(tmp_path, with_(start_urls=["{demo_url}/news/"]))
    with pytest.raises(SourceConfigError, match="no demo_url"):
        load_source(path)
    assert load_source(path, demo_url="http://127.0.0.1:1").start_urls == ["http://127.0.0.1:1/news/"]


def test_load_sources_fails_on_the_first_bad_file(tmp_path):
    write(tmp_path, GOOD_SITE)
    write(tmp_path, with_(name="zz_bad", article__text=None), name="zz_bad")
    with pytest.raises(SourceConfigError) as err:
        load_sources(tmp_path)
    assert err.value.path.name == "zz_bad.yaml" and err.value.field == "article.text"


def test_disabled_sources_are_skipped_unless_asked(tmp_path):
    write(tmp_path, {**GOOD_SITE, "enabled": False})
    assert load_sources(tmp_path) == {}
    assert set(load_sources(tmp_path, include_disabled=True)) == {"city_news"}
