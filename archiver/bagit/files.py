"""How the bag reader reaches a bag's files: one small interface, and its folder form.

Everything that reads a bag (the reader, the validator's hashing, exporters copying a
payload) goes through a ``BagFiles``: list what is there, stat one path, open one file for
reading, or take every member in stored order with its content (how a sequential archive
such as a ``.tar`` is read, once, front to back). Paths are bag paths: ``/``-separated,
relative to the bag's base directory (``data/a.txt``).

``FolderFiles`` is a bag that is a directory. It never follows a symbolic link: the walk
reports links as links, and every open walks the path one component at a time with
O_NOFOLLOW, so a hostile bag cannot make us read anything outside it, even through a link
in the middle of a path. The walk is iterative: folders nested thousands deep are listed,
not a RecursionError.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol


class Kind(StrEnum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    SPECIAL = "special"  # a device, socket or pipe
    UNREADABLE = "unreadable"  # there, but could not be listed or stat'ed


@dataclass(frozen=True, slots=True)  # slots: an archive's index holds 100,000s of these
class Entry:
    path: str
    kind: Kind
    size: int = 0  # bytes, for files


class BagFiles(Protocol):
    """Read access to one bag, wherever it is kept."""

    @property
    def location(self) -> str:
        """How to name the bag to a person (its path)."""

    def walk(self, *, payload: bool = True) -> Iterator[Entry]:
        """Every entry under the base directory, in stored order; no link followed.

        ``payload=False``: ``data/`` itself, not what it holds (a catalog reads tag files
        only, and a bag may hold a million payload files)."""

    def stat(self, path: str) -> Entry | None:
        """One entry, or None when nothing is there (a link is reported, not followed)."""

    def open(self, path: str) -> BinaryIO:
        """A regular file, opened for reading; OSError when it is not one or cannot be read."""

    def members(self) -> Iterator[tuple[Entry, BinaryIO | None]]:
        """Every entry in stored order, with an open stream for each regular file (valid
        until the next member is taken): one front-to-back pass over the whole bag."""


_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW


class FolderFiles:
    """A bag that is a directory on this machine."""

    def __init__(self, root: str | os.PathLike[str], *, resolved: Path | None = None) -> None:
        """``resolved``: the root with its links resolved, when the caller knows it (a
        collection resolves its own path once, not once per bag it opens)."""
        self.root = Path(root)
        self._resolved = None if resolved is None else str(resolved)

    def __repr__(self) -> str:
        return f"FolderFiles({str(self.root)!r})"

    def __reduce__(self) -> tuple[type[FolderFiles], tuple[str]]:
        return (FolderFiles, (str(self.root),))  # workers get the path, nothing else

    @property
    def location(self) -> str:
        return str(self.root)

    def walk(self, *, payload: bool = True) -> Iterator[Entry]:
        # A stack of folders still to list, each listed in name order: the same order as a
        # recursive walk, without recursion.
        stack: list[str] = [""]
        while stack:
            prefix = stack.pop()
            folder = self.root / prefix if prefix else self.root
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError:
                yield Entry(prefix.rstrip("/") or ".", Kind.UNREADABLE)
                continue
            below: list[str] = []
            for item in entries:
                rel = f"{prefix}{item.name}"
                found = _entry(rel, item)
                yield found
                if found.kind is Kind.DIRECTORY and (payload or rel != "data"):  # data/: payload
                    below.append(f"{rel}/")
            stack.extend(reversed(below))

    def stat(self, path: str) -> Entry | None:
        try:
            info = os.lstat(self.root / path)
        except FileNotFoundError:
            return None
        except OSError:
            return Entry(path, Kind.UNREADABLE)
        return Entry(path, _kind(info.st_mode), info.st_size)

    def open(self, path: str) -> BinaryIO:
        fd = self.open_fd(path)
        return os.fdopen(fd, "rb")

    def open_fd(self, path: str) -> int:
        """A file descriptor for the regular file at ``path``, never reached through a link;
        OSError otherwise.

        The last component is opened with O_NOFOLLOW (and O_NONBLOCK, so a pipe put where a
        file was cannot hang us); a link in the middle of the path is caught by asking the
        kernel where the opened file really is (/proc/self/fd) before a byte is read.
        """
        # Strings, not Paths: this runs once per file a validation reads, 10,000s of times.
        parts = path.split("/")
        if not path or any(part in ("", ".", "..") for part in parts):
            raise OSError(f"{path!r} is not a path inside the bag")
        fd = os.open(os.path.join(self.location, path), _FLAGS | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IsADirectoryError(f"{path} is not a regular file")
            if len(parts) > 1:
                where = self._where(fd)
                if where is not None and where != os.path.join(self._real_text, path):
                    raise OSError(f"{path} is reached through a symbolic link; not read")
        except BaseException:
            os.close(fd)
            raise
        return fd

    @property
    def _real_text(self) -> str:
        """The root with its links resolved, found once. (Not functools.cached_property:
        in Python 3.11 it takes one lock for every instance of the class, and the OAI
        server's threads, each reading bags, queued on it.)"""
        if self._resolved is None:
            self._resolved = os.path.realpath(self.root)
        return self._resolved

    @staticmethod
    def _where(fd: int) -> str | None:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # no /proc: the O_NOFOLLOW on the last component still holds
            return None

    def members(self) -> Iterator[tuple[Entry, BinaryIO | None]]:
        for entry in self.walk():
            if entry.kind is not Kind.FILE:
                yield entry, None
                continue
            try:
                handle = self.open(entry.path)
            except OSError:
                yield Entry(entry.path, Kind.UNREADABLE), None
                continue
            with contextlib.closing(handle):
                yield entry, handle


@dataclass(frozen=True)
class BagFile:
    """One file of a bag, to be copied or digested without following links: a folder's
    (read through a descriptor) or an archive's member (read as a stream)."""

    files: BagFiles
    path: str

    def __str__(self) -> str:
        return f"{self.files.location}/{self.path}"

    @property
    def has_fd(self) -> bool:
        """Whether it is a file of its own (a folder's), opened as a descriptor."""
        return isinstance(self.files, FolderFiles)

    def open_fd(self) -> int:
        if not isinstance(self.files, FolderFiles):
            raise TypeError(f"{self} is an archive's member: open it as a stream")
        return self.files.open_fd(self.path)


def _kind(mode: int) -> Kind:
    if stat.S_ISLNK(mode):
        return Kind.SYMLINK
    if stat.S_ISDIR(mode):
        return Kind.DIRECTORY
    if stat.S_ISREG(mode):
        return Kind.FILE
    return Kind.SPECIAL


def _entry(rel: str, item: os.DirEntry[str]) -> Entry:
    try:
        info = item.stat(follow_symlinks=False)
    except OSError:  # e.g. a path longer than PATH_MAX
        return Entry(rel, Kind.UNREADABLE)
    kind = _kind(info.st_mode)
    return Entry(rel, kind, info.st_size if kind is Kind.FILE else 0)


def as_files(bag: str | os.PathLike[str] | BagFiles) -> BagFiles:
    """A BagFiles for a path (a folder) or one given as is."""
    if isinstance(bag, str | os.PathLike):
        return FolderFiles(bag)
    return bag
