"""MinHash signatures of a whole batch of texts at once, equal to datasketch's.

A post's text (title and body, punctuation and spaces dropped, traditional
characters read as simplified) is cut into
character shingles; its signature is datasketch's `MinHash(num_perm=64,
seed=7, scheme="affine32")` updated with each shingle's UTF-8 bytes. The
signatures are stored with the events' members and read back after a restart,
so they must stay these values (tests compare them with datasketch's).

datasketch does that one text at a time in Python. Here a batch is done by
numpy: the texts' code points are packed three to a shingle code (21 bits
each), the codes' SHA-1 hashes come from a sorted table of the codes seen
before (only new shingles are hashed in Python), then the pre-mix and the
permutations (drawn once, by datasketch, from the seed) are applied to every
shingle of the batch and each text's minimum is taken. Texts seen before are
answered from a cache.
"""
from __future__ import annotations

import base64
import hashlib
import re

import numpy as np
from datasketch import MinHash

from classifier.hanzi import to_simplified

SHINGLE = 3
NUM_PERM = 64
SEED = 7
#: pinned, so that stored signatures stay comparable across datasketch versions
SCHEME = "affine32"
_NOISE = re.compile(r"[\W_]+", re.UNICODE)
_REPOST = re.compile(r"^(转发|转载|转|rt|//@[^:：]*[:：])+[:：]?", re.IGNORECASE)
#: the MinHash's permutations h -> a * h + b (mod 2^32), as datasketch draws them
_PERM_A, _PERM_B = (np.asarray(p, dtype=np.uint32) for p in
                    MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations)
_EMPTY = np.uint32(0xFFFFFFFF)  # the value of a MinHash that saw nothing
_BITS = 21                      # a code point (they end at 0x10FFFF)
_NONE = np.uint64((1 << _BITS) - 1)  # no character: the short texts' shingle is shorter
#: at most this many shingles x NUM_PERM values in one numpy step
_CHUNK = 1 << 12


def _strip(text: str) -> str:
    return _NOISE.sub("", _REPOST.sub("", text.strip())).lower()


def normalize(text: str) -> str:
    """What is shingled: no repost prefix, punctuation or spaces; lower case;
    traditional characters as simplified (a story reposted in 繁體 is the same story)."""
    return to_simplified(_strip(text))


def normalize_batch(texts: list[str]) -> list[str]:
    """`normalize` of each text, simplified in one pass ("\x00" is stripped as punctuation)."""
    if not texts:
        return []
    return to_simplified("\x00".join(map(_strip, texts))).split("\x00")


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    """The shingles of a text (the signature is the MinHash of these)."""
    t = normalize(text)
    if len(t) <= k:
        return {t} if t else set()
    return {t[i:i + k] for i in range(len(t) - k + 1)}


def pack(sigs: np.ndarray) -> list[str]:
    """Signatures as stored: each the base64 of its values as little-endian uint32 (a
    tenth of the work of a JSON list, and half its size)."""
    raw = np.ascontiguousarray(sigs, dtype="<u4").tobytes()
    step = NUM_PERM * 4
    return [base64.b64encode(raw[i:i + step]).decode("ascii") for i in range(0, len(raw), step)]


def unpack(stored: list) -> np.ndarray:
    """The signatures of stored values: packed, or (rows written before) lists of values."""
    out = np.empty((len(stored), NUM_PERM), dtype=np.uint32)
    for i, value in enumerate(stored):
        if isinstance(value, str):
            out[i] = np.frombuffer(base64.b64decode(value), dtype="<u4")
        else:
            out[i] = value
    return out


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer: the pre-mix of datasketch's affine32 scheme."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _sha1_32(code: int) -> int:
    """datasketch's sha1_hash32 of the shingle a code stands for."""
    chars = (code >> 2 * _BITS, (code >> _BITS) & int(_NONE), code & int(_NONE))
    shingle = "".join(chr(c) for c in chars if c != _NONE)
    data = shingle.encode("utf-8", "surrogatepass")  # (a lone surrogate is no reason to fail)
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


class Signer:
    """Signatures (rows of NUM_PERM uint32) of whole batches of texts."""

    def __init__(self, max_shingles: int = 2_000_000, max_texts: int = 20_000):
        self.max_shingles, self.max_texts = max_shingles, max_texts
        self._codes = np.empty(0, dtype=np.uint64)    # shingle codes seen, sorted
        self._hashes = np.empty(0, dtype=np.uint32)   # their hashes, pre-mixed
        self._sig: dict[str, np.ndarray] = {}         # text -> signature

    def signatures(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            sig = self._sig.get(text)
            if sig is None:
                todo.setdefault(text, []).append(i)
            else:
                out[i] = sig
        if todo:
            if len(self._sig) + len(todo) > self.max_texts:
                self._sig.clear()
            texts = list(todo)
            for text, rows, sig in zip(texts, todo.values(),
                                       self._compute(normalize_batch(texts))):
                out[rows] = self._sig[text] = sig
        return out

    def _shingle_codes(self, norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's shingles as codes (in text order), and how many each text has."""
        lengths = np.fromiter(map(len, norms), dtype=np.int64, count=len(norms))
        points = np.frombuffer("".join(norms).encode("utf-32-le", "surrogatepass"),
                               dtype=np.uint32)
        points = points.astype(np.uint64)
        ends = np.cumsum(lengths)
        text = np.repeat(np.arange(len(norms)), lengths)  # the text of each code point
        at = np.arange(len(points))
        length, end = lengths[text], ends[text]
        rel = at - (end - length)
        # a shingle starts where SHINGLE characters follow; a shorter text is one shingle
        first = at[(rel <= length - SHINGLE) | ((rel == 0) & (length < SHINGLE))]
        end = ends[text[first]]
        codes = points[first] << np.uint64(2 * _BITS)
        for k in (1, 2):
            nxt = np.minimum(first + k, len(points) - 1)
            codes |= np.where(first + k < end, points[nxt], _NONE) << np.uint64((2 - k) * _BITS)
        return codes, np.bincount(text[first], minlength=len(norms))

    def _hash(self, codes: np.ndarray) -> np.ndarray:
        """The pre-mixed SHA-1 hash of each code: from the table, new ones hashed and added."""
        hv = np.empty(len(codes), dtype=np.uint32)
        known = np.zeros(len(codes), dtype=bool)
        if len(self._codes):
            at = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
            known = self._codes[at] == codes
            hv[known] = self._hashes[at[known]]
        if not known.all():
            new, where = np.unique(codes[~known], return_inverse=True)
            mixed = _fmix32(np.fromiter(map(_sha1_32, new.tolist()), dtype=np.uint32,
                                        count=len(new)))
            hv[~known] = mixed[where]
            if len(self._codes) + len(new) > self.max_shingles:
                self._codes, self._hashes = new, mixed
            else:
                at = np.searchsorted(self._codes, new)
                self._codes = np.insert(self._codes, at, new)
                self._hashes = np.insert(self._hashes, at, mixed)
        return hv

    def _compute(self, norms: list[str]) -> np.ndarray:
        codes, sizes = self._shingle_codes(norms)
        hv = self._hash(codes)
        offsets = np.concatenate(([0], np.cumsum(sizes)))
        sigs = np.full((len(norms), NUM_PERM), _EMPTY, dtype=np.uint32)
        lo = 0
        while lo < len(norms):  # a few texts at a time: their values stay in the CPU's cache
            hi = max(lo + 1, int(np.searchsorted(offsets, offsets[lo] + _CHUNK, "right")) - 1)
            rows = lo + np.flatnonzero(sizes[lo:hi])
            if len(rows):
                # one row per permutation, a text's shingles side by side; wraps mod 2^32
                phv = _PERM_A[:, None] * hv[None, offsets[lo]:offsets[hi]]
                phv += _PERM_B[:, None]
                sigs[rows] = np.minimum.reduceat(phv, offsets[rows] - offsets[lo], axis=1).T
            lo = hi
        return sigs
