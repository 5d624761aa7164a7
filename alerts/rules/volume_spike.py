"""Volume spike: a topic (optionally per place) far above its baseline.

The baseline is either *recent* (the mean count per window over the
`baseline_windows` windows before the current one) or *seasonal*: the mean
count at the same hour of the same weekday over the last `seasonal_weeks`
weeks, scaled to the window, so that the Monday-morning rush is not a spike
and the same volume at 3 a.m. is. Seasonal falls back to recent until the
rule has `seasonal_min_weeks` weeks of history.
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


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1)
    severity: Severity


class VolumeSpikeOptions(RuleOptions):
    window_minutes: float = Field(10, gt=0)
    #: the recent baseline is the mean count per window over this many earlier windows
    baseline_windows: int = Field(12, ge=1)
    baseline: Literal["recent", "seasonal"] = "recent"
    seasonal_weeks: int = Field(4, ge=1, le=12)
    seasonal_min_weeks: int = Field(1, ge=1)
    factor: float = Field(3.0, gt=0)
    min_count: int = Field(5, ge=1)
    topics: list[str] = []  # empty: every topic but "other"
    sentiment: Optional[str] = None  # count only posts of this sentiment
    by_region: bool = False
    levels: list[Level] = Field(default_factory=lambda: [Level(count=1, severity=Severity.IV)])


#: post ids kept per key: the evidence (the newest 50 in the window), also what a rule used on
#: its own counts an updated post once against (in the engine it gets each post once)
RECENT = 50
WEEK_HOURS = 7 * 24


def _hour(ts: datetime) -> int:
    return int(ts.timestamp() // 3600)


@register("volume_spike")
class VolumeSpike(Rule):
    Options = VolumeSpikeOptions
    options: VolumeSpikeOptions
    counts_posts = True

    def __init__(self, options: VolumeSpikeOptions):
        super().__init__(options)
        # key -> minute -> count, and key -> recent (minute, post id) for evidence
        self.buckets: dict[str, dict[int, int]] = defaultdict(dict)
        self.recent: dict[str, list[tuple[int, str]]] = defaultdict(list)
        # seasonal: key -> hour -> count, and the first hour the rule saw posts
        self.hourly: dict[str, dict[int, int]] = defaultdict(dict)
        self.first_hour: Optional[int] = None
        self._pruned_hour: Optional[int] = None  # the hourly counts are pruned once an hour

    @property
    def _horizon(self) -> float:
        return self.options.window_minutes * (self.options.baseline_windows + 1)

    def _keys(self, f: Facts, memo: dict) -> list[tuple[str, str, Optional[str]]]:
        """The post's keys: (key, topic, place); `memo` keeps them per kind of post."""
        o = self.options
        kind = (f.topics, f.region if o.by_region else None, f.label if o.sentiment else None)
        out = memo.get(kind)
        if out is not None:
            return out
        out = memo[kind] = []
        if o.sentiment and f.label != o.sentiment:
            return out
        region = kind[1]
        for code in f.topics:
            if (o.topics and code not in o.topics) or (not o.topics and code == "other"):
                continue
            out.append((f"{code}|{region or ''}", code, region))
        return out

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        oldest = now - timedelta(minutes=max(self._horizon, self.options.window_minutes))
        seasonal = self.options.baseline == "seasonal"
        touched: dict[str, tuple[str, Optional[str]]] = {}
        known: dict = {}
        memo: dict = {}
        for f in facts(posts, now):
            ts = f.at
            if seasonal:
                self.first_hour = min(self.first_hour or _hour(ts), _hour(ts))
            elif ts < oldest:
                continue  # too old to say anything about the current window
            m = f.minute
            for key, code, region in self._keys(f, memo):
                if not first_sighting(known, key, self.recent[key], f.id):
                    continue  # an updated post is still one post
                if seasonal:
                    h = _hour(ts)
                    self.hourly[key][h] = self.hourly[key].get(h, 0) + 1
                if ts < oldest:
                    continue
                self.buckets[key][m] = self.buckets[key].get(m, 0) + 1
                self.recent[key].append((m, f.id))
                touched[key] = (code, region)
        self._prune(now)
        out = []
        for key, (code, region) in touched.items():
            cand = self._judge(key, code, region, now)
            if cand:
                out.append(self.fire(cand, now))
        return out

    def _baseline(self, key: str, now: datetime) -> tuple[float, str]:
        o = self.options
        if o.baseline == "seasonal" and self.first_hour is not None:
            hour = _hour(now)
            slots = [hour - WEEK_HOURS * w for w in range(1, o.seasonal_weeks + 1)]
            slots = [h for h in slots if h >= self.first_hour]
            if len(slots) >= o.seasonal_min_weeks:
                per_hour = sum(self.hourly[key].get(h, 0) for h in slots) / len(slots)
                return per_hour * o.window_minutes / 60, f"近 {len(slots)} 周同一时段"
        start = minute(now) - o.window_minutes
        earlier = sum(c for m, c in self.buckets[key].items() if m <= start)
        return earlier / o.baseline_windows, "近期"

    def _judge(self, key: str, code: str, region: Optional[str], now: datetime) -> Optional[Candidate]:
        o = self.options
        width = o.window_minutes
        start = minute(now) - width
        current = sum(c for m, c in self.buckets.get(key, {}).items() if m > start)
        baseline, basis = self._baseline(key, now)
        if current < o.min_count or current < o.factor * baseline:
            return None
        severity = Severity.IV
        for level in sorted(o.levels, key=lambda lv: lv.count):
            if current >= level.count:
                severity = level.severity
        evidence = [pid for m, pid in in_window(self.recent[key], start, RECENT)]
        place = f"{region}" if region else ""
        name = topic_name(code)
        return Candidate(
            rule=self.name, key=f"{self.name}:{key}", severity=severity, topic=code, region=region,
            title=f"{place}{name}类舆情量激增",
            summary=(f"近 {width:g} 分钟{place}「{name}」相关信息 {current} 条，"
                     f"{basis}基线每 {width:g} 分钟 {baseline:.1f} 条"),
            evidence=evidence,
            window={"minutes": width, "count": current, "baseline": round(baseline, 2),
                    "basis": o.baseline},
        )

    def _prune(self, now: datetime) -> None:
        cutoff = minute(now - timedelta(minutes=self._horizon))
        start = minute(now) - self.options.window_minutes
        for key in list(self.buckets):
            counts = self.buckets[key]
            self.recent[key] = in_window(self.recent[key], start, RECENT)
            kept = unexpired(counts, cutoff)
            if kept:
                self.buckets[key] = kept
            else:
                del self.buckets[key]
                self.recent.pop(key, None)
        oldest_hour = _hour(now) - WEEK_HOURS * self.options.seasonal_weeks - 1
        if oldest_hour == self._pruned_hour:
            return
        self._pruned_hour = oldest_hour
        for key in list(self.hourly):
            self.hourly[key] = {h: c for h, c in self.hourly[key].items() if h >= oldest_hour}
            if not self.hourly[key]:
                del self.hourly[key]

    def tick(self, now: datetime) -> list[Candidate]:
        self._prune(now)
        out = []
        for key in list(self.active):
            code, _, region = key[len(self.name) + 1:].partition("|")
            if self._judge(key[len(self.name) + 1:], code, region or None, now) is None:
                out.append(self.recover(key, now, "信息量已回落至基线水平"))
        return out

    def get_state(self) -> dict:
        # JSON writes the minutes and hours (int keys) as strings; set_state reads them back
        return {**super().get_state(), "buckets": self.buckets, "recent": self.recent,
                "hourly": self.hourly, "first_hour": self.first_hour}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.buckets = defaultdict(dict, {
            k: {int(m): c for m, c in v.items()} for k, v in state.get("buckets", {}).items()})
        self.recent = defaultdict(list, {
            k: [(int(m), p) for m, p in v] for k, v in state.get("recent", {}).items()})
        self.hourly = defaultdict(dict, {
            k: {int(h): c for h, c in v.items()} for k, v in state.get("hourly", {}).items()})
        self.first_hour = state.get("first_hour")
        self._pruned_hour = None
