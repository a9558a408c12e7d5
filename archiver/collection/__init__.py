"""The collection: a folder of bags and everything archiver keeps about it in ``.archiver/``.

    COLLECTION/
      BAG/...                       the bags
      .archiver/ledger.sqlite       the fixity ledger: every audit (or elsewhere: ``ledger=``)
      .archiver/catalog.sqlite      the OAI-PMH catalog, rebuildable from the bags
      .archiver/withdrawn/ID.TIME/  a withdrawn bag ("bag/") and its tombstone.json

``Collection`` is the one way in; the job is spread over a few modules:

    bags.py        which entries of the folder are bags
    withdrawal.py  withdrawing a bag, and the tombstones left
    store.py       the SQLite databases: open, check, migrate, WAL, transactions
    ledger.py      the fixity ledger's records; the bag statuses
    catalog.py     the OAI-PMH catalog's records
    audit.py       fixity audits: the run, where the hashing runs, the ledger written as it goes
    report.py      what audits say: the run report (JSON, HTML), history, PREMIS fixity events
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver import lazy
from archiver.clock import Clock
from archiver.collection import bags
from archiver.errors import CollectionError, UsageError
from archiver.given import given_path
from archiver.staging import check_outside_bags

if TYPE_CHECKING:
    from archiver.collection.audit import Progress
    from archiver.collection.catalog import Catalog
    from archiver.collection.ledger import BagStatus, Ledger
    from archiver.collection.report import AuditReport, BagOutcome
    from archiver.collection.withdrawal import Tombstone

# Imported when first asked for, not with the package: the audit, the catalog, the reports
# and withdrawals bring lxml, the bag reader, the OAI records and SQLite schemas (~0.1 s),
# which a command that only needs bags.py or the batch journal (archiver batch, and its
# workers' fork server) never uses.
_LAZY = {
    "AuditReport": "archiver.collection.report",
    "BagOutcome": "archiver.collection.report",
    "BagStatus": "archiver.collection.ledger",
    "Catalog": "archiver.collection.catalog",
    "Progress": "archiver.collection.audit",
    "Tombstone": "archiver.collection.withdrawal",
}
__getattr__ = lazy.attributes(__name__, _LAZY)


__all__ = [
    "AuditReport",
    "BagOutcome",
    "BagStatus",
    "Catalog",
    "Collection",
    "Progress",
    "Tombstone",
]


class Collection:
    """A folder of bags, and the records archiver keeps about them.

    ``path`` must be an existing folder. ``ledger`` puts the fixity ledger elsewhere than
    ``.archiver/ledger.sqlite`` (it is created on the first audit). A Collection can be
    shared between threads; ``close()`` (or ``with``) closes the catalog it opened.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, ledger: str | os.PathLike[str] | None = None
    ) -> None:
        self.path = given_path(path, "the collection")
        if not self.path.is_dir():
            raise CollectionError(f"{self.path}: not a directory")
        check_outside_bags(
            self.path, "a collection is a folder of bags, its records beside them", CollectionError
        )
        from archiver.collection.catalog import CATALOG_FILE
        from archiver.collection.ledger import LEDGER_FILE

        records = self.path / bags.RECORDS_DIR
        self.ledger_path = Path(ledger) if ledger is not None else records / LEDGER_FILE
        self.check_outside_bags(self.ledger_path, "the ledger")
        self.catalog_path = records / CATALOG_FILE
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Collection({str(self.path)!r})"

    def check_outside_bags(self, target: str | os.PathLike[str], what: str) -> None:
        """CollectionError when ``target`` (a file archiver is to write: the ledger, an
        audit report) lies in one of the collection's bags, links resolved: written there,
        it would be a file the bag's manifests do not list, the bag damaged by its audit."""
        here, there = self.path.resolve(), Path(target).resolve()
        if here not in there.parents:
            return
        from archiver.bagit.names import is_archive_file

        first = there.relative_to(here).parts[0]
        top = here / first
        if first != bags.RECORDS_DIR and (there != top or top.is_dir() or is_archive_file(top)):
            raise CollectionError(
                f"{target}: {what} cannot be written over or inside the collection's bag {first}"
            )

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the catalog, if it was opened."""
        with self._catalog_lock:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None

    # -- the bags --------------------------------------------------------------------------

    def bag_ids(self) -> list[str]:
        """The bags in the collection, by id (a folder's name; a serialized bag's file name
        without its .tar, .tar.gz, .tgz or .zip), sorted."""
        return bags.bag_ids(self.path)

    def titles(self, bag_ids: Iterable[str]) -> dict[str, str]:
        """The title of each of these bags in the collection: its Dublin Core's first
        ``dc:title`` (``metadata/dc.xml``, else what its bag-info says). A bag that is gone,
        has no title or whose dc.xml cannot be read is left out."""
        from lxml import etree

        from archiver import layout
        from archiver.bagit.reader import read_bag
        from archiver.record import record_from_bag_info
        from archiver.xml.dc import read_dc

        found = {}
        for bag_id in bag_ids:
            place = bags.locate(self.path, bag_id)
            if place is None or not place.present():
                continue
            try:
                bag = read_bag(place.files(), manifests=False, fetch_txt=False, payload=False)
                if layout.DC_XML in bag.inventory.tags:
                    with bag.open(layout.DC_XML) as handle:
                        record = read_dc(handle)
                else:
                    record = record_from_bag_info(bag.items(), None)
            except (OSError, etree.XMLSyntaxError):
                continue
            title = next(iter(record.values("title")), None)
            if title:
                found[bag_id] = title
        return found

    def tombstones(self) -> list[Tombstone]:
        """Every bag withdrawn from the collection, oldest withdrawal first."""
        from archiver.collection import withdrawal

        return withdrawal.tombstones(self.path)

    def withdraw(self, bag_id: str, *, reason: str, clock: Clock | None = None) -> Path:
        """Take a bag out of the collection without deleting it; returns where it now lives.

        The bag moves (one rename) to ``.archiver/withdrawn/ID.TIME/bag/``, beside a
        tombstone holding its id, the time, ``reason`` and its bag-info, written before;
        the rename is the withdrawal (a tombstone without its bag counts for nothing). The
        catalog is then refreshed, so the OAI-PMH provider reports the record deleted from
        that time.
        Raises UsageError for an empty reason, CollectionError for a bag not in the
        collection (saying when and why, when it was withdrawn already).
        """
        from archiver.collection import withdrawal

        now = (clock or Clock.from_environment()).now()
        home = withdrawal.withdraw(self.path, bag_id, reason=reason, now=now)
        self.catalog().refresh(now)
        return home

    # -- fixity ----------------------------------------------------------------------------

    def audit(
        self,
        *,
        older_than: timedelta | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        executor: Executor | None = None,
        clock: Clock | None = None,
        progress: Progress | None = None,
        bag_ids: Iterable[str] | None = None,
    ) -> AuditReport:
        """Verify the bags and record every check in the ledger; the run's report.

        Every bag is checked (structure, completeness, every file's digests), never-checked
        bags first; with ``older_than``, only bags whose last successful check is older;
        with ``bag_ids``, only these (CollectionError names any that is not a bag here; a run
        of a few bags says nothing of the others, and does not finish an interrupted run).
        A run that was interrupted is resumed: what it recorded is not checked again.
        Nothing inside a bag is written.

        Where the hashing runs: on ``workers`` threads of this process (default: as many
        as the cores it may use; 1 hashes in the calling thread); on the caller's
        ``executor`` (a thread pool or a process pool; no worker ever holds the audit's
        lock, not even a forked one: it is a record lock), which is left running;
        or on the Dask cluster whose scheduler address is ``scheduler``
        (``archiver[distributed]``; its workers must see the collection at the same path).
        Nothing is forked. ``progress(bags done, bags to check, bytes hashed)`` is called
        after each bag.

        A bag the ledger knows that has gone without being withdrawn is ``missing`` on
        every run until it comes back; a withdrawn one is ``withdrawn`` once, then left
        out; a folder that lost its bagit.txt is ``damaged`` (audit.bag.no-longer-a-bag).

        Raises CollectionError when another audit holds the ledger, StoreError when the
        ledger is not archiver's, is newer than this software, or is empty or damaged
        (it is never replaced).
        """
        if workers is not None and workers < 1:
            raise UsageError(f"an audit needs at least 1 worker, not {workers}")
        if scheduler is not None and executor is not None:
            raise UsageError("an audit hashes on a Dask scheduler or on an executor, not both")
        from archiver.collection.audit import run_audit

        return run_audit(
            self.path,
            self.ledger_path,
            older_than=older_than,
            workers=workers,
            scheduler=scheduler,
            executor=executor,
            clock=clock or Clock.from_environment(),
            progress=progress,
            only=None if bag_ids is None else list(bag_ids),
        )

    def history(self, bag_id: str | None = None) -> dict[str, Any]:
        """What the ledger remembers, as JSON-ready data.

        Without ``bag_id``: ``{"runs": [{"run", "started", "finished", "software", "host",
        "bags": {status: count}}]}``. With it: ``{"bag", "checks": [{"run", "started",
        "finished", "status", "files", "bytes", "problems": [{"path", "algorithm",
        "outcome", "expected", "found"}]}]}``. Raises CollectionError when the collection
        was never audited or the ledger has no check of ``bag_id``.
        """
        from archiver.collection.report import history

        with self._existing_ledger() as ledger:
            return history(ledger, bag_id)

    def premis_events(self, bag_id: str) -> str:
        """The bag's finished fixity checks as a PREMIS 3 document (one ``fix`` event each,
        its outcome success or failure). Raises CollectionError when there is none."""
        from archiver.collection.report import premis_events

        with self._existing_ledger() as ledger:
            return premis_events(ledger, bag_id)

    @contextmanager
    def _existing_ledger(self) -> Iterator[Ledger]:
        if not self.ledger_path.exists():  # never create one just to read it
            raise CollectionError(
                f"no ledger at {self.ledger_path}: the collection has not been audited"
            )
        from archiver.collection.ledger import Ledger

        ledger = Ledger(self.ledger_path)
        try:
            yield ledger
        finally:
            ledger.close()

    # -- the OAI-PMH catalog ---------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The collection's catalog, opened (and created) on first use, then kept."""
        with self._catalog_lock:
            if self._catalog is None:
                from archiver.collection.catalog import Catalog

                self._catalog = Catalog(self.path, self.catalog_path)
            return self._catalog

    def refresh_catalog(self, *, clock: Clock | None = None) -> int:
        """Bring the catalog up to date with the bags; the number of records changed.

        A bag that vanished without being withdrawn becomes a deleted record from now on.
        """
        return self.catalog().refresh((clock or Clock.from_environment()).now())
