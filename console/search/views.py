"""舆情检索: free text and filters over the search index, paged, with facet counts."""
from __future__ import annotations

import math
from datetime import date, timedelta

from flask import Blueprint, current_app, flash, render_template, request
from flask_login import login_required

from stream.index import SearchQuery
from yuqing.taxonomy import SENTIMENTS, TOPICS

from ..extensions import get_index
from ..filters import local_day_start

bp = Blueprint("search", __name__, url_prefix="/search", template_folder="templates")

PAGE_SIZE = 20
MAX_PAGE = 500
FILTERS = ("q", "topic", "sentiment", "source", "since", "until")


def _date(name: str):
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        flash(f"日期格式有误：{raw}", "error")
        return None


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), MAX_PAGE))
    except ValueError:
        return 1


@bp.route("/")
@login_required
def index():
    args = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    topic = args["topic"] if args["topic"] in TOPICS else ""
    sentiment = args["sentiment"] if args["sentiment"] in SENTIMENTS else ""
    since, until = _date("since"), _date("until")
    query = SearchQuery(
        text=args["q"][:200] or None, topics=[topic] if topic else [],
        sentiment=sentiment or None, source=args["source"] or None,
        since=local_day_start(since) if since else None,
        until=local_day_start(until + timedelta(days=1)) if until else None,
        page=_page(), size=PAGE_SIZE,
    )
    try:
        index = get_index()
        result = index.search(query)
        sources = sorted(index.search(SearchQuery(size=1)).facets.get("source", {}))
    except Exception:
        current_app.logger.exception("search failed")
        flash("检索服务暂时不可用，请稍后重试", "error")
        return render_template("search/index.html", args=args, result=None, pages=0,
                               query=query, topics=TOPICS, sentiments=SENTIMENTS,
                               sources=[], params={}), 503
    params = {k: v for k, v in args.items() if v}
    return render_template(
        "search/index.html", args=args, result=result, query=query,
        pages=min(MAX_PAGE, math.ceil(result.total / PAGE_SIZE)),
        topics=TOPICS, sentiments=SENTIMENTS, sources=sources, params=params,
    )
