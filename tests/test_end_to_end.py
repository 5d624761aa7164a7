"""End to end on the embedded default: the demo site served locally → crawl →
classify → index → alert → case, seen and closed through the console."""
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
from stream import DEADLETTER
from stream.index import SearchQuery
from yuqing.config import REPO_ROOT, Settings
from yuqing.db import Database
from yuqing.run import DEMO_SOURCES, build_pipeline

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def world(tmp_path, model_path):
    settings = Settings(data_dir=tmp_path / "var", config_dir=REPO_ROOT / "config",
                        model_path=model_path, secret_key="e2e-secret")
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
    pipeline.drain()
    yield settings, db, pipeline, released
    pipeline.close()
    db.dispose()


def login(client, username, password):
    token = CSRF.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    resp = client.post("/auth/login", data={"username": username, "password": password,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_demo_to_closed_case(world):
    settings, db, pipeline, released = world
    index = pipeline.index
    # every released post was crawled, classified and indexed (the feed repeats some: one doc each)
    assert index.count() >= 40 and index.count() <= released
    assert pipeline.bus.count(DEADLETTER) == 0
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
