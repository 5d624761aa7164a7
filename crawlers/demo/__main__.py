"""Serve the demo site until interrupted: ``python -m crawlers.demo --port 8800``."""
from __future__ import annotations

import argparse
import logging
import time

from crawlers.demo.site import DemoSite


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="demo seconds per real second (the burst starts at demo second 120)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    site = DemoSite(args.port, seed=args.seed, speed=args.speed)
    print(f"demo site: {site.start()}  (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
