"""The news center's corrections (console 纠正分类) as labelled records for training and eval."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def load_corrections(db_url: str) -> list[dict]:
    """Every correction in the case store at `db_url`, oldest first, as
    ``{"text", "topics", "sentiment", "source": "correction"}``; [] when the store cannot
    be read (training goes on without them, with a warning)."""
    from console.corrections.service import training_records
    from yuqing.db import Database

    try:
        db = Database(db_url)
    except Exception as exc:  # a store that is down must not stop training
        log.warning("corrections not read from the case store: %s", exc)
        return []
    try:
        with db.session() as s:
            return training_records(s)
    except Exception as exc:
        log.warning("corrections not read from the case store: %s", exc)
        return []
    finally:
        db.dispose()
