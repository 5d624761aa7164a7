"""Traditional characters are read as simplified ones; simplified text never changes."""
from __future__ import annotations

import json

import pytest
import yaml

from classifier import hanzi
from classifier.corpus import DATA_DIR
from classifier.hanzi import HanziTableError, build_table, to_simplified
from classifier.places import Gazetteer
from classifier.tokenizer import USERDICT_PATH, normalize, normalize_batch, tokenize

from .conftest import REPO_ROOT, SENSITIVE_WORDS

TRADITIONAL = {
    "醫院掛號排隊三小時": "医院挂号排队三小时",
    "孩子學校食堂飯菜發霉，家長很憤怒": "孩子学校食堂饭菜发霉，家长很愤怒",
    "小區停水三天了沒人管": "小区停水三天了没人管",
    "煤礦井下發生爆炸": "煤矿井下发生爆炸",
}


@pytest.mark.parametrize("text,simplified", TRADITIONAL.items())
def test_traditional_becomes_simplified(text, simplified):
    assert to_simplified(text) == simplified


def test_characters_that_simplified_text_uses_are_left_alone():
    # their own simplified form (乾隆, 於), the simplified form of another (台, 系),
    # or in GB2312 (哪吒's 吒); astral characters and lone surrogates pass through
    for text in ("乾隆皇帝", "於是", "台湾的系统", "哪吒闹海", "😀𠀀\ud800"):
        assert to_simplified(text) == text
    mixed = "醫😀院\ud800掛號"
    out = to_simplified(mixed)
    assert out == "医😀院\ud800挂号" and len(out) == len(mixed)


def _simplified_texts() -> list[str]:
    texts = []
    for name in ("seed_posts", "posts_eval", "colloquial_eval"):
        with open(DATA_DIR / f"{name}.jsonl", encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    texts += [line.split()[0] for line in USERDICT_PATH.read_text(encoding="utf-8").splitlines()
              if line.strip()]
    words = yaml.safe_load(SENSITIVE_WORDS.read_text(encoding="utf-8"))
    texts += [w for level in words.values() if isinstance(level, list) for w in level]
    texts += [n for n, _, _ in Gazetteer.load(REPO_ROOT / "config" / "places.yaml").entries]
    return texts


def test_the_projects_simplified_texts_do_not_change():
    texts = _simplified_texts()
    assert len(texts) > 4000
    changed = [t for t in texts if to_simplified(t) != t]
    assert changed == []


def test_normalisation_simplifies_single_and_batch():
    texts = list(TRADITIONAL) + ["ＡＢＣ發霉", ""]
    assert normalize_batch(texts) == [normalize(t) for t in texts]
    assert normalize("ＡＢＣ發霉") == "abc发霉"
    assert tokenize("拆遷補償款還沒給") == tokenize("拆迁补偿款还没给")


def test_a_missing_or_broken_table_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(HanziTableError, match="cannot read"):
        build_table(tmp_path)
    (tmp_path / "TSCharacters.txt").write_text("發\t发 發\n髮\n", encoding="utf-8")
    (tmp_path / "STCharacters.txt").write_text("发\t發 髮\n", encoding="utf-8")
    with pytest.raises(HanziTableError, match="TSCharacters.txt:2"):
        build_table(tmp_path)
    monkeypatch.setattr(hanzi.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HanziTableError, match="opencc-python-reimplemented"):
        build_table()


def test_table_rules(tmp_path):
    (tmp_path / "TSCharacters.txt").write_text(
        "發\t发\n乾\t干 乾\n臺\t台\n台\t台\n吒\t咤\n", encoding="utf-8")
    (tmp_path / "STCharacters.txt").write_text("台\t臺 檯\n", encoding="utf-8")
    assert build_table(tmp_path) == {"發": "发", "臺": "台"}


def test_the_classifier_reads_traditional_posts(classifier):
    from classifier.model import Classifier

    clf = Classifier(featurizer=classifier.featurizer, topic_codes=classifier.topic_codes,
                     topic_weights=classifier.topic_weights, topic_bias=classifier.topic_bias,
                     thresholds=classifier.thresholds,
                     sentiment_labels=classifier.sentiment_labels,
                     sentiment_weights=classifier.sentiment_weights,
                     sentiment_bias=classifier.sentiment_bias, metadata=classifier.metadata,
                     sensitive_levels=classifier.sensitive_levels,
                     gazetteer=Gazetteer.load(REPO_ROOT / "config" / "places.yaml"))
    trad = list(TRADITIONAL) + ["錦湖區湖濱街道翠柳苑小區停水三天了沒人管"]
    simp = [to_simplified(t) for t in trad]
    for a, b in zip(clf.predict_batch(trad), clf.predict_batch(simp)):
        assert [c for c, _ in a.topics] == [c for c, _ in b.topics]
        assert a.sentiment[0] == b.sentiment[0]
        assert a.keywords == b.keywords and a.sensitive_hits == b.sensitive_hits
        assert a.region == b.region
    out = clf.predict_batch(trad)
    assert "爆炸" in out[3].sensitive_hits
    assert out[4].region == ["锦湖区", "湖滨街道", "翠柳苑小区"]

