"""Negative share rising: the share of negative posts on a topic or in a place going up.

The current window's share is compared with the share over the
`baseline_windows` windows before it (or `default_baseline` while those hold
fewer than `min_posts` posts). The rule fires when the current window has at
least `min_posts` posts, a share of at least `min_share` and a rise of at
least `min_rise` over the baseline; it recovers when that no longer holds.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from yuqing.records import ClassifiedPost, Severity
from yuqing.taxonomy import topic_name

from .base import (Candidate, Facts, Rule, RuleOptions, facts, first_sighting, in_window, minute,
                   register, unexpired)

#: post ids kept per group, of the current window: the newest ones (what a rule used on its own
#: counts an updated post once against; in the engine it gets each post once) and the newest
#: negative ones (the evidence)
RECENT = 50
EVIDENCE = 50


class ShareLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float = Field(gt=0, le=1)
    severity: Severity


class NegativeShareOptions(RuleOptions):
    group_by: Literal["topic", "region"] = "topic"
    window_minutes: float = Field(60, gt=0)
    baseline_windows: int = Field(6, ge=1)
    min_posts: int = Field(10, ge=1)
    min_share: float = Field(0.5, gt=0, le=1)
    min_rise: float = Field(0.2, ge=0, le=1)
    default_baseline: float = Field(0.3, ge=0, le=1)
    topics: list[str] = []  # empty: every topic but "other"
    levels: list[ShareLevel] = Field(
        default_factory=lambda: [ShareLevel(share=0.5, severity=Severity.IV)])


@register("negative_share")
class NegativeShare(Rule):
    Options = NegativeShareOptions
    options: NegativeShareOptions
    counts_posts = True

    def __init__(self, options: NegativeShareOptions):
        super().__init__(options)
        # group -> minute -> [posts, negative posts]
        self.counts: dict[str, dict[int, list[int]]] = defaultdict(dict)
        # group -> the newest [minute, post id] counted, and the newest negative ones
        self.recent: dict[str, list[list]] = defaultdict(list)
        self.negatives: dict[str, list[list]] = defaultdict(list)

    def _groups(self, f: Facts) -> list[str]:
        o = self.options
        if o.group_by == "region":
            return list(dict.fromkeys(f.post.region))
        return [c for c in f.topics if (c in o.topics if o.topics else c != "other")]

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        touched = set()
        known: dict = {}
        for f in facts(posts, now):
            m, negative = f.minute, f.negative
            for g in self._groups(f):
                if not first_sighting(known, g, self.recent[g], f.id):
                    continue
                count = self.counts[g].get(m)
                if count is None:
                    count = self.counts[g][m] = [0, 0]
                count[0] += 1
                self.recent[g].append([m, f.id])
                if negative:
                    count[1] += 1
                    self.negatives[g].append([m, f.id])
                touched.add(g)
        self._prune(now)
        out = []
        for g in touched:
            cand = self._judge(g, now)
            if cand:
                out.append(self.fire(cand, now))
        return out

    def _judge(self, group: str, now: datetime) -> Optional[Candidate]:
        o = self.options
        start = minute(now) - o.window_minutes
        cur = cur_negative = old = old_negative = 0
        for m, (n, negative) in self.counts.get(group, {}).items():
            if m > start:
                cur, cur_negative = cur + n, cur_negative + negative
            else:
                old, old_negative = old + n, old_negative + negative
        if cur < o.min_posts:
            return None
        share = cur_negative / cur
        base = old_negative / old if old >= o.min_posts else o.default_baseline
        if share < o.min_share or share - base < o.min_rise:
            return None
        severity = Severity.IV
        for level in sorted(o.levels, key=lambda lv: lv.share):
            if share >= level.share:
                severity = level.severity
        topic = group if o.group_by == "topic" else None
        region = group if o.group_by == "region" else None
        what = f"「{topic_name(group)}」" if topic else f"{region}"
        return Candidate(
            rule=self.name, key=f"{self.name}:{o.group_by}:{group}", severity=severity,
            topic=topic, region=region, title=f"{what}负面舆情占比上升",
            summary=(f"近 {o.window_minutes:g} 分钟{what}相关信息 {cur} 条，负面占比 "
                     f"{share:.0%}（此前 {base:.0%}）"),
            evidence=[p for m, p in in_window(self.negatives.get(group, []), start, EVIDENCE)],
            window={"minutes": o.window_minutes, "posts": cur, "share": round(share, 3),
                    "baseline": round(base, 3)})

    def _prune(self, now: datetime) -> None:
        o = self.options
        cutoff = minute(now - timedelta(minutes=o.window_minutes * (o.baseline_windows + 1)))
        start = minute(now) - o.window_minutes
        for g in list(self.counts):
            counts = self.counts[g]
            self.recent[g] = in_window(self.recent[g], start, RECENT)
            self.negatives[g] = in_window(self.negatives[g], start, EVIDENCE)
            kept = unexpired(counts, cutoff)
            if kept:
                self.counts[g] = kept
            else:
                del self.counts[g]
                self.recent.pop(g, None)
                self.negatives.pop(g, None)

    def tick(self, now: datetime) -> list[Candidate]:
        self._prune(now)
        prefix = f"{self.name}:{self.options.group_by}:"
        return [self.recover(k, now, "负面占比已回落") for k in list(self.active)
                if self._judge(k[len(prefix):], now) is None]

    def get_state(self) -> dict:
        # JSON writes the minutes (int keys) as strings; set_state reads them back
        return {**super().get_state(), "counts": self.counts, "recent": self.recent,
                "negatives": self.negatives}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.counts = defaultdict(dict, {g: {int(m): list(c) for m, c in v.items()}
                                         for g, v in state.get("counts", {}).items()})
        self.recent = defaultdict(list, {g: [list(x) for x in v]
                                         for g, v in state.get("recent", {}).items()})
        self.negatives = defaultdict(list, {g: [list(x) for x in v]
                                            for g, v in state.get("negatives", {}).items()})
        for g, seen in state.get("seen", {}).items():  # the state as saved before counts
            for m, p, n in seen:
                count = self.counts[g].setdefault(int(m), [0, 0])
                count[0], count[1] = count[0] + 1, count[1] + int(bool(n))
            self.recent[g] = [[int(m), p] for m, p, _n in seen]
            self.negatives[g] = [[int(m), p] for m, p, n in seen if n]
