"""The one way the embedded backends open their SQLite files."""
from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Optional

#: seconds a connection waits on another's lock before "database is locked"
LOCK_TIMEOUT = 30.0


def connect(path: Path | str, schema: Optional[str] = None) -> sqlite3.Connection:
    """Autocommit connection in WAL mode, shared across threads, waiting on locks.

    The parent directory is created; `schema` (a script of CREATE … IF NOT EXISTS)
    is applied when given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=LOCK_TIMEOUT, check_same_thread=False, isolation_level=None)
    enable_wal(conn)
    conn.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT * 1000)}")
    if schema:
        conn.executescript(schema)
    return conn


def enable_wal(conn, timeout: float = LOCK_TIMEOUT) -> None:
    """Put the database in WAL mode, waiting while other connections hold it.

    SQLite does not call the busy handler for a journal-mode change: when
    several processes open a new file together (the scheduler's crawls, say),
    all but one get "database is locked" at once. So retry until `timeout`.
    `conn` is a DB-API connection (sqlite3's, or SQLAlchemy's raw one).
    """
    deadline = time.monotonic() + timeout
    while True:
        cursor = conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        finally:
            cursor.close()
        time.sleep(random.uniform(0.005, 0.05))
