"""Archivematica: a zipped bag for the "Zipped bag" transfer type.

The shape follows what Archivematica's own code does with such a zip (artefactual/archivematica,
src/MCPClient/lib/clientScripts/ and src/archivematicaCommon/lib/):

- extract_zipped_transfer.py unpacks the zip with ``7z x`` into a folder named after the zip;
  when that holds a single entry, the entry *is* the bag ("ignoring BagIt internal name"),
  so the zip holds one top-level folder and the transfer takes the zip's file name. A name
  ending in .gz or .tgz is untarred instead, and the dashboard offers only .zip, .tgz and
  .tar.gz files for this transfer type, so an --out not ending in .zip is refused.
- verify_and_restructure_transfer_bag.py checks the bag with bag.is_valid, which is LoC
  bagit-python's ``Bag(path).validate()``; then moves data/objects to objects/,
  data/metadata to metadata/, data/logs to logs/, every other entry of data/ into objects/,
  data/processingMCP.xml and data/README.html to the transfer's root (processing
  configuration), the manifests to metadata/ and the other tag files to logs/BagIt/.
  So the payload goes under data/objects/: nothing the depositor named (a top folder
  "metadata", a file "processingMCP.xml") can be taken for Archivematica's own structure.
  bagit-python cannot find a file whose name holds '%' (it does not decode %25:
  LibraryOfCongress/bagit-python#157), so such a bag is refused rather than sent to fail.
- create_mets_v2.py looks a file's descriptive metadata up in metadata.csv by the path it had
  when the transfer arrived (its originallocation without %transferDirectory%): its path in
  the bag. Hence the docs' rule for bags, "the filename path must always begin with data"
  (archivematica-docs user-manual/transfer/import-metadata.rst, "Adding metadata to bags";
  archivematica/Issues#694 shows data/objects/... for a bag whose payload is in
  data/objects/). The row ``objects`` describes the transfer as a whole (the SIP's objects
  directory), as in Artefactual's sample bag SampleTransfers/BagExamples/UnzippedBags/
  BaggedDemoTransferCSV; sub-folder rows do not match in bags (archivematica/Issues#663).
  The bag's Dublin Core describes the item, so it is that row, and the only one: a file row
  repeating it made each file of the AIP METS claim every format and the bag's identifier,
  and a file row cannot carry less, since every row has every column and an empty cell
  becomes an empty element (archivematica/Issues#1517, #1535). What is true of one file
  alone (its format, size and digests) Archivematica records itself, in the file's PREMIS.
- archivematicaCreateMETSMetadataCSV.py reads the first row as the header and the first
  column as the file name, and collects the values of repeated headers (``dc.subject`` twice
  gives two subjects): every value of the record is its own column. Only UTF-8 is read
  correctly (import-metadata.rst); dc.* and dcterms.* columns become Dublin Core.
- bag-info.txt labels become XML element names in the AIP METS (user-manual/transfer/bags.rst,
  "Index and search bag metadata": labels "must be compliant with XML"), so a label that is
  not an XML name is refused.

The zip (members in byte order of their names, all dated by the clock, stored uncompressed:
deflate output differs between zlib builds, stored bytes do not; zip64 where sizes need it):

    <bag-id>/bagit.txt, bag-info.txt
    <bag-id>/manifest-sha256.txt, manifest-sha512.txt (and the two tag manifests)
    <bag-id>/data/objects/...                 the source's payload, paths as in its data/
    <bag-id>/data/metadata/metadata.csv       the record: one row, "objects"
    <bag-id>/data/metadata/submissionDocumentation/dc.xml, mets.xml, premis.xml

The folder is named after the bag's identifier, not --out, so the same bag gives the same
zip under any name (Archivematica ignores the folder's name anyway).
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import shutil
import stat
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

import bagit  # LoC bagit-python: what Archivematica's bag.is_valid runs

from archiver.bagit import algorithms, archives, baginfo, hashing, manifest, paths
from archiver.bagit.names import BAG_INFO_TXT
from archiver.bagit.writer import PayloadPart, write_bag
from archiver.codes import Severity
from archiver.errors import BagWriteError, ExportRefusedError, SourceError
from archiver.export.base import (
    Exporter,
    Options,
    PackageCheck,
    Written,
    metadata_findings,
    packed_profile_findings,
    payload_findings,
    unwritable,
    within,
)
from archiver.export.source import SourceBag
from archiver.findings import Finding, finding
from archiver.record import DC_ELEMENTS, Record
from archiver.staging import os_reason
from archiver.validation import inspect_bag
from archiver.version import AGENT

ALGORITHMS = algorithms.WRITTEN  # bagit-python, hence Archivematica, verifies both
OBJECTS = "data/objects"
METADATA_CSV = "data/metadata/metadata.csv"
SUBMISSION_DOCUMENTATION = "data/metadata/submissionDocumentation"
TRANSFER_ROW = "objects"  # metadata.csv's name for the transfer as a whole

# Source bag-info labels not carried over: the new bag has its own date, size and software,
# and it no longer follows archiver's profile.
_REPLACED = frozenset(
    label.lower()
    for label in (
        "Bagging-Date",
        "Payload-Oxum",
        "Bag-Size",
        "Bag-Software-Agent",
        "BagIt-Profile-Identifier",
    )
)
_XML_NAME = re.compile(r"[^\W\d][\w.-]*")  # an XML name without ':' (a letter or '_' first)
_COLUMN = re.compile(r"(dc|dcterms)\.[A-Za-z]+")
_ZIP_TYPES = ("application/zip",)  # the package's media type, for a profile's Serialization
_UNTARRED = (".gz", ".tgz")  # suffixes extract_zipped_transfer.py hands to tar
_ZIP_FIRST, _ZIP_LAST = datetime(1980, 1, 1), datetime(2107, 12, 31, 23, 59, 58)  # DOS dates
_CHUNK = 1 << 20


class ArchivematicaExporter:
    name: str = "archivematica"
    creates: Literal["folder", "file", "root"] = "file"

    def write(self, source: SourceBag, target: Path, options: Options) -> Written:
        _refuse_what_archivematica_cannot_take(source, target)
        top = folder_name(source.bag_id)
        build = target.with_name(f"{target.name}.bag")  # inside the staging folder
        try:
            write_bag(
                build,
                _parts(source),
                algorithms_=ALGORITHMS,
                bag_info=bag_info(source, options),
                expected={_object_path(p.name): p.digests for p in source.payload},
                shown=f"the bag for {options.shown(target)}",
            )
        except ValueError as exc:  # a payload file differs from its manifests: changed since
            raise SourceError(f"{source.root}: {exc}") from exc
        except hashing.SourceChangedError as exc:
            raise SourceError(str(exc)) from exc
        except OSError as exc:
            raise BagWriteError(
                f"cannot write the bag for {options.shown(target)}: {os_reason(exc)}"
            ) from exc
        try:
            zip_folder(build, top, target, zip_time(options))
        except OSError as exc:
            raise BagWriteError(f"cannot write {options.shown(target)}: {os_reason(exc)}") from exc
        finally:
            shutil.rmtree(build, ignore_errors=True)
        return Written()

    def check(self, target: Path, source: SourceBag, options: Options) -> PackageCheck:
        return _PackageCheck(target, source, options).run()


EXPORTER: Exporter = ArchivematicaExporter()


# -- what is written ---------------------------------------------------------------------


def folder_name(bag_id: str) -> str:
    """The zip's top-level folder: the bag's identifier, made safe as one path segment."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", bag_id).strip("._") or "bag"


def bag_info(source: SourceBag, options: Options) -> list[tuple[str, str]]:
    """The new bag-info: date and software of this bag, the profile it is to meet (a bag
    that complies with a BagIt profile names it), then the source's descriptive labels in
    their order (Payload-Oxum is added by the writer)."""
    items = [
        ("Bagging-Date", options.clock.now().date().isoformat()),
        ("Bag-Software-Agent", AGENT),
    ]
    if options.profile is not None:
        items.append(("BagIt-Profile-Identifier", options.profile.identifier))
    kept = kept_labels(source)
    if not any(label.lower() == "external-identifier" for label, _ in kept):
        items.append(("External-Identifier", source.bag_id))
    return items + kept


def kept_labels(source: SourceBag) -> list[tuple[str, str]]:
    """The source's labels that travel, in their order, values as the reader read them (a
    folded value keeps its line breaks: the writer folds it again)."""
    return [(label, value) for label, value in source.bag_info if label.lower() not in _REPLACED]


def metadata_csv(record: Record) -> bytes:
    """metadata.csv: ``filename``, then one column per Dublin Core value (repeated headers
    for repeated elements); one row, the transfer's, which the record describes."""
    header = ["filename"]
    values: list[str] = []
    for element, found in record.dc:
        header += [f"dc.{element}"] * len(found)
        values += found
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerow([TRANSFER_ROW, *values])
    return text.getvalue().encode("utf-8")


def _object_path(name: str) -> str:
    """Where a payload file (its path inside the source's data/) lands in the new bag."""
    return f"{OBJECTS}/{name}"


def _parts(source: SourceBag) -> Iterator[PayloadPart]:
    for item in source.payload:
        yield PayloadPart(_object_path(item.name), source=source.file(item.path))
    yield PayloadPart(METADATA_CSV, content=metadata_csv(source.record))
    for name in source.metadata:
        yield PayloadPart(_documentation_path(name), content=source.metadata_file(name))


def _documentation_path(name: str) -> str:
    """Where a metadata file of the source ("metadata/mets.xml") lands in the new bag."""
    return f"{SUBMISSION_DOCUMENTATION}/{PurePosixPath(name).name}"


def _refuse_what_archivematica_cannot_take(source: SourceBag, target: Path) -> None:
    problems = []
    if target.name.lower().endswith(_UNTARRED):
        problems.append(
            f"{target.name}: Archivematica untars a zipped bag whose name ends in .gz or .tgz"
        )
    elif target.suffix.lower() != ".zip":
        problems.append(
            f"{target.name}: the name does not end in .zip; Archivematica's dashboard offers "
            "only .zip, .tgz and .tar.gz files for the zipped bag transfer type"
        )
    for item in source.payload:
        if "%" in item.name:
            problems.append(
                f"{item.path}: LoC bagit-python, which Archivematica checks bags with, cannot "
                "find a file whose name holds '%' (bagit-python#157)"
            )
        elif not paths.is_utf8(item.name):
            problems.append(f"{item.path!r}: the name is not UTF-8; a zip member's must be")
    kept = kept_labels(source)
    problems += [
        f"bag-info label {label!r}: Archivematica writes labels as XML element names"
        for label, _ in kept
        if not _XML_NAME.fullmatch(label)
    ]
    problems += unwritable(item for item in kept if _XML_NAME.fullmatch(item[0]))
    if problems:
        raise ExportRefusedError(
            f"{source.root} cannot go to Archivematica as it is: {'; '.join(problems)}"
        )


def zip_time(options: Options) -> tuple[int, int, int, int, int, int]:
    """Every member's date: the clock's (UTC) within what a zip can say (to two seconds)."""
    now = min(max(options.clock.now().replace(tzinfo=None), _ZIP_FIRST), _ZIP_LAST)
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def zip_folder(
    folder: Path, top: str, target: Path, when: tuple[int, int, int, int, int, int]
) -> None:
    """Zip every file under ``folder`` as ``top/...`` into the new file ``target``
    (archives.write_archive: tag files before data/, one date, plain file modes, stored,
    no folder entries); the same folder gives the same bytes."""
    moment = calendar.timegm((*when, 0, 0, 0))
    style = archives.Style(mtime=moment, folders=False, compressed=False)
    archives.write_archive(folder, top, target, "zip", style)


# -- the check ---------------------------------------------------------------------------


class _PackageCheck:
    """Open the zip, unpack it safely, and hold the bag to Archivematica's rules. Finding
    paths are zip member names (the bag's folder, then its path in the bag)."""

    def __init__(self, target: Path, source: SourceBag, options: Options) -> None:
        self.target = target
        self.source = source
        self.options = options
        self.check = PackageCheck()
        self.top = ""  # the zip's one folder, the bag

    def run(self) -> PackageCheck:
        with tempfile.TemporaryDirectory(prefix=".check-", dir=self.target.parent) as scratch:
            bag = self._unpack(Path(scratch))
            if bag is not None:
                self._bag(bag)
        return self.check.verdict(self.target.name)

    def _at(self, rel: str = "") -> str:
        return f"{self.top}/{rel}" if rel else self.top

    # The zip: one folder, safe names, sound members.
    def _unpack(self, scratch: Path) -> Path | None:
        try:
            with zipfile.ZipFile(self.target) as archive:
                members = archive.infolist()
                problems = _member_problems(members)
                if problems:
                    self.check.rule("export.archivematica.zip", problems)
                    return None
                for info in members:
                    _extract(archive, info, scratch)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
            self.check.rule(
                "export.archivematica.zip",
                [finding("export.archivematica.zip", "", f"not a readable zip: {exc}")],
            )
            return None
        self.check.rule("export.archivematica.zip")
        self.top = members[0].filename.split("/", 1)[0]
        return scratch / self.top

    # The bag inside.
    def _bag(self, bag: Path) -> None:
        inspection = inspect_bag(bag)
        judged = within(self.top, inspection.report.findings)
        manifests = inspection.payload_manifests
        missing = [name for name in ALGORITHMS if name not in manifests]
        self.check.rule(
            "export.archivematica.bag",
            [
                *(f for f in judged if f.severity is not Severity.INFO),
                *self._reference(bag),
                *(
                    finding(
                        "export.archivematica.bag",
                        self._at(manifest.payload_manifest_name(name)),
                        "no such payload manifest; this export writes one, for bagit-python "
                        "to verify",
                        algorithm=name,
                    )
                    for name in missing
                ),
            ],
        )
        if self.options.profile is not None:
            self.check.rule(
                "export.profile",
                packed_profile_findings(self.options.profile, bag, self.top, _ZIP_TYPES),
            )
        self._payload(bag, set(inspection.inventory.payload), manifests)
        self._bag_info(inspection.bag_info)
        self._csv(bag)
        self._submission_documentation(bag)

    def _reference(self, bag: Path) -> list[Finding]:
        try:
            bagit.Bag(str(bag)).validate()
        except bagit.BagError as exc:
            return [
                finding(
                    "export.archivematica.bag",
                    self.top,
                    f"LoC bagit-python rejects it: {exc}",
                )
            ]
        return []

    def _payload(self, bag: Path, files: set[str], manifests: dict[str, dict[str, str]]) -> None:
        wanted = {_object_path(p.name): p for p in self.source.payload}
        ours = {
            path
            for path in files
            if path != METADATA_CSV and not path.startswith(f"{SUBMISSION_DOCUMENTATION}/")
        }
        self.check.rule(
            "export.source.files", payload_findings(bag, self.top, wanted, ours, manifests)
        )

    def _bag_info(self, elements: Sequence[baginfo.Element]) -> None:
        where = self._at(BAG_INFO_TXT)
        found = [(e.label, e.value) for e in elements]
        date = self.options.clock.now().date().isoformat()
        problems = []
        dates = [value for label, value in found if label == "Bagging-Date"]
        if dates != [date]:
            problems.append(
                finding(
                    "export.source.bag-info",
                    where,
                    "Bagging-Date is not the export's date",
                    label="Bagging-Date",
                    expected=date,
                    found=" | ".join(dates),
                )
            )
        if not any(label == "Payload-Oxum" for label, _ in found):
            problems.append(
                finding("export.source.bag-info", where, "no Payload-Oxum", label="Payload-Oxum")
            )
        kept = kept_labels(self.source)
        if [item for item in found if item in kept] != kept:
            problems.append(
                finding(
                    "export.source.bag-info",
                    where,
                    "the source bag's labels and values are not all there, in their order",
                    expected=len(kept),
                    found=len([item for item in found if item in kept]),
                )
            )
        self.check.rule("export.source.bag-info", problems)
        self.check.rule(
            "export.archivematica.bag-info-label",
            [
                finding(
                    "export.archivematica.bag-info-label",
                    where,
                    f"{element.label!r} is not an XML name",
                    label=element.label,
                    line=element.line,
                )
                for element in elements
                if not _XML_NAME.fullmatch(element.label)
            ],
        )

    def _csv(self, bag: Path) -> None:
        where = self._at(METADATA_CSV)
        rule = "export.archivematica.metadata-csv"
        try:
            raw = (bag / METADATA_CSV).read_bytes()
        except OSError:
            self.check.rule(rule, [finding(rule, where, "missing")])
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.check.rule(rule, [finding(rule, where, "not UTF-8", offset=exc.start)])
            return
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            self.check.rule(rule, [finding(rule, where, f"not CSV: {exc}")])
            return
        header = rows[0] if rows else []
        problems = []
        if text.startswith("\ufeff"):
            problems.append(finding(rule, where, "begins with a byte order mark"))
        if header[:1] != ["filename"]:
            problems.append(
                finding(
                    rule,
                    where,
                    "the first column is not 'filename'",
                    line=1,
                    found=header[0] if header else None,
                    expected="filename",
                )
            )
        problems += [
            finding(
                rule,
                where,
                f"{name!r} is not a dc.<element> or dcterms.<term> column",
                line=1,
                found=name,
            )
            for name in header[1:]
            if not _COLUMN.fullmatch(name)
            or (name.startswith("dc.") and name.split(".", 1)[1] not in DC_ELEMENTS)
        ]
        names = [row[0] for row in rows[1:] if row]
        if names.count(TRANSFER_ROW) != 1:
            problems.append(
                finding(
                    rule,
                    where,
                    f"not exactly one row '{TRANSFER_ROW}', the transfer",
                    count=names.count(TRANSFER_ROW),
                )
            )
        problems += [
            finding(
                rule,
                where,
                f"a row besides '{TRANSFER_ROW}': the record describes the transfer, not a "
                "file or folder of it",
                line=number,
                entry=row[0],
            )
            for number, row in enumerate(rows[1:], start=2)
            if row and row[0] != TRANSFER_ROW
        ]
        if len({len(row) for row in rows}) > 1:
            problems.append(finding(rule, where, "its rows have different numbers of columns"))
        self.check.rule(rule, problems)
        self.check.rule(
            "export.source.record",
            [
                finding(
                    "export.source.record",
                    where,
                    "the row does not carry the record's Dublin Core",
                    line=number,
                    entry=row[0],
                )
                for number, row in enumerate(rows[1:], start=2)
                if row
                and row[0] == TRANSFER_ROW
                and _row_record(header, row) != _dc(self.source.record)
            ],
        )

    def _submission_documentation(self, bag: Path) -> None:
        copies = {_documentation_path(name): name for name in self.source.metadata}
        self.check.rule(
            "export.source.files", metadata_findings(bag, self.top, self.source, copies)
        )


def _member_problems(members: Sequence[zipfile.ZipInfo]) -> list[Finding]:
    """The zip holds exactly one top-level folder, with safe, distinct names and no links."""
    rule = "export.archivematica.zip"
    names = [info.filename for info in members]
    problems = [
        finding(rule, name, "an unsafe member name (absolute, '..', a drive or a backslash)")
        for name in names
        if _unsafe_member(name)
    ]
    problems += [
        finding(rule, info.filename, "a symbolic link")
        for info in members
        if stat.S_ISLNK(info.external_attr >> 16)
    ]
    problems += [
        finding(rule, name, "beside the bag's folder, at the top of the zip")
        for name in names
        if "/" not in name
    ]
    problems += [
        finding(rule, name, "appears more than once", count=count)
        for name, count in sorted(Counter(names).items())
        if count > 1
    ]
    tops = sorted({name.split("/", 1)[0] for name in names})
    if len(tops) != 1:
        problems.append(
            finding(
                rule,
                "",
                f"{len(tops)} top-level entries, not the one folder of the bag",
                found=" | ".join(tops),
            )
        )
    return problems


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, scratch: Path) -> None:
    """One member, its name already judged safe; never over an existing file."""
    target = scratch / info.filename
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, target.open("xb") as out:  # CRC-32 checked at the end
        shutil.copyfileobj(src, out, _CHUNK)


def _unsafe_member(name: str) -> bool:
    parts = name.rstrip("/").split("/")
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or re.match(r"^[A-Za-z]:", name) is not None
        or any(part in {"", ".", ".."} for part in parts)
    )


def _dc(record: Record) -> dict[str, list[str]]:
    return {f"dc.{element}": list(values) for element, values in record.dc}


def _row_record(header: Sequence[str], row: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in zip(header[1:], row[1:], strict=False):
        if value:
            found.setdefault(name, []).append(value)
    return found
