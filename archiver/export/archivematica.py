"""Archivematica: a zipped bag for the "Zipped bag" transfer type.

The shape follows what Archivematica's own code does with such a zip (artefactual/archivematica,
src/MCPClient/lib/clientScripts/ and src/archivematicaCommon/lib/):

- extract_zipped_transfer.py unpacks the zip with ``7z x`` into a folder named after the zip;
  when that holds a single entry, the entry *is* the bag ("ignoring BagIt internal name"),
  so the zip holds one top-level folder and the transfer takes the zip's file name. A name
  ending in .gz or .tgz is untarred instead, so such an --out is refused.
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
  BaggedDemoTransferCSV; sub-folder rows do not match in bags (archivematica/Issues#663),
  so none are written.
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
    <bag-id>/data/metadata/metadata.csv       the record: a row "objects", a row per file
    <bag-id>/data/metadata/submissionDocumentation/dc.xml, mets.xml, premis.xml

The folder is named after the bag's identifier, not --out, so the same bag gives the same
zip under any name (Archivematica ignores the folder's name anyway).
"""

from __future__ import annotations

import csv
import io
import os
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

from archiver.bagit import algorithms, baginfo, hashing, paths
from archiver.bagit.writer import PayloadPart, write_bag
from archiver.check.profile import load_profile
from archiver.errors import BagWriteError, SourceError
from archiver.export.base import (
    Exporter,
    ExportRefusedError,
    Options,
    PackageCheckError,
    Written,
)
from archiver.export.source import SourceBag
from archiver.record import DC_ELEMENTS, Record
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
            )
        except ValueError as exc:  # a payload file differs from its manifests: changed since
            raise SourceError(f"{source.root}: {exc}") from exc
        except hashing.SourceChangedError as exc:
            raise SourceError(str(exc)) from exc
        except OSError as exc:
            raise BagWriteError(f"cannot write the bag for {target}: {exc}") from exc
        try:
            zip_folder(build, top, target, zip_time(options))
        except OSError as exc:
            raise BagWriteError(f"cannot write {target}: {exc}") from exc
        finally:
            shutil.rmtree(build, ignore_errors=True)
        if target.suffix.lower() != ".zip":
            return Written(
                notes=(
                    f"{target.name} does not end in .zip: Archivematica's dashboard offers "
                    "only .zip, .tgz and .tar.gz files for the zipped bag transfer type",
                )
            )
        return Written()

    def check(self, target: Path, source: SourceBag, options: Options) -> list[str]:
        return _PackageCheck(target, source, options).run()


EXPORTER: Exporter = ArchivematicaExporter()


# -- what is written ---------------------------------------------------------------------


def folder_name(bag_id: str) -> str:
    """The zip's top-level folder: the bag's identifier, made safe as one path segment."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", bag_id).strip("._") or "bag"


def bag_info(source: SourceBag, options: Options) -> list[tuple[str, str]]:
    """The new bag-info: date and software of this bag, then the source's descriptive labels
    in their order (Payload-Oxum is added by the writer)."""
    items = [
        ("Bagging-Date", options.clock.now().date().isoformat()),
        ("Bag-Software-Agent", AGENT),
    ]
    kept = kept_labels(source)
    if not any(label.lower() == "external-identifier" for label, _ in kept):
        items.append(("External-Identifier", source.bag_id))
    return items + kept


def kept_labels(source: SourceBag) -> list[tuple[str, str]]:
    """The source's labels that travel, values unfolded onto one line."""
    return [
        (label, " ".join(value.split("\n")))
        for label, value in source.bag_info
        if label.lower() not in _REPLACED
    ]


def metadata_csv(record: Record, files: Sequence[str]) -> bytes:
    """metadata.csv: ``filename``, then one column per Dublin Core value (repeated headers
    for repeated elements); the transfer's row, then one row per payload file."""
    header = ["filename"]
    values: list[str] = []
    for element, found in record.dc:
        header += [f"dc.{element}"] * len(found)
        values += found
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for name in [TRANSFER_ROW, *files]:
        writer.writerow([name, *values])
    return text.getvalue().encode("utf-8")


def _object_path(name: str) -> str:
    """Where a payload file (its path inside the source's data/) lands in the new bag."""
    return f"{OBJECTS}/{name}"


def _parts(source: SourceBag) -> Iterator[PayloadPart]:
    files = [_object_path(p.name) for p in source.payload]
    for item, rel in zip(source.payload, files, strict=True):
        yield PayloadPart(rel, source=source.root / item.path)
    yield PayloadPart(METADATA_CSV, content=metadata_csv(source.record, files))
    for name in source.metadata:
        yield PayloadPart(
            f"{SUBMISSION_DOCUMENTATION}/{PurePosixPath(name).name}",
            content=source.metadata_file(name),
        )


def _refuse_what_archivematica_cannot_take(source: SourceBag, target: Path) -> None:
    problems = []
    if target.name.lower().endswith(_UNTARRED):
        problems.append(
            f"{target.name}: Archivematica untars a zipped bag whose name ends in .gz or .tgz"
        )
    for item in source.payload:
        if "%" in item.name:
            problems.append(
                f"{item.path}: LoC bagit-python, which Archivematica checks bags with, cannot "
                "find a file whose name holds '%' (bagit-python#157)"
            )
        elif not paths.is_utf8(item.name):
            problems.append(f"{item.path!r}: the name is not UTF-8; a zip member's must be")
    for label, value in kept_labels(source):
        if not _XML_NAME.fullmatch(label):
            problems.append(
                f"bag-info label {label!r}: Archivematica writes labels as XML element names"
            )
        elif problem := baginfo.value_problem(value):
            problems.append(f"bag-info {label}: {problem}")
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
    """Zip every file under ``folder`` as ``top/...`` into the new file ``target``: members
    in byte order of their names, one date, plain file modes, stored; the same folder gives
    the same bytes."""
    files = sorted(_files(folder), key=lambda rel: rel.encode("utf-8"))
    with zipfile.ZipFile(target, "x", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for rel in files:
            path = folder / rel
            info = zipfile.ZipInfo(f"{top}/{rel}", date_time=when)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, whatever system writes it
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.file_size = path.stat().st_size  # decides zip64 for this member
            with path.open("rb") as src, archive.open(info, "w") as out:
                shutil.copyfileobj(src, out, _CHUNK)


def _files(folder: Path) -> Iterator[str]:
    for parent, _, names in os.walk(folder):
        for name in names:
            yield (Path(parent) / name).relative_to(folder).as_posix()


# -- the check ---------------------------------------------------------------------------


class _PackageCheck:
    """Open the zip, unpack it safely, and hold the bag to Archivematica's rules."""

    def __init__(self, target: Path, source: SourceBag, options: Options) -> None:
        self.target = target
        self.source = source
        self.options = options
        self.held: list[str] = []
        self.broken: list[str] = []

    def run(self) -> list[str]:
        with tempfile.TemporaryDirectory(prefix=".check-", dir=self.target.parent) as scratch:
            bag = self._unpack(Path(scratch))
            if bag is not None:
                self._bag(bag)
        if self.broken:
            raise PackageCheckError(
                f"{self.target} breaks Archivematica's rules: {'; '.join(self.broken)}"
            )
        return self.held

    def _rule(self, ok: bool, held: str, broken: str) -> bool:
        (self.held if ok else self.broken).append(held if ok else broken)
        return ok

    # The zip: one folder, safe names, sound members.
    def _unpack(self, scratch: Path) -> Path | None:
        try:
            with zipfile.ZipFile(self.target) as archive:
                members = archive.infolist()
                if not self._names(members):
                    return None
                for info in members:
                    _extract(archive, info, scratch)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
            self.broken.append(f"not a readable zip ({exc})")
            return None
        top = members[0].filename.split("/", 1)[0]
        self.held.append(
            f"zip: {len(members)} members, all under the one folder {top}/ (the bag), "
            "safe names, CRC-32 of every member holds"
        )
        return scratch / top

    def _names(self, members: Sequence[zipfile.ZipInfo]) -> bool:
        names = [info.filename for info in members]
        unsafe = [name for name in names if _unsafe_member(name)]
        links = [i.filename for i in members if stat.S_ISLNK(i.external_attr >> 16)]
        tops = sorted({name.split("/", 1)[0] for name in names})
        loose = [name for name in names if "/" not in name]  # files beside the folder
        twice = sorted(name for name, count in Counter(names).items() if count > 1)
        ok = len(tops) == 1 and not (unsafe or links or loose or twice)
        if not ok:
            self.broken.append(
                "the zip must hold exactly one top-level folder with safe, distinct member "
                f"names and no links (top level: {tops}; unsafe: {unsafe}; links: {links}; "
                f"repeated: {twice})"
            )
        return ok

    # The bag inside.
    def _bag(self, bag: Path) -> None:
        given = self.options.profile
        profile = load_profile(given) if given else None
        inspection = inspect_bag(bag, profile=profile)
        errors = [f for f in inspection.report.findings if f.severity == "error"]
        judged = "BagIt 1.0" + (f" and profile {given.name}" if given else "")
        self._rule(
            not errors,
            f"archiver's validator: a valid {judged} bag, every digest verified",
            "archiver's validator finds the bag invalid: "
            + "; ".join(f"{f.code} {f.path}: {f.message}" for f in errors),
        )
        self._reference(bag)
        manifests = inspection.payload_manifests
        self._rule(
            all(name in manifests for name in ALGORITHMS),
            f"manifests and tag manifests in {' and '.join(ALGORITHMS)}",
            f"payload manifests must include {' and '.join(ALGORITHMS)}, found {sorted(manifests)}",
        )
        self._payload(bag, set(inspection.inventory.payload), manifests)
        self._bag_info({e.label: e.value for e in inspection.bag_info})
        self._csv(bag)
        self._submission_documentation(bag)

    def _reference(self, bag: Path) -> None:
        try:
            bagit.Bag(str(bag)).validate()
        except bagit.BagError as exc:
            self.broken.append(f"LoC bagit-python (Archivematica's validator) rejects it: {exc}")
        else:
            self.held.append("LoC bagit-python (what Archivematica verifies bags with): valid")

    def _payload(self, bag: Path, files: set[str], manifests: dict[str, dict[str, str]]) -> None:
        wanted = {_object_path(p.name): p for p in self.source.payload}
        extra = sorted(
            path
            for path in files - set(wanted)
            if path != METADATA_CSV and not path.startswith(f"{SUBMISSION_DOCUMENTATION}/")
        )
        differ = sorted(
            path
            for path, item in wanted.items()
            if path not in files
            or not _same_file(bag / path, item.size, item.digests, manifests, path)
        )
        self._rule(
            not extra and not differ,
            f"payload: the source's {_count(len(wanted))} under {OBJECTS}/, byte for byte "
            "(sizes and digests as the source's manifests give them), nothing else",
            f"payload must be the source's files under {OBJECTS}/ and nothing else "
            f"(missing or different: {differ}; unexpected: {extra})",
        )

    def _bag_info(self, found: dict[str, str]) -> None:
        date = self.options.clock.now().date().isoformat()
        lost = [label for label, value in kept_labels(self.source) if found.get(label) != value]
        self._rule(
            found.get("Bagging-Date") == date and "Payload-Oxum" in found and not lost,
            f"bag-info: Bagging-Date {date}, Payload-Oxum, and the source's "
            f"{len(kept_labels(self.source))} descriptive labels kept",
            f"bag-info must carry Bagging-Date {date}, a Payload-Oxum and the source's "
            f"descriptive labels (Bagging-Date: {found.get('Bagging-Date')}; lost: {lost})",
        )
        names = [label for label in found if not _XML_NAME.fullmatch(label)]
        self._rule(
            not names,
            "bag-info labels are XML names (Archivematica writes them into its METS)",
            f"bag-info labels must be XML names: {names}",
        )

    def _csv(self, bag: Path) -> None:
        path = bag / METADATA_CSV
        try:
            raw = path.read_bytes()
        except OSError:
            self.broken.append(f"{METADATA_CSV} is missing")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.broken.append(f"{METADATA_CSV} must be UTF-8 ({exc.reason})")
            return
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            self.broken.append(f"{METADATA_CSV} is not CSV ({exc})")
            return
        header = rows[0] if rows else []
        self._rule(
            not text.startswith("\ufeff")
            and header[:1] == ["filename"]
            and all(_COLUMN.fullmatch(h) for h in header[1:])
            and all(h.split(".", 1)[1] in DC_ELEMENTS for h in header[1:] if h.startswith("dc.")),
            f"{METADATA_CSV}: UTF-8, header 'filename' then {len(header) - 1} dc.* columns",
            f"{METADATA_CSV} must be UTF-8 without BOM, its header 'filename' then dc.<element> "
            f"or dcterms.<term> columns (header: {header})",
        )
        names = [row[0] for row in rows[1:] if row]
        files = sorted(_object_path(p.name) for p in self.source.payload)
        missing_files = [n for n in names if n != TRANSFER_ROW and not (bag / n).is_file()]
        self._rule(
            sorted(n for n in names if n != TRANSFER_ROW) == files
            and names.count(TRANSFER_ROW) == 1
            and not missing_files,
            f"{METADATA_CSV}: a row '{TRANSFER_ROW}' and one row per payload file "
            f"({_count(len(files))}), named by their paths in the bag (data/...), each present",
            f"{METADATA_CSV} must have one row '{TRANSFER_ROW}' and one per payload file, named "
            f"by its path in the bag (rows: {names}; payload: {files}; "
            f"not in the bag: {missing_files})",
        )
        wrong = [
            row[0]
            for row in rows[1:]
            if row and _row_record(header, row) != _dc(self.source.record)
        ]
        self._rule(
            not wrong and len({len(row) for row in rows}) == 1,
            f"{METADATA_CSV}: every row carries the record's Dublin Core, every value kept",
            f"{METADATA_CSV} rows must carry the record's Dublin Core (rows that differ: {wrong})",
        )

    def _submission_documentation(self, bag: Path) -> None:
        folder = bag / SUBMISSION_DOCUMENTATION
        differ = []
        for name in self.source.metadata:
            copy = folder / PurePosixPath(name).name
            if not copy.is_file() or copy.read_bytes() != self.source.metadata_file(name):
                differ.append(name)
        names = sorted(PurePosixPath(name).name for name in self.source.metadata)
        self._rule(
            not differ,
            f"{SUBMISSION_DOCUMENTATION}/: the source's {', '.join(names) or 'no metadata files'}"
            ", byte for byte",
            f"{SUBMISSION_DOCUMENTATION}/ must hold the source's metadata files byte for byte "
            f"(missing or different: {differ})",
        )


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


def _same_file(
    path: Path,
    size: int,
    digests: dict[str, str],
    manifests: dict[str, dict[str, str]],
    rel: str,
) -> bool:
    """Whether the unpacked file is the source's: its size, and its digests in every
    algorithm the source's manifests give (from the new manifests, verified by the validator,
    or digested here when the new bag has no such manifest)."""
    if path.stat().st_size != size or not digests:
        return False
    unknown = [name for name in digests if name not in manifests]
    computed = hashing.digest_file(path, unknown).digests if unknown else {}
    return all(
        (manifests[name].get(rel) if name in manifests else computed.get(name)) == want.lower()
        for name, want in digests.items()
    )


def _count(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _dc(record: Record) -> dict[str, list[str]]:
    return {f"dc.{element}": list(values) for element, values in record.dc}


def _row_record(header: Sequence[str], row: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in zip(header[1:], row[1:], strict=False):
        if value:
            found.setdefault(name, []).append(value)
    return found
