"""Latin-letter abbreviations in Chinese posts, read as the words they stand for.

People write "zf" for 政府, "cg" for 城管 or "yyds" for high praise, often to
slip past keyword filters. The model, the sensitive-word list and the
gazetteer only know the words, so "cg又在街上打人" read as nothing in
particular. `expand` replaces each abbreviation of ``classifier/data/slang.yaml``
that is written in lower case and touches no other Latin letter or digit;
upper case ("CG动画") is left alone, as are longer runs ("zfb") and codes
("cg2"). Normalisation (`classifier.tokenizer.normalize`) calls it before
lower-casing, so training, prediction, sensitive words and the search index
all read the same text. The text may get longer: offsets into the
normalised text are not offsets into the post.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Optional

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "slang.yaml"
#: the longest abbreviation looked up (longer runs of letters are words or codes)
MAX_LETTERS = 5

_lock = threading.Lock()
#: (the abbreviations as one pattern, {abbreviation: word}), built at first use
_compiled: Optional[tuple["re.Pattern[str]", dict[str, str]]] = None


class SlangError(RuntimeError):
    """The abbreviation file cannot be read or is malformed."""


def load(path: Path = DEFAULT_PATH) -> dict[str, str]:
    """{abbreviation: word} of the file; errors name it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SlangError(f"{path}: cannot read the abbreviations ({exc})") from exc
    table = data.get("abbreviations") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise SlangError(f"{path}: expected 'abbreviations:' mapping abbreviation -> word")
    out = {}
    for abbr, word in table.items():
        abbr, word = str(abbr), str(word or "").strip()
        if not (abbr.isascii() and abbr.isalpha() and abbr.islower() and 2 <= len(abbr) <= MAX_LETTERS):
            raise SlangError(f"{path}: {abbr!r} is not 2-{MAX_LETTERS} lower-case Latin letters")
        if not word or word.isascii():
            raise SlangError(f"{path}: {abbr!r} needs a Chinese word")
        out[abbr] = word
    return out


def _get() -> tuple["re.Pattern[str]", dict[str, str]]:
    global _compiled
    if _compiled is None:
        with _lock:
            if _compiled is None:
                table = load()
                # longest first, so that a longer abbreviation wins over its prefix
                words = sorted(table, key=len, reverse=True)
                _compiled = (re.compile("|".join(map(re.escape, words)) or "(?!)"), table)
    return _compiled


def _joins(char: str) -> bool:
    """Whether `char` would make an abbreviation part of a longer run (a Latin letter or digit)."""
    return char.isascii() and char.isalnum()


def expand(text: str) -> str:
    """`text` with each standalone lower-case abbreviation of the table replaced by its word.

    One regular-expression scan for the abbreviations (C speed; a text
    without any costs only that); a match that touches another Latin letter
    or digit is part of something else ("zfb", "cg2", "CGzf") and stays.
    """
    if not text:
        return text
    pattern, table = _get()
    pieces, last, n = [], 0, len(text)
    for m in pattern.finditer(text):
        a, b = m.span()
        if (a and _joins(text[a - 1])) or (b < n and _joins(text[b])):
            continue
        pieces += [text[last:a], table[m.group()]]
        last = b
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
