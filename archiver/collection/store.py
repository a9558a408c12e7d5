"""The collection's SQLite databases: opened, checked, migrated and tuned in one place.

Every database under ``.archiver/`` (the ledger, the catalog) is a ``Store`` over its own
``Schema``. Opening one:

1. asks whose database it is before changing anything in it: an empty file is ours to set
   up; a database with tables but no ``user_version`` belongs to someone else, and one whose
   ``user_version`` is above what this software knows was written by a newer archiver —
   both are refused (StoreError) and left exactly as they were;
2. brings an older schema up to date, one migration per version, in one transaction;
3. switches to WAL (readers never wait for a writer, a writer never waits for readers) with
   ``synchronous=NORMAL``: a commit survives the process being killed; only a power cut can
   lose the last commits, and it never corrupts the database.

Each thread gets its own connection (a threaded server shares one Store). Transactions are
``BEGIN IMMEDIATE``: a writer takes the write lock at once, so two writers queue rather than
deadlock. Every ``sqlite3.Error`` is translated into StoreError here, where it enters.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]
Parameters = Sequence[object]
Row = sqlite3.Row

# How long a connection waits for another's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 30.0


def statements(*sql: str) -> Migration:
    """A migration that runs ``sql``, one statement after another."""

    def migrate(db: sqlite3.Connection) -> None:
        for statement in sql:
            db.execute(statement)

    return migrate


@dataclass(frozen=True)
class Schema:
    """What a database holds: its name in messages, and how each version is reached.

    ``migrations[n]`` takes a database from version n to n + 1; version 0 is an empty file,
    so ``migrations[0]`` creates the tables. The schema version is the number of migrations.
    """

    kind: str
    migrations: tuple[Migration, ...]

    @property
    def version(self) -> int:
        return len(self.migrations)


class Store:
    """One open database of the collection; safe to share between threads."""

    def __init__(self, path: Path, schema: Schema) -> None:
        self.path = path
        self.schema = schema
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot open the {schema.kind}: cannot create its folder: {exc.strerror}"
            ) from exc
        try:
            db = self.connection()
            self._migrate(db)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"{path}: cannot open the {schema.kind}: {exc}") from exc
        except StoreError:
            self.close()
            raise

    # -- connections ---------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        try:
            # Autocommit (isolation_level=None): transactions are begun explicitly below.
            # check_same_thread is off only so that close() can close every thread's
            # connection; each thread still uses its own.
            db = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_SECONDS,
                check_same_thread=False,
            )
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the {self.schema.kind}: {exc}") from exc
        with self._opened_lock:
            self._opened.append(db)
        self._local.db = db
        return db

    def close(self) -> None:
        """Close every thread's connection; the Store must not be used afterwards."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    # -- schema --------------------------------------------------------------------------

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > self.schema.version:
            raise StoreError(
                f"{self.path} has {self.schema.kind} schema {version}; "
                f"this archiver knows {self.schema.version}"
            )
        if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError(
                f"{self.path} is a SQLite database, but not an archiver {self.schema.kind}"
            )
        if version == self.schema.version:
            return
        with self.transaction() as tx:
            for migrate in self.schema.migrations[version:]:
                migrate(tx)
            # PRAGMA takes no parameters; the value is our own integer.
            tx.execute(f"PRAGMA user_version = {self.schema.version:d}")

    # -- reading and writing ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on this thread's connection: committed when the block ends,
        rolled back if it raises. SQLite's errors inside it come out as StoreError."""
        db = self.connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            # SQLite may have rolled back already (a full disk, an I/O error).
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._failed(exc) from exc
            raise

    def rows(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        """Every row a query returns."""
        try:
            return self.connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def row(self, sql: str, parameters: Parameters = ()) -> Row | None:
        """The first row a query returns, if any."""
        try:
            found: Row | None = self.connection().execute(sql, parameters).fetchone()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        return found

    def value(self, sql: str, parameters: Parameters = ()) -> Any:
        """The first column of the first row a query returns (None without a row)."""
        found = self.row(sql, parameters)
        return None if found is None else found[0]

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{self.path}: the {self.schema.kind} failed: {exc}")
