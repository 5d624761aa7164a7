"""The embedded bus: an append-only SQLite log per topic with group offsets.

Several processes share one file (WAL mode): the crawler publishes while the
worker consumes. Offsets are the table's rowids, so they grow monotonically.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from yuqing.sqlite import connect

from .bus import Bus, BusError, Consumer, Message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT,
    value BLOB NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_topic ON messages(topic, offset);
CREATE TABLE IF NOT EXISTS group_offsets (
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (topic, grp)
);
"""


class SQLiteBus(Bus):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = connect(self.path, _SCHEMA)
        self._pending: list[tuple[str, Optional[str], bytes, float]] = []

    def publish(self, topic: str, key: Optional[str], value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError("bus values are bytes")
        with self._lock:
            self._pending.append((topic, key, bytes(value), time.time()))
            if len(self._pending) >= 500:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        try:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO messages(topic, key, value, ts) VALUES (?, ?, ?, ?)", self._pending
                )
        except sqlite3.Error as exc:  # keep the pending batch for a retry
            raise BusError(f"sqlite bus {self.path}: {exc}") from exc
        self._pending.clear()

    def consumer(self, topic: str, group: str) -> "SQLiteConsumer":
        return SQLiteConsumer(self, topic, group)

    def committed(self, topic: str, group: str) -> int:
        row = self._conn.execute(
            "SELECT offset FROM group_offsets WHERE topic=? AND grp=?", (topic, group)
        ).fetchone()
        return row[0] if row else 0

    def lag(self, topic: str, group: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM messages WHERE topic=? AND offset>?",
            (topic, self.committed(topic, group)),
        ).fetchone()
        return row[0]

    def count(self, topic: str) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM messages WHERE topic=?", (topic,)).fetchone()[0]

    def read_all(self, topic: str, limit: int = 1000) -> list[Message]:
        """Read a topic from the start without a group (the dead-letter viewer)."""
        rows = self._conn.execute(
            "SELECT offset, key, value, ts FROM messages WHERE topic=? ORDER BY offset DESC LIMIT ?",
            (topic, limit),
        ).fetchall()
        return [_message(topic, r) for r in rows]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()


def _message(topic: str, row) -> Message:
    offset, key, value, ts = row
    return Message(topic=topic, key=key, value=bytes(value), offset=offset,
                   timestamp=datetime.fromtimestamp(ts, timezone.utc))


class SQLiteConsumer(Consumer):
    def __init__(self, bus: SQLiteBus, topic: str, group: str):
        self.bus, self.topic, self.group = bus, topic, group
        self._conn = connect(bus.path)
        self._position = bus.committed(topic, group)

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self._conn.execute(
                "SELECT offset, key, value, ts FROM messages WHERE topic=? AND offset>? "
                "ORDER BY offset LIMIT ?",
                (self.topic, self._position, max_records),
            ).fetchall()
            if rows:
                self._position = rows[-1][0]
                return [_message(self.topic, r) for r in rows]
            if time.monotonic() >= deadline:
                return []
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def commit(self) -> None:
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO group_offsets(topic, grp, offset) VALUES (?, ?, ?) "
                "ON CONFLICT(topic, grp) DO UPDATE SET offset=excluded.offset",
                (self.topic, self.group, self._position),
            )

    def close(self) -> None:
        self._conn.close()
