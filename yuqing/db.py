"""The relational store (cases, alerts, events, users, audit) through SQLAlchemy.

SQLite by default, PostgreSQL by `YUQING_DATABASE_URL`; the same models serve both.
The schema is versioned by Alembic (`yuqing/migrations/`): opening a `Database`
brings it to the newest revision, so a new SQLite file needs no set-up and
`yuqing init` does the same for PostgreSQL.
"""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from yuqing.sqlite import enable_wal


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


#: Constraint names, so that a migration can name what it alters or drops (SQLite's batch
#: mode needs them) and every backend gets the same names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _import_models() -> None:
    # every table must be known to Base.metadata (migrations' autogenerate, schema checks)
    import alerts.models  # noqa: F401
    import alerts.case.models  # noqa: F401
    import alerts.notify.models  # noqa: F401
    import console.auth.models  # noqa: F401
    import console.corrections.models  # noqa: F401


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            enable_wal(dbapi_conn)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


# -- migrations ---------------------------------------------------------------------------

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: the first revision: what `create_all` made before the store had migrations
INITIAL_REVISION = "0001"
#: pg_advisory_lock key, so that services starting together migrate one at a time
_PG_LOCK_KEY = 0x7975_7169  # "yuqi"


def alembic_config(connection=None):
    """An Alembic Config for yuqing/migrations, run on `connection` (see migrations/env.py)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection) -> frozenset[str]:
    from alembic.runtime.migration import MigrationContext

    return frozenset(MigrationContext.configure(connection).get_current_heads())


@contextmanager
def _migration_lock(engine: Engine):
    """One connection, held under a lock that other processes migrating the same database
    wait for: a PostgreSQL advisory lock, a file lock beside a SQLite file."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
            return
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        if not path or path == ":memory:" or path.startswith("file:"):
            yield conn
            return
        import fcntl

        with open(f"{path}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield conn
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest). A database made before
    migrations existed (tables but no alembic_version) is stamped with the initial revision
    first; then the later revisions apply to it as to any other."""
    from alembic import command

    if revision == "head":
        with engine.connect() as conn:
            if current_revisions(conn) == head_revisions():
                return  # the usual case: nothing to do, no lock taken
    with _migration_lock(engine) as conn:
        current = current_revisions(conn)
        if revision == "head" and current == head_revisions():
            return  # another process did it while we waited
        cfg = alembic_config(conn)
        adopted = not current and inspect(conn).has_table("events")
        if adopted:
            log.info("case store without a schema version: stamping revision %s", INITIAL_REVISION)
            command.stamp(cfg, INITIAL_REVISION)
            conn.commit()
        log.info("case store: migrating %s to %s", engine.url.render_as_string(hide_password=True),
                 revision)
        command.upgrade(cfg, revision)
        conn.commit()
        if adopted and revision == "head":
            diff = schema_diff(conn)
            if diff:
                raise SchemaError(
                    f"the case store at {engine.url.render_as_string(hide_password=True)} predates "
                    f"migrations and its tables are not those of revision {INITIAL_REVISION}; "
                    f"differences from the models: {diff[:5]}")


class SchemaError(RuntimeError):
    """The database's schema is not what the models expect."""


def schema_diff(connection) -> list:
    """What differs between the database and the models (alembic's compare_metadata)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    _import_models()
    ctx = MigrationContext.configure(connection, opts={
        "compare_type": True, "compare_server_default": _compare_server_default})
    return compare_metadata(ctx, Base.metadata)


def _compare_server_default(context, inspected_column, metadata_column, inspected_default,
                            metadata_default, rendered_metadata_default):
    """True when a column's server default differs. JSON defaults are compared as text:
    PostgreSQL has no `=` for json, which alembic's own comparison would run."""
    if isinstance(metadata_column.type, JSON):
        def norm(value):
            return re.sub(r"::\w+$", "", (value or "").strip()).strip("'\"")
        return norm(inspected_default) != norm(rendered_metadata_default)
    return None  # alembic's comparison


class Database:
    """An engine plus its session factory; the schema is migrated to head on open."""

    def __init__(self, url: str, create: bool = True):
        self.url = url
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            self.migrate()

    def migrate(self, revision: str = "head") -> None:
        migrate(self.engine, revision)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.Session() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
