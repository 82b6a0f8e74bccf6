"""Execution windows: when a QPU runs tasks (``properties.service.executionWindows``).

A window is ``{"executionDay": "Everyday" | "Weekdays" | "Weekend" | "<Weekday>",
"windowStartHour": "HH:MM:SS", "windowEndHour": "HH:MM:SS"}`` in UTC, as in the
Braket device documents. The rule is ``AwsDevice.is_available``'s: a window whose
end is before its start runs over midnight and belongs to the day it starts.

Example:
    >>> from datetime import datetime, timezone
    >>> weekdays = [{"executionDay": "Weekdays", "windowStartHour": "03:15:00",
    ...              "windowEndHour": "15:29:59"}]
    >>> execution_window_status(weekdays, datetime(2026, 5, 9, 12, tzinfo=timezone.utc))
    (False, datetime.datetime(2026, 5, 11, 3, 15, tzinfo=datetime.timezone.utc))
"""

from __future__ import annotations

from datetime import date, datetime, time as dtime, timedelta, timezone

__all__ = ["execution_window_status"]

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: executionDay -> does it include weekday w (0 = Monday)?
_DAY_RULES = {
    "everyday": lambda w: True,
    "weekdays": lambda w: w < 5,
    "weekend": lambda w: w > 4,
    "weekends": lambda w: w > 4,
    **{day: (lambda w, i=i: w == i) for i, day in enumerate(_DAYS)},
}


def _day_matches(execution_day: str, weekday: int) -> bool:
    rule = _DAY_RULES.get(str(execution_day).lower())
    return rule is not None and rule(weekday)


def _time(value: str) -> dtime:
    return dtime.fromisoformat(str(value))


def execution_window_status(windows: list[dict], now: datetime) -> tuple[bool, datetime | None]:
    """Whether ``now`` (UTC) is inside one of the device's execution windows, and
    when the next window opens (``None`` if inside or no window is declared).

    No declared window counts as inside.
    """
    if not windows:
        return True, None
    now = now.astimezone(timezone.utc)
    current = now.time().replace(microsecond=0, tzinfo=None)
    for w in windows:
        start, end = _time(w["windowStartHour"]), _time(w["windowEndHour"])
        weekday = now.weekday()
        if current < end < start:
            weekday = (weekday - 1) % 7
        in_time = (start <= current <= end) if start < end else (current >= start or current <= end)
        if in_time and _day_matches(w["executionDay"], weekday):
            return True, None
    starts = []
    for offset in range(0, 8):
        day: date = now.date() + timedelta(days=offset)
        for w in windows:
            if _day_matches(w["executionDay"], day.weekday()):
                begin = datetime.combine(day, _time(w["windowStartHour"]), tzinfo=timezone.utc)
                if begin > now:
                    starts.append(begin)
    return False, min(starts) if starts else None
