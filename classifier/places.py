"""Place names of the deployment city (``config/places.yaml``) found in a text."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import yaml

from classifier.tokenizer import normalize, normalize_batch, texts_containing


class PlacesError(RuntimeError):
    """The gazetteer file cannot be read; the message names it."""


def default_places_path() -> Path:
    from yuqing.config import get_settings

    return get_settings().config_file("places.yaml")


class Gazetteer:
    """Districts, their streets/towns/communities, and free-standing communities.

    `find(text)` returns the places in the text, most general first
    (districts, then streets and towns, then communities, each in text
    order); a street, town or community of a known district brings in that
    district.
    """

    LEVELS = ("district", "street", "community")

    def __init__(self, entries: list[tuple[str, str, Optional[str]]], city: str = ""):
        # (name, level, parent district); longest names first so that
        # "和平里小区" wins over a shorter name inside it
        self.city = city
        self.entries = sorted({(normalize(n), lvl, p) for n, lvl, p in entries},
                              key=lambda e: (-len(e[0]), e[0]))
        self._display = {normalize(n): n for n, _, _ in entries}

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "Gazetteer":
        path = Path(path or default_places_path())
        if not path.exists():
            return cls([])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PlacesError(f"{path}: cannot read places ({exc})") from exc
        if not isinstance(data, dict):
            raise PlacesError(f"{path}: expected a mapping")
        entries: list[tuple[str, str, Optional[str]]] = []

        def names(value, where):
            if value is None:
                return []
            if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
                raise PlacesError(f"{path}: {where} must be a list of names")
            return [x.strip() for x in value]

        districts = data.get("districts") or {}
        if not isinstance(districts, dict):
            raise PlacesError(f"{path}: 'districts' must map a district to its places")
        for district, sub in districts.items():
            entries.append((str(district), "district", None))
            sub = sub or {}
            if not isinstance(sub, dict):
                raise PlacesError(f"{path}: districts.{district} must be a mapping")
            for key in ("streets", "towns"):
                entries += [(n, "street", str(district)) for n in names(sub.get(key), f"{district}.{key}")]
            entries += [(n, "community", str(district))
                        for n in names(sub.get("communities"), f"{district}.communities")]
        entries += [(n, "community", None) for n in names(data.get("communities"), "communities")]
        return cls(entries, city=str(data.get("city") or ""))

    def find_batch(self, texts: list[str]) -> list[list[str]]:
        """`find` of each text; only the texts where some name occurs are looked at one by one.

        Each name is searched once in the whole (normalised) batch.
        """
        out: list[list[str]] = [[] for _ in texts]
        if not self.entries or not texts:
            return out
        norms = normalize_batch(texts)  # what `find` searches
        names = dict.fromkeys(name for name, _, _ in self.entries)
        for d in texts_containing(names, norms, "\x00".join(norms)):
            out[d] = self.find(texts[d])
        return out

    def find(self, text: str) -> list[str]:
        norm = normalize(text)
        if not norm or not self.entries:
            return []
        found: dict[str, tuple[int, int]] = {}  # name -> (level rank, position)
        taken: list[tuple[int, int]] = []
        for name, level, parent in self.entries:
            start = norm.find(name)
            while start >= 0:
                end = start + len(name)
                if not any(s < end and start < e for s, e in taken):
                    taken.append((start, end))
                    found.setdefault(name, (self.LEVELS.index(level), start))
                    if parent:
                        pnorm = normalize(parent)
                        if pnorm not in found:
                            found[pnorm] = (0, start)
                start = norm.find(name, end)
        ordered = sorted(found, key=lambda n: found[n])
        return [self._display.get(n, n) for n in ordered]
