"""Sensitive words: the classifier's `sensitive_hits`, graded by the level of each word.

`config/sensitive_words.yaml` lists words under high / medium / low; the rule
maps each level to a severity (`levels`) and alerts once per (level, event)
with the severity of the most serious word found.

A word read in a post the classifier does not find negative counts
`calm_levels_down` levels lower (default one): a fire drill notice, a rescue
being praised or a novel about a fire still shows on the board, but it does
not page the leaders as a 重大 alert would. Set it to 0 to grade every hit by
its word alone.

The classifier reports each hit in its normalised form (NFKC, simplified
characters, lower case), so the rule keys its levels the same way: "PX项目"
in the file grades the hit "px项目".
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from alerts.errors import ConfigError
from classifier.sensitive import SensitiveWordsError, load_sensitive_levels
from classifier.tokenizer import normalize
from yuqing.records import ClassifiedPost, SentimentLabel, Severity

from .base import Candidate, Rule, RuleOptions, board_kind, first_region, register

Level = Literal["high", "medium", "low"]
LEVEL_LABEL = {"high": "高", "medium": "中", "low": "低"}
LEVEL_ORDER = ("low", "medium", "high")


def _lower(level: str, steps: int) -> str | None:
    """`level` lowered by `steps` (None below low)."""
    i = LEVEL_ORDER.index(level) - steps
    return LEVEL_ORDER[i] if i >= 0 else None


class SensitiveOptions(RuleOptions):
    #: the severity of an alert per word level; a level left out is not alerted
    levels: dict[Level, Severity] = Field(
        default_factory=lambda: {"high": Severity.II, "medium": Severity.III, "low": Severity.IV})
    #: the word file (relative to the rule file's folder), or the words inline
    words_file: str = "sensitive_words.yaml"
    words: dict[Level, list[str]] = {}
    #: levels a hit drops when the post's sentiment is not negative (a level
    #: dropped below low is not alerted)
    calm_levels_down: int = Field(default=1, ge=0, le=3)


@register("sensitive")
class Sensitive(Rule):
    Options = SensitiveOptions
    options: SensitiveOptions

    def __init__(self, options: SensitiveOptions):
        super().__init__(options)
        self.level_of: dict[str, str] = {}
        self._set_words(options.words)

    def _set_words(self, words: dict) -> None:
        for level in LEVEL_ORDER:  # the most severe level wins
            for w in words.get(level) or []:
                self.level_of[normalize(str(w).strip())] = level

    def bind(self, config_dir: Path) -> None:
        if self.options.words:
            return
        try:  # the classifier's reading of the file: the same words, normalised alike
            levels = load_sensitive_levels(Path(config_dir) / self.options.words_file)
        except SensitiveWordsError as exc:
            raise ConfigError(str(exc)) from exc
        self.level_of.update((w, lv) for w, lv in levels.items() if lv in LEVEL_ORDER)

    def _higher_alert(self, level: str, event_id: str, found: dict) -> bool:
        """Whether the story has an alert of a level above `level` (this batch or still active)."""
        above = LEVEL_ORDER[LEVEL_ORDER.index(level) + 1:]
        return any((lv, event_id) in found or f"{self.name}:{lv}:{event_id}" in self.active
                   for lv in above)

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        found: dict[tuple[str, str], Candidate] = {}
        levels = self.options.levels
        # negative posts first, so that a story's calm posts find its alert (stable sort)
        for post in sorted(posts, key=lambda p: p.sentiment.label != SentimentLabel.negative):
            down = (self.options.calm_levels_down
                    if post.sentiment.label != SentimentLabel.negative else 0)
            hits = [(w, _lower(self.level_of.get(normalize(w), "low"), down)) for w in post.sensitive_hits]
            hits = [(w, lv) for w, lv in hits if lv in levels]
            if not hits:
                continue
            word, level = max(hits, key=lambda h: levels[h[1]].rank)
            if down and post.cluster_id and self._higher_alert(level, post.cluster_id, found):
                continue  # a calm repost of a story already alerted higher adds no alert
            key = (level, post.cluster_id or word)
            cand = found.get(key)
            if cand is None:
                found[key] = Candidate(
                    rule=self.name, key=f"{self.name}:{level}:{key[1]}", severity=levels[level],
                    topic=post.topic_codes[0] if post.topic_codes else None,
                    region=first_region(post),
                    title=f"敏感信息：{post.title or post.text[:30]}",
                    summary=f"命中{LEVEL_LABEL[level]}级敏感词「{'、'.join(w for w, _ in hits)}」"
                            + ("（帖文非负面，降级）" if down else ""),
                    evidence=[post.id], window={"level": level, "words": [w for w, _ in hits]},
                    kind=board_kind(post), event_id=post.cluster_id)
            else:
                if post.id not in cand.evidence:
                    cand.evidence.append(post.id)
                cand.window["words"] = sorted({*cand.window["words"], *(w for w, _ in hits)})
        return [self.fire(c, now) for c in found.values()]
