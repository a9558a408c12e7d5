"""What inspecting a bag found: Findings, gathered per bag into a Report.

A Finding carries a catalogue code, a severity, the bag-relative path it concerns (a field,
never baked into the message), a message and structured params (algorithm, expected,
found, line...). Reports serialise to stable, sorted JSON (schemas/validation-report.schema.json).

A hostile or broken tag file can hold a million bad lines. A report lists the first
``LISTED`` findings of a code about one file, then one more finding of that code counts the
rest (its ``more`` param): memory and output stay bounded whatever a bag holds, and every
kind of problem is still told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archiver.codes import CATALOGUE, LISTED, Severity

Param = str | int | None


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    path: str
    message: str
    params: Mapping[str, Param] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        return CATALOGUE[self.code].rule

    def sort_key(self) -> tuple[int, str, str, str]:
        rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[self.severity]
        return (rank, self.path, self.code, self.message)

    def describe(self) -> str:
        """One line for a person: where (path, line), then the message."""
        where = self.path
        line = self.params.get("line")
        if line is not None:
            where = f"{where} line {line}" if where else f"line {line}"
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "path": self.path,
            "message": self.message,
            "rule": self.rule,
            "params": dict(sorted(self.params.items())),
        }


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    """A Finding back from ``Finding.to_json`` (reports cross process boundaries as JSON)."""
    return Finding(
        str(data["code"]),
        Severity(data["severity"]),
        str(data["path"]),
        str(data["message"]),
        dict(data.get("params", {})),
    )


def finding(code: str, path: str, message: str, **params: Param) -> Finding:
    """A Finding for a catalogue code at its catalogue severity; KeyError for an unknown code."""
    return Finding(code, CATALOGUE[code].severity, path, message, params)


MORE = "more"  # the param of the finding that counts those not listed


def counted(item: Finding) -> int:
    """How many findings ``item`` stands for: itself, or the ones it counts."""
    more = item.params.get(MORE)
    return more if isinstance(more, int) else 1


class Summariser:
    """Keeps a list of findings short: the first ``limit`` of a code about one file (``about``:
    a manifest, fetch.txt; by default the finding's own path) are listed, then one finding of
    that code, at that file, counts the rest. A counting finding added (a reader's) adds to
    the count."""

    def __init__(self, findings: list[Finding], limit: int = LISTED) -> None:
        self.findings = findings
        self.limit = limit
        self._listed: dict[tuple[str, str], int] = {}
        self._counter: dict[tuple[str, str], int] = {}  # key -> index of its counting finding

    def add(self, item: Finding, about: str | None = None) -> None:
        key = (item.code, item.path if about is None else about)
        if MORE not in item.params:
            listed = self._listed.get(key, 0)
            if listed < self.limit:
                self._listed[key] = listed + 1
                self.findings.append(item)
                return
        index = self._counter.get(key)
        total = counted(item) + (counted(self.findings[index]) if index is not None else 0)
        summary = Finding(
            item.code,
            item.severity,
            key[1],
            f"{total} more like this not listed (only the first {self.limit} are)",
            {MORE: total},
        )
        if index is None:
            self._counter[key] = len(self.findings)
            self.findings.append(summary)
        else:
            self.findings[index] = summary


@dataclass
class BagReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    # bag-info as the reader decoded it: (label, value) in order, repeats kept
    bag_info: list[tuple[str, str]] = field(default_factory=list)
    _summariser: Summariser = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        given, self.findings = self.findings, []
        self._summariser = Summariser(self.findings)
        for item in given:
            self._summariser.add(item)

    @property
    def valid(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def add(self, item: Finding, about: str | None = None) -> None:
        """Add a finding; past LISTED of its code about one file (``about``, by default its
        path), it is only counted."""
        self._summariser.add(item, about)

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.findings, key=Finding.sort_key)
        return {
            "path": self.path,
            "valid": self.valid,
            "bag_info": [[label, value] for label, value in self.bag_info],
            "findings": [f.to_json() for f in ordered],
        }


@dataclass
class Report:
    bags: list[BagReport] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(bag.valid for bag in self.bags)

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "bags": [bag.to_json() for bag in self.bags]}
