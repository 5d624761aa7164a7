"""预警看板: the newest alerts, today's counters and the recent topic/sentiment mix."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, render_template
from flask_login import login_required
from sqlalchemy import func, select

from alerts.case.models import CaseRow
from alerts.case.service import overdue
from alerts.models import AlertRow
from stream.index import SearchQuery
from yuqing.db import now_utc
from yuqing.records import CaseStatus

from ..extensions import get_db, get_index
from ..filters import local_day_start

bp = Blueprint("board", __name__, template_folder="templates")

ALERT_LIMIT = 50
RECENT_HOURS = 24


def _index_stats() -> dict:
    """Posts indexed today and the last day's facets; None values when the index is down."""
    try:
        index = get_index()
        today = index.search(SearchQuery(since=local_day_start(), size=1)).total
        recent = index.search(SearchQuery(since=now_utc() - timedelta(hours=RECENT_HOURS), size=1))
        return {"posts_today": today, "recent_total": recent.total, "facets": recent.facets}
    except Exception:  # the board must still show alerts and cases
        current_app.logger.exception("search index unavailable for the board")
        return {"posts_today": None, "recent_total": None, "facets": {}}


@bp.route("/")
@login_required
def index():
    now = now_utc()
    with get_db().session() as s:
        rows = s.execute(
            select(AlertRow, CaseRow.id)
            .outerjoin(CaseRow, CaseRow.event_id == AlertRow.event_id)
            .order_by(AlertRow.created_at.desc(), AlertRow.id)
            .limit(ALERT_LIMIT)
        ).all()
        alerts = [{"alert": a, "case_id": cid} for a, cid in rows]
        alerts_today = s.scalar(select(func.count()).select_from(AlertRow)
                                .where(AlertRow.created_at >= local_day_start()))
        open_cases = list(s.scalars(select(CaseRow).where(CaseRow.status != CaseStatus.closed.value)))
        overdue_count = sum(1 for c in open_cases if overdue(c, now=now))
    stats = _index_stats()
    facets = stats["facets"]
    return render_template(
        "board/index.html", alerts=alerts, alerts_today=alerts_today,
        open_cases=len(open_cases), overdue_cases=overdue_count, stats=stats,
        topics=sorted(facets.get("topics", {}).items(), key=lambda kv: -kv[1])[:10],
        sentiments=[(k, facets.get("sentiment", {}).get(k, 0))
                    for k in ("negative", "neutral", "positive")],
        recent_hours=RECENT_HOURS, refresh=current_app.config["BOARD_REFRESH_SECONDS"],
        now=now,
    )
