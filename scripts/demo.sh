#!/usr/bin/env bash
# Set up (if needed) and run the main job with the built-in demo source.
# Then open http://127.0.0.1:5000 and log in with the credentials printed below.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/yuqing run --demo "$@"
