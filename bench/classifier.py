"""Classifier benchmark: posts/s, model load time, and rjieba vs jieba on the same text.

    .venv/bin/python bench/classifier.py [--model PATH] [--n 20000] [--batch 500]

Posts are ~150-character texts made by repeating the held-out texts written
next to the model (heldout.jsonl) to that length. Throughput is
`Classifier.predict_batch` end to end (tokenize, features, topics,
sentiment, keywords, sensitive words, places) in this one process.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from classifier import tokenizer
    from classifier.model import Classifier
    from yuqing.config import get_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--chars", type=int, default=150)
    args = ap.parse_args(argv)
    path = args.model or get_settings().model_file

    t0 = time.perf_counter()
    clf = Classifier.load(path)
    clf.predict_batch(["预热"])  # builds the tokenizer (part of a cold start)
    load_s = time.perf_counter() - t0

    heldout = path.parent / "heldout.jsonl"
    base = [json.loads(line)["text"] for line in heldout.read_text(encoding="utf-8").splitlines()
            if line.strip()] or ["小区停水三天了没人管，打了12345也没有回复"]
    texts = []
    i = 0
    while len(texts) < args.n:
        t = base[i % len(base)]
        texts.append((t * (args.chars // max(len(t), 1) + 1))[: args.chars])
        i += 1

    t0 = time.perf_counter()
    for start in range(0, len(texts), args.batch):
        clf.predict_batch(texts[start:start + args.batch])
    elapsed = time.perf_counter() - t0

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
    agree = None
    if len(cuts) == 2:
        agree = sum(a == b for a, b in zip(cuts["rjieba"], cuts["jieba"])) / len(sample)

    print(f"model {clf.version} ({path}, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"model load (incl. tokenizer): {load_s:.2f} s")
    print(f"classify: {len(texts) / elapsed:,.0f} posts/s ({len(texts)} posts of {args.chars} chars, "
          f"batches of {args.batch}, backend {tokenizer.BACKEND})")
    for b, s in speed.items():
        print(f"tokenizer {b}: {s:,.0f} texts/s")
    if agree is not None:
        print(f"rjieba vs jieba: identical cut on {agree:.1%} of {len(sample)} texts, "
              f"rjieba {speed['rjieba'] / speed['jieba']:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
