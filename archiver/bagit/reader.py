"""Looking at a bag on disk without trusting it.

The inventory walks the bag without following any symbolic link; files are opened with
O_NOFOLLOW and only when the inventory found them as regular files, so a hostile bag cannot
make us read (or hash) anything outside it.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_TAG_FILE = 64 << 20  # tag files are read whole; refuse absurd ones


@dataclass
class Inventory:
    """Everything under a bag's base directory, by bag path (``/``-separated)."""

    payload: dict[str, int] = field(default_factory=dict)  # data/... -> size
    tags: dict[str, int] = field(default_factory=dict)  # everything else -> size
    directories: set[str] = field(default_factory=set)
    symlinks: list[str] = field(default_factory=list)
    specials: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    has_payload_dir: bool = False

    def size_of(self, path: str) -> int | None:
        return self.payload.get(path, self.tags.get(path))


def take_inventory(root: Path) -> Inventory:
    inventory = Inventory()
    _walk(root, "", inventory)
    return inventory


def _walk(folder: Path, prefix: str, inventory: Inventory) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        inventory.unreadable.append(prefix.rstrip("/") or ".")
        return
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if entry.is_symlink():
            inventory.symlinks.append(rel)
            if rel == "data":
                inventory.has_payload_dir = True
            continue
        if entry.is_dir(follow_symlinks=False):
            inventory.directories.add(rel)
            if rel == "data":
                inventory.has_payload_dir = True
            _walk(Path(entry.path), f"{rel}/", inventory)
        elif entry.is_file(follow_symlinks=False):
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:  # e.g. a path longer than PATH_MAX
                inventory.unreadable.append(rel)
                continue
            if rel.startswith("data/"):
                inventory.payload[rel] = size
            else:
                inventory.tags[rel] = size
        else:
            inventory.specials.append(rel)


def open_file(root: Path, rel: str) -> io.BufferedReader:
    """Open a bag file for reading, never through a symlink; OSError when it cannot be."""
    fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{rel} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file(root: Path, rel: str, limit: int = MAX_TAG_FILE) -> bytes:
    """Read a bag file whole, never through a symlink; OSError when it cannot be."""
    fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(f"{rel} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{rel} is larger than {limit} bytes")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
