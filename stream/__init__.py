"""The bus and the search index, each with an embedded (SQLite) and a scale backend."""
from __future__ import annotations

from yuqing.config import Settings, get_settings

from .bus import CLASSIFIED, DEADLETTER, RAW, Bus, BusError, Consumer, Message
from .index import SearchIndex, SearchQuery, SearchResult


def make_bus(settings: Settings | None = None) -> Bus:
    settings = settings or get_settings()
    if settings.bus_backend == "kafka":
        from .kafka_bus import KafkaBus

        return KafkaBus(settings)
    from .sqlite_bus import SQLiteBus

    return SQLiteBus(settings.bus_db_path)


def make_index(settings: Settings | None = None) -> SearchIndex:
    settings = settings or get_settings()
    if settings.index_backend == "elasticsearch":
        from .es_index import ElasticsearchIndex

        return ElasticsearchIndex(settings)
    from .sqlite_index import SQLiteIndex

    return SQLiteIndex(settings.index_db_path)


__all__ = ["RAW", "CLASSIFIED", "DEADLETTER", "Bus", "BusError", "Consumer", "Message",
           "SearchIndex", "SearchQuery", "SearchResult", "make_bus", "make_index"]
