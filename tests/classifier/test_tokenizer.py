from __future__ import annotations

import importlib.util
import threading

import pytest

from classifier import tokenizer
from classifier.tokenizer import USERDICT_PATH, normalize, tokenize, tokenize_batch

BACKENDS = ["jieba"] + (["rjieba"] if importlib.util.find_spec("rjieba") else [])


@pytest.mark.parametrize("word", ["停水", "欠薪", "物业费", "噪音扰民", "低保", "拆迁款", "养老院"])
def test_livelihood_terms_stay_whole(word):
    assert word in tokenize(f"我们这里{word}的问题一直没解决")


def test_drops_whitespace_and_punctuation():
    tokens = tokenize("  小区停水！！ 三天了，，， 没人管？？\n\t“”…… ")
    assert tokens == ["小区", "停水", "三天", "了", "没人管"]
    assert tokenize("，。！？  \n") == []
    assert tokenize("") == [] and tokenize(None) == []


def test_full_width_is_normalised():
    assert normalize("１２３４５ＡＢＣ") == "12345abc"
    assert "12345" in tokenize("打了１２３４５热线")


def test_batch_matches_single():
    texts = ["小区停水三天了没人管", "", "孩子学校食堂饭菜发霉，家长很愤怒"]
    assert tokenize_batch(texts) == [tokenize(t) for t in texts]


def test_lazy_initialisation_is_thread_safe(monkeypatch):
    monkeypatch.setattr(tokenizer, "_cut", None)
    built = []
    real_build = tokenizer._build_cut

    def counting_build(*args, **kwargs):
        built.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(tokenizer, "_build_cut", counting_build)
    results = []
    threads = [threading.Thread(target=lambda: results.append(tokenize("物业费又涨了")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert all(r == results[0] for r in results) and "物业费" in results[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_loads_the_user_dictionary(backend):
    cut = tokenizer._build_cut(backend)
    assert cut("小区停水三天了没人管") == ["小区", "停水", "三天", "了", "没人管"]
    assert "噪音扰民" in cut("楼下广场舞噪音扰民")


def test_user_dictionary_is_well_formed():
    entries = list(tokenizer._userdict_entries())
    words = [w for w, _, _ in entries]
    assert len(words) >= 300
    assert len(words) == len(set(words)), "duplicate words in userdict.txt"
    for line in USERDICT_PATH.read_text(encoding="utf-8").splitlines():
        assert 1 <= len(line.split()) <= 3, line


def test_batch_matches_single_on_varied_texts():
    from .test_features import varied_texts

    texts = varied_texts(400, seed=5) + [None]
    assert tokenize_batch(texts) == [tokenize(t) for t in texts]
    assert tokenize_batch([]) == []


def test_texts_containing():
    texts = ["小区停水", "", "爆炸\x00死亡", "停电了", "没事"]
    joined = "\x00".join(texts)
    assert tokenizer.texts_containing(["停水", "死亡", "了"], texts, joined) == [0, 2, 3]
    assert tokenizer.texts_containing(["水\x00"], texts, joined) == [0, 1, 2, 3, 4]
    assert tokenizer.texts_containing([], texts, joined) == []
