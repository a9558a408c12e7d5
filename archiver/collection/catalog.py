"""The OAI-PMH catalog: an index of a collection's bags in SQLite, for fast, stable paging.

One row per item (a bag, or the tombstone of a withdrawn or vanished one): its datestamp,
its set, whether it is deleted, which formats it offers, a fingerprint of the files its
records come from, which of its metadata documents were found fit to serve (valid,
``archiver.oai.records.check``) as which file, and the first and last day of its date (the
first ``dc:date`` that is W3CDTF or EDTF), for sorting and facets. The bags stay the source
of truth: records are read from them when a harvester asks, and the catalog can be rebuilt
from the collection at any time (datestamps come from the files' modification times,
deletions from the tombstones).

``refresh`` brings the catalog up to date incrementally: a bag whose fingerprint has not
changed is not read again.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from archiver import layout
from archiver.bagit.files import BagFiles, FolderFiles, Kind
from archiver.bagit.names import BAG_INFO_TXT, BAGIT_TXT
from archiver.bagit.reader import Bag, read_bag
from archiver.clock import w3cdtf
from archiver.collection import bags
from archiver.collection.store import Row, Schema, Store, statements
from archiver.collection.withdrawal import Tombstone, tombstones
from archiver.dates import recorded_date
from archiver.findings import finding
from archiver.oai import records
from archiver.xml import dc

CATALOG_FILE = "catalog.sqlite"
# Bumped when what we serve for an unchanged bag changes (a new format, another crosswalk):
# every datestamp then moves, so harvesters fetch the records again (OAI-PMH §2.7.1).
# 2: documents served only when schema-valid (dc.xml otherwise from bag-info); METS IDs
# made unique across bags.
# 3: oai_dc from bag-info no longer takes Bagging-Date as dc:date (a packaging date is not
# the work's); every bag read again, which also fills date_earliest and date_latest.
CROSSWALK_VERSION = "3"
# The files a bag's records and header are made from.
_SOURCES = (BAGIT_TXT, BAG_INFO_TXT, layout.DC_XML, layout.METS_XML, layout.PREMIS_XML)
# How many indexed archives the catalog keeps (each holds its small tag files, at most).
_ARCHIVES_KEPT = 4
_UNRESERVED = re.compile(r"[^A-Za-z0-9\-_.!~*'()]+")
_log = logging.getLogger("archiver.catalog")


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


SCHEMA = Schema(
    "catalog",
    (
        _create,
        # The documents found fit to serve: "NAME=SIGNATURE[@START-END] ..." (records.checked).
        statements("ALTER TABLE records ADD COLUMN checked TEXT NOT NULL DEFAULT ''"),
        # The first and last day of the item's date (YYYY-MM-DD; NULL: open, unknown, none).
        statements(
            "ALTER TABLE records ADD COLUMN date_earliest TEXT",
            "ALTER TABLE records ADD COLUMN date_latest TEXT",
        ),
        # What the web view lists and searches (archiver.web): a live bag's description, and
        # its metadata and preserved texts in a full-text index. Every live bag is read
        # again by the next refresh (its fingerprint keeps its crosswalk version, so its
        # datestamp does not move).
        statements(
            """CREATE TABLE view (
                id TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                creator TEXT NOT NULL,
                date TEXT NOT NULL,
                type TEXT NOT NULL,
                language TEXT NOT NULL,
                octets INTEGER,
                files INTEGER
            )""",
            "CREATE INDEX view_by_title ON view(title COLLATE NOCASE, id)",
            "CREATE VIRTUAL TABLE search USING fts5(id UNINDEXED, part UNINDEXED, body, "
            "tokenize = 'unicode61 remove_diacritics 2')",
            "UPDATE records SET fingerprint = substr(fingerprint, 1, instr(fingerprint, '|')) "
            "|| 'view' WHERE deleted = 0 AND instr(fingerprint, '|') > 0",
        ),
    ),
)
# What the full-text index takes of a bag's payload: its text files (UTF-8, no NUL), the
# first TEXT_LIMIT bytes of each, at most TEXT_BUDGET bytes in all (a hostile bag of huge
# or countless files costs no more than that).
TEXT_LIMIT = 1 << 20
TEXT_BUDGET = 4 << 20
TEXT_FILES = 1000  # (and with the description, fewer than _PARTS rows a bag)


@dataclass(frozen=True)
class Item:
    id: str
    datestamp: str
    deleted: bool
    setspec: str | None
    formats: tuple[str, ...]
    # bag file -> the signature it had when found fit to serve
    checked: Mapping[str, str] = field(default_factory=dict)
    # the first and last day of its date (YYYY-MM-DD), None when open, unknown or undated
    date_earliest: str | None = None
    date_latest: str | None = None


# No label of RFC 8493 describes a group of bags (External-Description describes the bag):
# this one of ours does, and names the bag's set (docs/cli.md, serve).
GROUP_DESCRIPTION = "Bag-Group-Description"


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


def group_sets(value: Callable[[str], str | None]) -> tuple[str, list[tuple[str, str]], str]:
    """A bag's set from its bag-info (``value``: label -> first value): its setSpec, its
    (spec, name) ancestors, and its group's description ('' when it gives none)."""
    group = value("Bag-Group-Identifier") or ""
    setspec, ancestors = set_path(group) if group else ("", [])
    description = " ".join((value(GROUP_DESCRIPTION) or "").split())
    return setspec, ancestors, description


class Catalog:
    """The catalog of one collection; safe to share between threads (a connection each)."""

    def __init__(self, collection_dir: Path, path: Path) -> None:
        self.collection = collection_dir
        self._resolved = Path(os.path.realpath(collection_dir))
        self.path = path
        self.store = Store(self.path, SCHEMA)
        self._refreshing = threading.Lock()
        # Serialized bags indexed lately (path, mtime, size, inode -> files): a harvest
        # asks for a bag's records one format at a time.
        self._archives: dict[tuple[str, int, int, int], BagFiles] = {}
        self._archives_lock = threading.Lock()
        # What the web view asks on every page (the live ids and facet counts of a filter),
        # kept until anyone commits to the catalog: (generation, {key: value}).
        self._kept: tuple[int, dict[tuple[str, Filters], Any]] = (-1, {})
        self._kept_lock = threading.Lock()

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

        The bags are read first, with the catalog unlocked: reading one can take long (a
        slow disk, a big document), and a writer meanwhile (``withdraw`` in another
        process) must not wait on it. Then one short transaction writes what changed, each
        row only if no one changed it since it was read; a row changed meanwhile is left
        as the other writer made it, and looked at again by the next refresh.
        """
        with self._refreshing:
            present = bags.bag_ids(self.collection)
            stones = {stone.id: stone for stone in tombstones(self.collection)}
            known = {
                row["id"]: _Seen(bool(row["deleted"]), row["fingerprint"])
                for row in self.store.rows("SELECT id, deleted, fingerprint FROM records")
            }
            changes = self._changes(present, stones, known, w3cdtf(now))
            if not changes:
                return 0
            # One transaction for the whole pass: a commit per bag would be an fsync per bag.
            with self.store.transaction() as db:
                return sum(change.apply(db, known.get(change.id)) for change in changes)

    def _changes(
        self, present: list[str], stones: dict[str, Tombstone], known: dict[str, _Seen], now: str
    ) -> list[_Change]:
        changes: list[_Change] = []
        here = set(present)
        for bag_id in present:
            fingerprint, datestamp = self._fingerprint(bag_id)
            seen = known.get(bag_id)
            if seen is not None and not seen.deleted and seen.fingerprint == fingerprint:
                continue
            if seen is not None and seen.fingerprint.split("|", 1)[0] != CROSSWALK_VERSION:
                # Served differently now (§2.7.1): the record changed even if the bag did not.
                datestamp = max(datestamp, now)
            indexed = self._index_bag(bag_id, fingerprint, datestamp)
            if indexed is not None:
                changes.append(indexed)
        for bag_id, seen in known.items():
            if bag_id in here or seen.deleted:
                continue
            stone = stones.get(bag_id)
            changes.append(_Deleted(bag_id, stone.withdrawn_at if stone else now))
        for bag_id, stone in stones.items():  # a rebuilt catalog learns its deletions
            if bag_id not in here and bag_id not in known:
                changes.append(_Tombstoned(bag_id, stone))
        return changes

    def _fingerprint(self, bag_id: str) -> tuple[str, str]:
        """(what the bag's records are made from, as stat signatures; the newest mtime).
        A serialized bag's is its archive's: any change to the file is a change."""
        place = bags.locate(self.collection, bag_id)
        root = self.collection / bag_id if place is None else place.path
        parts = [CROSSWALK_VERSION]
        if place is not None and place.archived:
            parts.append(place.path.name)
        newest = 0.0
        for name in (".", *(() if place is not None and place.archived else _SOURCES)):
            try:
                info = os.stat(root / name, follow_symlinks=False)
            except OSError:
                parts.append("-")
                continue
            parts.append(f"{info.st_mtime_ns}:{info.st_size}:{info.st_ino}")
            newest = max(newest, info.st_mtime)
        return "|".join(parts), w3cdtf(datetime.fromtimestamp(newest, UTC))

    def files(self, bag_id: str) -> BagFiles | None:
        """The files of bag ``bag_id`` of this collection, for the hardened reader (a
        serialized bag's archive indexed, the last few kept while they do not change);
        None when there is no such bag, it is a link (it may lead out of the collection)
        or its archive cannot be opened."""
        place = bags.locate(self.collection, bag_id)
        if place is None or not place.present():
            return None
        if not place.archived:
            return FolderFiles(place.path, resolved=self._resolved / place.path.name)
        try:
            info = os.stat(place.path, follow_symlinks=False)
        except OSError:
            return None
        key = (str(place.path), info.st_mtime_ns, info.st_size, info.st_ino)
        with self._archives_lock:
            found = self._archives.pop(key, None)
        if found is None:
            try:
                found = place.files()
            except OSError:
                return None
        with self._archives_lock:
            self._archives[key] = found  # the most recently used last
            while len(self._archives) > _ARCHIVES_KEPT:
                del self._archives[next(iter(self._archives))]
        return found

    def read(self, bag_id: str) -> Bag | None:
        """The bag ``bag_id`` of this collection, as the reader reads it (no manifests, no
        fetch.txt, no payload listing: a record costs the same for a bag of a million files);
        None when there is no such folder, or it is a link, or it cannot be listed."""
        files = self.files(bag_id)
        if files is None:
            return None
        try:
            return read_bag(files, manifests=False, fetch_txt=False, payload=False)
        except OSError:
            return None

    def _index_bag(self, bag_id: str, fingerprint: str, datestamp: str) -> _Indexed | None:
        bag = self.read(bag_id)
        if bag is None:  # vanished since it was listed: the next refresh deletes it
            return None
        setspec, ancestors, description = group_sets(bag.value)
        checked = {}
        for fmt in records.FORMATS.values():
            if fmt.source not in bag.inventory.tags:
                continue
            try:
                with bag.open(fmt.source) as handle:
                    signature = records.signature(handle)
                    problem = records.check(handle, fmt)
                    span = records.verbatim(handle, bag_id) if problem is None else None
            except OSError as exc:
                problem = finding(
                    "metadata.xml.malformed", fmt.source, f"cannot read: {exc.strerror or exc}"
                )
            if problem is None:
                checked[fmt.source] = records.checked(signature, span)
                continue
            instead = (
                "its oai_dc record is made from its bag-info"
                if fmt.prefix == "oai_dc"
                else f"it offers no {fmt.prefix} record"
            )
            _log.warning("bag %s: [%s] %s; %s", bag_id, problem.code, problem.describe(), instead)
        formats = [
            prefix
            for prefix, fmt in records.FORMATS.items()
            if prefix == "oai_dc" or fmt.source in checked
        ]
        days = _days(bag) if layout.DC_XML in checked else (None, None)
        return _Indexed(
            bag_id,
            datestamp,
            setspec or None,
            ancestors,
            formats,
            fingerprint,
            checked,
            days,
            description,
            _described(bag, layout.DC_XML in checked),
            tuple(_texts(self.files(bag_id))),
        )

    # -- what the web view asks -------------------------------------------------------

    def listing(
        self, *, order: str, offset: int, limit: int, only: Filters | None = None
    ) -> list[Row]:
        """A page of live bags (id, title, creator, date, octets, files, setspec), sorted by
        ``order``: "title", "date" (earliest first, undated last) or "id"."""
        where, values = (only or Filters()).sql()
        by = _ORDERS.get(order, _ORDERS["title"])
        return self.store.rows(_LISTING + where + by, [*values, limit, offset])

    def listed_ids(self, only: Filters | None = None) -> list[str]:
        """The ids of the live bags ``only`` lets through."""
        return list(self._kept_or("ids", only or Filters(), self._listed_ids))

    def _listed_ids(self, only: Filters) -> tuple[str, ...]:
        where, values = only.sql()
        rows = self.store.rows(
            "SELECT v.id FROM view v JOIN records r ON r.id = v.id" + where,  # noqa: S608
            values,
        )
        return tuple(row["id"] for row in rows)

    def facets(self, only: Filters | None = None) -> dict[str, list[tuple[str, int]]]:
        """For each facet (set, type, language, year), its values among the bags ``only``
        lets through, with how many bags have each: most first, at most 50."""
        kept = self._kept_or("facets", only or Filters(), self._facets)
        return {name: list(counts) for name, counts in kept.items()}

    def _kept_or(self, what: str, only: Filters, compute: Callable[[Filters], Any]) -> Any:
        """``compute(only)``, or what it gave before if no one has committed to the catalog
        since (Store.generation). A value computed while a commit lands is kept under the
        generation read before it, so the next call computes it again."""
        generation = self.store.generation()
        key = (what, only)
        with self._kept_lock:
            seen, kept = self._kept
            if seen == generation and key in kept:
                return kept[key]
        value = compute(only)
        with self._kept_lock:
            seen, kept = self._kept
            if seen != generation:
                seen, kept = generation, {}
                self._kept = (seen, kept)
            if len(kept) >= _KEPT_MOST:
                kept.clear()
            kept[key] = value
        return value

    def _facets(self, only: Filters) -> dict[str, list[tuple[str, int]]]:
        where, values = only.sql()
        found = {}
        for name, expression in _FACETS.items():
            rows = self.store.rows(
                f"SELECT {expression} AS value, count(*) AS n "  # noqa: S608 (fixed SQL)
                "FROM view v JOIN records r ON r.id = v.id"
                + where
                + (" AND " if where else " WHERE ")
                + f"{expression} IS NOT NULL AND {expression} != '' "
                "GROUP BY value ORDER BY n DESC, value LIMIT 50",
                values,
            )
            found[name] = [(str(row["value"]), int(row["n"])) for row in rows]
        return found

    def described(self, bag_id: str) -> Row | None:
        return self.store.row("SELECT * FROM view WHERE id = ?", (bag_id,))

    def search(self, words: str, limit: int, *, texts: bool = True) -> list[Hit]:
        """The bags whose metadata or (``texts``) texts match ``words`` (every word; "a
        phrase" in double quotes), best first, with a snippet of each: at most ``limit``."""
        query = fts_query(words)
        if not query:
            return []
        rows = self.store.rows(
            "SELECT s.id, s.part, snippet(search, 2, ?, ?, '…', 16) AS snippet, "
            "v.title FROM search s JOIN view v ON v.id = s.id WHERE search MATCH ? "
            "AND (? OR s.part = '') ORDER BY rank LIMIT ?",
            (MARK_START, MARK_END, query, texts, limit * 4),
        )
        hits: dict[str, Hit] = {}
        for row in rows:
            if row["id"] not in hits and len(hits) < limit:
                hits[row["id"]] = Hit(row["id"], row["title"], row["part"], row["snippet"])
        return list(hits.values())

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


@dataclass(frozen=True)
class _Seen:
    """A row as a refresh found it before reading the bags."""

    deleted: bool
    fingerprint: str


class _Change:
    """One item's row to write, once the bags have been read."""

    id: str

    def apply(self, db: sqlite3.Connection, seen: _Seen | None) -> int:
        """Write the row if it is still as ``seen`` (None: no row); 1 if written, else 0."""
        row = db.execute("SELECT deleted, fingerprint FROM records WHERE id = ?", (self.id,))
        found = row.fetchone()
        now = None if found is None else _Seen(bool(found[0]), found[1])
        if now != seen:
            return 0
        self.write(db)
        return 1

    def write(self, db: sqlite3.Connection) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class _Indexed(_Change):
    """A live bag, as read."""

    id: str
    datestamp: str
    setspec: str | None
    ancestors: list[tuple[str, str]]
    formats: list[str]
    fingerprint: str
    checked: dict[str, str]
    days: tuple[str | None, str | None]  # the first and last day of its date
    description: str = ""  # of its group: the name of its set
    described: Described | None = None  # what the web view lists
    texts: tuple[tuple[str, str], ...] = ()  # (payload path, its text) to search

    def write(self, db: sqlite3.Connection) -> None:
        self._write_record(db)
        _forget_view(db, self.id)
        if self.described is None:
            return
        d = self.described
        row = db.execute(
            "INSERT INTO view (id, title, creator, date, type, language, octets, files) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.id, d.title, d.creator, d.date, d.type, d.language, d.octets, d.files),
        ).lastrowid
        assert row is not None
        parts = [("", d.searchable), *self.texts][:_PARTS]
        db.executemany(
            "INSERT INTO search (rowid, id, part, body) VALUES (?, ?, ?, ?)",
            [(row * _PARTS + k, self.id, part, body) for k, (part, body) in enumerate(parts)],
        )

    def _write_record(self, db: sqlite3.Connection) -> None:
        checked = " ".join(f"{name}={signature}" for name, signature in self.checked.items())
        db.execute("DELETE FROM record_sets WHERE id = ?", (self.id,))
        db.execute(
            "INSERT INTO records (id, datestamp, deleted, setspec, formats, fingerprint, "
            "checked, date_earliest, date_latest) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET "
            "datestamp = excluded.datestamp, deleted = 0, setspec = excluded.setspec, "
            "formats = excluded.formats, fingerprint = excluded.fingerprint, "
            "checked = excluded.checked, date_earliest = excluded.date_earliest, "
            "date_latest = excluded.date_latest",
            (
                self.id,
                self.datestamp,
                self.setspec,
                " ".join(self.formats),
                self.fingerprint,
                checked,
                *self.days,
            ),
        )
        _place_in_sets(db, self.id, self.datestamp, self.ancestors, self.description)


@dataclass(frozen=True)
class _Deleted(_Change):
    """A bag no longer in the collection (withdrawn, or gone)."""

    id: str
    when: str

    def write(self, db: sqlite3.Connection) -> None:
        _forget_view(db, self.id)
        # A deleted item offers only its header (in oai_dc), as a rebuilt catalog's does.
        db.execute(
            "UPDATE records SET deleted = 1, datestamp = ?, fingerprint = '', "
            "formats = 'oai_dc', checked = '' WHERE id = ?",
            (self.when, self.id),
        )
        db.execute("UPDATE record_sets SET datestamp = ? WHERE id = ?", (self.when, self.id))


@dataclass(frozen=True)
class _Tombstoned(_Change):
    """A withdrawn bag a rebuilt catalog did not know."""

    id: str
    stone: Tombstone

    def write(self, db: sqlite3.Connection) -> None:
        when = self.stone.withdrawn_at
        setspec, ancestors, description = group_sets(self.stone.value)
        db.execute(
            "INSERT INTO records (id, datestamp, deleted, setspec, formats, fingerprint) "
            "VALUES (?, ?, 1, ?, 'oai_dc', '')",
            (self.id, when, setspec or None),
        )
        _place_in_sets(db, self.id, when, ancestors, description)


def _place_in_sets(
    db: sqlite3.Connection,
    bag_id: str,
    datestamp: str,
    ancestors: list[tuple[str, str]],
    description: str = "",
) -> None:
    """Put an item in its set and every set above it, creating the sets it is the first of.
    A description of the item's own group names its set (the latest indexed wins)."""
    for spec, name in ancestors:
        db.execute("INSERT OR IGNORE INTO sets VALUES (?, ?)", (spec, name))
        db.execute("INSERT INTO record_sets VALUES (?, ?, ?)", (spec, datestamp, bag_id))
    if ancestors and description:
        db.execute("UPDATE sets SET name = ? WHERE spec = ?", (description, ancestors[-1][0]))


_KEPT_MOST = 64  # filters whose ids and facet counts are kept (each holds up to every id)
_LISTING = (
    "SELECT v.id, v.title, v.creator, v.date, v.octets, v.files, r.setspec "
    "FROM view v JOIN records r ON r.id = v.id"
)
_ORDERS = {
    "title": " ORDER BY v.title COLLATE NOCASE, v.id LIMIT ? OFFSET ?",
    "date": " ORDER BY r.date_earliest IS NULL, r.date_earliest, v.id LIMIT ? OFFSET ?",
    "id": " ORDER BY v.id LIMIT ? OFFSET ?",
}
# A facet's value, as SQL over the view (v) and the record (r): fixed text, never a value.
_FACETS = {
    "set": "r.setspec",
    "type": "v.type",
    "language": "v.language",
    "year": "substr(r.date_earliest, 1, 4)",
}


@dataclass(frozen=True)
class Filters:
    """Which live bags a listing shows: each given facet value must match (a set includes
    the sets below it); ``ids``, when given, the only bags that may."""

    set: str | None = None
    type: str | None = None
    language: str | None = None
    year: str | None = None
    ids: tuple[str, ...] | None = None

    def sql(self) -> tuple[str, list[object]]:
        """A WHERE clause (fixed text) and the values it binds."""
        clauses: list[str] = []
        values: list[object] = []
        if self.set:
            clauses.append("(r.setspec = ? OR substr(r.setspec, 1, ?) = ?)")
            values += [self.set, len(self.set) + 1, self.set + ":"]
        for name in ("type", "language", "year"):
            value = getattr(self, name)
            if value:
                clauses.append(f"{_FACETS[name]} = ?")
                values.append(value)
        if self.ids is not None:
            clauses.append("v.id IN (SELECT value FROM json_each(?))")
            values.append(json.dumps(list(self.ids)))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


# Around the matched words of a snippet: characters no text holds (XML forbids them), so
# the view escapes the snippet and then marks them.
MARK_START, MARK_END = "\x02", "\x03"
_WORD = re.compile(r'"[^"]*"|[^\s"]+')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    part: str  # the payload file matched, "" for the metadata
    snippet: str  # MARK_START and MARK_END around each match


def fts_query(words: str) -> str:
    """A user's search words as an FTS5 query that cannot be malformed: every word, and
    every "phrase" in double quotes, quoted as a string; all of them must match."""
    terms = []
    for term in _WORD.findall(_CONTROL.sub(" ", words[:500])):  # FTS5 ends a string at NUL
        text = term.strip('"').strip()
        if text:
            terms.append('"' + text.replace('"', '""') + '"')
    return " ".join(terms[:20])


# A bag's rows of the full-text index have rowids VIEW_ROWID * _PARTS + 0, 1, ...: its
# description, then its texts. They are found (and deleted) by rowid range: the index
# cannot look its UNINDEXED id column up, and a scan per bag made indexing O(n^2).
_PARTS = 1024


def _forget_view(db: sqlite3.Connection, bag_id: str) -> None:
    found = db.execute("SELECT rowid FROM view WHERE id = ?", (bag_id,)).fetchone()
    if found is None:
        return
    first = int(found[0]) * _PARTS
    db.execute("DELETE FROM search WHERE rowid BETWEEN ? AND ?", (first, first + _PARTS - 1))
    db.execute("DELETE FROM view WHERE id = ?", (bag_id,))


@dataclass(frozen=True)
class Described:
    """A live bag as the web view lists it: from its dc.xml when that was found fit to
    serve, else from its bag-info."""

    title: str
    creator: str
    date: str
    type: str
    language: str
    octets: int | None
    files: int | None
    searchable: str  # every descriptive value, for the full-text index


def _described(bag: Bag, has_dc: bool) -> Described:
    record = None
    if has_dc:
        try:
            with bag.open(layout.DC_XML) as handle:
                record = dc.read_dc(handle)
        except (OSError, etree.XMLSyntaxError, ValueError):
            record = None  # changed since it was checked: the next refresh reads it again

    def first(element: str, *labels: str) -> str:
        if record is not None and record.values(element):
            return record.values(element)[0]
        return next(filter(None, map(bag.value, labels)), "") or ""

    octets = files = None
    oxum = (bag.value("Payload-Oxum") or "").split(".")
    if len(oxum) == 2 and all(part.isdigit() for part in oxum):
        octets, files = int(oxum[0]), int(oxum[1])
    values = (
        [v for _, vs in record.dc for v in vs]
        if record is not None
        else [element.value for element in bag.bag_info]
    )
    return Described(
        title=first("title", "Title", "External-Description"),
        creator=first("creator", "Creator", "Source-Organization"),
        date=first("date", "Date"),
        type=first("type"),
        language=first("language"),
        octets=octets,
        files=files,
        searchable="\n".join(values),
    )


def _texts(files: BagFiles | None) -> Iterator[tuple[str, str]]:
    """(payload path, text) of the bag's text files, for the full-text index (TEXT_LIMIT,
    TEXT_BUDGET and TEXT_FILES bound what a bag costs)."""
    if files is None:
        return
    budget, seen = TEXT_BUDGET, 0
    for entry in files.walk():
        if entry.kind is not Kind.FILE or not entry.path.startswith("data/"):
            continue
        seen += 1
        if budget <= 0 or seen > TEXT_FILES:
            return
        path = entry.path
        wanted = min(TEXT_LIMIT, budget)
        try:
            with files.open(path) as handle:
                data = handle.read(wanted)
        except OSError:
            continue
        if b"\0" in data:
            continue
        try:  # a read cut short may end inside a character: that one is left out
            text = codecs.getincrementaldecoder("utf-8")().decode(data, final=len(data) < wanted)
        except UnicodeDecodeError:
            continue  # not a UTF-8 text
        budget -= len(data)
        yield path, text


def _item(row: Row) -> Item:
    return Item(
        row["id"],
        row["datestamp"],
        bool(row["deleted"]),
        row["setspec"],
        tuple(row["formats"].split()),
        dict(entry.split("=", 1) for entry in row["checked"].split()),
        row["date_earliest"],
        row["date_latest"],
    )


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # years 0 to 9999: the text sorts as the days do


def _days(bag: Bag) -> tuple[str | None, str | None]:
    """The first and last day of the bag's date: its first dc:date that is W3CDTF or EDTF."""
    try:
        with bag.open(layout.DC_XML) as handle:
            found = dc.values(handle, "date")
    except (OSError, etree.XMLSyntaxError):  # changed since it was checked: the next refresh
        return None, None
    for value in found:
        reading = recorded_date(value)
        if reading is not None:
            return _sortable(reading.earliest), _sortable(reading.latest)
    return None, None


def _sortable(day: str | None) -> str | None:
    return day if day is not None and _DAY.match(day) else None
