"""Kafka administration for the bus (confluent-kafka's AdminClient), and what its clients share.

`ensure_topics()` creates the project's topics with an explicit partition count
and retention (`yuqing init`, the tests, bench/pipeline.py); `delete_topics()`
removes them. `Admin` answers the bus's questions about partitions and offsets.
`Health` and `LibrdkafkaLog` turn librdkafka's error callbacks and log lines
into something a caller can act on and a log worth reading.
"""
from __future__ import annotations

import logging
import time
from typing import Iterable, Optional

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from yuqing.config import Settings

from .bus import DEADLETTER, TOPICS, BusError

log = logging.getLogger("stream.kafka_bus")
rdlog = logging.getLogger("stream.kafka_bus.librdkafka")

DAY_MS = 24 * 3600 * 1000

#: How long a client waits for the first contact with the cluster.
BOOTSTRAP_TIMEOUT_MS = 10_000
REQUEST_TIMEOUT_MS = 15_000
#: How long ensure_topics() waits for new topics to show in the cluster's metadata.
TOPIC_PROPAGATION_S = 10.0


def servers(settings: Settings) -> str:
    return ",".join(s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip())


def topic_name(settings: Settings, topic: str) -> str:
    """The broker's name for a logical topic."""
    return f"{settings.kafka_topic_prefix}{topic}"


def describe(exc) -> str:
    """A KafkaException, a KafkaError or any exception as one line."""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    if isinstance(err, KafkaError):
        return f"{err.name()}: {err.str()}"
    text, kind = str(exc), type(exc).__name__
    if text in ("", "None"):
        return f"{kind} (no answer in time)"
    return text if text.startswith(kind) else f"{kind}: {text}"


class LibrdkafkaLog:
    """librdkafka's log lines through `logging` (as "stream.kafka_bus.librdkafka").

    A connection that fails is logged again at every reconnect attempt (several a second);
    those lines go to DEBUG, since `Health` reports a cluster that is down once, as a warning.
    """

    def log(self, level: int, fmt: str, *args) -> None:
        if args and args[0] == "FAIL":
            level = logging.DEBUG
        rdlog.log(level, fmt, *args)


class Health:
    """What a client's error callback saw: every broker down (since when), a fatal error."""

    def __init__(self, where: str):
        self.where = where
        self.down_since: Optional[float] = None
        self.fatal: Optional[KafkaError] = None

    def on_error(self, err: KafkaError) -> None:
        code = err.code()
        if err.fatal():
            self.fatal = err
            log.error("kafka: fatal error from %s: %s", self.where, describe(err))
        elif code == KafkaError._ALL_BROKERS_DOWN:
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.warning("kafka: %s: %s (librdkafka keeps reconnecting)", self.where, err.str())
        elif code in (KafkaError._TRANSPORT, KafkaError._RESOLVE):
            log.debug("kafka: %s: %s", self.where, err.str())
        else:
            log.warning("kafka: %s: %s", self.where, describe(err))

    def alive(self) -> None:
        self.down_since = None


#: Errors an admin request meets while a new topic's leaders or a group's coordinator settle.
SETTLING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                      KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                      KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR})


def _results(request, what: str, where: str, timeout: float = REQUEST_TIMEOUT_MS / 1000) -> dict:
    """The results of `request()` (a dict of futures), asked again while the cluster is
    settling (e.g. just after a topic was created), else BusError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return {key: future.result(timeout=timeout + 5) for key, future in request().items()}
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is not None and (err.retriable() or err.code() in SETTLING) \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise BusError(f"{where}: {what} failed: {describe(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - a timeout of the future itself
            raise BusError(f"{where}: {what} failed: {describe(exc)}") from exc


class Admin:
    """An AdminClient whose first contact with the cluster is bounded and checked."""

    def __init__(self, settings: Settings, bootstrap_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS, *,
                 client_id: str = "yuqing-admin"):
        self.where = f"kafka at {settings.kafka_bootstrap}"
        self.health = Health(self.where)
        self.client = AdminClient({
            "bootstrap.servers": servers(settings), "client.id": client_id,
            "allow.auto.create.topics": False,
            "socket.timeout.ms": REQUEST_TIMEOUT_MS,
            "socket.connection.setup.timeout.ms": bootstrap_timeout_ms,
            "error_cb": self.health.on_error, "logger": LibrdkafkaLog(), "log.connection.close": False,
        })
        try:
            self.client.list_topics(timeout=bootstrap_timeout_ms / 1000)
        except KafkaException as exc:
            raise BusError(f"{self.where} is not reachable: {describe(exc)}") from exc

    def _cluster_topics(self) -> dict:
        try:
            return self.client.list_topics(timeout=REQUEST_TIMEOUT_MS / 1000).topics
        except KafkaException as exc:
            raise BusError(f"{self.where}: cannot list topics: {describe(exc)}") from exc

    def topics(self) -> set[str]:
        return {name for name, t in self._cluster_topics().items() if t.error is None}

    def led_topics(self) -> set[str]:
        """The topics whose every partition has a leader."""
        return {name for name, t in self._cluster_topics().items()
                if t.error is None and t.partitions and all(p.leader >= 0 for p in t.partitions.values())}

    def partitions(self, name: str) -> list[TopicPartition]:
        """The topic's partitions, or BusError if it does not exist."""
        try:
            meta = self.client.list_topics(name, timeout=REQUEST_TIMEOUT_MS / 1000)
        except KafkaException as exc:
            raise BusError(f"{self.where}: cannot describe {name!r}: {describe(exc)}") from exc
        found = meta.topics.get(name)
        if found is None or found.error is not None or not found.partitions:
            raise BusError(f"{self.where}: topic {name!r} does not exist (see ensure_topics)")
        return [TopicPartition(name, p) for p in sorted(found.partitions)]

    def offsets(self, parts: list[TopicPartition]) -> tuple[dict[int, int], dict[int, int]]:
        """The beginning and end offsets of each partition (by partition number)."""
        timeout = REQUEST_TIMEOUT_MS / 1000

        def ask(spec):
            found = _results(lambda: self.client.list_offsets({tp: spec for tp in parts},
                                                              request_timeout=timeout),
                             "listing offsets", self.where)
            return {tp.partition: r.offset for tp, r in found.items()}

        return ask(OffsetSpec.earliest()), ask(OffsetSpec.latest())

    def committed(self, group: str, parts: list[TopicPartition]) -> dict[int, int]:
        """The group's committed offset of each partition (-1: none)."""
        query = [ConsumerGroupTopicPartitions(group, [TopicPartition(tp.topic, tp.partition) for tp in parts])]
        result = _results(lambda: self.client.list_consumer_group_offsets(
            query, request_timeout=REQUEST_TIMEOUT_MS / 1000),
            f"reading the offsets of group {group!r}", self.where)[group]
        return {tp.partition: (tp.offset if tp.error is None and tp.offset >= 0 else -1)
                for tp in result.topic_partitions}


def check_reachable(settings: Settings, timeout_s: float = 5.0) -> None:
    """Return if the cluster answers within `timeout_s`, else raise BusError."""
    Admin(settings, int(timeout_s * 1000), client_id="yuqing-check").topics()


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
    admin = Admin(settings)
    wanted = {}
    for topic in topics:
        keep = retention_ms
        if topic == DEADLETTER and deadletter_retention_ms is not None:
            keep = deadletter_retention_ms
        name = topic_name(settings, topic)
        wanted[name] = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                                config={"retention.ms": str(keep)})
    missing = sorted(set(wanted) - admin.topics())
    if not missing:
        return []
    timeout = REQUEST_TIMEOUT_MS / 1000
    futures = admin.client.create_topics([wanted[n] for n in missing], operation_timeout=timeout,
                                         request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout + 5)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # a concurrent ensure_topics won
                raise BusError(f"kafka: could not create topic {name!r}: {describe(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - the future timed out
            raise BusError(f"kafka: could not create topic {name!r}: {describe(exc)}") from exc
    deadline = time.monotonic() + TOPIC_PROPAGATION_S
    while True:  # until the metadata shows them with leaders (a consumer's first look must find them)
        still = sorted(set(missing) - admin.led_topics())
        if not still:
            break
        if time.monotonic() > deadline:
            raise BusError(f"kafka: could not create topics {still}")
        time.sleep(0.1)
    log.info("kafka: created topics %s", missing)
    return missing


def delete_topics(settings: Settings, topics: Iterable[str] = TOPICS) -> None:
    """Delete the (prefixed) topics that exist; for tests and tear-down."""
    admin = Admin(settings)
    present = sorted({topic_name(settings, t) for t in topics} & admin.topics())
    if not present:
        return
    timeout = REQUEST_TIMEOUT_MS / 1000
    futures = admin.client.delete_topics(present, operation_timeout=timeout, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout + 5)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise BusError(f"kafka: could not delete topic {name!r}: {describe(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - the future timed out
            raise BusError(f"kafka: could not delete topic {name!r}: {describe(exc)}") from exc
