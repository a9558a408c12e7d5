"""What audits say, for people and for other systems: the report of a run (as JSON and as a
self-contained HTML page), the history kept in the ledger, and a bag's fixity checks as
PREMIS 3 events."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from archiver.clock import from_w3cdtf
from archiver.codes import Severity
from archiver.collection.ledger import BagStatus, Ledger, Outcome
from archiver.errors import CollectionError
from archiver.findings import Finding
from archiver.provenance import Agent, Event, Identifier, Provenance, Representation
from archiver.xml import premis
from archiver.xml.characters import xml_escaped

# -- the report of a run ----------------------------------------------------------------------


@dataclass
class BagOutcome:
    """One bag's verdict in a run, with every finding behind it."""

    id: str
    status: BagStatus
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.findings, key=Finding.sort_key)
        return {
            "id": self.id,
            "status": str(self.status),
            "files": self.files,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "findings": [f.to_json() for f in ordered],
        }


@dataclass
class AuditReport:
    """One run: what was checked, what was skipped, and each checked bag's verdict.

    Each bag is kept as a line with its findings (an intact bag has few, if any): memory
    grows with the number of bags, not with their files.
    """

    collection: str
    ledger: str
    run: int
    resumed: bool
    started: str
    finished: str = ""
    skipped: int = 0
    hashed: int = 0  # bytes read and digested by this invocation (less when resuming)
    bags: list[BagOutcome] = field(default_factory=list)

    def count(self, status: BagStatus) -> int:
        return sum(1 for bag in self.bags if bag.status is status)

    @property
    def checked(self) -> int:
        """Bags whose fixity was checked (not those found gone)."""
        return sum(1 for bag in self.bags if not bag.status.gone)

    @property
    def damaged(self) -> int:
        """Bags found damaged or missing."""
        return sum(1 for bag in self.bags if bag.status.failed)

    @property
    def intact(self) -> bool:
        return self.damaged == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "ledger": self.ledger,
            "run": self.run,
            "resumed": self.resumed,
            "started": self.started,
            "finished": self.finished,
            "checked": self.checked,
            "skipped": self.skipped,
            "damaged": self.damaged,
            "missing": self.count(BagStatus.MISSING),
            "withdrawn": self.count(BagStatus.WITHDRAWN),
            "new": self.count(BagStatus.NEW),
            "files": sum(bag.files for bag in self.bags),
            "bytes": sum(bag.bytes for bag in self.bags),
            "hashed": self.hashed,
            "bags": [bag.to_json() for bag in self.bags],
        }


# -- text -------------------------------------------------------------------------------------

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int) -> str:
    """A byte count as a person reads it: bytes below 1 KiB, then binary units, one decimal."""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def run_text(report: AuditReport) -> Iterator[str]:
    """The run for a person: each bag with something to tell (damage, findings), then one line
    for the run. A bag that is only new to the ledger is counted there, not listed: a first
    audit of ten thousand bags is one line."""
    for bag in report.bags:
        told = [f for f in bag.findings if f.code != "audit.bag.new"]
        if told or bag.status not in (BagStatus.INTACT, BagStatus.NEW):
            yield f"{bag.id}: {bag.status}"
            for item in sorted(told, key=Finding.sort_key):
                yield f"  {item.severity}: [{item.code}] {item.describe()}"
    summary = report.to_json()
    withdrawn = f", {summary['withdrawn']} withdrawn" if summary["withdrawn"] else ""
    yield (
        f"run {report.run}{' (resumed)' if report.resumed else ''}: {summary['checked']} bags "
        f"checked, {summary['skipped']} skipped, {summary['damaged']} damaged or missing, "
        f"{summary['new']} new{withdrawn}; {summary['files']} files, "
        f"{human_size(summary['bytes'])}"
    )


# -- HTML -------------------------------------------------------------------------------------

_GOOD = ", ".join(f".{status}" for status in BagStatus if status.verified)
_BAD = ", ".join(f".{status}" for status in BagStatus if status.failed)
_CSS = f"""
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }}
th, td {{ text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; }}
td {{ vertical-align: top; }}
{_GOOD} {{ color: #176a2c; }} {_BAD} {{ color: #a31515; font-weight: bold; }}
code {{ font-size: .9em; }}
.digest {{ font-family: monospace; font-size: .8em; word-break: break-all; }}
"""


def _e(value: object) -> str:
    # A file name may hold control characters or bytes that are not UTF-8: shown escaped.
    return html.escape(xml_escaped(str(value)), quote=True)


def render_html(report: AuditReport, titles: Mapping[str, str] | None = None) -> str:
    """A self-contained page (no scripts, no external files) a manager can open anywhere;
    each bag named by its id and, beside it, its title in ``titles`` (Collection.titles)."""
    titles = titles or {}
    summary = report.to_json()
    bad = [bag for bag in report.bags if bag.status.failed]
    good = [bag for bag in report.bags if bag.status.verified]
    withdrawn = [bag for bag in report.bags if bag.status is BagStatus.WITHDRAWN]
    verdict = (
        "Everything checked is intact."
        if report.intact
        else (f"Damage found in {len(bad)} bag{'s' if len(bad) != 1 else ''}.")
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>archiver audit, run {report.run}</title><style>{_CSS}</style></head><body>",
        f"<h1>Integrity audit of <code>{_e(report.collection)}</code>, run {report.run}</h1>",
        f"<p><strong>{_e(verdict)}</strong></p>",
        "<table>",
        *(
            f"<tr><th>{_e(label)}</th><td>{_e(summary[key])}</td></tr>"
            for label, key in (
                ("Started", "started"),
                ("Finished", "finished"),
                ("Bags checked", "checked"),
                ("Bags skipped (checked recently)", "skipped"),
                ("Bags damaged or missing", "damaged"),
                ("Bags new to the ledger", "new"),
                ("Bags withdrawn since the last run", "withdrawn"),
                ("Files checked", "files"),
                ("Bytes checked", "bytes"),
                ("Ledger", "ledger"),
            )
        ),
        "</table>",
    ]
    if report.resumed:
        parts.append("<p>This run resumed an earlier one that was interrupted.</p>")
    if bad:
        parts.append("<h2>Damaged and missing bags</h2>")
        for bag in bad:
            parts.extend(_bag_section(bag, titles.get(bag.id, "")))
    if withdrawn:
        parts.append("<h2>Bags withdrawn since the last run</h2><table>")
        parts.extend(
            f"<tr><td>{_e(bag.id)}</td><td>{_e(item.message)}</td></tr>"
            for bag in withdrawn
            for item in bag.findings
        )
        parts.append("</table>")
    parts.append("<h2>Bags found intact</h2>")
    if good:
        parts.append(
            "<table><tr><th>bag</th><th>title</th><th>status</th><th>files</th><th>size</th></tr>"
        )
        parts.extend(
            f"<tr><td>{_e(bag.id)}</td><td>{_e(titles.get(bag.id, ''))}</td>"
            f'<td class="{_e(bag.status)}">{_e(bag.status)}</td>'
            f'<td>{bag.files}</td><td title="{bag.bytes} bytes">{_e(human_size(bag.bytes))}</td>'
            "</tr>"
            for bag in good
        )
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _bag_section(bag: BagOutcome, title: str) -> Iterator[str]:
    status = f'<span class="{_e(bag.status)}">{_e(bag.status)}</span>'
    named = f"{_e(bag.id)}: {_e(title)}" if title else _e(bag.id)
    yield f'<h3 id="{_e(bag.id)}">{named} — {status}</h3>'
    yield "<table><tr><th>severity</th><th>file</th><th>what</th><th>details</th></tr>"
    for item in sorted(bag.findings, key=lambda f: f.sort_key()):
        details = ", ".join(f"{k}: {v}" for k, v in sorted(item.params.items()) if v is not None)
        yield (
            f"<tr><td>{_e(item.severity)}</td><td><code>{_e(item.path)}</code></td>"
            f"<td>{_e(item.message)}<br><small>{_e(item.code)}</small></td>"
            f'<td class="digest">{_e(details)}</td></tr>'
        )
    yield "</table>"


# -- history --------------------------------------------------------------------------------


def history(ledger: Ledger, bag_id: str | None = None) -> dict[str, Any]:
    """The ledger's story: every run (with counts), or every check of one bag."""
    if bag_id is None:
        counts: dict[int, dict[str, int]] = {}
        for check in ledger.bag_checks():
            tally = counts.setdefault(check.run_id, {})
            tally[check.status] = tally.get(check.status, 0) + 1
        runs = [
            {
                "run": run.id,
                "started": run.started_at,
                "finished": run.finished_at,
                "software": run.software,
                "host": run.host,
                "bags": {str(s): n for s, n in sorted(counts.get(run.id, {}).items())},
            }
            for run in ledger.runs()
        ]
        return {"runs": runs}
    checks = ledger.bag_checks(bag_id)
    if not checks:
        raise CollectionError(f"the ledger has no check of a bag called {bag_id!r}")
    return {
        "bag": bag_id,
        "checks": [
            {
                "run": check.run_id,
                "started": check.started_at,
                "finished": check.finished_at,
                "status": str(check.status),
                "files": check.files,
                "bytes": check.bytes,
                "problems": [
                    {
                        "path": f.path,
                        "algorithm": f.algorithm,
                        "outcome": str(f.outcome),
                        "expected": f.expected,
                        "found": f.found,
                    }
                    for f in ledger.file_checks(check.run_id, bag_id)
                    if f.outcome is not Outcome.OK
                ],
            }
            for check in checks
        ],
    }


def history_text(data: dict[str, Any]) -> str:
    """The history as lines a person reads."""
    lines = []
    if "runs" in data:
        for run in data["runs"]:
            tally = ", ".join(f"{n} {status}" for status, n in run["bags"].items()) or "no bags"
            lines.append(
                f"run {run['run']}  {run['started']} -> {run['finished'] or 'unfinished'}  "
                f"{tally}  ({run['software']} on {run['host']})"
            )
        return "\n".join(lines) if lines else "no audit has been run"
    for check in data["checks"]:
        lines.append(
            f"run {check['run']}  {check['finished'] or check['started']}  {check['status']}  "
            f"{check['files']} files, {human_size(check['bytes'])}"
        )
        for problem in check["problems"]:
            lines.append(f"    {problem['outcome']}: {problem['path']} ({problem['algorithm']})")
    return "\n".join(lines)


# -- PREMIS ---------------------------------------------------------------------------------

_FIX_NAMESPACE = uuid.UUID("a3f4c1d2-8b7e-4f60-9c1d-2e3f4a5b6c7d")


def premis_events(ledger: Ledger, bag_id: str) -> str:
    """The bag's finished fixity checks as a PREMIS 3 document: eventType ``fix`` each.
    A run that found the bag withdrawn made no fixity check of it: no event."""
    checks = [
        check
        for check in ledger.bag_checks(bag_id)
        if check.finished_at and check.status is not BagStatus.WITHDRAWN
    ]
    if not checks:
        raise CollectionError(f"the ledger has no finished check of a bag called {bag_id!r}")
    runs = {run.id: run for run in ledger.runs()}
    # Names XML cannot hold (a control character, bytes that are not UTF-8) are written
    # escaped: the bag's fixity evidence is never withheld for the name of one of its files.
    bag = Identifier("local", xml_escaped(bag_id))
    agents: dict[str, Agent] = {}
    events = []
    for check in checks:
        assert check.finished_at is not None
        software = runs[check.run_id].software
        name, _, version = software.partition(" ")
        agent = agents.setdefault(
            software, Agent(Identifier("local", f"{name}/{version}"), name, "sof", version or None)
        )
        errors = [f for f in check.findings if f["severity"] == Severity.ERROR]
        outcome = "success" if check.status.verified else "failure"
        note = (
            f"{check.files} files, {check.bytes} bytes intact"
            if check.status.verified
            else "; ".join(f"{f['code']} {f['path']}".strip() for f in errors[:50])
            + ("; ..." if len(errors) > 50 else "")
        )
        identifier = uuid.uuid5(_FIX_NAMESPACE, f"{bag_id}\x1f{check.run_id}")
        events.append(
            Event(
                Identifier("UUID", str(identifier)),
                "fix",
                from_w3cdtf(check.finished_at),
                f"fixity check by archiver audit run {check.run_id}: every file's digests "
                "recomputed and compared with the bag's manifests and tag manifests",
                outcome,
                (xml_escaped(note),),
                ((agent.identifier, "exe"),),
                ((bag, "sou"),),
            )
        )
    provenance = Provenance(
        Representation(bag, xml_escaped(bag_id)), (), tuple(events), tuple(agents.values())
    )
    return premis.document(provenance).decode("utf-8")
