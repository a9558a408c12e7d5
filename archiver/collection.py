"""A collection: a directory of bags (like bags/), and where its own records live.

A bag is a sub-folder holding bagit.txt. Hidden entries (``.archiver/`` with the ledger,
``.archiver-partial-*`` folders being built) and plain files (a README) are not bags.
Symbolic links are never followed: a link in a collection is not one of its bags.
"""

from __future__ import annotations

import os
from pathlib import Path

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
