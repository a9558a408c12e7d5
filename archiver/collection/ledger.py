"""The fixity ledger: a SQLite database that remembers every audit of a collection.

It records every run and, per bag and per file, each check: when, which algorithm, the
expected and found digests, the outcome, how long it took and which software did it.
Results are written as they arrive, one short transaction each, so a run killed at any
moment (kill -9) loses nothing it had recorded, and the next run resumes it.

Opened through the collection's store (schema versions, WAL, transactions) as an
irreplaceable database: made whole by the first audit, checked page by page whenever it is
opened, and never replaced — an empty, truncated or damaged ledger is an error naming the
file, not a reason to begin a new history. A file of its own, so that indexing the catalog
never blocks an audit's writes.
Only the coordinator of an audit writes here (workers, local or Dask, only hash).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from archiver.bagit import paths
from archiver.collection.store import Row, Schema, Store, statements

LEDGER_FILE = "ledger.sqlite"
SCHEMA = Schema(
    "ledger",
    (
        statements(
            """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        software TEXT NOT NULL,
        host TEXT NOT NULL,
        options TEXT NOT NULL
    )""",
            """CREATE TABLE bags (
        id TEXT PRIMARY KEY,
        first_seen TEXT NOT NULL,
        missing_since TEXT
    )""",
            """CREATE TABLE bag_checks (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        bag_id TEXT NOT NULL REFERENCES bags(id),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT,
        files INTEGER,
        bytes INTEGER,
        seconds REAL,
        findings TEXT,
        PRIMARY KEY (run_id, bag_id)
    )""",
            """CREATE TABLE file_checks (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        bag_id TEXT NOT NULL,
        path TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        expected TEXT,
        found TEXT,
        outcome TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        seconds REAL,
        software TEXT NOT NULL,
        PRIMARY KEY (run_id, bag_id, path, algorithm)
    )""",
            "CREATE INDEX bag_checks_by_bag ON bag_checks(bag_id, finished_at)",
        ),
        # 2: which run first saw a bag (a resumed run still calls it new), when one last saw
        # it, and which run told of its withdrawal (told once, never as missing).
        statements(
            "ALTER TABLE bags ADD COLUMN first_run INTEGER REFERENCES runs(id)",
            "ALTER TABLE bags ADD COLUMN last_seen TEXT",
            "ALTER TABLE bags ADD COLUMN withdrawn_run INTEGER REFERENCES runs(id)",
        ),
    ),
    irreplaceable=True,
)
SCHEMA_VERSION = SCHEMA.version


class BagStatus(StrEnum):
    """A bag's verdict in an audit: bag_checks.status, and "status" in every report."""

    INTACT = "intact"
    NEW = "new"  # seen for the first time by this ledger, and intact
    DAMAGED = "damaged"  # a file changed or gone, or the folder is no longer a bag
    MISSING = "missing"  # known to the ledger, gone from the collection, not withdrawn
    WITHDRAWN = "withdrawn"  # known to the ledger, then withdrawn (told once)
    UNFINISHED = "unfinished"  # begun by a run that was interrupted (NULL in bag_checks)

    @property
    def verified(self) -> bool:
        """Whether the bag was found intact: a successful fixity check."""
        return self in _VERIFIED

    @property
    def failed(self) -> bool:
        """Whether the bag was found damaged or missing: what makes an audit fail."""
        return self in _FAILED

    @property
    def gone(self) -> bool:
        """Whether the bag had left the collection: no fixity check was made."""
        return self in _GONE


_VERIFIED = frozenset({BagStatus.INTACT, BagStatus.NEW})
_FAILED = frozenset({BagStatus.DAMAGED, BagStatus.MISSING})
_GONE = frozenset({BagStatus.MISSING, BagStatus.WITHDRAWN})


class Outcome(StrEnum):
    """What a file check found (file_checks.outcome)."""

    OK = "ok"
    CHANGED = "changed"
    MISSING = "missing"
    UNLISTED = "unlisted"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FileCheck:
    """One file digested with one algorithm (a row of file_checks)."""

    bag_id: str
    path: str
    algorithm: str
    expected: str | None
    found: str | None
    outcome: Outcome
    seconds: float | None = None


@dataclass(frozen=True)
class BagCheck:
    """One bag checked by one run (a row of bag_checks); findings as their JSON."""

    run_id: int
    bag_id: str
    started_at: str
    finished_at: str | None
    status: BagStatus
    files: int | None  # None until the check finishes
    bytes: int | None
    seconds: float | None
    findings: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class KnownBag:
    """What the ledger knows of a bag (a row of bags)."""

    id: str
    first_run: int | None  # None: first seen before the ledger noted runs (schema 1)
    last_seen: str | None
    missing_since: str | None
    withdrawn_run: int | None


@dataclass(frozen=True)
class Run:
    """One audit run (a row of runs)."""

    id: int
    started_at: str
    finished_at: str | None
    software: str
    host: str
    options: dict[str, Any]


class Ledger:
    """One open ledger database; ``create`` makes it when there is none (only the audit
    does, holding its lock)."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self.store = Store(path, SCHEMA, create=create)

    def close(self) -> None:
        self.store.close()

    # -- runs --------------------------------------------------------------------------

    def unfinished_run(self) -> Run | None:
        row = self.store.row(
            "SELECT * FROM runs WHERE finished_at IS NULL ORDER BY id DESC LIMIT 1"
        )
        return _run(row) if row else None

    def start_run(
        self, started_at: str, software: str, host: str, options: Mapping[str, Any]
    ) -> Run:
        with self.store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started_at, software, host, options) VALUES (?, ?, ?, ?)",
                (started_at, software, host, json.dumps(dict(options), sort_keys=True)),
            )
        run_id = cursor.lastrowid
        assert run_id is not None
        return Run(run_id, started_at, None, software, host, dict(options))

    def finish_run(self, run_id: int, finished_at: str) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (finished_at, run_id))

    def runs(self) -> list[Run]:
        return [_run(row) for row in self.store.rows("SELECT * FROM runs ORDER BY id")]

    # -- bags --------------------------------------------------------------------------

    def known_bags(self) -> dict[str, KnownBag]:
        """Every bag the ledger has seen, by id."""
        return {
            _named(row["id"]): KnownBag(
                _named(row["id"]),
                row["first_run"],
                row["last_seen"],
                row["missing_since"],
                row["withdrawn_run"],
            )
            for row in self.store.rows("SELECT * FROM bags")
        }

    def saw_bags(self, bag_ids: Iterable[str], run_id: int, when: str) -> None:
        """The bags present when run ``run_id`` began: new ones noted, returned ones no
        longer missing or withdrawn."""
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO bags (id, first_seen, first_run, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET last_seen = excluded.last_seen, "
                "missing_since = NULL, withdrawn_run = NULL",
                [(_name(bag_id), when, run_id, when) for bag_id in bag_ids],
            )

    def gone_bag(
        self,
        run_id: int,
        bag_id: str,
        *,
        when: str,
        status: BagStatus,
        findings: list[dict[str, Any]],
    ) -> None:
        """Run ``run_id``'s verdict on a bag no longer in the collection (missing, or
        withdrawn), replacing whatever the run had recorded of it before it left."""
        assert status.gone, status
        with self.store.transaction() as db:
            if status is BagStatus.MISSING:
                db.execute(
                    "UPDATE bags SET missing_since = COALESCE(missing_since, ?) WHERE id = ?",
                    (when, _name(bag_id)),
                )
            else:
                db.execute(
                    "UPDATE bags SET withdrawn_run = ?, missing_since = NULL WHERE id = ?",
                    (run_id, _name(bag_id)),
                )
            db.execute(
                "INSERT INTO bag_checks (run_id, bag_id, started_at, finished_at, status, files, "
                "bytes, seconds, findings) VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?) "
                "ON CONFLICT(run_id, bag_id) DO UPDATE SET finished_at = excluded.finished_at, "
                "status = excluded.status, files = 0, bytes = 0, seconds = 0, "
                "findings = excluded.findings",
                (run_id, _name(bag_id), when, when, status, json.dumps(findings, sort_keys=True)),
            )

    def last_success(self) -> dict[str, str]:
        """Bag id -> when its last successful verification finished."""
        marks = ", ".join("?" * len(_VERIFIED))  # placeholders only: no value is spliced in
        rows = self.store.rows(
            "SELECT bag_id, MAX(finished_at) AS at FROM bag_checks "  # noqa: S608
            f"WHERE status IN ({marks}) GROUP BY bag_id",
            sorted(_VERIFIED),
        )
        return {_named(row["bag_id"]): row["at"] for row in rows}

    def latest_checks(self) -> dict[str, tuple[BagStatus, str]]:
        """Bag id -> (status, when) of its last finished check, for every bag checked."""
        rows = self.store.rows(
            "SELECT bag_id, status, finished_at, MAX(run_id) FROM bag_checks "
            "WHERE finished_at IS NOT NULL GROUP BY bag_id"
        )
        return {
            _named(row["bag_id"]): (BagStatus(row["status"]), row["finished_at"]) for row in rows
        }

    def start_bag(self, run_id: int, bag_id: str, when: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO bag_checks (run_id, bag_id, started_at) VALUES (?, ?, ?)",
                (run_id, _name(bag_id), when),
            )

    def finish_bag(
        self,
        run_id: int,
        bag_id: str,
        *,
        when: str,
        status: BagStatus,
        files: int,
        size: int,
        seconds: float,
        findings: list[dict[str, Any]],
    ) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE bag_checks SET finished_at = ?, status = ?, files = ?, bytes = ?, "
                "seconds = ?, findings = ? WHERE run_id = ? AND bag_id = ?",
                (
                    when,
                    status,
                    files,
                    size,
                    seconds,
                    json.dumps(findings, sort_keys=True),
                    run_id,
                    _name(bag_id),
                ),
            )

    def bag_checks(self, bag_id: str | None = None) -> list[BagCheck]:
        """Every bag check, or every check of one bag, in run order."""
        if bag_id is None:
            rows = self.store.rows("SELECT * FROM bag_checks ORDER BY run_id, bag_id")
        else:
            rows = self.store.rows(
                "SELECT * FROM bag_checks WHERE bag_id = ? ORDER BY run_id", (_name(bag_id),)
            )
        return [_bag_check(row) for row in rows]

    def run_checks(self, run_id: int) -> list[BagCheck]:
        """The bags one run has checked (or begun to), by bag id."""
        rows = self.store.rows(
            "SELECT * FROM bag_checks WHERE run_id = ? ORDER BY bag_id", (run_id,)
        )
        return [_bag_check(row) for row in rows]

    # -- files -------------------------------------------------------------------------

    def record_files(
        self, run_id: int, checks: Iterable[FileCheck], when: str, software: str
    ) -> None:
        """Record checks in one transaction. A check already recorded is an error, never
        silently overwritten: a resumed run must not re-check what it has."""
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO file_checks (run_id, bag_id, path, algorithm, expected, found, "
                "outcome, checked_at, seconds, software) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        _name(c.bag_id),
                        _name(c.path),
                        c.algorithm,
                        c.expected,
                        c.found,
                        c.outcome,
                        when,
                        c.seconds,
                        software,
                    )
                    for c in checks
                ],
            )

    def file_checks(self, run_id: int, bag_id: str) -> list[FileCheck]:
        rows = self.store.rows(
            "SELECT * FROM file_checks WHERE run_id = ? AND bag_id = ? ORDER BY path, algorithm",
            (run_id, _name(bag_id)),
        )
        return [
            FileCheck(
                _named(r["bag_id"]),
                _named(r["path"]),
                r["algorithm"],
                r["expected"],
                r["found"],
                Outcome(r["outcome"]),
                r["seconds"],
            )
            for r in rows
        ]


def _run(row: Row) -> Run:
    return Run(
        row["id"],
        row["started_at"],
        row["finished_at"],
        row["software"],
        row["host"],
        json.loads(row["options"]),
    )


def _bag_check(row: Row) -> BagCheck:
    return BagCheck(
        row["run_id"],
        _named(row["bag_id"]),
        row["started_at"],
        row["finished_at"],
        BagStatus(row["status"]) if row["status"] else BagStatus.UNFINISHED,
        row["files"],
        row["bytes"],
        row["seconds"],
        tuple(json.loads(row["findings"] or "[]")),
    )


def _name(value: str) -> str | bytes:
    """A bag id or file path as the ledger stores it: as text, or, for a name that is not
    UTF-8 (bytes the file system gave as surrogate escapes), as those very bytes: SQLite
    text must be UTF-8, and the ledger must name the file it checked exactly."""
    if paths.is_utf8(value):
        return value
    try:
        return os.fsencode(value)
    except UnicodeEncodeError:  # a lone surrogate no file system gave: kept as it came
        return value.encode("utf-8", "surrogatepass")


def _named(value: str | bytes) -> str:
    """A name back from the ledger, as the file system gives it."""
    return os.fsdecode(value) if isinstance(value, bytes) else value
