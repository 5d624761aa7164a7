"""The demo source: a local website of the fictional 江宁市 and its source files.

`DemoSite(port=0).start()` serves it; `SOURCES_DIR` holds the YAML files
(with ``{demo_url}``) for `crawlers.sources.load_sources(SOURCES_DIR, demo_url=...)`.
"""
from pathlib import Path

from crawlers.demo.site import DemoSite

SOURCES_DIR = Path(__file__).resolve().parent / "sources"

__all__ = ["DemoSite", "SOURCES_DIR"]
