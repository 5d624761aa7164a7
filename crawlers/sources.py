"""Source configuration: one YAML file per source, validated at load.

A file that does not validate fails fast with a `SourceConfigError` naming the
file and the field, e.g.::

    config/sources/city_news.yaml: article.text: Field required

Two kinds of source exist. A ``site`` is crawled from its list pages (article
links, a next-page link, up to ``max_pages``) into article pages read with
CSS or XPath selectors. A ``feed`` is an RSS or Atom URL.

A selector is XPath when it starts with ``/``, ``(`` or ``xpath:``; otherwise
it is CSS. URLs may contain ``{demo_url}``, filled in by
``load_sources(directory, demo_url=...)``.
"""
from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import yaml
from parsel import Selector
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from yuqing.records import SourceType

_EMPTY_DOC = Selector(text="<html><body></body></html>")


class SourceConfigError(ValueError):
    """A source file that cannot be loaded; the message names the file and field."""

    def __init__(self, path: Path | str, field: str, reason: str):
        self.path, self.field, self.reason = Path(path), field, reason
        super().__init__(f"{path}: {field}: {reason}")


def is_xpath(selector: str) -> bool:
    return selector.startswith(("/", "(", "xpath:"))


def strip_xpath_prefix(selector: str) -> str:
    return selector[len("xpath:"):] if selector.startswith("xpath:") else selector


def _check_selector(value: Optional[str]) -> Optional[str]:
    """Compile the selector once against an empty page so a typo fails at load."""
    if value is None:
        return value
    value = value.strip()
    if not value:
        raise ValueError("selector is empty")
    try:
        if is_xpath(value):
            _EMPTY_DOC.xpath(strip_xpath_prefix(value))
        else:
            _EMPTY_DOC.css(value)
    except Exception as exc:  # parsel raises several types for bad syntax
        raise ValueError(f"invalid selector {value!r}: {exc}") from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArticleSelectors(_Strict):
    """Selectors on an article (or message) page. ``text`` is required."""

    title: str
    text: str
    author: Optional[str] = None
    published_at: Optional[str] = None
    #: strptime format of published_at / reply_at, e.g. "%Y-%m-%d %H:%M".
    date_format: Optional[str] = None
    # message boards (网民留言)
    reply_status: Optional[str] = None
    reply_text: Optional[str] = None
    reply_at: Optional[str] = None
    #: metric name -> selector of a number (reads, replies, reposts)
    metrics: dict[str, str] = Field(default_factory=dict)

    _selectors = field_validator("title", "text", "author", "published_at", "reply_status",
                                 "reply_text", "reply_at")(_check_selector)

    @field_validator("metrics")
    @classmethod
    def _metric_selectors(cls, v: dict[str, str]) -> dict[str, str]:
        return {name: _check_selector(sel) for name, sel in v.items()}

    @field_validator("date_format")
    @classmethod
    def _format_has_directive(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and "%" not in v:
            raise ValueError(f"date_format {v!r} has no strptime directive (e.g. %Y-%m-%d)")
        return v


class _SourceBase(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    source_type: SourceType
    schedule_seconds: int = Field(gt=0)
    #: Overrides the page's declared encoding (e.g. "gb18030" for an old site).
    encoding: Optional[str] = None
    #: Scrapy settings profile: "production" (polite, robots.txt) or "base" (no delays).
    profile: Literal["base", "production"] = "production"
    enabled: bool = True

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                codecs.lookup(v)
            except LookupError as exc:
                raise ValueError(f"unknown encoding {v!r}") from exc
        return v


def _check_url(v: str) -> str:
    if not re.match(r"^https?://[^\s/]+", v):
        raise ValueError(f"not an http(s) URL: {v!r}")
    return v


class SiteSource(_SourceBase):
    type: Literal["site"]
    start_urls: list[str] = Field(min_length=1)
    #: selector of the article links on a list page (<a> elements or @href values)
    list: str
    next_page: Optional[str] = None
    max_pages: int = Field(default=1, ge=1, le=1000)
    article: ArticleSelectors

    @field_validator("start_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return [_check_url(u) for u in v]

    _selectors = field_validator("list", "next_page")(_check_selector)


class FeedSource(_SourceBase):
    type: Literal["feed"]
    url: str

    _url = field_validator("url")(_check_url)


SourceConfig = Annotated[Union[SiteSource, FeedSource], Field(discriminator="type")]
_ADAPTER: TypeAdapter = TypeAdapter(SourceConfig)


def _fill_placeholders(data, demo_url: Optional[str]):
    if isinstance(data, str):
        if "{demo_url}" in data:
            if demo_url is None:
                raise LookupError("{demo_url}")
            return data.replace("{demo_url}", demo_url.rstrip("/"))
        return data
    if isinstance(data, list):
        return [_fill_placeholders(x, demo_url) for x in data]
    if isinstance(data, dict):
        return {k: _fill_placeholders(v, demo_url) for k, v in data.items()}
    return data


def _field_of(error: dict) -> str:
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    loc = [str(p) for p in error.get("loc", ())]
    if loc and loc[0] in ("site", "feed"):  # the discriminator's tag
        loc = loc[1:]
    return ".".join(loc) or "(file)"


def load_source(path: Path | str, *, demo_url: Optional[str] = None) -> Union[SiteSource, FeedSource]:
    """Load and validate one source file; raise SourceConfigError naming file and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceConfigError(path, "(file)", f"cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SourceConfigError(path, "(file)", f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SourceConfigError(path, "(file)", "expected a mapping of fields")
    try:
        data = _fill_placeholders(data, demo_url)
    except LookupError:
        raise SourceConfigError(path, "(file)", "uses {demo_url} but no demo_url was given") from None
    try:
        source = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first.get("msg", "invalid").removeprefix("Value error, ")
        raise SourceConfigError(path, _field_of(first), reason) from exc
    if source.name != path.stem:
        raise SourceConfigError(path, "name", f"{source.name!r} differs from the file name {path.stem!r}")
    return source


def load_sources(directory: Path | str, *, demo_url: Optional[str] = None,
                 include_disabled: bool = False) -> dict[str, Union[SiteSource, FeedSource]]:
    """Load every ``*.yaml`` / ``*.yml`` in directory, keyed by source name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceConfigError(directory, "(directory)", "not a directory")
    sources: dict[str, Union[SiteSource, FeedSource]] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        source = load_source(path, demo_url=demo_url)
        if source.name in sources:
            raise SourceConfigError(path, "name", f"duplicate source name {source.name!r}")
        if source.enabled or include_disabled:
            sources[source.name] = source
    return sources
