"""Sensitive words: the severity-keyed list in configuration and finding its words in posts.

A post's ``sensitive_hits`` are the words of ``config/sensitive_words.yaml``
that occur in its normalised text (`classifier.tokenizer.normalize`: NFKC,
traditional characters read as simplified, lower case), most severe first.
People who do not want a post caught split the word: 爆*炸, 强 拆, 死‍亡 with a
zero-width joiner. So words are looked for in the text with whitespace,
symbols and zero-width characters taken out (`squeeze`); sentence punctuation
(，。！？：；) stays, so two sentences do not run into one word.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from classifier.tokenizer import normalize, texts_containing

SEVERITY_ORDER = ("high", "medium", "low")

#: What people put between a word's characters to slip it past keyword filters.
#: "\x00", which joins the texts of a batch, is not one of them.
SPLITTERS = re.compile(r"[\s*\-_.·•|/\\~^+=#@'\"`\u200b-\u200d\u2060\ufeff]+")


class SensitiveWordsError(RuntimeError):
    """The sensitive-word file cannot be read or is malformed."""


def squeeze(text: str) -> str:
    """`text` without the characters that can split a word (`SPLITTERS`)."""
    return SPLITTERS.sub("", text)


def default_sensitive_words_path() -> Path:
    from yuqing.config import get_settings

    return get_settings().config_file("sensitive_words.yaml")


def load_sensitive_levels(path: Path) -> dict[str, str]:
    """{word: severity} of the severity-keyed YAML, most severe first.

    The file maps a severity (high, medium, low; other keys are accepted and
    ordered after these) to a list of words. A word listed under two
    severities keeps the more severe one. Errors name the file.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SensitiveWordsError(f"{path}: cannot read sensitive words ({exc})") from exc
    if not isinstance(data, dict):
        raise SensitiveWordsError(f"{path}: expected a mapping of severity -> list of words")
    keys = [k for k in SEVERITY_ORDER if k in data] + sorted(k for k in data if k not in SEVERITY_ORDER)
    levels: dict[str, str] = {}
    for key in keys:
        items = data[key] or []
        if not isinstance(items, list) or not all(isinstance(w, str) and w.strip() for w in items):
            raise SensitiveWordsError(f"{path}: '{key}' must be a list of non-empty strings")
        for w in items:
            levels.setdefault(normalize(w.strip()), str(key))
    return levels


def load_sensitive_words(path: Path) -> list[str]:
    """Words of the severity-keyed YAML, most severe first, de-duplicated."""
    return list(load_sensitive_levels(path))


@lru_cache(maxsize=8)
def _levels_of(path: str, mtime: float) -> dict[str, str]:
    return load_sensitive_levels(Path(path))


def sensitive_level(word: str, path: Optional[Path] = None) -> Optional[str]:
    """The severity (``high`` | ``medium`` | ``low`` …) of a sensitive word, or None.

    For alert rules grading a post by its ``sensitive_hits``; reads
    ``config/sensitive_words.yaml`` (or `path`), cached until the file changes.
    """
    path = Path(path or default_sensitive_words_path())
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _levels_of(str(path), mtime).get(normalize(word))


class SensitiveMatcher:
    """Finds the words of {word: severity} (most severe first) in normalised texts."""

    def __init__(self, levels: dict[str, str]):
        # each word with its squeezed form; a word of splitters only can never be found
        self._pairs = [(w, s) for w in levels for s in (squeeze(w),) if s]
        self._squeezed = tuple(dict.fromkeys(s for _, s in self._pairs))

    def find(self, norm: str) -> list[str]:
        """The words in one normalised text, most severe first."""
        text = squeeze(norm)
        return [w for w, s in self._pairs if s in text]

    def find_batch(self, norms: list[str], joined: str) -> list[list[str]]:
        """`find` of each text (``joined`` = ``"\\x00".join(norms)``).

        The batch is squeezed in one pass and scanned once; only the texts
        where some word occurs are looked at one by one.
        """
        out: list[list[str]] = [[] for _ in norms]
        if not self._pairs or not norms:
            return out
        squeezed = squeeze(joined)
        texts = squeezed.split("\x00")
        if len(texts) != len(norms):  # a text held "\x00" itself
            texts = [squeeze(t) for t in norms]
            squeezed = "\x00".join(texts)
        for d in texts_containing(self._squeezed, texts, squeezed):
            out[d] = [w for w, s in self._pairs if s in texts[d]]
        return out
