"""What only the Kafka bus has: explicit topics, bounded failures on a dead broker."""
from __future__ import annotations

import time

import pytest

from stream.bus import DEADLETTER, RAW, TOPICS, BusError
from stream.kafka_bus import KafkaBus, ensure_topics, topic_name
from yuqing.config import Settings


def test_a_down_broker_raises_bus_error_within_bounds():  # needs no server
    bus = KafkaBus(Settings(kafka_bootstrap="127.0.0.1:1", kafka_topic_prefix="nowhere."),
                   bootstrap_timeout_ms=2000)
    started = time.monotonic()
    with pytest.raises(BusError, match="127.0.0.1:1"):
        bus.publish(RAW, "k", b"v")
        bus.flush()
    assert time.monotonic() - started < 15
    with pytest.raises(BusError):
        bus.consumer(RAW, "g")


@pytest.mark.servers
def test_ensure_topics_is_idempotent(kafka_settings, kafka_bus):
    # the fixture created them with 2 partitions; asking again changes nothing
    assert ensure_topics(kafka_settings, partitions=5) == []
    for topic in TOPICS:
        assert len(kafka_bus.partitions(topic)) == 2
        assert topic_name(kafka_settings, topic).startswith(kafka_settings.kafka_topic_prefix)


@pytest.mark.servers
def test_missing_topics_are_not_created_on_the_fly(kafka_settings, kafka_bus):
    with pytest.raises(BusError, match="does not exist"):
        kafka_bus.consumer("posts.nonexistent", "g")


@pytest.mark.servers
def test_flush_makes_messages_durable_and_readable_without_a_group(kafka_bus):
    for i in range(50):
        kafka_bus.publish(DEADLETTER, f"k{i}", f"letter {i}".encode())
    kafka_bus.flush()
    assert kafka_bus.count(DEADLETTER) == 50
    newest = kafka_bus.read_all(DEADLETTER, limit=10)
    assert len(newest) == 10
    assert all(m.topic == DEADLETTER for m in newest)
