"""Content events: posts grouped into stories by near-duplicate text.

Every post the engine sees joins a *content event*. Its text (title and body,
punctuation and spaces dropped) is cut into character shingles and hashed
into a MinHash, which is looked up in a MinHash LSH index (`datasketch`) of
the members of the events still open (a post within `window` of now). A post
similar enough to a member (estimated Jaccard of the shingles at or above the
threshold) joins that member's event: a repost, a copy on another site, a
follow-up quoting it. Otherwise it starts a new event as its original: the
first poster and first-seen time are the post's own, and a later-found older
copy takes over as the original. So an event persists across sources and
days for as long as copies keep coming.

The event id is set on the post as `cluster_id` before the rules run, so that
rules can speak about events (see `alerts.engine` for how alerts attach).
Each event keeps its volume, negative count and sources, and hourly buckets
(`EventBucketRow`) of its volume and negative count over time, which the case
evaluation reads.

The LSH index lives in memory; the members' MinHash values are stored with
their membership rows so that a restart rebuilds it from the open events.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Optional

import numpy as np
from datasketch import MinHash, MinHashLSH
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.records import ClassifiedPost, SentimentLabel

from .models import EventBucketRow, EventPostRow, EventRow

SHINGLE = 3
NUM_PERM = 64
SEED = 7
#: pinned, so that stored signatures stay comparable across datasketch versions
SCHEME = "affine32"
_NOISE = re.compile(r"[\W_]+", re.UNICODE)
_REPOST = re.compile(r"^(转发|转载|转|rt|//@[^:：]*[:：])+[:：]?", re.IGNORECASE)


def normalize(text: str) -> str:
    return _NOISE.sub("", _REPOST.sub("", text.strip())).lower()


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    t = normalize(text)
    if len(t) <= k:
        return {t} if t else set()
    return {t[i:i + k] for i in range(len(t) - k + 1)}


def minhash(text: str) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    m.update_batch([s.encode("utf-8") for s in shingles(text)])
    return m


def post_time(post: ClassifiedPost) -> datetime:
    return post.published_at or post.fetched_at


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def event_id_for(post_id: str) -> str:
    return hashlib.sha1(f"event|{post_id}".encode()).hexdigest()[:16]


class EventGrouper:
    """Assigns each post to a content event; the writes go in the caller's session."""

    def __init__(self, *, threshold: float = 0.5, window: timedelta = timedelta(hours=48)):
        self.threshold, self.window = threshold, window
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.member: dict[str, str] = {}            # post id -> event id
        self.last_seen: dict[str, datetime] = {}    # event id -> its newest post
        self.keys: dict[str, list[str]] = {}        # event id -> member post ids in the LSH

    def load(self, session: Session, now: datetime) -> None:
        """Rebuild the index from the events still open (after a restart)."""
        rows = session.execute(
            select(EventPostRow.post_id, EventPostRow.signature, EventRow.id, EventRow.last_seen_at)
            .join(EventRow, EventRow.id == EventPostRow.event_id)
            .where(EventRow.kind == "content", EventRow.last_seen_at >= now - self.window))
        for pid, sig, eid, last in rows:
            if sig:
                m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME,
                            hashvalues=np.array(sig, dtype=np.uint64))
                self._index(pid, m, eid)
            self.member[pid] = eid
            self.last_seen[eid] = last

    def _index(self, pid: str, m: MinHash, eid: str) -> None:
        if pid not in self.lsh:
            self.lsh.insert(pid, m)
            self.keys.setdefault(eid, []).append(pid)

    def prune(self, now: datetime) -> None:
        for eid, last in list(self.last_seen.items()):
            if last < now - self.window:
                for pid in self.keys.pop(eid, []):
                    self.lsh.remove(pid)
                    self.member.pop(pid, None)
                del self.last_seen[eid]

    def _match(self, m: MinHash) -> Optional[str]:
        events = {self.member[p] for p in self.lsh.query(m) if p in self.member}
        events = [e for e in events if e in self.last_seen]
        # the oldest open event is the original story
        return min(events, key=lambda e: (self.last_seen[e], e)) if events else None

    def assign(self, session: Session, posts: list[ClassifiedPost], now: datetime) -> dict[str, str]:
        """Put each post in its event, set `post.cluster_id`; return post id -> event id."""
        self.prune(now)
        out: dict[str, str] = {}
        buckets: dict[tuple[str, datetime], EventBucketRow] = {}
        # No flush per look-up: what this batch adds is tracked in `out`, `buckets`
        # and `fresh` (events born in this batch have no rows in the database yet).
        fresh: dict[str, EventRow] = {}
        with session.no_autoflush:
            self._assign(session, sorted(posts, key=post_time), now, out, buckets, fresh)
        session.flush()
        return out

    def _assign(self, session: Session, posts: list[ClassifiedPost], now: datetime,
                out: dict[str, str], buckets: dict, fresh: dict[str, EventRow]) -> None:
        for post in posts:
            ts = min(post_time(post), now)
            eid = self.member.get(post.id)
            if post.id in out or (eid is not None and eid not in fresh
                                  and session.get(EventPostRow, (eid, post.id))):
                post.cluster_id = out[post.id] = eid  # an updated post is still one post
                continue
            m = minhash(post.full_text)
            eid = eid or self._match(m)
            event = (fresh.get(eid) or session.get(EventRow, eid)) if eid else None
            if event is None:
                eid = eid or event_id_for(post.id)
                event = EventRow(id=eid, key=f"event:{eid}", kind="content",
                                 title=(post.title or post.text)[:80], first_seen_at=ts,
                                 last_seen_at=ts, post_count=0, negative_count=0, sources=[],
                                 topic=post.topic_codes[0] if post.topic_codes else None,
                                 region=post.region[0] if post.region else None)
                session.add(event)
                fresh[eid] = event
            negative = post.sentiment.label == SentimentLabel.negative
            session.add(EventPostRow(event_id=eid, post_id=post.id, seen_at=now, posted_at=ts,
                                     source=post.source, sentiment=post.sentiment.label.value,
                                     signature=[int(v) for v in m.hashvalues]))
            if event.first_post_id is None or ts < event.first_seen_at:
                event.first_post_id, event.first_poster, event.first_seen_at = post.id, post.author, ts
                event.title = (post.title or post.text)[:80]
            event.last_seen_at = max(event.last_seen_at, ts)
            event.post_count = (event.post_count or 0) + 1
            event.negative_count = (event.negative_count or 0) + int(negative)
            if post.source not in (event.sources or []):
                event.sources = [*(event.sources or []), post.source]
            self._bucket(session, buckets, eid, hour_of(ts), negative, eid in fresh)
            self.member[post.id] = eid
            self._index(post.id, m, eid)
            self.last_seen[eid] = max(self.last_seen.get(eid, ts), ts)
            post.cluster_id = out[post.id] = eid

    @staticmethod
    def _bucket(session: Session, cache: dict, eid: str, hour: datetime, negative: bool,
                fresh: bool) -> None:
        row = cache.get((eid, hour))
        if row is None:
            row = None if fresh else session.get(EventBucketRow, (eid, hour))
            if row is None:
                row = EventBucketRow(event_id=eid, hour=hour, posts=0, negative=0)
                session.add(row)
            cache[(eid, hour)] = row
        row.posts += 1
        row.negative += int(negative)


def volume(session: Session, event_id: str, start: datetime, end: datetime) -> dict:
    """The event's posts and negative share with times in [start, end)."""
    rows = session.scalars(select(EventBucketRow).where(
        EventBucketRow.event_id == event_id, EventBucketRow.hour >= hour_of(start),
        EventBucketRow.hour < end))
    posts = negative = 0
    for r in rows:
        posts, negative = posts + r.posts, negative + r.negative
    return {"posts": posts, "negative": negative,
            "negative_share": round(negative / posts, 3) if posts else 0.0}
