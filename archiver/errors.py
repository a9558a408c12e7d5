"""The exception tree: every operation that cannot be carried out raises one of these.

    ArchiverError                 root; the CLI turns any of them into exit code 2
    ├── UsageError                an argument the command cannot accept (e.g. a bad --id)
    │   └── ExportRefusedError    the export target cannot represent this bag
    ├── SourceError               a source file or folder that cannot be bagged
    ├── MetadataError             a metadata record that is not JSON or breaks the schema;
    │                             carries every problem found, each naming its field
    ├── ClockError                a SOURCE_DATE_EPOCH that is not a whole number of seconds
    │   └── DigestMismatchError   payload bytes differ from what their source bag promised
    ├── BagExistsError            the target bag folder is already there
    ├── BagWriteError             the file system refused to write the bag
    ├── InvalidBagError           a bag to export or ingest failed validation (its report)
    ├── PackageCheckError         an export package breaks its target's rules (findings)
    ├── SchemaError               a vendored schema is missing or does not compile
    ├── WorkerError               a worker process died (killed, out of memory)
    └── CollectionError           a collection cannot do what was asked (not a folder, no
        │                         such bag, never audited, another audit running)
        └── StoreError            one of its SQLite databases cannot be opened or used, is
                                  not archiver's, or was written by a newer archiver

Inspecting something (validating a bag) never raises for what it finds: it returns a
Report. Errors of lower layers (OSError, lxml, jsonschema, sqlite3) are translated where
they enter, with ``raise ... from exc``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archiver.findings import BagReport, Finding


class ArchiverError(Exception):
    """Root of every error archiver raises on purpose."""


class UsageError(ArchiverError):
    """An argument the command cannot accept."""


class ExportRefusedError(UsageError):
    """The export target cannot represent this bag (APTrust without a title, a name DSpace's
    contents file cannot list): nothing is written."""


class SourceError(ArchiverError):
    """A source file or folder that cannot be bagged."""


class DigestMismatchError(SourceError):
    """Payload bytes differ from the digests their source bag promised (a file changed
    between validation and copy): nothing is written."""

    def __init__(self, mismatches: Sequence[tuple[str, str, str, str]]) -> None:
        self.mismatches = tuple(mismatches)  # (bag path, algorithm, expected, found)
        details = "; ".join(
            f"{path}: {name} is {found}, its bag said {want}"
            for path, name, want, found in self.mismatches
        )
        super().__init__(f"payload differs from its bag's manifests: {details}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a metadata record, tied to the field it concerns."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class MetadataError(ArchiverError):
    """A metadata record that cannot be used; lists every problem at once."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        details = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{source}: {count} {noun}: {details}")


class ClockError(ArchiverError):
    """SOURCE_DATE_EPOCH is set but is not a usable timestamp."""


class BagExistsError(ArchiverError):
    """The target bag already exists and replacing it was not asked for; ``path`` is what
    holds its place, when known."""

    def __init__(self, message: str, path: os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = path


class BagWriteError(ArchiverError):
    """The bag could not be written."""


class InvalidBagError(ArchiverError):
    """A bag that must be valid for the job (an export, an ingest) failed validation; its
    report says why. Nothing is made from it."""

    def __init__(self, report: BagReport, job: str) -> None:
        from archiver.findings import counted

        errors = sum(counted(f) for f in report.findings if f.severity == "error")
        noun = "error" if errors == 1 else "errors"
        super().__init__(f"{report.path} is not a valid bag ({errors} {noun}); nothing {job}")
        self.report = report


class PackageCheckError(ArchiverError):
    """An export package breaks its target's rules, so it is not moved into place. Carries
    what the check found (``findings``: every broken rule an error), the codes of the rules
    that held (``checks``) and of those broken (``broken_rules``)."""

    def __init__(
        self,
        package: str,
        findings: Sequence[Finding],
        checks: Sequence[str],
        broken_rules: Iterable[str],
    ) -> None:
        self.findings = list(findings)
        self.checks = list(checks)
        self.broken_rules = sorted(broken_rules)
        count = sum(1 for item in self.findings if item.severity == "error")
        super().__init__(
            f"{package} breaks {', '.join(self.broken_rules)} ({count} error "
            f"{'finding' if count == 1 else 'findings'})"
        )


class SchemaError(ArchiverError):
    """A vendored schema is missing or does not compile."""


class WorkerError(ArchiverError):
    """A worker process died in the middle of its work (killed, out of memory): the job
    stops, and leaves what it had not finished as a failed job leaves it."""


class CollectionError(ArchiverError):
    """A collection cannot do what was asked of it."""


class StoreError(CollectionError):
    """A collection's SQLite database cannot be opened or used, is not archiver's, or was
    written by a newer archiver."""
