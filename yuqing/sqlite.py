"""The one way the embedded backends open their SQLite files."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Optional


def connect(path: Path | str, schema: Optional[str] = None) -> sqlite3.Connection:
    """Autocommit connection in WAL mode, shared across threads, waiting on locks.

    The parent directory is created; `schema` (a script of CREATE … IF NOT EXISTS)
    is applied when given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    if schema:
        conn.executescript(schema)
    return conn
