"""The main job: crawls on their schedules, the worker, the clocks and the console.

On one machine everything runs in this process (crawls in child processes,
since Scrapy's reactor runs once per process). At scale each part runs as
its own service: `yuqing worker --stage ...`, `yuqing console`, and `yuqing run`
without a console for the scheduler (see docker-compose.yml).
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone
from typing import Optional

from yuqing.config import REPO_ROOT, Settings
from yuqing.db import Database

log = logging.getLogger("yuqing.run")

DEMO_SOURCES = REPO_ROOT / "crawlers" / "demo" / "sources"


def build_pipeline(settings: Settings, db: Database, stages=("classify", "index", "alerts")):
    from alerts.engine import AlertsEngine
    from classifier.model import Classifier
    from stream import make_bus, make_index
    from stream.worker import ModelHolder, Pipeline

    if not settings.model_file.exists():
        raise SystemExit(f"模型文件不存在：{settings.model_file}。请先运行 `yuqing train`。")
    return Pipeline(
        bus=make_bus(settings),
        index=make_index(settings) if "index" in stages else None,
        classifier=ModelHolder(settings.model_file, Classifier.load) if "classify" in stages else None,
        engine=AlertsEngine.from_settings(settings, db) if "alerts" in stages else None,
    )


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, _frame):
        log.info("signal %s: finishing the batch in hand, then stopping", signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def run_worker(settings: Settings, stages=("classify", "index", "alerts")) -> int:
    db = Database(settings.case_db_url)
    pipeline = build_pipeline(settings, db, stages)
    stop = threading.Event()
    _stop_on_signals(stop)
    log.info("worker running stages %s", ", ".join(stages))
    pipeline.run(stop, stages)
    pipeline.close()
    pipeline.bus.close()
    return 0


def make_scheduler(settings: Settings, db: Database, sources: dict, sources_dir,
                   demo_url: Optional[str]):
    """APScheduler jobs: each source on its schedule, and the clocks (alerts.scheduled).

    The rules' windows are judged by the alerts stage itself (Pipeline.run),
    which owns the rules' state.
    """
    from apscheduler.schedulers.background import BackgroundScheduler

    from alerts.scheduled import register_jobs
    from crawlers.runner import crawl_in_subprocess

    scheduler = BackgroundScheduler(timezone=settings.timezone)
    now = datetime.now(timezone.utc)

    def crawl_job(name: str) -> None:
        try:
            stats = crawl_in_subprocess(name, sources_dir=sources_dir, settings=settings,
                                        demo_url=demo_url)
            log.info("crawl %s: %s", name, stats)
        except Exception as exc:  # a failing source is reported, the others go on
            log.error("crawl %s failed: %s", name, exc)

    for name, source in sources.items():
        scheduler.add_job(crawl_job, "interval", args=[name], seconds=source.schedule_seconds,
                          id=f"crawl:{name}", next_run_time=now, max_instances=1, coalesce=True,
                          misfire_grace_time=None)
    register_jobs(scheduler, settings, db)
    return scheduler


def _sources(settings: Settings, demo_url: Optional[str]):
    from crawlers.sources import load_sources

    directory = DEMO_SOURCES if demo_url else settings.config_file("sources")
    return directory, (load_sources(directory, demo_url=demo_url) if directory.exists() else {})


def run_scheduler(settings: Settings) -> int:
    """The scheduler service alone (crawls and clocks), for deployments at scale."""
    db = Database(settings.case_db_url)
    sources_dir, sources = _sources(settings, None)
    scheduler = make_scheduler(settings, db, sources, sources_dir, None)
    stop = threading.Event()
    _stop_on_signals(stop)
    scheduler.start()
    log.info("scheduler running: %s", ", ".join(sorted(sources)) or "no sources")
    stop.wait()
    scheduler.shutdown(wait=True)
    return 0


def run(settings: Settings, *, demo: bool = False, host: Optional[str] = None,
        port: Optional[int] = None, demo_speed: float = 1.0) -> int:
    from console import create_app
    from console.auth.service import ensure_admin
    from console.server import create_server

    db = Database(settings.case_db_url)
    password = ensure_admin(db)
    host = host or settings.console_host
    port = port or settings.console_port

    site = None
    demo_url = None
    if demo:
        from crawlers.demo.site import DemoSite

        site = DemoSite(speed=demo_speed)
        demo_url = site.start()
        log.info("demo site serving at %s", demo_url)
    sources_dir, sources = _sources(settings, demo_url)

    pipeline = build_pipeline(settings, db)
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,), name="worker", daemon=True)
    worker.start()
    scheduler = make_scheduler(settings, db, sources, sources_dir, demo_url)
    scheduler.start()

    app = create_app()
    server = create_server(app, host=host, port=port)
    print("=" * 60)
    print(f"舆情监测控制台：http://{host}:{port}")
    if password:
        print(f"首个管理员账号：admin  密码：{password}  （仅显示这一次，请登录后妥善保存）")
    print(f"数据源：{', '.join(sorted(sources)) or '（无）'}；按 Ctrl+C 停止")
    print("=" * 60, flush=True)

    def shutdown(signum, _frame):
        log.info("signal %s: stopping", signum)
        stop.set()
        raise KeyboardInterrupt  # waitress's loop ends on it and stops its workers

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, shutdown)
    try:
        server.run()
    finally:
        stop.set()
        server.close()
        scheduler.shutdown(wait=False)
        worker.join(timeout=30)
        pipeline.close()
        pipeline.bus.close()
        if site is not None:
            site.stop()
    return 0
