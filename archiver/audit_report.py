"""What audits say, for people and for other systems: the HTML report of a run, the history
kept in the ledger, and a bag's fixity checks as PREMIS 3 events."""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from archiver.audit import DAMAGED, MISSING, AuditReport, BagOutcome
from archiver.errors import UsageError
from archiver.ledger import Ledger
from archiver.provenance import Agent, Event, Identifier, Provenance, Representation
from archiver.xml import premis

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
td { vertical-align: top; }
.intact, .new { color: #176a2c; } .damaged, .missing { color: #a31515; font-weight: bold; }
code { font-size: .9em; }
.digest { font-family: monospace; font-size: .8em; word-break: break-all; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(report: AuditReport) -> str:
    """A self-contained page (no scripts, no external files) a manager can open anywhere."""
    summary = report.to_json()
    bad = [bag for bag in report.bags if bag.status in (DAMAGED, MISSING)]
    good = [bag for bag in report.bags if bag.status not in (DAMAGED, MISSING)]
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
            parts.extend(_bag_section(bag))
    parts.append("<h2>Bags found intact</h2>")
    if good:
        parts.append("<table><tr><th>bag</th><th>status</th><th>files</th><th>bytes</th></tr>")
        parts.extend(
            f'<tr><td>{_e(bag.id)}</td><td class="{_e(bag.status)}">{_e(bag.status)}</td>'
            f"<td>{bag.files}</td><td>{bag.bytes}</td></tr>"
            for bag in good
        )
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _bag_section(bag: BagOutcome) -> Iterator[str]:
    status = f'<span class="{_e(bag.status)}">{_e(bag.status)}</span>'
    yield f'<h3 id="{_e(bag.id)}">{_e(bag.id)} — {status}</h3>'
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
        for row in ledger.bag_checks():
            tally = counts.setdefault(row["run_id"], {})
            status = row["status"] or "unfinished"
            tally[status] = tally.get(status, 0) + 1
        runs = [
            {
                "run": run.id,
                "started": run.started_at,
                "finished": run.finished_at,
                "software": run.software,
                "host": run.host,
                "bags": dict(sorted(counts.get(run.id, {}).items())),
            }
            for run in ledger.runs()
        ]
        return {"runs": runs}
    rows = ledger.bag_checks(bag_id)
    if not rows:
        raise UsageError(f"the ledger has no check of a bag called {bag_id!r}")
    checks = []
    for row in rows:
        problems = [f for f in ledger.file_checks(row["run_id"], bag_id) if f.outcome != "ok"]
        checks.append(
            {
                "run": row["run_id"],
                "started": row["started_at"],
                "finished": row["finished_at"],
                "status": row["status"] or "unfinished",
                "files": row["files"],
                "bytes": row["bytes"],
                "problems": [
                    {
                        "path": f.path,
                        "algorithm": f.algorithm,
                        "outcome": str(f.outcome),
                        "expected": f.expected,
                        "found": f.found,
                    }
                    for f in problems
                ],
            }
        )
    return {"bag": bag_id, "checks": checks}


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
            f"{check['files']} files, {check['bytes']} bytes"
        )
        for problem in check["problems"]:
            lines.append(f"    {problem['outcome']}: {problem['path']} ({problem['algorithm']})")
    return "\n".join(lines)


# -- PREMIS ---------------------------------------------------------------------------------

_FIX_NAMESPACE = uuid.UUID("a3f4c1d2-8b7e-4f60-9c1d-2e3f4a5b6c7d")


def premis_events(ledger: Ledger, bag_id: str) -> str:
    """The bag's finished fixity checks as a PREMIS 3 document: eventType ``fix`` each."""
    rows = [row for row in ledger.bag_checks(bag_id) if row["finished_at"]]
    if not rows:
        raise UsageError(f"the ledger has no finished check of a bag called {bag_id!r}")
    runs = {run.id: run for run in ledger.runs()}
    bag = Identifier("local", bag_id)
    agents: dict[str, Agent] = {}
    events = []
    for row in rows:
        software = runs[row["run_id"]].software
        name, _, version = software.partition(" ")
        agent = agents.setdefault(
            software, Agent(Identifier("local", f"{name}/{version}"), name, "sof", version or None)
        )
        findings = json.loads(row["findings"] or "[]")
        errors = [f for f in findings if f["severity"] == "error"]
        outcome = "success" if row["status"] in ("intact", "new") else "failure"
        note = (
            f"{row['files']} files, {row['bytes']} bytes intact"
            if outcome == "success"
            else "; ".join(f"{f['code']} {f['path']}".strip() for f in errors[:50])
            + ("; ..." if len(errors) > 50 else "")
        )
        events.append(
            Event(
                Identifier("UUID", str(uuid.uuid5(_FIX_NAMESPACE, f"{bag_id}\x1f{row['run_id']}"))),
                "fix",
                datetime.strptime(row["finished_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                f"fixity check by archiver audit run {row['run_id']}: every file's digests "
                "recomputed and compared with the bag's manifests and tag manifests",
                outcome,
                note,
                ((agent.identifier, "exe"),),
                ((bag, "sou"),),
            )
        )
    provenance = Provenance(
        Representation(bag, bag_id, ()), (), tuple(events), tuple(agents.values())
    )
    return premis.document(provenance).decode("utf-8")
