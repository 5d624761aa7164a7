"""Console users and their roles."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Iterable, Optional

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from yuqing.db import Base, UTCDateTime, now_utc


class Role(str, Enum):
    admin = "admin"                # 系统管理员: users and everything else
    news_center = "news_center"    # 新闻中心: watches the board, opens and routes cases
    duty_officer = "duty_officer"  # 值班员: logs actions, moves cases on, closes them
    department = "department"      # 承办部门: handles the cases routed to its department
    leader = "leader"              # 领导: reads everything, receives escalations

    @property
    def label(self) -> str:
        return {"admin": "系统管理员", "news_center": "新闻中心", "duty_officer": "值班员",
                "department": "承办部门", "leader": "领导"}[self.value]


#: which roles may act on cases (departments only on their own cases)
CASE_ACTORS = {Role.admin, Role.news_center, Role.duty_officer, Role.department}


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[Optional[str]] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    def set_password(self, password: str) -> None:
        if len(password) < 8:
            raise ValueError("密码至少 8 位")
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_active(self) -> bool:  # flask-login
        return bool(self.active)

    def can_act_on(self, owner_department: str) -> bool:
        role = self.role_enum
        if role not in CASE_ACTORS:
            return False
        return role != Role.department or self.department == owner_department

    def can_view(self, owner_department: str, co_departments: Iterable[str] = ()) -> bool:
        """Departments read the cases they own or co-handle; every other role reads all."""
        if self.role_enum != Role.department:
            return True
        return self.department == owner_department or self.department in set(co_departments or ())

    @property
    def is_reader_only(self) -> bool:
        return self.role_enum not in CASE_ACTORS


#: which roles may correct a post's topics or sentiment (the classifier learns from it)
CORRECTORS = {Role.admin, Role.news_center, Role.duty_officer}


def can_correct(user) -> bool:
    """True when `user` (a User, or flask-login's anonymous user) may correct classifications."""
    role = getattr(user, "role", None)
    return bool(getattr(user, "is_authenticated", False)) and role in {r.value for r in CORRECTORS}
