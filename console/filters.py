"""Jinja filters: local time, Chinese labels, de-identification, safe links, snippets.

Templates never mark data `|safe`; these filters return plain strings (or
lists of plain strings) and autoescaping does the rest.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from classifier.hanzi import to_simplified
from yuqing.privacy import deidentify, mask_name
from yuqing.records import CaseStatus, Severity
from yuqing.taxonomy import SENTIMENTS, SOURCE_TYPES, topic_name


def local_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))


def as_datetime(value: Any) -> Optional[datetime]:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def localtime(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    dt = as_datetime(value)
    return dt.astimezone(local_tz()).strftime(fmt) if dt else ""


def severity_label(code: Optional[str]) -> str:
    try:
        return Severity(code).label
    except ValueError:
        return code or ""


def severity_color(code: Optional[str]) -> str:
    try:
        return Severity(code).color
    except ValueError:
        return "grey"


def status_label(code: Optional[str]) -> str:
    try:
        return CaseStatus(code).label
    except ValueError:
        return code or ""


def http_url(url: Optional[str]) -> Optional[str]:
    """The URL if it is an absolute http(s) URL, else None (no javascript: links)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parsed = urlparse(url)
    except ValueError:
        return None
    return url if parsed.scheme.lower() in ("http", "https") and parsed.netloc else None


def _fold(text: str) -> str:
    """Simplified characters, lower case, same length (so indexes fit the text as written)."""
    folded = to_simplified(text).lower()
    return folded if len(folded) == len(text) else to_simplified(text)


def snippet(text: Optional[str], query: Optional[str] = None, width: int = 160) -> list[tuple[str, bool]]:
    """A de-identified excerpt of `text` as (segment, is_match) pairs for highlighting.

    Terms match whatever the case and whether either side is in traditional
    or simplified characters (as search does); the text is shown as written.
    """
    text = " ".join(deidentify(text).split())
    terms = [_fold(t) for t in (query or "").split() if t]
    start = 0
    lowered = _fold(text)
    hits = [lowered.find(t) for t in terms]
    hits = [h for h in hits if h >= 0]
    if hits:
        start = max(0, min(hits) - width // 4)
    excerpt = text[start:start + width]
    prefix, suffix = ("…" if start > 0 else ""), ("…" if start + width < len(text) else "")
    segments: list[tuple[str, bool]] = [(excerpt, False)]
    for term in terms:
        out: list[tuple[str, bool]] = []
        for seg, matched in segments:
            if matched:
                out.append((seg, True))
                continue
            low, i = _fold(seg), 0
            while True:
                j = low.find(term, i)
                if j < 0:
                    out.append((seg[i:], False))
                    break
                out.extend([(seg[i:j], False), (seg[j:j + len(term)], True)])
                i = j + len(term)
        segments = out
    segments = [(prefix, False), *segments, (suffix, False)]
    return [(s, m) for s, m in segments if s]


#: case log kinds and audit actions, in Chinese
ACTION_LABELS = {
    "opened": "立案", "note": "处置记录", "status": "阶段变更", "assign": "指派",
    "deadline": "时限完成", "close": "办结", "severity": "级别调整", "escalation": "升级督办",
    "case.open": "立案", "case.note": "处置记录", "case.status": "阶段变更",
    "case.assign": "指派", "case.deadline_met": "时限完成", "case.close": "办结",
    "case.severity": "级别调整", "user.create": "创建用户",
    "transfer": "转办", "extension": "延期", "recovery": "预警解除", "overdue": "超时",
    "case.transfer": "转办", "case.extension_request": "申请延期",
    "case.extension_decide": "延期审批", "case.escalate": "升级督办", "case.evaluate": "效果评估",
    "case.overdue": "超时",
}


def action_label(code: Optional[str]) -> str:
    return ACTION_LABELS.get(code or "", code or "")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        localtime=localtime, deid=deidentify, mask_name=mask_name, topic_name=topic_name,
        sentiment_label=lambda c: SENTIMENTS.get(c or "", c or ""),
        source_type_label=lambda c: SOURCE_TYPES.get(c or "", c or ""),
        severity_label=severity_label, severity_color=severity_color,
        status_label=status_label, action_label=action_label, http_url=http_url, snippet=snippet,
    )


def local_day_start(day=None) -> datetime:
    """Midnight (local time) of `day` (default today), as a UTC datetime."""
    from datetime import date as _date, time as _time

    day = day or datetime.now(local_tz()).date()
    assert isinstance(day, _date)
    return datetime.combine(day, _time.min, local_tz()).astimezone(timezone.utc)
