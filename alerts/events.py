"""Content events: posts grouped into stories by near-duplicate text.

Every post the engine sees joins a *content event*. Its text (title and body,
punctuation and spaces dropped) is cut into character shingles and hashed
into a MinHash, which is looked up in a MinHash LSH index of the members of
the events still open (a post within `window` of now). A post similar enough
to a member (estimated Jaccard of the shingles at or above the threshold)
joins that member's event: a repost, a copy on another site, a follow-up
quoting it. Otherwise it starts a new event as its original: the first
poster and first-seen time are the post's own, and a later-found older copy
takes over as the original. So an event persists across sources and days
for as long as copies keep coming. A post already stored as a member of an
event (an updated post, a re-delivered batch) is still one post in it.

The event id is set on the post as `cluster_id` before the rules run, so that
rules can speak about events (see `alerts.engine` for how alerts attach).
Each event keeps its volume, negative count and sources, and hourly buckets
(`EventBucketRow`) of its volume and negative count over time, which the case
evaluation reads.

The LSH index lives in memory; the members' MinHash values are stored with
their membership rows so that a restart rebuilds it from the open events.

A batch at a time
-----------------
The signatures are datasketch's MinHash (`num_perm=64, seed=7,
scheme="affine32"`), computed for a whole batch by `alerts.minhash`: the same
values (tests check), so stored signatures stay comparable. The LSH index
uses datasketch's banding for the threshold (the same bands and rows) but
maps a band's value to the *events* with a member having it, which is all a
match needs: a story with thousands of copies costs one entry, not thousands.
The index knows every member of the open events, so a post it knows is one
seen before; a post not in it is looked up as the original of its own event
(one query for the batch), in case its event has closed since. The posts are
grouped in memory, one by one in time order (a post can join an event born
earlier in the same batch); then the batch is written with a few statements
whatever its size (`alerts.bulk`): one read of the events it joins, one
insert each of the new events, members and hourly buckets, one update of the
events joined and one upsert of their buckets.
"""
from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

import numpy as np
from datasketch import MinHashLSH
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from yuqing.records import ClassifiedPost, SentimentLabel

from . import bulk
from .minhash import NUM_PERM, Signer, pack, unpack
from .models import EventBucketRow, EventPostRow, EventRow


def post_time(post: ClassifiedPost) -> datetime:
    return post.published_at or post.fetched_at


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def event_id_for(post_id: str) -> str:
    return hashlib.sha1(f"event|{post_id}".encode()).hexdigest()[:16]


@dataclass
class _Joined:
    """A post joining an event in this batch."""

    post: ClassifiedPost
    event_id: str
    ts: datetime
    signature: str  # packed (alerts.minhash.pack)


@dataclass
class _Tally:
    """An event's aggregate while a batch is written (from its row, or new)."""

    row: Optional[EventRow]
    values: dict = field(default_factory=dict)


class EventGrouper:
    """Assigns each post to a content event; the writes go in the caller's session."""

    def __init__(self, *, threshold: float = 0.5, window: timedelta = timedelta(hours=48)):
        self.threshold, self.window = threshold, window
        params = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.bands, self.rows = params.b, params.r
        self.signer = Signer()
        self._reset()

    def _reset(self) -> None:
        """Empty: what the index knows is read again by `load`."""
        # Most band values and events have one entry: a single one is kept as it is (a str,
        # a tuple), a set or list only from the second, so that the garbage collector, which
        # walks every set and list, has far fewer of them to walk.
        #: per band: a band's value -> the open event(s) with a member having it
        self.tables: list[dict[bytes, str | set[str]]] = [{} for _ in range(self.bands)]
        #: event id -> its members' band values (a tuple of the bands, or a set of them)
        self.band_values: dict[str, tuple | set[tuple]] = {}
        self.member: dict[str, str] = {}            # post id -> event id
        self.last_seen: dict[str, datetime] = {}    # event id -> its newest post
        self.first_seen: dict[str, datetime] = {}   # event id -> its oldest post
        self.keys: dict[str, str | list[str]] = {}  # event id -> member post id(s)
        self._expiry: list[tuple[datetime, str]] = []  # heap of (last seen, event id)
        #: a batch's session rolled back: the index is read again before the next one
        self._stale = False
        #: the posts of the last batch that were members of their event before it
        self.repeats: set[str] = set()
        self.event_rows: dict[str, EventRow] = {}

    def _bands(self, sigs: np.ndarray) -> list[tuple]:
        width = self.bands * self.rows
        cut = np.ascontiguousarray(sigs[:, :width]).view(np.dtype((np.void, 4 * self.rows)))
        return [tuple(row) for row in cut.reshape(len(sigs), self.bands).tolist()]

    def load(self, session: Session, now: datetime) -> None:
        """Rebuild the index from the events still open (after a restart or a rollback)."""
        self._reset()
        rows = session.execute(
            select(EventPostRow.post_id, EventPostRow.signature, EventRow.id, EventRow.last_seen_at,
                   EventRow.first_seen_at)
            .join(EventRow, EventRow.id == EventPostRow.event_id)
            .where(EventRow.kind == "content", EventRow.last_seen_at >= now - self.window)).all()
        signed = [r for r in rows if r.signature]
        sigs = unpack([r.signature for r in signed])
        for r, bands in zip(signed, self._bands(sigs)):
            self._index(r.post_id, r.id, bands)
        for pid, _sig, eid, last, first in rows:
            self._add_member(pid, eid)
            self.last_seen[eid], self.first_seen[eid] = last, first
        self._expiry = [(last, eid) for eid, last in self.last_seen.items()]
        heapq.heapify(self._expiry)

    def _add_member(self, pid: str, eid: str) -> None:
        if self.member.get(pid) != eid:
            pids = self.keys.get(eid)
            if pids is None:
                self.keys[eid] = pid
            elif isinstance(pids, str):
                self.keys[eid] = [pids, pid]
            else:
                pids.append(pid)
            self.member[pid] = eid

    def _index(self, pid: str, eid: str, bands: tuple) -> None:
        seen = self.band_values.get(eid)
        if seen is None:
            self.band_values[eid] = bands
        elif isinstance(seen, set):
            if bands in seen:
                return self._add_member(pid, eid)
            seen.add(bands)
        elif seen == bands:
            return self._add_member(pid, eid)
        else:
            self.band_values[eid] = {seen, bands}
        for table, value in zip(self.tables, bands):
            events = table.get(value)
            if events is None:
                table[value] = eid
            elif isinstance(events, str):
                if events != eid:
                    table[value] = {events, eid}
            else:
                events.add(eid)
        self._add_member(pid, eid)

    def prune(self, now: datetime) -> None:
        cutoff = now - self.window
        while self._expiry and self._expiry[0][0] < cutoff:
            last, eid = heapq.heappop(self._expiry)
            if self.last_seen.get(eid) != last:
                continue  # seen again since: a newer entry is in the heap
            seen = self.band_values.pop(eid, ())
            for bands in (seen if isinstance(seen, set) else [seen] if seen else []):
                for table, value in zip(self.tables, bands):
                    events = table.get(value)
                    if events == eid:
                        del table[value]
                    elif isinstance(events, set):
                        events.discard(eid)
                        if len(events) == 1:
                            table[value] = events.pop()
            pids = self.keys.pop(eid, [])
            for pid in ([pids] if isinstance(pids, str) else pids):
                if self.member.get(pid) == eid:
                    del self.member[pid]
            del self.last_seen[eid]
            self.first_seen.pop(eid, None)

    def _match(self, bands: tuple) -> Optional[str]:
        hits = set()
        for events in map(dict.get, self.tables, bands):
            if events is None:
                continue
            if isinstance(events, str):
                hits.add(events)
            else:
                hits.update(events)
        if len(hits) <= 1:
            return next(iter(hits), None)
        # the oldest open event is the original story (the index holds open events only)
        last = self.last_seen.__getitem__
        oldest = min(map(last, hits))
        return min(e for e in hits if last(e) == oldest)

    def assign(self, session: Session, posts: list[ClassifiedPost], now: datetime) -> dict[str, str]:
        """Put each post in its event, set `post.cluster_id`; return post id -> event id.

        The index is updated at once; should the session roll back, it is read again from
        the store before the next batch, so that what it knows is always stored."""
        if self._stale:
            self.load(session, now)
        if not event.contains(session, "after_rollback", self._rolled_back):
            event.listen(session, "after_rollback", self._rolled_back)
        self.prune(now)
        self.event_rows = {}
        posts = sorted(posts, key=post_time)
        stored = self._stored(session, {p.id for p in posts})
        self.repeats = set(stored)
        out: dict[str, str] = {}
        fresh: dict[str, ClassifiedPost] = {}  # the first copy of each post not stored yet
        for post in posts:
            if post.id in stored:  # an updated post is still one post
                out[post.id] = stored[post.id]
            elif post.id not in fresh:
                fresh[post.id] = post
        joined: list[_Joined] = []
        if fresh:
            sigs = self.signer.signatures([p.full_text for p in fresh.values()])
            born: set[str] = set()  # the events this batch starts
            for post, sig, bands in zip(fresh.values(), pack(sigs), self._bands(sigs)):
                ts = min(post_time(post), now)
                eid = self._match(bands)
                if eid is None:
                    eid = event_id_for(post.id)
                    born.add(eid)
                self._index(post.id, eid, bands)
                self.last_seen[eid] = max(self.last_seen.get(eid, ts), ts)
                out[post.id] = eid
                joined.append(_Joined(post, eid, ts, sig))
            self._write(session, joined, born, now)
            for eid in {j.event_id for j in joined}:
                heapq.heappush(self._expiry, (self.last_seen[eid], eid))
            if len(self._expiry) > 4 * len(self.last_seen) + 1000:
                self._expiry = [(last, eid) for eid, last in self.last_seen.items()]
                heapq.heapify(self._expiry)
        for post in posts:
            post.cluster_id = out[post.id]
        return out

    def _rolled_back(self, session: Session) -> None:
        self._stale = True

    def _stored(self, session: Session, pids: set[str]) -> dict[str, str]:
        """post id -> event id for the posts of `pids` already members of an event: of the
        one the index knows them in, or (a post its event outlived) of their own event."""
        found = {pid: self.member[pid] for pid in pids if pid in self.member}
        own = {event_id_for(pid): pid for pid in pids if pid not in found}
        for eid in bulk.select_in(session, EventRow.id, EventRow.id, list(own)):
            found[own[eid]] = eid  # its first post: a member since
        return found

    def _write(self, session: Session, joined: list[_Joined], born: set[str],
               now: datetime) -> None:
        ids = list(dict.fromkeys(j.event_id for j in joined if j.event_id not in born))
        tallies: dict[str, _Tally] = {}
        for row in bulk.select_in(session, EventRow, EventRow.id, ids):
            tallies[row.id] = _Tally(row, {
                c: getattr(row, c) for c in ("title", "first_post_id", "first_poster",
                                             "first_seen_at", "last_seen_at", "post_count",
                                             "negative_count", "sources")})
        members, buckets = [], {}
        for j in joined:
            post, ts = j.post, j.ts
            tally = tallies.get(j.event_id)
            if tally is None:
                tally = tallies[j.event_id] = _Tally(None, dict(
                    id=j.event_id, key=f"event:{j.event_id}", kind="content",
                    title=(post.title or post.text)[:80], first_post_id=None, first_poster=None,
                    first_seen_at=ts, last_seen_at=ts, post_count=0, negative_count=0, sources=[],
                    topic=post.topic_codes[0] if post.topic_codes else None,
                    region=post.region[0] if post.region else None))
            v = tally.values
            negative = post.sentiment.label == SentimentLabel.negative
            if v["first_post_id"] is None or ts < v["first_seen_at"]:
                v["first_post_id"], v["first_poster"], v["first_seen_at"] = post.id, post.author, ts
                v["title"] = (post.title or post.text)[:80]
            v["last_seen_at"] = max(v["last_seen_at"], ts)
            v["post_count"] = (v["post_count"] or 0) + 1
            v["negative_count"] = (v["negative_count"] or 0) + negative
            if post.source not in (v["sources"] or []):
                v["sources"] = [*(v["sources"] or []), post.source]
            members.append(dict(event_id=j.event_id, post_id=post.id, seen_at=now, posted_at=ts,
                                source=post.source, sentiment=post.sentiment.label.value,
                                signature=j.signature))
            count = buckets.setdefault((j.event_id, hour_of(ts)), [0, 0])
            count[0] += 1
            count[1] += negative
        for eid, t in tallies.items():
            self.first_seen[eid] = t.values["first_seen_at"]
        #: the rows of the events the batch joined that existed before it, kept for the caller's
        #: look-ups (the session's identity map holds them only while they are referenced)
        self.event_rows = {eid: t.row for eid, t in tallies.items() if t.row is not None}
        bulk.insert_rows(session, EventRow.__table__,
                         [t.values for t in tallies.values() if t.row is None])
        changed = []
        for eid, t in tallies.items():
            if t.row is not None and any(getattr(t.row, k) != v for k, v in t.values.items()):
                changed.append({"id": eid, **t.values})
                for name, value in t.values.items():  # the row in the session, as written
                    set_committed_value(t.row, name, value)
        bulk.update_rows(session, EventRow.__table__, "id", changed)
        bulk.insert_rows(session, EventPostRow.__table__, members)
        # the buckets of new events are new; the others may exist
        hours = [dict(event_id=e, hour=h, posts=n, negative=neg)
                 for (e, h), (n, neg) in buckets.items()]
        bulk.insert_rows(session, EventBucketRow.__table__,
                         [b for b in hours if tallies[b["event_id"]].row is None])
        bulk.add_counts(session, EventBucketRow.__table__, ["event_id", "hour"],
                        ["posts", "negative"],
                        [b for b in hours if tallies[b["event_id"]].row is not None])
        session.flush()


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
