"""Console users: create them, authenticate them, bootstrap the first admin."""
from __future__ import annotations

import re
import secrets
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from alerts.case.service import audit
from alerts.errors import YuqingError
from yuqing.db import Database

from .models import Role, User

USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,64}")
#: compared against when the user does not exist, so that both paths take as long
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class UserError(YuqingError):
    """A user cannot be created as asked; the message is shown to the admin."""


def get_user(session: Session, *, username: str) -> Optional[User]:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)))


def create_user(session: Session, *, username: str, password: str, role: Role | str,
                department: Optional[str] = None, display_name: str = "",
                actor: str = "system") -> User:
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        raise UserError("用户名须为 2–64 位字母、数字或 _ . -")
    try:
        role = Role(role)
    except ValueError as exc:
        raise UserError(f"未知角色：{role}") from exc
    department = (department or "").strip() or None
    if role == Role.department and not department:
        raise UserError("承办部门用户须指定所属部门")
    if role != Role.department:
        department = None
    if get_user(session, username=username) is not None:
        raise UserError(f"用户名 {username} 已存在")
    user = User(username=username, display_name=(display_name or "").strip()[:100],
                role=role.value, department=department, active=True)
    try:
        user.set_password(password or "")
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    session.add(user)
    session.flush()
    audit(session, case=None, actor=actor, action="user.create", username=username,
          role=role.value, department=department)
    return user


def authenticate(session: Session, *, username: str, password: str) -> Optional[User]:
    """The active user with these credentials, or None."""
    user = get_user(session, username=(username or "").strip())
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    return user


def ensure_admin(db: Database) -> Optional[str]:
    """When there is no user yet, create `admin` with a random password and return it.

    The caller shows the password once; it is not logged or stored in clear.
    """
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(User)):
            return None
        password = secrets.token_urlsafe(12)
        create_user(s, username="admin", password=password, role=Role.admin,
                    display_name="系统管理员")
        return password
