"""Classifier benchmark: posts/s, model load time, where the time goes, and rjieba vs jieba.

    .venv/bin/python bench/classifier.py [--model PATH] [--n 20000] [--batch 500] [--repeat 3]

Posts are ~150-character texts made by repeating the held-out texts written
next to the model (heldout.jsonl) to that length. Throughput is
`Classifier.predict_batch` end to end (normalise, tokenize, features,
topics, sentiment, keywords, sensitive words, places) in this one process,
measured `--repeat` times over the same posts: wall-clock posts/s and posts
per CPU second of the process (the second is steadier on a busy machine).
The stage table is one more pass, in one thread, with each stage timed
(CPU s per 10,000 posts). `--threads 2` sets `Classifier.threads` (the next
chunk of a batch is cut in a second thread; default: the classifier's own, 1).
`classify_posts` (the same posts as `Post` records, `ClassifiedPost` objects
out) and `classify_json` (their JSON, what the stream worker publishes) are
timed once more at the end.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: (module, attribute, stage name): what the stage table times.
STAGES = [
    ("classifier.model", "normalize_batch", "normalise (NFKC, simplified, lower)"),
    ("classifier.model", "cut_batch", "tokenize (cut + junk filter)"),
    ("classifier.features.Featurizer", "transform_cut", "features (words, cues, chars, tf-idf)"),
    ("classifier.features.Featurizer", "char_columns", "features (words, cues, chars, tf-idf)"),
    ("classifier.model.Classifier", "_keywords_ids", "keywords"),
    ("classifier.model.Classifier", "_scores", "linear models"),
    ("classifier.sensitive.SensitiveMatcher", "find_batch", "sensitive words"),
    ("classifier.places.Gazetteer", "find_batch", "places"),
]


def _resolve(path: str):
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(path)


def stage_times(clf, texts: list[str], batch: int) -> tuple[dict[str, float], float]:
    """({stage: CPU s}, total CPU s) of one pass with the stages wrapped by timers."""
    spent: dict[str, float] = defaultdict(float)
    saved = []
    for owner_path, attr, name in STAGES:
        owner = _resolve(owner_path)
        if not hasattr(owner, attr):
            continue
        real = getattr(owner, attr)
        saved.append((owner, attr, owner.__dict__.get(attr, real)))

        def timed(*a, __real=real, __name=name, **k):
            t0 = time.process_time()
            try:
                return __real(*a, **k)
            finally:
                spent[__name] += time.process_time() - t0

        setattr(owner, attr, timed)
    threads, clf.threads = clf.threads, 1  # process CPU time is only per stage in one thread
    try:
        t0 = time.process_time()
        for start in range(0, len(texts), batch):
            clf.predict_batch(texts[start:start + batch])
        total = time.process_time() - t0
    finally:
        clf.threads = threads
        for owner, attr, real in saved:
            setattr(owner, attr, real)
    return dict(spent), total


def main(argv=None) -> int:
    t0 = time.perf_counter()
    from classifier import tokenizer
    from classifier.model import Classifier
    import_s = time.perf_counter() - t0
    from yuqing.config import get_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--chars", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-stages", action="store_true")
    ap.add_argument("--no-jieba", action="store_true", help="skip the rjieba vs jieba comparison")
    args = ap.parse_args(argv)
    path = args.model or get_settings().model_file

    t0 = time.perf_counter()
    clf = Classifier.load(path)
    clf.predict_batch(["预热"])  # builds the tokenizer and lookup tables (part of a cold start)
    load_s = time.perf_counter() - t0
    if args.threads:
        clf.threads = args.threads

    heldout = path.parent / "heldout.jsonl"
    base = [json.loads(line)["text"] for line in heldout.read_text(encoding="utf-8").splitlines()
            if line.strip()] or ["小区停水三天了没人管，打了12345也没有回复"]
    texts = []
    i = 0
    while len(texts) < args.n:
        t = base[i % len(base)]
        texts.append((t * (args.chars // max(len(t), 1) + 1))[: args.chars])
        i += 1

    wall, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), args.batch):
            clf.predict_batch(texts[start:start + args.batch])
        wall.append(len(texts) / (time.perf_counter() - t0))
        cpu.append(len(texts) / (time.process_time() - c0))

    print(f"model {clf.version} ({path}, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"model load (incl. tokenizer and lookup tables): {load_s:.2f} s "
          f"(+ {import_s:.2f} s importing classifier.model)")
    print(f"classify: {statistics.median(wall):,.0f} posts/s median of {args.repeat} "
          f"(best {max(wall):,.0f}; {', '.join(f'{w:,.0f}' for w in wall)}); "
          f"{statistics.median(cpu):,.0f} posts per CPU s")
    print(f"  {len(texts)} posts of {args.chars} chars, batches of {args.batch}, backend "
          f"{tokenizer.BACKEND}, threads {clf.threads}")

    if not args.no_stages:
        spent, total = stage_times(clf, texts, args.batch)
        per = 10000 / len(texts)
        print("CPU s per 10,000 posts, by stage (one thread):")
        for name in dict.fromkeys(name for _, _, name in STAGES):
            if name in spent:
                print(f"  {name:40s} {spent[name] * per:6.3f}")
        print(f"  {'other (probabilities, output objects)':40s} "
              f"{(total - sum(spent.values())) * per:6.3f}")
        print(f"  {'total':40s} {total * per:6.3f}")

    from datetime import datetime, timezone

    from yuqing.records import Post, post_id_for

    now = datetime.now(timezone.utc)
    posts = [Post(id=post_id_for(content=f"{i}{t}"), source="bench", source_type="board", text=t,
                  published_at=now) for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    for start in range(0, len(posts), args.batch):
        clf.classify_posts(posts[start:start + args.batch], batch_size=args.batch)
    print(f"classify_posts (Post in, ClassifiedPost out): "
          f"{len(posts) / (time.perf_counter() - t0):,.0f} posts/s")
    t0 = time.perf_counter()
    for start in range(0, len(posts), args.batch):
        clf.classify_json(posts[start:start + args.batch], batch_size=args.batch)
    print(f"classify_json (Post in, ClassifiedPost JSON out, as the stream worker): "
          f"{len(posts) / (time.perf_counter() - t0):,.0f} posts/s")

    if args.no_jieba:
        return 0
    sample = texts[:5000]
    cuts = {}
    speed = {}
    for backend in ("rjieba", "jieba"):
        try:
            cut = tokenizer._build_cut(backend)
        except ImportError:
            continue
        norm = [tokenizer.normalize(t) for t in sample]
        t0 = time.perf_counter()
        cuts[backend] = [cut(t) for t in norm]
        speed[backend] = len(sample) / (time.perf_counter() - t0)
    for b, s in speed.items():
        print(f"tokenizer {b}: {s:,.0f} texts/s")
    if len(cuts) == 2:
        agree = sum(a == b for a, b in zip(cuts["rjieba"], cuts["jieba"])) / len(sample)
        print(f"rjieba vs jieba: identical cut on {agree:.1%} of {len(sample)} texts, "
              f"rjieba {speed['rjieba'] / speed['jieba']:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
