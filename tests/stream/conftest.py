"""The bus and the index, each over both backends: one suite, two implementations.

The at-scale backends talk to real servers (`scripts/servers.sh start`, then
`eval "$(scripts/servers.sh env)"`). Each test gets its own topic prefix or
index prefix under one prefix per run, and removes what it made. A server
that is not reachable skips its tests, except under CI (env `CI`) or with
YUQING_REQUIRE_SERVERS=1, where it fails them.
"""
from __future__ import annotations

import itertools
import os
import uuid

import pytest

from yuqing.config import Settings

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


# -- Kafka -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def kafka_reachable():
    """None when the broker answers, else the reason it does not."""
    from stream.kafka_bus import _admin

    settings = Settings()
    try:
        admin = _admin(settings, bootstrap_timeout_ms=5000)
        try:
            admin.list_topics()
        finally:
            admin.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def kafka_settings(kafka_reachable):
    """Settings with a fresh topic prefix whose topics exist (2 partitions); removed after."""
    from stream.kafka_bus import delete_topics, ensure_topics

    if kafka_reachable:
        unavailable("Kafka", kafka_reachable)
    settings = Settings(kafka_topic_prefix=unique("."))
    ensure_topics(settings, partitions=2, retention_ms=3600_000)
    yield settings
    delete_topics(settings)


@pytest.fixture
def kafka_bus(kafka_settings):
    from stream.kafka_bus import KafkaBus

    bus = KafkaBus(kafka_settings)
    yield bus
    bus.close()


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=pytest.mark.servers)])
def bus(request, tmp_path):
    if request.param == "sqlite":
        from stream.sqlite_bus import SQLiteBus

        b = SQLiteBus(tmp_path / "bus.db")
        yield b
        b.close()
    else:
        yield request.getfixturevalue("kafka_bus")


# -- Elasticsearch -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def elasticsearch_reachable():
    """None when the cluster answers (health yellow or green), else why not."""
    from elasticsearch import Elasticsearch

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


@pytest.fixture
def es_index(elasticsearch_reachable):
    """An ElasticsearchIndex under a fresh prefix; its indices and template are removed after."""
    from stream.es_index import ElasticsearchIndex

    if elasticsearch_reachable:
        unavailable("Elasticsearch", elasticsearch_reachable)
    index = ElasticsearchIndex(Settings(elasticsearch_index_prefix=unique("")))
    yield index
    index.drop()
    index.close()


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.servers)])
def index(request, tmp_path):
    if request.param == "sqlite":
        from stream.sqlite_index import SQLiteIndex

        ix = SQLiteIndex(tmp_path / "index.db")
        yield ix
        ix.close()
    else:
        yield request.getfixturevalue("es_index")
