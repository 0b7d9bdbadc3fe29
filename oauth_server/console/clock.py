"""Times a member types, in their own time zone.

The server cannot know the viewer's zone; the console's script puts it into each form as
``tz_offset`` (minutes, as JavaScript's ``getTimezoneOffset`` counts them: UTC minus local).
Without the script, typed times are read as UTC, and the forms say so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import request

MAX_OFFSET_MINUTES = 14 * 60


def viewer_offset() -> timedelta:
    raw = (request.values.get("tz_offset") or "0").strip()
    digits = raw.removeprefix("-")
    if not digits.isdigit() or int(digits) > MAX_OFFSET_MINUTES:
        return timedelta(0)
    return timedelta(minutes=int(raw))


def local_ms(moment: datetime) -> int:
    """A naive date-time in the viewer's zone, as milliseconds since the epoch."""
    return int((moment.replace(tzinfo=UTC) + viewer_offset()).timestamp() * 1000)


def end_of_day_ms(day: date) -> int:
    """The last millisecond of ``day`` in the viewer's zone: a key whose last day it is
    works all that day, and lists show it expiring at 23:59 of it, not at 0:00 of the next."""
    return local_ms(datetime.combine(day + timedelta(days=1), time())) - 1


def viewer_today() -> date:
    return (datetime.now(UTC) - viewer_offset()).date()
