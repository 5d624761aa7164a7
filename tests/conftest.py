"""Fixtures shared across the suite: the trained model, the real servers, the case store
on both backends (SQLite file, PostgreSQL schema)."""
from __future__ import annotations

import os
import re

import pytest

from tests.servers import (elasticsearch_problem, kafka_problem, postgres_problem, unavailable,
                           unique)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """The trained classifier: the one set-up built, else one trained now."""
    from yuqing.config import Settings

    path = Settings().model_file
    if path.exists():
        return path
    from classifier.train import train

    out = tmp_path_factory.mktemp("model") / "model.joblib"
    train(out)
    return out


@pytest.fixture(scope="session")
def classifier_model(model_path):
    from classifier.model import Classifier

    return Classifier.load(model_path)


# -- servers ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def kafka_reachable():
    """None when the broker answers, else the reason it does not."""
    return kafka_problem()


@pytest.fixture(scope="session")
def elasticsearch_reachable():
    """None when the cluster answers (health yellow or green), else why not."""
    return elasticsearch_problem()


@pytest.fixture(scope="session")
def postgres_url():
    """The test server's database (YUQING_TEST_DATABASE_URL, see `scripts/servers.sh env`)."""
    url = os.environ.get("YUQING_TEST_DATABASE_URL")
    problem = postgres_problem(url)
    if problem:
        unavailable("PostgreSQL", problem)
    return url


@pytest.fixture
def pg_url(postgres_url):
    """The URL of a fresh, empty schema of the test database, dropped after the test.

    A schema (through the connection's search_path) is much cheaper than a database per
    test; the migrations create their tables, and alembic_version, in it.
    """
    from sqlalchemy import create_engine, make_url, text

    schema = re.sub(r"\W", "_", unique("")).lower()
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}",
                                                    "application_name": schema})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # sessions a test left open must not block the drop
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :name AND state LIKE 'idle in%'"),
                         {"name": schema})
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def case_db_url(request, tmp_path):
    """The case store's URL, once per backend: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return request.getfixturevalue("pg_url")
