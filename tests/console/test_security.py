"""Headers, cookies and escaping that every page must have."""
from __future__ import annotations

from .conftest import login


def test_security_headers(client):
    resp = client.get("/auth/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_no_inline_script_or_style(client_as, make_case):
    make_case()
    c = client_as("admin")
    for url in ("/", "/search/", "/cases/", "/cases/1", "/cases/1/audit", "/auth/users"):
        html = c.get(url).get_data(as_text=True)
        assert "<script" not in html, url
        assert "style=" not in html and "<style" not in html, url


def test_session_cookie_flags(client, users):
    resp = login(client, "duty")
    cookies = [v for k, v in resp.headers.items() if k.lower() == "set-cookie"]
    session = [c for c in cookies if c.startswith("yuqing_session=")]
    assert session
    assert "HttpOnly" in session[0] and "SameSite=Lax" in session[0]


def test_static_css_served(client):
    resp = client.get("/static/console.css")
    assert resp.status_code == 200 and b".sev-red" in resp.data


def test_error_pages_in_chinese(client_as):
    c = client_as("duty")
    resp = c.get("/cases/9999")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
