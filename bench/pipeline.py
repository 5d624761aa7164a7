"""Benchmark: posts/s end to end, latency from publish to indexed and to rules, memory.

    .venv/bin/python bench/pipeline.py --posts 20000            # embedded backends
    eval "$(scripts/servers.sh env)"
    YUQING_BUS_BACKEND=kafka YUQING_INDEX_BACKEND=elasticsearch \\
    YUQING_DATABASE_URL="$YUQING_TEST_DATABASE_URL" \\
        .venv/bin/python bench/pipeline.py --posts 50000          # at scale

Posts are generated from the demo source's templates (unique ids, ~150
characters). Each stage (classify, index, alerts) runs in its own process, as
in a deployment; on Kafka there is one classifier process per partition of
posts.raw (`--partitions`, default: one per CPU). Each phase gets its own data
dir, topic prefix, index prefix and (on PostgreSQL) schema, removed afterwards.
The workers are started and ready (model loaded, partitions assigned) before
the clock starts. The run prints:
- the classifier alone, in this process, in the pipeline's batch size (posts/s);
- throughput: all posts published at once, time until every stage has committed
  the last one (posts/s end to end) and its ratio to the classifier alone;
- latency: posts published at a steady rate (half the throughput), time from
  publish (the post's fetched_at) to indexed and to rules evaluated (p50, p95);
- with `--warm-up-posts N`, first a run of N posts reported apart (servers just started are
  slower until their JIT has warmed up);
- peak resident memory and CPU seconds of each stage process, and the CPU seconds
  of every program on the machine (servers, workers, other) while the posts flowed.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
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


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: Linux keeps that across exec, so
    a spawned worker would report the peak of the parent it was forked from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_by_program() -> dict[str, float]:
    """CPU seconds (user + system, reaped children included) of every process on the machine,
    summed by program: the servers, this bench, its workers. The difference of two readings
    says where the machine's cores went in between."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        cpu = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        if "org.elasticsearch" in cmdline or "elasticsearch" in cmdline and "java" in cmdline:
            name = "elasticsearch"
        elif "kafka.Kafka" in cmdline:
            name = "kafka"
        elif cmdline.startswith("postgres") or "/postgres" in cmdline.split(" ")[0]:
            name = "postgresql"
        elif "multiprocessing" in cmdline or "pipeline.py" in cmdline:
            name = "bench+workers"
        else:
            name = "other"
        out[name] = out.get(name, 0.0) + cpu
    return out


def _stage(stage: str, env: dict, out: str, ready, stop: str) -> None:
    os.environ.update(env)
    from yuqing.db import Database
    from yuqing.run import build_pipeline

    settings = Settings()
    db = Database(settings.case_db_url)
    pipeline = build_pipeline(settings, db, stages=(stage,))
    seen: list[float] = []

    def observe(_stage, records):
        if _stage == "classify":  # (post id, JSON) pairs; the latency is measured downstream
            return
        now = time.time()
        seen.extend(now - r.fetched_at.timestamp() for r in records)

    pipeline.observe = observe
    pipeline.consumer(stage).poll(1, 0.1)  # join the group (Kafka: wait for partitions)
    pipeline.warm_up((stage,))
    ready.set()
    flag = threading.Event()

    def watch():  # the stop signal is a file: a worker that dies cannot wedge it (an Event can)
        while not Path(stop).exists():
            time.sleep(0.05)
        flag.set()

    threading.Thread(target=watch, daemon=True).start()
    profile_dir = os.environ.get("YUQING_BENCH_PROFILE")
    if profile_dir:  # --profile: where this stage's CPU goes (cProfile slows it ~1.5x)
        import cProfile

        prof = cProfile.Profile()
        prof.runcall(pipeline.run, flag, (stage,))
        prof.dump_stats(str(Path(profile_dir) / f"{stage}-{os.getpid()}.prof"))
    else:
        pipeline.run(flag, (stage,))
    pipeline.close()
    pipeline.bus.close()
    db.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(json.dumps({
        "stage": stage, "rss_mb": peak_rss_mb(),
        "cpu_s": usage.ru_utime + usage.ru_stime, "seen": seen,
        "processed": pipeline.stats[stage].processed}))


def run_pipeline(posts: list[Post], env: dict, workdir: Path, rate: float | None,
                 classifiers: int, alerts: bool = True) -> dict:
    """Publish `posts` (all at once, or at `rate` per second) and wait until every stage
    has committed all of them."""
    os.environ.update(env)
    from stream import CLASSIFIED, RAW, make_bus

    ctx = mp.get_context("spawn")
    stop = workdir / "stop"
    procs, outs, readies = [], [], []
    stages = ["classify"] * classifiers + ["index"] + (["alerts"] if alerts else [])
    for i, stage in enumerate(stages):
        out = str(workdir / f"{stage}-{i}.json")
        ready = ctx.Event()
        p = ctx.Process(target=_stage, args=(stage, env, out, ready, str(stop)))
        p.start()
        procs.append(p)
        outs.append(out)
        readies.append(ready)
    for p, ready in zip(procs, readies):
        while not ready.wait(1):
            if not p.is_alive():
                stop.touch()
                raise SystemExit(f"a {stages[procs.index(p)]} worker died while starting")
    time.sleep(2)  # the last joins' rebalance settles
    bus = make_bus(Settings())
    cpu_before = cpu_by_program()
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
    # upstream first: once the classifier's lag is 0, everything it published is on CLASSIFIED
    waits = [("classified", RAW, "classifier"), ("indexed", CLASSIFIED, "indexer")]
    if "alerts" in stages:
        waits.append(("rules", CLASSIFIED, "alerts"))
    finished: dict[str, float] = {}
    for what, topic, group in waits:
        while bus.lag(topic, group) > 0:
            time.sleep(0.05)
            if time.time() - start > 1800:
                stop.touch()
                raise SystemExit("pipeline did not finish in 30 minutes")
            if not all(p.is_alive() for p in procs):
                stop.touch()
                raise SystemExit("a worker died")
        finished[what] = time.time()
    done = time.time()
    cpu_after = cpu_by_program()
    stop.touch()
    for p in procs:
        p.join(120)
    bus.close()
    results = [json.loads(Path(o).read_text()) for o in outs]
    lat = {r["stage"]: sorted(r["seen"]) for r in results if r["stage"] != "classify"}

    def pct(xs, q):
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3) if xs else None

    return {
        "posts": len(posts),
        "publish_s": round(published - start, 2),
        "total_s": round(done - start, 2),
        "posts_per_s": round(len(posts) / (done - start), 1),
        "posts_per_s_until": {what: round(len(posts) / (t - start), 1) for what, t in finished.items()},
        "publish_to_indexed_s": {"p50": pct(lat.get("index", []), .5),
                                 "p95": pct(lat.get("index", []), .95)},
        "publish_to_rules_s": {"p50": pct(lat.get("alerts", []), .5),
                               "p95": pct(lat.get("alerts", []), .95)},
        # where the cores went while the posts flowed (the workers' own totals are below)
        "cpu_s_by_program": {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 1)
                             for k in sorted(cpu_after) if cpu_after[k] - cpu_before.get(k, 0.0) >= 0.05},
        "cpu_capacity_s": round((done - start) * (os.cpu_count() or 1), 1),
        "workers": {f"{r['stage']}-{i}": {"peak_rss_mb": round(r["rss_mb"], 1),
                                          "cpu_s": round(r["cpu_s"], 1),
                                          "processed": r["processed"]}
                    for i, r in enumerate(results)},
    }


class Phase:
    """One phase's own names on the servers: topics, index prefix, PostgreSQL schema."""

    def __init__(self, base: Settings, name: str, workdir: Path, partitions: int):
        self.base, self.workdir = base, workdir
        prefix = f"bench{int(time.time())}{name}"
        self.env = {"YUQING_DATA_DIR": str(workdir), "YUQING_KAFKA_TOPIC_PREFIX": f"{prefix}.",
                    "YUQING_ELASTICSEARCH_INDEX_PREFIX": prefix}
        self.schema = None
        if base.database_url and base.database_url.startswith("postgresql"):
            from sqlalchemy import create_engine, make_url, text

            self.schema = re.sub(r"\W", "_", prefix).lower()
            self.admin = create_engine(base.database_url)
            with self.admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            url = make_url(base.database_url).update_query_dict(
                {"options": f"-csearch_path={self.schema}"})
            self.env["YUQING_DATABASE_URL"] = url.render_as_string(hide_password=False)
        os.environ.update(self.env)
        self.settings = Settings()
        if base.bus_backend == "kafka":
            from stream.kafka_bus import ensure_topics

            ensure_topics(self.settings, partitions=partitions, retention_ms=3600_000)
        if base.index_backend == "elasticsearch":
            # this month's index, as a running deployment has it: creating it on the first
            # write (shards allocated, mapping applied) is a one-off pause of a second or two
            from stream.es_index import ElasticsearchIndex

            index = ElasticsearchIndex(self.settings)
            name = f"{index.prefix}-posts-{datetime.now(timezone.utc):%Y.%m}"
            index.es.indices.create(index=name)
            index.es.cluster.health(index=name, wait_for_status="yellow", timeout="30s")
            index.close()

    def cleanup(self) -> None:
        if self.base.bus_backend == "kafka":
            from stream.kafka_bus import delete_topics

            delete_topics(self.settings)
        if self.base.index_backend == "elasticsearch":
            from stream.es_index import ElasticsearchIndex

            index = ElasticsearchIndex(self.settings)
            index.drop()
            index.close()
        if self.schema:
            from sqlalchemy import text

            with self.admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self.admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--latency-posts", type=int, default=3000)
    ap.add_argument("--partitions", type=int, default=os.cpu_count() or 1,
                    help="partitions of the Kafka topics (default: one per CPU)")
    ap.add_argument("--classifiers", type=int, default=None,
                    help="classifier processes (default: one per partition on Kafka, else 1)")
    ap.add_argument("--batch-size", type=int, default=500,
                    help="batch size of the classifier-alone measurement")
    ap.add_argument("--no-alerts", action="store_true",
                    help="run classify and index only (the alerts engine is measured apart)")
    ap.add_argument("--warm-up-posts", type=int, default=0, metavar="N",
                    help="first run N posts through the pipeline, reported apart as `warmup`: "
                         "freshly started servers spend a few runs' worth of CPU on their JIT "
                         "(Elasticsearch used 19 s of CPU for its first 50,000 posts, 4-5 s later)")
    ap.add_argument("--profile", metavar="DIR",
                    help="write each stage's cProfile to DIR (slows the stages; figures are not comparable)")
    args = ap.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ["YUQING_BENCH_PROFILE"] = str(Path(args.profile).resolve())

    base = Settings()
    classifiers = args.classifiers or (args.partitions if base.bus_backend == "kafka" else 1)
    from classifier.model import Classifier

    t = time.time()
    model = Classifier.load(base.model_file)
    load_s = time.time() - t
    posts = make_posts(min(args.posts, 10000))
    avg_chars = statistics.mean(len(p.full_text) for p in posts)
    t = time.time()
    for i in range(0, len(posts), args.batch_size):
        model.classify_posts(posts[i:i + args.batch_size])
    alone = len(posts) / (time.time() - t)
    del model, posts

    db = "postgresql" if (base.database_url or "").startswith("postgresql") else "sqlite"
    report = {"backend": f"{base.bus_backend}+{base.index_backend}+{db}", "cpus": os.cpu_count(),
              "partitions": args.partitions if base.bus_backend == "kafka" else None,
              "classifier_processes": classifiers, "avg_chars": round(avg_chars),
              "model_load_s": round(load_s, 2), "classifier_alone_posts_per_s": round(alone, 1)}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-") as tmp:
        phases = [("throughput", args.posts, None), ("latency", args.latency_posts, "auto")]
        if args.warm_up_posts:
            phases.insert(0, ("warmup", args.warm_up_posts, None))
        for name, n, rate in phases:
            workdir = Path(tmp) / name
            workdir.mkdir()
            phase = Phase(base, name, workdir, args.partitions)
            try:
                if rate == "auto":
                    rate = max(50.0, round(0.5 * report["throughput"]["posts_per_s"]))
                    report["latency_rate_posts_per_s"] = rate
                report[name] = run_pipeline(make_posts(n, seed=2 if rate else 1, tag=name),
                                            phase.env, workdir, rate, classifiers,
                                            alerts=not args.no_alerts)
            finally:
                phase.cleanup()
            print(json.dumps({name: report[name]}, ensure_ascii=False), file=sys.stderr, flush=True)
    e2e = report["throughput"]["posts_per_s"]
    report["pipeline_vs_classifier_alone"] = round(e2e / alone, 3)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
