"""A collection: a directory of bags (like bags/), and where its own records live.

    COLLECTION/
      BAG/...                      the bags
      .archiver/ledger.sqlite      the fixity ledger (audit)
      .archiver/catalog.sqlite     the OAI-PMH catalog (serve), rebuildable from the bags
      .archiver/withdrawn/ID.TIME/ a withdrawn bag ("bag/") and its tombstone.json

A bag is a sub-folder holding bagit.txt. Hidden entries (``.archiver/`` with the ledger,
``.archiver-partial-*`` folders being built) and plain files (a README) are not bags.
Symbolic links are never followed: a link in a collection is not one of its bags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from archiver.bagit.reader import read_bag
from archiver.errors import UsageError

RECORDS_DIR = ".archiver"
LEDGER_FILE = "ledger.sqlite"


def default_ledger(collection: Path) -> Path:
    return collection / RECORDS_DIR / LEDGER_FILE


def bag_ids(collection: Path) -> list[str]:
    """The bags in ``collection``, by folder name, sorted."""
    if not collection.is_dir():
        raise UsageError(f"{collection}: not a directory")
    found = []
    with os.scandir(collection) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            if os.path.lexists(os.path.join(entry.path, "bagit.txt")):
                found.append(entry.name)
    return sorted(found)


WITHDRAWN_DIR = "withdrawn"
TOMBSTONE = "tombstone.json"


def withdrawn_dir(collection: Path) -> Path:
    return collection / RECORDS_DIR / WITHDRAWN_DIR


def tombstones(collection: Path) -> list[dict[str, Any]]:
    """Every withdrawal recorded in the collection, oldest first."""
    folder = withdrawn_dir(collection)
    found = []
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            stone = entry / TOMBSTONE
            if entry.is_dir() and not entry.is_symlink() and stone.is_file():
                try:
                    found.append(json.loads(stone.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue  # a broken tombstone is not a withdrawal we can vouch for
    return sorted(found, key=lambda t: (t.get("withdrawn_at", ""), t.get("id", "")))


def withdraw(collection: Path, bag_id: str, reason: str, when: str) -> Path:
    """Move a bag out of the collection into its withdrawn area, never deleting it, and leave
    a tombstone (id, time, reason) beside it. Returns where the bag now lives.

    The move is one rename on the same file system: the bag is in the collection or in the
    withdrawn area, never half in each.
    """
    if bag_id not in bag_ids(collection):
        raise UsageError(f"{collection / bag_id}: no such bag in the collection")
    if not reason.strip():
        raise UsageError("--reason must say why the bag is withdrawn")
    stamp = when.replace(":", "").replace("-", "")
    home = withdrawn_dir(collection) / f"{bag_id}.{stamp}"
    if home.exists():
        raise UsageError(f"{home} already exists")
    home.mkdir(parents=True)
    stone = {
        "id": bag_id,
        "withdrawn_at": when,
        "reason": reason.strip(),
        "bag_info": _bag_info(collection / bag_id),
    }
    (home / TOMBSTONE).write_text(
        json.dumps(stone, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    os.rename(collection / bag_id, home / "bag")
    return home / "bag"


def _bag_info(bag: Path) -> list[list[str]]:
    """The bag-info elements (label, value) of a bag, as the bag reader reads them."""
    try:
        read = read_bag(bag, manifests=False, fetch_txt=False)
    except OSError:
        return []
    return [[label, value] for label, value in read.items()]
