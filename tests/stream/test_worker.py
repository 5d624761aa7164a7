"""The worker loop on the embedded backends, with the real classifier and engine."""
import json
import threading
import time

import pytest
from sqlalchemy import func, select

from alerts.case.models import CaseRow
from alerts.engine import AlertsEngine
from alerts.models import AlertRow
from stream import CLASSIFIED, DEADLETTER, RAW
from stream.index import SearchQuery
from stream.sqlite_bus import SQLiteBus
from stream.sqlite_index import SQLiteIndex
from stream.worker import ModelHolder, Pipeline
from yuqing.config import Settings
from yuqing.db import Database
from yuqing.records import Post, post_id_for


def raw_post(n: int, text: str = "小区停水三天了没人管，居民生活很不方便") -> Post:
    url = f"https://board.test/msg/{n}"
    return Post(id=post_id_for(url), source="board", source_type="board", url=url,
                title=f"留言{n}", text=text, author="网友王**")


@pytest.fixture
def pipeline(tmp_path, model_path):
    from classifier.model import Classifier

    settings = Settings(data_dir=tmp_path)
    db = Database(settings.case_db_url)
    p = Pipeline(bus=SQLiteBus(settings.bus_db_path), index=SQLiteIndex(settings.index_db_path),
                 classifier=ModelHolder(model_path, Classifier.load),
                 engine=AlertsEngine.from_settings(settings, db), batch_size=50)
    p.db = db
    yield p
    p.close()
    db.dispose()


def dead_letters(bus):
    return [m.json() for m in bus.read_all(DEADLETTER)]


def test_posts_flow_to_index_and_alerts(pipeline):
    bus = pipeline.bus
    for i in range(12):
        bus.publish(RAW, raw_post(i).id, raw_post(i).to_json())
    bus.flush()
    pipeline.drain()
    assert pipeline.index.count() == 12
    hit = pipeline.index.search(SearchQuery(text="停水")).hits[0]
    assert "utilities" in [t["code"] for t in hit["topics"]]
    with pipeline.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AlertRow)) >= 1
        assert s.scalar(select(func.count()).select_from(CaseRow)) >= 1
    assert bus.lag(RAW, "classifier") == 0 and bus.lag(CLASSIFIED, "alerts") == 0


def test_bad_records_go_to_dead_letters_and_the_rest_goes_on(pipeline):
    bus = pipeline.bus
    bus.publish(RAW, "a", b"\xff\xfe garbage")
    bus.publish(RAW, "b", json.dumps({"id": "short"}).encode())
    bus.publish(RAW, raw_post(1).id, raw_post(1).to_json())
    bus.publish(CLASSIFIED, "c", b"{broken json")
    bus.flush()
    pipeline.drain()
    letters = dead_letters(bus)
    reasons = sorted(f"{d['stage']}: {d['reason']}" for d in letters)
    assert any("classify: payload is not valid UTF-8" in r for r in reasons)
    assert any(r.startswith("classify: Post.") for r in reasons)
    assert sum(d["stage"] == "index" for d in letters) == 1
    assert sum(d["stage"] == "alerts" for d in letters) == 1
    undecodable = next(d for d in letters if "UTF-8" in d["reason"])
    assert undecodable["payload"]["undecodable_hex"] == b"\xff\xfe garbage".hex()
    assert pipeline.index.count() == 1


class _PoisonedModel:
    """The real model, except that it fails on any batch holding a post with `poison`."""

    def __init__(self, model, poison):
        self.model, self.poison = model, poison

    def classify_json(self, posts):
        if any(self.poison in p.text for p in posts):
            raise ValueError("cannot classify this one")
        return self.model.classify_json(posts)


def test_a_post_the_classifier_fails_on_is_dead_lettered_and_the_batch_goes_on(pipeline):
    model = pipeline.classifier.get()
    pipeline.classifier.get = lambda: _PoisonedModel(model, "毒")
    bus = pipeline.bus
    posts = [raw_post(1), raw_post(2, text="这条留言带毒"), raw_post(3)]
    for p in posts:
        bus.publish(RAW, p.id, p.to_json())
    bus.flush()
    pipeline.drain()
    letters = dead_letters(bus)
    assert [(d["stage"], d["reason"]) for d in letters] == [
        ("classify", "classifier failed: ValueError: cannot classify this one")]
    assert pipeline.index.count() == 2
    assert pipeline.index.get(posts[1].id) is None
    assert bus.lag(RAW, "classifier") == 0


def test_crash_mid_batch_redelivers_and_writes_stay_idempotent(pipeline, tmp_path):
    bus = pipeline.bus
    for i in range(5):
        bus.publish(RAW, raw_post(i).id, raw_post(i).to_json())
    bus.flush()
    pipeline.classify_once()
    pipeline.index_once()
    # the alerts stage processes its batch but "crashes" before committing the bus offset
    consumer = pipeline.consumer("alerts")
    msgs = consumer.poll(50, 0.5)
    posts_offsets = {f"{m.topic}:{m.partition}": m.offset for m in msgs}
    from yuqing.records import ClassifiedPost

    pipeline.engine.process([ClassifiedPost.from_json(m.value) for m in msgs], offsets=posts_offsets)
    consumer.close()
    pipeline._consumers.pop("alerts")
    # a restarted worker gets the same batch again, and republished posts too
    for i in range(5):
        bus.publish(RAW, raw_post(i).id, raw_post(i).to_json())
    bus.flush()
    settings = Settings(data_dir=tmp_path)
    pipeline.engine = AlertsEngine.from_settings(settings, pipeline.db)
    pipeline.drain()
    assert pipeline.index.count() == 5
    # the rule windows counted each of the 5 posts once: not the redelivered batch,
    # not the republished copies
    spike = pipeline.engine.by_name["topic_volume_spike"]
    assert sum(spike.buckets["utilities|"].values()) == 5


def test_index_outage_loses_nothing(pipeline):
    """The index refuses a batch: the worker backs off, and the batch comes again."""
    from stream.index import IndexUnavailable

    bus = pipeline.bus
    for i in range(3):
        bus.publish(RAW, raw_post(i).id, raw_post(i).to_json())
    bus.flush()
    real_upsert, calls = pipeline.index.upsert, []

    def flaky(posts):
        calls.append(len(posts))
        if len(calls) == 1:
            raise IndexUnavailable("index is down")
        return real_upsert(posts)

    pipeline.index.upsert = flaky
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,))
    worker.start()
    deadline = time.monotonic() + 30
    while pipeline.index.count() < 3 and time.monotonic() < deadline:
        stop.wait(0.2)
    stop.set()
    worker.join(10)
    assert calls[:2] == [3, 3] and pipeline.index.count() == 3


def test_warm_up_loads_the_tokenizer_and_consumes_nothing(pipeline):
    import classifier.tokenizer as tok

    bus = pipeline.bus
    bus.publish(RAW, raw_post(1).id, raw_post(1).to_json())
    bus.flush()
    pipeline.warm_up()
    assert tok._cut is not None
    assert bus.lag(RAW, "classifier") == 1  # nothing polled, nothing committed
    pipeline.drain()
    assert pipeline.stats["classify"].processed == 1
