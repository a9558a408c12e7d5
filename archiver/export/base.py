"""The flow every export follows, and what an exporter provides.

validate the source bag (refused when invalid: exit 1 with the report)
-> read it once (source.SourceBag)
-> the exporter writes its package into a hidden staging folder beside --out
-> the exporter checks what it wrote against the target's own rules
-> the package is moved into place whole (or, for OCFL, into its storage root)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from archiver.clock import Clock
from archiver.errors import ArchiverError, UsageError
from archiver.export.source import SourceBag, read_source
from archiver.findings import BagReport
from archiver.staging import Staging, check_target

# target name -> module that defines EXPORTER
TARGETS = {
    "dspace-saf": "archiver.export.dspace",
    "archivematica": "archiver.export.archivematica",
    "ocfl": "archiver.export.ocfl",
    "aptrust": "archiver.export.aptrust",
}


class InvalidSourceError(ArchiverError):
    """The source bag failed validation: no package is made from it."""

    def __init__(self, report: BagReport) -> None:
        errors = sum(1 for f in report.findings if f.severity == "error")
        super().__init__(f"{report.path} is not a valid bag ({errors} errors); nothing exported")
        self.report = report


class ExportRefusedError(UsageError):
    """The target cannot represent this bag (APTrust without a title, say)."""


class PackageCheckError(ArchiverError):
    """The package written breaks the target's rules: it is not moved into place."""


@dataclass(frozen=True)
class Options:
    clock: Clock
    profile: Path | None = None  # a BagIt profile the package must also satisfy


@dataclass(frozen=True)
class Written:
    """What ``write`` may say about what it wrote."""

    path: Path | None = None  # the package, when not --out itself (an object in a root)
    notes: tuple[str, ...] = ()  # what a person should know (a new version, a name's use)


@dataclass
class ExportResult:
    target: str
    path: Path  # the package (folder or file), or the object inside an OCFL root
    checks: list[str] = field(default_factory=list)  # what was checked and held
    notes: list[str] = field(default_factory=list)


class Exporter(Protocol):
    """What a target module provides as EXPORTER."""

    name: str
    # what --out names: a new folder, a new file, or an OCFL storage root (new or existing)
    creates: Literal["folder", "file", "root"]

    def write(self, source: SourceBag, target: Path, options: Options) -> Written | None:
        """Write the package at ``target`` (a path inside the staging folder); raise
        ExportRefusedError before writing anything the target cannot represent."""

    def check(self, target: Path, source: SourceBag, options: Options) -> list[str]:
        """Check the written package against the target's rules: the rules that held, as
        lines a person reads; raise PackageCheckError naming every rule broken."""


def exporter(name: str) -> Exporter:
    if name not in TARGETS:
        raise UsageError(f"unknown export target {name!r}: {', '.join(TARGETS)}")
    module = importlib.import_module(TARGETS[name])
    found: Exporter = module.EXPORTER
    return found


def export_bag(bag: Path, to: str, out: Path, options: Options) -> ExportResult:
    """Export ``bag`` to the ``to`` target at ``out``."""
    from archiver.validation import inspect_bag

    chosen = exporter(to)
    if chosen.creates != "root":
        check_target(out, replace=False)
    inspection = inspect_bag(bag)
    if not inspection.report.valid:
        raise InvalidSourceError(inspection.report)
    source = read_source(bag, inspection)
    if chosen.creates == "root":
        # An OCFL root is written into in place, one object folder renamed in at a time:
        # the exporter owns that step (see export/ocfl.py).
        written = chosen.write(source, out, options) or Written()
        checks = chosen.check(out, source, options)
        return ExportResult(to, written.path or out, checks, list(written.notes))
    with Staging(out.parent) as staging:
        inside = staging.path / out.name
        written = chosen.write(source, inside, options) or Written()
        checks = chosen.check(inside, source, options)
        staging.commit_inner(out.name, out)
    return ExportResult(to, out, checks, list(written.notes))
