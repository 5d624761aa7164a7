"""New term: a word or place never seen before that suddenly appears in many posts.

The rule learns the vocabulary (`keywords` and `region` of each post). During
the first `warmup_posts` posts everything is learnt without alerting. After
that, a term not yet known is *pending* while it appears; when `min_posts`
posts carry it within `window_minutes`, the rule fires. A pending term whose
window passes becomes known; a firing term then recovers.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pydantic import Field

from yuqing.records import ClassifiedPost, Severity

from .base import Candidate, Rule, RuleOptions, board_kind, facts, first_sighting, minute, register

#: the posts kept per pending term, for its topic and kind (the first ones) and its evidence
#: (the newest 50); its count is kept apart
RECENT = 200
EVIDENCE = 50


class NewTermOptions(RuleOptions):
    fields: list[str] = Field(default_factory=lambda: ["keywords", "region"])
    min_posts: int = Field(5, ge=2)
    window_minutes: float = Field(360, gt=0)
    warmup_posts: int = Field(200, ge=0)
    min_length: int = Field(2, ge=1)
    severity: Severity = Severity.IV
    #: the most terms remembered (the oldest are forgotten first)
    max_known: int = Field(200_000, ge=100)


@register("new_term")
class NewTerm(Rule):
    Options = NewTermOptions
    options: NewTermOptions
    counts_posts = True
    own_rows = ("known",)  # up to max_known terms; changes when a term is learnt

    def __init__(self, options: NewTermOptions):
        super().__init__(options)
        self.known: dict[str, None] = {}  # insertion-ordered set
        # term -> posts with it in the window (see RECENT): [[minute, post id, topic, kind]]
        self.pending: dict[str, list[list]] = {}
        self.counts: dict[str, dict[int, int]] = {}  # term -> minute -> posts with it
        self.posts_seen = 0

    def _terms(self, post: ClassifiedPost) -> set[str]:
        terms: set[str] = set()
        for f in self.options.fields:
            terms.update(t for t in getattr(post, f, []) or [] if len(t) >= self.options.min_length)
        return terms

    def _learn(self, term: str) -> None:
        self.known[term] = None
        self.versions["known"] = self.versions.get("known", 0) + 1
        while len(self.known) > self.options.max_known:
            self.known.pop(next(iter(self.known)))

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        touched = set()
        known: dict = {}
        for f in facts(posts, now):
            warm = self.posts_seen < self.options.warmup_posts
            self.posts_seen += 1
            for term in self._terms(f.post):
                if term in self.known:
                    continue
                if warm:
                    self._learn(term)
                    continue
                entries = self.pending.get(term)
                if entries is None:
                    entries = self.pending[term] = []
                if first_sighting(known, term, entries, f.id):
                    m = f.minute
                    counts = self.counts.setdefault(term, {})
                    counts[m] = counts.get(m, 0) + 1
                    touched.add(term)
                    if len(entries) >= RECENT:
                        del entries[RECENT - EVIDENCE]  # the first ones and the newest stay
                    topic = f.topics[0] if f.topics else None
                    entries.append([m, f.id, topic, board_kind(f.post)])
        out = self._expire(now)
        for term in touched:
            entries = self.pending.get(term, [])
            n = sum(self.counts.get(term, {}).values())
            if n >= self.options.min_posts and entries:
                topic = Counter(e[2] for e in entries).most_common(1)[0][0]
                out.append(self.fire(Candidate(
                    rule=self.name, key=f"{self.name}:{term}", severity=self.options.severity,
                    topic=topic, title=f"新出现词语：{term}",
                    summary=f"此前未出现过的「{term}」近期出现在 {n} 条信息中",
                    evidence=[e[1] for e in entries][-50:], kind=entries[0][3],
                    window={"term": term, "posts": n}), now))
        return out

    def _expire(self, now: datetime) -> list[Candidate]:
        cutoff = minute(now - timedelta(minutes=self.options.window_minutes))
        out = []
        for term in list(self.pending):
            counts = self.counts.get(term, {})
            if counts and min(counts) > cutoff:
                continue  # nothing expired
            kept = {m: n for m, n in counts.items() if m > cutoff}
            if kept:
                self.counts[term] = kept
                self.pending[term] = [e for e in self.pending[term] if e[0] > cutoff]
                continue
            del self.pending[term]
            self.counts.pop(term, None)
            self._learn(term)
            key = f"{self.name}:{term}"
            if key in self.active:
                out.append(self.recover(key, now, f"「{term}」已不再集中出现"))
        return out

    def tick(self, now: datetime) -> list[Candidate]:
        return self._expire(now)

    def get_state(self) -> dict:
        # JSON writes the minutes (int keys) as strings; set_state reads them back
        return {**super().get_state(), "known": list(self.known), "pending": self.pending,
                "counts": self.counts, "posts_seen": self.posts_seen}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.known = dict.fromkeys(state.get("known") or [])
        self.versions["known"] = self.versions.get("known", 0) + 1
        self.pending = {t: [list(e) for e in v] for t, v in state.get("pending", {}).items()}
        self.counts = {t: {int(m): n for m, n in v.items()}
                       for t, v in state.get("counts", {}).items()}
        for term, entries in self.pending.items():
            if term not in self.counts:  # the state as saved before counts
                counts = self.counts[term] = {}
                for e in entries:
                    counts[int(e[0])] = counts.get(int(e[0]), 0) + 1
            if len(entries) > RECENT:
                self.pending[term] = entries[:RECENT - EVIDENCE] + entries[-EVIDENCE:]
        self.posts_seen = int(state.get("posts_seen", 0))
