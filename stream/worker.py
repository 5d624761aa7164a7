"""The worker loop: posts.raw → classified → index + alerts.

Each stage is a consumer group on its topic that commits only after its
batch is written, so delivery is at-least-once; the writes are idempotent
(index documents keyed by post id, alert batches recognised by offset).
A record that cannot be processed goes to the dead-letter topic with its
reason; the rest of the batch goes on.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from yuqing.records import ClassifiedPost, Post, RecordError

from .bus import CLASSIFIED, RAW, Bus, BusError, Consumer, Message
from .index import IndexUnavailable, SearchIndex

log = logging.getLogger(__name__)

STAGES = ("classify", "index", "alerts")
GROUPS = {"classify": "classifier", "index": "indexer", "alerts": "alerts"}
TOPIC_OF = {"classify": RAW, "index": CLASSIFIED, "alerts": CLASSIFIED}


@dataclass
class StageStats:
    processed: int = 0
    dead_lettered: int = 0
    batches: int = 0


class ModelHolder:
    """The current classifier; a newer model file is picked up without a restart."""

    def __init__(self, path: Path, loader: Callable[[Path], object], check_every: float = 10.0):
        self.path, self.loader, self.check_every = Path(path), loader, check_every
        self._mtime = os.stat(self.path).st_mtime
        self.model = loader(self.path)
        self._checked = time.monotonic()

    def get(self):
        if time.monotonic() - self._checked >= self.check_every:
            self._checked = time.monotonic()
            try:
                mtime = os.stat(self.path).st_mtime
                if mtime != self._mtime:
                    self.model = self.loader(self.path)
                    self._mtime = mtime
                    log.info("loaded model %s", getattr(self.model, "version", "?"))
            except Exception:  # keep serving the model we have
                log.exception("could not reload the model from %s", self.path)
        return self.model


@dataclass
class Pipeline:
    bus: Bus
    index: Optional[SearchIndex] = None
    classifier: Optional[ModelHolder] = None
    engine: Optional[object] = None  # alerts.engine.AlertsEngine
    batch_size: int = 500
    #: per-stage batch sizes (else batch_size): the index writes one bulk request per batch
    #: and the alerts engine saves its rules' state once per batch, so bigger batches cost
    #: them less per post (the engine alone: 97 us of CPU per post at 2,000, 81 at 4,000);
    #: a poll returns what is there, so a small flow stays low-latency
    batch_sizes: dict[str, int] = field(default_factory=lambda: {"index": 1000, "alerts": 4000})
    #: how often the alerts stage lets rules judge their windows (engine.tick)
    tick_seconds: float = 60.0
    #: called as observe(stage, records) after a stage wrote its batch (benchmarks); the
    #: classify stage gives (post id, ClassifiedPost JSON) pairs
    observe: Optional[Callable[[str, list], None]] = None
    stats: dict[str, StageStats] = field(default_factory=lambda: {s: StageStats() for s in STAGES})
    _consumers: dict[str, Consumer] = field(default_factory=dict)

    def consumer(self, stage: str) -> Consumer:
        if stage not in self._consumers:
            self._consumers[stage] = self.bus.consumer(TOPIC_OF[stage], GROUPS[stage])
        return self._consumers[stage]

    def _dead(self, stage: str, msg: Message, reason: str) -> None:
        log.warning("%s: dead-lettering %s: %s", stage, msg.key, reason)
        self.bus.dead_letter(stage=stage, reason=reason, payload=msg.value, key=msg.key)
        self.stats[stage].dead_lettered += 1

    def _parse(self, stage: str, msgs: list[Message], record):
        out = []
        for msg in msgs:
            try:
                out.append((msg, record.from_json(msg.value)))
            except RecordError as exc:
                self._dead(stage, msg, exc.reason)
        return out

    # -- stages ---------------------------------------------------------------
    def classify_once(self, timeout: float = 0.2) -> int:
        consumer = self.consumer("classify")
        msgs = consumer.poll(self.batch_sizes.get("classify", self.batch_size), timeout)
        if not msgs:
            return 0
        parsed = self._parse("classify", msgs, Post)
        model = self.classifier.get()
        # the ClassifiedPost JSON straight from the predictions (no record objects made)
        try:
            classified = list(zip([p.id for _, p in parsed],
                                  model.classify_json([p for _, p in parsed])))
        except Exception:  # find the poison post(s) one by one
            log.exception("batch classification failed; retrying post by post")
            classified = []
            for msg, post in parsed:
                try:
                    classified.append((post.id, model.classify_json([post])[0]))
                except Exception as exc:
                    self._dead("classify", msg, f"classifier failed: {type(exc).__name__}: {exc}")
        for post_id, payload in classified:
            self.bus.publish(CLASSIFIED, post_id, payload)
        self.bus.flush()
        consumer.commit()
        self._count("classify", classified)
        return len(msgs)

    def index_once(self, timeout: float = 0.2) -> int:
        consumer = self.consumer("index")
        msgs = consumer.poll(self.batch_sizes.get("index", self.batch_size), timeout)
        if not msgs:
            return 0
        parsed = self._parse("index", msgs, ClassifiedPost)
        by_id = {p.id: m for m, p in parsed}
        failures = self.index.upsert([p for _, p in parsed])
        for failure in failures:
            self._dead("index", by_id[failure.post_id], f"index rejected: {failure.reason}")
        consumer.commit()
        rejected = {f.post_id for f in failures}
        self._count("index", [p for _, p in parsed if p.id not in rejected])
        return len(msgs)

    def alerts_once(self, timeout: float = 0.2) -> int:
        consumer = self.consumer("alerts")
        msgs = consumer.poll(self.batch_sizes.get("alerts", self.batch_size), timeout)
        if not msgs:
            return 0
        fresh = [m for m in msgs if not self.engine.is_applied(m.topic, m.partition, m.offset)]
        parsed = self._parse("alerts", fresh, ClassifiedPost)
        offsets: dict[str, int] = {}
        for m in fresh:
            k = f"{m.topic}:{m.partition}"
            offsets[k] = max(m.offset, offsets.get(k, -1))
        if fresh:
            self.engine.process([p for _, p in parsed], offsets=offsets)
        consumer.commit()
        self._count("alerts", [p for _, p in parsed])
        return len(msgs)

    def _count(self, stage: str, records: list) -> None:
        self.stats[stage].processed += len(records)
        self.stats[stage].batches += 1
        if self.observe is not None:
            self.observe(stage, records)

    # -- loops ----------------------------------------------------------------
    def step(self, stages=STAGES) -> int:
        done = 0
        for stage in stages:
            done += getattr(self, f"{stage}_once")()
        return done

    def drain(self, stages=STAGES, idle_rounds: int = 2) -> None:
        """Process until every stage has found nothing for `idle_rounds` rounds (tests, bench)."""
        idle = 0
        while idle < idle_rounds:
            idle = idle + 1 if self.step(stages) == 0 else 0

    def warm_up(self, stages=STAGES) -> None:
        """Load now what the first batch would otherwise load (the tokenizer's dictionary, the
        model's lookup tables), so that the first posts after a start wait no longer than the
        rest."""
        if "classify" in stages and self.classifier is not None:
            self.classifier.get().predict_batch(["小区停水三天了没人管"])
        if "index" in stages and self.index is not None:
            from classifier.tokenizer import tokenize

            tokenize("小区停水三天了没人管")

    def run(self, stop: threading.Event, stages=STAGES) -> None:
        """Loop until `stop` is set; finish the batch in hand, commit, and return."""
        self.warm_up(stages)
        backoff = 1.0
        last_tick = time.monotonic()
        while not stop.is_set():
            try:
                if self.step(stages) == 0:
                    stop.wait(0.2)
                backoff = 1.0
                if "alerts" in stages and time.monotonic() - last_tick >= self.tick_seconds:
                    last_tick = time.monotonic()
                    self.engine.tick()
            except (BusError, IndexUnavailable) as exc:  # a server is down: wait, retry, lose nothing
                log.error("%s (%s); retrying in %.0f s", type(exc).__name__, exc, backoff)
                self.close()  # new consumers resume from the committed offsets
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def close(self) -> None:
        for c in self._consumers.values():
            try:
                c.close()
            except Exception:  # closing against a server that is down
                log.warning("could not close a consumer cleanly", exc_info=True)
        self._consumers.clear()
