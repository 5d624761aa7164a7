"""Deliver pending notices through their channels, recording every attempt.

A failed notice is retried on later runs, `retry_minutes` apart, up to
`max_attempts`; its last error stays on the row. Network calls happen
outside any database transaction.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import or_, select

from yuqing.db import Database, now_utc

from .channels import Channel, ChannelError, Message
from .models import NoticeRow, NoticeStatus

log = logging.getLogger(__name__)


def deliver_pending(db: Database, channels: dict[str, Channel], *, max_attempts: int = 3,
                    retry_minutes: float = 5, now: Optional[datetime] = None) -> dict[str, int]:
    now = now or now_utc()
    with db.session() as s:
        rows = s.scalars(select(NoticeRow).where(
            or_(NoticeRow.status == NoticeStatus.pending,
                (NoticeRow.status == NoticeStatus.failed) & (NoticeRow.attempts < max_attempts)))
            .order_by(NoticeRow.id)).all()
        todo = [(n.id, n.channel, n.last_attempt_at,
                 Message(subject=n.subject, text=n.body, markdown=n.markdown or n.body,
                         recipient=n.recipient)) for n in rows]
    counts = {"sent": 0, "failed": 0}
    for nid, channel_name, last, message in todo:
        if last is not None and now - last < timedelta(minutes=retry_minutes):
            continue
        channel = channels.get(channel_name)
        error = None
        try:
            if channel is None:
                raise ChannelError(f"未配置的通知渠道：{channel_name}")
            channel.send(message)
        except ChannelError as exc:
            error = str(exc)
        except Exception as exc:  # a channel bug must not stop the other notices
            log.exception("channel %s failed", channel_name)
            error = f"{type(exc).__name__}: {exc}"
        with db.session() as s:
            n = s.get(NoticeRow, nid)
            n.attempts += 1
            n.last_attempt_at = now
            n.status = NoticeStatus.failed if error else NoticeStatus.sent
            n.sent_at = None if error else now
            n.error = error
        counts["failed" if error else "sent"] += 1
        if error:
            log.warning("notice %s via %s to %s failed: %s", nid, channel_name,
                        message.recipient, error)
    return counts


def mark_read(db: Database, token: str, *, now: Optional[datetime] = None) -> Optional[int]:
    """Record that the notice with `token` was opened; return its case id (None: no such)."""
    with db.session() as s:
        n = s.scalar(select(NoticeRow).where(NoticeRow.token == token))
        if n is None:
            return None
        if n.read_at is None:
            n.read_at = now or now_utc()
        return n.case_id or 0
