"""Dates as people write them -> W3CDTF (https://www.w3.org/TR/NOTE-datetime), keeping precision.

    "15 June 2018"               -> "2018-06-15"
    "June 2018"                  -> "2018-06"
    "2018"                       -> "2018"
    "2018-06-15T09:30:00+01:00"  -> "2018-06-15T08:30:00Z"

python-dateutil does the parsing; which fields the text really gave is found by parsing it
twice against two different defaults (a field that changes with the default was not in the
text). Numeric dates whose day and month could be swapped (03/04/2018), two-digit years,
dates without a year and times without a time zone are refused rather than guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil import parser as dateutil_parser


class DateParseError(ValueError):
    """The text is not a date we can write as W3CDTF without guessing."""


_YEAR = re.compile(r"^(\d{4})$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})$")

# Two defaults that differ in every field: whatever differs between the two parses
# came from the default, not from the text.
_DEFAULT_A = datetime(2000, 1, 1, 0, 0, 0, 0)
_DEFAULT_B = datetime(2001, 2, 2, 1, 1, 1, 1)


def parse_w3cdtf(text: str) -> str:
    """Return ``text`` as a W3CDTF date at the precision it was given; raise DateParseError."""
    value = text.strip()
    if not value:
        raise DateParseError("empty date")
    if _YEAR.match(value):
        return value
    match = _YEAR_MONTH.match(value)
    if match:
        month = int(match.group(2))
        if not 1 <= month <= 12:
            raise DateParseError(f"{text!r} has no month {month}")
        return value
    _refuse_ambiguous_numeric(value, text)
    first = _parse(value, _DEFAULT_A, text)
    second = _parse(value, _DEFAULT_B, text)
    if first.year != second.year:
        raise DateParseError(f"{text!r} has no year")
    if first.month != second.month:
        if first.day != second.day:
            return f"{first.year:04d}"
        raise DateParseError(f"{text!r} gives a day but no month")
    if first.day != second.day:
        return f"{first.year:04d}-{first.month:02d}"
    if first.hour != second.hour:
        return f"{first.year:04d}-{first.month:02d}-{first.day:02d}"
    if first.tzinfo is None:
        raise DateParseError(f"{text!r} has a time but no time zone (add Z or an offset)")
    utc = first.astimezone(UTC)
    stamp = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}"
    if first.second == second.second:
        stamp += f":{utc.second:02d}"
        if first.microsecond == second.microsecond and utc.microsecond:
            stamp += f".{utc.microsecond:06d}".rstrip("0")
    return stamp + "Z"


def _refuse_ambiguous_numeric(value: str, text: str) -> None:
    match = _NUMERIC.match(value)
    if not match:
        return
    a, b, c = (group for group in match.groups())
    if len(a) == 4:  # year first: read as ISO order, year-month-day
        return
    if len(c) != 4:
        raise DateParseError(f"{text!r} has a two-digit year; write all four digits")
    day_or_month = int(a), int(b)
    if day_or_month[0] <= 12 and day_or_month[1] <= 12 and day_or_month[0] != day_or_month[1]:
        raise DateParseError(
            f"{text!r} is ambiguous: day and month could be either way round; "
            "write it as YYYY-MM-DD or spell out the month"
        )


def _parse(value: str, default: datetime, text: str) -> datetime:
    try:
        return dateutil_parser.parse(value, default=default, dayfirst=_day_first(value))
    except (ValueError, OverflowError) as exc:
        raise DateParseError(f"{text!r} is not a date") from exc


def _day_first(value: str) -> bool:
    """Unambiguous numeric dates: a first number above 12 can only be the day."""
    match = _NUMERIC.match(value)
    if match is None:
        return False
    return len(match.group(1)) <= 2 and int(match.group(1)) > 12
