"""Event growth: one story (content event) gaining posts or sources fast.

Needs the engine's event assignment (`post.cluster_id`). Fires when, in the
last `window_minutes`, the event gained at least `min_posts` posts and at
least `factor` times the window before; or at least `min_new_sources` sources
it had not been seen on before.
"""
from __future__ import annotations

import heapq
from datetime import datetime
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from yuqing.records import ClassifiedPost, Severity

from .base import (Candidate, Rule, RuleOptions, board_kind, facts, first_sighting, in_window,
                   minute, register)

#: post ids kept per event: the evidence (the newest 50 in the window), also what a rule used on
#: its own counts an updated post once against (in the engine it gets each post once)
RECENT = 50


class GrowthLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    posts: int = Field(ge=1)
    severity: Severity


class EventGrowthOptions(RuleOptions):
    window_minutes: float = Field(60, gt=0)
    min_posts: int = Field(10, ge=1)
    factor: float = Field(2.0, gt=0)
    min_new_sources: int = Field(3, ge=1)
    levels: list[GrowthLevel] = Field(
        default_factory=lambda: [GrowthLevel(posts=1, severity=Severity.IV)])
    #: the most events followed at once (the quietest are dropped first)
    max_events: int = Field(5000, ge=10)


@register("event_growth")
class EventGrowth(Rule):
    Options = EventGrowthOptions
    options: EventGrowthOptions
    counts_posts = True

    def __init__(self, options: EventGrowthOptions):
        super().__init__(options)
        # event id -> {"counts": {minute: posts}, "recent": [[minute, post id]],
        #              "sources": [...], "new_sources": [[minute, source]], "meta": {...}}
        self.events: dict[str, dict] = {}
        # Pruning looks at every event once a minute (the cutoff moves by the minute), and
        # in between only at those that changed since: added to, or recovered.
        self._pruned_at: Optional[float] = None
        self._changed: set[str] = set()

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        touched = set()
        known: dict = {}
        for f in facts(posts, now):
            post = f.post
            eid = post.cluster_id
            if not eid:
                continue
            ev = self.events.get(eid)
            if ev is None:
                ev = self.events[eid] = {"counts": {}, "recent": [], "sources": [],
                                         "new_sources": [], "meta": {}}
            if not first_sighting(known, eid, ev["recent"], f.id):
                continue
            m = f.minute
            ev["counts"][m] = ev["counts"].get(m, 0) + 1
            ev["recent"].append([m, f.id])
            if post.source not in ev["sources"]:
                ev["sources"].append(post.source)
                if len(ev["sources"]) > 1:  # the first source is where it started
                    ev["new_sources"].append([m, post.source])
            if not ev["meta"]:
                ev["meta"] = {"title": post.title or post.text[:30], "region": f.region,
                              "topic": f.topics[0] if f.topics else None,
                              "kind": board_kind(post)}
            touched.add(eid)
        self._changed |= touched
        self._prune(now)
        out = []
        for eid in touched:
            cand = self._judge(eid, now)
            if cand:
                out.append(self.fire(cand, now))
        return out

    def _judge(self, eid: str, now: datetime) -> Optional[Candidate]:
        o = self.options
        ev = self.events.get(eid)
        if ev is None:
            return None
        start = minute(now) - o.window_minutes
        cur = sum(n for m, n in ev["counts"].items() if m > start)
        prev = sum(n for m, n in ev["counts"].items() if start - o.window_minutes < m <= start)
        new_sources = [s for m, s in ev["new_sources"] if m > start]
        by_posts = cur >= o.min_posts and cur >= o.factor * prev
        if not by_posts and len(new_sources) < o.min_new_sources:
            return None
        severity = Severity.IV
        for level in sorted(o.levels, key=lambda lv: lv.posts):
            if cur >= level.posts:
                severity = level.severity
        meta = ev["meta"]
        return Candidate(
            rule=self.name, key=f"{self.name}:{eid}", severity=severity, topic=meta["topic"],
            region=meta["region"], title=f"事件快速扩散：{meta['title']}",
            summary=(f"近 {o.window_minutes:g} 分钟新增 {cur} 条（此前 {prev} 条），"
                     f"新增来源 {len(new_sources)} 个"),
            evidence=[p for m, p in in_window(ev["recent"], start, RECENT)], event_id=eid,
            kind=meta["kind"],
            window={"minutes": o.window_minutes, "posts": cur, "previous": prev,
                    "new_sources": new_sources})

    def _prune(self, now: datetime) -> None:
        cutoff = minute(now) - 2 * self.options.window_minutes
        start = minute(now) - self.options.window_minutes
        if cutoff != self._pruned_at:
            self._pruned_at, check = cutoff, list(self.events)
        else:  # the others are as the last pruning left them
            check = [e for e in self._changed if e in self.events]
        self._changed = set()
        for eid in check:
            ev = self.events[eid]
            if ev["recent"]:
                ev["recent"] = in_window(ev["recent"], start, RECENT)
            counts = ev["counts"]
            if counts and min(counts) > cutoff:
                continue  # nothing expired
            ev["counts"] = {m: n for m, n in counts.items() if m > cutoff}
            ev["new_sources"] = [s for s in ev["new_sources"] if s[0] > cutoff]
            if not ev["counts"] and f"{self.name}:{eid}" not in self.active:
                del self.events[eid]
        if len(self.events) > self.options.max_events:
            quiet = heapq.nsmallest(len(self.events) - self.options.max_events, self.events,
                                    key=lambda e: max(self.events[e]["counts"], default=0))
            for eid in quiet:
                del self.events[eid]

    def recover(self, key: str, now: datetime, summary: str) -> Candidate:
        self._changed.add(key[len(self.name) + 1:])  # no longer kept for being active
        return super().recover(key, now, summary)

    def get_state(self) -> dict:
        # JSON writes the minutes (int keys) as strings; set_state reads them back
        return {**super().get_state(), "events": self.events}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._pruned_at, self._changed = None, set()
        self.events = {}
        for eid, ev in state.get("events", {}).items():
            if "posts" in ev:  # the state as saved before counts: [[minute, post id, source]]
                counts: dict[int, int] = {}
                for p in ev["posts"]:
                    counts[int(p[0])] = counts.get(int(p[0]), 0) + 1
                ev = {**ev, "counts": counts, "recent": [[p[0], p[1]] for p in ev["posts"]]}
                del ev["posts"]
            self.events[eid] = {**ev, "counts": {int(m): n for m, n in ev["counts"].items()},
                                "recent": [list(p) for p in ev["recent"]][-RECENT:]}
