"""The embedded search index: SQLite FTS5 over jieba tokens.

The FTS table holds the text already cut by our tokenizer and joined by
spaces; FTS5's unicode61 tokenizer then splits on those spaces, so a query
cut the same way matches word for word.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Optional, Sequence

from yuqing.records import ClassifiedPost
from yuqing.sqlite import connect

from .index import (IndexFailure, Interval, SearchIndex, SearchQuery, SearchResult, search_tokens,
                    token_strings)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_type TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    ts TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_ts ON docs(ts);
CREATE TABLE IF NOT EXISTS doc_topics (id TEXT NOT NULL, topic TEXT NOT NULL, PRIMARY KEY (id, topic));
CREATE INDEX IF NOT EXISTS doc_topics_topic ON doc_topics(topic);
CREATE TABLE IF NOT EXISTS doc_regions (id TEXT NOT NULL, region TEXT NOT NULL, PRIMARY KEY (id, region));
-- an FTS row shares its document's rowid, so it is replaced by rowid (no table scan)
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(tokens, tokenize='unicode61');
"""


def _fts_query(text: str) -> Optional[str]:
    """Our tokens as FTS5 phrases joined by AND; quotes make any token literal."""
    tokens = [t.replace('"', '""') for t in search_tokens(text)]
    return " AND ".join(f'"{t}"' for t in tokens) or None


def _utc(moment: datetime) -> str:
    """Times are kept as UTC ISO text, so that text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _ts(post: ClassifiedPost) -> str:
    return _utc(post.published_at or post.fetched_at)


class SQLiteIndex(SearchIndex):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = connect(self.path, _SCHEMA)

    def upsert(self, posts: Sequence[ClassifiedPost]) -> list[IndexFailure]:
        failures: list[IndexFailure] = []
        rows = []
        for post, tokens in zip(posts, token_strings([p.full_text for p in posts])):
            try:
                if isinstance(tokens, Exception):
                    raise tokens
                rows.append((post, tokens, post.model_dump_json()))
            except Exception as exc:  # a document we cannot cut or serialise
                failures.append(IndexFailure(post.id, f"{type(exc).__name__}: {exc}"))
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            for post, tokens, doc in rows:
                self._conn.execute(
                    "INSERT INTO docs(id, source, source_type, sentiment, ts, doc) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET source=excluded.source, "
                    "source_type=excluded.source_type, sentiment=excluded.sentiment, "
                    "ts=excluded.ts, doc=excluded.doc",
                    (post.id, post.source, post.source_type.value, post.sentiment.label.value,
                     _ts(post), doc),
                )
                rowid = self._conn.execute("SELECT rowid FROM docs WHERE id=?", (post.id,)).fetchone()[0]
                for table in ("doc_topics", "doc_regions"):
                    self._conn.execute(f"DELETE FROM {table} WHERE id=?", (post.id,))
                self._conn.execute("DELETE FROM docs_fts WHERE rowid=?", (rowid,))
                self._conn.executemany("INSERT INTO doc_topics(id, topic) VALUES (?, ?)",
                                       [(post.id, c) for c in dict.fromkeys(post.topic_codes)])
                self._conn.executemany("INSERT INTO doc_regions(id, region) VALUES (?, ?)",
                                       [(post.id, r) for r in dict.fromkeys(post.region)])
                self._conn.execute("INSERT INTO docs_fts(rowid, tokens) VALUES (?, ?)", (rowid, tokens))
        return failures

    def _where(self, q: SearchQuery) -> tuple[str, list]:
        clauses, args = [], []
        if q.text:
            match = _fts_query(q.text)
            if match is None:
                return "0", []
            clauses.append("d.rowid IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)")
            args.append(match)
        for topic in q.topics:
            clauses.append("d.id IN (SELECT id FROM doc_topics WHERE topic=?)")
            args.append(topic)
        if q.region:
            clauses.append("d.id IN (SELECT id FROM doc_regions WHERE region=?)")
            args.append(q.region)
        if q.ids:
            clauses.append(f"d.id IN ({','.join('?' * len(q.ids))})")
            args.extend(q.ids)
        for column, value in (("sentiment", q.sentiment), ("source", q.source)):
            if value:
                clauses.append(f"d.{column}=?")
                args.append(value)
        if q.since:
            clauses.append("d.ts>=?")
            args.append(_utc(q.since))
        if q.until:
            clauses.append("d.ts<?")
            args.append(_utc(q.until))
        return (" AND ".join(clauses) or "1"), args

    def search(self, query: SearchQuery) -> SearchResult:
        where, args = self._where(query)
        size = max(1, min(query.size, 200))
        offset = (max(query.page, 1) - 1) * size
        conn = self._conn
        total = conn.execute(f"SELECT COUNT(*) FROM docs d WHERE {where}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT doc FROM docs d WHERE {where} ORDER BY d.ts DESC, d.id LIMIT ? OFFSET ?",
            [*args, size, offset],
        ).fetchall()
        facets = {
            "topics": dict(conn.execute(
                f"SELECT t.topic, COUNT(*) FROM doc_topics t JOIN docs d ON d.id=t.id "
                f"WHERE {where} GROUP BY t.topic ORDER BY 2 DESC", args).fetchall()),
            "sentiment": dict(conn.execute(
                f"SELECT d.sentiment, COUNT(*) FROM docs d WHERE {where} GROUP BY d.sentiment",
                args).fetchall()),
            "source": dict(conn.execute(
                f"SELECT d.source, COUNT(*) FROM docs d WHERE {where} GROUP BY d.source "
                f"ORDER BY 2 DESC", args).fetchall()),
        }
        return SearchResult(total=total, hits=[json.loads(r[0]) for r in rows], facets=facets)

    def get(self, post_id: str) -> Optional[dict]:
        row = self._conn.execute("SELECT doc FROM docs WHERE id=?", (post_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def histogram(self, field: Literal["topics", "sentiment"], interval: Interval,
                  since: Optional[datetime] = None) -> list[tuple[str, str, int]]:
        width = {"hour": 13, "day": 10}[interval]  # ISO prefix: 2026-01-02T03 / 2026-01-02
        since_clause, args = ("WHERE d.ts>=?", [_utc(since)]) if since else ("", [])
        if field == "topics":
            sql = (f"SELECT substr(d.ts, 1, {width}) b, t.topic, COUNT(*) FROM docs d "
                   f"JOIN doc_topics t ON t.id=d.id {since_clause} GROUP BY b, t.topic ORDER BY b")
        elif field == "sentiment":
            sql = (f"SELECT substr(d.ts, 1, {width}) b, d.sentiment, COUNT(*) FROM docs d "
                   f"{since_clause} GROUP BY b, d.sentiment ORDER BY b")
        else:
            raise ValueError(f"no histogram over {field!r}")
        return [tuple(r) for r in self._conn.execute(sql, args).fetchall()]

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0]

    def close(self) -> None:
        self._conn.close()
