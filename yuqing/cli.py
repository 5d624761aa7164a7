"""The `yuqing` command."""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path

from yuqing.config import get_settings



def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("jieba", "scrapy", "apscheduler.executors", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_run(args) -> int:
    from yuqing.run import run

    return run(get_settings(), demo=args.demo, host=args.host, port=args.port,
               demo_speed=args.demo_speed)


def cmd_crawl(args) -> int:
    from crawlers.runner import crawl
    from crawlers.sources import load_sources

    settings = get_settings()
    directory = Path(args.sources) if args.sources else settings.config_file("sources")
    sources = load_sources(directory, demo_url=args.demo_url)
    if args.source not in sources:
        print(f"未知数据源 {args.source!r}；可用：{', '.join(sorted(sources))}", file=sys.stderr)
        return 2
    stats = crawl(sources[args.source], settings)
    print(json.dumps(stats, ensure_ascii=False))
    return 0


def _load_classifier():
    from classifier.model import Classifier

    path = get_settings().model_file
    if not path.exists():
        print(f"模型文件不存在：{path}。请先运行 `yuqing train`。", file=sys.stderr)
        raise SystemExit(2)
    return Classifier.load(path)


def cmd_classify(args) -> int:
    model = _load_classifier()
    texts = args.text or [line.strip() for line in sys.stdin if line.strip()]
    for text, pred in zip(texts, model.predict_batch(texts)):
        out = {
            "text": text,
            "topics": [{"code": c, "score": round(s, 4)} for c, s in pred.topics],
            "sentiment": {"label": pred.sentiment[0], "score": round(pred.sentiment[1], 4)},
            "keywords": pred.keywords,
            "sensitive_hits": [{"word": w, "level": model.sensitive_level(w)}
                               for w in pred.sensitive_hits],
            "region": pred.region,
            "model_version": model.version,
        }
        if args.json:
            print(json.dumps(out, ensure_ascii=False))
        else:
            from yuqing.taxonomy import SENTIMENTS, topic_name

            topics = "、".join(f"{topic_name(t['code'])}({t['score']:.2f})" for t in out["topics"])
            print(f"{text}\n  话题：{topics}\n  情感：{SENTIMENTS[pred.sentiment[0]]}"
                  f"({pred.sentiment[1]:.2f})")
            if pred.sensitive_hits:
                print("  敏感词：" + "、".join(f"{h['word']}({h['level']})" for h in out["sensitive_hits"]))
            if pred.region:
                print("  地点：" + "、".join(pred.region))
    return 0


def cmd_train(args) -> int:
    from classifier.corrections_source import load_corrections
    from classifier.train import summary, train

    settings = get_settings()
    output = Path(args.output) if args.output else settings.model_file
    corrections = [] if args.no_corrections else load_corrections(settings.case_db_url)
    metadata = train(output, family=args.family, corrections=corrections, cv_seeds=args.cv_seeds)
    if args.json:
        print(json.dumps(metadata, ensure_ascii=False, indent=2))
    else:
        print(summary(metadata))
        print(f"corrections used: {len(corrections)}; model written to {output}")
    return 0


def cmd_eval(args) -> int:
    from classifier.evaluate import evaluate, load_jsonl

    if bool(args.data) == bool(args.corrections):
        print("请指定 --data FILE.jsonl 或 --corrections 之一", file=sys.stderr)
        return 2
    if args.corrections:
        from classifier.corpus import normalize_corrections
        from classifier.corrections_source import load_corrections

        records = normalize_corrections(load_corrections(get_settings().case_db_url))
        if not records:
            print("没有可用的纠正记录", file=sys.stderr)
            return 2
    else:
        records = load_jsonl(Path(args.data))
    print(json.dumps(evaluate(_load_classifier(), records, with_intervals=True),
                     ensure_ascii=False, indent=2))
    return 0


def cmd_console(args) -> int:
    from console import create_app
    from console.server import serve

    settings = get_settings()
    serve(create_app(), host=args.host or settings.console_host, port=args.port or settings.console_port)
    return 0


def cmd_worker(args) -> int:
    from yuqing.run import run_worker

    return run_worker(get_settings(), stages=tuple(args.stage or ("classify", "index", "alerts")))


def cmd_scheduler(args) -> int:
    from yuqing.run import run_scheduler

    return run_scheduler(get_settings())


def cmd_init(args) -> int:
    """Create what the configured backends need: the case store's schema (Alembic migrations
    to the newest revision), topics, index template. Safe to run at every deployment."""
    from yuqing.db import Database, current_revisions

    settings = get_settings()
    db = Database(settings.case_db_url)  # migrates to head
    with db.engine.connect() as conn:
        revision = ", ".join(sorted(current_revisions(conn)))
    db.dispose()
    print(f"case store ready at revision {revision}: {settings.case_db_url.split('@')[-1]}")
    if settings.bus_backend == "kafka":
        from stream.kafka_bus import ensure_topics

        created = ensure_topics(settings, partitions=settings.kafka_partitions)
        print(f"kafka topics ready on {settings.kafka_bootstrap} "
              f"({settings.kafka_partitions} partitions; created: {', '.join(created) or 'none'})")
    if settings.index_backend == "elasticsearch":
        from stream import make_index

        make_index(settings).close()
        print(f"elasticsearch index template ready on {settings.elasticsearch_url}")
    return 0


def cmd_user(args) -> int:
    from console.auth.models import Role
    from console.auth.service import create_user
    from yuqing.db import Database

    if args.role not in {r.value for r in Role}:
        print(f"角色须为：{', '.join(r.value for r in Role)}", file=sys.stderr)
        return 2
    password = sys.stdin.readline().strip() if args.password_stdin else getpass.getpass("密码：")
    db = Database(get_settings().case_db_url)
    with db.session() as s:
        create_user(s, username=args.username, password=password, role=args.role,
                    department=args.department, display_name=args.name or "")
    print(f"已创建用户 {args.username}（{Role(args.role).label}）")
    return 0


def cmd_deadletters(args) -> int:
    from stream import DEADLETTER, make_bus

    bus = make_bus()
    consumer = bus.consumer(DEADLETTER, f"cli-{args.group}")
    for msg in consumer.poll(args.limit, timeout=2.0):
        print(json.dumps({"offset": msg.offset, "key": msg.key, **msg.json()}, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="yuqing", description="舆情监测与回应处置系统")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run crawls, the worker, the scheduler and the console")
    r.add_argument("--demo", action="store_true", help="serve and crawl the built-in demo source")
    r.add_argument("--demo-speed", type=float, default=1.0, help="demo timeline speed factor")
    r.add_argument("--host", default=None)
    r.add_argument("--port", type=int, default=None)
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("crawl", help="crawl one source once")
    c.add_argument("source")
    c.add_argument("--sources", help="directory of source YAML files (default: config/sources)")
    c.add_argument("--demo-url", help="fills {demo_url} in source files")
    c.set_defaults(func=cmd_crawl)

    k = sub.add_parser("classify", help="classify texts (arguments, or one per line on stdin)")
    k.add_argument("text", nargs="*")
    k.add_argument("--json", action="store_true")
    k.set_defaults(func=cmd_classify)

    t = sub.add_parser("train", help="rebuild the classifier from the repo's data and evaluate it")
    t.add_argument("--output")
    t.add_argument("--family", choices=["svm", "lr", "best"], default="svm",
                   help="model family (best: fit both, keep the better on dev)")
    t.add_argument("--cv-seeds", type=int, default=0,
                   help="also score k-fold over the project-written posts (slower)")
    t.add_argument("--no-corrections", action="store_true",
                   help="ignore the console's corrections in the case store")
    t.add_argument("--json", action="store_true", help="print the model's metadata as JSON")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate the classifier on a JSON Lines file")
    e.add_argument("--data", help="labelled JSON Lines file")
    e.add_argument("--corrections", action="store_true",
                   help="evaluate on the console's corrections in the case store")
    e.set_defaults(func=cmd_eval)

    w = sub.add_parser("console", help="serve the web console")
    w.add_argument("--host")
    w.add_argument("--port", type=int)
    w.set_defaults(func=cmd_console)

    wk = sub.add_parser("worker", help="run pipeline stages (classify, index, alerts)")
    wk.add_argument("--stage", action="append", choices=["classify", "index", "alerts"])
    wk.set_defaults(func=cmd_worker)

    sc = sub.add_parser("scheduler", help="run the crawl schedules and deadline clocks only")
    sc.set_defaults(func=cmd_scheduler)

    i = sub.add_parser("init", help="create tables, topics and index templates of the backends")
    i.set_defaults(func=cmd_init)

    u = sub.add_parser("user", help="create a console user")
    u.add_argument("action", choices=["add"])
    u.add_argument("username")
    u.add_argument("--role", required=True)
    u.add_argument("--department")
    u.add_argument("--name")
    u.add_argument("--password-stdin", action="store_true")
    u.set_defaults(func=cmd_user)

    d = sub.add_parser("deadletters", help="print dead letters (records that could not be processed)")
    d.add_argument("--limit", type=int, default=100)
    d.add_argument("--group", default="viewer")
    d.set_defaults(func=cmd_deadletters)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
