"""处置任务: the case list, a case's page, its actions and its audit log.

Every change goes through `alerts.case.service`, which writes the action log
and the audit row in the same transaction. A `CaseError` is shown to the user
and nothing is written.
"""
from __future__ import annotations

import math
from typing import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from alerts.case import flows, service
from alerts.case.models import CaseExtensionRow, CaseRow
from alerts.deadlines import Clocks
from alerts.errors import CaseError
from console.auth.models import Role
from yuqing.db import now_utc
from yuqing.records import CaseStatus, Severity

from ..extensions import get_db, get_index, stores
from . import queries

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")

PAGE_SIZE = 50


def _load(session: Session, case_id: int) -> CaseRow:
    case = session.get(CaseRow, case_id)
    if case is None:
        abort(404)
    if not current_user.can_view(case.owner_department, case.co_departments or []):
        abort(403)
    return case


@bp.route("/")
@login_required
def index():
    args = request.args
    own = current_user.department if current_user.role_enum == Role.department else None
    f = queries.CaseFilter(
        status=args.get("status", "open"), department=args.get("department", ""),
        severity=args.get("severity", ""), overdue_only=args.get("overdue") == "1",
        scope_department=own,
    )
    try:
        page = max(1, int(args.get("page", 1)))
    except ValueError:
        page = 1
    with get_db().session() as s:
        rows = queries.list_cases(s, f, now=now_utc())
        pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
        params = {k: v for k, v in args.items() if k != "page" and v}
        return render_template(
            "cases/index.html", rows=rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], total=len(rows),
            page=page, pages=pages, params=params, f=f, statuses=list(CaseStatus),
            severities=list(Severity), departments=queries.departments(s, stores().departments()),
        )


@bp.route("/<int:case_id>")
@login_required
def detail(case_id: int):
    now = now_utc()
    with get_db().session() as s:
        case = _load(s, case_id)
        alerts = queries.event_alerts(s, case)
        return render_template(
            "cases/detail.html", case=case, event=case.event, alerts=alerts,
            evidence=queries.evidence(get_index(), case, alerts),
            deadlines=queries.deadline_states(case, now=now),
            actions=list(case.actions), can_act=current_user.can_act_on(case.owner_department),
            is_open=case.status != CaseStatus.closed.value, statuses=queries.WORK_STATUSES,
            assignees=queries.assignee_choices(s, case),
            escalations=queries.escalations(s, case), extensions=queries.extensions(s, case),
            departments=stores().departments(), is_leader=current_user.role_enum == Role.leader,
            extendable=_clocks().config.board.extendable,
        )


@bp.route("/<int:case_id>/audit")
@login_required
def audit(case_id: int):
    with get_db().session() as s:
        case = _load(s, case_id)
        return render_template("cases/audit.html", case=case, rows=queries.audit_rows(s, case))


def _act(case_id: int, action: Callable[[Session, CaseRow, str], str]):
    """Run one case action for the current user; flash its outcome; back to the case."""
    with get_db().session() as s:
        case = _load(s, case_id)
        if not current_user.can_act_on(case.owner_department):
            abort(403)
        try:
            message = action(s, case, current_user.username)
        except CaseError as exc:
            s.rollback()
            flash(str(exc), "error")
        else:
            flash(message, "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.route("/<int:case_id>/note", methods=["POST"])
@login_required
def note(case_id: int):
    def run(s, case, actor):
        service.add_note(s, case=case, actor=actor, text=request.form.get("text", ""))
        return "已添加处置记录"
    return _act(case_id, run)


@bp.route("/<int:case_id>/status", methods=["POST"])
@login_required
def status(case_id: int):
    def run(s, case, actor):
        try:
            new = CaseStatus(request.form.get("status", ""))
        except ValueError as exc:
            raise CaseError("未知的状态") from exc
        service.set_status(s, case=case, actor=actor, status=new)
        return f"状态已更新为：{new.label}"
    return _act(case_id, run)


@bp.route("/<int:case_id>/assign", methods=["POST"])
@login_required
def assign(case_id: int):
    def run(s, case, actor):
        service.assign(s, case=case, actor=actor, assignee=request.form.get("assignee", ""))
        return f"承办人已更新：{case.assignee or '（无）'}"
    return _act(case_id, run)


@bp.route("/<int:case_id>/deadline", methods=["POST"])
@login_required
def deadline(case_id: int):
    def run(s, case, actor):
        service.mark_deadline_met(s, case=case, actor=actor, kind=request.form.get("kind", ""))
        return "时限已标记为完成"
    return _act(case_id, run)


@bp.route("/<int:case_id>/close", methods=["POST"])
@login_required
def close(case_id: int):
    def run(s, case, actor):
        service.close_case(s, case=case, actor=actor,
                           response_text=request.form.get("response_text"),
                           response_url=request.form.get("response_url"))
        return "任务已办结"
    return _act(case_id, run)


def _clocks() -> Clocks:
    settings = stores().settings
    return Clocks.load(settings.config_file("deadlines.yaml"), settings.timezone)


@bp.route("/<int:case_id>/transfer", methods=["POST"])
@login_required
def transfer(case_id: int):
    def run(s, case, actor):
        dept = request.form.get("department", "").strip()
        if dept not in stores().departments():
            raise CaseError("请选择配置中的部门")
        flows.transfer(s, case=case, actor=actor, department=dept,
                       reason=request.form.get("reason", ""))
        return f"已转办至{dept}"
    return _act(case_id, run)


@bp.route("/<int:case_id>/extension", methods=["POST"])
@login_required
def extension(case_id: int):
    def run(s, case, actor):
        try:
            days = int(request.form.get("working_days", ""))
        except ValueError as exc:
            raise CaseError("延期天数须为正整数") from exc
        flows.request_extension(s, case=case, actor=actor, clocks=_clocks(),
                                clock=request.form.get("clock", "reply"), working_days=days,
                                reason=request.form.get("reason", ""))
        return "延期申请已提交，待领导审批"
    return _act(case_id, run)


@bp.route("/<int:case_id>/extension/<int:ext_id>", methods=["POST"])
@login_required
def decide_extension(case_id: int, ext_id: int):
    if current_user.role_enum != Role.leader:
        abort(403)
    with get_db().session() as s:
        ext = s.get(CaseExtensionRow, ext_id)
        if ext is None or ext.case_id != case_id:
            abort(404)
        try:
            flows.decide_extension(s, extension=ext, actor=current_user.username,
                                   actor_role=current_user.role, clocks=_clocks(),
                                   approve=request.form.get("decision") == "approve",
                                   note=request.form.get("note", ""))
        except CaseError as exc:
            s.rollback()
            flash(str(exc), "error")
        else:
            flash("已审批延期申请", "success")
    return redirect(url_for("cases.detail", case_id=case_id))
