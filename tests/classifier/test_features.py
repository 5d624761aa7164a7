"""The vectorised feature path against the straightforward one, and its lookup tables."""
from __future__ import annotations

import json
import random
import unicodedata

import numpy as np
import pytest

from classifier import features, tokenizer
from classifier.corpus import SEED_PATH
from classifier.tables import IntTable, span_hash, spans_equal, token_keys
from classifier.tokenizer import codepoints, cut_batch, normalize, tokenize

#: Texts that exercise the corners of the batch paths: full-width forms,
#: combining marks, Hangul, astral code points, "\x00", every kind of line
#: break, whitespace runs, numbers, Greek final sigma, empty texts, a text
#: longer than PREDICT_MAX_CHARS, and sentiment words with negators and
#: degree adverbs.
EDGE_TEXTS = [
    "", " ", "\n\n", "x", "ＡＢＣ１２３ 全角，标点！", "URL http://x.cn/a?b=1&c=2 看看", "😀😀 表情 𠀀𠀁 𝐀𝟏",
    "Σ ΣΑΣ σ. ODYSSEUS ΌΣΟΣ", "a\x00b 零字符\x00", "第一行\r\n第二行\u2028第三行\x85第四\x0b第五\x0c",
    "３.５元 12.5 1.2.3 .. 2024年", "不满意，服务非常差，真的不好", "好 好 好 好 停水 停水 12 3.5",
    "İstanbul ǅ ß ﬁ", "ｶﾀｶﾅ ﾊﾟ ㌀ ①② ㈱", "\t\t前后空白\t \u3000", "e\u0301 a\u0300\u0323 가\u11a8 \u1100\u1161",
    "湖滨街道翠柳苑小区停水三天了没人管", "工人讨薪不成准备去堵路，听说化工厂爆炸造成死亡", "云台县石桥镇的路灯坏了，金桂花园物业不作为",
    "感谢民警，没有不满意的地方", "非常不满意！！！", "__pos__ __neg_strong__ 不__满意", "医院挂号排了一上午" * 400,
]


def varied_texts(n: int = 400, seed: int = 7) -> list[str]:
    """`n` texts: the edge cases, seed posts, and seeds cut, joined and mixed with edge cases."""
    seeds = [json.loads(line)["text"] for line in SEED_PATH.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    rng = random.Random(seed)
    out = list(EDGE_TEXTS)
    while len(out) < n:
        a, k = rng.choice(seeds), rng.random()
        if k < 0.5:
            out.append(a)
        elif k < 0.7:
            out.append(a + rng.choice(["\n", " ", "，", "\t", "\r\n"]) + rng.choice(seeds))
        elif k < 0.85:
            out.append(a[: rng.randint(0, len(a))])
        else:
            out.append(a + " " + rng.choice(EDGE_TEXTS[:-1]))
    return out


def test_normalize_batch_equals_normalize():
    texts = varied_texts()
    assert tokenizer.normalize_batch(texts) == [normalize(t) for t in texts]
    assert tokenizer.normalize_batch(["a\x00Ｂ", "ＣΣ"]) == [normalize("a\x00Ｂ"), normalize("ＣΣ")]


def test_fast_nfkc_equals_unicodedata_around_every_bmp_code_point():
    rng = random.Random(3)
    bmp = [c for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF]
    marks = [c for c in bmp if unicodedata.combining(chr(c))]
    tokenizer._nfkc_table()
    seconds = sorted(tokenizer._nfkc_astral["seconds"])
    pieces = []
    for c in bmp:  # each code point after and before things it may combine with
        pieces.append(chr(rng.choice(bmp)) + chr(c) + chr(rng.choice(marks + seconds + bmp)))
        pieces.append(chr(c) + chr(rng.choice(seconds)) + chr(rng.choice(marks)))
    text = "".join(pieces) + "😀𝐀\U0001D15E\U00011099\U000110BA"
    assert tokenizer._nfkc_fast(text) == unicodedata.normalize("NFKC", text)


def test_composition_seconds_need_only_the_scanned_planes():
    full = {0x1161 + i for i in range(21)} | {0x11A8 + i for i in range(27)}
    for c in range(0x110000):
        d = unicodedata.decomposition(chr(c))
        if d and d[0] != "<" and len(d.split()) == 2:
            full.add(int(d.split()[1], 16))
    assert tokenizer._composes_with_previous() == full


def test_cut_batch_locates_the_tokens_of_each_text():
    texts = varied_texts()
    cb = cut_batch([normalize(t) for t in texts])
    assert cb is not None and cb.n == len(texts)
    assert cb.token_lists() == [tokenize(t) for t in texts]
    text = cb.text
    assert all(text[s:s + n] == cb.words[i]
               for i, s, n in zip(cb.kept.tolist(), cb.start.tolist(), cb.length.tolist()))


def test_token_keys_are_equal_exactly_for_equal_short_strings():
    words = ["停水", "停电", "a", "ab", "abc", "a\x00", "\x00a", "停水了", "停水了吗", "长一点的词语组合",
             "长一点的词语组合", "😀", "😀😀", "\U0010FFFF" * 3]
    cp = codepoints("".join(words))
    length = np.array([len(w) for w in words])
    keys = token_keys(cp, np.cumsum(length) - length, length).tolist()
    for w, k in zip(words, keys):
        assert [keys[j] for j, v in enumerate(words) if v == w] == [k] * words.count(w)
        assert len({keys[j] for j, v in enumerate(words) if v != w} & {k}) == 0
    assert all(k >= 0 for w, k in zip(words, keys) if len(w) <= 3)
    assert all(k < 0 and k != -1 for w, k in zip(words, keys) if len(w) > 3)


def test_span_hash_and_spans_equal():
    cp = codepoints("停水停水停电abc")
    start, length = np.array([0, 2, 4, 6, 0]), np.array([2, 2, 2, 3, 3])
    h = span_hash(cp, start, length)
    assert h[0] == h[1] and len(set(h[1:].tolist())) == 4
    other_start, other_length = np.array([2, 0, 2, 6, 0]), np.array([2, 2, 2, 3, 2])
    assert spans_equal(cp, start, length, cp, other_start, other_length).tolist() \
        == [True, True, False, True, False]


@pytest.mark.parametrize("n", [0, 1, 5, 1000])
def test_int_table(n):
    rng = np.random.default_rng(n)
    keys = np.unique(rng.integers(0, 1 << 43, size=n))
    values = np.arange(keys.size)
    table = IntTable(keys, values)
    probe = np.concatenate([keys, keys + 1, rng.integers(0, 1 << 43, size=50)])
    expected = {int(k): int(v) for k, v in zip(keys, values)}
    assert table.get(probe).tolist() == [expected.get(int(k), -1) for k in probe]


def test_transform_cut_equals_transform(classifier):
    f = classifier.featurizer
    texts = varied_texts()
    heads = [normalize(t)[:3000] for t in texts]
    cb = cut_batch(heads)
    X, ti = f.transform_cut(cb)
    reference = f.transform(heads, [tokenize(t) for t in heads])
    assert X.shape == reference.shape
    assert abs(X - reference).max() < 1e-6
    assert (abs(X - reference) > 1e-6).nnz == 0 and X.nnz == reference.nnz


def test_a_long_token_hash_collision_is_caught(classifier, monkeypatch):
    """Tokens of 4+ characters are keyed by a hash. Make every such token of the
    batch hash like one known string: only that string itself is taken for it,
    one other string alone is still an unknown word of its own, and two others
    make the batch decline (the caller then uses the token lists)."""
    f = classifier.featurizer
    t = f.fast_tables()
    known = next(i for i, w in enumerate(t.strings)
                 if len(w) > 3 and t.vocab[i] >= 0 and w.isalpha() and tokenize(w) == [w])
    word = t.strings[known]
    one = slice(known, known + 1)
    known_key = int(features.token_keys(t.cp, t.start[one], t.length[one])[0])
    real = features.token_keys

    def colliding(cp, start, length):
        keys = real(cp, start, length)
        keys[length > 3] = known_key
        return keys

    monkeypatch.setattr(features, "token_keys", colliding)
    for texts in ([f"{word} 停水 {word}"], ["abcdefg 停水 abcdefg", word], [f"{word}abcdefg"]):
        heads = [normalize(x) for x in texts]
        got = f.transform_cut(cut_batch(heads))
        assert got is not None
        assert abs(got[0] - f.transform(heads, [tokenize(x) for x in heads])).max() < 1e-6
    assert f.transform_cut(cut_batch(["abcdefg hijklmn"])) is None
