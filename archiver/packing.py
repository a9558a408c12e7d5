"""The main job: source files + a metadata record -> a complete BagIt 1.0 bag.

    plan the payload (sources) -> copy and digest every file once, identifying its format
    and text properties on the way (bagit.writer with a probe) -> derive the missing
    metadata (record) -> describe provenance -> DC, PREMIS, METS (xml builders) ->
    bagit.txt, bag-info, manifests and tag manifests (bagit.writer) -> move the bag into
    place whole.

The bag is built in a hidden staging folder beside the target and appears whole or not at
all. The user's sources are only ever opened for reading.

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
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver import formats, identifiers, layout
from archiver.bagit import algorithms, baginfo, hashing
from archiver.bagit.files import BagFile
from archiver.bagit.names import ARCHIVE_SUFFIXES
from archiver.bagit.writer import BagWriter, Consumer, PayloadPart
from archiver.clock import Clock, w3cdtf
from archiver.errors import BagExistsError, UsageError
from archiver.formats import Format
from archiver.given import given_path
from archiver.provenance import (
    Agent,
    Event,
    FileObject,
    Identifier,
    Provenance,
    Representation,
    event_identifier,
)
from archiver.record import Record, RecordLike, as_record, check_record
from archiver.sources import PayloadFile, check_plan, plan_payload
from archiver.staging import CommitGroup, check_outside_bags, check_target
from archiver.text import TextAnalyser, TextVerdict
from archiver.version import AGENT, NAME, VERSION
from archiver.xml import dc, mets, premis
from archiver.xml.characters import xml_safe

_TITLE_MAX = 200
# A first line longer than this is a paragraph, not a title.
TITLE_LINE_MAX = 120
# Warnings name at most this many files; the rest are counted.
_NAMED = 10
PathLike = str | os.PathLike[str]

if TYPE_CHECKING:
    from archiver.check.profile import Profile
    from archiver.profiles import BuildPlan, Tags


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
    # what a person should know: how the record was read (a date converted to EDTF), a
    # title archiver chose and what it chose it from
    notes: tuple[str, ...] = ()
    # what the bag holds that other tools stumble on ('%' in names, a misspelt reserved label)
    warnings: tuple[str, ...] = ()

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
            "notes": list(self.notes),
            "warnings": list(self.warnings),
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
class PayloadName:
    """What a payload is called as a whole -- the title when the record gives none -- and
    where that name comes from, for the note that says so ("the folder bagged")."""

    name: str
    of: str


@dataclass(frozen=True)
class Origin:
    """A payload that comes from a bag made elsewhere (see ingest), not from loose files."""

    # bag path -> algorithm -> digest the foreign bag's manifests promise; each file is
    # digested in these algorithms too as it is copied, and must match
    expected: Mapping[str, Mapping[str, str]]
    # the foreign bag's own tag files, kept byte for byte: (bag path here, file there)
    tag_files: Sequence[tuple[str, BagFile]]
    # adds what happened before packing (validation, ingestion) to the provenance
    amend: Callable[[Provenance, Agent, datetime], Provenance]


def make_bag(
    sources: PathLike | Sequence[PathLike],
    out_dir: PathLike,
    *,
    record: RecordLike | None = None,
    bag_id: str | None = None,
    force: bool = False,
    clock: Clock | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    serialize: str | None = None,
    profile: Profile | PathLike | None = None,
    algorithms_: Sequence[str] | None = None,
    tags: Tags | None = None,
    group: CommitGroup | None = None,
) -> BagResult:
    """Bag ``sources`` (files and folders) into ``out_dir/<id>`` and return what was made.

    ``record`` is the descriptive metadata: a Record, a dict shaped like the JSON record,
    or the path of a JSON record file. ``bag_id`` names the bag (derived from the title
    and payload when not given); ``force`` replaces an existing bag of that name, in one
    atomic step. ``clock`` dates everything (default: SOURCE_DATE_EPOCH, else now).
    Files are copied on ``workers`` processes (default: every core) or on ``executor``.
    ``serialize`` ("tar", "tgz" or "zip") writes the bag as one archive file instead,
    ``out_dir/<id>.tar`` (``.tar.gz``, ``.zip``), reproducible byte for byte.
    ``profile`` (a BagIt profile, or its file) builds the bag to meet it, ``algorithms_``
    chooses its manifests, ``tags`` ((tag file, label) -> values) gives tag values
    (archiver.profiles says where each value comes from); what cannot be met is a
    MetadataError before anything is written. ``group`` (a staging.CommitGroup) holds the
    finished bag, to be moved into place with others when the group commits (a folder,
    never replacing one: not with ``force`` or ``serialize``).
    Raises an ArchiverError (SourceError, MetadataError, BagExistsError, ...) when the bag
    cannot be made; nothing is left behind then.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    out = given_path(out_dir, "the output folder")
    check_outside_bags(out)
    if bag_id is not None:
        identifiers.check_bag_id(bag_id)
        check_free(out, bag_id, serialize, replace=force)
    chosen = as_record(record) if record is not None else None
    paths = [Path(source) for source in sources]
    plan = plan_payload(paths, out, bag_id)
    return pack(
        plan,
        out,
        record=chosen,
        name=_source_name(paths),
        bag_id=bag_id,
        force=force,
        clock=clock,
        workers=workers,
        executor=executor,
        serialize=serialize,
        profile=profile,
        algorithms_=algorithms_,
        tags=tags,
        group=group,
    )


def _target(out_dir: Path, bag_id: str, serialize: str | None) -> Path:
    """Where a bag is committed: its folder, or its archive file."""
    if serialize is None:
        return out_dir / bag_id
    from archiver.bagit.archives import EXTENSIONS  # tarfile and zipfile: only when asked

    return out_dir / f"{bag_id}{EXTENSIONS[serialize]}"


def profile_for(
    profile: Profile | PathLike | None, algorithms_: Sequence[str] | None, *, tagged: bool
) -> Profile | None:
    """The profile a bag is built to: the one given; archiver's own when only manifests or
    tag values (``tagged``) are asked for; None when nothing is (the bag as archiver always
    makes it)."""
    if profile is None and algorithms_ is None and not tagged:
        return None
    from archiver.check.profile import Profile, load_profile, vendored_profile

    if profile is None:
        return vendored_profile(layout.PROFILE_FILE)
    return profile if isinstance(profile, Profile) else load_profile(Path(profile))


def profile_plan(
    profile: Profile,
    record: Record,
    algorithms_: Sequence[str] | None,
    tags: Tags | None,
    serialize: str | None,
    *,
    early: bool,
) -> BuildPlan:
    """The profile's plan for a bag described by ``record`` (archiver.profiles); ``early``
    (before the payload is read): a title archiver will derive stands in for the record's
    missing one. UsageError for a serialization the profile does not accept."""
    from archiver.profiles import plan_for_profile

    if early and not record.values("title"):
        record = replace(record, dc=(("title", ("(derived when bagged)",)), *record.dc))
    plan = plan_for_profile(
        profile, record, algorithms_=algorithms_, tags=tags, source=f"profile {profile.identifier}"
    )
    if serialize is not None and plan.accept_serialization:
        from archiver.bagit.archives import MEDIA_TYPES

        if not set(MEDIA_TYPES[serialize]) & set(plan.accept_serialization):
            raise UsageError(
                f"profile {profile.identifier} accepts {', '.join(plan.accept_serialization)}, "
                f"not a {serialize} bag"
            )
    return plan


def check_free(out_dir: Path, bag_id: str, serialize: str | None, *, replace: bool) -> Path:
    """Where bag ``bag_id`` goes (its folder or archive file); BagExistsError when that is
    taken (and not to be replaced), or when another entry holds the id already: ``ID/``
    beside ``ID.tar`` would be two bags of one id in a collection (replace or not)."""
    target = _target(out_dir, bag_id, serialize)
    check_target(target, replace=replace)
    for other in (out_dir / bag_id, *(out_dir / f"{bag_id}{s}" for s, _ in ARCHIVE_SUFFIXES)):
        if other != target and (other.exists() or other.is_symlink()):
            raise BagExistsError(
                f"{other} already holds a bag named {bag_id}: one id, one bag", other
            )
    return target


def _source_name(sources: Sequence[Path]) -> PayloadName | None:
    """What the sources are called as a whole: a folder's name (the first source's, when
    there are several); None for one file, which a title is found in or named after."""
    if len(sources) == 1 and not sources[0].is_dir():
        return None
    first = Path(os.path.abspath(sources[0]))  # "." has a name too; links are not followed
    if len(sources) == 1:
        return PayloadName(first.name, "the folder bagged")
    if first.is_dir():
        return PayloadName(first.name, "the first folder given")
    return PayloadName(_file_title(first.name), "the first file given")


def pack(
    plan: Sequence[PayloadFile],
    out_dir: Path,
    *,
    record: Record | None = None,
    name: PayloadName | None = None,
    bag_id: str | None = None,
    force: bool = False,
    clock: Clock | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    origin: Origin | None = None,
    serialize: str | None = None,
    profile: Profile | PathLike | None = None,
    algorithms_: Sequence[str] | None = None,
    tags: Tags | None = None,
    group: CommitGroup | None = None,
) -> BagResult:
    """Bag a planned payload into ``out_dir/<id>`` (the work behind make_bag and ingest).

    ``name`` is what the payload is called as a whole (the folder it comes from): the title
    when the record has none. Without it a lone text is titled by its first line, or by its
    file name when that line would mislead (see derive_title).
    """
    if group is not None and (force or serialize is not None):
        raise ValueError("a commit group takes new bag folders: not with force or serialize")
    clock = clock or Clock.from_environment()
    record = record or Record()
    check_record(record)
    check_plan(plan)
    built_to = profile_for(profile, algorithms_, tagged=bool(tags))
    if bag_id is not None:
        identifiers.check_bag_id(bag_id)
        check_free(out_dir, bag_id, serialize, replace=force)
    now = clock.now()
    expected = origin.expected if origin is not None else {}
    parts = [
        PayloadPart(item.path, item.source, expected=expected.get(item.path, {}), size=item.size)
        for item in plan
    ]
    early = (
        None
        if built_to is None
        else profile_plan(built_to, record, algorithms_, tags, serialize, early=True)
    )
    with BagWriter.staged(
        out_dir,
        early.algorithms if early is not None else algorithms.WRITTEN,
        tag_algorithms=early.tag_algorithms if early is not None else None,
        computed=algorithms.WRITTEN,
        target=out_dir / bag_id if bag_id is not None else None,
        workers=workers,
        executor=executor,
    ) as writer:
        written = writer.write_payload(parts, probe=_probe)
        copied = [
            CopiedFile(item, w.size, w.digests, *w.probed)
            for item, w in zip(plan, written, strict=True)
        ]
        full_record, notes = derive_record(record, copied, name)
        if bag_id is None:
            bag_id = identifiers.derive_bag_id(
                full_record.values("title")[0],
                ((c.item.path, c.digests["sha256"]) for c in copied),
            )
        target = check_free(out_dir, bag_id, serialize, replace=force)
        full_record = _with_identifier(full_record, bag_id)
        software = software_agent()
        provenance = describe(bag_id, copied, full_record, software, now)
        if origin is not None:
            provenance = origin.amend(provenance, software, now)
        built = (
            None
            if built_to is None
            else profile_plan(built_to, full_record, algorithms_, tags, serialize, early=False)
        )
        writer.write_tag_file(layout.DC_XML, dc.document(full_record))
        beside = _beside(len(provenance.files), workers, executor)
        try:
            # PREMIS is built on a second core (a worker, or the caller's executor) while
            # this process builds METS: for a big bag each takes a good part of a second.
            writer.write_tag_file(
                layout.PREMIS_XML,
                functools.partial(premis.write, provenance=provenance),
                executor=beside,
            )
            writer.write_tag_file(
                layout.METS_XML,
                lambda output: mets.write(output, bag_id, full_record, provenance, software, now),
            )
            for path, items in built.tag_files if built is not None else ():
                writer.write_tag_file(path, baginfo.format_bag_info(items))
            for path, source in origin.tag_files if origin is not None else ():
                writer.copy_tag_file(path, source)
            bag_info = [
                ("Bagging-Date", now.date().isoformat()),
                ("Payload-Oxum", writer.oxum),
                ("External-Identifier", bag_id),
                ("Bag-Software-Agent", AGENT),
                (
                    "BagIt-Profile-Identifier",
                    built.identifier if built is not None else layout.PROFILE_IDENTIFIER,
                ),
                *full_record.bag_info,
                *(built.bag_info if built is not None else ()),
            ]
            writer.finish(bag_info, moment=now)
        finally:
            if beside is not None and beside is not executor:
                hashing.close_pool(beside)
        if serialize is None:
            writer.commit(target, replace=force, group=group)
        else:
            writer.commit_serialized(target, serialize, top=bag_id, replace=force)
    return BagResult(
        target,
        bag_id,
        now.date().isoformat(),
        writer.oxum,
        full_record,
        provenance,
        full_record.notes + notes,
        _warnings(plan, full_record),
    )


# From this many files on, PREMIS is written on a second core: below, a worker costs more
# than it saves.
_BESIDE_MINIMUM = 256


def _beside(files: int, workers: int | None, executor: Executor | None) -> Executor | None:
    """Where PREMIS is written beside METS: the caller's executor, a worker of the fork
    server, or (small bags, one core) nowhere but here."""
    if files < _BESIDE_MINIMUM:
        return None
    if executor is not None:
        return executor
    if hashing.worker_count(workers) <= 1:
        return None
    return hashing.process_pool(1, ["archiver.xml.premis"])


class _Head:
    """Keeps the first bytes of a file for format identification."""

    def __init__(self) -> None:
        self.data = b""

    def __call__(self, chunk: memoryview) -> None:
        if len(self.data) < formats.HEAD_SIZE:
            self.data += bytes(chunk[: formats.HEAD_SIZE - len(self.data)])


def _probe(part: PayloadPart) -> tuple[list[Consumer], Callable[[], tuple[Format, TextVerdict]]]:
    """What packing learns from a payload file's bytes as they are copied: its text
    properties and the first bytes its format is identified by (runs in the copying worker)."""
    analyser = TextAnalyser()
    head = _Head()

    def result() -> tuple[Format, TextVerdict]:
        verdict = analyser.verdict()
        return formats.identify(part.path, head.data, verdict.properties is not None), verdict

    return [analyser, head], result


def derive_title(copied: Sequence[CopiedFile], name: PayloadName | None) -> tuple[str, str]:
    """A title for a payload the record gives none for, and a note saying where it came from.

    A folder (``name``) is titled by its name: its first file's first line would title the
    whole by one part ("GNU Free Documentation License" for a folder of licences). A lone
    text is titled by its first non-empty line when that line reads as a title
    (title_line_problem), else by its file name without its extension.
    """
    if name is not None:
        title = _shorten(xml_safe(name.name))
        return title, f"title {title!r} derived from the name of {name.of}"
    item = copied[0]
    line = item.text.first_line
    if line:  # text may hold controls XML 1.0 cannot: U+FFFD for them
        problem = title_line_problem(line)
        if problem is None:
            title = xml_safe(line)
            return title, f"title {title!r} derived from the first line of {item.item.path}"
        why = f"its first line is {problem}"
    else:
        why = "it has no line of text" if item.text.properties else "it is not UTF-8 text"
    title = _shorten(xml_safe(_file_title(item.item.original_name)))
    return title, f"title {title!r} derived from the file name of {item.item.path} ({why})"


def title_line_problem(line: str) -> str | None:
    """Why a text's first line would mislead as its title, or None when it reads as one."""
    if len(line) > TITLE_LINE_MAX:
        return f"longer than {TITLE_LINE_MAX} characters"
    letters = [char for char in line if char.isalpha()]
    if not letters:
        return "without letters"
    words = line.casefold().split()
    if len(words) > 1 and words[0] == words[-1]:
        # a man page's "TAR(1) GNU TAR Manual TAR(1)", a running head
        return "a page header, the same word at both ends"
    cased = [char for char in letters if char.isupper() or char.islower()]
    if 2 * sum(char.isupper() for char in cased) > len(cased):
        return "mostly upper case"
    return None


def _file_title(name: str) -> str:
    """A file's name as a title: its last part, without its extension ("report.txt" ->
    "report"); a name that is all extension (".profile") stays whole."""
    return Path(name).stem or Path(name).name


def _shorten(title: str) -> str:
    if len(title) <= _TITLE_MAX:
        return title
    cut = title[:_TITLE_MAX].rsplit(" ", 1)[0]
    return cut + "…"


def derive_record(
    record: Record, copied: Sequence[CopiedFile], name: PayloadName | None = None
) -> tuple[Record, tuple[str, ...]]:
    """Fill in what the user did not give: title, type (DCMI Type) and format (MIME); with
    a note on each choice a person should know of (where the title came from)."""
    notes: tuple[str, ...] = ()
    if not record.values("title"):
        title, note = derive_title(copied, name)
        record, notes = record.with_values("title", [title]), (note,)
    if not record.values("type"):
        types = _unique(c.format.dcmi_type for c in copied if c.format.dcmi_type)
        if types:
            record = record.with_values("type", types)
    if not record.values("format"):
        record = record.with_values("format", _unique(c.format.mimetype for c in copied))
    return record, notes


def _warnings(plan: Sequence[PayloadFile], record: Record) -> tuple[str, ...]:
    """What the bag holds that other tools are known to stumble on.

    A '%' in a name is written %25 in the manifests (RFC 8493 §2.1.3), and LoC bagit-python,
    DART and Archivematica do not decode it: they look for a file named "50%25 off.txt"
    (bagit-python issue #157). A bag-info label one or two letters from a reserved one is
    surely a misspelling of it.
    """
    warnings: list[str] = []
    percent = [item.path for item in plan if "%" in item.path]
    warnings += [
        f"{path}: '%' in a name is written %25 in the manifests, as RFC 8493 says, but LoC "
        "bagit-python, DART and Archivematica cannot read such a bag (bagit-python #157)"
        for path in percent[:_NAMED]
    ]
    if len(percent) > _NAMED:
        warnings.append(f"{len(percent) - _NAMED} more file names hold '%'")
    for label in dict.fromkeys(label for label, _ in record.bag_info):
        reserved = baginfo.near_reserved(label)
        if reserved is not None:
            warnings.append(
                f"bag-info {label}: one or two letters from the reserved {reserved}; "
                "a misspelling? (readers take it for another label)"
            )
    return tuple(warnings)


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


@dataclass(frozen=True)
class _Particular:
    """A file's outcome that only it has (why its text is not UTF-8): its note names the
    file, and files whose outcome is otherwise equal share one event, a note each."""

    outcome: _Outcome
    note: str


def _outcomes(item: CopiedFile) -> list[_Outcome | _Particular]:
    found: list[_Outcome | _Particular] = [
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
                _Particular(
                    _Outcome("val", detail, "failure", None),
                    f"{item.item.path}: {item.text.problem}",
                )
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
    whole bag, say) that links each of them -- or, when every payload file shares it, the
    representation, which includes them all. Failures particular to each file (texts that
    are not UTF-8) share one event too, with an outcome note per file naming it. Links go
    one way, from events to objects: repeating them from every object back to its events
    would add a kilobyte per file to each document and say nothing new.
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
    particulars: dict[_Outcome, list[str]] = {}
    for index, item in enumerate(copied):
        for found in _outcomes(item):
            if isinstance(found, _Particular):
                particulars.setdefault(found.outcome, []).append(found.note)
                found = found.outcome
            groups.setdefault(found, []).append(index)
    events: list[Event] = []
    order = {"mes": 0, "for": 1, "val": 2}
    for outcome, members in sorted(groups.items(), key=lambda g: (order[g[0].type_code], g[1][0])):
        notes = ((outcome.note,) if outcome.note else ()) + tuple(particulars.get(outcome, ()))
        identifier = event_identifier(
            outcome.type_code,
            bag_id,
            when,
            outcome.outcome,
            *notes,
            *(f"{copied[i].item.path}:{copied[i].digests['sha256']}" for i in members),
        )
        linked = (
            ((rep_id, None),)
            if len(members) == len(copied)
            else tuple((object_ids[i], None) for i in members)
        )
        events.append(
            Event(
                identifier,
                outcome.type_code,
                now,
                outcome.detail,
                outcome.outcome,
                notes,
                executor,
                linked,
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
        (f"{len(files)} payload files",),
        packing_agents,
        ((rep_id, "out"),),
    )
    events.append(packing)
    representation = Representation(rep_id, bag_id)
    return Provenance(representation, tuple(files), tuple(events), tuple(agents))
