"""The metadata record: a JSON file -> a validated ``Record``; derived fields filled in later.

Keys are the fifteen Dublin Core elements (each a string or a list of strings) and an
optional ``bag-info`` object of bag-info.txt labels. The JSON Schema in
schemas/metadata-record.schema.json is enforced with jsonschema; every problem found --
schema, dates, reserved labels -- is reported at once, each with its field.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import jsonschema

from archiver import jsontext, resources
from archiver.bagit import baginfo
from archiver.bagit.names import MAX_TAG_FILE
from archiver.dates import DateParseError, read_date
from archiver.errors import MetadataError, Problem
from archiver.given import MiB, read_limited
from archiver.xml.characters import xml_problem

DC_ELEMENTS = (
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "date",
    "type",
    "format",
    "identifier",
    "source",
    "language",
    "relation",
    "coverage",
    "rights",
)
SCHEMA = "metadata-record.schema.json"
_BAG_COUNT = re.compile(r"^\d+ of (?:\d+|\?)$")
# Every value is written into XML, as a text node or an attribute (METS LABEL). XML parsers
# refuse more than 10,000,000 bytes in one, as written with its escapes (libxml2 without
# huge_tree, and so archiver's own validator); a million characters stay well under that
# however they are encoded and escaped.
MAX_VALUE = 1_000_000
MAX_RECORD_BYTES = 16 * MiB  # a record file: fifteen elements and bag-info, a few KiB
# bag-info.txt is read whole, up to MAX_TAG_FILE bytes; what archiver writes there itself
# (dates, Payload-Oxum, identifiers, its name) fits in this room.
_GENERATED_ROOM = 4096


@dataclass(frozen=True)
class Record:
    """Dublin Core values by element (in DCMES order) and bag-info elements (in given order),
    and notes on what reading the record changed (a date converted to EDTF)."""

    dc: tuple[tuple[str, tuple[str, ...]], ...] = ()
    bag_info: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def values(self, element: str) -> tuple[str, ...]:
        for name, values in self.dc:
            if name == element:
                return values
        return ()

    def with_values(self, element: str, values: Sequence[str]) -> Record:
        """A copy with ``element`` set to ``values`` (kept in DCMES order)."""
        merged = dict(self.dc)
        merged[element] = tuple(values)
        dc = tuple((name, merged[name]) for name in DC_ELEMENTS if merged.get(name))
        return replace(self, dc=dc)

    def bag_info_value(self, label: str) -> str | None:
        """The first value of a bag-info label (case-insensitive), or None."""
        for name, value in self.bag_info:
            if name.lower() == label.lower():
                return value
        return None


RecordLike = Union["Record", Mapping[str, Any], str, "os.PathLike[str]"]


def as_record(given: RecordLike) -> Record:
    """A Record from a Record, a parsed JSON object (a dict) or the path of a JSON file;
    MetadataError lists every problem."""
    if isinstance(given, Record):
        return given
    if isinstance(given, Mapping):
        return record_from_data(dict(given), "record")
    return load_record(given)


def load_record(path: str | os.PathLike[str]) -> Record:
    """Read and validate a metadata record file; MetadataError lists every problem."""
    path = Path(path)
    source = str(path)
    try:
        text = read_limited(path, MAX_RECORD_BYTES).decode("utf-8")
    except FileNotFoundError as exc:
        raise MetadataError(source, [Problem("(file)", "no such file")]) from exc
    except UnicodeDecodeError as exc:
        raise MetadataError(source, [Problem("(file)", f"not UTF-8 ({exc.reason})")]) from exc
    except OSError as exc:
        raise MetadataError(source, [Problem("(file)", f"cannot read: {exc.strerror}")]) from exc
    try:
        data = jsontext.loads(text, object_pairs_hook=_JSONObject)
    except jsontext.JSONTextError as exc:
        where = f" at line {exc.line} column {exc.column}" if exc.line is not None else ""
        raise MetadataError(source, [Problem("(file)", f"not JSON: {exc.reason}{where}")]) from exc
    return record_from_data(data, source, _duplicate_keys(data))


class _JSONObject(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once (json keeps the last)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        counts: dict[str, int] = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        self.repeated = [key for key, count in counts.items() if count > 1]


def _duplicate_keys(data: Any) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(data, _JSONObject):
        problems.extend(Problem(key, "given twice in the same object") for key in data.repeated)
        labels = data.get("bag-info")
        if isinstance(labels, _JSONObject):
            problems.extend(
                Problem(f"bag-info.{label}", "given twice in the same object")
                for label in labels.repeated
            )
    return problems


def record_from_data(data: Any, source: str, problems: Iterable[Problem] = ()) -> Record:
    """Validate parsed JSON against the schema and our rules; build the Record.

    Our own rules (dates, reserved labels) run on whatever passed the schema, so one run
    reports every problem, schema or not.
    """
    found = list(problems)
    schema_problems = _schema_problems(data)
    found.extend(schema_problems)
    if not isinstance(data, dict):
        raise MetadataError(source, found)
    bad_fields = {problem.field.split("[", 1)[0] for problem in schema_problems}
    dc: list[tuple[str, tuple[str, ...]]] = []
    notes: list[str] = []
    for element in DC_ELEMENTS:
        if element not in data or element in bad_fields:
            continue
        values = _as_list(data[element])
        if element == "date":
            values = _read_dates(values, found, notes)
        dc.append((element, tuple(values)))
    labels = data.get("bag-info", {})
    bag_info = []
    if isinstance(labels, dict):
        well_formed = {
            label: value
            for label, value in labels.items()
            if f"bag-info.{label}" not in bad_fields and isinstance(value, (str, list))
        }
        bag_info = _bag_info(well_formed, found)
    found.extend(_size_problems(dc, bag_info))
    if found:
        raise MetadataError(source, found)
    return Record(tuple(dc), tuple(bag_info), tuple(notes))


def check_record(record: Record, source: str = "record") -> None:
    """Refuse (MetadataError, every problem) a Record that no bag can hold: one built in
    code skips the schema, so what it guards is checked here."""
    problems: list[Problem] = []
    for element, values in record.dc:
        for index, value in enumerate(values):
            problem = xml_problem(value)
            if problem:
                problems.append(Problem(_indexed(element, index, values), problem))
    for label, value in record.bag_info:
        problem = baginfo.label_problem(label) or baginfo.value_problem(value)
        if problem:
            problems.append(Problem(f"bag-info.{label}", problem))
    problems.extend(_size_problems(record.dc, record.bag_info))
    if problems:
        raise MetadataError(source, problems)


def _indexed(element: str, index: int, values: Sequence[str]) -> str:
    return element if len(values) == 1 else f"{element}[{index}]"


def _size_problems(
    dc: Iterable[tuple[str, Sequence[str]]], bag_info: Sequence[tuple[str, str]]
) -> list[Problem]:
    """Values too long for an XML parser, and a bag-info.txt too big for a reader."""
    problems = [
        Problem(field, f"is {len(value)} characters long; a value may have {MAX_VALUE} at most")
        for field, value in [
            *((_indexed(e, i, vs), v) for e, vs in dc for i, v in enumerate(vs)),
            *((f"bag-info.{label}", value) for label, value in bag_info),
        ]
        if len(value) > MAX_VALUE
    ]
    size = sum(len(f"{label}: {value}\n".encode()) for label, value in bag_info)
    if size > MAX_TAG_FILE - _GENERATED_ROOM:
        problems.append(
            Problem(
                "bag-info",
                f"{size} bytes of labels and values; bag-info.txt may hold "
                f"{MAX_TAG_FILE - _GENERATED_ROOM} with archiver's own (readers read it whole)",
            )
        )
    return problems


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _read_dates(values: list[str], problems: list[Problem], notes: list[str]) -> list[str]:
    """Each date as recorded (EDTF, or W3CDTF for a time), a note for each one converted."""
    recorded = []
    for index, value in enumerate(values):
        field = _indexed("date", index, values)
        try:
            reading = read_date(value)
        except DateParseError as exc:
            problems.append(Problem(field, str(exc)))
            continue
        recorded.append(reading.value)
        if reading.converted:
            notes.append(reading.note(field))
    return recorded


def _bag_info(data: Mapping[str, Any], problems: list[Problem]) -> list[tuple[str, str]]:
    generated = {label.lower() for label in baginfo.GENERATED}
    items: list[tuple[str, str]] = []
    for label, value in data.items():
        field = f"bag-info.{label}"
        values = _as_list(value)
        problem = baginfo.label_problem(label) or next(
            filter(None, map(baginfo.value_problem, values)), None
        )
        if problem:  # what the schema cannot say: characters other readers break lines at
            problems.append(Problem(field, problem))
            continue
        if label.lower() in generated:
            problems.append(Problem(field, "is written by archiver and cannot be set"))
            continue
        if label.lower() in baginfo.NOT_REPEATED and len(values) > 1:
            problems.append(Problem(field, "must not be repeated (RFC 8493 §2.2.2)"))
            continue
        if label.lower() == "bag-count" and not _BAG_COUNT.match(values[0]):
            problems.append(Problem(field, "must read 'N of T' (T may be '?')"))
            continue
        items.extend((label, item) for item in values)
    return items


def _schema_problems(data: Any) -> list[Problem]:
    if _schema_accepts()(data):
        return []
    import jsonschema  # the explanations: jsonschema's errors carry the paths and keywords

    validator = jsonschema.Draft202012Validator(resources.json_schema(SCHEMA))
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        problems.extend(_explain(error, data))
    return problems


@functools.cache
def _schema_accepts() -> Callable[[Any], bool]:
    """Whether a record passes the record schema: fastjsonschema's compiled check, ~20 times
    faster than jsonschema's (a batch checks a record per row). jsonschema explains what it
    rejects; the tests hold the two to the same answers."""
    import fastjsonschema

    check = fastjsonschema.compile(resources.json_schema(SCHEMA))

    def accepts(data: Any) -> bool:
        try:
            check(data)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return accepts


def _field(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(record)"


def _explain(error: jsonschema.ValidationError, root: Any) -> list[Problem]:
    field = _field(error.absolute_path)
    kind = error.validator
    if kind == "type" and not error.absolute_path:
        return [Problem("(record)", "a metadata record must be a JSON object")]
    if kind == "additionalProperties" and not error.absolute_path and isinstance(root, dict):
        allowed = [*DC_ELEMENTS, "bag-info"]
        problems = []
        for key in root:
            if key not in allowed:
                close = difflib.get_close_matches(key.lower(), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    Problem(key, f"unknown field (not a Dublin Core element nor 'bag-info'){hint}")
                )
        return problems
    if kind == "type" and field == "bag-info":
        return [Problem(field, "must be an object of label: value pairs")]
    if "propertyNames" in error.relative_schema_path:
        label = str(error.instance)
        return [Problem(f"bag-info.{label}", baginfo.label_problem(label) or "bad label")]
    if kind == "oneOf":
        return [Problem(field, _explain_values(error))]
    return [Problem(field, error.message)]


def _explain_values(error: jsonschema.ValidationError) -> str:
    instance = error.instance
    single_line = "bag-info" in [str(p) for p in error.absolute_path]
    noun = "a one-line string" if single_line else "a string"
    if isinstance(instance, str):
        return _explain_text(instance, single_line)
    if isinstance(instance, list):
        if not instance:
            return f"must be {noun} or a non-empty list of them"
        for index, item in enumerate(instance):
            if not isinstance(item, str):
                return f"item [{index}] must be {noun}, not {_json_type(item)}"
            problem = _explain_text(item, single_line, required=False)
            if problem:
                return f"item [{index}] {problem}"
    return f"must be {noun} or a list of them, not {_json_type(instance)}"


def tag_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a tag's value given by hand (``--tag``, a sheet's column),
    by the rules a record's bag-info values follow (one line, no control character, no
    surrogate or non-character), or None."""
    if len(value) > MAX_VALUE:
        return f"is longer than {MAX_VALUE} characters"
    return _explain_text(value, single_line=True, required=False) or None


def _explain_text(value: str, single_line: bool, *, required: bool = True) -> str:
    if not value.strip():
        return "must not be empty or only whitespace"
    if single_line and ("\n" in value or "\r" in value):
        return "must be a single line (no line breaks in bag-info values)"
    if single_line and value != value.strip():
        return "must not start or end with whitespace"
    allowed = "" if single_line else "\t\n\r"
    if any(ord(c) < 0x20 and c not in allowed for c in value) or (single_line and "\x7f" in value):
        return "contains a control character"
    if "\ufffe" in value or "\uffff" in value:
        return "contains a non-character (U+FFFE or U+FFFF)"
    if any("\ud800" <= c <= "\udfff" for c in value):
        return "contains a lone surrogate (a \\uD800-\\uDFFF escape not in a pair)"
    return "is not valid here" if required else ""


def _json_type(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        dict: "an object",
        list: "a list",
        type(None): "null",
    }.get(type(value), "a string")


# bag-info.txt labels -> the Dublin Core elements they say something about. Not
# Bagging-Date: when a bag was packed is never the date of the work it holds.
_BAG_INFO_DC = {
    "title": "title",
    "external-description": "description",
    "source-organization": "publisher",
    "external-identifier": "identifier",
    "bag-group-identifier": "relation",
    "contact-name": "contributor",
}


def record_from_bag_info(items: Sequence[tuple[str, str]], fallback_title: str | None) -> Record:
    """Dublin Core for a bag that has none: what its bag-info.txt says (a Title label, as
    APTrust bags have, else ``fallback_title``; None leaves the title to be derived)."""
    values: dict[str, list[str]] = {}
    for label, value in items:
        element = _BAG_INFO_DC.get(label.strip().lower())
        if element and value.strip():
            values.setdefault(element, []).append(value.strip())
    if fallback_title is not None:
        values.setdefault("title", [fallback_title])
    record = Record()
    for element, element_values in values.items():
        record = record.with_values(element, list(dict.fromkeys(element_values)))
    return record
