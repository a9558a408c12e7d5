"""Dates as people write them become W3CDTF at the precision they were given, or are refused."""

from __future__ import annotations

import pytest

from archiver.dates import DateParseError, parse_w3cdtf


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("15 June 2018", "2018-06-15", id="day-month-year"),
        pytest.param("June 15, 2018", "2018-06-15", id="month-day-comma-year"),
        pytest.param("15 june 2018", "2018-06-15", id="lowercase-month"),
    ],
)
def test_a_spelled_out_day_month_year_becomes_a_full_date(text: str, expected: str) -> None:
    assert parse_w3cdtf(text) == expected


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
    assert parse_w3cdtf(text) == expected


def test_a_year_alone_stays_a_year() -> None:
    assert parse_w3cdtf("2018") == "2018"


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_w3cdtf("  15 June 2018\n") == "2018-06-15"


def test_an_iso_date_is_kept_as_it_is() -> None:
    assert parse_w3cdtf("2018-06-15") == "2018-06-15"


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
    assert parse_w3cdtf(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018/03/04", "2018-03-04", id="slashes"),
        pytest.param("2018.03.04", "2018-03-04", id="dots"),
    ],
)
def test_a_year_first_numeric_date_is_read_year_month_day(text: str, expected: str) -> None:
    assert parse_w3cdtf(text) == expected


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
    assert parse_w3cdtf(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018-06-15T09:30:00.25Z", "2018-06-15T09:30:00.25Z", id="hundredths"),
        pytest.param("2018-06-15T09:30:00.123456+01:00", "2018-06-15T08:30:00.123456Z", id="micro"),
    ],
)
def test_fractional_seconds_are_kept(text: str, expected: str) -> None:
    assert parse_w3cdtf(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2018-06-15T09:30Z", "2018-06-15T09:30Z", id="utc"),
        pytest.param("2018-06-15T09:30+02:00", "2018-06-15T07:30Z", id="offset"),
    ],
)
def test_a_time_without_seconds_keeps_minute_precision(text: str, expected: str) -> None:
    assert parse_w3cdtf(text) == expected


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
        pytest.param("2018-06-15T09:30:00", "time zone", id="time-without-zone"),
        pytest.param("2018-06-15 09:30", "time zone", id="minutes-without-zone"),
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="only-whitespace"),
        pytest.param("nonsense", "not a date", id="nonsense"),
        pytest.param("not before lunch", "not a date", id="words"),
    ],
)
def test_a_date_that_would_have_to_be_guessed_is_refused(text: str, reason: str) -> None:
    with pytest.raises(DateParseError) as caught:
        parse_w3cdtf(text)
    assert reason in str(caught.value)
    if text.strip():
        assert repr(text) in str(caught.value), "the message quotes the text it refused"


def test_a_date_parse_error_is_a_value_error() -> None:
    assert issubclass(DateParseError, ValueError)
