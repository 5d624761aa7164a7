"""The persistent seen-store: which posts were published, with which content.

One SQLite file (``data_dir/seen.db``) shared by every crawl process. A row is
written only after the post is durable on the bus (or in the dead-letter
topic), so a crash between fetch and publish loses nothing: the post is simply
published again on the next crawl, under the same id.

Rows are keyed by (post id, source): two sources carrying the same URL (a
site and its feed, say) each publish their version once instead of taking
turns overwriting each other's hash.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterable, Optional

from yuqing.sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    id TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    url TEXT,
    first_seen REAL NOT NULL,
    last_changed REAL NOT NULL,
    PRIMARY KEY (id, source)
);
"""


class SeenStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = connect(self.path, _SCHEMA)

    def content_hash(self, post_id: str, source: str) -> Optional[str]:
        with self._lock:
            row = self._conn.execute("SELECT content_hash FROM seen WHERE id=? AND source=?",
                                     (post_id, source)).fetchone()
        return row[0] if row else None

    def mark(self, entries: Iterable[tuple[str, str, str, Optional[str]]]) -> None:
        """Record (id, source, content_hash, url) rows as published."""
        now = time.time()
        rows = [(pid, src, h, url, now, now) for pid, src, h, url in entries]
        if not rows:
            return
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO seen(id, source, content_hash, url, first_seen, last_changed) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id, source) DO UPDATE SET "
                "content_hash=excluded.content_hash, url=excluded.url, last_changed=excluded.last_changed",
                rows,
            )

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM seen").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
