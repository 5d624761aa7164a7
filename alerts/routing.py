"""Which department owns a case: a table in configuration (topic + place -> department)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: Optional[str] = None
    region: Optional[str] = None
    department: str
    co_departments: list[str] = []


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: str
    topics: dict[str, str] = {}
    rules: list[_Rule] = []


@dataclass(frozen=True)
class Route:
    department: str
    co_departments: list[str] = field(default_factory=list)


class RoutingTable:
    def __init__(self, table: _Table):
        self._t = table

    @classmethod
    def load(cls, path: Path) -> "RoutingTable":
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            return cls(_Table.model_validate(data))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc

    def route(self, topic: Optional[str], region: Optional[str] = None) -> Route:
        for rule in self._t.rules:
            if (rule.topic in (None, topic)) and (rule.region in (None, region)) and (
                    rule.topic or rule.region):
                return Route(rule.department, list(rule.co_departments))
        return Route(self._t.topics.get(topic or "", self._t.default))

    @property
    def departments(self) -> list[str]:
        names = {self._t.default, *self._t.topics.values()}
        for rule in self._t.rules:
            names.add(rule.department)
            names.update(rule.co_departments)
        return sorted(names)
