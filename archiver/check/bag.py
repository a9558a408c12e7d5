"""RFC 8493 (BagIt 0.93 to 1.0) rules -> findings. Every problem is reported, not the first.

The bag is read once by ``archiver.bagit.reader`` (which reports what it met while reading:
malformed lines, undecodable files, unsafe paths); this module judges what was read as a
whole: required files, completeness of the manifests, fetch.txt against the manifests,
Payload-Oxum, names, and every checksum.

Modes: FULL verifies every checksum; COMPLETENESS checks structure, manifests and presence
but no checksum; FAST checks structure and Payload-Oxum only.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast, overload

from archiver.bagit import baginfo, hashing, manifest, paths
from archiver.bagit.archives import ArchiveFiles, digest_slice
from archiver.bagit.files import BagFiles
from archiver.bagit.names import BAGIT_TXT, FETCH_TXT
from archiver.bagit.reader import (
    Bag,
    Declaration,
    Element,
    Inventory,
    Manifest,
    read_bag,
)
from archiver.findings import BagReport, Finding, finding

_OXUM = re.compile(r"^([0-9]+)\.([0-9]+)$")


class Mode(StrEnum):
    FULL = "full"
    COMPLETENESS = "completeness"
    FAST = "fast"


@dataclass(frozen=True)
class Inspection:
    """The report, the bag as read, and the manifests as they apply to the files found."""

    report: BagReport
    bag: Bag
    # algorithm -> payload path -> digest, supported algorithms, paths as found on disk
    payload_manifests: dict[str, dict[str, str]] = field(default_factory=dict)
    # algorithm -> tag file path -> digest, supported algorithms
    tag_manifests: dict[str, dict[str, str]] = field(default_factory=dict)
    # manifest path -> inventory path, for paths matched only after NFC normalisation or case
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def inventory(self) -> Inventory:
        return self.bag.inventory

    @property
    def declaration(self) -> Declaration:
        return self.bag.declaration

    @property
    def bag_info(self) -> tuple[Element, ...]:
        return self.bag.bag_info

    @property
    def manifest_algorithms(self) -> tuple[str, ...]:
        """Every payload manifest's algorithm, as its file name spells it."""
        return tuple(m.algorithm for m in self.bag.payload_manifests())

    @property
    def tag_manifest_algorithms(self) -> tuple[str, ...]:
        return tuple(m.algorithm for m in self.bag.tag_manifests())

    @property
    def fetch_entries(self) -> tuple[str, ...]:
        """Payload paths fetch.txt lists (empty without fetch.txt)."""
        return tuple(sorted({entry.path for entry in self.bag.fetch}))

    @property
    def has_fetch(self) -> bool:
        return self.bag.has_fetch


@dataclass
class _Judging:
    bag: Bag
    report: BagReport
    # manifest path -> inventory path, for paths matched only after NFC normalisation or case
    aliases: dict[str, str] = field(default_factory=dict)

    def add(
        self,
        code: str,
        path: str,
        message: str,
        about: str | None = None,
        **params: str | int | None,
    ) -> None:
        """Report a finding; ``about``: the tag file it comes from, when its path is an entry
        of that file (past LISTED of a code about one file, the rest are counted)."""
        self.report.add(finding(code, path, message, **params), about)


def check_bag(
    bag: str | os.PathLike[str] | BagFiles | Bag,
    *,
    mode: Mode = Mode.FULL,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Inspection:
    """Judge a bag (read here unless given as read) by RFC 8493. Checksums are verified on
    ``workers`` processes, or on the caller's ``executor``."""
    inspection = check_structure(bag, mode=mode)
    if mode is Mode.FULL:
        verify_checksums(inspection, workers, executor)
    return inspection


def check_structure(bag: str | os.PathLike[str] | BagFiles | Bag, *, mode: Mode) -> Inspection:
    """check_bag without its checksums: what needs reading no payload byte (a caller may
    start other work, the metadata checks, before it lets verify_checksums read them)."""
    if not isinstance(bag, Bag):
        bag = read_bag(bag, fetch_txt=mode is not Mode.FAST)
    report = BagReport(bag.location, bag_info=bag.items())
    for problem in bag.problems:
        report.add(problem)
    judging = _Judging(bag, report)
    if not bag.inventory.has_payload_dir:
        judging.add("bag.payload-directory.missing", "data", "the bag has no data/ directory")
    _check_manifests_present(judging)
    _check_bag_info(judging)
    if mode is not Mode.FAST:
        _check_fetch(judging)
        _check_payload_manifests(judging)
        _check_tag_manifests(judging)
        _check_names(judging)

    def by_file(m: Manifest) -> dict[str, str]:
        if not judging.aliases:  # the reader's own dict, not a copy (nothing changes it)
            return cast("dict[str, str]", m.entries)
        return {judging.aliases.get(p, p): d for p, d in m.entries.items()}

    return Inspection(
        report,
        bag,
        {m.algorithm: by_file(m) for m in bag.payload_manifests() if m.supported},
        {
            m.algorithm: {p: d for p, d in by_file(m).items() if not p.startswith("data/")}
            for m in bag.tag_manifests()
            if m.supported
        },
        judging.aliases,
    )


def verify_checksums(
    inspection: Inspection,
    workers: int | None = None,
    executor: Executor | None = None,
    *,
    payload: bool = True,
) -> None:
    """check_bag's last step: every checksum, on ``workers`` processes or ``executor``;
    without ``payload``, the tag files' only (a caller that checks the payload's digests
    as it copies it: ingest)."""
    judging = _Judging(inspection.bag, inspection.report, inspection.aliases)
    _verify_checksums(judging, hashing.worker_count(workers), executor, payload=payload)


# -- findings other modules report the same way -------------------------------------------


def checksum_mismatch(
    path: str, algorithm: str, manifest: str, expected: str | None, found: str | None
) -> Finding:
    """A file whose digest differs from what ``manifest`` lists (the audit reports these too)."""
    code = "bag.payload.checksum-mismatch" if _payload(path) else "bag.tag.checksum-mismatch"
    return finding(
        code,
        path,
        f"{algorithm} differs from {manifest}",
        algorithm=algorithm,
        manifest=manifest,
        expected=expected,
        found=found,
    )


def unreadable(path: str, reason: str | None = None) -> Finding:
    """A listed file that could not be read."""
    code = "bag.payload.unreadable" if _payload(path) else "bag.tag.unreadable"
    return finding(code, path, f"cannot read: {reason}" if reason else "cannot be read")


def _payload(path: str) -> bool:
    return path == "data" or path.startswith("data/")


# -- structure ---------------------------------------------------------------------------


def _check_manifests_present(judging: _Judging) -> None:
    payload = judging.bag.payload_manifests()
    if not payload:
        judging.add(
            "bag.manifest.missing",
            manifest.payload_manifest_name("sha512"),
            "the bag has no payload manifest",
        )
    elif not any(m.supported for m in payload):
        judging.add(
            "bag.manifest.unverifiable",
            payload[0].name,
            "no payload manifest uses a supported algorithm",
        )


# -- manifests against files --------------------------------------------------------------


class _Resolver:
    """Finds the file a listed path stands for: exactly; else after NFC normalisation, else
    ignoring case too (§6.1.1.3: tolerate what file systems do to names, and say so).

    The normalised indexes are built on the first miss only: most bags never need them.
    """

    def __init__(self, present: Mapping[str, int]) -> None:
        self.present = present
        self.by_nfc: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        self.indexed = False

    def _index(self) -> None:
        for candidate in sorted(self.present):
            self.by_nfc.setdefault(unicodedata.normalize("NFC", candidate), candidate)
            self.by_key.setdefault(paths.collision_key(candidate), candidate)
        self.indexed = True

    def find(self, path: str) -> tuple[str | None, str | None]:
        """(the file, "normalisation" or "case" when it matched only so) or (None, None)."""
        if path in self.present:
            return path, None
        if not self.indexed:
            self._index()
        nfc = self.by_nfc.get(unicodedata.normalize("NFC", path))
        if nfc is not None:
            return nfc, "normalisation"
        folded = self.by_key.get(paths.collision_key(path))
        if folded is not None:
            return folded, "case"
        return None, None


def _resolve(judging: _Judging, path: str, resolver: _Resolver, listed_in: str) -> str | None:
    found, how = resolver.find(path)
    if found is not None and how is not None:
        judging.aliases[path] = found
        code = (
            "bag.name.normalisation-differs" if how == "normalisation" else "bag.name.case-differs"
        )
        judging.add(
            code,
            found,
            f"{listed_in} lists it as {path!r}",
            about=listed_in,
            manifest=listed_in,
            entry=path,
        )
    return found


def _check_payload_manifests(judging: _Judging) -> None:
    bag = judging.bag
    inventory = bag.inventory
    fetched = {entry.path for entry in bag.fetch}
    present = inventory.payload
    resolver = _Resolver(present)
    listed_anywhere: set[str] = set()
    strict = bag.declaration.strict
    for parsed in bag.payload_manifests():
        listed: set[str] = set()
        for path in parsed.entries:
            if path in inventory.directories:
                judging.add(
                    "bag.manifest.lists-directory",
                    parsed.name,
                    f"lists the directory {path}",
                    entry=path,
                )
                continue
            found = _resolve(judging, path, resolver, parsed.name)
            if found is None:
                if (
                    path not in inventory.symlinks
                    and path not in inventory.specials
                    and path not in fetched
                ):
                    judging.add(
                        "bag.payload.file-missing",
                        path,
                        f"listed in {parsed.name} but not in the bag",
                        about=parsed.name,
                        manifest=parsed.name,
                    )
                continue
            listed.add(found)
        listed_anywhere |= listed
        if strict:  # 1.0: every payload file in every manifest (§3)
            for path in sorted(set(present) - listed):
                judging.add(
                    "bag.manifest.file-unlisted",
                    path,
                    f"not listed in {parsed.name}",
                    about=parsed.name,
                    manifest=parsed.name,
                )
    if bag.payload_manifests() and not strict:  # before 1.0: in at least one
        for path in sorted(set(present) - listed_anywhere):
            judging.add("bag.manifest.file-unlisted", path, "not listed in any manifest", about="")


def _check_tag_manifests(judging: _Judging) -> None:
    bag = judging.bag
    inventory = bag.inventory
    payload_names = {m.name for m in bag.payload_manifests()}
    tag_manifest_names = {m.name for m in bag.tag_manifests()}
    tag_resolver = _Resolver(inventory.tags)
    for parsed in bag.tag_manifests():
        for path in parsed.entries:
            if path.startswith("data/"):
                judging.add(
                    "bag.tagmanifest.lists-payload",
                    parsed.name,
                    f"lists the payload file {path}",
                    entry=path,
                )
            elif path in tag_manifest_names:
                judging.add(
                    "bag.tagmanifest.lists-tagmanifest",
                    parsed.name,
                    f"lists the tag manifest {path}",
                    entry=path,
                )
            elif (
                _resolve(judging, path, tag_resolver, parsed.name) is None
                and path not in inventory.symlinks
            ):
                judging.add(
                    "bag.tag.file-missing",
                    path,
                    f"listed in {parsed.name} but not in the bag",
                    about=parsed.name,
                    manifest=parsed.name,
                )
        if not bag.declaration.strict:
            continue
        for name in sorted(payload_names - set(parsed.entries)):
            judging.add(
                "bag.tagmanifest.payload-manifest-unlisted",
                parsed.name,
                f"does not list the payload manifest {name}",
                entry=name,
            )
        for path in sorted(
            set(inventory.tags) - set(parsed.entries) - tag_manifest_names - payload_names
        ):
            judging.add(
                "bag.tagmanifest.tag-file-unlisted",
                path,
                f"not listed in {parsed.name}",
                about=parsed.name,
                manifest=parsed.name,
            )


# -- fetch.txt ---------------------------------------------------------------------------


def _check_fetch(judging: _Judging) -> None:
    bag = judging.bag
    payload_manifests = bag.payload_manifests()
    for entry in bag.fetch:
        for parsed in payload_manifests:
            if entry.path not in parsed.entries:
                judging.add(
                    "bag.fetch.not-in-manifest",
                    entry.path,
                    f"in {FETCH_TXT} but not in {parsed.name}",
                    about=FETCH_TXT,
                    manifest=parsed.name,
                    line=entry.line,
                )
        size = bag.inventory.payload.get(entry.path)
        if size is None:
            judging.add(
                "bag.fetch.unfetched",
                entry.path,
                f"not fetched yet from {entry.url}",
                about=FETCH_TXT,
                url=entry.url,
            )
        elif entry.length is not None and size != entry.length:
            judging.add(
                "bag.fetch.length-mismatch",
                entry.path,
                f"{size} bytes; {FETCH_TXT} says {entry.length}",
                about=FETCH_TXT,
                expected=entry.length,
                found=size,
            )


# -- bag-info ----------------------------------------------------------------------------


def _check_bag_info(judging: _Judging) -> None:
    bag = judging.bag
    rel = bag.bag_info_file
    counts: dict[str, list[Element]] = defaultdict(list)
    for element in bag.bag_info:
        counts[element.label.lower()].append(element)
        reserved = baginfo.near_reserved(element.label)
        if reserved is not None:
            judging.add(
                "bag.bag-info.label-near-reserved",
                rel,
                f"{element.label} is one or two letters from the reserved {reserved}: "
                "a misspelling?",
                label=element.label,
                reserved=reserved,
                line=element.line,
            )
    for label, repeated in counts.items():
        if len(repeated) > 1 and label in baginfo.NOT_REPEATED and label != "payload-oxum":
            judging.add(
                "bag.bag-info.repeated",
                rel,
                f"{repeated[0].label} appears {len(repeated)} times",
                label=repeated[0].label,
                line=repeated[1].line,
            )
    oxums = counts.get("payload-oxum", [])
    if len(oxums) > 1:
        judging.add(
            "bag.bag-info.oxum-repeated",
            rel,
            f"Payload-Oxum appears {len(oxums)} times",
            line=oxums[1].line,
        )
    if oxums:
        _check_oxum(judging, rel, oxums[0])


def _check_oxum(judging: _Judging, rel: str, element: Element) -> None:
    match = _OXUM.match(element.value)
    if not match:
        judging.add(
            "bag.bag-info.oxum-malformed",
            rel,
            f"Payload-Oxum {element.value!r} is not OctetCount.StreamCount",
            line=element.line,
        )
        return
    payload = judging.bag.inventory.payload
    found_octets, found_streams = sum(payload.values()), len(payload)
    # Compared as digits: a number of thousands of digits is no int Python will make.
    octets, streams = (digits.lstrip("0") or "0" for digits in match.groups())
    if (octets, streams) != (str(found_octets), str(found_streams)):
        judging.add(
            "bag.bag-info.oxum-mismatch",
            rel,
            f"Payload-Oxum says {octets} bytes in {streams} files; the payload has "
            f"{found_octets} bytes in {found_streams} files",
            line=element.line,
            expected=element.value,
            found=baginfo.oxum(found_octets, found_streams),
        )


# -- names -------------------------------------------------------------------------------


def _check_names(judging: _Judging) -> None:
    inventory = judging.bag.inventory
    keys: dict[str, list[str]] = defaultdict(list)
    for path in [*inventory.payload, *inventory.tags]:
        keys[paths.collision_key(path)].append(path)
        problem = paths.windows_problem(path)
        if problem:
            judging.add("bag.name.windows", path, problem)
    for clashing in keys.values():
        if len(clashing) > 1:
            for path in clashing[1:]:
                judging.add(
                    "bag.name.case-or-normalisation",
                    path,
                    f"differs from {clashing[0]} only in case or normalisation",
                    other=clashing[0],
                )


# -- checksums ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expectation:
    manifest: str
    algorithm: str
    digest: str


def _verify_checksums(
    judging: _Judging, workers: int, executor: Executor | None, *, payload: bool = True
) -> None:
    """Every listed file read once for all its algorithms, on every core, results as they come."""
    bag = judging.bag
    inventory = bag.inventory
    verifiable = [m for m in bag.manifests if m.supported]
    jobs: list[tuple[str, tuple[str, ...]]] = []
    for rel in sorted({*inventory.payload, *inventory.tags} if payload else inventory.tags):
        names = tuple(sorted({m.algorithm for m in verifiable if _expected(judging, m, rel)}))
        if names:
            jobs.append((rel, names))
    sizes = [inventory.size_of(rel) or 0 for rel, _ in jobs]
    outcomes: Iterable[tuple[int, dict[str, str] | str]]
    if isinstance(bag.files, ArchiveFiles):
        files = bag.files
        if not files.sliceable:  # compressed: one pass over the archive, in stored order
            jobs = _within_oxum(judging, jobs)
            outcomes = files.digests_in_order(jobs)
        else:  # a .tar: its members located, digested on every core as a folder's files
            task = functools.partial(digest_slice, files.location)
            located = _Located(jobs, files)
            outcomes = hashing.run_each(task, located, sizes, workers, executor, [_ARCHIVES])
    else:
        outcomes = hashing.run_each(
            functools.partial(_digest_job, bag.files), jobs, sizes, workers, executor, [__name__]
        )
    for index, outcome in outcomes:
        rel = jobs[index][0]
        expectations = [
            _Expectation(m.name, m.algorithm, digest)
            for m in verifiable
            if (digest := _expected(judging, m, rel)) is not None
        ]
        _judge(judging, rel, expectations, outcome)


_ARCHIVES = "archiver.bagit.archives"
# How far past its Payload-Oxum a compressed payload may declare itself and still be inflated.
_BOMB_SLACK = 1 << 30


def _within_oxum(
    judging: _Judging, jobs: list[tuple[str, tuple[str, ...]]]
) -> list[tuple[str, tuple[str, ...]]]:
    """A compressed archive's payload is inflated only up to about what its Payload-Oxum
    says it holds: when its members declare far more (over twice as much, and over
    _BOMB_SLACK more: a bomb of many entries, each under the ratio cap), they are not
    inflated at all, and the tag files alone are checked. A payload a little off its Oxum
    is ordinary damage, judged as in a folder."""
    value = judging.bag.value("Payload-Oxum")
    match = _OXUM.match(value or "")
    if match is None or len(match.group(1)) > 20:
        return jobs
    declared, stated = sum(judging.bag.inventory.payload.values()), int(match.group(1))
    if declared <= stated + max(stated, _BOMB_SLACK):
        return jobs
    judging.add(
        "bag.archive.bomb",
        "",
        f"its payload would inflate to {declared} bytes, more than the {stated} "
        "its Payload-Oxum says; not inflated",
        size=declared,
    )
    return [(rel, names) for rel, names in jobs if not _payload(rel)]


class _Located(Sequence[tuple[str, tuple[str, ...], int, int]]):
    """The jobs with where each member lies in the .tar, made one at a time as the workers'
    batches are: 100,000 of them at once cost 15 MB."""

    def __init__(self, jobs: list[tuple[str, tuple[str, ...]]], files: ArchiveFiles) -> None:
        self._jobs, self._files = jobs, files

    def __len__(self) -> int:
        return len(self._jobs)

    @overload
    def __getitem__(self, index: int) -> tuple[str, tuple[str, ...], int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, tuple[str, ...], int, int]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[str, tuple[str, ...], int, int] | Sequence[tuple[str, tuple[str, ...], int, int]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        rel, names = self._jobs[index]
        offset, size = self._files.slice_of(rel) or (0, 0)
        return rel, names, offset, size


def _expected(judging: _Judging, parsed: Manifest, rel: str) -> str | None:
    """The digest ``parsed`` lists for the bag file ``rel`` (matched by alias too), or None."""
    if parsed.tag == rel.startswith("data/"):
        return None  # payload manifests judge payload files, tag manifests tag files
    digest = parsed.entries.get(rel)
    if digest is None and judging.aliases:
        for listed, actual in judging.aliases.items():
            if actual == rel and listed in parsed.entries:
                return parsed.entries[listed]
    return digest


def _digest_job(
    files: BagFiles, job: tuple[str, tuple[str, ...]], helper: Executor | None
) -> dict[str, str] | str:
    rel, names = job
    return hashing.digest_bag_file(files, rel, names, helper)


def _judge(
    judging: _Judging,
    rel: str,
    expectations: Iterable[_Expectation],
    outcome: dict[str, str] | str,
) -> None:
    if isinstance(outcome, str):
        judging.report.add(unreadable(rel, outcome))
        return
    for expectation in expectations:
        found = outcome[expectation.algorithm]
        if found != expectation.digest:
            judging.report.add(
                checksum_mismatch(
                    rel, expectation.algorithm, expectation.manifest, expectation.digest, found
                )
            )


__all__ = [
    "BAGIT_TXT",
    "Inspection",
    "Mode",
    "check_bag",
    "check_structure",
    "checksum_mismatch",
    "unreadable",
    "verify_checksums",
]
