#!/usr/bin/env bash
# Set up and run the whole test suite, against the embedded backends and the
# real Kafka, Elasticsearch and PostgreSQL servers (started here if they are
# not running, and stopped again afterwards). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test

# Headless Chromium for the console's browser tests (Debian's package).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing; install Debian's chromium package" >&2
  fi
fi

# Start the servers; stop them afterwards only if this run started them.
if ! scripts/servers.sh status >/dev/null 2>&1; then
  trap 'scripts/servers.sh stop' EXIT
fi
scripts/servers.sh start
eval "$(scripts/servers.sh env)"
export YUQING_REQUIRE_SERVERS=1

.venv/bin/python -m pytest "$@"
