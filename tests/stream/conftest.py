"""The bus and the index, each over both backends: one suite, two implementations.

The at-scale backends talk to real servers (`scripts/servers.sh start`, then
`eval "$(scripts/servers.sh env)"`). Each test gets its own topic prefix or
index prefix under one prefix per run, and removes what it made. A server
that is not reachable skips its tests, except under CI (env `CI`) or with
YUQING_REQUIRE_SERVERS=1, where it fails them (tests/servers.py).
"""
from __future__ import annotations

import pytest

from tests.servers import unavailable, unique
from yuqing.config import Settings

# -- Kafka -------------------------------------------------------------------------------

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
