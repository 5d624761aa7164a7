"""The at-scale search index: Elasticsearch 8.

Layout
    One index per month, ``{prefix}-posts-YYYY.MM`` (the UTC month of
    published_at, else fetched_at), all behind the alias ``{prefix}-posts``,
    which every read goes through. An index template (``{prefix}-posts``)
    gives each monthly index its explicit mapping and the alias as ES creates
    it on the first write.

Documents
    ``_id`` is the post id and ``_source`` is the ClassifiedPost's JSON, plus
    ``ts`` (published_at else fetched_at), so a re-delivered post overwrites
    itself. ``tokens`` holds the title and text cut by our own jieba tokenizer,
    joined by spaces, and is analysed by ES's built-in ``whitespace`` analyzer;
    queries are cut by the same tokenizer, so the two sides match word for
    word, as in the SQLite FTS5 index. ``tokens`` is indexed but left out of
    ``_source``. The mapping is explicit (``dynamic: false``): fields it does
    not name are kept in ``_source`` but not indexed; ``metrics.*`` are longs.
    A post stays in the monthly index it was first written to, so a re-crawl
    that moves its fetched_at into another month overwrites it there.

Semantics follow SQLiteIndex: free text is an AND of the query's tokens,
filters AND together, newest first (then id), paged, with facet counts over
all matches; histogram buckets are UTC hours or days. Writes become
searchable after `refresh()` (or ES's 5 s refresh interval: the console's board reloads
every 10 s; at 1 s, refreshes and merges took ~85 % as long as the indexing itself, and
5 s cut ES's CPU per post by ~13 % in bench/pipeline.py).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Literal, Optional, Sequence

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.serializer import OrjsonSerializer

from yuqing.config import Settings
from yuqing.records import ClassifiedPost

from .index import (IndexFailure, IndexUnavailable, Interval, SearchIndex, SearchQuery, SearchResult,
                    search_tokens, token_strings)

log = logging.getLogger(__name__)

#: ES refuses from + size beyond this (index.max_result_window).
MAX_RESULT_WINDOW = 10_000
FACET_SIZE = 200
#: A bulk request carries at most this much (ES refuses requests over 100 MB).
BULK_MAX_BYTES = 50 * 1024 * 1024
#: How often documents the cluster pushed back on (429) are sent again.
BULK_RETRIES = 3


class SearchIndexError(IndexUnavailable):
    """Elasticsearch is unreachable or failed a request as a whole (not one document)."""


def _chunks(docs: list[tuple[str, str, bytes]]):
    """`docs` in runs of at most BULK_MAX_BYTES of source."""
    chunk, size = [], 0
    for d in docs:
        if chunk and size + len(d[2]) > BULK_MAX_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(d)
        size += len(d[2]) + 100
    if chunk:
        yield chunk


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _ts(post: ClassifiedPost) -> datetime:
    return _utc(post.published_at or post.fetched_at)


def mappings() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    date = {"type": "date"}
    return {
        "dynamic": False,
        "_source": {"excludes": ["tokens"]},
        "dynamic_templates": [
            {"metrics_as_long": {"path_match": "metrics.*", "mapping": {"type": "long"}}},
        ],
        "properties": {
            "id": keyword,
            "schema_version": {"type": "integer"},
            "source": keyword,
            "source_type": keyword,
            "url": {"type": "keyword", "index": False, "doc_values": False},
            "author": keyword,
            "published_at": date,
            "fetched_at": date,
            "ts": date,
            "region": keyword,
            "metrics": {"type": "object", "dynamic": True},
            "lang": keyword,
            "reply_status": keyword,
            "reply_at": date,
            "topics": {"properties": {"code": keyword, "score": {"type": "float"}}},
            "sentiment": {"properties": {"label": keyword, "score": {"type": "float"}}},
            "keywords": keyword,
            "sensitive_hits": keyword,
            "cluster_id": keyword,
            "model_version": keyword,
            "classified_at": date,
            "tokens": {"type": "text", "analyzer": "whitespace"},
        },
    }


class ElasticsearchIndex(SearchIndex):
    def __init__(self, settings: Settings, *, client: Optional[Elasticsearch] = None,
                 request_timeout: float = 30.0, shards: int = 1):
        self.settings = settings
        self.prefix = settings.elasticsearch_index_prefix
        self.alias = f"{self.prefix}-posts"
        self.pattern = f"{self.prefix}-posts-*"
        self.template = f"{self.prefix}-posts"
        self.shards = shards
        # orjson: the bulk body of a 1,000-post batch is serialised in a tenth of the time
        self.es = client or Elasticsearch(settings.elasticsearch_url, request_timeout=request_timeout,
                                          max_retries=2, retry_on_timeout=True,
                                          serializer=OrjsonSerializer())
        self._template_ok = False
        # Opening the index puts its template (what `yuqing init` relies on); an unreachable
        # cluster raises SearchIndexError here rather than at the first write.
        self.ensure_template()

    # -- plumbing ------------------------------------------------------------------
    def _fail(self, what: str, exc: Exception) -> SearchIndexError:
        return SearchIndexError(f"elasticsearch at {self.settings.elasticsearch_url}: {what}: "
                                f"{type(exc).__name__}: {exc}")

    def index_for(self, post: ClassifiedPost) -> str:
        return f"{self.prefix}-posts-{_ts(post):%Y.%m}"

    def ensure_template(self) -> None:
        """Create or update the index template (idempotent; existing indices keep their mapping)."""
        body = {
            "index_patterns": [self.pattern],
            "priority": 200,
            "template": {
                "settings": {
                    "number_of_shards": self.shards,
                    "number_of_replicas": 0,
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": "5s",
                    "max_result_window": MAX_RESULT_WINDOW,
                },
                "mappings": mappings(),
                "aliases": {self.alias: {}},
            },
            "_meta": {"description": "yuqing classified posts, one index per month"},
        }
        try:
            self.es.indices.put_index_template(name=self.template, **body)
        except (ApiError, TransportError) as exc:
            raise self._fail("cannot put the index template", exc) from exc
        self._template_ok = True

    def _existing_indices(self, ids: list[str]) -> dict[str, str]:
        """post id -> the monthly index that already holds it (so a post whose time changed
        is overwritten where it is, not duplicated into another month)."""
        if not ids:
            return {}
        resp = self.es.search(index=self.alias, query={"ids": {"values": ids}}, source=False,
                              size=len(ids), ignore_unavailable=True, allow_no_indices=True)
        return {h["_id"]: h["_index"] for h in resp["hits"]["hits"]}

    # -- writing ---------------------------------------------------------------------
    def upsert(self, posts: Sequence[ClassifiedPost]) -> list[IndexFailure]:
        if not self._template_ok:
            self.ensure_template()
        failures: list[IndexFailure] = []
        docs: list[tuple[str, str, bytes]] = []  # (id, index, _source as JSON)
        for post, tokens in zip(posts, token_strings([p.full_text for p in posts])):
            try:
                if isinstance(tokens, Exception):
                    raise tokens
                doc = post.model_dump(mode="json", warnings=False)
                doc["ts"] = _ts(post).isoformat()
                doc["tokens"] = tokens
                docs.append((post.id, self.index_for(post), orjson.dumps(doc)))
            except Exception as exc:  # a document we cannot cut or serialise
                failures.append(IndexFailure(getattr(post, "id", "?"), f"{type(exc).__name__}: {exc}"))
        if not docs:
            return failures
        try:
            where = self._existing_indices([d[0] for d in docs])
            docs = [(i, where.get(i, index), src) for i, index, src in docs]
            transient = self._bulk(docs, failures)
        except (ApiError, TransportError) as exc:
            raise self._fail("bulk write failed", exc) from exc
        if transient:
            raise SearchIndexError(f"elasticsearch could not write {len(transient)} document(s) "
                                   f"(retry the batch): {transient[0]}")
        return failures

    def _bulk(self, docs: list[tuple[str, str, bytes]], failures: list[IndexFailure]) -> list[str]:
        """Write `docs` with bulk requests of up to BULK_MAX_BYTES; a document the cluster
        pushed back on (429) is sent again after 1, 2 and 4 s. A document ES refused goes to
        `failures`; returns what the cluster could not take (429 after the retries, 5xx)."""
        pending, transient = docs, []
        for attempt in range(BULK_RETRIES + 1):
            again = []
            for chunk in _chunks(pending):
                body = b"".join(orjson.dumps({"index": {"_index": index, "_id": i}}) + b"\n" + src + b"\n"
                                for i, index, src in chunk)
                resp = self.es.bulk(operations=body)
                if not resp.get("errors"):
                    continue
                for (i, index, src), item in zip(chunk, resp["items"]):
                    info = next(iter(item.values()))
                    status = info.get("status", 0)
                    if status < 300:
                        continue
                    reason = f"{status} {_reason(info.get('error'))}"
                    if status == 429 and attempt < BULK_RETRIES:
                        again.append((i, index, src))
                    elif status == 429 or status >= 500:  # the cluster, not the document
                        transient.append(f"{i}: {reason}")
                    else:
                        failures.append(IndexFailure(i, reason))
            if not again:
                break
            time.sleep(2 ** attempt)
            pending = again
        return transient

    def refresh(self) -> None:
        try:
            self.es.indices.refresh(index=self.alias, ignore_unavailable=True, allow_no_indices=True)
        except (ApiError, TransportError) as exc:
            raise self._fail("refresh failed", exc) from exc

    # -- reading ---------------------------------------------------------------------
    def _filters(self, q: SearchQuery) -> Optional[list[dict]]:
        """The query as filter clauses; None when it can match nothing."""
        filters: list[dict] = []
        if q.text:
            tokens = search_tokens(q.text)
            if not tokens:
                return None
            filters.extend({"match_phrase": {"tokens": t}} for t in dict.fromkeys(tokens))
        filters.extend({"term": {"topics.code": t}} for t in q.topics)
        for field, value in (("sentiment.label", q.sentiment), ("source", q.source),
                             ("region", q.region)):
            if value:
                filters.append({"term": {field: value}})
        if q.ids:
            filters.append({"ids": {"values": list(q.ids)}})
        span = {}
        if q.since:
            span["gte"] = _utc(q.since).isoformat()
        if q.until:
            span["lt"] = _utc(q.until).isoformat()
        if span:
            filters.append({"range": {"ts": span}})
        return filters

    def _search(self, **body) -> dict:
        try:
            return self.es.search(index=self.alias, ignore_unavailable=True, allow_no_indices=True,
                                  **body)
        except (ApiError, TransportError) as exc:
            raise self._fail("search failed", exc) from exc

    def search(self, query: SearchQuery) -> SearchResult:
        filters = self._filters(query)
        if filters is None:
            return SearchResult(total=0, hits=[], facets={"topics": {}, "sentiment": {}, "source": {}})
        size = max(1, min(query.size, 200))
        offset = (max(query.page, 1) - 1) * size
        if offset + size > MAX_RESULT_WINDOW:  # beyond the window: counts but no hits
            offset, size = 0, 0
        resp = self._search(
            query={"bool": {"filter": filters}},
            sort=[{"ts": {"order": "desc"}}, {"id": {"order": "asc"}}],
            from_=offset, size=size, track_total_hits=True,
            aggs={
                "topics": {"terms": {"field": "topics.code", "size": FACET_SIZE}},
                "sentiment": {"terms": {"field": "sentiment.label", "size": 10}},
                "source": {"terms": {"field": "source", "size": FACET_SIZE}},
            },
        )
        aggs = resp.get("aggregations", {})
        facets = {name: {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])}
                  for name in ("topics", "sentiment", "source")}
        return SearchResult(total=resp["hits"]["total"]["value"],
                            hits=[_public(h["_source"]) for h in resp["hits"]["hits"]],
                            facets=facets)

    def get(self, post_id: str) -> Optional[dict]:
        resp = self._search(query={"ids": {"values": [post_id]}}, size=1)
        hits = resp["hits"]["hits"]
        return _public(hits[0]["_source"]) if hits else None

    def histogram(self, field: Literal["topics", "sentiment"], interval: Interval,
                  since: Optional[datetime] = None) -> list[tuple[str, str, int]]:
        term_field = {"topics": "topics.code", "sentiment": "sentiment.label"}.get(field)
        if term_field is None:
            raise ValueError(f"no histogram over {field!r}")
        fmt = {"hour": "yyyy-MM-dd'T'HH", "day": "yyyy-MM-dd"}[interval]
        query = {"range": {"ts": {"gte": _utc(since).isoformat()}}} if since else {"match_all": {}}
        resp = self._search(query=query, size=0, aggs={"buckets": {
            "date_histogram": {"field": "ts", "calendar_interval": interval, "format": fmt,
                               "time_zone": "UTC", "min_doc_count": 1},
            "aggs": {"values": {"terms": {"field": term_field, "size": FACET_SIZE}}},
        }})
        out = []
        for bucket in resp.get("aggregations", {}).get("buckets", {}).get("buckets", []):
            for value in bucket["values"]["buckets"]:
                out.append((bucket["key_as_string"], value["key"], value["doc_count"]))
        return out

    def count(self) -> int:
        try:
            return self.es.count(index=self.alias, ignore_unavailable=True,
                                 allow_no_indices=True)["count"]
        except (ApiError, TransportError) as exc:
            raise self._fail("count failed", exc) from exc

    # -- administration ---------------------------------------------------------------------
    def indices(self) -> list[str]:
        """The monthly indices behind the alias."""
        try:
            resp = self.es.indices.get_alias(name=self.alias, ignore_unavailable=True,
                                             allow_no_indices=True)
        except ApiError as exc:
            if exc.meta.status == 404:
                return []
            raise self._fail("cannot list indices", exc) from exc
        except TransportError as exc:
            raise self._fail("cannot list indices", exc) from exc
        return sorted(resp.body if hasattr(resp, "body") else resp)

    def drop(self) -> None:
        """Delete the monthly indices and the template (tests, tear-down)."""
        for name in self.indices():
            self.es.indices.delete(index=name, ignore_unavailable=True)
        try:
            self.es.indices.delete_index_template(name=self.template)
        except ApiError as exc:
            if exc.meta.status != 404:
                raise
        self._template_ok = False

    def close(self) -> None:
        self.es.close()


def _public(source: dict) -> dict:
    """_source without the fields we add for indexing: the ClassifiedPost's JSON."""
    return {k: v for k, v in source.items() if k not in ("ts", "tokens")}


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return str(error)

