from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from alerts.deadlines import Clocks
from alerts.errors import ConfigError
from yuqing.records import Severity

CST = ZoneInfo("Asia/Shanghai")


def due(clocks, severity, kind, start):
    return {d.kind: d.due_at for d in clocks.deadlines(severity=severity, kind=kind, start=start)}


def test_board_reply_counts_working_days_over_weekend_and_holidays(clocks):
    # Wed 2026-09-30 10:00 local; Oct 1-2, 5-7 holidays, Oct 3-4 weekend, Oct 10 (Sat) worked
    start = datetime(2026, 9, 30, 10, 0, tzinfo=CST)
    got = due(clocks, Severity.IV, "board", start)
    assert got["forward"] == start + timedelta(hours=24)
    # working days after Sep 30: Oct 8 (1), Oct 9 (2), Oct 10 make-up Saturday (3), Oct 12 (4), Oct 13 (5)
    assert got["reply"].astimezone(CST).date().isoformat() == "2026-10-13"


def test_severe_clocks_override_board_and_default(clocks):
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert due(clocks, Severity.I, "board", start) == {
        "authoritative_info": start + timedelta(hours=5),
        "press_conference": start + timedelta(hours=24)}
    assert due(clocks, Severity.III, "opinion", start) == {"response": start + timedelta(hours=48)}


def test_bad_deadline_file_names_field(tmp_path):
    path = tmp_path / "deadlines.yaml"
    path.write_text("clocks: {severe: [{kind: a, label: b, hours: 1, working_days: 2}], "
                    "default: [], board: []}", encoding="utf-8")
    with pytest.raises(ConfigError, match="clocks.severe.0"):
        Clocks.load(path)
    path.write_text("clocks: {default: []}", encoding="utf-8")
    with pytest.raises(ConfigError, match="board"):
        Clocks.load(path)
