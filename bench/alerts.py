"""Benchmark: the alerts engine alone (events, rules, alerts, cases), posts/s.

    .venv/bin/python bench/alerts.py [--posts 10000] [--batch-sizes 500,2000]
    eval "$(scripts/servers.sh env)"      # PostgreSQL too (YUQING_TEST_DATABASE_URL)
    .venv/bin/python bench/alerts.py --profile demo:2000:sqlite   # cProfile one run
    .venv/bin/python bench/alerts.py --demo-posts /tmp/demo.jsonl # the same posts next time

`AlertsEngine.process` is timed batch by batch, with the repo's rules
(config/rules.yaml), routing, deadlines and escalation, on a fresh store per
run: a new SQLite file, and on PostgreSQL a schema of its own (dropped
afterwards). Two workloads:

- random: distinct random texts (random words and a number), random topic,
  sentiment and place: almost every post starts an event of its own, and
  the rules alert often;
- demo: posts made by bench/pipeline.py's `make_posts` (the demo source's
  templates, so texts repeat: few events with many posts each), classified
  once up front by the real model (outside the timing).

Time is simulated: posts arrive at `--rate` posts/s (default 3,000), each
batch is processed at the time its last post arrived, so the rules' windows
see the load the pipeline would give them and every run is deterministic.
Wall time is reported (`posts_per_s`, the fastest of `--repeat` runs), and
the CPU seconds of this process (on SQLite, all of the engine's work). Each
result carries a digest of what the engine wrote (events with their
counts, alerts with their evidence, cases), so that two versions of the
engine can be checked for the same output on the same workload.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import os
import pstats
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yuqing.config import Settings  # noqa: E402
from yuqing.records import ClassifiedPost, Sentiment, TopicScore, post_id_for  # noqa: E402

START = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
WORDS = "小区 停水 物业 学校 食堂 医院 排队 公交 拆迁 补偿 欠薪 低保 养老院 噪音 污染 收费 涨价".split()
PLACES = ["锦湖区", "江宁区", "秦淮区"]


def random_posts(n: int, seed: int = 1) -> list[ClassifiedPost]:
    from yuqing.taxonomy import LIVELIHOOD

    rng = random.Random(seed)
    out = []
    for i in range(n):
        url = f"https://bench.test/random/{seed}/{i}"
        out.append(ClassifiedPost(
            id=post_id_for(url), source=f"src{rng.randrange(20)}", source_type="news", url=url,
            text="".join(rng.choice(WORDS) for _ in range(20)) + str(rng.random()),
            author=f"网友{rng.randrange(1000)}", fetched_at=START, region=[rng.choice(PLACES)],
            topics=[TopicScore(code=rng.choice(LIVELIHOOD), score=0.9)],
            sentiment=Sentiment(label=rng.choice(["negative", "neutral", "positive"]), score=0.9),
            model_version="bench"))
    return out


def demo_posts(n: int, seed: int = 1, cache: Path | None = None) -> list[ClassifiedPost]:
    """`n` posts of the demo templates, classified; kept in `cache` (JSON lines) if given, so
    that runs of other versions of the code judge the very same posts."""
    if cache is not None and cache.exists():
        posts = [ClassifiedPost.from_json(line) for line in cache.read_bytes().splitlines()]
        if len(posts) >= n:
            return posts[:n]
    from bench.pipeline import make_posts
    from classifier.model import Classifier

    model = Classifier.load(Settings().model_file)
    posts = model.classify_posts(make_posts(n, seed=seed, tag="alerts"))
    if cache is not None:
        cache.write_bytes(b"\n".join(p.to_json() for p in posts))
    return posts


def timed(posts: list[ClassifiedPost], rate: float) -> list[ClassifiedPost]:
    """Copies of the posts stamped with their simulated arrival time."""
    out = []
    for i, p in enumerate(posts):
        at = START + timedelta(seconds=i / rate)
        out.append(p.model_copy(update={"published_at": at, "fetched_at": at, "cluster_id": None}))
    return out


class Store:
    """A fresh case store: a SQLite file, or a PostgreSQL schema dropped by `close()`."""

    def __init__(self, backend: str, workdir: Path):
        from yuqing.db import Database

        self.schema = self.admin = None
        if backend == "sqlite":
            url = f"sqlite:///{workdir / f'cases-{time.time_ns()}.db'}"
        else:
            from sqlalchemy import create_engine, make_url, text

            base = os.environ["YUQING_TEST_DATABASE_URL"]
            self.schema = f"bench_alerts_{time.time_ns()}"
            self.admin = create_engine(base)
            with self.admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            url = make_url(base).update_query_dict(
                {"options": f"-csearch_path={self.schema}"}).render_as_string(hide_password=False)
        self.db = Database(url)

    def close(self) -> None:
        self.db.dispose()
        if self.schema:
            from sqlalchemy import text

            with self.admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self.admin.dispose()


def digest(db) -> dict:
    """What the engine wrote, summed up: counts and a hash of the content."""
    from sqlalchemy import select

    from alerts.case.models import CaseRow
    from alerts.models import AlertRow, EventBucketRow, EventPostRow, EventRow

    with db.session() as s:
        events = sorted((e.id, e.kind, e.post_count, e.negative_count, sorted(e.sources or []),
                         e.first_post_id, e.first_seen_at.isoformat(), e.last_seen_at.isoformat())
                        for e in s.scalars(select(EventRow)))
        members = sorted(s.execute(select(EventPostRow.event_id, EventPostRow.post_id)).all())
        buckets = sorted((b.event_id, b.hour.isoformat(), b.posts, b.negative)
                         for b in s.scalars(select(EventBucketRow)))
        alerts = sorted((a.id, a.key, a.severity, a.event_id, list(a.evidence or []),
                         a.recovered_at.isoformat() if a.recovered_at else None)
                        for a in s.scalars(select(AlertRow)))
        cases = sorted((c.event_id, c.severity, c.owner_department)
                       for c in s.scalars(select(CaseRow)))
    blob = json.dumps([events, [list(m) for m in members], buckets, alerts, cases],
                      ensure_ascii=False, default=str)
    return {"events": len(events), "event_posts": len(members), "alerts": len(alerts),
            "cases": len(cases), "sha1": hashlib.sha1(blob.encode()).hexdigest()[:12]}


def run(posts: list[ClassifiedPost], batch: int, backend: str, workdir: Path, rate: float,
        profile: bool = False) -> dict:
    from alerts.engine import AlertsEngine

    posts = timed(posts, rate)
    store = Store(backend, workdir)
    try:
        clock = {"now": START}
        settings = Settings(data_dir=workdir)
        engine = AlertsEngine.from_settings(settings, store.db)
        engine.clock = lambda: clock["now"]
        prof = cProfile.Profile() if profile else None
        # The run's posts (all of them, made up front) are kept out of the garbage collector's
        # sight: a worker holds one batch at a time, and their many objects would otherwise
        # make each full collection walk them.
        gc.collect()
        gc.freeze()
        times = []
        cpu = time.process_time()
        for i in range(0, len(posts), batch):
            chunk = posts[i:i + batch]
            clock["now"] = chunk[-1].fetched_at
            t = time.perf_counter()
            if prof:
                prof.enable()
            engine.process(chunk, offsets={"posts.classified:0": i + len(chunk) - 1})
            if prof:
                prof.disable()
            times.append(time.perf_counter() - t)
        cpu = time.process_time() - cpu
        if prof:
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        total = sum(times)
        return {"posts_per_s": round(len(posts) / total, 1), "seconds": round(total, 2),
                "cpu_seconds": round(cpu, 2), "batches": len(times),
                "slowest_batch_s": round(max(times), 3),
                **digest(store.db)}
    finally:
        gc.unfreeze()
        store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=10000, help="posts per run")
    ap.add_argument("--batch-sizes", default="500,2000")
    ap.add_argument("--workloads", default="random,demo")
    ap.add_argument("--backends", default=None,
                    help="default: sqlite, and postgresql when YUQING_TEST_DATABASE_URL is set")
    ap.add_argument("--rate", type=float, default=3000.0, help="simulated arrival rate, posts/s")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each configuration; the fastest is reported (the machine is "
                         "shared with the servers)")
    ap.add_argument("--demo-posts", type=Path, default=None, metavar="FILE",
                    help="the classified demo posts: read from FILE if it exists, else "
                         "classified and written there")
    ap.add_argument("--profile", default=None, metavar="WORKLOAD:BATCH:BACKEND",
                    help="run only this one, under cProfile (printed to stderr)")
    args = ap.parse_args()

    backends = (args.backends.split(",") if args.backends else
                ["sqlite"] + (["postgresql"] if os.environ.get("YUQING_TEST_DATABASE_URL") else []))
    runs = [(w, int(b), be) for w in args.workloads.split(",")
            for b in args.batch_sizes.split(",") for be in backends]
    if args.profile:
        w, b, be = args.profile.split(":")
        runs = [(w, int(b), be)]
    made = {}
    report: dict = {"posts": args.posts, "rate": args.rate, "cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-alerts-") as tmp:
        for workload, batch, backend in runs:
            if workload not in made:
                made[workload] = (random_posts(args.posts) if workload == "random" else
                                  demo_posts(args.posts, cache=args.demo_posts))
            tries = [run(made[workload], batch, backend, Path(tmp), args.rate,
                         profile=bool(args.profile)) for _ in range(args.repeat)]
            best = max(tries, key=lambda r: r["posts_per_s"])
            result = {"workload": workload, "batch": batch, "backend": backend, **best}
            if args.repeat > 1:
                result["posts_per_s_runs"] = [r["posts_per_s"] for r in tries]
            report["runs"].append(result)
            print(json.dumps(result, ensure_ascii=False), file=sys.stderr, flush=True)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
