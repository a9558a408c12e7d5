"""The main job: source files + a metadata record -> a complete, verified BagIt 1.0 bag.

    plan the payload (sources) -> copy and digest every file once (bagit.hashing)
    -> identify formats and text properties -> derive the missing metadata (record)
    -> describe provenance -> write DC, PREMIS, METS (xml builders) and the manifests
    -> move the bag into place.

The bag is built in a hidden staging folder beside the target and appears whole or not at
all (staging). The user's sources are only ever opened for reading.

No schema check runs here: validating the METS and PREMIS of 10,000 files against the XSDs
takes more CPU than bagging them. The documents are valid by construction -- the builders
write only the elements, order and vocabulary terms the schemas allow, and lxml escapes
every value and refuses what XML 1.0 cannot hold -- and the tests check that: they validate
the documents of every kind of bag they make (text and binary payloads, every shape of
PREMIS file object, odd file names, ingested bags) against the vendored XSDs.
``archiver validate`` checks any bag's documents against them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from archiver import formats, identifiers, layout
from archiver.bagit import algorithms, baginfo, hashing, manifest
from archiver.clock import Clock, w3cdtf
from archiver.errors import BagWriteError, SourceError
from archiver.formats import Format
from archiver.provenance import (
    Agent,
    Event,
    FileObject,
    Identifier,
    Provenance,
    Representation,
    event_identifier,
)
from archiver.record import Record
from archiver.sources import PayloadFile, plan_payload
from archiver.staging import Staging, check_target
from archiver.text import TextAnalyser, TextVerdict
from archiver.version import AGENT, NAME, VERSION
from archiver.xml import dc, mets, premis, writing

_TITLE_MAX = 200


@dataclass(frozen=True)
class CopiedFile:
    """A payload file after its single pass: where it went, its digests and what it is."""

    item: PayloadFile
    size: int
    digests: dict[str, str]
    format: Format
    text: TextVerdict


@dataclass(frozen=True)
class BagResult:
    """What ``make_bag`` wrote."""

    path: Path
    bag_id: str
    bagging_date: str
    payload_oxum: str
    record: Record
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        """The ``archiver bag --json`` summary (schemas/bag-result.schema.json)."""
        return {
            "path": str(self.path),
            "id": self.bag_id,
            "bagging_date": self.bagging_date,
            "payload_oxum": self.payload_oxum,
            "files": [_file_json(obj) for obj in self.provenance.files],
            "metadata": {
                "dc": {element: list(values) for element, values in self.record.dc},
                "bag_info": [[label, value] for label, value in self.record.bag_info],
            },
        }


def _file_json(obj: FileObject) -> dict[str, Any]:
    return {
        "path": obj.path,
        "size": obj.size,
        "sha256": obj.digests["sha256"],
        "sha512": obj.digests["sha512"],
        "format": {
            "puid": obj.format.puid,
            "name": obj.format.name,
            "version": obj.format.version,
            "mimetype": obj.format.mimetype,
        },
        "text": None
        if obj.text is None
        else {
            "encoding": obj.text.encoding,
            "byte_order_mark": obj.text.byte_order_mark,
            "line_endings": obj.text.line_endings,
            "characters": obj.text.characters,
        },
    }


@dataclass(frozen=True)
class Origin:
    """A payload that comes from a bag made elsewhere (see ingest), not from loose files."""

    # bag path -> algorithm -> digest the foreign bag's manifests promise; each file is
    # digested in these algorithms too as it is copied, and must match
    expected: Mapping[str, Mapping[str, str]]
    # the foreign bag's own tag files, kept byte for byte: (bag path here, file there)
    tag_files: Sequence[tuple[str, Path]]
    # adds what happened before packing (validation, ingestion) to the provenance
    amend: Callable[[Provenance, Agent, datetime], Provenance]


def make_bag(
    sources: Sequence[Path],
    out_dir: Path,
    *,
    record: Record | None = None,
    bag_id: str | None = None,
    force: bool = False,
    clock: Clock | None = None,
    workers: int | None = None,
) -> BagResult:
    """Bag ``sources`` into ``out_dir/<id>``; raise an ArchiverError when that cannot be done."""
    if bag_id is not None:
        identifiers.check_bag_id(bag_id)
        check_target(out_dir / bag_id, replace=force)
    plan = plan_payload(sources, out_dir)
    return pack(
        plan, out_dir, record=record, bag_id=bag_id, force=force, clock=clock, workers=workers
    )


def pack(
    plan: Sequence[PayloadFile],
    out_dir: Path,
    *,
    record: Record | None = None,
    bag_id: str | None = None,
    force: bool = False,
    clock: Clock | None = None,
    workers: int | None = None,
    origin: Origin | None = None,
) -> BagResult:
    """Bag a planned payload into ``out_dir/<id>`` (the work behind make_bag and ingest)."""
    clock = clock or Clock.from_environment()
    record = record or Record()
    if bag_id is not None:
        identifiers.check_bag_id(bag_id)
        check_target(out_dir / bag_id, replace=force)
    now = clock.now()
    names = list(algorithms.WRITTEN)
    if origin is not None:
        names += sorted({a for sums in origin.expected.values() for a in sums} - set(names))
    with Staging(out_dir) as staging:
        copied = _copy_payload(plan, staging.path, workers or hashing.default_workers(), names)
        if origin is not None:
            _check_expected(copied, origin.expected)
        full_record = derive_record(record, copied)
        if bag_id is None:
            bag_id = identifiers.derive_bag_id(
                full_record.values("title")[0],
                ((c.item.path, c.digests["sha256"]) for c in copied),
            )
        target = out_dir / bag_id
        check_target(target, replace=force)
        full_record = _with_identifier(full_record, bag_id)
        software = software_agent()
        provenance = describe(bag_id, copied, full_record, software, now)
        if origin is not None:
            provenance = origin.amend(provenance, software, now)
        oxum = baginfo.oxum(sum(c.size for c in copied), len(copied))
        extra = origin.tag_files if origin is not None else ()
        _write_tag_files(staging.path, bag_id, full_record, provenance, software, now, oxum, extra)
        _settle_times(staging.path, now)
        staging.commit(target, replace=force)
    return BagResult(target, bag_id, now.date().isoformat(), oxum, full_record, provenance)


class _Head:
    """Keeps the first bytes of a file for format identification."""

    def __init__(self) -> None:
        self.data = b""

    def __call__(self, chunk: memoryview) -> None:
        if len(self.data) < formats.HEAD_SIZE:
            self.data += bytes(chunk[: formats.HEAD_SIZE - len(self.data)])


def _copy_payload(
    plan: Sequence[PayloadFile], root: Path, workers: int, names: Sequence[str]
) -> list[CopiedFile]:
    folders = {str(Path(item.path).parent) for item in plan}
    for folder in sorted(folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return hashing.run_all(
        functools.partial(_copy_one, root, tuple(names)),
        plan,
        [item.size for item in plan],
        workers,
    )


def _check_expected(
    copied: Sequence[CopiedFile], expected: Mapping[str, Mapping[str, str]]
) -> None:
    """Every file copied is the file its bag's manifests describe, in every algorithm."""
    wrong = [
        f"{c.item.path}: {name} {c.digests[name]}, its manifest says {want.lower()}"
        for c in copied
        for name, want in sorted(expected.get(c.item.path, {}).items())
        if c.digests[name] != want.lower()
    ]
    if wrong:
        raise SourceError(f"payload differs from its bag's manifests: {'; '.join(wrong)}")


def _copy_one(
    root: Path, names: Sequence[str], item: PayloadFile, helper: Executor | None
) -> CopiedFile:
    """Copy one payload file into the staging folder: one read, digests, text, format."""
    analyser = TextAnalyser()
    head = _Head()
    try:
        digested = hashing.copy_file(
            item.source, root / item.path, names, [analyser, head], helper=helper
        )
    except hashing.WriteFailedError as exc:
        raise BagWriteError(f"cannot write {item.path}: {exc.strerror}") from exc
    except hashing.SourceChangedError as exc:
        raise SourceError(f"{item.source}: changed while it was being bagged") from exc
    except OSError as exc:
        raise SourceError(f"{item.source}: cannot read: {exc.strerror}") from exc
    verdict = analyser.verdict()
    fmt = formats.identify(item.path, head.data, verdict.properties is not None)
    return CopiedFile(item, digested.size, digested.digests, fmt, verdict)


def _derived_title(copied: Sequence[CopiedFile]) -> str:
    """The first non-empty line of the first text file; else the first file's name."""
    for item in copied:
        if item.text.first_line:
            return _shorten(item.text.first_line)
    return copied[0].item.original_name


def _shorten(title: str) -> str:
    if len(title) <= _TITLE_MAX:
        return title
    cut = title[:_TITLE_MAX].rsplit(" ", 1)[0]
    return cut + "…"


def derive_record(record: Record, copied: Sequence[CopiedFile]) -> Record:
    """Fill in what the user did not give: title, type (DCMI Type) and format (MIME)."""
    if not record.values("title"):
        record = record.with_values("title", [_derived_title(copied)])
    if not record.values("type"):
        types = _unique(c.format.dcmi_type for c in copied if c.format.dcmi_type)
        if types:
            record = record.with_values("type", types)
    if not record.values("format"):
        record = record.with_values("format", _unique(c.format.mimetype for c in copied))
    return record


def _with_identifier(record: Record, bag_id: str) -> Record:
    """The bag's identifier first among dc:identifier values."""
    known = record.values("identifier")
    if bag_id in known:
        return record
    return record.with_values("identifier", [bag_id, *known])


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def software_agent() -> Agent:
    return Agent(Identifier("local", f"{NAME}/{VERSION}"), NAME, "sof", VERSION)


@dataclass(frozen=True)
class _Outcome:
    """One file's result for one kind of event; files with equal outcomes share an event."""

    type_code: str
    detail: str
    outcome: str
    note: str | None


def _outcomes(item: CopiedFile) -> list[_Outcome]:
    found = [
        _Outcome(
            "mes",
            "SHA-256 and SHA-512 computed in the single pass that copied the file into the bag",
            "success",
            None,
        ),
        _format_outcome(item.format),
    ]
    if item.format.is_text or item.text.properties is not None:
        detail = "text checked to be well-formed UTF-8 without NUL bytes"
        if item.text.properties is not None:
            found.append(_Outcome("val", detail, "success", "well-formed UTF-8 text"))
        else:
            found.append(
                _Outcome("val", detail, "failure", f"{item.item.path}: {item.text.problem}")
            )
    return found


def _format_outcome(fmt: Format) -> _Outcome:
    detail = "PRONOM signature and extension matching by archiver's format identifier"
    if fmt.puid:
        return _Outcome("for", detail, "success", None)
    if fmt is formats.UNKNOWN:
        return _Outcome("for", detail, "failure", "no PRONOM signature matched")
    return _Outcome("for", detail, "success", "format named; its version and PUID not determined")


def describe(
    bag_id: str, copied: Sequence[CopiedFile], record: Record, software: Agent, now: datetime
) -> Provenance:
    """PREMIS objects, events and agents for a freshly packed bag.

    Files with the same outcome share one event (one "message digest calculation" for the
    whole bag, say) that links each of them; a failure that is particular to a file (a text
    that is not UTF-8) gets an event of its own. Links go one way, from events to objects:
    repeating them from every object back to its events would add a kilobyte per file to
    each document and say nothing new.
    """
    when = w3cdtf(now)
    organisation = record.bag_info_value("Source-Organization")
    agents = [software]
    if organisation:
        agents.append(Agent(Identifier("local", organisation), organisation, "org"))
    executor = ((software.identifier, "exe"),)
    rep_id = Identifier("local", bag_id)
    object_ids = [Identifier("local", f"{bag_id}/{item.item.path}") for item in copied]

    groups: dict[_Outcome, list[int]] = {}
    for index, item in enumerate(copied):
        for outcome in _outcomes(item):
            groups.setdefault(outcome, []).append(index)
    events: list[Event] = []
    order = {"mes": 0, "for": 1, "val": 2}
    for outcome, members in sorted(groups.items(), key=lambda g: (order[g[0].type_code], g[1][0])):
        identifier = event_identifier(
            outcome.type_code,
            bag_id,
            when,
            outcome.outcome,
            outcome.note or "",
            *(f"{copied[i].item.path}:{copied[i].digests['sha256']}" for i in members),
        )
        events.append(
            Event(
                identifier,
                outcome.type_code,
                now,
                outcome.detail,
                outcome.outcome,
                outcome.note,
                executor,
                tuple((object_ids[i], None) for i in members),
            )
        )
    files = [
        FileObject(
            identifier=object_ids[index],
            path=item.item.path,
            original_name=item.item.original_name,
            size=item.size,
            digests={name: item.digests[name] for name in algorithms.WRITTEN},
            format=item.format,
            text=item.text.properties,
            representation=rep_id,
        )
        for index, item in enumerate(copied)
    ]
    packing_agents: tuple[tuple[Identifier, str], ...] = executor
    if organisation:
        packing_agents += ((Identifier("local", organisation), "imp"),)
    packing = Event(
        event_identifier("pac", bag_id, when, *(f"{f.path}:{f.digests['sha256']}" for f in files)),
        "pac",
        now,
        f"packed as a BagIt {layout.BAGIT_VERSION} bag with SHA-256 and SHA-512 payload and "
        "tag manifests, Dublin Core, METS and PREMIS metadata",
        "success",
        f"{len(files)} payload files",
        packing_agents,
        ((rep_id, "out"),),
    )
    events.append(packing)
    representation = Representation(rep_id, bag_id, tuple(f.identifier for f in files))
    return Provenance(representation, tuple(files), tuple(events), tuple(agents))


# Bytes gathered before they are digested and written: few, large hash updates and writes.
_BATCH = 1 << 20


class _DigestingFile:
    """A tag file being written, digested on the way (the tag manifests need its digests)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._hashes = [algorithms.new(name) for name in algorithms.WRITTEN]
        self._pending = bytearray()

    def write(self, data: bytes) -> int:
        self._pending += data
        if len(self._pending) >= _BATCH:
            self.flush()
        return len(data)

    def flush(self) -> None:
        for h in self._hashes:
            h.update(self._pending)
        self._handle.write(self._pending)
        self._pending.clear()

    def digests(self) -> dict[str, str]:
        self.flush()
        return {
            name: h.hexdigest() for name, h in zip(algorithms.WRITTEN, self._hashes, strict=True)
        }


class _TagWriter:
    """Writes tag files into the staging folder, digesting them on the way for the tag manifests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.digests: dict[str, dict[str, str]] = {}

    def write(self, path: str, data: bytes) -> None:
        self.write_with(path, lambda output: output.write(data))

    def write_with(self, path: str, write: Callable[[writing.Output], object]) -> None:
        """Create ``path``; ``write`` writes its bytes into the file object it is given."""
        try:
            with open(self.root / path, "xb") as handle:
                output = _DigestingFile(handle)
                write(output)
                self.digests[path] = output.digests()
        except OSError as exc:
            raise BagWriteError(f"cannot write {path}: {exc.strerror}") from exc
        except ValueError as exc:  # a character XML 1.0 cannot hold: refused, never written
            raise BagWriteError(f"cannot write {path}: {exc}") from exc

    def copy(self, path: str, source: Path) -> None:
        """Copy a tag file byte for byte (a foreign bag's, kept)."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            found = hashing.copy_file(source, target, algorithms.WRITTEN)
        except hashing.WriteFailedError as exc:
            raise BagWriteError(f"cannot write {path}: {exc.strerror}") from exc
        except OSError as exc:
            raise SourceError(f"{source}: cannot read: {exc.strerror}") from exc
        self.digests[path] = {name: found.digests[name] for name in algorithms.WRITTEN}


def _write_tag_files(
    root: Path,
    bag_id: str,
    record: Record,
    provenance: Provenance,
    software: Agent,
    now: datetime,
    oxum: str,
    extra: Sequence[tuple[str, Path]] = (),
) -> None:
    (root / layout.METADATA_DIR).mkdir()
    writer = _TagWriter(root)
    writer.write("bagit.txt", layout.BAGIT_TXT)
    bag_info = [
        ("Bagging-Date", now.date().isoformat()),
        ("Payload-Oxum", oxum),
        ("External-Identifier", bag_id),
        ("Bag-Software-Agent", AGENT),
        ("BagIt-Profile-Identifier", layout.PROFILE_IDENTIFIER),
        *record.bag_info,
    ]
    writer.write("bag-info.txt", baginfo.format_bag_info(bag_info))
    for name in algorithms.WRITTEN:
        entries = ((obj.path, obj.digests[name]) for obj in provenance.files)
        writer.write(manifest.payload_manifest_name(name), manifest.format_manifest(entries))
    writer.write_with(layout.DC_XML, lambda output: output.write(dc.document(record)))
    writer.write_with(layout.PREMIS_XML, lambda output: premis.write(output, provenance))
    writer.write_with(
        layout.METS_XML,
        lambda output: mets.write(output, bag_id, record, provenance, software, now),
    )
    for path, source in extra:
        writer.copy(path, source)
    tagged = dict(writer.digests)
    for name in algorithms.WRITTEN:
        writer.write(
            manifest.tag_manifest_name(name),
            manifest.format_manifest((path, d[name]) for path, d in tagged.items()),
        )


def _settle_times(root: Path, now: datetime) -> None:
    """Tag files and folders take the clock's time, so a rebuilt bag is identical on disk too.

    Payload files keep their sources' modification times (copy_file set them).
    """
    stamp = int(now.timestamp()) * 1_000_000_000
    for folder, dirnames, filenames in os.walk(root):
        base = Path(folder)
        rel = base.relative_to(root)
        if rel.parts[:1] != (layout.PAYLOAD_DIR,):
            for name in filenames:
                os.utime(base / name, ns=(stamp, stamp), follow_symlinks=False)
        for name in dirnames:
            os.utime(base / name, ns=(stamp, stamp), follow_symlinks=False)
    os.utime(root, ns=(stamp, stamp))
