"""Lookup tables of the classifier's vectorised path (`Featurizer.transform_cut`).

A `CutBatch` (one cut of a whole batch, its tokens located in the batch's
code points) becomes column numbers without a Python operation per token or
character: tokens are keyed by their code points (exactly up to 3 of them,
by a 64-bit hash checked code point by code point beyond), and the keys are
looked up in numpy open-addressing hash tables built once per model.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from classifier.features import Featurizer


_M1 = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime
_M2 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 finaliser
_M3 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = -1
LOAD = 4


def span_hash(cp: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each string ``cp[start:start + length]`` (vectorised by position).

    Used to group equal tokens and to find them in the vocabulary; every
    match is then checked code point by code point (`spans_equal`), so a
    collision can cost time but never change a result.
    """
    h = length.astype(np.uint64) * _GOLDEN
    idx = np.arange(start.size)
    k = 0
    while idx.size:
        h[idx] = (h[idx] ^ cp[start[idx] + k].astype(np.uint64)) * _M1
        k += 1
        idx = idx[length[idx] > k]
    h ^= h >> np.uint64(31)
    h *= _M2
    h ^= h >> np.uint64(29)
    h *= _M3
    h ^= h >> np.uint64(32)
    return h


def spans_equal(cp_a, start_a, len_a, cp_b, start_b, len_b) -> np.ndarray:
    """Whether ``cp_a[start_a:+len_a]`` equals ``cp_b[start_b:+len_b]``, pairwise."""
    eq = len_a == len_b
    idx = np.flatnonzero(eq)
    k = 0
    while idx.size:
        same = cp_a[start_a[idx] + k] == cp_b[start_b[idx] + k]
        eq[idx[~same]] = False
        k += 1
        idx = idx[same & (len_a[idx] > k)]
    return eq


def token_keys(cp: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """An int64 key of each string ``cp[start:start + length]``.

    Strings of up to 3 code points are packed exactly (21 bits each, top
    bit clear); longer ones get their `span_hash` with the top bit set and
    the lowest clear (never -1), so two strings with the same key are equal
    unless both are longer than 3 and their hashes collide: callers check
    those with `spans_equal`.
    """
    padded = np.concatenate([cp, np.zeros(2, dtype=cp.dtype)]).astype(np.int64)
    key = padded[start] + 1
    key |= np.where(length > 1, padded[start + 1] + 1, 0) << 21
    key |= np.where(length > 2, padded[start + 2] + 1, 0) << 42
    long_ = np.flatnonzero(length > 3)
    if long_.size:
        h = span_hash(cp, start[long_], length[long_])
        key[long_] = (((h >> np.uint64(2)) << np.uint64(1)) | np.uint64(1 << 63)).view(np.int64)
    return key


class IntTable:
    """int64 key -> int value (both >= 0 when packed), open addressing, vectorised.

    Linear probing in a table at most a quarter full, so that almost every
    key is settled by the first probe: one gather for the batch, then a few
    small rounds for the rest. When key and value fit in 63 bits together
    they are packed in one int64 (one memory access per probe).
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.int64)
        self.bits = max(4, int(np.ceil(np.log2(max(keys.size, 1) * LOAD))))
        self.mask = (1 << self.bits) - 1
        self.value_bits = max(1, int(values.max()).bit_length()) if values.size else 1
        key_bits = int(keys.max()).bit_length() if keys.size else 0
        self.packed = bool(keys.size == 0 or (keys.min() >= 0 and values.min() >= 0
                                              and key_bits + self.value_bits <= 63))
        size = 1 << self.bits
        self.keys = np.full(size, _EMPTY, dtype=np.int64)
        self.values = np.zeros(size, dtype=np.int64)
        slot = self._slot(keys)
        pending = np.arange(keys.size)
        while pending.size:
            s = slot[pending]
            free = self.keys[s] == _EMPTY
            taken_slot, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken_slot] = keys[winners]
            self.values[taken_slot] = values[winners]
            placed = np.zeros(keys.size, dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask
        if self.packed:
            used = self.keys != _EMPTY
            self.entries = np.where(used, (self.keys << self.value_bits) | self.values, _EMPTY)
            self.keys = self.values = None
        elif self.value_bits < 32:
            self.values = self.values.astype(np.int32)

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.view(np.uint64) * _GOLDEN) >> np.uint64(64 - self.bits)).view(np.int64)

    def _probe(self, slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, value) stored at each slot (key _EMPTY: a free slot)."""
        if self.packed:
            entry = self.entries[slot]
            return np.where(entry == _EMPTY, _EMPTY, entry >> self.value_bits), \
                entry & ((1 << self.value_bits) - 1)
        return self.keys[slot], self.values[slot]

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, -1 for keys not in the table."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        slot = self._slot(keys)
        found, value = self._probe(slot)
        hit = found == keys
        out = np.where(hit, value, -1)
        idx = np.flatnonzero(~hit & (found != _EMPTY))
        s = slot[idx]
        while idx.size:
            s = (s + 1) & self.mask
            found, value = self._probe(s)
            hit = found == keys[idx]
            out[idx[hit]] = value[hit]
            more = ~hit & (found != _EMPTY)
            idx, s = idx[more], s[more]
        return out


class FastTables:
    """What the vectorised path looks up, built once from a fitted `Featurizer`.

    Known strings are the vocabulary plus the sentiment lexicon; per known
    string: word column, polarity (1 pos, 2 neg), negator, degree weight.
    Char n-grams: a dense column table for BMP unigrams and a hash table for
    the rest.
    """

    def __init__(self, f: "Featurizer"):
        from classifier.tokenizer import codepoints

        lex = f.lexicon
        pos, neg, negators, degree = lex["pos"], lex["neg"], lex["negators"], lex["degree"]
        strings = list(dict.fromkeys([*f.word_vocab, *pos, *neg, *negators, *degree]))
        self.strings = strings
        self.string_array = np.array(strings, dtype=object)
        self.cp = codepoints("".join(strings))
        self.length = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        self.start = np.cumsum(self.length) - self.length
        self.keys = keys = token_keys(self.cp, self.start, self.length)
        if np.unique(keys).size != keys.size:  # two known strings with one hash: never seen
            raise ValueError("known strings collide")
        self.known = IntTable(keys, np.arange(keys.size))
        get = f.word_vocab.get
        n = len(strings)
        # the vocabulary comes first, in its own order
        self.vocab = np.full(n, -1, dtype=np.int64)
        self.vocab[:len(f.word_vocab)] = np.fromiter(f.word_vocab.values(), dtype=np.int64,
                                                     count=len(f.word_vocab))
        index = {t: i for i, t in enumerate(strings)}
        at = index.__getitem__
        self.polarity = np.zeros(n, dtype=np.int8)
        self.polarity[list(map(at, neg))] = 2
        self.polarity[list(map(at, pos))] = 1  # a word in both lists counts as positive
        self.negator = np.zeros(n, dtype=bool)
        self.negator[list(map(at, negators))] = True
        self.degree = np.zeros(n, dtype=np.float64)
        self.degree[list(map(at, degree))] = list(degree.values())
        self.cue_col = np.array(
            [get(f"__{p}{'_negated' if ng else ''}{'_strong' if st else ''}__", -1)
             for p in ("pos", "neg") for ng in (0, 1) for st in (0, 1)], dtype=np.int64)
        keys = f.char_keys
        cols = np.arange(keys.size, dtype=np.int64)
        self.unigram = np.full(0x10000, -1, dtype=np.int32)
        bmp = keys < 0x10000
        self.unigram[keys[bmp]] = cols[bmp]
        self.ngrams = IntTable(keys[~bmp], cols[~bmp])
        self.idf = np.concatenate([f.word_idf, f.char_idf]).astype(np.float32)
        self.n_words = len(f.word_vocab)


class TokenIds:
    """The kept tokens of a `CutBatch` grouped by string: what keywords need.

    ``ids``: the group of each token: a known string's index in
    ``tables.strings``, or ``len(tables.strings)`` + the number of an
    unknown string of the batch (``unknown_first``: its first token;
    ``unknown_keys``: its `token_keys` key); ``rows``: the text of each
    token; ``col``: its word column (-1: none); ``n_uniq``: the number of
    group numbers.
    """

    __slots__ = ("cb", "tables", "ids", "rows", "col", "unknown_first", "unknown_keys", "n_uniq")

    def word(self, u: int) -> str:
        strings = self.tables.strings
        if u < len(strings):
            return strings[u]
        cb = self.cb
        return cb.words[int(cb.kept[self.unknown_first[u - len(strings)]])]

    def words_of(self, u: np.ndarray) -> list[str]:
        """The strings of group numbers `u`."""
        n_known = len(self.tables.strings)
        out = self.tables.string_array[np.minimum(u, n_known - 1)] if n_known else \
            np.empty(u.size, dtype=object)
        unknown = np.flatnonzero(u >= n_known)
        if unknown.size:
            words, kept = self.cb.words, self.cb.kept
            at = kept[self.unknown_first[u[unknown] - n_known]].tolist()
            out[unknown] = [words[i] for i in at]
        return out.tolist()
