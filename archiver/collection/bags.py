"""Which entries of a collection folder are its bags, and where each bag lives.

A bag is a sub-folder holding bagit.txt, or a serialized bag: a regular file named
``ID.tar``, ``ID.tar.gz``, ``ID.tgz`` or ``ID.zip`` (RFC 8493 §4.1 practice: the bag is the
archive's single top-level folder), whose id is its name without the extension. Hidden
entries (``.archiver/`` with the collection's records, ``.archiver-partial-*`` being built)
and other plain files (a README) are not bags. Symbolic links are never followed: a link
in a collection is not one of its bags.

One id held by several entries (``ID/`` beside ``ID.tar``) is *ambiguous*: the folder is
preferred, then the archive kinds in the order of ``names.ARCHIVE_SUFFIXES``, and the
audit reports the others (``audit.bag.ambiguous``) until all but one are moved away.
archiver itself never makes such a pair: ``bag`` and ``ingest`` refuse an id already held.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from archiver.bagit.files import BagFiles, FolderFiles
from archiver.bagit.names import ARCHIVE_SUFFIXES, BAGIT_TXT, archive_kind, archived_bag_id
from archiver.errors import CollectionError

# Where the collection keeps its own records (ledger, catalog, withdrawn bags): hidden, so
# never taken for a bag.
RECORDS_DIR = ".archiver"
_PREFERENCE = {kind: rank for rank, (_, kind) in enumerate(ARCHIVE_SUFFIXES, 1)}


@dataclass(frozen=True)
class Place:
    """Where one bag of the collection lives: a folder, or an archive file (``kind``)."""

    id: str
    path: Path
    kind: str | None = None  # "tar", "tgz", "zip"; None: a folder

    @property
    def archived(self) -> bool:
        return self.kind is not None

    def files(self, *, resolved: Path | None = None) -> BagFiles:
        """The bag's files, for the one bag reader: the folder, or the archive indexed.
        OSError when the archive cannot be opened."""
        if self.kind is None:
            return FolderFiles(self.path, resolved=resolved)
        from archiver.bagit.archives import open_archive  # tarfile, zipfile: when needed

        return open_archive(self.path)

    def files_or_damage(self) -> BagFiles:
        """files(), or for an archive that cannot be opened at all, an empty bag whose one
        problem says why (bag.archive.damaged): what an audit judges."""
        try:
            return self.files()
        except OSError as exc:
            from archiver.bagit.archives import unopened

            return unopened(self.path, exc)

    def present(self) -> bool:
        """Whether the bag is (still) here as it was listed: the folder a folder, the
        archive a regular file, neither a link."""
        try:
            mode = os.lstat(self.path).st_mode
        except OSError:
            return False
        return stat.S_ISREG(mode) if self.archived else stat.S_ISDIR(mode)


def places(collection: Path) -> dict[str, list[Place]]:
    """Every bag of ``collection`` by id, the entries holding an id preferred first."""
    from archiver.bagit.reader import holds_bags  # the bag reader: not for RECORDS_DIR alone

    try:
        names = holds_bags(collection)
    except (NotADirectoryError, FileNotFoundError) as exc:
        raise CollectionError(f"{collection}: not a directory") from exc
    except OSError as exc:
        raise CollectionError(f"{collection}: cannot list the collection: {exc.strerror}") from exc
    found: dict[str, list[Place]] = {}
    for name in names:
        kind = archive_kind(name) if not os.path.isdir(collection / name) else None
        bag_id = archived_bag_id(name) if kind is not None else name
        found.setdefault(bag_id, []).append(Place(bag_id, collection / name, kind))
    for held in found.values():
        held.sort(key=lambda place: (_PREFERENCE.get(place.kind or "", 0), place.path.name))
    return found


def bag_ids(collection: Path) -> list[str]:
    """The bags in ``collection``, by id (a folder's name, an archive's without its
    extension), sorted."""
    return sorted(places(collection))


def locate(collection: Path, bag_id: str) -> Place | None:
    """Where bag ``bag_id`` of ``collection`` lives (the preferred entry when several hold
    it), or None. Looked for by name first: a collection is listed only when none of the
    usual spellings is there (an archive named ``ID.TAR``)."""
    if not bag_id or bag_id.startswith(".") or "/" in bag_id or bag_id in ("..",):
        return None
    folder = collection / bag_id
    if is_folder(folder) and os.path.lexists(folder / BAGIT_TXT):
        return Place(bag_id, folder)
    for suffix, kind in ARCHIVE_SUFFIXES:
        place = Place(bag_id, collection / f"{bag_id}{suffix}", kind)
        if place.present():
            return place
    try:
        held = places(collection).get(bag_id)
    except CollectionError:
        return None
    return held[0] if held else None


def is_folder(path: Path) -> bool:
    """A folder, not a link to one (nothing in a collection is reached through a link)."""
    return path.is_dir() and not path.is_symlink()
