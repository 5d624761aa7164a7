"""Rule types by name, and the loader of rule files."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from alerts.errors import ConfigError

from . import (event_growth, keyword, negative_share, new_term, sensitive,  # noqa: F401
               source_silent, volume_spike)  # (importing registers the types)
from .base import RULE_TYPES, Candidate, Rule, RuleOptions


def load_rules(path: Path) -> list[Rule]:
    """Read and validate a rule file; any error names the file, the rule and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigError(f"{path}: expected a mapping with a list under 'rules'")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["rules"]):
        where = f"{path}: rules[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping")
        where += f" ({raw.get('name', '?')})"
        cls = RULE_TYPES.get(raw.get("type"))
        if cls is None:
            raise ConfigError(f"{where}: type: unknown rule type {raw.get('type')!r}; "
                              f"known: {sorted(RULE_TYPES)}")
        try:
            options = cls.Options.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "rule"
            raise ConfigError(f"{where}: {field}: {err['msg']}") from exc
        if options.name in seen:
            raise ConfigError(f"{where}: name: duplicate rule name {options.name!r}")
        seen.add(options.name)
        if options.enabled:
            rule = cls(options)
            rule.bind(path.parent)
            rules.append(rule)
    return rules


__all__ = ["RULE_TYPES", "Candidate", "Rule", "RuleOptions", "load_rules"]
