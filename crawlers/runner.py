"""Run one source's crawl: in this process (`crawl`) or in a child process (`crawl_in_subprocess`).

Twisted's reactor cannot be restarted, so `crawl` runs once per process. The
CLI (`yuqing crawl SOURCE`) and the scheduler call `crawl_in_subprocess`,
which runs ``python -m crawlers.runner SOURCE ...`` and reads the stats JSON
the child prints as its last line of stdout (logs go to stderr).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings

from crawlers.context import (STAT_DEAD_LETTERED, STAT_DUPLICATES, STAT_PAGE_ERRORS,
                              STAT_PUBLISHED, settings_to_scrapy)
from crawlers.sources import FeedSource, SiteSource, load_sources
from yuqing.config import Settings

log = logging.getLogger(__name__)

PROFILES = {"base": "crawlers.settings.base", "production": "crawlers.settings.production"}


#: error lines of a child's log repeated in the parent's warning
ERROR_LINES = 5


class CrawlError(RuntimeError):
    """A crawl process that failed or printed no stats."""


def scrapy_settings(source: SiteSource | FeedSource, settings: Settings,
                    profile: Optional[str] = None) -> ScrapySettings:
    scrapy = ScrapySettings()
    scrapy.setmodule(PROFILES[profile or source.profile], priority="project")
    scrapy.set("YUQING_SETTINGS", settings_to_scrapy(settings), priority="project")
    return scrapy


def crawl(source: SiteSource | FeedSource, settings: Settings, *,
          profile: Optional[str] = None) -> dict[str, Any]:
    """Crawl one source into the bus from `stream.make_bus(settings)`; return its stats.

    Blocks until the crawl ends. Call at most once per process.
    """
    from crawlers.spiders.feed import FeedSpider
    from crawlers.spiders.site import SiteSpider

    spidercls = SiteSpider if source.type == "site" else FeedSpider
    process = CrawlerProcess(scrapy_settings(source, settings, profile))
    crawler = process.create_crawler(spidercls)
    started = time.monotonic()
    process.crawl(crawler, source=source)
    process.start()
    stats = crawler.stats.get_stats()
    return {
        "source": source.name,
        "published": stats.get(STAT_PUBLISHED, 0),
        "duplicates": stats.get(STAT_DUPLICATES, 0),
        "dead_lettered": stats.get(STAT_DEAD_LETTERED, 0),
        "page_errors": stats.get(STAT_PAGE_ERRORS, 0),
        "errors": stats.get("log_count/ERROR", 0),
        "pages": stats.get("response_received_count", 0),
        "finish_reason": stats.get("finish_reason"),
        "seconds": round(time.monotonic() - started, 3),
    }


def settings_env(settings: Settings) -> dict[str, str]:
    """YUQING_* environment variables that recreate `settings` in a child process.

    Secrets are left out (a crawl does not use them); the child still inherits
    this process's own environment.
    """
    env = {}
    for name, value in settings_to_scrapy(settings).items():
        env[f"YUQING_{name.upper()}"] = str(value)
    return env


def crawl_in_subprocess(source_name: str, *, sources_dir: Path | str | None = None,
                        settings: Optional[Settings] = None, demo_url: Optional[str] = None,
                        profile: Optional[str] = None, timeout: float = 600.0,
                        env: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Run one crawl in a fresh Python process; return its stats dict.

    Raises CrawlError (with the tail of the child's log) if it fails. A crawl
    that ends but logged errors (a page that could not be read, a post that
    could not be published) is logged here as a warning with the child's
    last error lines, which would otherwise go nowhere.
    """
    cmd = [sys.executable, "-m", "crawlers.runner", source_name]
    if sources_dir is not None:
        cmd += ["--sources-dir", str(sources_dir)]
    if demo_url:
        cmd += ["--demo-url", demo_url]
    if profile:
        cmd += ["--profile", profile]
    child_env = {**os.environ, **(settings_env(settings) if settings else {}), **(env or {})}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env)
    except subprocess.TimeoutExpired as exc:
        raise CrawlError(f"crawl of {source_name} timed out after {timeout}s") from exc
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        raise CrawlError(f"crawl of {source_name} failed (exit {done.returncode}):\n{tail}")
    try:
        stats = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise CrawlError(f"crawl of {source_name} printed no stats: {lines[-1]!r}") from exc
    if stats.get("errors"):
        errors = [line for line in done.stderr.splitlines() if " ERROR: " in line]
        log.warning("crawl of %s logged errors (%d); the last:\n%s", source_name, stats["errors"],
                    "\n".join(errors[-ERROR_LINES:]))
    return stats


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.runner",
                                     description="Crawl one source; print its stats as JSON.")
    parser.add_argument("source", help="source name (its YAML file name)")
    parser.add_argument("--sources-dir", type=Path, default=None,
                        help="directory of source YAML files (default: CONFIG_DIR/sources)")
    parser.add_argument("--demo-url", default=None, help="fills {demo_url} in source files")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="Scrapy settings profile (default: the source's own)")
    args = parser.parse_args(argv)
    settings = Settings()
    sources_dir = args.sources_dir or settings.config_file("sources")
    sources = load_sources(sources_dir, demo_url=args.demo_url, include_disabled=True)
    if args.source not in sources:
        parser.error(f"no source {args.source!r} in {sources_dir} (have: {', '.join(sorted(sources))})")
    stats = crawl(sources[args.source], settings, profile=args.profile)
    print(json.dumps(stats, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
