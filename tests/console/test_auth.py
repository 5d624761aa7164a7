"""Login, logout, roles, CSRF, the admin's user page and the first-admin bootstrap."""
from __future__ import annotations

from sqlalchemy import select

from alerts.case.models import AuditRow
from console.auth.models import User
from console.auth.service import ensure_admin

from .conftest import PASSWORD, csrf_from, login, post_form


def test_pages_require_login(client, users):
    for url in ("/", "/search/", "/cases/", "/cases/1", "/auth/users"):
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert "/auth/login" in resp.headers["Location"]


def test_login_page_renders_chinese(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert "登录" in html and 'name="csrf_token"' in html


def test_wrong_password_refused(client, users):
    resp = login(client, "duty", "wrong-password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_refused(client, users):
    assert login(client, "nobody", PASSWORD).status_code == 401


def test_login_then_logout(client, users):
    resp = login(client, "duty")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    resp = post_form(client, "/", "/auth/logout", {})
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


def test_inactive_user_refused(client, users, db):
    with db.session() as s:
        s.scalar(select(User).where(User.username == "duty")).active = False
    assert login(client, "duty").status_code == 401


def test_login_next_is_local_only(client, users):
    token = csrf_from(client.get("/auth/login").data)
    resp = client.post("/auth/login?next=//evil.example/x",
                       data={"username": "duty", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"
    client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/").data)})
    token = csrf_from(client.get("/auth/login").data)
    resp = client.post("/auth/login?next=/cases/",
                       data={"username": "duty", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/cases/"


def test_post_without_csrf_token_rejected(client, users):
    resp = client.post("/auth/login", data={"username": "duty", "password": PASSWORD})
    assert resp.status_code == 400
    assert "安全校验" in resp.get_data(as_text=True)


def test_passwords_are_hashed(db, users):
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == "duty"))
        assert PASSWORD not in user.password_hash
        assert user.check_password(PASSWORD)


def test_users_page_admin_only(client_as):
    assert client_as("admin").get("/auth/users").status_code == 200
    for name in ("news", "duty", "jn_city", "leader"):
        assert client_as(name).get("/auth/users").status_code == 403, name


def test_admin_creates_user_audited(client_as, db):
    c = client_as("admin")
    resp = post_form(c, "/auth/users", "/auth/users", {
        "username": "zhang", "display_name": "张三", "password": "long-enough-1",
        "role": "department", "department": "市教育局"})
    assert resp.status_code == 302
    html = c.get("/auth/users").get_data(as_text=True)
    assert "zhang" in html and "市教育局" in html
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == "zhang"))
        assert user.role == "department" and user.department == "市教育局"
        row = s.scalars(select(AuditRow).where(AuditRow.action == "user.create")
                        .order_by(AuditRow.id.desc())).first()
        assert row.actor == "admin" and row.detail["username"] == "zhang"
    new = c.application.test_client()
    assert login(new, "zhang", "long-enough-1").status_code == 302


def test_create_user_errors_shown(client_as):
    c = client_as("admin")
    resp = post_form(c, "/auth/users", "/auth/users", {
        "username": "x1", "password": "short", "role": "duty_officer"})
    assert resp.status_code == 400 and "密码至少 8 位" in resp.get_data(as_text=True)
    resp = post_form(c, "/auth/users", "/auth/users", {
        "username": "dept2", "password": "long-enough-1", "role": "department"})
    assert resp.status_code == 400 and "须指定所属部门" in resp.get_data(as_text=True)
    resp = post_form(c, "/auth/users", "/auth/users", {
        "username": "duty", "password": "long-enough-1", "role": "duty_officer"})
    assert resp.status_code == 400 and "已存在" in resp.get_data(as_text=True)


def test_ensure_admin_once(db, app):
    password = ensure_admin(db)
    assert password and len(password) >= 12
    assert ensure_admin(db) is None
    c = app.test_client()
    assert login(c, "admin", password).status_code == 302
    with db.session() as s:
        assert s.scalar(select(User).where(User.username == "admin")).role == "admin"
