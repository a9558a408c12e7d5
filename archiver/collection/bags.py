"""Which entries of a collection folder are its bags.

A bag is a sub-folder holding bagit.txt. Hidden entries (``.archiver/`` with the collection's
records, ``.archiver-partial-*`` folders being built) and plain files (a README) are not
bags. Symbolic links are never followed: a link in a collection is not one of its bags.
"""

from __future__ import annotations

import os
from pathlib import Path

from archiver.bagit.reader import BAGIT_TXT
from archiver.errors import CollectionError

# Where the collection keeps its own records (ledger, catalog, withdrawn bags): hidden, so
# never taken for a bag.
RECORDS_DIR = ".archiver"


def bag_ids(collection: Path) -> list[str]:
    """The bags in ``collection``, by folder name, sorted."""
    found = []
    try:
        with os.scandir(collection) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                if os.path.lexists(os.path.join(entry.path, BAGIT_TXT)):
                    found.append(entry.name)
    except (NotADirectoryError, FileNotFoundError) as exc:
        raise CollectionError(f"{collection}: not a directory") from exc
    except OSError as exc:
        raise CollectionError(f"{collection}: cannot list the collection: {exc.strerror}") from exc
    return sorted(found)


def is_folder(path: Path) -> bool:
    """A folder, not a link to one (nothing in a collection is reached through a link)."""
    return path.is_dir() and not path.is_symlink()
