"""通知记录: the notices sent about cases, their delivery and read status.

`/notices/r/<token>` is the link inside each notice: opening it records when
the notice was read (the token is the notice's secret; no login is needed
to record it) and leads on to the case.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from alerts.case.models import CaseRow
from alerts.notify.dispatch import mark_read
from alerts.notify.models import EscalationRow, NoticeRow
from console.auth.models import Role

from ..extensions import get_db

bp = Blueprint("notices", __name__, url_prefix="/notices", template_folder="templates")

LIMIT = 200
STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "failed": "发送失败"}
REASON_LABELS = {"near": "时限临近", "overdue": "超时", "severe": "要情专报", "recovery": "预警解除"}


@bp.route("/")
@login_required
def index():
    status = request.args.get("status", "")
    with get_db().session() as s:
        stmt = (select(NoticeRow, CaseRow, EscalationRow)
                .outerjoin(CaseRow, CaseRow.id == NoticeRow.case_id)
                .outerjoin(EscalationRow, EscalationRow.id == NoticeRow.escalation_id)
                .order_by(NoticeRow.created_at.desc(), NoticeRow.id.desc()).limit(LIMIT))
        if status in STATUS_LABELS:
            stmt = stmt.where(NoticeRow.status == status)
        rows = []
        for notice, case, esc in s.execute(stmt):
            if current_user.role_enum == Role.department and (
                    case is None or not current_user.can_view(case.owner_department,
                                                              case.co_departments or [])):
                continue
            rows.append({"n": notice, "case": case, "esc": esc})
        return render_template("notices/index.html", rows=rows, status=status,
                               statuses=STATUS_LABELS, reasons=REASON_LABELS)


@bp.route("/r/<token>")
def read(token: str):
    if not token or len(token) > 64:
        abort(404)
    case_id = mark_read(get_db(), token)
    if case_id is None:
        abort(404)
    if case_id:
        return redirect(url_for("cases.detail", case_id=case_id))
    return redirect(url_for("notices.index"))
