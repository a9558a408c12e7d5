"""Ingest: a bag made elsewhere (bagit-python, Bagger, DART; BagIt 0.97 or 1.0) -> an
archiver bag in a collection.

    validate the foreign bag in full (every digest) -> refuse it, with the report, when it
    is invalid (or incomplete: files its fetch.txt lists must be fetched first) -> read
    its bag-info, manifests and tag files -> Dublin Core from --metadata, else its own
    metadata/dc.xml, else its bag-info -> pack its payload
    like any source (packing.pack: one read per file), each file's original digests
    checked again as it is copied -> its tag files kept byte for byte under
    metadata/original/ -> PREMIS records the validation outcome and an ingestion event.

The foreign bag is only ever read: its files are opened read-only and nothing is written
inside it. The new bag appears in the collection whole or not at all (packing's staging).

bag-info.txt of the new bag: archiver's own labels (Bagging-Date, Payload-Oxum,
External-Identifier, Bag-Software-Agent, BagIt-Profile-Identifier), then the foreign
labels in their order, except that labels which described the foreign bag as a package
(its Bagging-Date, Bag-Software-Agent, External-Identifier, BagIt-Profile-Identifier,
Bag-Size) are kept as ``Original-<label>``; labels given in --metadata replace foreign
labels of the same name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from archiver import identifiers, layout
from archiver.bagit import baginfo
from archiver.bagit.files import BagFile, BagFiles
from archiver.bagit.names import archived_bag_id, is_archive_file
from archiver.clock import Clock, w3cdtf
from archiver.errors import InvalidBagError, SourceError, UsageError
from archiver.export.source import SourceBag, read_source
from archiver.findings import BagReport
from archiver.given import given_path
from archiver.packing import BagResult, Origin, PayloadName, check_free, pack
from archiver.provenance import Agent, Event, Provenance, event_identifier
from archiver.record import Record, RecordLike, as_record, record_from_bag_info
from archiver.sources import PayloadFile
from archiver.staging import check_outside, check_outside_bags

# Where the foreign bag's tag files are kept, byte for byte, in the new bag.
ORIGINAL_DIR = f"{layout.METADATA_DIR}/original"
# Labels that described the foreign bag as a package: kept, renamed Original-<label>.
_RENAMED = frozenset(
    label.lower()
    for label in (
        "Bagging-Date",
        "Bag-Software-Agent",
        "External-Identifier",
        "BagIt-Profile-Identifier",
        "Bag-Size",
    )
)
# A label the new bag recomputes and whose value could only repeat or mislead.
_DROPPED = frozenset({"payload-oxum"})


@runtime_checkable
class _HasPath(Protocol):
    """A collection: anything that names its folder as ``path``."""

    @property
    def path(self) -> Path: ...


def ingest_bag(
    foreign: str | os.PathLike[str],
    into: str | os.PathLike[str] | _HasPath,
    *,
    record: RecordLike | None = None,
    bag_id: str | None = None,
    clock: Clock | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
) -> BagResult:
    """Add the bag at ``foreign`` (made by any BagIt tool) to the collection ``into`` (a
    Collection or its folder) as an archiver bag, and return what was made.

    The foreign bag is validated (InvalidBagError, with its report, when it is not
    valid) and only ever read: all but its payload's digests first, which the copy
    checks as it reads each file once; a file that differs is refused as InvalidBagError
    too, with the report of a validation in full. ``record`` (a Record, a dict or a JSON file)
    replaces the Dublin Core the bag brings; ``bag_id`` names the new bag (else its
    External-Identifier or folder name, when usable as an identifier).
    """
    from archiver.validation import inspect_bag

    clock = clock or Clock.from_environment()
    foreign = Path(foreign)
    out_dir = given_path(into.path if isinstance(into, _HasPath) else into, "the collection")
    archived = is_archive_file(foreign)
    if not foreign.is_dir() and not archived:
        raise UsageError(f"{foreign}: not a directory or a .tar, .tar.gz, .tgz or .zip bag")
    check_outside(out_dir, foreign, "the collection cannot be inside the bag being ingested")
    check_outside_bags(out_dir)  # before the foreign bag is read, not after
    here = foreign.resolve()
    # What the bag is called: its folder's name, an archive's without its extension.
    name = archived_bag_id(here.name) if archived else here.name
    if bag_id is not None:
        identifiers.check_bag_id(bag_id)
        check_free(out_dir, bag_id, None, replace=False)
    given = as_record(record) if record is not None else None
    # Everything but the payload's digests, which the copy below checks as it reads each
    # file (read once, not once to validate and again to copy).
    inspection = inspect_bag(foreign, workers=workers, executor=executor, payload_checksums=False)
    report = inspection.report
    if not report.valid:  # refused with every problem, the payload's digests' too
        full = inspect_bag(foreign, workers=workers, executor=executor).report
        raise InvalidBagError(full, "ingested")
    source = read_source(foreign, inspection)
    bag_id = bag_id or _usable_id(source.bag_info_value("External-Identifier"))
    bag_id = bag_id or _usable_id(name)
    chosen = _record(source, given)
    # Read as validated: the folder, or the archive indexed once (a .tar's members copied
    # on workers from where they lie, a compressed one's in one pass, never extracted).
    files = inspection.bag.files
    plan = [
        PayloadFile(BagFile(files, item.path), item.path, item.name, item.size)
        for item in source.payload
    ]
    origin = Origin(
        expected={item.path: item.digests for item in source.payload},
        tag_files=_tag_files(files, inspection.inventory.tags),
        amend=lambda provenance, software, now: _amend(provenance, software, now, source, report),
    )
    try:
        return pack(
            plan,
            out_dir,
            record=chosen,
            # a payload of several files is titled by the bag's name, one file as bag titles it
            name=PayloadName(name, "the bag ingested") if len(plan) > 1 else None,
            bag_id=bag_id,
            clock=clock,
            workers=workers,
            executor=executor,
            origin=origin,
        )
    except SourceError as exc:
        # A payload file that differs from its manifests, or cannot be read: nothing was
        # written. The bag's report, from a validation in full, says which and how.
        full = inspect_bag(foreign, workers=workers, executor=executor).report
        if not full.valid:
            raise InvalidBagError(full, "ingested") from exc
        raise


def _usable_id(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return identifiers.check_bag_id(value.strip())
    except UsageError:
        return None


def _tag_files(files: BagFiles, tags: Iterable[str]) -> list[tuple[str, BagFile]]:
    """Every tag file of the foreign bag, to keep under metadata/original/."""
    return [(f"{ORIGINAL_DIR}/{rel}", BagFile(files, rel)) for rel in sorted(tags)]


def _record(source: SourceBag, given: Record | None) -> Record:
    """Dublin Core from --metadata, else the bag's own dc.xml, else its bag-info; bag-info
    labels merged as the module docstring says."""
    if given is not None:
        record = given
    elif layout.DC_XML in source.metadata:
        record = source.record
    else:
        record = record_from_bag_info(source.bag_info, None)
    overridden = {label.lower() for label, _ in record.bag_info}
    kept: list[tuple[str, str]] = []
    seen: set[str] = set()
    for label, value in source.bag_info:
        key = label.lower()
        if key in _DROPPED or key in overridden:
            continue
        if key in _RENAMED:
            label, key = f"Original-{label}", f"original-{key}"
        if (key in baginfo.NOT_REPEATED or key.startswith("original-")) and key in seen:
            continue  # a label that must not repeat: the first value stands
        seen.add(key)
        kept.append((label, value))  # a folded value stays folded: the writer folds it again
    return replace(record, bag_info=(*kept, *record.bag_info))


def _amend(
    provenance: Provenance,
    software: Agent,
    now: datetime,
    source: SourceBag,
    report: BagReport,
) -> Provenance:
    """The foreign bag's validation (first) and its ingestion (last) as PREMIS events."""
    when = w3cdtf(now)
    bag_id = provenance.representation.name
    rep = provenance.representation.identifier
    executor = ((software.identifier, "exe"),)
    warnings = sorted({f.code for f in report.findings if f.severity == "warning"})
    name, version = source.root.name, source.bagit_version
    validation = Event(
        event_identifier("val", bag_id, when, "foreign bag", name, *warnings),
        "val",
        now,
        f"the bag as received ({name}, BagIt {version}) validated in full by archiver's "
        "BagIt validator: structure, bag-info, manifests complete, every tag file digest "
        "checked, and every payload file digest as the file was copied (next event)",
        "success",
        (f"valid; warnings: {', '.join(warnings)}" if warnings else "valid, no warnings",),
        executor,
        ((rep, None),),
    )
    algorithms = sorted({a for item in source.payload for a in item.digests})
    agent = source.bag_info_value("Bag-Software-Agent") or "software not named"
    ingestion = Event(
        event_identifier(
            "ing",
            bag_id,
            when,
            name,
            *(f"{f.path}:{f.digests['sha256']}" for f in provenance.files),
        ),
        "ing",
        now,
        f"ingested a bag made elsewhere ({agent}; BagIt {version}): payload copied byte for "
        f"byte with its {', '.join(algorithms)} digests checked during the copy, "
        f"manifests upgraded to SHA-256 and SHA-512, its tag files kept under {ORIGINAL_DIR}/",
        "success",
        (f"{len(provenance.files)} payload files from {name}",),
        executor,
        ((rep, "out"),),
    )
    return replace(provenance, events=(validation, *provenance.events, ingestion))
