"""The main job as a newcomer runs it: `yuqing run --demo`, then the console."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from http.cookiejar import CookieJar
from urllib.request import HTTPCookieProcessor, build_opener

import pytest

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def main_job(tmp_path, model_path):
    port = free_port()
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path / "var"), "YUQING_MODEL_PATH": str(model_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "yuqing.cli", "run", "--demo", "--port", str(port), "--demo-speed", "4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    password = None
    deadline = time.monotonic() + 60
    while password is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"管理员账号：admin\s+密码：(\S+)", line)
        if m:
            password = m.group(1)
    assert password, "".join(lines[-30:])
    yield proc, port, password, lines
    if proc.poll() is None:
        proc.kill()


def test_demo_shows_posts_alerts_and_cases_within_a_minute(main_job):
    proc, port, password, lines = main_job
    base = f"http://127.0.0.1:{port}"
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}/auth/login", timeout=10).read().decode()
    token = CSRF.search(page).group(1)
    data = urllib.parse.urlencode({"username": "admin", "password": password, "csrf_token": token})
    opener.open(f"{base}/auth/login", data=data.encode(), timeout=10).read()
    started = time.monotonic()
    board = ""
    while time.monotonic() - started < 60:
        board = opener.open(f"{base}/", timeout=10).read().decode()
        if "任务 #" in board and "类舆情量激增" in board:
            break
        time.sleep(2)
    assert "任务 #" in board and "类舆情量激增" in board, board[-3000:]
    search = opener.open(f"{base}/search/?q=%E5%81%9C%E6%B0%B4", timeout=10).read().decode()
    assert "停水" in search
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
