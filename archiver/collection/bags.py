"""Which entries of a collection folder are its bags.

A bag is a sub-folder holding bagit.txt. Hidden entries (``.archiver/`` with the collection's
records, ``.archiver-partial-*`` folders being built) and plain files (a README) are not
bags. Symbolic links are never followed: a link in a collection is not one of its bags.
"""

from __future__ import annotations

from pathlib import Path

from archiver.bagit.reader import holds_bags
from archiver.errors import CollectionError

# Where the collection keeps its own records (ledger, catalog, withdrawn bags): hidden, so
# never taken for a bag.
RECORDS_DIR = ".archiver"


def bag_ids(collection: Path) -> list[str]:
    """The bags in ``collection``, by folder name, sorted."""
    try:
        return holds_bags(collection)
    except (NotADirectoryError, FileNotFoundError) as exc:
        raise CollectionError(f"{collection}: not a directory") from exc
    except OSError as exc:
        raise CollectionError(f"{collection}: cannot list the collection: {exc.strerror}") from exc


def is_folder(path: Path) -> bool:
    """A folder, not a link to one (nothing in a collection is reached through a link)."""
    return path.is_dir() and not path.is_symlink()
