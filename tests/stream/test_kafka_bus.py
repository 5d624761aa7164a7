"""What only the Kafka bus has: explicit topics, bounded failures on a dead broker."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import TopicPartition

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


@pytest.mark.servers
def test_members_joining_and_leaving_mid_stream_lose_nothing(kafka_bus):
    """Rebalances while a group works: every message is handed out (at least once) and the
    group ends with nothing left to do."""
    n, g = 600, f"g-{uuid.uuid4().hex[:8]}"
    kafka_bus.publish_many(RAW, [(f"k{i}", str(i).encode()) for i in range(n)])
    seen: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def member(delay: float, lifetime: float) -> None:
        time.sleep(delay)
        try:
            with kafka_bus.consumer(RAW, g) as c:
                until = time.monotonic() + lifetime
                while not stop.is_set() and time.monotonic() < until:
                    batch = c.poll(10, timeout=0.2)
                    time.sleep(0.1)  # the work: ~100 messages/s per member, so rebalances hit mid-stream
                    seen.extend(int(m.value) for m in batch)
                    c.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    members = [threading.Thread(target=member, args=args)
               for args in ((0.0, 3.0), (0.5, 120.0), (1.5, 2.0))]
    for t in members:
        t.start()
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and not failures:
            if not members[0].is_alive() and not members[2].is_alive() and kafka_bus.lag(RAW, g) == 0:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for t in members:
            t.join(30)
    assert not failures, failures
    assert kafka_bus.lag(RAW, g) == 0
    assert set(seen) == set(range(n))


@pytest.mark.servers
def test_a_revoked_partitions_batch_is_not_committed(kafka_bus):
    g = f"g-{uuid.uuid4().hex[:8]}"
    kafka_bus.publish_many(RAW, [("one-key", str(i).encode()) for i in range(5)])
    with kafka_bus.consumer(RAW, g) as c:
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 5 and time.monotonic() < deadline:
            got += c.poll(5, timeout=0.5)
        assert len(got) == 5
        # what a rebalance does between poll and commit: the partition is someone else's now
        c._on_revoke(None, [TopicPartition(c.name, got[0].partition)])
        c.commit()
    assert kafka_bus.lag(RAW, g) == 5  # its new owner reads the batch again
