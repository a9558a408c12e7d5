"""Dates as people write them are recorded as EDTF (or W3CDTF for a time) at the precision
they were given, or are refused with what to type instead."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.dates import DateParseError, DateReading, read_date, recorded_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("15 June 2018", "2018-06-15", id="day-month-year"),
        pytest.param("June 15, 2018", "2018-06-15", id="month-day-comma-year"),
        pytest.param("15 june 2018", "2018-06-15", id="lowercase-month"),
    ],
)
def test_a_spelled_out_day_month_year_becomes_a_full_date(text: str, expected: str) -> None:
    assert read_date(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("June 2018", "2018-06", id="month-name-year"),
        pytest.param("Jun 2018", "2018-06", id="abbreviated-month-year"),
        pytest.param("2018-06", "2018-06", id="iso-year-month"),
        pytest.param("2018-12", "2018-12", id="iso-december"),
    ],
)
def test_a_month_and_year_keep_month_precision(text: str, expected: str) -> None:
    assert read_date(text).value == expected


def test_a_year_alone_stays_a_year() -> None:
    assert read_date("2018").value == "2018"


def test_surrounding_whitespace_is_ignored() -> None:
    assert read_date("  15 June 2018\n").value == "2018-06-15"


def test_an_iso_date_is_kept_as_it_is() -> None:
    assert read_date("2018-06-15").value == "2018-06-15"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("13/04/2018", "2018-04-13", id="day-above-12-first"),
        pytest.param("04/13/2018", "2018-04-13", id="day-above-12-second"),
        pytest.param("03/03/2018", "2018-03-03", id="day-equals-month"),
        pytest.param("31.12.2018", "2018-12-31", id="dotted-day-first"),
    ],
)
def test_an_unambiguous_numeric_date_is_read_the_only_way_it_can_be(
    text: str, expected: str
) -> None:
    assert read_date(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018/03/04", "2018-03-04", id="slashes"),
        pytest.param("2018.03.04", "2018-03-04", id="dots"),
    ],
)
def test_a_year_first_numeric_date_is_read_year_month_day(text: str, expected: str) -> None:
    assert read_date(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018-06-15T09:30:00+01:00", "2018-06-15T08:30:00Z", id="plus-one-hour"),
        pytest.param("2018-06-15T09:30:00Z", "2018-06-15T09:30:00Z", id="already-utc"),
        pytest.param("2018-06-15T23:30:00-02:00", "2018-06-16T01:30:00Z", id="crosses-midnight"),
        pytest.param("2018-06-15T00:00:00Z", "2018-06-15T00:00:00Z", id="midnight"),
    ],
)
def test_a_time_with_a_zone_is_written_in_utc(text: str, expected: str) -> None:
    assert read_date(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018-06-15T09:30:00.25Z", "2018-06-15T09:30:00.25Z", id="hundredths"),
        pytest.param("2018-06-15T09:30:00.123456+01:00", "2018-06-15T08:30:00.123456Z", id="micro"),
    ],
)
def test_fractional_seconds_are_kept(text: str, expected: str) -> None:
    assert read_date(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018-06-15T09:30Z", "2018-06-15T09:30Z", id="utc"),
        pytest.param("2018-06-15T09:30+02:00", "2018-06-15T07:30Z", id="offset"),
    ],
)
def test_a_time_without_seconds_keeps_minute_precision(text: str, expected: str) -> None:
    assert read_date(text).value == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("03/04/2018", "ambiguous", id="ambiguous-slashes"),
        pytest.param("03.04.2018", "ambiguous", id="ambiguous-dots"),
        pytest.param("12/11/2018", "ambiguous", id="ambiguous-both-twelve-or-less"),
        pytest.param("03/04/18", "two-digit year", id="two-digit-year"),
        pytest.param("13/04/18", "two-digit year", id="two-digit-year-unambiguous-day"),
        pytest.param("June 18", "no year", id="month-and-day-no-year"),
        pytest.param("June", "no year", id="month-only"),
        pytest.param("15 June", "no year", id="day-month-no-year"),
        pytest.param("2018-13", "month 13", id="iso-month-13"),
        pytest.param("2018-00", "month 0", id="iso-month-0"),
        pytest.param("2018-13-01", "not a date", id="iso-date-month-13"),
        pytest.param("31 February 2018", "not a date", id="no-such-day"),
        pytest.param("2018-06-15 09:30", "time zone", id="minutes-without-zone"),
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="only-whitespace"),
        pytest.param("nonsense", "not a date", id="nonsense"),
        pytest.param("not before lunch", "not a date", id="words"),
    ],
)
def test_a_date_that_would_have_to_be_guessed_is_refused(text: str, reason: str) -> None:
    with pytest.raises(DateParseError) as caught:
        read_date(text)
    assert reason in str(caught.value)
    if text.strip():
        assert repr(text) in str(caught.value), "the message quotes the text it refused"


def test_a_date_parse_error_is_a_value_error() -> None:
    assert issubclass(DateParseError, ValueError)


def test_an_edtf_time_without_a_zone_is_taken_as_local_time() -> None:
    reading = read_date("2018-06-15T09:30:00")
    assert (reading.value, reading.reading) == (
        "2018-06-15T09:30:00",
        "15 June 2018, 09:30:00 local time",
    )


# -- EDTF (ISO 8601-2) levels 0 and 1, and the human forms converted to it ------------------

# text, what dc:date records, how archiver reads it, earliest day, latest day
EDTF_TABLE = [
    # level 0: dates, date-times, intervals
    ("1990", "1990", "1990", "1990-01-01", "1990-12-31"),
    ("1990-06", "1990-06", "June 1990", "1990-06-01", "1990-06-30"),
    ("2020-02", "2020-02", "February 2020", "2020-02-01", "2020-02-29"),
    ("1990-06-15", "1990-06-15", "15 June 1990", "1990-06-15", "1990-06-15"),
    (
        "2018-06-15T09:30:00Z",
        "2018-06-15T09:30:00Z",
        "15 June 2018, 09:30:00 UTC",
        "2018-06-15",
        "2018-06-15",
    ),
    (
        "2018-06-15/2018-06-20",
        "2018-06-15/2018-06-20",
        "from 15 June 2018 to 20 June 2018",
        "2018-06-15",
        "2018-06-20",
    ),
    (
        "2018-01-01/2018-12-31",
        "2018-01-01/2018-12-31",
        "from 1 January 2018 to 31 December 2018",
        "2018-01-01",
        "2018-12-31",
    ),
    ("1990/1995", "1990/1995", "from 1990 to 1995", "1990-01-01", "1995-12-31"),
    (
        "1990-12/1991-02",
        "1990-12/1991-02",
        "from December 1990 to February 1991",
        "1990-12-01",
        "1991-02-28",
    ),
    # level 1: qualified dates
    ("1990~", "1990~", "about 1990", "1990-01-01", "1990-12-31"),
    ("1990?", "1990?", "1990, uncertain", "1990-01-01", "1990-12-31"),
    ("1990%", "1990%", "about 1990, uncertain", "1990-01-01", "1990-12-31"),
    ("1990-06~", "1990-06~", "about June 1990", "1990-06-01", "1990-06-30"),
    ("1990-06-15?", "1990-06-15?", "15 June 1990, uncertain", "1990-06-15", "1990-06-15"),
    # level 1: unspecified digits
    ("199X", "199X", "a year from 1990 to 1999", "1990-01-01", "1999-12-31"),
    ("19XX", "19XX", "a year from 1900 to 1999", "1900-01-01", "1999-12-31"),
    ("1990-XX", "1990-XX", "a month of 1990", "1990-01-01", "1990-12-31"),
    ("1990-06-XX", "1990-06-XX", "a day of June 1990", "1990-06-01", "1990-06-30"),
    ("1990-XX-XX", "1990-XX-XX", "a day of 1990", "1990-01-01", "1990-12-31"),
    # level 1: seasons (winter runs into the next year)
    ("2020-21", "2020-21", "spring 2020", "2020-03-01", "2020-05-31"),
    ("2020-22", "2020-22", "summer 2020", "2020-06-01", "2020-08-31"),
    ("2020-23", "2020-23", "autumn 2020", "2020-09-01", "2020-11-30"),
    ("2020-24", "2020-24", "winter 2020", "2020-12-01", "2021-02-28"),
    # level 1: extended intervals, long and negative years
    ("../1990", "../1990", "up to 1990 (open start)", None, "1990-12-31"),
    ("1990/..", "1990/..", "from 1990 on (open end)", "1990-01-01", None),
    ("/1990", "/1990", "from an unknown date to 1990", None, "1990-12-31"),
    ("1990/", "1990/", "from 1990 to an unknown date", "1990-01-01", None),
    (
        "1990~/1995?",
        "1990~/1995?",
        "from about 1990 to 1995, uncertain",
        "1990-01-01",
        "1995-12-31",
    ),
    ("Y170000002", "Y170000002", "year 170000002", "170000002-01-01", "170000002-12-31"),
    ("-0500", "-0500", "year -500", "-0500-01-01", "-0500-12-31"),
    # human forms -> EDTF
    ("circa 1990", "1990~", "about 1990", "1990-01-01", "1990-12-31"),
    ("c. 1990", "1990~", "about 1990", "1990-01-01", "1990-12-31"),
    ("ca. 1990", "1990~", "about 1990", "1990-01-01", "1990-12-31"),
    ("Circa June 1990", "1990-06~", "about June 1990", "1990-06-01", "1990-06-30"),
    ("1990s", "199X", "a year from 1990 to 1999", "1990-01-01", "1999-12-31"),
    ("[1990]", "1990?", "1990, uncertain", "1990-01-01", "1990-12-31"),
    ("[ca. 1990]", "1990%", "about 1990, uncertain", "1990-01-01", "1990-12-31"),
    ("Spring 2020", "2020-21", "spring 2020", "2020-03-01", "2020-05-31"),
    ("summer 2020", "2020-22", "summer 2020", "2020-06-01", "2020-08-31"),
    ("Autumn 2020", "2020-23", "autumn 2020", "2020-09-01", "2020-11-30"),
    ("Fall 2020", "2020-23", "autumn 2020", "2020-09-01", "2020-11-30"),
    ("Winter 2020", "2020-24", "winter 2020", "2020-12-01", "2021-02-28"),
    ("1990-1995", "1990/1995", "from 1990 to 1995", "1990-01-01", "1995-12-31"),
    ("1990 – 1995", "1990/1995", "from 1990 to 1995", "1990-01-01", "1995-12-31"),
    ("between 1990 and 1995", "1990/1995", "from 1990 to 1995", "1990-01-01", "1995-12-31"),
    (
        "[1990-1995]",
        "1990?/1995?",
        "from 1990, uncertain to 1995, uncertain",
        "1990-01-01",
        "1995-12-31",
    ),
    (
        "15 June 2018 to 20 June 2018",
        "2018-06-15/2018-06-20",
        "from 15 June 2018 to 20 June 2018",
        "2018-06-15",
        "2018-06-20",
    ),
    ("15 June 2018", "2018-06-15", "15 June 2018", "2018-06-15", "2018-06-15"),
    ("1990 to present", "1990/..", "from 1990 on (open end)", "1990-01-01", None),
    (
        "2018-06-15T09:30:00+01:00",
        "2018-06-15T08:30:00Z",
        "15 June 2018, 08:30:00 UTC",
        "2018-06-15",
        "2018-06-15",
    ),
]


@pytest.mark.parametrize(
    ("text", "value", "reading", "earliest", "latest"),
    [pytest.param(*row, id=row[0]) for row in EDTF_TABLE],
)
def test_a_date_is_recorded_as_edtf_with_its_reading_and_its_first_and_last_day(
    text: str, value: str, reading: str, earliest: str | None, latest: str | None
) -> None:
    found = read_date(text)
    assert (found.value, found.reading, found.earliest, found.latest) == (
        value,
        reading,
        earliest,
        latest,
    )
    assert found.converted == (value != text)
    assert recorded_date(value) is not None, "what is recorded reads again as it stands"


# text, what the refusal says (it quotes the text, and says what to type where it can)
REFUSED_TABLE = [
    ("5 Jun 18", "has a two-digit year; type the year in full: 1918-06-05 or 2018-06-05"),
    ("Spring 20", "has a two-digit year; type the year in full, e.g. 1920-21 or 2020-21"),
    ("03/04/18", "has a two-digit year; type the date in full: 1918-04-03 (3 April 1918) or"),
    (
        "1 2 2018",
        "is ambiguous: day and month could be either way round; type 2018-02-01 "
        "(1 February 2018) or 2018-01-02 (2 January 2018)",
    ),
    ("03/04/2018", "type 2018-04-03 (3 April 2018) or 2018-03-04 (4 March 2018)"),
    ("1900s", "could be a decade or a century; type 190X for 1900-1909 or 19XX for 1900-1999"),
    ("1995/1990", "ends before it begins"),
    ("1995-1990", "ends before it begins"),
    ("circa Spring 2020", "was converted to '2020-21~', which is not valid EDTF"),
    ("2018-06-15/20", "an interval is written START/END, each in full: 2018-06-15/2018-06-20"),
    ("2018-06-15 09:30", "add Z or an offset, or type 2018-06-15T09:30:00 (EDTF, local time)"),
    ("c1990", "type 1990 for the year, 1990~ for circa 1990"),
    ("circa", "gives no date"),
    ("June 18", "has no year; if 18 is the year, type 1918-06 or 2018-06"),
    ("2018-13", "has no month 13"),
    ("31 February 2018", "is not a date"),
    ("[2018-02-30]", "is not a date"),
    ("nonsense", "is not a date"),
]


@pytest.mark.parametrize(
    ("text", "message"), [pytest.param(*row, id=row[0]) for row in REFUSED_TABLE]
)
def test_a_date_that_would_need_a_guess_is_refused_saying_what_to_type(
    text: str, message: str
) -> None:
    with pytest.raises(DateParseError) as caught:
        read_date(text)
    assert str(caught.value).startswith(repr(text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_tables_cover_what_the_issue_asks() -> None:
    assert len(EDTF_TABLE) + len(REFUSED_TABLE) >= 40
    assert len(REFUSED_TABLE) >= 10


def test_a_converted_date_has_a_note_saying_how_it_reads() -> None:
    assert read_date("Spring 2020").note("date") == (
        'date: "Spring 2020" recorded as EDTF 2020-21 (spring 2020)'
    )


@pytest.mark.parametrize(
    "value",
    ["1990", "2018-06-15T09:30Z", "2018-06-15T09:30:00.25Z", "1990~", "2020-21", "../1990"],
)
def test_a_stored_w3cdtf_or_edtf_value_is_recognised(value: str) -> None:
    assert recorded_date(value) is not None


@pytest.mark.parametrize(
    "value", ["circa 1990", "15 June 2018", "1990-1995", "2018-13", "1995/1990", "", "2018-02-30"]
)
def test_a_stored_value_that_is_neither_w3cdtf_nor_edtf_is_not(value: str) -> None:
    assert recorded_date(value) is None


_DATE_PARTS = st.sampled_from(
    [
        *"0123456789-/X~?%T:Z+ []{},YES",
        *("..", "circa ", "c. ", "Spring ", "s", " to ", "June "),
    ]
)


def _recorded_or_refused(text: str) -> DateReading | str:
    try:
        return read_date(text)
    except DateParseError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DATE_PARTS, max_size=12).map("".join) | st.text(max_size=30))
def test_any_text_is_recorded_as_a_date_that_reads_again_or_refused_in_one_line(
    text: str,
) -> None:
    found = _recorded_or_refused(text)
    if isinstance(found, str):
        assert "\n" not in found
        return
    again = recorded_date(found.value)
    assert again is not None, found
    assert (again.earliest, again.latest) == (found.earliest, found.latest)


@pytest.mark.parametrize("text", ["../x", "/..5", "../", "8201-X2018-06-15../"])
def test_text_the_edtf_package_chokes_on_is_refused_and_prints_nothing(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # edtf 5 prints "trying to Level1Interval.__init__(...)" on these, and fails with
    # TypeError or AttributeError: stdout is where archiver writes a bag's path or a report.
    with pytest.raises(DateParseError):
        read_date(text)
    assert recorded_date(text) is None
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("text", ["1" * 5000, "circa " * 1000 + "1990", "2018-06-15/" * 500])
def test_a_huge_date_is_refused_at_once_with_a_short_message(text: str) -> None:
    with pytest.raises(DateParseError) as refused:
        read_date(text)
    message = str(refused.value)
    assert len(message) < 120 and "too long to be a date" in message
    assert recorded_date(text) is None
