"""The names RFC 8493 gives a bag's files and folders, and how big a tag file may be.

Shared by the writer and the reader (and whatever names a bag's parts) without importing
the reader, which writing a bag does not need; and how a file is named as a serialized bag
(without importing the archive code, which listing a folder of bags does not need).
"""

from __future__ import annotations

import os

BAGIT_TXT = "bagit.txt"
BAG_INFO_TXT = "bag-info.txt"
PACKAGE_INFO_TXT = "package-info.txt"  # bag-info.txt's name before BagIt 0.96
FETCH_TXT = "fetch.txt"
PAYLOAD_DIR = "data"
MAX_TAG_FILE = 64 << 20  # tag files are read whole; absurd ones are refused

# What a file name says a serialized bag is (matched case-insensitively, longest first),
# in the order a collection prefers them when one id names several (after a folder).
ARCHIVE_SUFFIXES = ((".tar", "tar"), (".tar.gz", "tgz"), (".tgz", "tgz"), (".zip", "zip"))
_BY_LENGTH = sorted(ARCHIVE_SUFFIXES, key=lambda item: -len(item[0]))


def archive_suffix(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(suffix, kind) of the archive ``path`` is named as, or None."""
    name = os.fspath(path).lower()
    return next(((s, kind) for s, kind in _BY_LENGTH if name.endswith(s)), None)


def archive_kind(path: str | os.PathLike[str]) -> str | None:
    """ "tar", "tgz" or "zip" when ``path`` is named as such an archive, else None."""
    found = archive_suffix(path)
    return None if found is None else found[1]


def archived_bag_id(path: str | os.PathLike[str]) -> str:
    """The name of an archived bag: its file name without the archive's extension."""
    name = os.path.basename(os.fspath(path))
    found = archive_suffix(name)
    return name if found is None else name[: -len(found[0])]


def is_archive_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file named as a serialized bag (.tar, .tar.gz, .tgz, .zip)."""
    return archive_kind(path) is not None and os.path.isfile(path)
