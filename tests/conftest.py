"""Fixtures shared across the suite."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """The trained classifier: the one set-up built, else one trained now."""
    from yuqing.config import Settings

    path = Settings().model_file
    if path.exists():
        return path
    from classifier.train import train

    out = tmp_path_factory.mktemp("model") / "model.joblib"
    train(out)
    return out


@pytest.fixture(scope="session")
def classifier_model(model_path):
    from classifier.model import Classifier

    return Classifier.load(model_path)
