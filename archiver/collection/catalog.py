"""The OAI-PMH catalog: an index of a collection's bags in SQLite, for fast, stable paging.

One row per item (a bag, or the tombstone of a withdrawn or vanished one): its datestamp,
its set, whether it is deleted, which formats it offers, and a fingerprint of the files its
records come from. The bags stay the source of truth: records are read from them when a
harvester asks, and the catalog can be rebuilt from the collection at any time (datestamps
come from the files' modification times, deletions from the tombstones).

``refresh`` brings the catalog up to date incrementally: a bag whose fingerprint has not
changed is not read again.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from archiver import layout
from archiver.bagit.reader import BAG_INFO_TXT, BAGIT_TXT, Bag, read_bag
from archiver.clock import w3cdtf
from archiver.collection import bags
from archiver.collection.store import Row, Schema, Store, statements
from archiver.collection.withdrawal import Tombstone, tombstones
from archiver.xml import parsing
from archiver.xml.namespaces import METS, PREMIS

CATALOG_FILE = "catalog.sqlite"
# Bumped when what we serve for an unchanged bag changes (a new format, another crosswalk):
# every datestamp then moves, so harvesters fetch the records again (OAI-PMH §2.7.1).
CROSSWALK_VERSION = "1"
# The files a bag's records and header are made from.
_SOURCES = (BAGIT_TXT, BAG_INFO_TXT, layout.DC_XML, layout.METS_XML, layout.PREMIS_XML)
_UNRESERVED = re.compile(r"[^A-Za-z0-9\-_.!~*'()]+")


def _create(db: sqlite3.Connection) -> None:
    statements(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE records (
            id TEXT PRIMARY KEY,
            datestamp TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            setspec TEXT,
            formats TEXT NOT NULL,
            fingerprint TEXT NOT NULL
        )""",
        "CREATE INDEX records_by_date ON records(datestamp, id)",
        """CREATE TABLE record_sets (
            spec TEXT NOT NULL,
            datestamp TEXT NOT NULL,
            id TEXT NOT NULL,
            PRIMARY KEY (spec, datestamp, id)
        )""",
        "CREATE INDEX record_sets_by_id ON record_sets(id)",
        "CREATE TABLE sets (spec TEXT PRIMARY KEY, name TEXT NOT NULL)",
    )(db)
    # The key that signs resumption tokens: made once, kept with the catalog.
    db.execute("INSERT INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))


SCHEMA = Schema("catalog", (_create,))


@dataclass(frozen=True)
class Item:
    id: str
    datestamp: str
    deleted: bool
    setspec: str | None
    formats: tuple[str, ...]


def set_path(group: str) -> tuple[str, list[tuple[str, str]]]:
    """A Bag-Group-Identifier as a setSpec and its (spec, name) ancestors, broadest first.

    ``a:b`` is a hierarchy; each segment keeps only URI-unreserved characters (the XSD's
    setSpec pattern), others becoming '-'.
    """
    segments = [s.strip() for s in group.split(":") if s.strip()]
    specs: list[tuple[str, str]] = []
    for depth in range(1, len(segments) + 1):
        spec = ":".join(_UNRESERVED.sub("-", s).strip("-") or "set" for s in segments[:depth])
        specs.append((spec, ":".join(segments[:depth])))
    return (specs[-1][0] if specs else ""), specs


class Catalog:
    """The catalog of one collection; safe to share between threads (a connection each)."""

    def __init__(self, collection_dir: Path, path: Path) -> None:
        self.collection = collection_dir
        self.path = path
        self.store = Store(self.path, SCHEMA)
        self._refreshing = threading.Lock()

    def close(self) -> None:
        self.store.close()

    def secret(self) -> bytes:
        """The key that signs this repository's resumption tokens."""
        return bytes.fromhex(self.store.value("SELECT value FROM meta WHERE key = 'secret'"))

    # -- keeping up with the collection -----------------------------------------------

    def refresh(self, now: datetime) -> int:
        """Bring the catalog up to date with the collection; the number of items changed.

        Bags that vanished without a tombstone are deleted records from ``now`` on
        (deletedRecord=persistent): a harvester is never left holding a record we no
        longer have without being told.
        """
        with self._refreshing:
            present = bags.bag_ids(self.collection)
            stones = {stone.id: stone for stone in tombstones(self.collection)}
            known = {
                row["id"]: row
                for row in self.store.rows("SELECT id, deleted, fingerprint FROM records")
            }
            # One transaction for the whole pass: a commit per bag would be an fsync per bag.
            with self.store.transaction() as db:
                return self._catch_up(db, present, stones, known, w3cdtf(now))

    def _catch_up(
        self,
        db: sqlite3.Connection,
        present: list[str],
        stones: dict[str, Tombstone],
        known: dict[str, Row],
        now: str,
    ) -> int:
        changed = 0
        here = set(present)
        for bag_id in present:
            fingerprint, datestamp = self._fingerprint(bag_id)
            row = known.get(bag_id)
            if row is not None and not row["deleted"] and row["fingerprint"] == fingerprint:
                continue
            if row is not None and row["fingerprint"].split("|", 1)[0] != CROSSWALK_VERSION:
                # Served differently now (§2.7.1): the record changed even if the bag did not.
                datestamp = max(datestamp, now)
            self._index_bag(db, bag_id, fingerprint, datestamp)
            changed += 1
        for bag_id, row in known.items():
            if bag_id in here or row["deleted"]:
                continue
            stone = stones.get(bag_id)
            when = stone.withdrawn_at if stone else now
            self._delete(db, bag_id, when)
            changed += 1
        for bag_id, stone in stones.items():  # a rebuilt catalog learns its deletions
            if bag_id not in here and bag_id not in known:
                self._tombstone(db, bag_id, stone)
                changed += 1
        return changed

    def _fingerprint(self, bag_id: str) -> tuple[str, str]:
        """(what the bag's records are made from, as stat signatures; the newest mtime)."""
        root = self.collection / bag_id
        parts = [CROSSWALK_VERSION]
        newest = 0.0
        for name in (".", *_SOURCES):
            try:
                info = os.stat(root / name, follow_symlinks=False)
            except OSError:
                parts.append("-")
                continue
            parts.append(f"{info.st_mtime_ns}:{info.st_size}:{info.st_ino}")
            newest = max(newest, info.st_mtime)
        return "|".join(parts), w3cdtf(datetime.fromtimestamp(newest, UTC))

    def _index_bag(
        self, db: sqlite3.Connection, bag_id: str, fingerprint: str, datestamp: str
    ) -> None:
        try:
            bag = read_bag(self.collection / bag_id, manifests=False, fetch_txt=False)
        except OSError:  # vanished since it was listed: the next refresh deletes it
            return
        group = bag.value("Bag-Group-Identifier") or ""
        setspec, ancestors = set_path(group) if group else ("", [])
        formats = ["oai_dc"]
        if _root_namespace(bag, layout.METS_XML) == METS:
            formats.append("mets")
        if _root_namespace(bag, layout.PREMIS_XML) == PREMIS:
            formats.append("premis")
        db.execute("DELETE FROM record_sets WHERE id = ?", (bag_id,))
        db.execute(
            "INSERT INTO records (id, datestamp, deleted, setspec, formats, fingerprint) "
            "VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "datestamp = excluded.datestamp, deleted = 0, setspec = excluded.setspec, "
            "formats = excluded.formats, fingerprint = excluded.fingerprint",
            (bag_id, datestamp, setspec or None, " ".join(formats), fingerprint),
        )
        _place_in_sets(db, bag_id, datestamp, ancestors)

    def _delete(self, db: sqlite3.Connection, bag_id: str, when: str) -> None:
        # A deleted item offers only its header (in oai_dc), as a rebuilt catalog's does.
        db.execute(
            "UPDATE records SET deleted = 1, datestamp = ?, fingerprint = '', "
            "formats = 'oai_dc' WHERE id = ?",
            (when, bag_id),
        )
        db.execute("UPDATE record_sets SET datestamp = ? WHERE id = ?", (when, bag_id))

    def _tombstone(self, db: sqlite3.Connection, bag_id: str, stone: Tombstone) -> None:
        when = stone.withdrawn_at
        group = stone.value("Bag-Group-Identifier") or ""
        setspec, ancestors = set_path(group) if group else ("", [])
        db.execute(
            "INSERT INTO records (id, datestamp, deleted, setspec, formats, fingerprint) "
            "VALUES (?, ?, 1, ?, 'oai_dc', '')",
            (bag_id, when, setspec or None),
        )
        _place_in_sets(db, bag_id, when, ancestors)

    # -- what the protocol asks -------------------------------------------------------

    def item(self, bag_id: str) -> Item | None:
        row = self.store.row("SELECT * FROM records WHERE id = ?", (bag_id,))
        return _item(row) if row else None

    def earliest(self) -> str | None:
        earliest = self.store.value("SELECT min(datestamp) FROM records")
        return str(earliest) if earliest else None

    def has_sets(self) -> bool:
        return self.store.row("SELECT 1 FROM sets LIMIT 1") is not None

    def sets(self, after: str, limit: int) -> list[tuple[str, str]]:
        rows = self.store.rows(
            "SELECT spec, name FROM sets WHERE spec > ? ORDER BY spec LIMIT ?", (after, limit)
        )
        return [(row["spec"], row["name"]) for row in rows]

    def count_sets(self) -> int:
        return int(self.store.value("SELECT count(*) FROM sets"))

    def _where(self, start: str, end: str, spec: str | None) -> tuple[str, str, list[object]]:
        if spec is None:
            return "records r", "r.datestamp >= ? AND r.datestamp <= ?", [start, end]
        return (
            "record_sets s JOIN records r ON r.id = s.id",
            "s.spec = ? AND s.datestamp >= ? AND s.datestamp <= ?",
            [spec, start, end],
        )

    def page(
        self,
        *,
        start: str,
        end: str,
        spec: str | None,
        after: tuple[str, str] | None,
        limit: int,
        prefix: str,
    ) -> list[Item]:
        """Items in [start, end] (and set ``spec``), after ``after`` in (datestamp, id) order.

        A seek on the (datestamp, id) index, not an offset: a page deep in the list costs
        what the first one does. Deleted items are included whatever the format (their
        headers say so); live ones only when they offer ``prefix``.
        """
        source, where, args = self._where(start, end, spec)
        column = "r.datestamp" if spec is None else "s.datestamp"
        if after is not None:
            where += f" AND ({column}, r.id) > (?, ?)"
            args += list(after)
        rows = self.store.rows(
            f"SELECT r.* FROM {source} WHERE {where} "  # noqa: S608 - fixed fragments only
            f"AND (r.deleted = 1 OR (' ' || r.formats || ' ') LIKE ?) "
            f"ORDER BY {column}, r.id LIMIT ?",
            [*args, f"% {prefix} %", limit],
        )
        return [_item(row) for row in rows]

    def count(self, *, start: str, end: str, spec: str | None, prefix: str) -> int:
        source, where, args = self._where(start, end, spec)
        count = self.store.value(
            f"SELECT count(*) FROM {source} WHERE {where} "  # noqa: S608 - fixed fragments
            "AND (r.deleted = 1 OR (' ' || r.formats || ' ') LIKE ?)",
            [*args, f"% {prefix} %"],
        )
        return int(count)


def _place_in_sets(
    db: sqlite3.Connection, bag_id: str, datestamp: str, ancestors: list[tuple[str, str]]
) -> None:
    """Put an item in its set and every set above it, creating the sets it is the first of."""
    for spec, name in ancestors:
        db.execute("INSERT OR IGNORE INTO sets VALUES (?, ?)", (spec, name))
        db.execute("INSERT INTO record_sets VALUES (?, ?, ?)", (spec, datestamp, bag_id))


def _item(row: Row) -> Item:
    return Item(
        row["id"],
        row["datestamp"],
        bool(row["deleted"]),
        row["setspec"],
        tuple(row["formats"].split()),
    )


def _root_namespace(bag: Bag, name: str) -> str | None:
    """The namespace of a document's root element, read from its first bytes only."""
    if name not in bag.inventory.tags:
        return None
    try:
        with bag.open(name) as handle:
            for _, element in parsing.iterparse(handle, ("start",)):
                return etree.QName(element).namespace
    except (OSError, etree.XMLSyntaxError):
        return None
    return None
