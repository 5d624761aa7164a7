"""Embedded SQLite files opened by several processes at once (the scheduler's crawls)."""
from __future__ import annotations

import multiprocessing

from yuqing.sqlite import connect

SCHEMA = "CREATE TABLE IF NOT EXISTS t (pid INTEGER PRIMARY KEY);"


def _open_and_write(path, barrier, results):
    try:
        barrier.wait()
        conn = connect(path, SCHEMA)
        conn.execute("INSERT INTO t(pid) VALUES (?)", (multiprocessing.current_process().pid,))
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        results.put(mode)
    except Exception as exc:  # reported to the test, which fails on it
        results.put(repr(exc))


def test_new_file_opened_by_many_processes_at_once(tmp_path):
    # Before connect() retried the switch to WAL, about one round in five failed
    # with "database is locked" (SQLite does not wait on a journal-mode change).
    ctx = multiprocessing.get_context("fork")
    workers, rounds = 6, 25
    for n in range(rounds):
        path = tmp_path / f"new-{n}.db"
        barrier, results = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_open_and_write, args=(path, barrier, results)) for _ in range(workers)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
        assert outcomes == ["wal"] * workers, f"round {n}: {outcomes}"
        check = connect(path)
        assert check.execute("SELECT COUNT(*) FROM t").fetchone()[0] == workers
        check.close()
