"""The bus contract, run against SQLite and Kafka alike."""
from __future__ import annotations

import json
import time
import uuid

from stream.bus import CLASSIFIED, DEADLETTER, RAW, Message


def group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"  # Kafka groups are global: one per test


def drain(consumer, n: int, timeout: float = 20.0) -> list[Message]:
    """Poll until `n` messages came (a Kafka consumer needs a moment to join its group)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got.extend(consumer.poll(max_records=n - len(got), timeout=0.5))
    return got


def quiet(consumer, seconds: float = 1.5) -> list[Message]:
    """Whatever else arrives within `seconds` (expected: nothing)."""
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got.extend(consumer.poll(timeout=0.3))
    return got


def publish(bus, topic: str, items: list[tuple[str, dict]]) -> None:
    bus.publish_many(topic, [(k, json.dumps(v, ensure_ascii=False).encode("utf-8")) for k, v in items])


def test_round_trip_keeps_key_value_and_per_key_order(bus):
    items = [(f"post-{i % 3}", {"n": i, "text": f"第{i}条留言：小区停水"}) for i in range(9)]
    publish(bus, RAW, items)
    with bus.consumer(RAW, group()) as c:
        got = drain(c, 9)
        assert quiet(c) == []
    assert sorted((m.key, m.json()["n"]) for m in got) == sorted((k, v["n"]) for k, v in items)
    assert all(m.topic == RAW and m.timestamp is not None for m in got)
    for key in {k for k, _ in items}:  # one key's messages arrive in the order they were sent
        ns = [m.json()["n"] for m in got if m.key == key]
        assert ns == sorted(ns)
    assert got[0].json()["text"].endswith("小区停水")


def test_topics_are_separate(bus):
    publish(bus, RAW, [("a", {"t": "raw"})])
    publish(bus, CLASSIFIED, [("a", {"t": "classified"})])
    g = group()
    with bus.consumer(CLASSIFIED, g) as c:
        got = drain(c, 1)
        assert quiet(c, 1.0) == []
    assert [m.json() for m in got] == [{"t": "classified"}]


def test_uncommitted_batch_is_redelivered_to_the_next_member(bus):
    g = group()
    publish(bus, RAW, [(f"k{i}", {"n": i}) for i in range(5)])
    with bus.consumer(RAW, g) as first:  # crashes before commit
        assert len(drain(first, 5)) == 5
    with bus.consumer(RAW, g) as second:
        again = drain(second, 5)
        assert sorted(m.json()["n"] for m in again) == [0, 1, 2, 3, 4]  # at-least-once
        second.commit()
    assert bus.lag(RAW, g) == 0
    publish(bus, RAW, [("k5", {"n": 5}), ("k6", {"n": 6})])
    with bus.consumer(RAW, g) as third:
        fresh = drain(third, 2)
        assert sorted(m.json()["n"] for m in fresh) == [5, 6]  # the committed ones are not re-sent
        assert quiet(third) == []


def test_commit_covers_only_what_was_polled(bus):
    g = group()
    publish(bus, RAW, [("same-key", {"n": i}) for i in range(6)])  # one key: one partition, in order
    with bus.consumer(RAW, g) as c:
        head = drain(c, 2)
        assert [m.json()["n"] for m in head] == [0, 1]
        c.commit()
    assert bus.lag(RAW, g) == 4
    with bus.consumer(RAW, g) as c:
        rest = drain(c, 4)
        assert [m.json()["n"] for m in rest] == [2, 3, 4, 5]
        c.commit()
    assert bus.lag(RAW, g) == 0


def test_groups_are_independent(bus):
    g1, g2 = group(), group()
    publish(bus, RAW, [(f"k{i}", {"n": i}) for i in range(4)])
    with bus.consumer(RAW, g1) as c1:
        assert len(drain(c1, 4)) == 4
        c1.commit()
    assert bus.lag(RAW, g1) == 0
    assert bus.lag(RAW, g2) == 4
    with bus.consumer(RAW, g2) as c2:
        assert sorted(m.json()["n"] for m in drain(c2, 4)) == [0, 1, 2, 3]


def test_lag_counts_uncommitted_messages(bus):
    g = group()
    assert bus.lag(RAW, g) == 0
    publish(bus, RAW, [(f"k{i}", {"n": i}) for i in range(3)])
    assert bus.lag(RAW, g) == 3  # a group that never committed owes everything
    with bus.consumer(RAW, g) as c:
        assert len(drain(c, 3)) == 3
        assert bus.lag(RAW, g) == 3  # polled is not done
        c.commit()
    assert bus.lag(RAW, g) == 0
    publish(bus, RAW, [("k9", {"n": 9})])
    assert bus.lag(RAW, g) == 1


def test_dead_letter_keeps_reason_and_undecodable_payload(bus):
    bus.dead_letter(stage="classify", reason="payload is not valid UTF-8", payload=b"\xff\xfe{bad",
                    key="post-1")
    bus.dead_letter(stage="index", reason="rejected", payload={"id": "post-2", "text": "停水"})
    with bus.consumer(DEADLETTER, group()) as c:
        letters = drain(c, 2)
    by_stage = {m.json()["stage"]: m for m in letters}
    first = by_stage["classify"].json()
    assert by_stage["classify"].key == "post-1"
    assert first["reason"] == "payload is not valid UTF-8"
    assert bytes.fromhex(first["payload"]["undecodable_hex"]) == b"\xff\xfe{bad"
    assert by_stage["index"].json()["payload"] == {"id": "post-2", "text": "停水"}
    assert by_stage["index"].key is None


def test_a_new_members_first_short_poll_returns_what_is_waiting(bus):
    """Drain loops stop at the first empty poll: joining the group must not look like 'empty'."""
    publish(bus, CLASSIFIED, [(f"k{i}", {"n": i}) for i in range(3)])
    with bus.consumer(CLASSIFIED, group()) as c:
        first = c.poll(max_records=10, timeout=0.2)
        rest = drain(c, 3 - len(first), timeout=5) if len(first) < 3 else []
    assert first, "the first poll came back empty"
    assert sorted(m.json()["n"] for m in first + rest) == [0, 1, 2]
