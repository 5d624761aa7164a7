"""Latin-letter abbreviations (zf, cg, yyds …) are read as the words they stand for."""
from __future__ import annotations

import pytest

from classifier import slang
from classifier.tokenizer import normalize, normalize_batch, tokenize


@pytest.mark.parametrize("text,expected", [
    ("zf不管事，小区停水三天了", "政府不管事,小区停水三天了"),
    ("cg又在街上打人了", "城管又在街上打人了"),
    ("物业费又涨了，tmd", "物业费又涨了,他妈的"),
    ("这家店yyds！", "这家店太棒了!"),
    ("cg", "城管"),
    ("CG动画很好看", "cg动画很好看"),    # upper case is an acronym, not slang
    ("用zfb付款", "用zfb付款"),          # a longer run of letters is another word
    ("cg2型号", "cg2型号"),              # a code
    ("Ｚｆ不管", "zf不管"),              # full-width upper case: left alone too
    ("ab城管", "ab城管"),                # not in the table
])
def test_expansion(text, expected):
    assert normalize(text) == expected


def test_batch_matches_single_and_keeps_texts_apart():
    texts = ["zf不管", "cg", "好的cg来了", "", "jc来了zf", "无"]
    assert normalize_batch(texts) == [normalize(t) for t in texts]
    assert normalize_batch(texts)[4] == "警察来了政府"


def test_the_word_is_what_the_tokenizer_sees():
    assert "城管" in tokenize("cg又在街上打人了")
    assert "政府" in tokenize("这个zf真不作为")


def test_the_shipped_table_is_valid():
    table = slang.load()
    assert table["zf"] == "政府" and all(len(a) <= slang.MAX_LETTERS for a in table)


@pytest.mark.parametrize("content,why", [
    ("abbreviations: [zf]", "expected 'abbreviations:'"),
    ("abbreviations:\n  ZF: 政府", "not 2-5 lower-case"),
    ("abbreviations:\n  zf2: 政府", "not 2-5 lower-case"),
    ("abbreviations:\n  zf: gov", "needs a Chinese word"),
    ("abbreviations: {zf: [", "cannot read"),
])
def test_a_bad_table_is_a_clear_error(tmp_path, content, why):
    path = tmp_path / "slang.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(slang.SlangError, match=why):
        slang.load(path)


def test_the_classifier_reads_the_abbreviation_as_the_word(classifier):
    full, short = classifier.predict_batch(["城管又在街上打人了，太离谱", "cg又在街上打人了，太离谱"])
    assert [c for c, _ in short.topics] == [c for c, _ in full.topics]
    assert short.sentiment[0] == full.sentiment[0] and short.sensitive_hits == full.sensitive_hits
