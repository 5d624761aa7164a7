"""Alembic environment: the models' metadata, both SQLite and PostgreSQL.

`yuqing.db.Database` runs this programmatically with its own connection
(`config.attributes["connection"]`); the `alembic` command line (alembic.ini at
the repo root) connects to `YUQING_DATABASE_URL`, else the embedded SQLite file.
"""
from __future__ import annotations

from alembic import context

from yuqing.db import Base, UTCDateTime, _import_models, make_engine

_import_models()
target_metadata = Base.metadata
config = context.config


def render_item(type_, obj, autogen_context):
    """UTCDateTime is written as the plain column type it stores, so a revision does not
    depend on application code (the conversion to aware UTC happens in the models)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs by copying the table
        render_item=render_item,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from yuqing.config import Settings

        url = Settings().case_db_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
