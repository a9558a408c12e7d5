"""Dates as archivists write them -> what ``dc:date`` records, never more precise than given.

What is recorded is EDTF, the Library of Congress Extended Date/Time Format (ISO 8601-2),
levels 0 and 1 (and what the ``edtf`` package reads of level 2), or W3CDTF for a time of
day EDTF cannot write (to the minute, fractions of a second):

    "1990", "2018-06", "2018-06-15"   -> kept (EDTF level 0, and W3CDTF)
    "1990~", "199X", "2020-21", "../1990", "2018-06-15/2018-06-20"
                                      -> kept (already EDTF: 2020-21 is spring 2020)
    "circa 1990", "c. 1990", "ca. 1990"  -> "1990~"      "[1990]"        -> "1990?"
    "1990s"                           -> "199X"          "Spring 2020"   -> "2020-21"
    "1990-1995", "1990 to 1995"       -> "1990/1995"     "15 June 2018"  -> "2018-06-15"
    "2018-06-15T09:30:00+01:00"       -> "2018-06-15T08:30:00Z" (a time with a zone, in UTC)

A value that is already EDTF is taken as EDTF. Other forms are converted by the explicit
rules below (not by edtf's own ``text_to_edtf``, which guesses: it reads "5 Jun 18" as 2018
and "1 2 2018" as 2 January), and every conversion is parsed again with ``edtf``: a
conversion that does not give valid EDTF is an error, never a value. Two-digit years,
numeric dates whose day and month could be swapped, dates without a year and times without
a time zone (other than EDTF's own local times) are refused; the message gives the EDTF to
type instead.

python-dateutil reads written-out dates ("15 June 2018"); which fields the text really gave
is found by parsing it twice against two different defaults (a field that changes with the
default was not in the text).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any


class DateParseError(ValueError):
    """The text is not a date archiver can record without guessing."""


@dataclass(frozen=True)
class DateReading:
    """A date as archiver records it, and how it reads it."""

    given: str  # the text as given, without surrounding whitespace
    value: str  # what dc:date holds: EDTF, or W3CDTF for a time EDTF cannot write
    reading: str  # in words: "spring 2020", "about 1990", "from 1990 to 1995"
    earliest: str | None  # the first day it can be (YYYY-MM-DD); None: open or unknown
    latest: str | None  # the last day it can be; None: open or unknown

    @property
    def converted(self) -> bool:
        """The value recorded is not the text given."""
        return self.value != self.given

    def note(self, field: str) -> str:
        """What ``archiver bag`` says about a converted date."""
        kind = "W3CDTF" if "T" in self.value and self.value.endswith("Z") else "EDTF"
        return f'{field}: "{self.given}" recorded as {kind} {self.value} ({self.reading})'


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# EDTF seasons: 21-24 are level 1; 25-41 (hemispheres, quarters, ...) are level 2.
_SEASONS = {"spring": 21, "summer": 22, "autumn": 23, "fall": 23, "winter": 24}
_SEASON_NAMES = {
    21: "spring",
    22: "summer",
    23: "autumn",
    24: "winter",
    25: "spring (northern hemisphere)",
    26: "summer (northern hemisphere)",
    27: "autumn (northern hemisphere)",
    28: "winter (northern hemisphere)",
    29: "spring (southern hemisphere)",
    30: "summer (southern hemisphere)",
    31: "autumn (southern hemisphere)",
    32: "winter (southern hemisphere)",
    33: "first quarter",
    34: "second quarter",
    35: "third quarter",
    36: "fourth quarter",
    37: "first quadrimester",
    38: "second quadrimester",
    39: "third quadrimester",
    40: "first semester",
    41: "second semester",
}
# Seasons that span the turn of the year (northern winter, southern summer).
_WINTERS = frozenset({24, 28, 30})
_QUALIFIERS = "~?%"  # approximate, uncertain, both

# W3CDTF (https://www.w3.org/TR/NOTE-datetime) with a time; its dates are EDTF's too.
_W3CDTF_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$"
)
# EDTF level 0 calendar dates, read without the edtf package (most dates are these).
_PLAIN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_CALENDAR = re.compile(r"^Y?(-?\d+)(?:-(\d{2})(?:-(\d{2}))?)?$")
_NUMERIC = re.compile(r"^(\d{1,4})(?:[/.\-]|\s+)(\d{1,2})(?:[/.\-]|\s+)(\d{1,4})$")
_YEAR_MONTH = re.compile(r"^\d{4}-(\d{2})$")
_COPYRIGHT = re.compile(r"^c\d{4}$")
_CIRCA = re.compile(r"^(?:circa|ca\.?|c\.|approx\.|approximately|about)\s*(.*)$", re.IGNORECASE)
_BRACKETED = re.compile(r"^\[(.*)\]$")
_DECADE = re.compile(r"^(\d{3})0\s*'?s$", re.IGNORECASE)
_SEASON = re.compile(r"^(spring|summer|autumn|fall|winter),?\s+(\d{4}|\d{2})$", re.IGNORECASE)
_YEAR_RANGE = re.compile(r"^(\d{4})\s*[-–—]\s*(\d{4})$")
_BETWEEN = re.compile(r"^between\s+(.+?)\s+and\s+(.+)$", re.IGNORECASE)
_RANGE = re.compile(r"^(.+?)\s+(?:[-–—]|to|until)\s+(.+)$", re.IGNORECASE)
_MONTH_TWO_DIGITS = re.compile(r"^[A-Za-z]+\.?,?\s+(\d{2})$")
_ONGOING = re.compile(r"^(?:present|now|ongoing|date)$", re.IGNORECASE)
_EN_DASH_RANGE = re.compile(r"^([^–—]+?)\s*[–—]\s*([^–—]+)$")

# Two defaults that differ in every field: whatever differs between the two parses
# came from the default, not from the text.
_DEFAULT_A = datetime(2000, 1, 1, 0, 0, 0, 0)
_DEFAULT_B = datetime(2001, 2, 2, 1, 1, 1, 1)


# The longest date text read ("between circa spring 1990 and summer 1995" is 44); and how
# much of a longer one a message quotes.
MAX_LENGTH = 200
_QUOTED = 40


def read_date(text: str) -> DateReading:
    """How ``text`` is recorded as a date, and how it reads; DateParseError when it cannot be
    recorded without guessing (the message quotes it and says what to type instead)."""
    given = _bounded(text)
    if not given:
        raise DateParseError("empty date")
    if _W3CDTF_TIME.match(given):
        return _checked(given, _written(given, text))  # a time with a zone, in UTC
    recorded = _recorded(given, text)
    if recorded is not None:
        return recorded
    value = _convert(given, text)
    return _checked(given, value)


def recorded_date(text: str) -> DateReading | None:
    """``text`` read as it stands, W3CDTF or EDTF (no conversion); None when it is neither.

    ``archiver validate`` warns about a ``dc:date`` that is not; the catalog takes the
    earliest and latest day from it."""
    try:
        return _recorded(_bounded(text), text)
    except DateParseError:
        return None


def _bounded(text: str) -> str:
    """``text`` stripped; DateParseError when it is too long to be a date (no parser is
    handed a megabyte, no message quotes one)."""
    given = text.strip()
    if len(given) > MAX_LENGTH:
        raise DateParseError(
            f"{given[:_QUOTED]!r}... ({len(given)} characters) is too long to be a date"
        )
    return given


def _recorded(value: str, text: str) -> DateReading | None:
    """``value`` as W3CDTF or EDTF, None when it is neither; DateParseError for an EDTF
    interval that ends before it begins (edtf reads it; it is no interval)."""
    if not value:
        return None
    plain = _plain(value)
    if plain is not None:
        return plain
    if _W3CDTF_TIME.match(value):
        return _w3cdtf_time(value)
    parsed = _parse_edtf(value)
    if parsed is None:
        return None

    earliest, latest = _bounds(parsed)
    if earliest is not None and latest is not None and _order(latest) < _order(earliest):
        raise DateParseError(f"{text!r} ends before it begins")
    try:
        reading = _describe(parsed)
    except (ValueError, IndexError, KeyError):  # a form the words below do not know
        reading = _span("EDTF", earliest, latest)
    return DateReading(value, value, reading, earliest, latest)


# -- what is recorded as it stands ----------------------------------------------------------


def _plain(value: str) -> DateReading | None:
    """YYYY, YYYY-MM, YYYY-MM-DD with a real month and day (year 1 on); else None."""
    match = _PLAIN.match(value)
    if match is None:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    if year == 0 or (month is not None and not 1 <= month <= 12):
        return None
    if month is None:
        return DateReading(value, value, value, f"{value}-01-01", f"{value}-12-31")
    last = _last_day(year, month)
    if day is None:
        return DateReading(
            value, value, f"{MONTHS[month - 1]} {year}", f"{value}-01", f"{value}-{last:02d}"
        )
    if not 1 <= day <= last:
        return None
    return DateReading(value, value, f"{day} {MONTHS[month - 1]} {year}", value, value)


def _last_day(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - date(year, month, 1)).days


def _w3cdtf_time(value: str) -> DateReading | None:
    """A W3CDTF time of day with its zone: the day it falls on, as written."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    day = value[:10]
    zone = "UTC" if value.endswith("Z") else f"UTC{value[-6:]}"
    clock = value[11 : len(value) - (1 if value.endswith("Z") else 6)]
    reading = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}, {clock} {zone}"
    return DateReading(value, value, reading, day, day)


def _parse_edtf(value: str) -> Any:
    """The edtf package's object for ``value``, or None when it is not EDTF."""
    from edtf import parse_edtf

    _quiet_edtf()
    try:
        return parse_edtf(value)
    except Exception:  # EDTFParseException, and TypeError or AttributeError on some partial
        return None  # matches ("../x"): not EDTF, all of them


@functools.cache
def _quiet_edtf() -> None:
    """edtf 5 prints to stdout when a partial match fails to build ("../x"): stdout is
    archiver's output (a bag's path, a JSON report), so that module's ``print`` prints
    nothing (a name in its namespace only; the process's print is untouched)."""
    from edtf.parser import parser_classes

    vars(parser_classes)["print"] = _silent


def _silent(*_args: object, **_kwargs: object) -> None:
    """Prints nothing."""


def _bounds(parsed: Any) -> tuple[str | None, str | None]:
    """The first and last day an EDTF value can be: strictly (``1990~`` is 1990, not
    1989-1991); an open (``..``) or unknown end has none."""
    from edtf import Interval, Season

    if isinstance(parsed, Interval):
        start, end = str(parsed).split("/", 1)
        first = _bounds(_parse_edtf(start))[0] if start not in ("", "..") else None
        last = _bounds(_parse_edtf(end))[1] if end not in ("", "..") else None
        return first, last
    if isinstance(parsed, Season) and int(str(parsed)[-2:]) in _WINTERS:
        # edtf ends a winter on 31 December; it runs on into the next year's February
        year = int(str(parsed)[:-3])
        return f"{year:04d}-12-01", f"{year + 1:04d}-02-{_last_day(year + 1, 2):02d}"
    try:
        first, last = _day(parsed.lower_strict()), _day(parsed.upper_strict())
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None, None
    # edtf swaps them for some years before year 0 (-1990-06-XX); only intervals are ordered
    return (last, first) if _order(last) < _order(first) else (first, last)


def _day(moment: Any) -> str:
    year, month, day = int(moment[0]), int(moment[1]), int(moment[2])
    sign = "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}"


def _order(day: str) -> tuple[int, int, int]:
    year, month, mday = day.rsplit("-", 2)
    return int(year), int(month), int(mday)


def _describe(parsed: Any) -> str:
    """An EDTF value in words."""
    from edtf import Interval, Season, UncertainOrApproximate, Unspecified

    value = str(parsed)
    kind = type(parsed)
    if isinstance(parsed, Interval) and kind.__name__ in ("Interval", "Level1Interval"):
        start, end = value.split("/", 1)
        if start in ("", "..") and end in ("", ".."):
            return "a date open or unknown at both ends"
        if start == "..":
            return f"up to {_side(end)} (open start)"
        if end == "..":
            return f"from {_side(start)} on (open end)"
        if start == "":
            return f"from an unknown date to {_side(end)}"
        if end == "":
            return f"from {_side(start)} to an unknown date"
        return f"from {_side(start)} to {_side(end)}"
    if kind is UncertainOrApproximate:
        return _qualify(_describe(_parse_edtf(value[:-1])), value[-1])
    if kind is Unspecified:
        return _unspecified(value)
    if kind is Season or kind.__name__ == "Level2Season":
        year, season = value.rsplit("-", 1)
        return f"{_SEASON_NAMES[int(season)]} {int(year)}"
    plain = _plain(value)
    if plain is not None:
        return plain.reading
    if kind.__name__ == "DateAndTime":
        day, clock = value.split("T", 1)
        zone = "local time"
        for mark in ("Z", "+", "-"):
            if mark in clock:
                at = clock.index(mark)
                zone = "UTC" if mark == "Z" else f"UTC{clock[at:]}"
                clock = clock[:at]
                break
        return f"{_describe(_parse_edtf(day))}, {clock} {zone}"
    calendar = _CALENDAR.match(value) if kind.__name__ in ("Date", "LongYear") else None
    if calendar:  # a year before 1 or after 9999
        year, month, day = calendar.groups()
        if month is None:
            return f"year {int(year)}"
        words = f"{MONTHS[int(month) - 1]} {int(year)}"
        return f"{int(day)} {words}" if day else words
    return _span("EDTF level 2", *_bounds(parsed))


def _span(words: str, earliest: str | None, latest: str | None) -> str:
    return f"{words} from {earliest} to {latest}" if earliest and latest else words


def _side(value: str) -> str:
    parsed = _parse_edtf(value)
    return value if parsed is None else _describe(parsed)


def _unspecified(value: str) -> str:
    """``199X`` -> "a year from 1990 to 1999", ``1990-XX`` -> "a month of 1990"."""
    qualifier = value[-1] if value[-1] in _QUALIFIERS else ""
    core = value.rstrip("~?%")
    year, _, rest = core.partition("-")
    month, _, day = rest.partition("-")
    if "X" in year:
        first, last = year.replace("X", "0"), year.replace("X", "9")
        words = f"a year from {int(first)} to {int(last)}" if year != "XXXX" else "an unknown year"
        if month:
            words = f"{'a day' if day else 'a month'} of {words}"
    elif month == "XX":
        words = f"a {'day' if day else 'month'} of {int(year)}"
    else:
        words = f"a day of {MONTHS[int(month) - 1]} {int(year)}"
    return _qualify(words, qualifier) if qualifier else words


def _qualify(words: str, qualifier: str) -> str:
    """ "about 1990" (~), "1990, uncertain" (?), "about 1990, uncertain" (%)."""
    about = "about " if qualifier in "~%" else ""
    uncertain = ", uncertain" if qualifier in "?%" else ""
    return f"{about}{words}{uncertain}"


# -- what is converted ----------------------------------------------------------------------


def _checked(given: str, value: str) -> DateReading:
    """The conversion of ``given`` parsed again: it must be W3CDTF or EDTF as it stands."""
    reading = _recorded(value, given)
    if reading is None:
        raise DateParseError(f"{given!r} was converted to {value!r}, which is not valid EDTF")
    return DateReading(given, value, reading.reading, reading.earliest, reading.latest)


def _convert(value: str, text: str) -> str:
    """A human form as EDTF (not yet checked), or a written-out date as W3CDTF."""
    match = _CIRCA.match(value)
    if match:
        return _qualified(match.group(1), "~", text)
    match = _BRACKETED.match(value)
    if match:  # cataloguers' brackets: a date supplied, not found on the item
        return _qualified(match.group(1), "?", text)
    match = _DECADE.match(value)
    if match:
        stem = match.group(1)
        if stem.endswith("0"):
            raise DateParseError(
                f"{text!r} could be a decade or a century; type {stem}X for {stem}0-{stem}9 "
                f"or {stem[:2]}XX for {stem[:2]}00-{stem[:2]}99"
            )
        return f"{stem}X"
    match = _SEASON.match(value)
    if match:
        year = match.group(2)
        code = _SEASONS[match.group(1).lower()]
        if len(year) == 2:
            raise DateParseError(
                f"{text!r} has a two-digit year; type the year in full, e.g. "
                f"{_century_guesses(int(year), f'-{code}')}"
            )
        return f"{year}-{code}"
    match = _YEAR_RANGE.match(value) or _BETWEEN.match(value) or _RANGE.match(value)
    match = match or _EN_DASH_RANGE.match(value)
    if match:
        start, end = match.groups()
        if _ONGOING.match(end.strip()):  # "1990 to present": an open end
            return f"{_single(start.strip(), text)}/.."
        return f"{_single(start.strip(), text)}/{_single(end.strip(), text)}"
    return _written(value, text)


def _single(part: str, text: str) -> str:
    """One date of a range or a qualified date: as recorded, or converted."""
    recorded = recorded_date(part)
    if recorded is not None:
        return recorded.value
    value = _convert(part, text)
    if "/" in value:
        raise DateParseError(f"{text!r} has a range inside a range")
    return value


def _qualified(inner: str, mark: str, text: str) -> str:
    """``inner`` converted, marked approximate (~) or uncertain (?); both make %."""
    if not inner.strip():
        raise DateParseError(f"{text!r} gives no date")
    recorded = recorded_date(inner.strip())
    value = recorded.value if recorded is not None else _convert(inner.strip(), text)
    if "/" in value:
        return "/".join(
            _mark(side, mark) if side not in ("", "..") else side for side in value.split("/")
        )
    return _mark(value, mark)


def _mark(value: str, mark: str) -> str:
    if value[-1] in _QUALIFIERS:
        return value if value[-1] in (mark, "%") else value[:-1] + "%"
    return value + mark


def _century_guesses(two_digits: int, rest: str) -> str:
    return f"{1900 + two_digits}{rest} or {2000 + two_digits}{rest}"


# -- written-out dates (python-dateutil) ----------------------------------------------------


def _written(value: str, text: str) -> str:
    """A written-out date or a W3CDTF time as W3CDTF, at the precision it was given."""
    _refuse_ambiguous_numeric(value, text)
    bad_month = _YEAR_MONTH.match(value)
    if bad_month:  # not a month, nor an EDTF season (or it would have been read as one)
        raise DateParseError(f"{text!r} has no month {int(bad_month.group(1))}")
    if _COPYRIGHT.match(value):
        raise DateParseError(
            f"{text!r} is a copyright date as catalogues write it; type {value[1:]} for the "
            f"year, {value[1:]}~ for circa {value[1:]}"
        )
    if "/" in value and not _NUMERIC.match(value):  # dateutil would read "/2018" as a zone
        raise DateParseError(
            f"{text!r} is not a date (an interval is written START/END, each in full: "
            "2018-06-15/2018-06-20)"
        )
    first = _parse(value, _DEFAULT_A, text)
    second = _parse(value, _DEFAULT_B, text)
    if first.year != second.year:
        month_then_two = _MONTH_TWO_DIGITS.match(value)
        if month_then_two and first.month == second.month:  # "June 18": a day, or a year?
            two = month_then_two.group(1)
            raise DateParseError(
                f"{text!r} has no year; if {two} is the year, type "
                f"{_century_guesses(int(two), f'-{first.month:02d}')}"
            )
        raise DateParseError(f"{text!r} has no year")
    if not re.search(r"\d{3}", value):
        month = first.month == second.month
        day = first.day == second.day
        rest = f"-{first.month:02d}" if month else ""
        rest += f"-{first.day:02d}" if month and day else ""
        raise DateParseError(
            f"{text!r} has a two-digit year; type the year in full: "
            f"{_century_guesses(first.year % 100, rest)}"
        )
    if first.month != second.month:
        if first.day != second.day:
            return f"{first.year:04d}"
        raise DateParseError(f"{text!r} gives a day but no month")
    if first.day != second.day:
        return f"{first.year:04d}-{first.month:02d}"
    if first.hour != second.hour:
        return f"{first.year:04d}-{first.month:02d}-{first.day:02d}"
    if first.tzinfo is None:
        local = f"{first.year:04d}-{first.month:02d}-{first.day:02d}T{first.hour:02d}:"
        local += f"{first.minute:02d}:{first.second:02d}"
        raise DateParseError(
            f"{text!r} has a time but no time zone: add Z or an offset, or type {local} "
            "(EDTF, local time)"
        )
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
    a, b, c = match.groups()
    if len(a) == 4:  # year first: read as ISO order, year-month-day
        return
    first, second = int(a), int(b)
    orders = [(first, second), (second, first)] if first != second else [(first, second)]
    # (day, month) readings that are dates at all
    readings = [(d, m) for d, m in orders if 1 <= m <= 12 and 1 <= d <= 31]
    years = [int(c)] if len(c) == 4 else [1900 + int(c) % 100, 2000 + int(c) % 100]
    candidates = [
        f"{year:04d}-{m:02d}-{d:02d} ({d} {MONTHS[m - 1]} {year})"
        for year in years
        for d, m in readings
        if _exists(year, m, d)
    ]
    if not candidates:
        raise DateParseError(f"{text!r} is not a date")
    if len(c) != 4:
        raise DateParseError(
            f"{text!r} has a two-digit year; type the date in full: {' or '.join(candidates)}"
        )
    if len(readings) > 1:
        raise DateParseError(
            f"{text!r} is ambiguous: day and month could be either way round; type "
            f"{' or '.join(candidates)}"
        )


def _exists(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _parse(value: str, default: datetime, text: str) -> datetime:
    from dateutil import parser as dateutil_parser  # here: 9 ms to import, seldom needed

    try:
        return dateutil_parser.parse(
            value, default=default, dayfirst=_day_first(value), tzinfos=_zone
        )
    except (ValueError, OverflowError) as exc:
        raise DateParseError(f"{text!r} is not a date") from exc


_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "z"})


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """The zone a text names, for dateutil: an offset, or UTC. Any other name (the "Y" of
    "0:0Y") is no zone dateutil knows: it only warns and drops it, so it is refused here
    (ValueError, which ``_parse`` turns into DateParseError). Only the calendar date is
    kept, so the zone's own value does not matter."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    if name is None:  # dateutil asks about every text, with or without a zone
        return None
    if name in _UTC_NAMES:
        return UTC
    raise ValueError(f"unknown time zone {name!r}")


def _day_first(value: str) -> bool:
    """Unambiguous numeric dates: a first number above 12 can only be the day."""
    match = _NUMERIC.match(value)
    if match is None:
        return False
    return len(match.group(1)) <= 2 and int(match.group(1)) > 12
