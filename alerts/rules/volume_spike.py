"""Volume spike: a topic (optionally per place) far above its recent baseline."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from yuqing.records import ClassifiedPost, Severity
from yuqing.taxonomy import topic_name

from .base import Candidate, Rule, RuleOptions, first_region, post_time, register


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1)
    severity: Severity


class VolumeSpikeOptions(RuleOptions):
    window_minutes: float = Field(10, gt=0)
    #: the baseline is the mean count per window over this many earlier windows
    baseline_windows: int = Field(12, ge=1)
    factor: float = Field(3.0, gt=0)
    min_count: int = Field(5, ge=1)
    topics: list[str] = []  # empty: every topic but "other"
    sentiment: Optional[str] = None  # count only posts of this sentiment
    by_region: bool = False
    levels: list[Level] = Field(default_factory=lambda: [Level(count=1, severity=Severity.IV)])


#: post ids kept per key, for evidence and to count an updated post once
RECENT = 500


def _minute(ts: datetime) -> int:
    return int(ts.timestamp() // 60)


@register("volume_spike")
class VolumeSpike(Rule):
    Options = VolumeSpikeOptions
    options: VolumeSpikeOptions

    def __init__(self, options: VolumeSpikeOptions):
        super().__init__(options)
        # key -> minute -> count, and key -> recent (minute, post id) for evidence
        self.buckets: dict[str, dict[int, int]] = defaultdict(dict)
        self.recent: dict[str, list[tuple[int, str]]] = defaultdict(list)

    @property
    def _horizon(self) -> float:
        return self.options.window_minutes * (self.options.baseline_windows + 1)

    def _keys(self, post: ClassifiedPost) -> list[tuple[str, str, Optional[str]]]:
        o = self.options
        if o.sentiment and post.sentiment.label.value != o.sentiment:
            return []
        region = first_region(post) if o.by_region else None
        out = []
        for code in post.topic_codes:
            if (o.topics and code not in o.topics) or (not o.topics and code == "other"):
                continue
            out.append((f"{code}|{region or ''}", code, region))
        return out

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        oldest = now - timedelta(minutes=self._horizon)
        touched: dict[str, tuple[str, Optional[str]]] = {}
        for post in posts:
            ts = min(post_time(post), now)
            if ts < oldest:
                continue  # too old to say anything about the current window
            minute = _minute(ts)
            for key, code, region in self._keys(post):
                if any(pid == post.id for _, pid in self.recent[key]):
                    continue  # an updated post is still one post
                self.buckets[key][minute] = self.buckets[key].get(minute, 0) + 1
                self.recent[key].append((minute, post.id))
                touched[key] = (code, region)
        self._prune(now)
        out = []
        for key, (code, region) in touched.items():
            cand = self._judge(key, code, region, now)
            if cand:
                out.append(cand)
        return out

    def _judge(self, key: str, code: str, region: Optional[str], now: datetime) -> Optional[Candidate]:
        o = self.options
        now_min = _minute(now)
        width = o.window_minutes
        start = now_min - width
        current = sum(c for m, c in self.buckets[key].items() if m > start)
        earlier = sum(c for m, c in self.buckets[key].items() if m <= start)
        baseline = earlier / o.baseline_windows
        if current < o.min_count or current < o.factor * baseline:
            return None
        severity = Severity.IV
        for level in sorted(o.levels, key=lambda lv: lv.count):
            if current >= level.count:
                severity = level.severity
        evidence = [pid for m, pid in self.recent[key] if m > start][-50:]
        place = f"{region}" if region else ""
        name = topic_name(code)
        return Candidate(
            rule=self.name, key=f"{self.name}:{key}", severity=severity, topic=code, region=region,
            title=f"{place}{name}类舆情量激增",
            summary=(f"近 {width:g} 分钟{place}「{name}」相关信息 {current} 条，"
                     f"基线每 {width:g} 分钟 {baseline:.1f} 条"),
            evidence=evidence,
            window={"minutes": width, "count": current, "baseline": round(baseline, 2)},
        )

    def _prune(self, now: datetime) -> None:
        cutoff = _minute(now - timedelta(minutes=self._horizon))
        for key in list(self.buckets):
            kept = {m: c for m, c in self.buckets[key].items() if m > cutoff}
            if kept:
                self.buckets[key] = kept
                self.recent[key] = [(m, p) for m, p in self.recent[key] if m > cutoff][-RECENT:]
            else:
                del self.buckets[key]
                self.recent.pop(key, None)

    def tick(self, now: datetime) -> list[Candidate]:
        self._prune(now)
        return []

    def get_state(self) -> dict:
        return {
            "buckets": {k: {str(m): c for m, c in v.items()} for k, v in self.buckets.items()},
            "recent": {k: [[m, p] for m, p in v] for k, v in self.recent.items()},
        }

    def set_state(self, state: dict) -> None:
        self.buckets = defaultdict(dict, {
            k: {int(m): c for m, c in v.items()} for k, v in state.get("buckets", {}).items()})
        self.recent = defaultdict(list, {
            k: [(int(m), p) for m, p in v] for k, v in state.get("recent", {}).items()})
