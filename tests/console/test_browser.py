"""The console in headless Chromium: log in, see the board, work a case to its close.

Screenshots land in tests/artifacts/ (gitignored). Without /usr/bin/chromium the
test is skipped locally and fails in CI (env CI set).
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from console.server import create_server
from yuqing.records import Severity

from .conftest import PASSWORD, make_post

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("YUQING_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _need(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (required in CI)")
        pytest.skip(why)


@pytest.fixture
def live_server(app):
    server = create_server(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    _need(executable is not None, f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        _need(False, "playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield b
        b.close()


def test_login_board_case_note_close(live_server, browser, users, make_case, index_posts, db):
    ARTIFACTS.mkdir(exist_ok=True)
    posts = [make_post(title="江宁区某小区停水三天无人处理", author="王小明",
                       text="小区停水已经三天，物业电话13812345678打不通，居民生活困难。"),
             make_post(title="<script>alert(1)</script>停水求助", text="求助：停水何时恢复？"),
             make_post(title="停水问题持续发酵", text="多个小区居民反映停水", source="本地新闻网",
                       source_type="news")]
    case_id = make_case(severity=Severity.II, posts=posts)
    make_case(topic="education", region="鼓楼区", severity=Severity.III)
    index_posts(make_post(title="公交线路调整引发关注", topics=("transport",), sentiment="neutral"),
                make_post(title="醫院門口停車難", text="醫院門口停車難，排隊一小時", topics=("healthcare",)))
    from alerts.models import AlertRow
    from yuqing.db import now_utc
    with db.session() as s:  # the education alert's condition has cleared
        s.query(AlertRow).filter(AlertRow.topic == "education").update({"recovered_at": now_utc()})

    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))

    page.goto(f"{live_server}/")
    assert "/auth/login" in page.url
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.fill("input[name=username]", "duty")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{live_server}/")
    assert page.locator("h1").inner_text() == "预警看板"
    assert page.locator(".badge.sev-orange").first.inner_text() == "II级 重大"
    assert page.locator(".status-recovered").count() == 1
    page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)

    page.goto(f"{live_server}/search/?q=停水")
    assert page.locator("script").count() == 0               # the title is text, not markup
    assert "&amp;lt;" not in page.content()                  # and not escaped twice
    assert page.get_by_text("<script>alert(1)</script>停水求助").count() == 1
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
    page.goto(f"{live_server}/search/?q=医院")  # simplified finds and marks traditional
    assert page.locator("mark").first.inner_text() == "醫院"
    assert page.get_by_text("醫院門口停車難").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "search_traditional.png"), full_page=True)

    page.goto(f"{live_server}/cases/")
    assert page.locator("tbody tr").count() == 2
    page.screenshot(path=str(ARTIFACTS / "cases.png"), full_page=True)

    page.goto(f"{live_server}/")
    page.click(f"a[href='/cases/{case_id}']")
    page.wait_for_url(f"{live_server}/cases/{case_id}")
    assert "138****5678" in page.content() and "13812345678" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)

    page.fill("textarea[name=text]", "已联系区供水公司，抢修队伍已到场。")
    page.click("button:has-text('添加记录')")
    assert page.locator(".flash-success").inner_text() == "已添加处置记录"
    assert page.get_by_text("已联系区供水公司，抢修队伍已到场。").count() == 1

    page.click("button:has-text('办结')")                 # no response: refused
    assert "办结须录入回应内容或回应链接" in page.locator(".flash-error").inner_text()
    page.fill("textarea[name=response_text]", "区供水公司已发布抢修进展通报，供水已于今日恢复。")
    page.fill("input[name=response_url]", "https://gov.example.cn/notice/2026/1")
    page.click("button:has-text('办结')")
    assert page.locator(".flash-success").inner_text() == "任务已办结"
    assert page.locator(".status-closed").first.inner_text() == "已办结"
    page.screenshot(path=str(ARTIFACTS / "case_closed.png"), full_page=True)

    page.click("a:has-text('审计日志')")
    assert page.locator("td:has-text('办结')").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)
    context.close()
    assert problems == []


def test_correct_a_post_and_see_the_model_card(live_server, browser, users, index_posts,
                                               settings, model_path, classifier_model):
    ARTIFACTS.mkdir(exist_ok=True)
    settings.model_path = model_path
    [post] = index_posts(make_post(title="小区停水", text="湖滨街道小区停水三天了没人管",
                                   topics=("housing",), sentiment="neutral"))
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server}/auth/login")
    page.fill("input[name=username]", "news")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{live_server}/")

    page.goto(f"{live_server}/corrections/post/{post.id}")
    page.uncheck("input[name=topics][value=housing]")
    page.check("input[name=topics][value=utilities]")
    page.check("input[name=sentiment][value=negative]")
    page.click("button:has-text('保存纠正')")
    page.click("nav a:has-text('纠正记录')")
    page.wait_for_url(f"{live_server}/corrections/")
    card = page.locator("#model-card")
    assert classifier_model.version in card.inner_text()
    assert "此后新增纠正 1 条" in card.inner_text()
    assert card.locator("tbody tr").count() == 3            # test split and two post sets
    assert page.locator("td:has-text('湖滨街道')").count() == 1
    page.screenshot(path=str(ARTIFACTS / "corrections.png"), full_page=True)
    context.close()
    assert problems == []
