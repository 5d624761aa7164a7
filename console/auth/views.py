"""Login, logout and the admin's user list."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import get_db, login_manager, stores
from .models import Role, User
from .service import UserError, authenticate, create_user, list_users

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")


@login_manager.user_loader
def _load_user(user_id: str):
    try:
        uid = int(user_id)
    except ValueError:
        return None
    with get_db().session() as s:
        user = s.get(User, uid)
        return user if user is not None and user.active else None


def role_required(*roles: Role):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role_enum not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def _safe_next(target: str | None) -> str:
    """Only a local path is a valid redirect target (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("board.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("board.index"))
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        with get_db().session() as s:
            user = authenticate(s, username=username, password=request.form.get("password", ""))
        if user is not None:
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("用户名或密码错误", "error")
        return render_template("auth/login.html", username=username), 401
    return render_template("auth/login.html", username=username)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/users", methods=["GET", "POST"])
@role_required(Role.admin)
def users():
    form = {}
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("username", "display_name", "role", "department")}
        try:
            with get_db().session() as s:
                create_user(s, password=request.form.get("password", ""),
                            actor=current_user.username, **form)
            flash(f"已创建用户 {form['username']}", "success")
            return redirect(url_for("auth.users"))
        except UserError as exc:
            flash(str(exc), "error")
            status = 400
    with get_db().session() as s:
        rows = list_users(s)
    return render_template("auth/users.html", users=rows, roles=list(Role), form=form,
                           departments=stores().departments()), status
