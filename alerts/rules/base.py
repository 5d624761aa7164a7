"""Rule types: small classes registered by name, each declaring its options.

A rule sees classified posts through `add_data()` and returns the alert
candidates they trigger. `tick()` is called by the scheduler for rules that
judge windows of time. A rule's window state is a JSON-able dict so that the
engine can save it and a restart does not forget it.

A rule remembers which of its keys are firing (`active`). When a condition
clears, the rule returns a *recovery* candidate for that key (the engine
marks the alert recovered and sends a recovery notice). Rules that judge a
window re-judge their active keys on each tick; rules triggered by single
posts (words, event growth) recover after `recover_after_minutes` without a
new trigger.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, NamedTuple, Optional, Type

from pydantic import BaseModel, ConfigDict, Field

from yuqing.records import ClassifiedPost, SentimentLabel, Severity

RULE_TYPES: dict[str, Type["Rule"]] = {}


def register(name: str):
    def wrap(cls: Type["Rule"]) -> Type["Rule"]:
        cls.type_name = name
        RULE_TYPES[name] = cls
        return cls

    return wrap


class RuleOptions(BaseModel):
    """Options common to every rule; each type extends this with its own."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: str
    description: str = ""
    enabled: bool = True
    #: an open alert with the same key absorbs new evidence for this long
    quiet_period_minutes: float = Field(60, ge=0)
    #: a post-triggered condition with no new trigger for this long has cleared
    recover_after_minutes: float = Field(120, gt=0)
    #: whether an alert of this rule opens a response case
    open_case: bool = True


@dataclass
class Candidate:
    """What a rule says should be alerted; the engine dedupes and persists it."""

    rule: str
    #: alerts with the same key are de-duplicated (see alerts.engine)
    key: str
    severity: Severity
    title: str
    summary: str
    evidence: list[str]
    topic: Optional[str] = None
    region: Optional[str] = None
    window: dict = field(default_factory=dict)
    #: "board" when the evidence is a 网民留言, which runs on the board clocks
    kind: str = "opinion"
    #: the content event the alert is about, when the rule knows it
    event_id: Optional[str] = None
    #: the condition of `key` has cleared
    recovery: bool = False
    open_case: bool = True


class Rule:
    type_name: ClassVar[str] = ""
    Options: ClassVar[Type[RuleOptions]] = RuleOptions
    #: a rule that counts posts (volumes, shares) gets from the engine each post once: not
    #: a post its content event already had (an updated post, a re-delivered batch). Its
    #: own memory of the post ids it counted is bounded (the newest ones per key), a
    #: second guard for a rule used on its own.
    counts_posts: ClassVar[bool] = False
    #: parts of the state (keys of get_state()) that are large and seldom change: the engine
    #: keeps each in a row of its own, written when its count in `versions` has moved
    own_rows: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: RuleOptions):
        self.options = options
        self.name = options.name
        #: key -> what was alerted (severity, title, topic, region, event, last trigger)
        self.active: dict[str, dict] = {}
        #: part in own_rows -> how many times it changed (only the count moving matters)
        self.versions: dict[str, int] = {}

    def bind(self, config_dir: Path) -> None:
        """Called by the loader with the rule file's folder (for files a rule reads)."""

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        raise NotImplementedError

    def tick(self, now: datetime) -> list[Candidate]:
        return self.recover_stale(now)

    # -- firing and recovery ------------------------------------------------
    def fire(self, cand: Candidate, now: datetime) -> Candidate:
        cand.open_case = cand.open_case and self.options.open_case
        self.active[cand.key] = {
            "at": now.isoformat(), "severity": cand.severity.value, "title": cand.title,
            "topic": cand.topic, "region": cand.region, "event_id": cand.event_id,
        }
        return cand

    def recover(self, key: str, now: datetime, summary: str) -> Candidate:
        info = self.active.pop(key)
        return Candidate(rule=self.name, key=key, severity=Severity(info["severity"]),
                         title=f"【已恢复】{info['title']}", summary=summary, evidence=[],
                         topic=info.get("topic"), region=info.get("region"),
                         event_id=info.get("event_id"), recovery=True,
                         window={"recovered_at": now.isoformat()})

    def recover_stale(self, now: datetime) -> list[Candidate]:
        limit = timedelta(minutes=self.options.recover_after_minutes)
        return [self.recover(k, now, f"已连续 {self.options.recover_after_minutes:g} 分钟未再触发")
                for k, v in list(self.active.items())
                if now - datetime.fromisoformat(v["at"]) >= limit]

    # -- state --------------------------------------------------------------
    def get_state(self) -> dict:
        return {"active": dict(self.active)}

    def set_state(self, state: dict) -> None:
        self.active = dict(state.get("active", {}))


def post_time(post: ClassifiedPost) -> datetime:
    return post.published_at or post.fetched_at


class Facts(NamedTuple):
    """What the counting rules read of a post, worked out once per batch for all of them."""

    post: ClassifiedPost
    id: str
    at: datetime             # its time, not later than now
    minute: int
    topics: tuple[str, ...]
    region: Optional[str]    # the first place
    label: str               # its sentiment
    negative: bool


_last_facts: tuple = (None, None, [])


def facts(posts: list[ClassifiedPost], now: datetime) -> list[Facts]:
    """The facts of `posts` judged at `now`; the rules that get the same list in a row (the
    engine gives one list to all its counting rules) share them."""
    global _last_facts
    cached, at_now, out = _last_facts
    if cached is posts and at_now == now and len(out) == len(posts):
        return out
    out = []
    for p in posts:
        at = p.published_at or p.fetched_at
        if at > now:
            at = now
        label = p.sentiment.label
        out.append(Facts(p, p.id, at, int(at.timestamp() // 60), tuple([t.code for t in p.topics]),
                         p.region[0] if p.region else None, label.value,
                         label == SentimentLabel.negative))
    _last_facts = (posts, now, out)  # the list is held, so its id is not reused meanwhile
    return out


def first_region(post: ClassifiedPost) -> Optional[str]:
    return post.region[0] if post.region else None


def minute(ts: datetime) -> int:
    return int(ts.timestamp() // 60)


def board_kind(post: ClassifiedPost) -> str:
    from yuqing.records import SourceType

    return "board" if post.source_type == SourceType.board else "opinion"


def unexpired(counts: dict[int, int], cutoff: int) -> dict[int, int]:
    """The per-minute `counts` after minute `cutoff`: the same dict when none expired."""
    if min(counts, default=cutoff + 1) > cutoff:
        return counts
    return {m: c for m, c in counts.items() if m > cutoff}


def in_window(entries: list, start: float, n: int = 50) -> list:
    """The newest `n` of the entries ([minute, post id, ...]) after minute `start`: the posts
    of the current window an alert gives as evidence, and all a rule keeps of them."""
    kept = [e for e in entries if e[0] > start]
    return kept[-n:] if len(kept) > n else kept


def first_sighting(known: dict, key, entries: list, pid: str, pos: int = 1) -> bool:
    """True the first time `pid` is counted under `key`, where `entries` (the rule's
    state: tuples with the post id at `pos`) already list the ones counted before.

    `known` is a dict the caller keeps for one batch: each key's ids become a set
    once, instead of scanning the entries for every post.
    """
    ids = known.get(key)
    if ids is None:
        ids = known[key] = {e[pos] for e in entries}
    if pid in ids:
        return False
    ids.add(pid)
    return True
