"""De-identification of what the console shows of posts.

The raw store keeps the original text; everything a user sees of a post goes
through `deidentify` (text) and `mask_name` (author). The rules:

- mainland mobile numbers keep their first 3 and last 4 digits: 138****5678
  (also written with spaces or hyphens, and in full-width digits);
- resident ID-card numbers (18 digits, the last may be X, or the old 15)
  keep their first 3 and last 4 characters;
- e-mail addresses keep the first character of the local part: z***@example.com;
- a name keeps its first character: 张三丰 -> 张**; generic prefixes such as
  "网友" are kept and what follows is masked: 网友8a7c -> 网友****.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

# \d matches full-width digits too; lookarounds keep us off longer digit runs
_ID_CARD = re.compile(r"(?<!\d)(\d{17}[\dXxＸｘ]|\d{15})(?![\dXxＸｘ])")
_MOBILE = re.compile(r"(?<!\d)(\d{3})([-\s\u3000]?)(\d{4})([-\s\u3000]?)(\d{4})(?!\d)")
_MOBILE_PREFIX = re.compile(r"1[3-9]\d")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")

#: author prefixes that are not part of a person's name
_GENERIC_PREFIXES = ("网友", "游客", "市民", "用户", "匿名", "访客")
_GENERIC_NAMES = {"网友", "游客", "市民", "用户", "匿名", "匿名用户", "匿名网友", "访客", "佚名"}


def _mask_id(m: re.Match) -> str:
    s = m.group(1)
    return s[:3] + "*" * (len(s) - 7) + s[-4:]


def _mask_mobile(m: re.Match) -> str:
    head = m.group(1)
    if not _MOBILE_PREFIX.fullmatch(unicodedata.normalize("NFKC", head)):
        return m.group(0)
    return f"{head}{m.group(2)}****{m.group(4)}{m.group(5)}"


def _mask_email(m: re.Match) -> str:
    return f"{m.group(1)}***@{m.group(2)}"


def deidentify(text: Optional[str]) -> str:
    """`text` with mobile numbers, ID-card numbers and e-mail addresses masked."""
    if not text:
        return ""
    text = _ID_CARD.sub(_mask_id, text)
    text = _MOBILE.sub(_mask_mobile, text)
    return _EMAIL.sub(_mask_email, text)


def mask_name(name: Optional[str]) -> str:
    """A person's name or handle with all but its first character masked."""
    name = (name or "").strip()
    if not name or name in _GENERIC_NAMES:
        return name
    for prefix in _GENERIC_PREFIXES:
        if name.startswith(prefix):
            return prefix + "*" * min(len(name) - len(prefix), 4)
    if "@" in name:
        return deidentify(name)
    return name[0] + "*" * max(1, min(len(name) - 1, 4))
