"""Keyword watchlist: words that matter whenever they appear, each list with its severity."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from yuqing.records import ClassifiedPost, Severity

from .base import Candidate, Rule, RuleOptions, board_kind, first_region, register


class WatchList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    severity: Severity
    words: list[str] = Field(min_length=1)


class KeywordOptions(RuleOptions):
    lists: list[WatchList] = Field(min_length=1)


@register("keyword")
class Keyword(Rule):
    """One alert per (list, event): the words of a list found in a story.

    Posts the engine has not put in an event (`cluster_id` unset) are keyed
    by (list, word) instead.
    """

    Options = KeywordOptions
    options: KeywordOptions

    def add_data(self, posts: list[ClassifiedPost], now: datetime) -> list[Candidate]:
        found: dict[tuple[str, str], Candidate] = {}
        for post in posts:
            text = post.full_text
            for wl in self.options.lists:
                for word in wl.words:
                    if word not in text:
                        continue
                    key = (wl.name, post.cluster_id or word)
                    cand = found.get(key)
                    if cand is None:
                        topic = post.topic_codes[0] if post.topic_codes else None
                        found[key] = Candidate(
                            rule=self.name, key=f"{self.name}:{wl.name}:{key[1]}",
                            severity=wl.severity, topic=topic, region=first_region(post),
                            title=f"{wl.name}：{post.title or text[:30]}",
                            summary=f"监测词「{word}」（{wl.name}）出现在信息中",
                            evidence=[post.id], window={"list": wl.name, "word": word},
                            kind=board_kind(post), event_id=post.cluster_id,
                        )
                    elif post.id not in cand.evidence:
                        cand.evidence.append(post.id)
        return [self.fire(c, now) for c in found.values()]
