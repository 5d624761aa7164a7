"""The alerts engine: rules over classified posts → alerts → events → cases.

One batch is one database transaction: the alerts, events, cases, the rules'
window state and the bus offsets the batch came from are written together.
A batch re-delivered after a crash is recognised by its offsets and skipped,
so the rules never count a post twice.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.case import service as cases
from alerts.deadlines import Clocks
from alerts.models import AlertRow, EventPostRow, EventRow, RuleStateRow
from alerts.routing import RoutingTable
from alerts.rules import Candidate, Rule, load_rules
from yuqing.config import Settings
from yuqing.db import Database, now_utc
from yuqing.records import ClassifiedPost, Severity

log = logging.getLogger(__name__)

OFFSETS = "__offsets__"
#: an event stays open to new alerts of its key this long after its last post
EVENT_WINDOW = timedelta(hours=48)
MAX_EVIDENCE = 200


def _hash(*parts: str, n: int = 20) -> str:
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:n]


class AlertsEngine:
    def __init__(self, *, db: Database, rules: list[Rule], routing: RoutingTable, clocks: Clocks):
        self.db, self.rules, self.routing, self.clocks = db, rules, routing, clocks
        self.by_name = {r.name: r for r in rules}
        self.disabled: dict[str, str] = {}
        self.offsets: dict[str, int] = {}
        self._lock = threading.Lock()  # the worker and the scheduler share one engine
        self._load_state()

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> "AlertsEngine":
        return cls(db=db, rules=load_rules(settings.config_file("rules.yaml")),
                   routing=RoutingTable.load(settings.config_file("routing.yaml")),
                   clocks=Clocks.load(settings.config_file("deadlines.yaml"), settings.timezone))

    # -- state ------------------------------------------------------------
    def _load_state(self) -> None:
        with self.db.session() as s:
            for row in s.scalars(select(RuleStateRow)):
                if row.rule == OFFSETS:
                    self.offsets = {k: int(v) for k, v in (row.state or {}).items()}
                elif row.rule in self.by_name:
                    self.by_name[row.rule].set_state(row.state or {})

    def _save_state(self, s: Session) -> None:
        states = {r.name: r.get_state() for r in self.rules}
        states[OFFSETS] = dict(self.offsets)
        for name, state in states.items():
            row = s.get(RuleStateRow, name) or RuleStateRow(rule=name)
            row.state = state
            row.disabled_reason = self.disabled.get(name)
            row.updated_at = now_utc()
            s.add(row)

    def is_applied(self, topic: str, partition: int, offset: int) -> bool:
        return offset <= self.offsets.get(f"{topic}:{partition}", -1)

    # -- work ---------------------------------------------------------------
    def process(self, posts: list[ClassifiedPost], *, now: Optional[datetime] = None,
                offsets: Optional[dict[str, int]] = None) -> list[str]:
        """Run every enabled rule over the posts; return the ids of new alerts."""
        now = now or now_utc()
        with self._lock:
            found: list[Candidate] = []
            for rule in self._enabled():
                found.extend(self._guard(rule, lambda r=rule: r.add_data(posts, now)))
            return self._commit(found, {p.id: p for p in posts}, now, offsets)

    def tick(self, *, now: Optional[datetime] = None) -> list[str]:
        """The scheduler's periodic call: rules that judge windows of time."""
        now = now or now_utc()
        with self._lock:
            found: list[Candidate] = []
            for rule in self._enabled():
                found.extend(self._guard(rule, lambda r=rule: r.tick(now)))
            return self._commit(found, {}, now, None)

    def _enabled(self) -> Iterable[Rule]:
        return [r for r in self.rules if r.name not in self.disabled]

    def _guard(self, rule: Rule, call) -> list[Candidate]:
        try:
            return list(call())
        except Exception as exc:  # one failing rule never stops the others
            reason = f"{type(exc).__name__}: {exc}"
            self.disabled[rule.name] = reason
            log.exception("rule %s failed and is disabled: %s", rule.name, reason)
            return []

    def _commit(self, found: list[Candidate], posts: dict[str, ClassifiedPost], now: datetime,
                offsets: Optional[dict[str, int]]) -> list[str]:
        new: list[str] = []
        with self.db.session() as s:
            for cand in found:
                alert_id = self._apply(s, cand, posts, now)
                if alert_id:
                    new.append(alert_id)
            if offsets:
                for k, v in offsets.items():
                    self.offsets[k] = max(v, self.offsets.get(k, -1))
            self._save_state(s)
        return new

    def _apply(self, s: Session, cand: Candidate, posts: dict[str, ClassifiedPost],
               now: datetime) -> Optional[str]:
        rule = self.by_name.get(cand.rule)
        quiet = timedelta(minutes=rule.options.quiet_period_minutes if rule else 60)
        last = s.scalar(select(AlertRow).where(AlertRow.key == cand.key)
                        .order_by(AlertRow.created_at.desc()).limit(1))
        if last is not None and now - last.created_at < quiet and (
                cand.severity.rank <= Severity(last.severity).rank):
            last.evidence = list(dict.fromkeys([*last.evidence, *cand.evidence]))[-MAX_EVIDENCE:]
            if last.event is not None:
                self._add_posts(s, last.event, cand.evidence, posts, now)
            return None
        event = self._event_for(s, cand, posts, now)
        alert = AlertRow(
            id=_hash(cand.key, now.isoformat()), rule=cand.rule, key=cand.key,
            severity=cand.severity.value, topic=cand.topic, region=cand.region,
            window=cand.window, evidence=cand.evidence[-MAX_EVIDENCE:], title=cand.title,
            summary=cand.summary,
            created_at=now, event_id=event.id,
        )
        s.add(alert)
        case = cases.case_for_event(s, event_id=event.id)
        if case is None:
            cases.open_case(s, event=event, severity=cand.severity, kind=cand.kind,
                            route=self.routing.route(cand.topic, cand.region),
                            clocks=self.clocks, now=now)
        else:
            cases.raise_severity(s, case=case, severity=cand.severity, clocks=self.clocks, now=now)
        log.info("alert %s %s [%s] %s", alert.id, cand.rule, cand.severity.value, cand.title)
        return alert.id

    def _event_for(self, s: Session, cand: Candidate, posts: dict[str, ClassifiedPost],
                   now: datetime) -> EventRow:
        event = s.scalar(select(EventRow).where(EventRow.key == cand.key,
                                                EventRow.last_seen_at >= now - EVENT_WINDOW)
                         .order_by(EventRow.last_seen_at.desc()).limit(1))
        if event is None:
            event = EventRow(id=_hash("event", cand.key, now.isoformat(), n=16), key=cand.key,
                             title=cand.title, topic=cand.topic, region=cand.region,
                             first_seen_at=now, last_seen_at=now, post_count=0)
            s.add(event)
            s.flush()
        self._add_posts(s, event, cand.evidence, posts, now)
        return event

    def _add_posts(self, s: Session, event: EventRow, ids: list[str],
                   posts: dict[str, ClassifiedPost], now: datetime) -> None:
        have = set(s.scalars(select(EventPostRow.post_id).where(EventPostRow.event_id == event.id)))
        for pid in ids:
            if pid in have:
                continue
            have.add(pid)
            s.add(EventPostRow(event_id=event.id, post_id=pid, seen_at=now))
            post = posts.get(pid)
            if post is not None:
                seen = post.published_at or post.fetched_at
                if event.first_post_id is None or seen < event.first_seen_at:
                    event.first_post_id, event.first_poster = pid, post.author
                    event.first_seen_at = min(seen, event.first_seen_at)
        event.post_count = len(have)
        event.last_seen_at = now
