"""Source gone silent: a source that stopped yielding posts for longer than expected.

The expected gap of a source is its configured `sources[name]` (minutes), else
`factor` times the typical gap between its batches (a moving average) once
that is known, and never less than `min_silence_minutes`. Checked on each
tick; the alert recovers when the source yields again. By default it opens
no case: it is the crawl team's work, not a public-opinion issue.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from yuqing.records import ClassifiedPost, Severity

from .base import Candidate, Rule, RuleOptions, register


class SourceSilentOptions(RuleOptions):
    sources: dict[str, float] = {}
    factor: float = Field(4.0, gt=1)
    min_silence_minutes: float = Field(60, gt=0)
    #: batches seen before a learnt gap is trusted
    min_observations: int = Field(3, ge=1)
    severity: Severity = Severity.IV
    open_case: bool = False


@register("source_silent")
class SourceSilent(Rule):
    Options = SourceSilentOptions
    options: SourceSilentOptions

    def __init__(self, options: SourceSilentOptions):
        super().__init__(options)
        # source -> {"last": iso, "gap": minutes (moving average) or None, "n": observations}
        self.sources: dict[str, dict] = {}

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        out = []
        for name in dict.fromkeys(p.source for p in posts):
            s = self.sources.get(name)
            if s is None:
                self.sources[name] = {"last": now.isoformat(), "gap": None, "n": 0}
            else:
                gap = (now - datetime.fromisoformat(s["last"])).total_seconds() / 60
                if gap >= 1:  # batches within a minute are one crawl
                    s["gap"] = gap if s["gap"] is None else 0.7 * s["gap"] + 0.3 * gap
                    s["n"] += 1
                    s["last"] = now.isoformat()
            key = f"{self.name}:{name}"
            if key in self.active:
                out.append(self.recover(key, now, f"信息源「{name}」已恢复采集"))
        return out

    def expected(self, name: str) -> float | None:
        o = self.options
        if name in o.sources:
            return o.sources[name]
        s = self.sources[name]
        if s["gap"] is None or s["n"] < o.min_observations:
            return None
        return max(o.min_silence_minutes, o.factor * s["gap"])

    def tick(self, now: datetime) -> list[Candidate]:
        out = []
        for name, s in self.sources.items():
            key = f"{self.name}:{name}"
            limit = self.expected(name)
            silent = (now - datetime.fromisoformat(s["last"])).total_seconds() / 60
            if key in self.active or limit is None or silent < limit:
                continue
            out.append(self.fire(Candidate(
                rule=self.name, key=key, severity=self.options.severity,
                title=f"信息源中断：{name}",
                summary=f"信息源「{name}」已 {silent:.0f} 分钟没有新信息（通常不超过 {limit:.0f} 分钟）",
                evidence=[], window={"source": name, "silent_minutes": round(silent),
                                     "expected_minutes": round(limit)}, open_case=False), now))
        return out

    def get_state(self) -> dict:
        return {**super().get_state(), "sources": self.sources}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.sources = dict(state.get("sources", {}))
