import pytest

from alerts.deadlines import Clocks
from alerts.routing import RoutingTable
from yuqing.config import REPO_ROOT
from yuqing.db import Database

CONFIG = REPO_ROOT / "config"


@pytest.fixture
def db(case_db_url):
    """The case store, migrated, once on SQLite and once on PostgreSQL (tests/conftest.py)."""
    database = Database(case_db_url)
    yield database
    database.dispose()


@pytest.fixture
def clocks():
    return Clocks.load(CONFIG / "deadlines.yaml")


@pytest.fixture
def routing():
    return RoutingTable.load(CONFIG / "routing.yaml")
