"""The at-scale bus: Apache Kafka through kafka-python.

Topic names are the logical names (`posts.raw`, ...) behind
`settings.kafka_topic_prefix`, which is prepended as is (put your own separator
in it, e.g. ``"prod."``). Messages handed to consumers carry the logical name.

Topics are not created on the fly (the broker runs with
`auto.create.topics.enable=false`): `ensure_topics()` creates them with an
explicit partition count and retention, and does nothing for topics that exist.

Producer: acks=all with idempotence, gzip, batching (linger/batch size) and
retries bounded by a delivery timeout, so `flush()` either returns with every
message durable or raises `BusError`; it never hangs on a dead broker.
Consumer: a consumer group member with auto-commit off, starting from the
earliest offset when the group has none; `commit()` commits exactly what
`poll()` has returned so far (at-least-once).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Iterable, Optional

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError

from yuqing.config import Settings

from .bus import DEADLETTER, TOPICS, Bus, BusError, Consumer, Message

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000

#: How long a client waits for the first contact with the cluster.
BOOTSTRAP_TIMEOUT_MS = 10_000
REQUEST_TIMEOUT_MS = 15_000
#: Upper bound on a message's delivery, retries included (flush() waits this long at most).
DELIVERY_TIMEOUT_MS = 30_000
#: The most a consumer fetches from one partition at a time.
FETCH_PARTITION_BYTES = 8 * 1024 * 1024
#: How long a new consumer's first poll waits for the group to assign it partitions.
JOIN_TIMEOUT_S = 15.0


def _servers(settings: Settings) -> list[str]:
    return [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]


def topic_name(settings: Settings, topic: str) -> str:
    """The broker's name for a logical topic."""
    return f"{settings.kafka_topic_prefix}{topic}"


def _describe(exc: BaseException) -> str:
    text, kind = str(exc), type(exc).__name__
    if text in ("", "None", f"{kind}: None"):
        return f"{kind} (no answer in time)"
    return text if text.startswith(kind) else f"{kind}: {text}"


def _admin(settings: Settings, bootstrap_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=_servers(settings), client_id="yuqing-admin",
                                request_timeout_ms=REQUEST_TIMEOUT_MS,
                                bootstrap_timeout_ms=bootstrap_timeout_ms)
    except KafkaError as exc:
        raise BusError(f"kafka at {settings.kafka_bootstrap} is not reachable: {_describe(exc)}") from exc


def ensure_topics(settings: Settings, partitions: int = 3, retention_ms: int = 7 * DAY_MS, *,
                  deadletter_retention_ms: Optional[int] = 30 * DAY_MS,
                  replication_factor: int = 1,
                  topics: Iterable[str] = TOPICS) -> list[str]:
    """Create the missing topics; return the broker names of those created.

    Existing topics are left alone (their partitions and retention stay as
    they are), so this is safe to run at every deployment. The dead-letter
    topic keeps its records longer (`deadletter_retention_ms`) since nothing
    else holds them.
    """
    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    admin = _admin(settings)
    try:
        wanted = {}
        for topic in topics:
            keep = retention_ms
            if topic == DEADLETTER and deadletter_retention_ms is not None:
                keep = deadletter_retention_ms
            wanted[topic_name(settings, topic)] = {
                "num_partitions": partitions,
                "replication_factor": replication_factor,
                "configs": {"retention.ms": str(keep)},
            }
        existing = set(admin.list_topics())
        missing = {name: spec for name, spec in wanted.items() if name not in existing}
        created = []
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=REQUEST_TIMEOUT_MS, raise_errors=False,
                                    wait_for_metadata=True)
            except TopicAlreadyExistsError:  # a concurrent ensure_topics won the race
                pass
            present = set(admin.list_topics())
            still = sorted(set(missing) - present)
            if still:
                raise BusError(f"kafka: could not create topics {still}")
            created = sorted(missing)
            log.info("kafka: created topics %s", created)
        return created
    except KafkaError as exc:
        raise BusError(f"kafka: ensure_topics failed: {_describe(exc)}") from exc
    finally:
        admin.close()


def delete_topics(settings: Settings, topics: Iterable[str] = TOPICS) -> None:
    """Delete the (prefixed) topics that exist; for tests and tear-down."""
    admin = _admin(settings)
    try:
        names = [topic_name(settings, t) for t in topics]
        present = [n for n in names if n in set(admin.list_topics())]
        if present:
            admin.delete_topics(present, timeout_ms=REQUEST_TIMEOUT_MS, raise_errors=False)
    except KafkaError as exc:
        raise BusError(f"kafka: delete_topics failed: {_describe(exc)}") from exc
    finally:
        admin.close()


def _message(topic: str, record) -> Message:
    ts = None
    if record.timestamp is not None and record.timestamp >= 0:
        ts = datetime.fromtimestamp(record.timestamp / 1000, timezone.utc)
    key = record.key.decode("utf-8", errors="replace") if record.key is not None else None
    return Message(topic=topic, key=key, value=record.value, offset=record.offset,
                   partition=record.partition, timestamp=ts)


def _flatten(topic: str, *batches: dict) -> list[Message]:
    """poll() results ({TopicPartition: [records]}) as Messages, by partition then offset."""
    merged: dict = {}
    for batch in batches:
        for tp, records in batch.items():
            merged.setdefault(tp, []).extend(records)
    out: list[Message] = []
    for tp in sorted(merged, key=lambda tp: tp.partition):
        out.extend(_message(topic, r) for r in merged[tp])
    return out


class KafkaBus(Bus):
    def __init__(self, settings: Settings, *, client_id: str = "yuqing",
                 linger_ms: int = 20, batch_size: int = 256 * 1024,
                 bootstrap_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS):
        self.settings = settings
        self.client_id = client_id
        self.bootstrap_timeout_ms = bootstrap_timeout_ms
        self._producer_config = dict(
            bootstrap_servers=_servers(settings),
            client_id=f"{client_id}-producer",
            acks="all",
            enable_idempotence=True,
            compression_type="gzip",
            linger_ms=linger_ms,
            batch_size=batch_size,
            retry_backoff_ms=200,
            delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            max_block_ms=REQUEST_TIMEOUT_MS,
            bootstrap_timeout_ms=bootstrap_timeout_ms,
            allow_auto_create_topics=False,
        )
        self._lock = threading.Lock()
        self._producer: Optional[KafkaProducer] = None
        self._futures: list = []
        self._meta: Optional[KafkaConsumer] = None  # group-less, for offsets and reading
        self._admin_client: Optional[KafkaAdminClient] = None

    # -- names ---------------------------------------------------------------
    def name(self, topic: str) -> str:
        return topic_name(self.settings, topic)

    def _where(self) -> str:
        return f"kafka at {self.settings.kafka_bootstrap}"

    # -- producing -------------------------------------------------------------
    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(**self._producer_config)
            except KafkaError as exc:
                raise BusError(f"{self._where()} is not reachable: {_describe(exc)}") from exc
        return self._producer

    def publish(self, topic: str, key: Optional[str], value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError("bus values are bytes")
        with self._lock:
            producer = self._get_producer()
            try:
                future = producer.send(self.name(topic), value=bytes(value),
                                       key=key.encode("utf-8") if key is not None else None)
            except KafkaError as exc:
                self._drop_producer()
                raise BusError(f"{self._where()}: cannot publish to {self.name(topic)!r} "
                               f"(does the topic exist? see ensure_topics): {_describe(exc)}") from exc
            self._futures.append((topic, key, future))
            if len(self._futures) >= 10_000:  # forget the confirmed ones; keep failures for flush()
                self._futures = [item for item in self._futures if not item[2].succeeded()]

    def flush(self) -> None:
        with self._lock:
            if self._producer is None or not self._futures:
                return
            futures, self._futures = self._futures, []
            try:
                self._producer.flush(timeout=DELIVERY_TIMEOUT_MS / 1000 + 5)
            except KafkaError as exc:
                self._drop_producer()
                raise BusError(f"{self._where()}: {len(futures)} message(s) not confirmed: "
                               f"{_describe(exc)}") from exc
            failed = [(t, k, f.exception) for t, k, f in futures if not f.succeeded()]
            if failed:
                self._drop_producer()
                topic, key, exc = failed[0]
                raise BusError(f"{self._where()}: {len(failed)} of {len(futures)} message(s) not "
                               f"written (first: topic {topic!r}, key {key!r}: "
                               f"{_describe(exc) if exc else 'not completed'})")

    def _drop_producer(self) -> None:
        """Forget a producer that failed: the caller republishes (it has not committed its
        input), and the next publish starts a fresh producer with fresh connections."""
        producer, self._producer = self._producer, None
        self._futures = []
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # noqa: BLE001 - records still pending: stop its I/O thread now
                sender = getattr(producer, "_sender", None)
                if sender is not None:
                    sender.force_close()

    # -- consuming -------------------------------------------------------------
    def consumer(self, topic: str, group: str) -> "KafkaBusConsumer":
        return KafkaBusConsumer(self, topic, group)

    def _get_meta(self) -> KafkaConsumer:
        if self._meta is None:
            try:
                self._meta = KafkaConsumer(
                    bootstrap_servers=_servers(self.settings), client_id=f"{self.client_id}-meta",
                    group_id=None, enable_auto_commit=False, allow_auto_create_topics=False,
                    request_timeout_ms=REQUEST_TIMEOUT_MS, bootstrap_timeout_ms=self.bootstrap_timeout_ms)
            except KafkaError as exc:
                raise BusError(f"{self._where()} is not reachable: {_describe(exc)}") from exc
        return self._meta

    def _get_admin(self) -> KafkaAdminClient:
        if self._admin_client is None:
            self._admin_client = _admin(self.settings, self.bootstrap_timeout_ms)
        return self._admin_client

    def partitions(self, topic: str) -> list[TopicPartition]:
        name = self.name(topic)
        try:
            described = self._get_admin().describe_topics([name])
        except KafkaError as exc:
            raise BusError(f"{self._where()}: cannot describe {name!r}: {_describe(exc)}") from exc
        parts = []
        for t in described:
            if t.get("error_code", 0) == 0 and t.get("name") == name:
                parts = [TopicPartition(name, p["partition_index"]) for p in t["partitions"]]
        if not parts:
            raise BusError(f"{self._where()}: topic {name!r} does not exist (see ensure_topics)")
        return sorted(parts, key=lambda tp: tp.partition)

    def lag(self, topic: str, group: str) -> int:
        parts = self.partitions(topic)
        try:
            meta = self._get_meta()
            ends = meta.end_offsets(parts, timeout_ms=REQUEST_TIMEOUT_MS)
            begins = meta.beginning_offsets(parts, timeout_ms=REQUEST_TIMEOUT_MS)
            committed = self._get_admin().list_group_offsets({group: parts}).get(group, {})
        except KafkaError as exc:
            raise BusError(f"{self._where()}: cannot compute lag of {group!r}: {_describe(exc)}") from exc
        total = 0
        for tp in parts:
            done = committed.get(tp)
            position = done.offset if done is not None and done.offset >= 0 else begins[tp]
            total += max(0, ends[tp] - max(position, begins[tp]))
        return total

    def count(self, topic: str) -> int:
        """Messages the topic holds now (end minus beginning offsets)."""
        parts = self.partitions(topic)
        meta = self._get_meta()
        try:
            ends = meta.end_offsets(parts, timeout_ms=REQUEST_TIMEOUT_MS)
            begins = meta.beginning_offsets(parts, timeout_ms=REQUEST_TIMEOUT_MS)
        except KafkaError as exc:
            raise BusError(f"{self._where()}: {_describe(exc)}") from exc
        return sum(ends[tp] - begins[tp] for tp in parts)

    def read_all(self, topic: str, limit: int = 1000, timeout: float = 10.0) -> list[Message]:
        """The newest `limit` messages of each partition without a group, newest first
        (the dead-letter viewer)."""
        parts = self.partitions(topic)
        try:
            reader = KafkaConsumer(
                bootstrap_servers=_servers(self.settings), client_id=f"{self.client_id}-reader",
                group_id=None, enable_auto_commit=False, allow_auto_create_topics=False,
                request_timeout_ms=REQUEST_TIMEOUT_MS, bootstrap_timeout_ms=self.bootstrap_timeout_ms)
        except KafkaError as exc:
            raise BusError(f"{self._where()} is not reachable: {_describe(exc)}") from exc
        try:
            reader.assign(parts)
            ends = reader.end_offsets(parts, timeout_ms=REQUEST_TIMEOUT_MS)
            begins = reader.beginning_offsets(parts, timeout_ms=REQUEST_TIMEOUT_MS)
            todo = {}
            for tp in parts:
                start = max(begins[tp], ends[tp] - limit)
                if start < ends[tp]:
                    reader.seek(tp, start)
                    todo[tp] = ends[tp]
            out: list[Message] = []
            deadline = time.monotonic() + timeout
            while todo and time.monotonic() < deadline:
                for tp, records in reader.poll(timeout_ms=500).items():
                    for r in records:
                        if tp in todo and r.offset < todo[tp]:
                            out.append(_message(topic, r))
                    if tp in todo and reader.position(tp) >= todo[tp]:
                        del todo[tp]
        except KafkaError as exc:
            raise BusError(f"{self._where()}: cannot read {self.name(topic)!r}: {_describe(exc)}") from exc
        finally:
            reader.close(autocommit=False)
        out.sort(key=lambda m: (m.timestamp or datetime.min.replace(tzinfo=timezone.utc), m.offset),
                 reverse=True)
        return out[:limit]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
            if self._meta is not None:
                self._meta.close(autocommit=False)
                self._meta = None
            if self._admin_client is not None:
                self._admin_client.close()
                self._admin_client = None


class KafkaBusConsumer(Consumer):
    """One member of `group` on one topic; positions move only on commit()."""

    def __init__(self, bus: KafkaBus, topic: str, group: str, *,
                 session_timeout_ms: int = 10_000, max_poll_interval_ms: int = 300_000):
        self.bus, self.topic, self.group = bus, topic, group
        self.name = bus.name(topic)
        bus.partitions(topic)  # fail fast (BusError) if the topic does not exist
        try:
            self._consumer = KafkaConsumer(
                self.name,
                bootstrap_servers=_servers(bus.settings),
                client_id=f"{bus.client_id}-{group}",
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                allow_auto_create_topics=False,
                session_timeout_ms=session_timeout_ms,
                heartbeat_interval_ms=max(1000, session_timeout_ms // 3),
                max_poll_interval_ms=max_poll_interval_ms,
                request_timeout_ms=REQUEST_TIMEOUT_MS,
                bootstrap_timeout_ms=bus.bootstrap_timeout_ms,
                # a batch of 2,000 classified posts (~2 KB each) in one fetch per partition;
                # an idle partition answers within 100 ms rather than 500
                max_partition_fetch_bytes=FETCH_PARTITION_BYTES,
                fetch_max_wait_ms=100,
                max_poll_records=2000,
            )
        except KafkaError as exc:
            raise BusError(f"{bus._where()} is not reachable: {_describe(exc)}") from exc
        self._closed = False
        self._joined = False

    def _join(self) -> dict:
        """Wait (once, up to JOIN_TIMEOUT_S) until the group gave this member its partitions, so
        that a first short poll does not come back empty just because the join is still going
        on (drain loops would stop too early). A member left without partitions (more members
        than partitions) stops waiting after that bound."""
        self._joined = True
        records: dict = {}
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while not self._consumer.assignment() and time.monotonic() < deadline:
            records = self._consumer.poll(timeout_ms=200, max_records=1)
            if records:
                break
        return records

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        try:
            if not self._joined:
                first = self._join()
                if first:  # the join's poll already fetched one record
                    more = self._consumer.poll(timeout_ms=0, max_records=max(1, max_records - 1)) \
                        if max_records > 1 else {}
                    return _flatten(self.topic, first, more)
            batches = self._consumer.poll(timeout_ms=max(0, int(timeout * 1000)),
                                          max_records=max_records)
        except KafkaError as exc:
            raise BusError(f"{self.bus._where()}: poll on {self.name!r} failed: {_describe(exc)}") from exc
        return _flatten(self.topic, batches)

    def commit(self) -> None:
        """Commit the position after every message poll() has returned (per partition)."""
        try:
            self._consumer.commit(timeout_ms=REQUEST_TIMEOUT_MS)
        except KafkaError as exc:
            raise BusError(f"{self.bus._where()}: commit of group {self.group!r} on {self.name!r} "
                           f"failed: {_describe(exc)}") from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close(autocommit=False, timeout_ms=5000)
