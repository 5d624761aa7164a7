"""The message bus interface shared by the SQLite and Kafka backends.

Topics carry JSON records keyed by post id. Consumers belong to groups; a
group's position moves only when it calls `commit()` after the batch it polled
has been processed and written, so delivery is at-least-once: a crash between
poll and commit re-delivers the batch, and every consumer writes idempotently.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

#: Topic names; a deployment may prefix them (settings.kafka_topic_prefix).
RAW = "posts.raw"
CLASSIFIED = "posts.classified"
DEADLETTER = "posts.deadletter"
TOPICS = (RAW, CLASSIFIED, DEADLETTER)


class BusError(RuntimeError):
    """The bus could not publish or consume (the server is down, say)."""


@dataclass(frozen=True)
class Message:
    topic: str
    key: Optional[str]
    value: bytes
    offset: int
    partition: int = 0
    timestamp: Optional[datetime] = None

    def json(self) -> Any:
        return json.loads(self.value.decode("utf-8"))


class Consumer(ABC):
    """One member of a consumer group on one topic."""

    @abstractmethod
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        """Return up to max_records messages after this consumer's position."""

    @abstractmethod
    def commit(self) -> None:
        """Make everything returned by poll() so far the group's position."""

    def close(self) -> None:  # pragma: no cover - trivial
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bus(ABC):
    @abstractmethod
    def publish(self, topic: str, key: Optional[str], value: bytes) -> None:
        """Queue one message; it is durable once flush() returns."""

    @abstractmethod
    def flush(self) -> None:
        """Block until every published message is durable."""

    @abstractmethod
    def consumer(self, topic: str, group: str) -> Consumer:
        """A consumer in `group`, positioned at the group's committed offset."""

    def lag(self, topic: str, group: str) -> int:
        """Messages on `topic` that `group` has not committed yet (for status pages)."""
        return 0

    def close(self) -> None:
        pass

    def publish_many(self, topic: str, items: list[tuple[Optional[str], bytes]]) -> None:
        for key, value in items:
            self.publish(topic, key, value)
        self.flush()

    def dead_letter(self, *, stage: str, reason: str, payload: bytes | str | dict,
                    key: Optional[str] = None) -> None:
        """Send a record that could not be processed to the dead-letter topic.

        The original payload is kept as text (bytes that are not UTF-8 are kept
        with replacement characters plus their hex, so nothing is lost).
        """
        if isinstance(payload, bytes):
            try:
                kept: Any = payload.decode("utf-8")
            except UnicodeDecodeError:
                kept = {"undecodable_hex": payload.hex(),
                        "text": payload.decode("utf-8", errors="replace")}
        else:
            kept = payload
        letter = {
            "stage": stage,
            "reason": reason,
            "payload": kept,
            "at": datetime.now(timezone.utc).isoformat(),
        }
        self.publish(DEADLETTER, key, json.dumps(letter, ensure_ascii=False).encode("utf-8"))
        self.flush()
