"""The search-index interface shared by the SQLite FTS5 and Elasticsearch backends.

Documents are ClassifiedPosts keyed by post id, so a re-delivered post
overwrites itself. Text is cut by our own jieba tokenizer on both the
document and the query side.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Optional, Sequence

from yuqing.records import ClassifiedPost


@dataclass
class SearchQuery:
    text: Optional[str] = None
    topics: Sequence[str] = ()
    sentiment: Optional[str] = None
    source: Optional[str] = None
    region: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    ids: Sequence[str] = ()
    page: int = 1
    size: int = 20


@dataclass
class SearchResult:
    total: int
    hits: list[dict]
    #: counts per value for "topics", "sentiment" and "source" over all matches
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class IndexUnavailable(RuntimeError):
    """The index cannot be reached or refuses the whole batch; retry later."""


@dataclass(frozen=True)
class IndexFailure:
    post_id: str
    reason: str


Interval = Literal["hour", "day"]


class SearchIndex(ABC):
    @abstractmethod
    def upsert(self, posts: Sequence[ClassifiedPost]) -> list[IndexFailure]:
        """Write the posts; return the ones that were rejected, write the rest."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """Newest first, filtered and paged, with facet counts."""

    @abstractmethod
    def get(self, post_id: str) -> Optional[dict]:
        """One document as the JSON of its ClassifiedPost, or None."""

    @abstractmethod
    def histogram(self, field: Literal["topics", "sentiment"], interval: Interval,
                  since: Optional[datetime] = None) -> list[tuple[str, str, int]]:
        """(bucket start ISO string, value, count) by published (else fetched) time."""

    @abstractmethod
    def count(self) -> int:
        """How many documents the index holds."""

    def refresh(self) -> None:
        """Make recent writes visible to search (a no-op where writes are immediate)."""

    def close(self) -> None:
        pass


def _kept(tokens) -> list[str]:
    return [t for t in tokens if t.strip()]


def search_tokens(text: str) -> list[str]:
    """The tokens a text is indexed and searched by: the tokenizer's, whitespace left out."""
    from classifier.tokenizer import tokenize  # late: jieba loads on first use

    return _kept(tokenize(text))


def token_strings(texts: list[str]) -> list:
    """Each text's `search_tokens` joined by spaces, the batch cut in one call; where that
    fails the texts are cut one by one, and a text that cannot be cut gets its exception."""
    from classifier.tokenizer import tokenize_batch  # late: jieba loads on first use

    try:
        return [" ".join(_kept(tokens)) for tokens in tokenize_batch(texts)]
    except Exception:
        out: list = []
        for text in texts:
            try:
                out.append(" ".join(search_tokens(text)))
            except Exception as exc:
                out.append(exc)
        return out
