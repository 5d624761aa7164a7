"""Many rows at once: the alerts engine's writes and look-ups per batch.

A batch of 2,000 posts makes thousands of rows (event members, hourly buckets,
new events). Through SQLAlchemy's executemany each row costs its parameter
processing, and on PostgreSQL one statement on the server; here rows go in
with PostgreSQL's COPY, or SQLite's own executemany with the values converted
once by the columns' types, so that the same values are stored as through
the ORM. Look-ups of many keys use one array parameter on PostgreSQL.
"""
from __future__ import annotations

import json

from sqlalchemy import JSON, Table, any_, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

#: keys per IN (...) list where there are no arrays
IN_CHUNK = 1000


def select_in(session: Session, what, column, values: list) -> list:
    """`what` of the rows whose `column` is one of `values`: on PostgreSQL one array
    parameter (= ANY), elsewhere IN lists of up to IN_CHUNK values."""
    if not values:
        return []
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        param = bindparam("values", values, type_=ARRAY(column.type))
        return list(session.scalars(select(what).where(column == any_(param))))
    out = []
    for i in range(0, len(values), IN_CHUNK):
        out.extend(session.scalars(select(what).where(column.in_(values[i:i + IN_CHUNK]))))
    return out


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys: column names) in the session's transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    names = list(rows[0])
    columns = [table.c[n] for n in names]
    quote = dialect.identifier_preparer
    into = f"{quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)})"
    if dialect.name == "postgresql":
        # COPY's text format: JSON as its text; a type's own conversion (UTC times) first
        convert = [_pg_converter(c.type, dialect) for c in columns]
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {into} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([f(v) if f else v for f, v in zip(convert, row.values())])
    elif dialect.name == "sqlite":
        convert = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        conn.exec_driver_sql(
            f"INSERT INTO {into} VALUES ({', '.join('?' * len(names))})",
            [tuple(f(v) if f else v for f, v in zip(convert, row.values())) for row in rows])
    else:
        session.execute(insert(table), rows)


def update_rows(session: Session, table: Table, key: str, rows: list[dict]) -> None:
    """Update rows found by their `key` column: `rows` are dicts with the key and the same
    columns to set (one executemany; on PostgreSQL its statements are pipelined)."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    stmt = (update(table).where(table.c[key] == bindparam("_key"))
            .values({table.c[n]: bindparam(f"_{n}") for n in names}))
    session.execute(stmt, [{f"_{k}": v for k, v in row.items()} | {"_key": row[key]}
                           for row in rows])


def _pg_converter(type_, dialect):
    if isinstance(type_, JSON):
        return json.dumps
    if isinstance(type_, TypeDecorator):
        return lambda v: type_.process_bind_param(v, dialect)
    return None


def add_counts(session: Session, table: Table, keys: list[str], counts: list[str],
               rows: list[dict]) -> None:
    """Add `counts` to the rows of `keys`, creating those missing (an upsert)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        raise NotImplementedError(f"{table.name} on {dialect}")
    stmt = upsert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: table.c[c] + stmt.excluded[c] for c in counts})
    session.execute(stmt, rows)
