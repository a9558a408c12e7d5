"""A spreadsheet of descriptions read as bags to make: one row, one bag (``archiver batch``).

Three kinds of sheet are read, told apart by their headers (docs/batch.md has the tables):

- archiver's own: ``source`` (paths, ``|`` between them), ``id``, ``dc.ELEMENT`` and
  ``bag-info/Label`` columns (a column repeated, or ``||`` in a cell, for several values);
- Archivematica's ``metadata.csv``: ``filename`` (``objects/...``) and ``dc.*`` columns,
  each file row one bag, an ``objects`` row giving every other row its defaults, any other
  column a bag-info label;
- DART's batch job CSV: ``Bag-Name``, ``Root-Directory`` and ``bag-info.txt/Label``
  columns (``aptrust-info.txt/Title`` and ``/Description`` read as dc.title and
  dc.description).

The sheet is CSV in UTF-8 (a BOM or none); rows whose cells are all empty (what Excel
leaves at the end) are skipped. A header the sheet's kind does not know fails the whole
sheet (UsageError, naming every one with a suggestion) before anything else is looked at:
a column is never silently ignored. Everything else wrong is a problem of its row -- its
number as a spreadsheet shows it (the header is row 1), its column, and why -- and the
other rows go on. Sources resolve against the sheet's folder (an Archivematica sheet's:
the transfer holding ``objects/``), or ``root``, and must stay inside it.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver import faults, identifiers
from archiver.bagit import baginfo
from archiver.bagit.names import BAG_INFO_TXT
from archiver.errors import MetadataError, SourceError, UsageError
from archiver.given import MiB, read_limited
from archiver.record import DC_ELEMENTS, Record, record_from_data

if TYPE_CHECKING:
    from archiver.check.profile import Profile
from archiver.sources import Resolver, plan_payload

# The column a sheet that was given back with its failures (an errors sheet) carries.
ERROR_COLUMN = "error"
# What separates several values in one cell, and several sources.
VALUES = "||"
SOURCES = "|"
# Excel's limit on a cell (32,767 characters) is far below this; a cell beyond it is no
# description but an attack on the reader.
_MAX_CELL = 1 << 20
# A sheet is read whole: millions of rows, and memory a few times its size.
MAX_SHEET_BYTES = 256 * MiB
_KINDS = ("archiver", "archivematica", "dart")


@dataclass(frozen=True)
class RowProblem:
    """Why one row cannot become a bag: its spreadsheet row number, the column, the reason."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class Job:
    """One row that can become a bag: where its files are, its id (None: derived), its
    record."""

    row: int
    sources: tuple[Path, ...]
    bag_id: str | None
    record: Record
    # values of tags in tag files other than bag-info.txt: (file, label, values)
    tags: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def tag_values(self) -> dict[tuple[str, str], list[str]]:
        return {(tag_file, label): list(values) for tag_file, label, values in self.tags}


@dataclass
class Sheet:
    """A sheet read: its kind, headers and rows as given, what each good row asks for, and
    what is wrong with the others."""

    path: Path
    kind: str
    digest: str  # SHA-256 of the file's bytes: what the batch journal keys rows by
    headers: list[str]
    cells: dict[int, list[str]] = field(default_factory=dict)  # row number -> as given
    jobs: list[Job] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.cells)

    def failed_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})


def read_sheet(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    profile: Profile | None = None,
    algorithms_: Sequence[str] | None = None,
    executor: Executor | None = None,
) -> Sheet:
    """Read and check the sheet at ``path``: every row a Job or its problems.

    UsageError (exit 2) when it cannot be read, is not UTF-8 CSV, has no header, or has a
    header its kind does not know. Sources are checked (they exist, are readable, stay
    inside the sheet's folder or ``root``), records checked against the record schema
    (dates read), ids checked and unique in the sheet; with a ``profile`` (or tag-file
    columns, which archiver's own profile then judges), each row's bag checked against it
    (archiver.profiles: required tags present, values allowed).

    What spans rows (an Archivematica ``objects`` row's defaults, ids given twice) is
    checked here, in order; what each row holds (its sources, record and tags) is checked
    on ``executor``'s workers when one is given (a process pool: the batch's), a chunk of
    rows a task, with the same outcome as here."""
    sheet_path = Path(path)
    try:
        data = read_limited(sheet_path, MAX_SHEET_BYTES)
    except OSError as exc:
        raise UsageError(f"{sheet_path}: cannot read the sheet: {exc.strerror or exc}") from exc
    rows = list(_csv_rows(sheet_path, data))
    if not rows:
        raise UsageError(f"{sheet_path}: the sheet is empty: its first row must name the columns")
    header_row, body = rows[0], rows[1:]
    headers = [cell.strip() for cell in header_row[1]]
    kind = _kind(sheet_path, headers)
    columns = _columns(sheet_path, kind, headers)
    base = Path(root) if root is not None else _base(sheet_path, kind)
    sheet = Sheet(sheet_path, kind, hashlib.sha256(data).hexdigest(), headers)
    sheet.warnings = _label_warnings(columns)
    built_to: Profile | None = None
    if profile is not None or algorithms_ is not None or any(c.role == "tag" for c in columns):
        from archiver.packing import profile_for
        from archiver.profiles import choose_algorithms

        built_to = profile_for(profile, algorithms_, tagged=True)
        if built_to is not None:
            choose_algorithms(built_to, algorithms_)  # a bad choice: exit 2, at once
    check = _RowCheck(
        len(headers),
        tuple(columns),
        base.resolve(),
        built_to,
        tuple(algorithms_) if algorithms_ is not None else None,
    )
    reader = _Rows(sheet, check)
    prepared: list[_Row] = []
    for number, cells in body:
        if not any(cell.strip() for cell in cells):
            continue  # an empty row (Excel's trailing ones)
        sheet.cells[number] = cells
        row = reader.row(number, cells)
        if row is not None:
            prepared.append(row)
    for jobs, problems in _checked(check, prepared, executor):
        sheet.jobs.extend(jobs)
        sheet.problems.extend(problems)
    reader.finish()
    return sheet


# Rows a worker checks at a time: enough to outweigh sending them, few enough that the
# workers share the last ones.
_CHUNK = 128


def _checked(
    check: _RowCheck, rows: list[_Row], executor: Executor | None
) -> Iterator[tuple[list[Job], list[RowProblem]]]:
    """Each chunk of ``rows`` checked, in order: on ``executor`` (a few chunks ahead, not
    the whole sheet copied to it at once), here when there is none, too few rows, or its
    workers broke."""
    chunks = [rows[start : start + _CHUNK] for start in range(0, len(rows), _CHUNK)]
    if executor is None or len(chunks) < 2:
        yield from map(check.rows, chunks)
        return
    pending: deque[Future[tuple[list[Job], list[RowProblem]]]] = deque()
    given = done = 0  # chunks handed to the executor; chunks whose outcome was yielded
    try:
        while done < len(chunks):
            while given < len(chunks) and given - done < 4:
                pending.append(executor.submit(_check_chunk, check, chunks[given]))
                given += 1
            outcome = pending.popleft().result()
            done += 1
            yield outcome
    except BrokenExecutor:  # a worker died (killed, out of memory): the rest is checked here
        for future in pending:
            future.cancel()
        yield from map(check.rows, chunks[done:])


# -- reading the CSV ------------------------------------------------------------------------


def _csv_rows(path: Path, data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) for every record of the CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}: line {line}: not UTF-8 (save the sheet as 'CSV UTF-8')") from exc
    if "\0" in text:
        raise UsageError(f"{path}: the sheet holds a NUL character: not a CSV file")
    # Lines as csv reads a file opened with newline="": ended by CR, LF or CRLF only (str
    # .splitlines() would also end one at a form feed, NEL or U+2028 inside a cell). Strict:
    # a quote never closed, or text after a closing quote, is no CSV, not a guess.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    limit = csv.field_size_limit()
    csv.field_size_limit(_MAX_CELL)
    try:
        number = 0
        for cells in reader:
            number += 1
            yield number, cells
    except csv.Error as exc:
        raise UsageError(f"{path}: row {number + 1}: not CSV: {exc}") from exc
    finally:
        csv.field_size_limit(limit)


def _kind(path: Path, headers: Sequence[str]) -> str:
    if "source" in headers:
        return "archiver"
    if "filename" in headers:
        return "archivematica"
    if "Bag-Name" in headers and "Root-Directory" in headers:
        return "dart"
    raise UsageError(
        f"{path}: no 'source' column (archiver's sheet), 'filename' (Archivematica's "
        "metadata.csv) or 'Bag-Name' and 'Root-Directory' (DART's batch CSV)"
    )


@dataclass(frozen=True)
class _Column:
    """What a column holds: the source(s), the id, a DC element, a bag-info label, or
    nothing to read (an errors sheet's error column)."""

    index: int
    header: str
    role: str  # "source", "id", "dc", "bag-info", "tag", "ignored"
    name: str = ""  # the DC element or the label
    tag_file: str = ""  # a tag's file, other than bag-info.txt


def _columns(path: Path, kind: str, headers: Sequence[str]) -> list[_Column]:
    columns: list[_Column] = []
    unknown: list[str] = []
    for index, header in enumerate(headers):
        column = _column(kind, index, header)
        if column is None:
            unknown.append(header)
        else:
            columns.append(column)
    if unknown:
        known = _known_headers(kind)
        described = []
        for header in unknown:
            close = difflib.get_close_matches(header, known, n=1, cutoff=0.7)
            hint = f": did you mean {close[0]}?" if close else ""
            described.append(f"{header or '(an empty header)'}{hint}")
        raise UsageError(
            f"{path}: unknown column{'s' if len(unknown) > 1 else ''} in this "
            f"{kind} sheet: {'; '.join(described)} (nothing was done)"
        )
    roles = [c.role for c in columns]
    for needed in ("source",):
        if needed not in roles:
            raise UsageError(f"{path}: no {needed} column")
    for single in ("source", "id"):
        if roles.count(single) > 1:
            raise UsageError(f"{path}: the {single} column is given {roles.count(single)} times")
    return columns


def _column(kind: str, index: int, header: str) -> _Column | None:
    if header == ERROR_COLUMN:
        return _Column(index, header, "ignored")
    if kind == "archiver":
        if header in ("source", "id"):
            return _Column(index, header, header)
        if header.startswith("dc.") and header[3:] in DC_ELEMENTS:
            return _Column(index, header, "dc", header[3:])
        if header.startswith("bag-info/") and _label(header[9:]):
            return _Column(index, header, "bag-info", header[9:])
        return _tag_column(index, header)
    if kind == "archivematica":
        if header == "filename":
            return _Column(index, header, "source")
        for prefix in ("dc.", "dcterms."):
            if header.startswith(prefix):
                element = header[len(prefix) :]
                return _Column(index, header, "dc", element) if element in DC_ELEMENTS else None
        # Archivematica keeps other columns as custom metadata: bag-info labels here.
        return _Column(index, header, "bag-info", header) if _label(header) else None
    # DART
    if header == "Bag-Name":
        return _Column(index, header, "id")
    if header == "Root-Directory":
        return _Column(index, header, "source")
    if header.startswith("bag-info.txt/") and _label(header[13:]):
        return _Column(index, header, "bag-info", header[13:])
    if header in ("aptrust-info.txt/Title", "aptrust-info.txt/Description"):
        return _Column(index, header, "dc", header.rsplit("/", 1)[1].lower())
    return _tag_column(index, header)


def _tag_column(index: int, header: str) -> _Column | None:
    """A tag of a tag file other than bag-info.txt, as DART names it: ``FILE.txt/Label``."""
    tag_file, _, label = header.rpartition("/")
    if not tag_file.endswith(".txt") or tag_file == BAG_INFO_TXT or not _label(label):
        return None
    if any(part in ("", ".", "..") for part in tag_file.split("/")) or tag_file.startswith("data/"):
        return None
    return _Column(index, header, "tag", label, tag_file)


def _cell_values(cell: str) -> list[str]:
    """A cell's values: ``||`` between several, blanks dropped."""
    return [value.strip() for value in cell.split(VALUES) if value.strip()]


def _label(label: str) -> bool:
    return bool(label) and baginfo.label_problem(label) is None


def _known_headers(kind: str) -> list[str]:
    if kind == "archiver":
        return ["source", "id", *(f"dc.{e}" for e in DC_ELEMENTS)]
    if kind == "archivematica":
        return ["filename", *(f"dc.{e}" for e in DC_ELEMENTS)]
    return ["Bag-Name", "Root-Directory", "aptrust-info.txt/Title", "aptrust-info.txt/Description"]


def _base(path: Path, kind: str) -> Path:
    """Where a sheet's sources are: its folder; an Archivematica sheet's transfer (the
    folder holding objects/, metadata/metadata.csv beside it)."""
    folder = path.absolute().parent
    if (
        kind == "archivematica"
        and folder.name == "metadata"
        and (folder.parent / "objects").is_dir()
    ):
        return folder.parent
    return folder


def _label_warnings(columns: Sequence[_Column]) -> list[str]:
    warnings = []
    for column in columns:
        if column.role == "bag-info":
            reserved = baginfo.near_reserved(column.name)
            if reserved is not None:
                warnings.append(
                    f"column {column.header}: bag-info label {column.name!r} is one or two "
                    f"letters from the reserved {reserved!r}; did you mean {reserved}?"
                )
    return warnings


# -- rows -----------------------------------------------------------------------------------


def _check_chunk(check: _RowCheck, rows: list[_Row]) -> tuple[list[Job], list[RowProblem]]:
    """What a worker runs: a chunk of rows checked."""
    faults.point(f"sheet.check-{rows[0].number}")  # the tests' chunk whose worker dies
    return check.rows(rows)


@dataclass(frozen=True)
class _Row:
    """A row that passed the checks spanning rows: its cells (defaults filled in), its id
    ("" for one derived when bagging) and whether that id may be used."""

    number: int
    cells: list[str]
    bag_id: str
    usable: bool


class _Rows:
    """The checks that span the rows of one sheet, row after row: a row's width, an
    Archivematica ``objects`` row's defaults for the rows after it, ids given twice."""

    def __init__(self, sheet: Sheet, check: _RowCheck) -> None:
        self.sheet = sheet
        self.check = check
        self.defaults: dict[int, str] = {}  # Archivematica's objects row: index -> cell
        self.ids: dict[str, int] = {}
        self.source = next(c for c in check.columns if c.role == "source")
        self.id_column = next((c for c in check.columns if c.role == "id"), None)

    def problem(self, row: int, column: str, message: str) -> None:
        self.sheet.problems.append(RowProblem(row, column, message))

    def row(self, number: int, cells: list[str]) -> _Row | None:
        """The row, for its own checks (_RowCheck); None when it is no bag's (too wide, or
        Archivematica's objects row)."""
        width = self.check.width
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            self.problem(number, "", f"{len(cells)} cells, but {width} columns")
            return None
        cells = cells + [""] * (width - len(cells))
        if (
            self.sheet.kind == "archivematica"
            and cells[self.source.index].strip().rstrip("/") == "objects"
        ):
            self.defaults = {
                c.index: cells[c.index] for c in self.check.columns if cells[c.index].strip()
            }
            self.sheet.cells.pop(number, None)  # defaults, not a bag
            return None
        if self.defaults:
            cells = [
                cell if cell.strip() else self.defaults.get(i, "") for i, cell in enumerate(cells)
            ]
        usable, bag_id = self.bag_id(number, cells)
        return _Row(number, cells, bag_id, usable)

    def bag_id(self, number: int, cells: list[str]) -> tuple[bool, str]:
        """(whether the row's id is usable, the id: '' for one derived when bagging)."""
        column = self.id_column
        value = cells[column.index].strip() if column is not None else ""
        if column is None or not value:
            return True, ""
        try:
            identifiers.check_bag_id(value)
        except UsageError as exc:
            self.problem(number, column.header, str(exc))
            return False, value
        first = self.ids.setdefault(value, number)
        if first != number:
            self.problem(number, column.header, f"id {value} is given on row {first} too")
            return False, value
        return True, value

    def finish(self) -> None:
        self.sheet.problems.sort(key=lambda p: (p.row, p.column))
        failed = {p.row for p in self.sheet.problems}
        self.sheet.jobs = [job for job in self.sheet.jobs if job.row not in failed]


@dataclass(frozen=True)
class _RowCheck:
    """The checks of what a row holds -- its sources, record and tags, and the profile its
    bag is built to -- which need no other row: picklable, for a worker process."""

    width: int  # the header's cells
    columns: tuple[_Column, ...]
    base: Path
    profile: Profile | None  # what each row's bag is built to
    algorithms: tuple[str, ...] | None

    def rows(self, rows: Sequence[_Row]) -> tuple[list[Job], list[RowProblem]]:
        """Each row a Job, or its problems. One Resolver for them: they name files in a few
        folders."""
        jobs: list[Job] = []
        problems: list[RowProblem] = []
        resolver = Resolver()
        for row in rows:
            found: list[RowProblem] = []
            sources = self.sources(row, resolver, found)
            record = self.record(row, found)
            tags = self.tags(row.cells)
            if record is not None and not self.meets_profile(row.number, record, tags, found):
                record = None
            if sources is not None and record is not None and row.usable:
                packed = tuple((f, label, tuple(v)) for (f, label), v in tags.items())
                jobs.append(Job(row.number, sources, row.bag_id or None, record, packed))
            problems.extend(found)
        return jobs, problems

    def tags(self, cells: list[str]) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for column in self.columns:
            if column.role != "tag":
                continue
            values = _cell_values(cells[column.index])
            if values:
                found.setdefault((column.tag_file, column.name), []).extend(values)
        return found

    def meets_profile(
        self,
        number: int,
        record: Record,
        tags: dict[tuple[str, str], list[str]],
        found: list[RowProblem],
    ) -> bool:
        """Whether the row's bag can be built to the profile; its problems, when not."""
        if self.profile is None:
            return True
        from archiver.packing import profile_plan

        try:
            profile_plan(self.profile, record, self.algorithms, tags, None, early=True)
        except MetadataError as exc:
            headers = {
                (c.tag_file or (BAG_INFO_TXT if c.role == "bag-info" else ""), c.name): c.header
                for c in self.columns
            }
            for problem in exc.problems:
                tag_file, _, label = problem.field.rpartition("/")
                column = headers.get((tag_file, label), problem.field)
                found.append(RowProblem(number, column, problem.message))
            return False
        return True

    def sources(
        self, row: _Row, resolver: Resolver, found: list[RowProblem]
    ) -> tuple[Path, ...] | None:
        column = next(c for c in self.columns if c.role == "source")
        number, base = row.number, self.base
        given = [part.strip() for part in row.cells[column.index].split(SOURCES) if part.strip()]
        if not given:
            found.append(RowProblem(number, column.header, "no source given"))
            return None
        paths: list[Path] = []
        for name in given:
            path = Path(name)
            full = path if path.is_absolute() else base / path
            real = resolver.real(full)
            if real != base and base not in real.parents:
                message = f"{name}: outside {base}, where sources must be"
                found.append(RowProblem(number, column.header, message))
                return None
            if not os.path.lexists(full):
                found.append(RowProblem(number, column.header, f"{name}: no such file or folder"))
                return None
            paths.append(full)
        try:
            planned = plan_payload(paths, resolver=resolver)
        except SourceError as exc:
            found.append(RowProblem(number, column.header, str(exc)))
            return None
        for item in planned:
            try:
                os.close(os.open(item.source, os.O_RDONLY | os.O_CLOEXEC))  # type: ignore[arg-type]
            except OSError as exc:
                message = f"{item.source}: cannot read: {exc.strerror}"
                found.append(RowProblem(number, column.header, message))
                return None
        return tuple(paths)

    def record(self, row: _Row, found: list[RowProblem]) -> Record | None:
        data: dict[str, Any] = {}
        labels: dict[str, list[str]] = {}
        headers: dict[str, str] = {}  # record field -> the column it came from
        for column in self.columns:
            values = _cell_values(row.cells[column.index])
            if not values:
                continue
            if column.role == "dc":
                data.setdefault(column.name, []).extend(values)
                headers.setdefault(column.name, column.header)
            elif column.role == "bag-info":
                labels.setdefault(column.name, []).extend(values)
                headers.setdefault(f"bag-info.{column.name}", column.header)
        if labels:
            data["bag-info"] = labels
        try:
            return record_from_data(data, f"row {row.number}")
        except MetadataError as exc:
            for problem in exc.problems:
                field_ = problem.field.split("[", 1)[0]
                found.append(RowProblem(row.number, headers.get(field_, field_), problem.message))
            return None


__all__ = ["ERROR_COLUMN", "Job", "RowProblem", "Sheet", "read_sheet"]
