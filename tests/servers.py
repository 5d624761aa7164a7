"""The real servers in tests: reachability, unique names, skip-or-fail.

A server that is not reachable skips its tests, except under CI (env `CI`) or
with YUQING_REQUIRE_SERVERS=1, where it fails them. Fixtures that use these
live in tests/conftest.py (PostgreSQL, reachability) and tests/stream/conftest.py.
"""
from __future__ import annotations

import itertools
import os
import uuid

import pytest

RUN_ID = uuid.uuid4().hex[:8]
_seq = itertools.count()

HINT = 'start it with `scripts/servers.sh start` and `eval "$(scripts/servers.sh env)"`'


def servers_required() -> bool:
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("YUQING_REQUIRE_SERVERS") == "1"


def unavailable(what: str, reason: str):
    message = f"{what} is not reachable ({reason}); {HINT}"
    if servers_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def unique(kind: str) -> str:
    """A name unique to this run and this test, e.g. for a topic or index prefix."""
    return f"yqtest-{RUN_ID}-{next(_seq)}{kind}"


def kafka_problem() -> str | None:
    """None when the broker answers, else the reason it does not."""
    from stream.kafka_bus import check_reachable
    from yuqing.config import Settings

    settings = Settings()
    try:
        check_reachable(settings, timeout_s=5.0)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}"
    return None


def elasticsearch_problem() -> str | None:
    """None when the cluster answers (health yellow or green), else why not."""
    from elasticsearch import Elasticsearch

    from yuqing.config import Settings

    settings = Settings()
    try:
        es = Elasticsearch(settings.elasticsearch_url, request_timeout=5, max_retries=0)
        try:
            health = es.cluster.health(wait_for_status="yellow", timeout="5s")
        finally:
            es.close()
        if health["status"] not in ("yellow", "green"):
            return f"elasticsearch at {settings.elasticsearch_url}: status {health['status']}"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"elasticsearch at {settings.elasticsearch_url}: {type(exc).__name__}: {exc}"
    return None


def postgres_problem(url: str | None) -> str | None:
    """None when the test database answers, else why not."""
    if not url:
        return "YUQING_TEST_DATABASE_URL is not set"
    from sqlalchemy import create_engine, make_url, text

    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        return f"postgresql at {make_url(url).render_as_string()}: {type(exc).__name__}: {exc}"
    finally:
        engine.dispose()
    return None
