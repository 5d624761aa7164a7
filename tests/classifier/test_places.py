from __future__ import annotations

from classifier.places import Gazetteer

from .conftest import REPO_ROOT


def test_find_batch_equals_find():
    from .test_features import varied_texts

    gaz = Gazetteer.load(REPO_ROOT / "config" / "places.yaml")
    texts = varied_texts(300, seed=9) + ["湖滨街道翠柳苑小区停水", "Ａ\x00湖滨街道", "", "云台县石桥镇" * 3]
    expected = [gaz.find(t) for t in texts]
    assert gaz.find_batch(texts) == expected
    assert sum(bool(r) for r in expected) >= 4
    assert Gazetteer([]).find_batch(texts) == [[] for _ in texts]
    assert gaz.find_batch([]) == []
