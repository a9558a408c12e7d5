"""The batch journal: which rows of which sheet became which bag (``archiver batch``).

A row is journalled once its bag is in the collection, in the transaction that says so;
a sheet is known by the SHA-256 of its bytes, so a sheet edited (a row fixed) is another
sheet, and its rows are bagged unless their bags are there already (then adopted). Only
the process running a batch writes here; two batches of one sheet at once each bag a row
at most once between them (the second finds the bag there and adopts it).

A database of the collection's store (schema versions, WAL, transactions). It can be lost
without losing a bag: a batch run again adopts what it finds already made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archiver.collection.store import Schema, Store, statements

JOURNAL_FILE = "batches.sqlite"
SCHEMA = Schema(
    "batch journal",
    (
        statements(
            """CREATE TABLE rows (
        sheet TEXT NOT NULL,
        row INTEGER NOT NULL,
        bag_id TEXT NOT NULL,
        how TEXT NOT NULL CHECK (how IN ('bagged', 'adopted')),
        at TEXT NOT NULL,
        PRIMARY KEY (sheet, row)
    )""",
        ),
    ),
)


class Journal:
    """The journal of one collection."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """The journal at ``path``, made when missing; ``read_only``: an existing one,
        read without writing anything (a dry run's look)."""
        self.path = path
        self.store = Store(path, SCHEMA, read_only=read_only)

    def close(self) -> None:
        self.store.close()

    def done(self, sheet: str) -> dict[int, str]:
        """Row -> bag id, for every row of ``sheet`` journalled so far."""
        rows = self.store.rows("SELECT row, bag_id FROM rows WHERE sheet = ?", (sheet,))
        return {int(r["row"]): str(r["bag_id"]) for r in rows}

    def record(self, sheet: str, rows: Sequence[tuple[int, str, str]], at: str) -> int:
        """Journal rows' bags, (row, bag id, how) each, in one transaction; how many were new
        (a row journalled already, by a batch of the same sheet running beside this one, is
        left as it was)."""
        with self.store.transaction() as db:
            added = 0
            for row, bag_id, how in rows:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO rows (sheet, row, bag_id, how, at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (sheet, row, bag_id, how, at),
                )
                added += cursor.rowcount
            return added

    def entries(self, sheet: str | None = None) -> list[tuple[str, int, str, str, str]]:
        """Every journalled row (sheet, row, bag id, how, when), oldest sheet first."""
        query = "SELECT sheet, row, bag_id, how, at FROM rows"
        rows = (
            self.store.rows(query + " WHERE sheet = ? ORDER BY row", (sheet,))
            if sheet is not None
            else self.store.rows(query + " ORDER BY at, sheet, row")
        )
        return [(r["sheet"], int(r["row"]), r["bag_id"], r["how"], r["at"]) for r in rows]
