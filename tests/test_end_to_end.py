"""End to end, the demo site served locally → crawl → classify → index → alert → case,
seen and closed through the console; on the embedded default (SQLite bus, index and store)
and at scale (Kafka, Elasticsearch and PostgreSQL: a topic prefix, an index prefix and a
case-store schema of its own)."""
import re
import time

import pytest
from sqlalchemy import select

from alerts.case.models import AuditRow, CaseRow
from alerts.models import AlertRow
from console import create_app
from console.auth.service import create_user
from crawlers.demo.site import DemoSite
from crawlers.runner import crawl_in_subprocess
from stream import CLASSIFIED, DEADLETTER, RAW
from stream.index import SearchQuery
from stream.worker import GROUPS, TOPIC_OF
from tests.servers import unavailable, unique
from yuqing.config import REPO_ROOT, Settings
from yuqing.db import Database
from yuqing.run import DEMO_SOURCES, build_pipeline

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=["embedded", pytest.param("scale", marks=pytest.mark.servers)])
def backends(request, tmp_path):
    """Settings for one set of backends; what the at-scale run made is removed after."""
    base = dict(data_dir=tmp_path / "var", config_dir=REPO_ROOT / "config", secret_key="e2e-secret")
    if request.param == "embedded":
        yield base
        return
    for what, problem in (("Kafka", request.getfixturevalue("kafka_reachable")),
                          ("Elasticsearch", request.getfixturevalue("elasticsearch_reachable"))):
        if problem:
            unavailable(what, problem)
    from stream.es_index import ElasticsearchIndex
    from stream.kafka_bus import delete_topics, ensure_topics

    settings = Settings(**base, bus_backend="kafka", index_backend="elasticsearch",
                        kafka_topic_prefix=unique("."), elasticsearch_index_prefix=unique(""),
                        database_url=request.getfixturevalue("pg_url"))
    ensure_topics(settings, partitions=settings.kafka_partitions, retention_ms=3600_000)
    try:
        yield {**base, **{k: getattr(settings, k) for k in (
            "bus_backend", "index_backend", "kafka_topic_prefix", "elasticsearch_index_prefix",
            "database_url")}}
    finally:
        delete_topics(settings)
        index = ElasticsearchIndex(settings)
        index.drop()
        index.close()


def drain(pipeline) -> None:
    """Run the stages until no group has anything left to read (Kafka's consumers may come
    back empty once while a fetch is under way: lag is the judge, not one empty round)."""
    deadline = time.monotonic() + 180
    while True:
        pipeline.drain()
        if all(pipeline.bus.lag(TOPIC_OF[stage], GROUPS[stage]) == 0 for stage in GROUPS):
            break
        assert time.monotonic() < deadline, "the pipeline did not drain in 3 minutes"
    pipeline.index.refresh()


@pytest.fixture
def world(backends, model_path):
    settings = Settings(**backends, model_path=model_path)
    db = Database(settings.case_db_url)
    # speed 20: the demo's first 80 s (watch-list post, then the 15-post burst) pass in 4 s
    with DemoSite(speed=20) as site:
        time.sleep(4)
        for name in ("demo_news", "demo_board", "demo_feed"):
            stats = crawl_in_subprocess(name, sources_dir=DEMO_SOURCES, settings=settings,
                                        demo_url=site.url, timeout=120)
            assert stats["published"] > 0, stats
        released = len(site.released())
    pipeline = build_pipeline(settings, db)
    drain(pipeline)
    yield settings, db, pipeline, released
    pipeline.close()
    pipeline.bus.close()
    pipeline.index.close()
    db.dispose()


def login(client, username, password):
    token = CSRF.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    resp = client.post("/auth/login", data={"username": username, "password": password,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_demo_to_closed_case(world):
    settings, db, pipeline, released = world
    index = pipeline.index
    scale = settings.bus_backend == "kafka"
    assert type(pipeline.bus).__name__ == ("KafkaBus" if scale else "SQLiteBus")
    assert type(index).__name__ == ("ElasticsearchIndex" if scale else "SQLiteIndex")
    assert db.engine.dialect.name == ("postgresql" if scale else "sqlite")
    # every released post was crawled, classified and indexed (the feed repeats some: one doc each)
    assert index.count() >= 40 and index.count() <= released
    assert pipeline.bus.count(DEADLETTER) == 0
    assert pipeline.bus.count(RAW) >= index.count() and pipeline.bus.count(CLASSIFIED) >= index.count()
    water = index.search(SearchQuery(text="停水"))
    assert water.total >= 10
    assert water.facets["topics"].get("utilities", 0) >= 10

    with db.session() as s:
        alerts = s.scalars(select(AlertRow)).all()
        rules = {a.rule for a in alerts}
        assert "watchlist" in rules, rules               # the 中毒 post
        assert "topic_volume_spike" in rules, rules      # the 停水 burst
        spike = next(a for a in alerts if a.rule == "topic_volume_spike" and a.topic == "utilities")
        case = s.scalar(select(CaseRow).where(CaseRow.event_id == spike.event_id))
        assert case is not None and case.status == "collecting"
        case_id, department = case.id, case.owner_department

    app = create_app({"SETTINGS": settings, "DATABASE": db, "INDEX": index})
    with db.session() as s:
        create_user(s, username="duty", password="duty-pass-123", role="duty_officer")
    client = app.test_client()
    assert client.get("/").status_code == 302  # login first
    login(client, "duty", "duty-pass-123")
    board = client.get("/").get_data(as_text=True)
    assert "类舆情量激增" in board
    cases = client.get("/cases/").get_data(as_text=True)
    assert department in cases
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "停水" in page  # the evidence posts, from the index
    token = CSRF.search(page).group(1)
    resp = client.post(f"/cases/{case_id}/close", data={
        "csrf_token": token, "response_text": "已协调供水公司抢修，当晚恢复供水。",
        "response_url": ""})
    assert resp.status_code == 302
    with db.session() as s:
        assert s.get(CaseRow, case_id).status == "closed"
        assert s.scalar(select(AuditRow.actor).where(AuditRow.case_id == case_id,
                                                     AuditRow.action == "case.close")) == "duty"
