"""Benchmark: posts/s end to end, latency from publish to indexed, memory.

    .venv/bin/python bench/pipeline.py --posts 20000            # embedded backends
    YUQING_BUS_BACKEND=kafka YUQING_INDEX_BACKEND=elasticsearch \\
        .venv/bin/python bench/pipeline.py --posts 50000          # at scale

Posts are generated from the demo source's templates (unique ids, ~150
characters). Each stage (classify, index, alerts) runs in its own process, as
in a deployment. The run prints:
- the classifier alone, in this process (posts/s);
- throughput: all posts published at once, time until the alerts stage has
  evaluated the last one (posts/s end to end);
- latency: posts published at a steady rate below the throughput, time from
  publish (the post's fetched_at) to indexed and to rules evaluated (p50, p95);
- peak resident memory of each stage process.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yuqing.config import Settings  # noqa: E402
from yuqing.records import Post, post_id_for  # noqa: E402


def make_posts(n: int, seed: int = 1, tag: str = "") -> list[Post]:
    from crawlers.demo.content import build_timeline

    pool = build_timeline(seed, initial=400, stream_seconds=600)
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        d = rng.choice(pool)
        text = "".join(d.paragraphs)
        url = f"https://bench.test/{tag}{seed}/{i}"
        posts.append(Post(id=post_id_for(url), source="bench", source_type="board", url=url,
                          title=d.title, text=text, author=d.author))
    return posts


def _stage(stage: str, env: dict, out: str, stop) -> None:
    os.environ.update(env)
    from yuqing.db import Database
    from yuqing.run import build_pipeline

    settings = Settings()
    db = Database(settings.case_db_url)
    pipeline = build_pipeline(settings, db, stages=(stage,))
    seen: list[tuple[str, float]] = []

    def observe(_stage, records):
        now = time.time()
        seen.extend((r.id, now - r.fetched_at.timestamp()) for r in records)

    pipeline.observe = observe
    import threading

    flag = threading.Event()
    threading.Thread(target=lambda: (stop.wait(), flag.set()), daemon=True).start()
    pipeline.run(flag, (stage,))
    pipeline.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out).write_text(json.dumps({"stage": stage, "rss_mb": rss_mb, "seen": seen}))


def run_pipeline(posts: list[Post], env: dict, workdir: Path, rate: float | None,
                 classifiers: int) -> dict:
    """Publish `posts` (all at once, or at `rate` per second) and wait for the alerts stage."""
    os.environ.update(env)
    from stream import RAW, make_bus

    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs, outs = [], []
    stages = ["classify"] * classifiers + ["index", "alerts"]
    for i, stage in enumerate(stages):
        out = str(workdir / f"{stage}-{i}.json")
        outs.append(out)
        p = ctx.Process(target=_stage, args=(stage, env, out, stop))
        p.start()
        procs.append(p)
    time.sleep(8)  # let the workers load the model and join their groups
    bus = make_bus(Settings())
    start = time.time()
    if rate is None:
        for post in posts:
            post.fetched_at = datetime.now(timezone.utc)
            bus.publish(RAW, post.id, post.to_json())
        bus.flush()
    else:
        chunk = max(1, int(rate / 20))
        for i in range(0, len(posts), chunk):
            now = datetime.now(timezone.utc)
            for post in posts[i:i + chunk]:
                post.fetched_at = now
                bus.publish(RAW, post.id, post.to_json())
            bus.flush()
            time.sleep(max(0.0, start + (i + chunk) / rate - time.time()))
    published = time.time()
    from stream import CLASSIFIED

    while bus.lag(CLASSIFIED, "alerts") > 0 or bus.lag(RAW, "classifier") > 0 or \
            bus.lag(CLASSIFIED, "indexer") > 0:
        time.sleep(0.05)
        if time.time() - start > 1800:
            raise SystemExit("pipeline did not finish in 30 minutes")
    done = time.time()
    stop.set()
    for p in procs:
        p.join(60)
    results = [json.loads(Path(o).read_text()) for o in outs]
    lat = {r["stage"]: sorted(x for _, x in r["seen"]) for r in results if r["stage"] != "classify"}

    def pct(xs, q):
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3) if xs else None

    return {
        "posts": len(posts),
        "publish_s": round(published - start, 2),
        "total_s": round(done - start, 2),
        "posts_per_s": round(len(posts) / (done - start), 1),
        "publish_to_indexed_s": {"p50": pct(lat.get("index", []), .5), "p95": pct(lat.get("index", []), .95)},
        "publish_to_rules_s": {"p50": pct(lat.get("alerts", []), .5), "p95": pct(lat.get("alerts", []), .95)},
        "peak_rss_mb": {f"{r['stage']}-{i}": round(r["rss_mb"], 1) for i, r in enumerate(results)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--latency-posts", type=int, default=3000)
    ap.add_argument("--classifiers", type=int, default=1, help="classifier processes")
    args = ap.parse_args()

    base = Settings()
    from classifier.model import Classifier

    t = time.time()
    model = Classifier.load(base.model_file)
    load_s = time.time() - t
    posts = make_posts(args.posts)
    avg_chars = statistics.mean(len(p.full_text) for p in posts)
    t = time.time()
    model.classify_posts(posts)
    alone = len(posts) / (time.time() - t)
    del model

    report = {"backend": f"{base.bus_backend}+{base.index_backend}", "cpus": os.cpu_count(),
              "avg_chars": round(avg_chars), "model_load_s": round(load_s, 2),
              "classifier_alone_posts_per_s": round(alone, 1)}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-") as tmp:
        for name, n, rate in (("throughput", args.posts, None), ("latency", args.latency_posts, "auto")):
            workdir = Path(tmp) / name
            workdir.mkdir()
            prefix = f"bench{int(time.time())}{name}"
            env = {"YUQING_DATA_DIR": str(workdir), "YUQING_KAFKA_TOPIC_PREFIX": f"{prefix}.",
                   "YUQING_ELASTICSEARCH_INDEX_PREFIX": prefix}
            if base.bus_backend == "kafka":
                os.environ.update(env)
                from stream.kafka_bus import ensure_topics

                ensure_topics(Settings())
            if rate == "auto":
                rate = max(50.0, 0.5 * report["throughput"]["posts_per_s"])
                report["latency_rate_posts_per_s"] = rate
            report[name] = run_pipeline(make_posts(n, seed=2 if rate else 1, tag=name), env, workdir,
                                        rate, args.classifiers)
    e2e = report["throughput"]["posts_per_s"]
    report["pipeline_vs_classifier_alone"] = round(e2e / alone, 3)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
