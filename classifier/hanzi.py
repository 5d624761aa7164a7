"""Traditional characters to simplified ones, one character for one.

Some posts come in traditional characters (from Hong Kong, Taiwan or abroad,
a phone set to 繁體, or on purpose to slip past keyword filters). The model,
the sensitive-word lists and the gazetteer are all simplified, so
"醫院掛號排隊三小時" would read as nothing. `to_simplified` maps each
traditional character to its first simplified form from OpenCC's
``TSCharacters`` table, shipped by the ``opencc-python-reimplemented``
package (read at first use, nothing copied into this repository).

Only characters that simplified text never uses are mapped: a character
that is its own simplified form (乾, 於), that is itself the simplified form
of another (台, 系), or that is in GB2312 (哪吒's 吒, 後) is left alone, so a
simplified text never changes. The mapping keeps lengths: character offsets
into the normalised text stay valid.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Optional

import numpy as np

_lock = threading.Lock()
#: code point -> code point, the identity but for the traditional characters
_map: Optional[np.ndarray] = None


class HanziTableError(RuntimeError):
    """OpenCC's character tables cannot be read."""


def _dictionary_dir() -> Path:
    spec = importlib.util.find_spec("opencc")
    if spec is None or not spec.submodule_search_locations:
        raise HanziTableError("the opencc-python-reimplemented package is not installed; "
                              "it ships the traditional-to-simplified character table")
    return Path(list(spec.submodule_search_locations)[0]) / "dictionary"


def _read(path: Path) -> dict[str, list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise HanziTableError(f"cannot read {path}: {exc}") from exc
    table = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, _, values = line.partition("\t")
        if not values.split():
            raise HanziTableError(f"{path}:{n}: no value for {key!r}")
        table[key] = values.split()
    return table


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def build_table(directory: Optional[Path] = None) -> dict[str, str]:
    """{traditional character: simplified character} for the characters simplified text never uses."""
    directory = directory or _dictionary_dir()
    ts = _read(directory / "TSCharacters.txt")
    simplified = _read(directory / "STCharacters.txt")  # keys: simplified forms
    return {t: forms[0] for t, forms in ts.items()
            if len(t) == 1 and len(forms[0]) == 1 and t not in forms
            and t not in simplified and not _in_gb2312(t)}


def _get() -> np.ndarray:
    global _map
    if _map is None:
        with _lock:
            if _map is None:
                mapping = np.arange(0x110000, dtype=np.uint32)
                for t, s in build_table().items():
                    mapping[ord(t)] = ord(s)
                _map = mapping
    return _map


def to_simplified(text: str) -> str:
    """`text` with its traditional-only characters made simplified (same length).

    One table lookup per code point in numpy (a regular expression of the
    4,000 characters took 25 times as long as the rest of normalisation).
    """
    if not text:
        return text
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mapped = _get()[cp]
    if np.array_equal(mapped, cp):  # the common case: nothing to change, no copy
        return text
    return mapped.tobytes().decode("utf-32-le", "surrogatepass")
