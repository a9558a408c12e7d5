"""Metadata records: JSON -> validated Record, or a MetadataError listing every problem."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.errors import ArchiverError, MetadataError, Problem
from archiver.record import DC_ELEMENTS, Record, load_record, record_from_data
from tests.conftest import SAMPLE_RECORD


def _write(tmp_path: Path, text: str | bytes, name: str = "record.json") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _problems(data: Any) -> tuple[Problem, ...]:
    with pytest.raises(MetadataError) as caught:
        record_from_data(data, "record.json")
    return caught.value.problems


def _fields(problems: tuple[Problem, ...]) -> list[str]:
    return [p.field for p in problems]


def _only(problems: tuple[Problem, ...], field: str) -> Problem:
    matching = [p for p in problems if p.field == field]
    assert len(matching) == 1, f"expected one problem for {field!r}, got {problems!r}"
    return matching[0]


# -- good records ---------------------------------------------------------------------------


def test_a_string_value_becomes_a_single_value() -> None:
    record = record_from_data({"title": "A giant step for peace"}, "r.json")
    assert record.values("title") == ("A giant step for peace",)
    assert record.dc == (("title", ("A giant step for peace",)),)
    assert record.bag_info == ()


def test_a_list_value_keeps_every_item_in_order() -> None:
    record = record_from_data({"subject": ["Peace", "Diplomacy", "Editorials"]}, "r.json")
    assert record.values("subject") == ("Peace", "Diplomacy", "Editorials")


def test_an_element_not_given_has_no_values() -> None:
    record = record_from_data({"title": "t"}, "r.json")
    assert record.values("creator") == ()


def test_elements_come_out_in_dcmes_order_whatever_order_they_were_given_in() -> None:
    data = {element: f"value of {element}" for element in reversed(DC_ELEMENTS)}
    data["date"] = "2018"
    record = record_from_data(data, "r.json")
    assert [name for name, _ in record.dc] == list(DC_ELEMENTS)


def test_all_fifteen_dublin_core_elements_are_accepted() -> None:
    assert len(DC_ELEMENTS) == 15
    data: dict[str, Any] = {element: [element.upper()] for element in DC_ELEMENTS}
    data["date"] = ["2018"]
    record = record_from_data(data, "r.json")
    for element in DC_ELEMENTS:
        expected = ("2018",) if element == "date" else (element.upper(),)
        assert record.values(element) == expected


def test_dc_values_may_span_lines_and_hold_tabs() -> None:
    record = record_from_data({"description": "first line\n\tsecond line"}, "r.json")
    assert record.values("description") == ("first line\n\tsecond line",)


def test_bag_info_labels_keep_the_order_they_were_given_in() -> None:
    data = {
        "bag-info": {
            "Source-Organization": "Org",
            "Contact-Name": "Ann",
            "Bag-Group-Identifier": "editorials",
            "Internal-Sender-Description": "sent",
        }
    }
    record = record_from_data(data, "r.json")
    assert record.bag_info == (
        ("Source-Organization", "Org"),
        ("Contact-Name", "Ann"),
        ("Bag-Group-Identifier", "editorials"),
        ("Internal-Sender-Description", "sent"),
    )


def test_a_bag_info_list_becomes_repeated_labels_in_place() -> None:
    data = {
        "bag-info": {
            "Source-Organization": "Org",
            "Contact-Name": ["Ann", "Bob"],
            "External-Description": "desc",
        }
    }
    record = record_from_data(data, "r.json")
    assert record.bag_info == (
        ("Source-Organization", "Org"),
        ("Contact-Name", "Ann"),
        ("Contact-Name", "Bob"),
        ("External-Description", "desc"),
    )
    assert record.bag_info_value("contact-name") == "Ann"
    assert record.bag_info_value("Nothing-Here") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("15 June 2018", ("2018-06-15",), id="spelled-out"),
        pytest.param("June 2018", ("2018-06",), id="month-year"),
        pytest.param(
            ["2018", "2018-06-15T09:30:00+01:00"],
            ("2018", "2018-06-15T08:30:00Z"),
            id="list",
        ),
    ],
)
def test_dates_are_normalised_to_w3cdtf(given: str | list[str], expected: tuple[str, ...]) -> None:
    record = record_from_data({"date": given}, "r.json")
    assert record.values("date") == expected


@pytest.mark.parametrize(
    "count", [pytest.param("1 of 3", id="known-total"), pytest.param("2 of ?", id="unknown")]
)
def test_a_well_formed_bag_count_is_accepted(count: str) -> None:
    record = record_from_data({"bag-info": {"Bag-Count": count}}, "r.json")
    assert record.bag_info == (("Bag-Count", count),)


def test_an_empty_object_is_an_empty_record() -> None:
    assert record_from_data({}, "r.json") == Record()


def test_the_sample_record_loads_with_its_date_normalised() -> None:
    record = load_record(SAMPLE_RECORD)
    assert record.values("title") == ("A giant step for peace",)
    assert record.values("date") == ("2018-06",)
    assert record.values("coverage") == ("Singapore", "Korean Peninsula")
    assert [label for label, _ in record.bag_info] == [
        "Source-Organization",
        "External-Description",
        "Bag-Group-Identifier",
    ]


def test_a_record_file_is_read_as_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"title": "Café ☮"}'.encode())
    assert load_record(path).values("title") == ("Café ☮",)


# -- bad records: the file ------------------------------------------------------------------


def test_a_file_that_is_not_json_is_one_problem_naming_the_position(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"title": "a",\n "creator": }')
    with pytest.raises(MetadataError) as caught:
        load_record(path)
    assert caught.value.problems == (
        Problem("(file)", "not JSON: Expecting value at line 2 column 13"),
    )
    assert str(path) in str(caught.value)
    assert caught.value.source == str(path)


def test_an_empty_file_is_not_json(tmp_path: Path) -> None:
    with pytest.raises(MetadataError) as caught:
        load_record(_write(tmp_path, ""))
    assert _fields(caught.value.problems) == ["(file)"]
    assert "not JSON" in caught.value.problems[0].message


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetadataError) as caught:
        load_record(_write(tmp_path, b'{"title": "caf\xe9"}'))
    assert _fields(caught.value.problems) == ["(file)"]
    assert "not UTF-8" in caught.value.problems[0].message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetadataError) as caught:
        load_record(tmp_path / "absent.json")
    assert caught.value.problems == (Problem("(file)", "no such file"),)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[]", id="list"),
        pytest.param('"a title"', id="string"),
        pytest.param("null", id="null"),
        pytest.param("42", id="number"),
    ],
)
def test_a_top_level_that_is_not_an_object_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(MetadataError) as caught:
        load_record(_write(tmp_path, text))
    assert caught.value.problems == (
        Problem("(record)", "a metadata record must be a JSON object"),
    )


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"title": "first", "creator": "c", "title": "second"}')
    with pytest.raises(MetadataError) as caught:
        load_record(path)
    assert caught.value.problems == (Problem("title", "given twice in the same object"),)


def test_a_bag_info_label_given_twice_is_refused_naming_it_under_bag_info(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, '{"bag-info": {"Contact-Name": "Ann", "Contact-Name": "Bob"}}')
    with pytest.raises(MetadataError) as caught:
        load_record(path)
    assert _fields(caught.value.problems) == ["bag-info.Contact-Name"]
    assert "twice" in caught.value.problems[0].message


def test_a_duplicate_key_is_reported_with_the_schema_problems(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"title": "a", "title": "b", "creator": 7}')
    with pytest.raises(MetadataError) as caught:
        load_record(path)
    assert sorted(_fields(caught.value.problems)) == ["creator", "title"]


# -- bad records: the schema ----------------------------------------------------------------


def test_every_schema_problem_is_listed_at_once_each_with_its_field() -> None:
    problems = _problems({"titel": "x", "title": 3, "creator": ["a", 4], "rights": []})
    assert sorted(_fields(problems)) == ["creator", "rights", "titel", "title"]
    with pytest.raises(MetadataError) as caught:
        record_from_data({"titel": "x", "title": 3, "creator": ["a", 4]}, "meta.json")
    text = str(caught.value)
    assert text.startswith("meta.json: 3 problems: ")
    assert "\n" not in text
    for field in ("titel", "title", "creator"):
        assert f"{field}: " in text


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        pytest.param("titel", "title", id="titel"),
        pytest.param("Creator", "creator", id="capitalised"),
        pytest.param("descripton", "description", id="descripton"),
        pytest.param("baginfo", "bag-info", id="baginfo"),
    ],
)
def test_an_unknown_key_suggests_the_close_match(key: str, suggestion: str) -> None:
    problem = _only(_problems({key: "x"}), key)
    assert "unknown field" in problem.message
    assert f"did you mean {suggestion!r}?" in problem.message


def test_an_unknown_key_with_no_close_match_has_no_suggestion() -> None:
    problem = _only(_problems({"zzzzzz": "x"}), "zzzzzz")
    assert "unknown field" in problem.message
    assert "did you mean" not in problem.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(3, "must be a string or a list of them, not a number", id="number"),
        pytest.param(2.5, "must be a string or a list of them, not a number", id="float"),
        pytest.param(True, "must be a string or a list of them, not a boolean", id="boolean"),
        pytest.param(None, "must be a string or a list of them, not null", id="null"),
        pytest.param({"a": "b"}, "must be a string or a list of them, not an object", id="obj"),
        pytest.param(["a", 4], "item [1] must be a string, not a number", id="list-number"),
        pytest.param([["a"]], "item [0] must be a string, not a list", id="nested-list"),
        pytest.param([], "must be a string or a non-empty list of them", id="empty-list"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(value: object, expected: str) -> None:
    assert _only(_problems({"title": value}), "title").message == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", "must not be empty or only whitespace", id="empty"),
        pytest.param(" \t\n", "must not be empty or only whitespace", id="whitespace"),
        pytest.param(["ok", ""], "item [1] must not be empty or only whitespace", id="in-list"),
    ],
)
def test_an_empty_dc_value_is_refused(value: object, expected: str) -> None:
    assert _only(_problems({"creator": value}), "creator").message == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a\x00b", id="nul"),
        pytest.param("a\x07b", id="bell"),
        pytest.param("a\x1bb", id="escape"),
        pytest.param("a\x0cb", id="form-feed"),
    ],
)
def test_a_control_character_in_a_dc_value_is_refused(value: str) -> None:
    assert _only(_problems({"title": value}), "title").message == "contains a control character"
    item = _only(_problems({"title": ["fine", value]}), "title")
    assert item.message == "item [1] contains a control character"


def test_a_non_character_in_a_dc_value_is_refused() -> None:
    problem = _only(_problems({"title": "a\ufffe"}), "title")
    assert "non-character" in problem.message


def test_a_lone_surrogate_is_refused_in_dc_and_bag_info(tmp_path: Path) -> None:
    # JSON can spell a lone surrogate (an unpaired \uD800 escape); XML 1.0 and UTF-8 cannot.
    path = tmp_path / "record.json"
    path.write_text('{"title": "a \\ud800 b", "bag-info": {"Contact-Name": "x\\udc00"}}')
    with pytest.raises(MetadataError) as caught:
        load_record(path)
    messages = {p.field: p.message for p in caught.value.problems}
    assert "lone surrogate" in messages["title"]
    assert "lone surrogate" in messages["bag-info.Contact-Name"]
    paired = tmp_path / "paired.json"
    paired.write_text('{"title": "a \\ud83d\\ude00 b"}')
    assert load_record(paired).values("title") == ("a \U0001f600 b",)


# -- bad records: bag-info ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("line one\nline two", id="lf"),
        pytest.param("line one\rline two", id="cr"),
        pytest.param("line one\r\nline two", id="crlf"),
    ],
)
def test_a_bag_info_value_with_a_line_break_is_refused(value: str) -> None:
    problem = _only(_problems({"bag-info": {"Contact-Name": value}}), "bag-info.Contact-Name")
    assert problem.message == "must be a single line (no line breaks in bag-info values)"


def test_a_line_break_in_one_item_of_a_bag_info_list_names_the_item() -> None:
    problems = _problems({"bag-info": {"Contact-Name": ["Ann", "B\nob"]}})
    problem = _only(problems, "bag-info.Contact-Name")
    assert problem.message.startswith("item [1] must be a single line")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a\x01b", id="soh"),
        pytest.param("a\x7fb", id="delete"),
        pytest.param("a\tb", id="tab"),
    ],
)
def test_a_control_character_in_a_bag_info_value_is_refused(value: str) -> None:
    problem = _only(_problems({"bag-info": {"Contact-Name": value}}), "bag-info.Contact-Name")
    assert re.search(r"control character|\btab\b", problem.message), problem.message


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(" leading", id="leading"),
        pytest.param("trailing ", id="trailing"),
    ],
)
def test_a_bag_info_value_padded_with_whitespace_is_refused(value: str) -> None:
    problem = _only(_problems({"bag-info": {"Contact-Name": value}}), "bag-info.Contact-Name")
    assert problem.message == "must not start or end with whitespace"


@pytest.mark.parametrize(
    "value", [pytest.param("", id="empty"), pytest.param("   ", id="whitespace")]
)
def test_an_empty_bag_info_value_is_refused(value: str) -> None:
    problem = _only(_problems({"bag-info": {"Contact-Name": value}}), "bag-info.Contact-Name")
    assert problem.message == "must not be empty or only whitespace"


def test_bag_info_that_is_not_an_object_is_refused() -> None:
    problem = _only(_problems({"bag-info": ["Contact-Name: Ann"]}), "bag-info")
    assert problem.message == "must be an object of label: value pairs"


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("Contact:Name", id="colon"),
        pytest.param("Contact-Name:", id="trailing-colon"),
        pytest.param(" Contact-Name", id="leading-space"),
        pytest.param("Contact\nName", id="line-break"),
    ],
)
def test_a_bad_bag_info_label_is_refused_naming_the_label(label: str) -> None:
    problem = _only(_problems({"bag-info": {label: "value"}}), f"bag-info.{label}")
    assert "a label must not contain ':'" in problem.message


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("Payload-Oxum", id="payload-oxum"),
        pytest.param("payload-oxum", id="lowercase"),
        pytest.param("PAYLOAD-OXUM", id="uppercase"),
        pytest.param("Bagging-Date", id="bagging-date"),
        pytest.param("External-Identifier", id="external-identifier"),
        pytest.param("Bag-Software-Agent", id="bag-software-agent"),
        pytest.param("BagIt-Profile-Identifier", id="profile"),
    ],
)
def test_a_label_archiver_writes_itself_cannot_be_set(label: str) -> None:
    problem = _only(_problems({"bag-info": {label: "1.1"}}), f"bag-info.{label}")
    assert problem.message == "is written by archiver and cannot be set"


@pytest.mark.parametrize("label", ["Bag-Size", "Bag-Group-Identifier", "Bag-Count", "bag-size"])
def test_a_label_that_must_not_repeat_cannot_be_a_list(label: str) -> None:
    problems = _problems({"bag-info": {label: ["1 of 2", "2 of 2"]}})
    assert "must not be repeated" in _only(problems, f"bag-info.{label}").message


@pytest.mark.parametrize(
    "count",
    [
        pytest.param("one", id="word"),
        pytest.param("1/3", id="slash"),
        pytest.param("1 of", id="no-total"),
        pytest.param("of 3", id="no-number"),
        pytest.param("1 of three", id="spelled-total"),
        pytest.param("1  of 3", id="two-spaces"),
    ],
)
def test_a_bag_count_not_reading_n_of_t_is_refused(count: str) -> None:
    problem = _only(_problems({"bag-info": {"Bag-Count": count}}), "bag-info.Bag-Count")
    assert "N of T" in problem.message


# -- bad records: dates ---------------------------------------------------------------------


def test_an_unparsable_date_names_the_date_field() -> None:
    problem = _only(_problems({"date": "nonsense"}), "date")
    assert "'nonsense' is not a date" in problem.message


def test_an_ambiguous_date_names_the_date_field() -> None:
    problem = _only(_problems({"date": "03/04/2018"}), "date")
    assert "ambiguous" in problem.message


def test_each_bad_date_in_a_list_names_its_index() -> None:
    problems = _problems({"date": ["June 2018", "03/04/2018", "nonsense"]})
    assert _fields(problems) == ["date[1]", "date[2]"]
    assert "ambiguous" in problems[0].message
    assert "not a date" in problems[1].message


def test_date_label_and_bag_count_problems_are_reported_together() -> None:
    problems = _problems(
        {
            "date": "June",
            "bag-info": {"Payload-Oxum": "1.1", "Bag-Count": "first"},
        }
    )
    assert sorted(_fields(problems)) == ["bag-info.Bag-Count", "bag-info.Payload-Oxum", "date"]


def test_schema_date_and_reserved_label_problems_are_all_reported_at_once() -> None:
    problems = _problems(
        {
            "titel": "x",
            "date": "03/04/2018",
            "bag-info": {"Payload-Oxum": "1.1"},
        }
    )
    assert sorted(_fields(problems)) == ["bag-info.Payload-Oxum", "date", "titel"]


# -- the error itself -----------------------------------------------------------------------


def test_a_metadata_error_is_an_archiver_error_with_one_line_counting_its_problems() -> None:
    error = MetadataError("r.json", [Problem("title", "bad"), Problem("date", "worse")])
    assert isinstance(error, ArchiverError)
    assert str(error) == "r.json: 2 problems: title: bad; date: worse"
    single = MetadataError("r.json", [Problem("title", "bad")])
    assert str(single) == "r.json: 1 problem: title: bad"


def test_a_record_round_trips_through_json_on_disk(tmp_path: Path) -> None:
    data = {"creator": ["Ann", "Bob"], "title": "T", "bag-info": {"Contact-Name": "Ann"}}
    path = _write(tmp_path, json.dumps(data))
    assert load_record(path) == record_from_data(data, str(path))


# -- the schema's two checkers ----------------------------------------------------------------
# fastjsonschema answers whether a record passes (fast: a batch checks one per row);
# jsonschema explains what fails. They must give the same answer for every record.

_TEXT = st.text(
    alphabet=st.sampled_from(
        ["a", " ", "\n", "\r", "\t", ":", "\x00", "\x1f", "\x7f", "é", "\ufffe", "\ud800"]
    ),
    max_size=6,
)
_VALUE = _TEXT | st.lists(_TEXT, max_size=3) | st.integers() | st.none() | st.booleans()
_LABEL = _TEXT | st.sampled_from(["Source-Organization", "Contact-Name", "External-Identifier"])
_RECORD = (
    st.dictionaries(
        st.sampled_from([*DC_ELEMENTS, "titel", "", "bag-info"]),
        _VALUE | st.dictionaries(_LABEL, _VALUE, max_size=3),
        max_size=5,
    )
    | _VALUE
)


@settings(max_examples=600, deadline=None)
@given(_RECORD)
def test_the_fast_schema_check_agrees_with_jsonschema(data: Any) -> None:
    import jsonschema

    from archiver import record, resources

    reference = jsonschema.Draft202012Validator(resources.json_schema(record.SCHEMA))
    assert record._schema_accepts()(data) == reference.is_valid(data), data


def test_a_record_the_fast_check_rejects_is_explained_by_jsonschema() -> None:
    problems = _problems({"title": ["fine", "\x00"], "titel": "x"})
    assert "did you mean 'title'?" in _only(problems, "titel").message
    assert _only(problems, "title").message == "item [1] contains a control character"
