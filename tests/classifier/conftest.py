"""One small model trained per test session (the real training code, a capped corpus)."""
from __future__ import annotations

from pathlib import Path

import pytest

from classifier.model import Classifier
from classifier.train import train

REPO_ROOT = Path(__file__).resolve().parents[2]
SENSITIVE_WORDS = REPO_ROOT / "config" / "sensitive_words.yaml"
#: Reviews + news paragraphs kept for the test model; all seed posts are used.
TEST_LIMIT = 4000


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(metadata, model path, held-out path) of a model trained once per session."""
    out = tmp_path_factory.mktemp("classifier")
    model_path = out / "model.joblib"
    heldout = out / "heldout.jsonl"
    metadata = train(model_path, seed=13, limit=TEST_LIMIT, heldout_path=heldout)
    return metadata, model_path, heldout


@pytest.fixture(scope="session")
def classifier(trained) -> Classifier:
    _, model_path, _ = trained
    return Classifier.load(model_path, sensitive_words_path=SENSITIVE_WORDS)
