"""Chinese word tokenization with jieba and the livelihood user dictionary.

Two interchangeable backends cut with the same jieba dictionary, HMM and our
user dictionary (``userdict.txt``, jieba's ``word [freq] [tag]`` format):

* ``rjieba`` (jieba-rs, the Rust port of jieba), used when it is installed:
  about 20 times faster, which keeps training well under a minute;
* ``jieba`` (the Python original), the fallback.

They agree on about 97% of texts (they differ on a few HMM splits, e.g.
太差 vs 太/差). `BACKEND` names the one in use; models record it and warn when
served by the other one.

The backend is built lazily, once per process, under a lock, so importing
this module is cheap and threads share it. We use private instances (not
``jieba.dt``) so that other packages that use jieba are not affected by our
dictionary. Text is NFKC-normalised first (full-width digits and letters
become ASCII), its traditional characters made simplified
(`classifier.hanzi`), its Latin-letter abbreviations read as words
(`classifier.slang`: zf → 政府) and lower-cased; tokens made only of whitespace,
punctuation or symbols are dropped.
"""
from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from classifier.hanzi import to_simplified
from classifier.slang import expand as expand_slang

USERDICT_PATH = Path(__file__).resolve().parent / "userdict.txt"

_lock = threading.Lock()
_cut = None  # callable text -> list[str], built by _get_cut()

#: "rjieba" when it is installed, else "jieba".
BACKEND = "rjieba" if importlib.util.find_spec("rjieba") is not None else "jieba"


def normalize(text: str) -> str:
    """NFKC-normalise, simplify, expand abbreviations (`classifier.slang`) and lower-case
    `text` (used by the char n-grams too)."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):  # the cheap check is the common case
        text = unicodedata.normalize("NFKC", text)
    return expand_slang(to_simplified(text)).lower()


#: NFKC of a code point in a batch (`_nfkc_table`): a code point, or
#: _COMPLEX for one that is normalised with its neighbours by `unicodedata`.
_COMPLEX = 0xFFFFFFFF
_nfkc_bmp: Optional[np.ndarray] = None
_nfkc_astral: dict[int, int] = {}


def _composes_with_previous() -> set[int]:
    """Code points that can combine with the character before them under NFC.

    The second code point of every two-code-point canonical decomposition
    (the planes that have any: 0, 1 and the compatibility ideographs), and
    the Hangul vowel and trailing jamo (composed by rule).
    """
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for c in (*range(0x20000), *range(0x2F800, 0x2FA20)):
        d = unicodedata.decomposition(chr(c))
        if d and d[0] != "<":
            parts = d.split()
            if len(parts) == 2:
                seconds.add(int(parts[1], 16))
    return seconds


def _nfkc_class(c: int, seconds: set[int], safe) -> int:
    """What NFKC does to `c` wherever it stands, or _COMPLEX.

    A code point whose decomposition starts with a starter that never
    combines with what precedes has a normalisation boundary before it
    (UAX #15): NFKC of a text is the NFKC of its pieces cut there. Such a
    code point that NFKC keeps maps to itself; one that NFKC makes a single
    such code point maps to it; the rest are _COMPLEX.
    """
    if 0xD800 <= c <= 0xDFFF:
        return _COMPLEX
    ch = chr(c)
    first = unicodedata.normalize("NFKD", ch)[:1]
    if not first or unicodedata.combining(first) or ord(first) in seconds:
        return _COMPLEX
    nf = unicodedata.normalize("NFKC", ch)
    if nf == ch:
        return c if not unicodedata.combining(ch) else _COMPLEX
    if len(nf) == 1 and safe(ord(nf)):
        return ord(nf)
    return _COMPLEX


def _nfkc_table() -> np.ndarray:
    global _nfkc_bmp
    if _nfkc_bmp is None:
        with _lock:
            if _nfkc_bmp is None:
                seconds = _composes_with_previous()
                table = np.full(_BMP, _COMPLEX, dtype=np.uint32)

                def safe(c: int) -> bool:
                    return _nfkc_class(c, seconds, lambda _: False) == c

                for c in range(_BMP):
                    table[c] = _nfkc_class(c, seconds, safe)
                _nfkc_astral["seconds"] = seconds  # type: ignore[assignment]
                _nfkc_bmp = table
    return _nfkc_bmp


def _nfkc_fast(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)`` through a per-code-point table.

    Code points with a fixed result are mapped with numpy; each run of
    _COMPLEX ones is normalised by `unicodedata` together with the code
    point before it (the piece between two boundaries).
    """
    table = _nfkc_table()
    cp = codepoints(text)
    mapped = table[np.minimum(cp, _BMP - 1)]
    astral = np.flatnonzero(cp >= _BMP)
    if astral.size:
        seconds = _nfkc_astral["seconds"]
        for i in astral.tolist():
            c = int(cp[i])
            m = _nfkc_astral.get(c)
            if m is None:
                m = _nfkc_astral[c] = _nfkc_class(
                    c, seconds, lambda x: x < _BMP and int(table[x]) == x)
            mapped[i] = m
    complex_ = mapped == _COMPLEX
    out = np.where(complex_, cp, mapped).astype(np.uint32)
    result = out.tobytes().decode("utf-32-le", "surrogatepass")
    if not complex_.any():
        return result
    edges = np.flatnonzero(np.diff(complex_.astype(np.int8), prepend=0, append=0))
    pieces, done = [], 0
    for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist()):
        a = max(a - 1, done)  # the code point before the run belongs to its piece
        pieces.append(result[done:a])
        pieces.append(unicodedata.normalize("NFKC", result[a:b]))
        done = b
    pieces.append(result[done:])
    return "".join(pieces)


def normalize_batch(texts: Sequence[str]) -> list[str]:
    """`normalize` of each text, in one pass over the batch.

    The texts are joined by "\x00", which neither NFKC nor lower-casing
    ever combine with a neighbour (a control character, not cased), so the
    joined result splits back into the texts' own results. NFKC goes
    through `_nfkc_fast`; simplification maps characters one for one, and an
    abbreviation never spans "\x00" (not a letter).
    """
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:  # a text holds "\x00" itself
        return [normalize(t) for t in texts]
    if not unicodedata.is_normalized("NFKC", joined):
        joined = _nfkc_fast(joined)
    return expand_slang(to_simplified(joined)).lower().split("\x00")


@lru_cache(maxsize=16)
def _alternation(words: tuple[str, ...]) -> "re.Pattern[str]":
    return re.compile("|".join(map(re.escape, words)))


def texts_containing(words, texts: Sequence[str], joined: str) -> list[int]:
    """Indexes of the `texts` (``joined`` = ``"\x00".join(texts)``) that hold one of `words`.

    One regex alternation of the words scans the whole batch and jumps to
    the next text after a hit. A text holding a word always yields a match
    (matches never cross "\x00"), so the answer is exact; a word with
    "\x00" in it makes every text a candidate.
    """
    words = tuple(w for w in words if w)
    if not words or not texts:
        return []
    if any("\x00" in w for w in words):
        return list(range(len(texts)))
    pattern = _alternation(words)
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1, out=starts[1:])
    starts_list = starts.tolist()
    found: list[int] = []
    m = pattern.search(joined)
    while m is not None:
        d = bisect_right(starts_list, m.start()) - 1
        found.append(d)
        if d + 1 >= len(texts):
            break
        m = pattern.search(joined, starts_list[d + 1])
    return found


def _userdict_entries(path: Path = USERDICT_PATH):
    """(word, freq or None, tag or None) for each line of the user dictionary."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            word, freq, tag = parts[0], None, None
            for extra in parts[1:3]:
                if extra.isdigit():
                    freq = int(extra)
                else:
                    tag = extra
            yield word, freq, tag


def lexicon_words() -> list[str]:
    """Topic-lexicon terms (``data/topic_lexicon.yaml``) that grow the user dictionary.

    Only terms of 2-6 CJK characters that are not already user-dictionary
    words; they get jieba's suggested frequency so they stay whole.
    """
    import yaml

    path = USERDICT_PATH.parent / "data" / "topic_lexicon.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        return []
    known = {w for w, _, _ in _userdict_entries()}
    words: list[str] = []
    for section in ("topics", "strong"):
        for terms in (data.get(section) or {}).values():
            for term in terms or ():
                term = normalize(str(term))
                if 2 <= len(term) <= 6 and _CJK_ONLY.fullmatch(term) and term not in known:
                    known.add(term)
                    words.append(term)
    return words


_CJK_ONLY = re.compile(r"[\u4e00-\u9fff]+")


def _build_cut(backend: Optional[str] = None):
    """A `text -> words` function of `backend` (default BACKEND) with our user dictionary."""
    extra = lexicon_words()
    if (backend or BACKEND) == "rjieba":
        import rjieba

        tok = rjieba.Jieba()
        for word, freq, tag in _userdict_entries():
            tok.add_word(word, freq if freq is not None else tok.suggest_freq(word), tag)
        for word in extra:
            tok.add_word(word, tok.suggest_freq(word), None)
        return lambda text: tok.cut(text, hmm=True)
    import jieba

    tok = jieba.Tokenizer()
    tok.initialize()
    tok.load_userdict(str(USERDICT_PATH))
    for word in extra:
        tok.add_word(word, tok.suggest_freq(word, tune=False))
    return lambda text: tok.lcut(text, HMM=True)


def _get_cut():
    global _cut
    if _cut is None:
        with _lock:
            if _cut is None:
                _cut = _build_cut()
    return _cut


_junk_cache: dict[str, bool] = {}
_JUNK_CACHE_MAX = 200_000


def _is_junk(token: str) -> bool:
    """True for tokens made only of whitespace, punctuation or symbols (cached)."""
    junk = _junk_cache.get(token)
    if junk is None:
        junk = _is_junk_uncached(token)
        if len(_junk_cache) < _JUNK_CACHE_MAX:
            _junk_cache[token] = junk
    return junk


def _is_junk_uncached(token: str) -> bool:
    for ch in token:
        if ch.isspace():
            continue
        cat = unicodedata.category(ch)
        if cat[0] in ("P", "S", "Z", "C"):
            continue
        return False
    return True


def tokenize(text: Optional[str]) -> list[str]:
    """Split `text` into words (jieba precise mode, HMM on for new words)."""
    if not text:
        return []
    cut = _get_cut()
    return [t for t in cut(normalize(text)) if not _is_junk(t)]


_NEWLINE_CHARS = "\r\n\u2028\u2029\x85\x0b\x0c"
_NEWLINES = re.compile(f"[{_NEWLINE_CHARS}]+")

#: Code point flags (`char_flags`): junk (whitespace, punctuation, symbol,
#: separator or control: a token made only of these is dropped), whitespace
#: (``str.isspace``), digit (``str.isdigit``) and the full stop.
JUNK, SPACE, DIGIT, DOT = 1, 2, 4, 8
_BMP = 0x10000
_flag_table: Optional[np.ndarray] = None


def _flags_of(c: int) -> int:
    ch = chr(c)
    space = ch.isspace()
    flags = SPACE if space else 0
    if space or unicodedata.category(ch)[0] in ("P", "S", "Z", "C"):
        flags |= JUNK
    if ch.isdigit():
        flags |= DIGIT
    if ch == ".":
        flags |= DOT
    return flags


def char_flags(cp: np.ndarray) -> np.ndarray:
    """uint8 flags (JUNK | SPACE | DIGIT | DOT) of each code point of `cp`."""
    global _flag_table
    if _flag_table is None:
        with _lock:
            if _flag_table is None:
                _flag_table = np.fromiter(map(_flags_of, range(_BMP)), dtype=np.uint8, count=_BMP)
    out = _flag_table[np.minimum(cp, _BMP - 1)]
    astral = np.flatnonzero(cp >= _BMP)
    if astral.size:
        out[astral] = [_flags_of(int(c)) for c in cp[astral]]
    return out


def codepoints(text: str) -> np.ndarray:
    """The code points of `text` as a uint32 array (lone surrogates kept)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class CutBatch:
    """The texts of a batch cut in one call, with the tokens located in the cut text.

    ``text``: the normalised texts (their own line breaks made spaces) joined
    by ``"\n"``; ``cp``/``flags``: its code points and their `char_flags`;
    ``words``: the backend's cut of ``text``, junk included; ``kept``: index
    in ``words`` of each non-junk token; ``start``/``length``: where that
    token is in ``text``; ``doc``: the text it belongs to. ``n``: the number
    of texts.
    """

    __slots__ = ("n", "text", "cp", "flags", "words", "kept", "start", "length", "doc")

    def token_lists(self) -> list[list[str]]:
        """The tokens of each text: what `tokenize` gives one by one."""
        words = self.words
        kept = [words[i] for i in self.kept.tolist()]
        counts = np.bincount(self.doc, minlength=self.n).tolist()
        it = iter(kept)
        return [list(islice(it, c)) for c in counts]


def _lengths(words: list[str], text: str) -> Optional[np.ndarray]:
    """The length of each word, or None if the words do not add up to `text`.

    Joining the words with "\x01" and finding the marks in its code points is
    a few memory passes instead of a `len` call per word (when the text has
    no "\x01" of its own).
    """
    if len(words) > 1 and "\x01" not in text:
        marked = "\x01".join(words)
        if len(marked) != len(text) + len(words) - 1:
            return None
        ends = np.flatnonzero(codepoints(marked) == 1)
        ends -= np.arange(ends.size)
        return np.diff(ends, prepend=0, append=len(text))
    length = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return length if int(length.sum()) == len(text) else None


def cut_batch(texts: Sequence[Optional[str]]) -> Optional[CutBatch]:
    """Cut a batch of texts in one backend call and locate every token (vectorised).

    The texts are normalised, their line breaks made spaces, joined by
    ``"\n"`` and cut once (jieba never joins a word across a line break).
    Token lengths give each token's place in the joined text, and the junk
    filter and the text of each token are computed on the code points with
    numpy. Returns None when the cut does not line up (a backend that
    changed the text, or a token across two texts): use `tokenize` then.
    """
    n = len(texts)
    if not n:
        return None
    parts = ["" if t is None else t for t in texts]
    joined = "\x00".join(parts)
    if joined.count("\x00") == n - 1:
        # one normalize/replace for the batch: NFKC, lower-casing and the
        # newline pattern never act across "\x00" (a control character)
        text = normalize(joined)
        if any(c in text for c in _NEWLINE_CHARS):  # seven quick scans instead of the regex
            text = _NEWLINES.sub(" ", text)
        text = text.replace("\x00", "\n")
    else:  # a text holds "\x00" itself
        text = "\n".join(_NEWLINES.sub(" ", normalize(t)) if t else "" for t in parts)
    words = _get_cut()(text)
    length = _lengths(words, text)
    if length is None:
        return None
    cp = codepoints(text)
    flags = char_flags(cp)
    end = np.cumsum(length)
    start = end - length
    solid = np.concatenate([[0], np.cumsum((flags & JUNK) == 0, dtype=np.int64)])
    kept = np.flatnonzero(solid[end] > solid[start])
    sep_before = np.concatenate([[0], np.cumsum(cp == 10, dtype=np.int64)])
    k_start, k_end = start[kept], end[kept]
    doc = sep_before[k_start]
    if kept.size and not np.array_equal(sep_before[k_end], doc):
        return None  # a kept token holds a separator
    cb = CutBatch()
    cb.n, cb.text, cb.cp, cb.flags, cb.words = n, text, cp, flags, words
    cb.kept, cb.start, cb.length, cb.doc = kept, k_start, length[kept], doc
    return cb


def tokenize_batch(texts: Iterable[Optional[str]]) -> list[list[str]]:
    """`tokenize` over many texts, cut in one call (the same tokens as one by one)."""
    texts = list(texts)
    if not texts:
        return []
    cb = cut_batch(texts)
    if cb is None:
        return [tokenize(t) for t in texts]
    return cb.token_lists()


def identity(tokens):
    """Analyzer helper for vectorizers fed with pre-tokenized input.

    A module-level function so that fitted vectorizers pickle by reference.
    """
    return tokens
