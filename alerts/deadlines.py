"""Deadline clocks and the working-day calendar, both from configuration."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from yuqing.records import Deadline, Severity

from .errors import ConfigError


class ClockSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    label: str
    hours: Optional[float] = None
    working_days: Optional[int] = None

    @model_validator(mode="after")
    def _one_unit(self):
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("a clock needs exactly one of hours or working_days")
        return self


class CalendarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holidays: list[date] = []
    workdays: list[date] = []


class BoardSpec(BaseModel):
    """网民留言: which items are complaints (投诉) rather than inquiries (咨询), and extensions."""

    model_config = ConfigDict(extra="forbid")
    complaint_words: list[str] = []
    #: the clocks an approved extension may move
    extendable: list[str] = ["reply"]
    #: the longest a clock may run with its extensions, in working days
    max_total_working_days: int = 15


class DeadlineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clocks: dict[str, list[ClockSpec]]
    calendar: CalendarSpec = CalendarSpec()
    board: BoardSpec = BoardSpec()

    @model_validator(mode="after")
    def _required_sets(self):
        missing = {"severe", "default", "board"} - set(self.clocks)
        if missing:
            raise ValueError(f"clocks lacks {sorted(missing)}")
        return self


class WorkingCalendar:
    def __init__(self, spec: CalendarSpec, tz: ZoneInfo):
        self.holidays, self.workdays, self.tz = set(spec.holidays), set(spec.workdays), tz

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of the `days`-th working day after `start` (local time)."""
        local = start.astimezone(self.tz)
        day, counted = local.date(), 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, datetime.max.time().replace(microsecond=0), self.tz)


class Clocks:
    def __init__(self, config: DeadlineConfig, tz: str = "Asia/Shanghai"):
        self.config = config
        self.calendar = WorkingCalendar(config.calendar, ZoneInfo(tz))

    @classmethod
    def load(cls, path: Path, tz: str = "Asia/Shanghai") -> "Clocks":
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            return cls(DeadlineConfig.model_validate(data), tz)
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc

    def clock_set(self, *, severity: Severity, kind: str) -> str:
        """severe (I/II), board_complaint / board (网民留言 complaint / inquiry), default."""
        if severity in (Severity.I, Severity.II):
            return "severe"
        if kind == "board_complaint" and "board_complaint" in self.config.clocks:
            return "board_complaint"
        return "board" if kind.startswith("board") else "default"

    def board_kind(self, text: str) -> str:
        """A 网民留言 is a complaint when it uses a complaint word, else an inquiry."""
        words = self.config.board.complaint_words
        return "board_complaint" if any(w in text for w in words) else "board_inquiry"

    def deadlines(self, *, severity: Severity, kind: str, start: datetime) -> list[Deadline]:
        out = []
        for spec in self.config.clocks[self.clock_set(severity=severity, kind=kind)]:
            if spec.hours is not None:
                due = start + timedelta(hours=spec.hours)
            else:
                due = self.calendar.add_working_days(start, spec.working_days)
            out.append(Deadline(kind=spec.kind, label=spec.label, due_at=due, start_at=start))
        return out

    def spec(self, *, severity: Severity, kind: str, clock: str) -> Optional[ClockSpec]:
        for spec in self.config.clocks[self.clock_set(severity=severity, kind=kind)]:
            if spec.kind == clock:
                return spec
        return None
