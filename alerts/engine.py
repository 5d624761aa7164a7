"""The alerts engine: classified posts → content events → rules → alerts → cases.

One batch is one database transaction: the events, alerts, cases, escalations
and notices, the rules' window state and the bus offsets the batch came from
are written together. A batch re-delivered after a crash is recognised by its
offsets and skipped, so the rules never count a post twice. Rules that count
posts (`Rule.counts_posts`) get each post once besides: not one its content
event already had (an updated post). A batch that rolls back is forgotten in
memory too (offsets at once, rule windows and the event index before the next
batch), so that it can come again.

The work per batch does not grow with what came before: the newest alert of
each key, the candidates' events and cases are read with one query each, the
cases are opened after all the alerts are added (the alerts go in one flush),
and a rule's state row is written only when it changed.

How alerts attach to events
---------------------------
First every post joins its *content event* (`alerts.events`: near-duplicates
and reposts folded into the original by MinHash LSH); its `cluster_id` is
the event id. Then the rules run, and each candidate finds its event:

1. a rule about one story (keyword / sensitive words, event growth) names
   the event (`Candidate.event_id`) and keys its alert by it, so alerts are
   de-duplicated per (rule, event);
2. a rule about a situation (volume spike or negative share for a topic or
   place, a new term) keys its alert by the situation; a new alert attaches
   to the *dominant* content event among its evidence (the story with most
   evidence posts, the oldest on a tie), and while that alert is open (not
   recovered) further firings of the key fold into it, so the case is not
   split while the situation lasts;
3. a rule without posts (a source gone silent) gets an *aggregate* event
   keyed by its rule key, as before content events existed.

One case per event gathers every rule that fired on that story. Within the
quiet period an alert of the same key absorbs new evidence; a severity rise
re-alerts at once; after a recovery the next firing is a new alert.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator, Optional

import orjson
from sqlalchemy import JSON, Text, bindparam, cast, func, insert, select, update
from sqlalchemy.orm import Session

from alerts.case import service as cases
from alerts.case.models import CaseRow
from alerts.deadlines import Clocks
from alerts.events import EventGrouper
from alerts.models import AlertRow, EventPostRow, EventRow, RuleStateRow
from alerts.notify import escalation
from alerts.notify.config import EscalationConfig, load_escalation
from alerts.routing import RoutingTable
from alerts.rules import Candidate, Rule, load_rules
from yuqing.config import Settings
from yuqing.db import Database, now_utc
from yuqing.records import ClassifiedPost, Severity

log = logging.getLogger(__name__)

OFFSETS = "__offsets__"
#: an event stays open to new posts and alerts this long after its last post
EVENT_WINDOW = timedelta(hours=48)
MAX_EVIDENCE = 200


def _hash(*parts: str, n: int = 20) -> str:
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:n]


class AlertsEngine:
    def __init__(self, *, db: Database, rules: list[Rule], routing: RoutingTable, clocks: Clocks,
                 escalation_policy: Optional[EscalationConfig] = None,
                 clock: Callable[[], datetime] = now_utc, similarity: float = 0.5):
        self.db, self.rules, self.routing, self.clocks = db, rules, routing, clocks
        self.policy = escalation_policy
        #: the time source (tests and replays simulate time with it)
        self.clock = clock
        self.by_name = {r.name: r for r in rules}
        self.disabled: dict[str, str] = {}
        self.offsets: dict[str, int] = {}
        self.events = EventGrouper(threshold=similarity, window=EVENT_WINDOW)
        self._lock = threading.Lock()  # the worker and the scheduler share one engine
        self._batch: Optional[_Lookups] = None  # while a batch's candidates are committed
        self._stale = False  # a batch rolled back: memory is read again from the store
        #: state row -> what it holds: (JSON text, disabled reason), or an own part's version
        self._written: dict[str, object] = {}
        self._load_state()

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> "AlertsEngine":
        esc = settings.config_file("escalation.yaml")
        return cls(db=db, rules=load_rules(settings.config_file("rules.yaml")),
                   routing=RoutingTable.load(settings.config_file("routing.yaml")),
                   clocks=Clocks.load(settings.config_file("deadlines.yaml"), settings.timezone),
                   escalation_policy=load_escalation(esc) if esc.exists() else None)

    # -- state ------------------------------------------------------------
    # A rule's state is one row named after the rule, but for the parts it keeps in rows of
    # their own (`Rule.own_rows`, named "<rule>.<part>"), large ones that seldom change: such
    # a row is written only when the rule's count of its changes (`Rule.versions`) moved.
    # Any row is written only when its content changed.
    def _load_state(self) -> None:
        self._written = {}
        states: dict[str, dict] = {}
        own: dict[str, set[str]] = {}
        own_rows = self._own_rows()
        with self.db.session() as s:
            for row in s.scalars(select(RuleStateRow)):
                if row.rule == OFFSETS:
                    self.offsets = {k: int(v) for k, v in (row.state or {}).items()}
                elif row.rule in own_rows:
                    name, part = own_rows[row.rule]
                    states.setdefault(name, {})[part] = row.state
                    own.setdefault(name, set()).add(part)
                elif row.rule in self.by_name:
                    states.setdefault(row.rule, {}).update(row.state or {})
            for name, state in states.items():
                rule = self.by_name[name]
                rule.set_state(state)
                for part in own.get(name, set()):
                    self._written[f"{name}.{part}"] = rule.versions.get(part, 0)
            self.events.load(s, self.clock())

    def _own_rows(self) -> dict[str, tuple[str, str]]:
        return {f"{r.name}.{part}": (r.name, part) for r in self.rules for part in r.own_rows}

    def _save_state(self, s: Session) -> None:
        rows: dict[str, object] = {}
        for rule in self.rules:
            state = rule.get_state()
            for part in rule.own_rows:
                value, version = state.pop(part, None), rule.versions.get(part, 0)
                if self._written.get(f"{rule.name}.{part}") != version:
                    rows[f"{rule.name}.{part}"] = value
                    self._written[f"{rule.name}.{part}"] = version
            rows[rule.name] = state
        rows[OFFSETS] = dict(self.offsets)
        table = RuleStateRow.__table__
        postgres = s.get_bind().dialect.name == "postgresql"
        own_rows = self._own_rows()
        for name, state in rows.items():
            text = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()
            reason = self.disabled.get(name)
            if name in self._written and self._written[name] == (text, reason):
                continue
            # the JSON text made once (it can be large), not read back first
            param = bindparam("state", text, type_=Text)
            values = {table.c.state: cast(param, JSON) if postgres else param,
                      table.c.disabled_reason: reason, table.c.updated_at: now_utc()}
            if s.execute(update(table).where(table.c.rule == name).values(values)).rowcount == 0:
                s.execute(insert(table).values({table.c.rule: name, **values}))
            if name not in own_rows:
                self._written[name] = (text, reason)

    def is_applied(self, topic: str, partition: int, offset: int) -> bool:
        return offset <= self.offsets.get(f"{topic}:{partition}", -1)

    # -- work ---------------------------------------------------------------
    def process(self, posts: list[ClassifiedPost], *, now: Optional[datetime] = None,
                offsets: Optional[dict[str, int]] = None) -> list[str]:
        """Group the posts into events, run every enabled rule; return the ids of new alerts."""
        now = now or self.clock()
        with self._lock, self._transaction() as s:
            self.events.assign(s, posts, now)
            # rules that count posts get each post once: not one its event already had
            once = [p for p in posts if p.id not in self.events.repeats]
            found: list[Candidate] = []
            for rule in self._enabled():
                batch = once if rule.counts_posts else posts
                found.extend(self._guard(rule, lambda r=rule, b=batch: r.add_data(b, now)))
            return self._commit(s, found, {p.id: p for p in posts}, now, offsets)

    def tick(self, *, now: Optional[datetime] = None) -> list[str]:
        """The scheduler's periodic call: rules that judge windows of time, and recoveries."""
        now = now or self.clock()
        with self._lock, self._transaction() as s:
            found: list[Candidate] = []
            for rule in self._enabled():
                found.extend(self._guard(rule, lambda r=rule: r.tick(now)))
            return self._commit(s, found, {}, now, None)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A batch's session. If it rolls back, what the batch changed in memory (rule
        windows, the event index, the offsets) goes too, so that it can come again."""
        if self._stale:
            self._reload()
        offsets = dict(self.offsets)
        try:
            with self.db.session() as s:
                yield s
        except BaseException:
            self.offsets = offsets  # at once: the worker asks is_applied before it re-reads
            self._stale = True      # the rest is read again before the next batch
            raise

    def _reload(self) -> None:
        for rule in self.rules:
            rule.set_state({})
        self._load_state()  # the event index too: EventGrouper.load starts from empty
        self._stale = False

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

    def _commit(self, s: Session, found: list[Candidate], posts: dict[str, ClassifiedPost],
                now: datetime, offsets: Optional[dict[str, int]]) -> list[str]:
        new: list[str] = []
        self._batch = _Lookups(s, found)
        try:
            # what the loop adds is flushed when needed (a case's id) or at the end, not
            # before each look-up: look-ups go through the batch's maps and rows
            with s.no_autoflush:
                for cand in found:
                    alert_id = (self._recover(s, cand, now) if cand.recovery
                                else self._apply(s, cand, posts, now))
                    if alert_id and not cand.recovery:
                        new.append(alert_id)
                # then the cases, in the same order: opening one flushes (it needs its id),
                # and the alerts are all written by the first flush, not one by one
                for work in self._batch.case_work:
                    work()
        finally:
            self._batch = None
        if offsets:
            for k, v in offsets.items():
                self.offsets[k] = max(v, self.offsets.get(k, -1))
        self._save_state(s)
        return new

    def _last(self, s: Session, key: str) -> Optional[AlertRow]:
        return self._batch.last.get(key)

    def _apply(self, s: Session, cand: Candidate, posts: dict[str, ClassifiedPost],
               now: datetime) -> Optional[str]:
        rule = self.by_name.get(cand.rule)
        quiet = timedelta(minutes=rule.options.quiet_period_minutes if rule else 60)
        last = self._last(s, cand.key)
        if last is not None and last.recovered_at is None and now - last.created_at < quiet and (
                cand.severity.rank <= Severity(last.severity).rank):
            last.evidence = list(dict.fromkeys([*last.evidence, *cand.evidence]))[-MAX_EVIDENCE:]
            return None
        keep = last.event if last is not None and last.recovered_at is None else None
        event = keep or self._event_for(s, cand, posts, now)
        alert = AlertRow(
            id=_hash(cand.key, now.isoformat()), rule=cand.rule, key=cand.key,
            severity=cand.severity.value, topic=cand.topic, region=cand.region,
            window=cand.window, evidence=cand.evidence[-MAX_EVIDENCE:], title=cand.title,
            summary=cand.summary, created_at=now, event_id=event.id,
        )
        s.add(alert)
        self._batch.added(alert)
        log.info("alert %s %s [%s] %s", alert.id, cand.rule, cand.severity.value, cand.title)
        if cand.open_case:
            self._batch.case_work.append(lambda: self._case(s, cand, event, posts, now))
        return alert.id

    def _case(self, s: Session, cand: Candidate, event: EventRow,
              posts: dict[str, ClassifiedPost], now: datetime) -> None:
        case = self._batch.case_for(s, event.id)
        if case is None:
            kind = cand.kind
            if kind == "board":
                first = posts.get(event.first_post_id) or next(
                    (posts[p] for p in cand.evidence if p in posts), None)
                kind = self.clocks.board_kind(first.full_text if first else event.title)
            case = cases.open_case(s, event=event, severity=cand.severity, kind=kind,
                                   route=self.routing.route(cand.topic, cand.region),
                                   clocks=self.clocks, now=now)
            self._batch.cases[event.id] = case
        elif not cases.raise_severity(s, case=case, severity=cand.severity, clocks=self.clocks,
                                      now=now):
            return
        if self.policy is not None:
            escalation.severe(s, self.policy, case, now=now)

    def _recover(self, s: Session, cand: Candidate, now: datetime) -> Optional[str]:
        last = self._last(s, cand.key)
        if last is None or last.recovered_at is not None:
            return None
        last.recovered_at = now
        log.info("alert %s %s recovered: %s", last.id, cand.rule, cand.summary)
        if last.event_id:
            self._batch.case_work.append(lambda: self._case_recovered(s, cand, last, now))
        return last.id

    def _case_recovered(self, s: Session, cand: Candidate, last: AlertRow, now: datetime) -> None:
        case = self._batch.case_for(s, last.event_id)
        if case is not None and case.status != "closed":
            cases.log_action(s, case, actor="system", kind="recovery",
                             text=f"预警解除（{cand.rule}）：{cand.summary}")
            if self.policy is not None:
                escalation.recovery(s, self.policy, case, now=now,
                                    note=f"{last.title}：{cand.summary}")

    def _event_for(self, s: Session, cand: Candidate, posts: dict[str, ClassifiedPost],
                   now: datetime) -> EventRow:
        event = s.get(EventRow, cand.event_id) if cand.event_id else None
        if event is None and cand.evidence:
            event = self._dominant(s, cand.evidence, posts)
        if event is None:
            event = s.scalar(select(EventRow).where(EventRow.key == cand.key,
                                                    EventRow.last_seen_at >= now - EVENT_WINDOW)
                             .order_by(EventRow.last_seen_at.desc()).limit(1))
        if event is None:
            event = EventRow(id=_hash("event", cand.key, now.isoformat(), n=16), key=cand.key,
                             kind="aggregate", title=cand.title, topic=cand.topic,
                             region=cand.region, first_seen_at=now, last_seen_at=now,
                             post_count=0, negative_count=0, sources=[])
            s.add(event)
            s.flush()
        event.last_seen_at = max(event.last_seen_at, now) if event.kind == "aggregate" \
            else event.last_seen_at
        return event

    def _dominant(self, s: Session, ids: list[str],
                  posts: dict[str, ClassifiedPost]) -> Optional[EventRow]:
        """The event with most of the evidence, the oldest on a tie; the open events' counts
        and first posts come from the grouper, the others from the store."""
        of = _evidence_events(ids, posts, self.events.member)
        missing = [pid for pid in ids if pid not in of]
        if missing:  # posts of events closed since (the grouper knows the open ones)
            for pid, eid in s.execute(select(EventPostRow.post_id, EventPostRow.event_id)
                                      .where(EventPostRow.post_id.in_(missing[:500]))):
                of.setdefault(pid, eid)
        if not of:
            return None
        counts = Counter(of.values())
        first = self.events.first_seen
        rows: dict[str, EventRow] = {}
        closed = [e for e in counts if e not in first]
        if closed:
            rows = {e.id: e for e in s.scalars(select(EventRow).where(EventRow.id.in_(closed)))}
        known = [(e, first[e] if e in first else rows[e].first_seen_at)
                 for e in counts if e in first or e in rows]
        if not known:
            return None
        best, _ = max(known, key=lambda k: (counts[k[0]], -k[1].timestamp()))
        return rows.get(best) or self.events.event_rows.get(best) or s.get(EventRow, best)


def _evidence_events(ids: list[str], posts: dict[str, ClassifiedPost],
                     member: dict[str, str]) -> dict[str, str]:
    """post id -> event id for the evidence found in the batch or in the open events."""
    of = {pid: posts[pid].cluster_id for pid in ids if pid in posts and posts[pid].cluster_id}
    for pid in ids:
        if pid not in of and pid in member:
            of[pid] = member[pid]
    return of


class _Lookups:
    """What a batch's candidates need from the store, read up front with one query per
    table: the newest alert of each key, the events they may attach to, their cases.
    The objects stay in the session (its identity map answers `get` and relationships)."""

    def __init__(self, s: Session, found: list[Candidate]):
        self.last: dict[str, AlertRow] = {}
        self.cases: dict[str, Optional[CaseRow]] = {}
        #: the cases' part of the candidates, done after the alerts
        self.case_work: list[Callable[[], None]] = []
        self.events: dict[str, EventRow] = {}
        if not found:
            return
        keys = list({c.key for c in found})
        for i in range(0, len(keys), 500):
            ranked = select(AlertRow.id, func.row_number().over(
                partition_by=AlertRow.key,
                order_by=(AlertRow.created_at.desc(), AlertRow.id.desc())).label("n")).where(
                AlertRow.key.in_(keys[i:i + 500])).subquery()
            for alert in s.scalars(select(AlertRow).join(ranked, ranked.c.id == AlertRow.id)
                                   .where(ranked.c.n == 1)):
                self.last[alert.key] = alert
        ids = {c.event_id for c in found if c.event_id}
        ids.update(a.event_id for a in self.last.values() if a.event_id)
        ids = list(ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            self.events.update((e.id, e) for e in s.scalars(
                select(EventRow).where(EventRow.id.in_(chunk))))
            self.cases.update(dict.fromkeys(chunk))
            self.cases.update((c.event_id, c) for c in s.scalars(
                select(CaseRow).where(CaseRow.event_id.in_(chunk))))

    def added(self, alert: AlertRow) -> None:
        """A new alert: the newest of its key, as the query would order them."""
        last = self.last.get(alert.key)
        if last is None or (alert.created_at, alert.id) >= (last.created_at, last.id):
            self.last[alert.key] = alert

    def case_for(self, s: Session, event_id: str) -> Optional[CaseRow]:
        if event_id not in self.cases:
            self.cases[event_id] = cases.case_for_event(s, event_id=event_id)
        return self.cases[event_id]
