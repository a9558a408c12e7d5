"""The flow every export follows, and what an exporter provides.

validate the source bag (refused when invalid: exit 1 with the report)
-> read it once (source.SourceBag)
-> the exporter writes its package into a hidden staging folder beside --out
-> the exporter checks what it wrote against the target's own rules: findings with codes
   from the catalogue (``export.<target>.*``, each naming the target's rule;
   ``export.source.*``, the package agreeing with its source bag; the validator's own
   codes for the bag inside a package), and the codes of the rules that held
-> the package is moved into place whole (or, for OCFL, into its storage root)
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from archiver.bagit import algorithms, baginfo, hashing
from archiver.check.bag import Mode
from archiver.check.profile import Profile, Serialization, check_serialized, load_profile
from archiver.clock import Clock
from archiver.codes import Severity
from archiver.errors import InvalidBagError, PackageCheckError, UsageError
from archiver.export.source import PayloadFile, SourceBag, read_source
from archiver.findings import Finding, finding
from archiver.given import given_path
from archiver.staging import Staging, check_outside, check_target

# target name -> module that defines EXPORTER
TARGETS = {
    "dspace-saf": "archiver.export.dspace",
    "archivematica": "archiver.export.archivematica",
    "ocfl": "archiver.export.ocfl",
    "aptrust": "archiver.export.aptrust",
}


@dataclass
class PackageCheck:
    """What checking a package found: every rule judged (by code) and the findings, an
    error finding for every rule broken."""

    findings: list[Finding] = field(default_factory=list)
    judged: dict[str, bool] = field(default_factory=dict)  # rule code -> held everywhere
    broken_rules: set[str] = field(default_factory=set)

    def rule(self, code: str, found: Iterable[Finding] = ()) -> bool:
        """Judge the rule ``code`` (on one part of the package: a rule may be judged on
        several): ``found`` is what was found on it, findings of its own code or another
        check's, such as the validator's, carried as they are. Returns whether it is
        unbroken (no error); it is listed as held when nothing of its own code was found
        either (a notice of its own code: met only in part, as a recommendation)."""
        items = list(found)
        self.findings += items
        unbroken = not any(item.severity is Severity.ERROR for item in items)
        held = unbroken and not any(item.code == code for item in items)
        self.judged[code] = self.judged.get(code, True) and held
        if not unbroken:
            self.broken_rules.add(code)
        return unbroken

    @property
    def checks(self) -> list[str]:
        """The codes of the rules that held, sorted."""
        return sorted(code for code, held in self.judged.items() if held)

    @property
    def broken(self) -> list[Finding]:
        return [item for item in self.findings if item.severity is Severity.ERROR]

    def verdict(self, package: str) -> PackageCheck:
        """This check, or PackageCheckError when a rule is broken."""
        if self.broken:
            raise PackageCheckError(package, self.findings, self.checks, self.broken_rules)
        return self


def within(package: str, found: Iterable[Finding]) -> list[Finding]:
    """Findings about a bag inside a package (a validator's, paths bag-relative), their
    paths made package-relative."""
    return [
        dataclasses.replace(item, path=f"{package}/{item.path}" if item.path else package)
        for item in found
    ]


def payload_findings(
    bag: Path,
    top: str,
    wanted: Mapping[str, PayloadFile],
    present: Iterable[str],
    manifests: Mapping[str, Mapping[str, str]],
) -> list[Finding]:
    """The payload of a bag in a package (unpacked at ``bag`` from its folder ``top``)
    against the source's: ``wanted`` maps each payload path in the package to the source
    file it must be, ``present`` lists the package's payload files that must all be wanted,
    ``manifests`` are the package's own (algorithm -> path -> digest). A file must have the
    source's size and, in every algorithm the source's manifests give, its digest: from the
    package's manifests (which the validator verified), else computed from the file."""
    found = set(present)
    problems = [
        finding("export.source.files", f"{top}/{path}", "a payload file the source bag lacks")
        for path in sorted(found - wanted.keys())
    ]
    for path, item in sorted(wanted.items()):
        where = f"{top}/{path}"
        if path not in found:
            problems.append(finding("export.source.files", where, "missing", source=item.path))
            continue
        problems += _copy_differences(bag / path, where, item, path, manifests)
    return problems


def _copy_differences(
    copy: Path,
    where: str,
    item: PayloadFile,
    path: str,
    manifests: Mapping[str, Mapping[str, str]],
) -> list[Finding]:
    size = copy.stat().st_size
    if size != item.size:
        return [
            finding(
                "export.source.files",
                where,
                "not the source bag's size",
                source=item.path,
                expected=item.size,
                found=size,
            )
        ]
    wanted = {n: d.lower() for n, d in item.digests.items() if algorithms.is_supported(n)}
    if not wanted:
        return [
            finding(
                "export.source.files",
                where,
                "the source's manifests use no algorithm archiver computes",
                source=item.path,
            )
        ]
    unlisted = sorted(n for n in wanted if path not in manifests.get(n, {}))
    digests = hashing.digest_file(copy, unlisted).digests if unlisted else {}
    digests.update((n, manifests[n][path]) for n in wanted if n not in digests)
    return [
        finding(
            "export.source.files",
            where,
            f"its {name} differs from the source bag's manifest",
            source=item.path,
            algorithm=name,
            expected=want,
            found=digests[name],
        )
        for name, want in sorted(wanted.items())
        if digests[name] != want
    ]


def metadata_findings(
    bag: Path, top: str, source: SourceBag, copies: Mapping[str, str]
) -> list[Finding]:
    """The source's metadata files as a package holds them (in its bag unpacked at ``bag``
    from its folder ``top``): ``copies`` maps each path in the package to the source's file
    it must be, byte for byte."""
    problems = []
    for path, name in sorted(copies.items()):
        copy = bag / path
        if not copy.is_file() or copy.read_bytes() != source.metadata_file(name):
            problems.append(
                finding(
                    "export.source.files",
                    f"{top}/{path}",
                    "missing" if not copy.is_file() else "not the source bag's file",
                    source=name,
                )
            )
    return problems


def unwritable(bag_info: Iterable[tuple[str, str]]) -> list[str]:
    """Why the bag writer cannot write each of these bag-info elements, by its own rule
    (baginfo.format_bag_info): an exporter refuses such a bag before writing anything."""
    problems = []
    for label, value in bag_info:
        try:
            baginfo.format_bag_info([(label, value)])
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def packed_profile_findings(
    profile: Profile, bag: Path, top: str, media_types: Sequence[str]
) -> list[Finding]:
    """What ``profile`` finds on a package that is a packed bag, unpacked at ``bag`` from
    its folder ``top``: its Serialization rules judged on the package itself (path ""), the
    others on the unpacked bag (a fast pass: profile rules read no checksum)."""
    from archiver.validation import validate_bag

    unpacked = dataclasses.replace(profile, serialization=Serialization.OPTIONAL)
    report = validate_bag(bag, mode=Mode.FAST, profile=unpacked)
    # Every finding of the profile's judgement names it (tag files it reads included).
    judged = [item for item in report.findings if "profile" in item.params]
    return [*check_serialized(profile, media_types, ""), *within(top, judged)]


@dataclass(frozen=True)
class Options:
    clock: Clock
    profile: Profile | None = None  # a BagIt profile the package must also satisfy
    # The package as the user named it: errors name it so, never the staging folder it is
    # built in (an exporter's ``target``).
    destination: Path | None = None

    def shown(self, target: Path) -> Path:
        """How errors name the package built at ``target``."""
        return self.destination or target


@dataclass(frozen=True)
class Written:
    """What ``write`` may say about what it wrote."""

    path: Path | None = None  # the package, when not --out itself (an object in a root)
    notes: tuple[str, ...] = ()  # what a person should know (a new version, a name's use)


@dataclass
class ExportResult:
    target: str
    path: Path  # the package (folder or file), or the object inside an OCFL root
    checks: list[str] = field(default_factory=list)  # codes of the rules that held
    findings: list[Finding] = field(default_factory=list)  # what else was found
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(item.severity is Severity.ERROR for item in self.findings)

    def to_json(self) -> dict[str, Any]:
        """schemas/export-result.schema.json."""
        return {
            "target": self.target,
            "path": os.fspath(self.path),
            "valid": self.valid,
            "checks": sorted(set(self.checks)),
            "findings": [item.to_json() for item in sorted(self.findings, key=Finding.sort_key)],
            "notes": list(self.notes),
        }


class Exporter(Protocol):
    """What a target module provides as EXPORTER."""

    name: str
    # what --out names: a new folder, a new file, or an OCFL storage root (new or existing)
    creates: Literal["folder", "file", "root"]

    def write(self, source: SourceBag, target: Path, options: Options) -> Written | None:
        """Write the package at ``target`` (a path inside the staging folder); raise
        ExportRefusedError before writing anything the target cannot represent."""

    def check(self, target: Path, source: SourceBag, options: Options) -> PackageCheck:
        """Check the written package against the target's rules: the codes of the rules
        that held and what was found; PackageCheckError (carrying them) when one is broken."""


def exporter(name: str) -> Exporter:
    if name not in TARGETS:
        raise UsageError(f"unknown export target {name!r}: {', '.join(TARGETS)}")
    module = importlib.import_module(TARGETS[name])
    found: Exporter = module.EXPORTER
    return found


def export_bag(
    bag: str | os.PathLike[str],
    *,
    to: str,
    out: str | os.PathLike[str],
    profile: str | os.PathLike[str] | None = None,
    clock: Clock | None = None,
) -> ExportResult:
    """Export the bag at ``bag`` to the ``to`` target at ``out``; ``profile``: a BagIt
    profile file (BagIt Profiles 1.4 or DART's format) the package must meet as well;
    ``clock``: what dates the package (default: SOURCE_DATE_EPOCH, else the system clock).

    Raises InvalidBagError (the bag's report), ExportRefusedError (what the target cannot
    take), PackageCheckError (the findings on the package written, not moved into place)."""
    from archiver.validation import inspect_bag

    chosen = exporter(to)
    bag, out = given_path(bag, "the bag"), given_path(out, "the package")
    options = Options(
        clock or Clock.from_environment(),
        load_profile(profile) if profile is not None else None,
        destination=out,
    )
    if chosen.creates != "root":
        check_target(out, replace=False)
    check_outside(out, bag, "the package cannot be written inside the bag being exported")
    inspection = inspect_bag(bag)
    if not inspection.report.valid:
        raise InvalidBagError(inspection.report, "exported")
    source = read_source(bag, inspection)
    if chosen.creates == "root":
        # An OCFL root is written into in place, one object folder renamed in at a time:
        # the exporter owns that step (see export/ocfl.py).
        written = chosen.write(source, out, options) or Written()
        checked = chosen.check(out, source, options)
        return _result(to, written.path or out, checked, written)
    with Staging(out.parent) as staging:
        inside = staging.path / out.name
        written = chosen.write(source, inside, options) or Written()
        checked = chosen.check(inside, source, options)
        staging.commit_inner(out.name, out)
    return _result(to, out, checked, written)


def _result(to: str, path: Path, checked: PackageCheck, written: Written) -> ExportResult:
    return ExportResult(to, path, list(checked.checks), list(checked.findings), list(written.notes))
