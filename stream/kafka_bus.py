"""The at-scale bus: Apache Kafka through confluent-kafka (librdkafka).

Topic names are the logical names (`posts.raw`, ...) behind
`settings.kafka_topic_prefix`, which is prepended as is (put your own separator
in it, e.g. ``"prod."``). Messages handed to consumers carry the logical name.

Topics are not created on the fly (the broker runs with
`auto.create.topics.enable=false`, and every client here asks for none):
`ensure_topics()` (stream/kafka_admin.py) creates them with an explicit
partition count and retention, and does nothing for topics that exist.

Producer: acks=all with idempotence, lz4, batching (linger/batch size) and
retries bounded by a delivery timeout, so `flush()` either returns with every
message durable or raises `BusError`; it never hangs on a dead broker. Only
failed deliveries come back to Python (`delivery.report.only.error`), which
keeps the per-message cost at a few microseconds.
Consumer: a consumer group member with auto-commit off, starting from the
earliest offset when the group has none; `commit()` commits exactly what
`poll()` has returned so far (at-least-once). Partitions taken away by a
rebalance drop their uncommitted offsets: the new owner gets those messages again.

librdkafka reconnects by itself for ever; a broker that stays down becomes a
`BusError` here: at the first contact (bounded by `bootstrap_timeout_ms`), in
`flush()` (the delivery timeout), in `commit()` (librdkafka gives up waiting for
the group coordinator) and in `poll()` once every broker has been down for
`BROKERS_DOWN_S` and a metadata request still gets no answer.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Optional

from confluent_kafka import Consumer as _Consumer
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from yuqing.config import Settings

from .bus import Bus, BusError, Consumer, Message
from .kafka_admin import (BOOTSTRAP_TIMEOUT_MS, DAY_MS, REQUEST_TIMEOUT_MS, Admin, Health,
                          LibrdkafkaLog, check_reachable, delete_topics, describe, ensure_topics,
                          servers, topic_name)

__all__ = ["KafkaBus", "KafkaBusConsumer", "ensure_topics", "delete_topics", "check_reachable",
           "topic_name", "DAY_MS"]

log = logging.getLogger(__name__)

#: Upper bound on a message's delivery, retries included (flush() waits this long at most).
DELIVERY_TIMEOUT_MS = 30_000
#: The most a consumer fetches from one partition at a time.
FETCH_PARTITION_BYTES = 8 * 1024 * 1024
#: What a consumer prefetches in the background, all partitions together.
PREFETCH_KBYTES = 16 * 1024
#: How long a new consumer's first poll waits for the group to assign it partitions.
JOIN_TIMEOUT_S = 15.0
#: How long a poll that got its first message waits for more to join the batch.
LINGER_S = 0.02
#: After every broker was reported down this long, poll() checks and raises BusError.
BROKERS_DOWN_S = REQUEST_TIMEOUT_MS / 1000
#: Producer compression: on this project's posts lz4 and zstd cost the same CPU (zstd's
#: batches are ~2.5x smaller); gzip costs ~4x the CPU of either.
COMPRESSION = "lz4"
#: Commit errors that mean "the group moved on": the batch is re-delivered, nothing is lost.
REBALANCED = frozenset({KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                        KafkaError.UNKNOWN_MEMBER_ID, KafkaError._ASSIGNMENT_LOST})
MISSING_TOPIC = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                           KafkaError._UNKNOWN_PARTITION})
UTC = timezone.utc


def _message(topic: str, m) -> Message:
    kind, ms = m.timestamp()
    key = m.key()
    return Message(topic=topic, key=key.decode("utf-8", errors="replace") if key is not None else None,
                   value=m.value() or b"", offset=m.offset(), partition=m.partition(),
                   timestamp=datetime.fromtimestamp(ms / 1000, UTC) if kind and ms >= 0 else None)


class KafkaBus(Bus):
    def __init__(self, settings: Settings, *, client_id: str = "yuqing",
                 linger_ms: int = 20, batch_size: int = 256 * 1024,
                 bootstrap_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS, compression: str = COMPRESSION):
        self.settings = settings
        self.client_id = client_id
        self.bootstrap_timeout_ms = bootstrap_timeout_ms
        self._health = Health(self._where())
        self._producer_config = {
            "bootstrap.servers": servers(settings),
            "client.id": f"{client_id}-producer",
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": compression,
            "linger.ms": linger_ms,
            "batch.size": batch_size,
            "retry.backoff.ms": 200,
            "message.timeout.ms": DELIVERY_TIMEOUT_MS,
            "request.timeout.ms": REQUEST_TIMEOUT_MS,
            "socket.timeout.ms": REQUEST_TIMEOUT_MS,
            "socket.connection.setup.timeout.ms": bootstrap_timeout_ms,
            "allow.auto.create.topics": False,
            "delivery.report.only.error": True,
            "on_delivery": self._on_delivery,
            "error_cb": self._health.on_error,
            "logger": LibrdkafkaLog(),
            "log.connection.close": False,
        }
        self._lock = threading.RLock()
        self._producer: Optional[Producer] = None
        self._failed: list[tuple[str, Optional[bytes], KafkaError]] = []
        self._unpolled = 0
        self._names: dict[str, str] = {}  # logical topic -> broker name, once seen to exist
        self._admin: Optional[Admin] = None

    # -- names ---------------------------------------------------------------
    def name(self, topic: str) -> str:
        return topic_name(self.settings, topic)

    def _where(self) -> str:
        return f"kafka at {self.settings.kafka_bootstrap}"

    # -- producing -------------------------------------------------------------
    def _get_producer(self) -> Producer:
        if self._producer is None:
            producer = Producer(self._producer_config)
            try:  # the first contact, bounded (librdkafka itself would retry for ever)
                producer.list_topics(timeout=self.bootstrap_timeout_ms / 1000)
            except KafkaException as exc:
                self._discard(producer)
                raise BusError(f"{self._where()} is not reachable: {describe(exc)}") from exc
            self._producer = producer
        return self._producer

    def _topic(self, producer: Producer, topic: str) -> str:
        """The broker name of a topic that exists (looked up once per topic)."""
        name = self.name(topic)
        try:
            meta = producer.list_topics(name, timeout=REQUEST_TIMEOUT_MS / 1000)
        except KafkaException as exc:
            raise BusError(f"{self._where()}: cannot look up {name!r}: {describe(exc)}") from exc
        found = meta.topics.get(name)
        if found is None or found.error is not None or not found.partitions:
            raise BusError(f"{self._where()}: cannot publish to {name!r}: the topic does not exist "
                           f"(see ensure_topics)")
        self._names[topic] = name
        return name

    def _on_delivery(self, err, msg) -> None:  # failures only (delivery.report.only.error)
        if err is not None:
            self._failed.append((msg.topic(), msg.key(), err))

    def publish(self, topic: str, key: Optional[str], value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError("bus values are bytes")
        with self._lock:
            producer = self._producer or self._get_producer()
            name = self._names.get(topic) or self._topic(producer, topic)
            k = key.encode("utf-8") if key is not None else None
            try:
                producer.produce(name, value, k)
            except BufferError:  # the local queue is full: let deliveries drain it
                self._produce_when_room(producer, name, value, k)
            except KafkaException as exc:
                self._drop_producer()
                raise BusError(f"{self._where()}: cannot publish to {name!r}: {describe(exc)}") from exc
            self._unpolled += 1
            if self._unpolled >= 1000:  # serve delivery failures and errors now and then
                self._unpolled = 0
                producer.poll(0)

    def _produce_when_room(self, producer: Producer, name: str, value, key) -> None:
        deadline = time.monotonic() + DELIVERY_TIMEOUT_MS / 1000 + 5
        while True:
            producer.poll(0.1)
            try:
                producer.produce(name, value, key)
                return
            except BufferError:
                if time.monotonic() > deadline:
                    self._drop_producer()
                    raise BusError(f"{self._where()}: the producer's queue stayed full for "
                                   f"{DELIVERY_TIMEOUT_MS // 1000} s") from None
            except KafkaException as exc:
                self._drop_producer()
                raise BusError(f"{self._where()}: cannot publish to {name!r}: {describe(exc)}") from exc

    def flush(self) -> None:
        with self._lock:
            producer = self._producer
            if producer is None:
                return
            self._unpolled = 0
            # every message is delivered or has failed within message.timeout.ms
            left = producer.flush(DELIVERY_TIMEOUT_MS / 1000 + 5)
            failed, self._failed = self._failed, []
            if not failed and not left:
                return
            self._drop_producer()
            if failed:
                name, key, err = failed[0]
                k = key.decode("utf-8", errors="replace") if key is not None else None
                raise BusError(f"{self._where()}: {len(failed)} message(s) not written (first: topic "
                               f"{name!r}, key {k!r}: {describe(err)})")
            raise BusError(f"{self._where()}: {left} message(s) not confirmed in time")

    def _drop_producer(self) -> None:
        """Forget a producer that failed: the caller republishes (it has not committed its
        input), and the next publish starts a fresh producer with fresh connections."""
        producer, self._producer = self._producer, None
        self._names.clear()
        if producer is not None:
            self._discard(producer)
        self._failed = []

    @staticmethod
    def _discard(producer: Producer) -> None:
        try:
            producer.purge()  # close() would wait for what is still queued
            producer.poll(0)
            producer.close()
        except Exception:  # noqa: BLE001 - it is being thrown away
            log.debug("kafka: discarding a producer", exc_info=True)

    # -- consuming -------------------------------------------------------------
    def consumer(self, topic: str, group: str) -> "KafkaBusConsumer":
        return KafkaBusConsumer(self, topic, group)

    def _get_admin(self) -> Admin:
        if self._admin is None:
            self._admin = Admin(self.settings, self.bootstrap_timeout_ms, client_id=f"{self.client_id}-admin")
        return self._admin

    def partitions(self, topic: str) -> list[TopicPartition]:
        return self._get_admin().partitions(self.name(topic))

    def lag(self, topic: str, group: str) -> int:
        admin = self._get_admin()
        parts = admin.partitions(self.name(topic))
        begins, ends = admin.offsets(parts)
        committed = admin.committed(group, parts)
        total = 0
        for tp in parts:
            p = tp.partition
            done = committed.get(p, -1)
            position = done if done >= 0 else begins[p]
            total += max(0, ends[p] - max(position, begins[p]))
        return total

    def count(self, topic: str) -> int:
        """Messages the topic holds now (end minus beginning offsets)."""
        admin = self._get_admin()
        begins, ends = admin.offsets(admin.partitions(self.name(topic)))
        return sum(ends[p] - begins[p] for p in ends)

    def read_all(self, topic: str, limit: int = 1000, timeout: float = 10.0) -> list[Message]:
        """The newest `limit` messages of each partition without a group, newest first
        (the dead-letter viewer)."""
        admin = self._get_admin()
        name = self.name(topic)
        begins, ends = admin.offsets(admin.partitions(name))
        todo = {p: end for p, end in ends.items() if max(begins[p], end - limit) < end}
        if not todo:
            return []
        health = Health(self._where())
        reader = _Consumer({
            "bootstrap.servers": servers(self.settings), "client.id": f"{self.client_id}-reader",
            # librdkafka wants a group id; assign() without subscribe() never joins or commits
            "group.id": f"{self.client_id}-reader", "enable.auto.commit": False,
            "enable.auto.offset.store": False, "allow.auto.create.topics": False,
            "socket.timeout.ms": REQUEST_TIMEOUT_MS, "error_cb": health.on_error,
            "logger": LibrdkafkaLog(), "log.connection.close": False})
        out: list[Message] = []
        try:
            reader.assign([TopicPartition(name, p, max(begins[p], end - limit)) for p, end in todo.items()])
            deadline = time.monotonic() + timeout
            while todo and time.monotonic() < deadline:
                for m in reader.consume(1000, 0.5):
                    if m.error() is not None:
                        if m.error().code() in MISSING_TOPIC or m.error().fatal():
                            raise KafkaException(m.error())
                        continue
                    p = m.partition()
                    if p in todo and m.offset() < todo[p]:
                        out.append(_message(topic, m))
                        if m.offset() + 1 >= todo[p]:
                            del todo[p]
        except KafkaException as exc:
            raise BusError(f"{self._where()}: cannot read {name!r}: {describe(exc)}") from exc
        finally:
            reader.close()
        out.sort(key=lambda m: (m.timestamp or datetime.min.replace(tzinfo=UTC), m.offset), reverse=True)
        return out[:limit]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._drop_producer()
            self._admin = None


class KafkaBusConsumer(Consumer):
    """One member of `group` on one topic; positions move only on commit()."""

    def __init__(self, bus: KafkaBus, topic: str, group: str, *,
                 session_timeout_ms: int = 10_000, max_poll_interval_ms: int = 300_000):
        self.bus, self.topic, self.group = bus, topic, group
        self.name = bus.name(topic)
        bus.partitions(topic)  # fail fast (BusError) if the topic does not exist
        self._health = Health(bus._where())
        self._consumer = _Consumer({
            "bootstrap.servers": servers(bus.settings),
            "client.id": f"{bus.client_id}-{group}",
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "allow.auto.create.topics": False,
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(1000, session_timeout_ms // 3),
            "max.poll.interval.ms": max_poll_interval_ms,
            "socket.timeout.ms": REQUEST_TIMEOUT_MS,
            "socket.connection.setup.timeout.ms": bus.bootstrap_timeout_ms,
            # a batch of 4,000 classified posts (~1-2 KB each) in one fetch per partition;
            # an idle partition answers within 100 ms
            "max.partition.fetch.bytes": FETCH_PARTITION_BYTES,
            "fetch.wait.max.ms": 100,
            "queued.max.messages.kbytes": PREFETCH_KBYTES,
            "error_cb": self._health.on_error,
            "logger": LibrdkafkaLog(),
            "log.connection.close": False,
        })
        self._assigned: set[int] = set()
        self._pending: dict[int, int] = {}  # partition -> offset to commit (last polled + 1)
        self._assignment_seen = False
        self._joined = False
        self._closed = False
        self._consumer.subscribe([self.name], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_revoke)

    # -- rebalances (called from inside consume() and close()) -------------------
    def _on_assign(self, consumer, partitions) -> None:
        self._assignment_seen = True
        self._assigned.update(tp.partition for tp in partitions)
        log.debug("kafka: %s on %s: assigned %s", self.group, self.name, sorted(self._assigned))

    def _on_revoke(self, consumer, partitions) -> None:
        for tp in partitions:
            self._assigned.discard(tp.partition)
            if self._pending.pop(tp.partition, None) is not None:
                log.info("kafka: %s on %s: partition %d revoked before its batch was committed; "
                         "it is delivered again", self.group, self.name, tp.partition)

    # -- polling -----------------------------------------------------------------
    def _fetch(self, max_records: int, timeout: float) -> list[Message]:
        if self._closed:
            raise BusError(f"consumer of {self.group!r} on {self.name!r} is closed")
        try:
            batch = self._take(max(1, max_records), max(0.0, timeout))
        except KafkaException as exc:
            raise BusError(f"{self.bus._where()}: poll on {self.name!r} failed: {describe(exc)}") from exc
        out: list[Message] = []
        if batch:
            topic, assigned, pending = self.topic, self._assigned, self._pending
            for m in batch:
                err = m.error()
                if err is not None:
                    self._event(err)
                    continue
                p = m.partition()
                if p not in assigned:  # of a partition revoked meanwhile: its new owner reads it
                    continue
                out.append(_message(topic, m))
                pending[p] = m.offset() + 1
            if out:
                self._health.alive()
        if self._health.fatal is not None or self._health.down_since is not None:
            self._check_health()
        return out

    def _take(self, n: int, timeout: float) -> list:
        """Up to n messages: what is already fetched, else the first to arrive within `timeout`
        plus what follows it within LINGER_S. (librdkafka's consume(n, timeout) waits for all n
        or the whole timeout, so a trickle of posts would wait `timeout` at every stage.)"""
        batch = self._consumer.consume(n, 0)
        if batch or timeout <= 0:
            return batch
        first = self._consumer.poll(timeout)
        if first is None:
            return []
        return [first, *self._consumer.consume(n - 1, min(LINGER_S, timeout))] if n > 1 else [first]

    def _event(self, err: KafkaError) -> None:
        code = err.code()
        if code == KafkaError._PARTITION_EOF:
            return
        if err.fatal() or code in MISSING_TOPIC:
            raise BusError(f"{self.bus._where()}: poll on {self.name!r} failed: {describe(err)}")
        self._health.on_error(err)

    def _check_health(self) -> None:
        health = self._health
        if health.fatal is not None:
            raise BusError(f"{self.bus._where()}: consumer of {self.group!r} failed: {describe(health.fatal)}")
        if time.monotonic() - health.down_since < BROKERS_DOWN_S:
            return
        try:  # librdkafka may just have lost idle connections: ask before giving up
            self._consumer.list_topics(self.name, timeout=min(5.0, self.bus.bootstrap_timeout_ms / 1000))
        except KafkaException as exc:
            raise BusError(f"{self.bus._where()} is not reachable (every broker down for "
                           f"{time.monotonic() - health.down_since:.0f} s): {describe(exc)}") from exc
        health.alive()

    def _backlog(self) -> bool:
        """Whether the group has messages waiting on this member's partitions."""
        parts = [TopicPartition(self.name, p) for p in sorted(self._assigned)]
        if not parts:
            return False
        try:
            committed = {tp.partition: tp.offset for tp in
                         self._consumer.committed(parts, timeout=REQUEST_TIMEOUT_MS / 1000)}
            for tp in parts:
                low, high = self._consumer.get_watermark_offsets(tp, timeout=REQUEST_TIMEOUT_MS / 1000)
                if high > max(low, committed.get(tp.partition, -1)):
                    return True
        except KafkaException as exc:
            raise BusError(f"{self.bus._where()}: cannot read the offsets of {self.group!r} on "
                           f"{self.name!r}: {describe(exc)}") from exc
        return False

    def _join(self, max_records: int, timeout: float) -> list[Message]:
        """The first poll: wait (up to JOIN_TIMEOUT_S) until the group gave this member its
        partitions, and then, if they hold messages the group has not committed, until the
        first of them arrives, so that a first short poll does not come back empty just
        because the join or the first fetch is still going on (drain loops would stop too
        early). A member given no partitions (more members than partitions) stops waiting
        as soon as the group says so."""
        self._joined = True
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while not self._assignment_seen:
            got = self._fetch(max_records, 0.2)
            if got:
                return got
            if time.monotonic() >= deadline:
                return []
        got = self._fetch(max_records, timeout)
        if got or not self._backlog():
            return got
        while not got and time.monotonic() < deadline:
            got = self._fetch(max_records, 0.2)
        return got

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        if not self._joined:
            return self._join(max_records, timeout)
        return self._fetch(max_records, timeout)

    def commit(self) -> None:
        """Commit the position after every message poll() has returned (per partition)."""
        if not self._pending:
            return
        offsets = [TopicPartition(self.name, p, o) for p, o in self._pending.items()]
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is not None and err.code() in REBALANCED:
                # the partitions are being handed out again; whoever gets them re-reads the batch
                log.warning("kafka: %s on %s: commit refused by a rebalance (%s); the batch will "
                            "be delivered again", self.group, self.name, describe(err))
                self._pending.clear()
                return
            raise BusError(f"{self.bus._where()}: commit of group {self.group!r} on {self.name!r} "
                           f"failed: {describe(exc)}") from exc
        failed = [tp for tp in result or [] if tp.error is not None]
        if failed:
            raise BusError(f"{self.bus._where()}: commit of group {self.group!r} on {self.name!r} "
                           f"failed for partition {failed[0].partition}: {describe(failed[0].error)}")
        for tp in offsets:
            if self._pending.get(tp.partition) == tp.offset:
                del self._pending[tp.partition]
        self._health.alive()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.clear()
            try:
                self._consumer.close()  # leaves the group; commits nothing
            except (KafkaException, RuntimeError) as exc:
                log.warning("kafka: closing the consumer of %s on %s: %s", self.group, self.name,
                            describe(exc))
