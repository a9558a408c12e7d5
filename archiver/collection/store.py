"""The collection's SQLite databases: opened, checked, migrated and tuned in one place.

Every database under ``.archiver/`` (the ledger, the catalog) is a ``Store`` over its own
``Schema``. Opening one:

1. asks whose database it is before changing anything in it: a database with tables but no
   ``user_version`` belongs to someone else, and one whose ``user_version`` is above what
   this software knows was written by a newer archiver — both are refused (StoreError) and
   left exactly as they were;
2. brings an older schema up to date, one migration per version, in one transaction;
3. switches to WAL (readers never wait for a writer, a writer never waits for readers) with
   ``synchronous=NORMAL``: a commit survives the process being killed; only a power cut can
   lose the last commits, and it never corrupts the database.

A database opened only to be read (``create=False``) where nothing may be written (read-only
media) is opened read-only, and is not migrated.

A database that can be rebuilt (the catalog) may be created where it is, from an empty file.
An *irreplaceable* one (the ledger: its history exists nowhere else) is built whole under a
scratch name and renamed into place, so a file at its name is always one we finished; on
every opening it is checked page by page (``PRAGMA quick_check``, a fraction of a second per
million checks) before anything is read from or written to it; and one that is empty,
truncated, damaged or not a database is refused, naming the file, and never replaced.

Each thread gets its own connection (a threaded server shares one Store). Transactions are
``BEGIN IMMEDIATE``: a writer takes the write lock at once, so two writers queue rather than
deadlock. Every ``sqlite3.Error`` is translated into StoreError here, where it enters.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver import faults
from archiver.errors import StoreError
from archiver.staging import fsync_directory

Migration = Callable[[sqlite3.Connection], None]
Parameters = Sequence[object]
Row = sqlite3.Row

# How long a connection waits for another's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 30.0
# SQLite's result codes (and their extended forms) for a file that is not a sound database.
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


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
    # Its contents exist nowhere else (the ledger's history): created whole, checked on
    # every opening, never created over an existing file (see the module docstring).
    irreplaceable: bool = False

    @property
    def version(self) -> int:
        return len(self.migrations)


class Store:
    """One open database of the collection; safe to share between threads."""

    def __init__(
        self, path: Path, schema: Schema, *, create: bool = True, read_only: bool = False
    ) -> None:
        """Open the database at ``path``; ``create`` makes it when there is no file there.
        ``read_only`` opens an existing one without writing a byte anywhere (no WAL or
        shared-memory file made, nothing migrated), for a look that must change nothing.

        An irreplaceable schema's database is made whole (``create``), and only by one
        process at a time: its caller holds a lock that says so (the audit's).
        """
        create = create and not read_only
        self.path = path
        self.schema = schema
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._cannot_open(f"cannot create its folder: {exc.strerror}") from exc
        exists = os.path.lexists(path)
        if schema.irreplaceable and not exists:
            if not create:
                raise self._cannot_open("there is no such file")
            self._create_whole()
        elif schema.irreplaceable:
            self._refuse_empty_file()
        self._uri: str | None = None  # set when the database is opened read-only
        self._watcher: sqlite3.Connection | None = None  # generation(): never writes
        self._watcher_lock = threading.Lock()
        if read_only:
            self._uri = self._read_only_uri()
        try:
            self._open()
        except StoreError as exc:
            if create or read_only or not _cannot_write_there(exc.__cause__):
                raise
            # Nothing may be written where it is (read-only media, no permission): a
            # database that is only to be read is opened read-only.
            self._uri = self._read_only_uri()
            self._open()

    def _read_only_uri(self) -> str:
        """The database opened read-only; with no WAL beside it (no writer has it open),
        as immutable, since SQLite would otherwise make its shared-memory file."""
        immutable = "" if os.path.lexists(f"{self.path}-wal") else "&immutable=1"
        return f"{self.path.absolute().as_uri()}?mode=ro{immutable}"

    def _open(self) -> None:
        try:
            db = self.connection()
            if self.schema.irreplaceable:
                self._check_pages(db)
            self._migrate(db)
            if self._uri is None:
                db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            self.close()
            raise self._cannot_open(self._why(exc)) from exc
        except StoreError:
            self.close()
            raise

    def _cannot_open(self, why: str) -> StoreError:
        return StoreError(f"{self.path}: cannot open the {self.schema.kind}: {why}")

    def _why(self, exc: sqlite3.Error) -> str:
        """SQLite's message; for a damaged file, what that means for the file."""
        name = str(getattr(exc, "sqlite_errorname", ""))
        if name.startswith(_DAMAGE):
            return f"it is damaged ({exc}); it is left as it is: restore it from a backup"
        return str(exc)

    # -- an irreplaceable database: made whole, checked whole ------------------------------

    def _create_whole(self) -> None:
        """Build the database under a scratch name beside ``path``, then rename it there."""
        scratch = self.path.with_name(f".{self.path.name}.new")
        try:
            for leftover in _with_side_files(scratch):  # of a creation that was killed
                leftover.unlink(missing_ok=True)
            db = sqlite3.connect(scratch, isolation_level=None)
            try:
                _set_up(db, self.schema, 0)
                db.execute("PRAGMA journal_mode=WAL")
            finally:
                db.close()  # the last connection: the WAL is checkpointed and removed
            with open(scratch, "rb+") as made:
                os.fsync(made.fileno())
            faults.point("store.create-before-rename")
            os.rename(scratch, self.path)
            fsync_directory(self.path.parent)
        except sqlite3.Error as exc:
            raise self._cannot_open(f"cannot create it: {exc}") from exc
        except OSError as exc:
            raise self._cannot_open(f"cannot create it: {exc.strerror}") from exc

    def _refuse_empty_file(self) -> None:
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise self._cannot_open(exc.strerror or str(exc)) from exc
        if size == 0:
            raise self._cannot_open(
                f"the file is empty, and an archiver {self.schema.kind} never is; it is left "
                f"as it is: restore it from a backup, or move it away to begin a new one"
            )

    def _check_pages(self, db: sqlite3.Connection) -> None:
        found = db.execute("PRAGMA quick_check(1)").fetchone()
        if found is None or found[0] != "ok":
            detail = str(found[0] if found else "no answer").strip().splitlines()[-1]
            raise self._cannot_open(
                f"it is damaged ({detail}); it is left as it is: restore it from a backup"
            )

    # -- connections ---------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        try:
            db = self._connect()
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise self._cannot_open(self._why(exc)) from exc
        with self._opened_lock:
            self._opened.append(db)
        self._local.db = db
        return db

    def _connect(self) -> sqlite3.Connection:
        # Autocommit (isolation_level=None): transactions are begun explicitly below.
        # check_same_thread is off only so that close() can close every thread's connection
        # (and generation()'s, used under its lock); each thread still uses its own.
        return sqlite3.connect(
            self._uri or self.path,
            uri=self._uri is not None,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
        )

    def close(self) -> None:
        """Close every thread's connection; the Store must not be used afterwards."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()
        with self._watcher_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None

    def generation(self) -> int:
        """A number that changes whenever anyone commits to the database, in this process
        (any thread's connection) or in another: SQLite's data_version, read on a
        connection of its own that never writes (its value says nothing; compare it).
        What is computed from the database may be kept until it changes."""
        with self._watcher_lock:
            try:
                if self._watcher is None:
                    self._watcher = self._connect()
                return int(self._watcher.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc

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
        if version == 0 and self.schema.irreplaceable:
            # Ours are made whole: an empty database here is not one we made.
            raise self._cannot_open(
                f"it holds no {self.schema.kind} (an empty database); it is left as it is"
            )
        if version == self.schema.version:
            return
        if self._uri is not None:
            raise self._cannot_open(
                f"it has {self.schema.kind} schema {version}, and it cannot be brought up to "
                f"schema {self.schema.version} where it is: nothing may be written there"
            )
        try:
            _set_up(db, self.schema, version)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

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
            faults.point(f"store.{self.schema.kind}.before-commit")
            db.execute("COMMIT")
        except BaseException as exc:
            _roll_back(db)
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
        return StoreError(f"{self.path}: the {self.schema.kind} failed: {self._why(exc)}")


def _set_up(db: sqlite3.Connection, schema: Schema, version: int) -> None:
    """Bring ``db`` from ``version`` to the schema's, in one transaction. The version is read
    again once the write lock is held: another process opening the same new database (two
    batches into one new collection) may have brought it up meanwhile."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = max(version, int(db.execute("PRAGMA user_version").fetchone()[0]))
        for migrate in schema.migrations[version:]:
            migrate(db)
        # PRAGMA takes no parameters; the value is our own integer.
        db.execute(f"PRAGMA user_version = {schema.version:d}")
        db.execute("COMMIT")
    except BaseException:
        _roll_back(db)
        raise


def _roll_back(db: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (a full disk, an I/O error), and a rollback that
    # fails leaves nothing to do: the error that led here is the one to report.
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _cannot_write_there(cause: BaseException | None) -> bool:
    name = str(getattr(cause, "sqlite_errorname", ""))
    return name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY"))


def _with_side_files(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + side) for side in ("-journal", "-wal", "-shm"))]
