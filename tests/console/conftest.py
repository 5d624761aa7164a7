"""Fixtures for the console: a real app on a case store (a tmp SQLite file, and a PostgreSQL
schema: every test runs on both) and a real SQLiteIndex."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from typing import Optional

import pytest
from werkzeug.security import generate_password_hash

from alerts.case.service import open_case
from alerts.deadlines import Clocks
from alerts.models import AlertRow, EventPostRow, EventRow
from alerts.routing import RoutingTable
from console import create_app
from console.auth.models import User
from stream.sqlite_index import SQLiteIndex
from yuqing.config import REPO_ROOT, Settings
from yuqing.db import Database
from yuqing.records import ClassifiedPost, Sentiment, Severity, TopicScore, post_id_for

PASSWORD = "correct-horse-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
_seq = itertools.count(1)

#: username -> (role, department); make_case's default route is 江宁区城市管理局 (+ 市城市管理局)
USERS = {
    "admin": ("admin", None),
    "news": ("news_center", None),
    "duty": ("duty_officer", None),
    "jn_city": ("department", "江宁区城市管理局"),
    "city_mgmt": ("department", "市城市管理局"),
    "edu": ("department", "市教育局"),
    "leader": ("leader", None),
}


@pytest.fixture
def settings(tmp_path, case_db_url) -> Settings:
    return Settings(data_dir=tmp_path / "var", config_dir=REPO_ROOT / "config",
                    secret_key="test-secret-key",
                    database_url=None if case_db_url.startswith("sqlite") else case_db_url)


@pytest.fixture
def db(settings):
    database = Database(settings.case_db_url)
    yield database
    database.dispose()


@pytest.fixture
def index(settings):
    idx = SQLiteIndex(settings.index_db_path)
    yield idx
    idx.close()


@pytest.fixture
def routing(settings) -> RoutingTable:
    return RoutingTable.load(settings.config_file("routing.yaml"))


@pytest.fixture
def clocks(settings) -> Clocks:
    return Clocks.load(settings.config_file("deadlines.yaml"))


@pytest.fixture
def app(settings, db, index, routing):
    app = create_app({"TESTING": True, "SETTINGS": settings, "DATABASE": db, "INDEX": index,
                      "ROUTING": routing})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


#: a cheap hash for the fixture users (the default scrypt costs ~0.25 s per check)
_FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@pytest.fixture
def users(db) -> dict[str, str]:
    """One user per role (see USERS), all with PASSWORD; create_user is tested in test_auth."""
    with db.session() as s:
        for name, (role, dept) in USERS.items():
            s.add(User(username=name, password_hash=_FAST_HASH, role=role, department=dept,
                       display_name=f"测试{name}", active=True))
    return {name: role for name, (role, _d) in USERS.items()}


def csrf_from(html: str | bytes) -> str:
    if isinstance(html, bytes):
        html = html.decode("utf-8")
    m = CSRF_RE.search(html)
    assert m, "no csrf_token in the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_from(client.get("/auth/login").data)
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token})


@pytest.fixture
def client_as(app, users):
    """A fresh test client logged in as `username`."""
    def _as(username: str):
        c = app.test_client()
        resp = login(c, username)
        assert resp.status_code == 302, resp.data
        return c
    return _as


def post_form(client, page: str, action: str, data: dict):
    """POST `data` to `action` with the CSRF token taken from `page`'s form."""
    token = csrf_from(client.get(page).data)
    return client.post(action, data={**data, "csrf_token": token})


def make_post(*, title: str = "", text: str = "江宁区某小区停水三天无人处理", topics=("utilities",),
              sentiment: str = "negative", source: str = "市长信箱", source_type: str = "board",
              author: Optional[str] = "王小明", url: Optional[str] = None,
              at: Optional[datetime] = None, region=("江宁区",)) -> ClassifiedPost:
    n = next(_seq)
    url = url if url is not None else f"https://bbs.example.cn/thread/{n}"
    at = at or datetime.now(timezone.utc) - timedelta(seconds=n % 600)
    return ClassifiedPost(
        id=post_id_for(f"https://bbs.example.cn/thread/{n}"), source=source, source_type=source_type,
        url=url or None, title=title or f"测试帖子{n}", text=text, author=author, published_at=at,
        fetched_at=at, region=list(region), topics=[TopicScore(code=t, score=0.9) for t in topics],
        sentiment=Sentiment(label=sentiment, score=0.8), model_version="test",
    )


@pytest.fixture
def index_posts(index):
    def _index(*posts: ClassifiedPost) -> list[ClassifiedPost]:
        assert not index.upsert(posts)
        index.refresh()
        return list(posts)
    return _index


@pytest.fixture
def make_case(db, routing, clocks, index_posts):
    """Index posts, then record an event, an alert on them and its case; return the case id."""
    def _make(*, topic: str = "utilities", region: str = "江宁区", severity: Severity = Severity.III,
              posts: Optional[list[ClassifiedPost]] = None, kind: str = "opinion",
              opened_at: Optional[datetime] = None, title: Optional[str] = None) -> int:
        posts = posts if posts is not None else [make_post(topics=(topic,), region=(region,))
                                                  for _ in range(3)]
        if posts:
            index_posts(*posts)
        n = next(_seq)
        now = opened_at or datetime.now(timezone.utc)
        first = min(posts, key=lambda p: p.published_at) if posts else None
        with db.session() as s:
            event = EventRow(
                id=f"ev-{n}", key=f"volume_spike:{topic}:{region}",
                title=title or (first.title if first else f"事件{n}"), topic=topic, region=region,
                first_post_id=first.id if first else None,
                first_poster=first.author if first else None,
                first_seen_at=first.published_at if first else now, last_seen_at=now,
                post_count=len(posts),
            )
            event.posts = [EventPostRow(post_id=p.id) for p in posts]
            s.add(event)
            s.add(AlertRow(id=f"al-{n}", rule="volume_spike", key=event.key,
                           severity=severity.value, topic=topic,
                           region=region, evidence=[p.id for p in posts], created_at=now,
                           event_id=event.id, summary=f"{region}{topic}相关信息激增"))
            s.flush()
            case = open_case(s, event=event, severity=severity, kind=kind,
                             route=routing.route(topic, region), clocks=clocks, now=now)
            return case.id
    return _make
