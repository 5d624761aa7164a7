"""The case store's schema comes from Alembic migrations (yuqing/migrations/), on SQLite and
PostgreSQL alike, and equals the models' metadata."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from yuqing.config import REPO_ROOT
from yuqing.db import (INITIAL_REVISION, Database, SchemaError, alembic_config,
                       current_revisions, head_revisions, make_engine, migrate)
from yuqing.db import schema_diff as db_schema_diff

HOW = ("the models and the migrations differ: add a revision with "
       "`.venv/bin/alembic revision --autogenerate -m '...'` (see README, Schema migrations), "
       "check it by hand and commit it")


def schema_diff(engine) -> list:
    with engine.connect() as conn:
        return db_schema_diff(conn)


def test_one_head_and_a_linear_history():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()} (alembic merge)"
    assert script.get_base() == INITIAL_REVISION


def test_migrated_schema_equals_the_models(case_db_url):
    db = Database(case_db_url)
    try:
        with db.engine.connect() as conn:
            assert current_revisions(conn) == head_revisions()
        diff = schema_diff(db.engine)
        assert diff == [], f"{HOW}:\n" + "\n".join(map(repr, diff))
    finally:
        db.dispose()


def test_downgrade_to_base_and_up_again(case_db_url):
    db = Database(case_db_url)
    try:
        with db.engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        db.migrate()
        assert schema_diff(db.engine) == []
    finally:
        db.dispose()


def test_database_from_before_migrations_is_stamped_then_upgraded(tmp_path):
    """A store that `create_all` made (the initial schema, no alembic_version) is adopted."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, INITIAL_REVISION)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO rule_state(rule, state, updated_at) "
                          "VALUES ('r', '{}', '2024-01-01 00:00:00')"))
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            assert current_revisions(conn) == head_revisions()
            assert conn.execute(text("SELECT rule FROM rule_state")).scalar() == "r"  # kept
        assert schema_diff(db.engine) == []
    finally:
        db.dispose()


def test_database_from_before_migrations_that_differs_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = make_engine(url)
    migrate(engine, INITIAL_REVISION)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP INDEX ix_alerts_rule"))
    engine.dispose()
    with pytest.raises(SchemaError, match="predates migrations"):
        Database(url)


def test_reopening_a_migrated_store_is_cheap(tmp_path):
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    Database(url).dispose()
    assert not (tmp_path / "cases.db.migrate-lock").read_text()  # the lock file stays empty
    import time

    t = time.perf_counter()
    Database(url).dispose()
    assert time.perf_counter() - t < 0.5


def test_yuqing_init_migrates_the_store(tmp_path):
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path / "var"), "YUQING_BUS_BACKEND": "sqlite",
           "YUQING_INDEX_BACKEND": "sqlite"}
    env.pop("YUQING_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "yuqing.cli", "init"], env=env, cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"revision {next(iter(head_revisions()))}" in out.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'cases.db'}")
    try:
        assert schema_diff(engine) == []
    finally:
        engine.dispose()
