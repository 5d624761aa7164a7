"""The console's extensions and its handles on the stores, each bound with `init_app`."""
from __future__ import annotations

import threading
from typing import Optional

from flask import Flask, current_app
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from alerts.errors import ConfigError
from alerts.routing import RoutingTable
from stream.index import SearchIndex
from yuqing.config import Settings
from yuqing.db import Database

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

_KEY = "yuqing"


class Stores:
    """Settings, case database, search index and routing table of one app.

    The index is opened on first use, so that a console whose index backend is
    down still serves its login and case pages.
    """

    def __init__(self, settings: Settings, db: Database, index: Optional[SearchIndex] = None,
                 routing: Optional[RoutingTable] = None):
        self.settings, self.db = settings, db
        self._index, self._routing = index, routing
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.extensions[_KEY] = self

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    from stream import make_index

                    self._index = make_index(self.settings)
        return self._index

    @property
    def routing(self) -> Optional[RoutingTable]:
        if self._routing is None:
            try:
                self._routing = RoutingTable.load(self.settings.config_file("routing.yaml"))
            except ConfigError as exc:
                current_app.logger.warning("routing table not loaded: %s", exc)
        return self._routing

    def departments(self) -> list[str]:
        return self.routing.departments if self.routing else []


def stores() -> Stores:
    return current_app.extensions[_KEY]


def get_db() -> Database:
    return stores().db


def get_index() -> SearchIndex:
    return stores().index
