"""Withdrawing a bag: it leaves the collection without being deleted, and a tombstone says
when and why, so that harvesters are told the record is gone (OAI-PMH deleted records).

    COLLECTION/.archiver/withdrawn/ID.TIME/bag/            the bag, moved here whole
    COLLECTION/.archiver/withdrawn/ID.TIME/bag.tar         (a serialized bag: bag + its suffix)
    COLLECTION/.archiver/withdrawn/ID.TIME/tombstone.json  id, time, reason, its bag-info

A withdrawal is one step, a rename: the tombstone is written first into its folder (held
with a lock while it is made), then the bag is renamed in beside it. A withdrawal is a
folder holding both; one without its bag is not one, by anyone's reckoning (the listing,
the catalog, the audit). So before the rename the bag is in the collection and there is no
withdrawal; after it, the bag is withdrawn with its tombstone; there is no instant between.
A withdrawal stopped before its rename (Ctrl-C, SIGTERM, an error) removes its folder; one
killed there (kill -9) leaves it, unlocked, and the next withdrawal clears it away.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver import faults
from archiver.bagit.names import ARCHIVE_SUFFIXES, archive_suffix
from archiver.bagit.reader import read_bag
from archiver.clock import from_w3cdtf, w3cdtf
from archiver.collection import bags
from archiver.errors import CollectionError, UsageError
from archiver.staging import fsync_directory

WITHDRAWN_DIR = "withdrawn"
TOMBSTONE = "tombstone.json"
BAG_DIR = "bag"


@dataclass(frozen=True)
class Tombstone:
    """What a withdrawn bag leaves behind: its id, when and why, and its bag-info."""

    id: str
    withdrawn_at: str  # W3CDTF, UTC
    reason: str
    bag_info: tuple[tuple[str, str], ...]

    def value(self, label: str) -> str | None:
        """The first bag-info value under ``label`` (labels compare case-insensitively)."""
        wanted = label.lower()
        return next((v for name, v in self.bag_info if name.lower() == wanted), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "withdrawn_at": self.withdrawn_at,
            "reason": self.reason,
            "bag_info": [list(item) for item in self.bag_info],
        }

    @classmethod
    def from_json(cls, data: object) -> Tombstone | None:
        """A tombstone read back, or None when it is not one we can vouch for."""
        if not isinstance(data, Mapping):
            return None
        bag_id, when, reason = data.get("id"), data.get("withdrawn_at"), data.get("reason", "")
        if not isinstance(bag_id, str) or not isinstance(when, str) or not isinstance(reason, str):
            return None
        try:
            from_w3cdtf(when)
        except ValueError:
            return None
        raw = data.get("bag_info", [])
        info = tuple(
            (item[0], item[1])
            for item in (raw if isinstance(raw, list) else [])
            if isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], str)
        )
        return cls(bag_id, when, reason, info)


def withdrawn_dir(collection: Path) -> Path:
    return collection / bags.RECORDS_DIR / WITHDRAWN_DIR


def tombstones(collection: Path) -> list[Tombstone]:
    """Every withdrawal made in the collection, oldest first: folders holding a tombstone
    and the bag it is for (a tombstone alone is a withdrawal that never happened)."""
    folder = withdrawn_dir(collection)
    found = []
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            stone = entry / TOMBSTONE
            if not _is_withdrawal(entry) or not stone.is_file():
                continue
            try:
                read = Tombstone.from_json(json.loads(stone.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a broken tombstone is not a withdrawal we can vouch for
            if read is not None:
                found.append(read)
    return sorted(found, key=lambda t: (t.withdrawn_at, t.id))


def _is_withdrawal(entry: Path) -> bool:
    return not entry.name.startswith(".") and bags.is_folder(entry) and _moved_in(entry)


def _moved_in(home: Path) -> bool:
    """Whether a withdrawal's folder holds its bag: a folder ``bag``, or a serialized bag
    ``bag.tar`` (``.tar.gz``, ``.tgz``, ``.zip``) as a regular file."""
    if bags.is_folder(home / BAG_DIR):
        return True
    return any(
        bags.Place(BAG_DIR, home / f"{BAG_DIR}{suffix}", kind).present()
        for suffix, kind in ARCHIVE_SUFFIXES
    )


MAX_REASON = 1000  # characters: a sentence or a paragraph, shown on the bag's 410 page


def withdrawal_reason(given: str) -> str:
    """The reason as kept in the tombstone: one line, its whitespace runs single spaces;
    UsageError when there is none, when it is longer than MAX_REASON, or when it holds a
    control character (a terminal escape, a NUL) that no page or report can show."""
    reason = " ".join(given.split())
    if not reason:
        raise UsageError("a withdrawal needs a reason")
    if len(reason) > MAX_REASON:
        raise UsageError(f"a withdrawal's reason has {MAX_REASON} characters at most")
    control = next((c for c in reason if unicodedata.category(c) in ("Cc", "Cs")), None)
    if control is not None:
        raise UsageError(
            f"a withdrawal's reason is text: U+{ord(control):04X} is a control character"
        )
    return reason


def withdraw(collection: Path, bag_id: str, *, reason: str, now: datetime) -> Path:
    """Move a bag out of the collection into its withdrawn area, never deleting it, and leave
    a tombstone (id, time, reason, bag-info) beside it. Returns where the bag now lives.

    One rename on the same file system does it: the bag is in the collection with no
    tombstone, or withdrawn with its tombstone, never half in each (module docstring).
    """
    reason = withdrawal_reason(reason)
    held = bags.places(collection).get(bag_id)
    if not held:
        gone = [stone for stone in tombstones(collection) if stone.id == bag_id]
        if gone:  # the last withdrawal of that id: when and why
            raise CollectionError(
                f"{collection / bag_id}: already withdrawn, on {gone[-1].withdrawn_at}: "
                f"{gone[-1].reason}"
            )
        raise CollectionError(f"{collection / bag_id}: no such bag in the collection")
    if len(held) > 1:  # which one the caller means is for them to say, by moving the others
        raise CollectionError(
            f"{collection / bag_id}: the bag is held by {' and '.join(p.path.name for p in held)}; "
            "move all but one out of the collection first"
        )
    place = held[0]
    when = w3cdtf(now)
    area = withdrawn_dir(collection)
    home = area / f"{bag_id}.{when.replace(':', '').replace('-', '')}"
    source = place.path
    moved = BAG_DIR + _suffix(place)
    stone = Tombstone(bag_id, when, reason, _bag_info(place))
    try:
        area.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CollectionError(f"cannot create {area}: {exc.strerror}") from exc
    _clear_abandoned(area)
    with _Home(home) as made:
        made.write(TOMBSTONE, json.dumps(stone.to_json(), indent=2, sort_keys=True) + "\n")
        faults.point("withdraw.before-rename")
        try:
            os.rename(source, home / moved)  # the withdrawal, in one step
        except OSError as exc:
            raise CollectionError(f"cannot withdraw {source}: {exc.strerror}") from exc
        faults.point("withdraw.after-rename")
        for folder in (collection, home):
            with contextlib.suppress(OSError):  # withdrawn already: only durability is left
                fsync_directory(folder)
    return home / moved


def _suffix(place: bags.Place) -> str:
    """What a serialized bag's name ends with (kept when it is withdrawn), or ''."""
    if not place.archived:
        return ""
    found = archive_suffix(place.path.name)
    return place.path.name[-len(found[0]) :] if found else ""


class _Home:
    """A withdrawal's folder while it is made: created new, locked (flock, released when
    this process ends however it ends), and removed on the way out unless the bag is in it.
    Only the files it wrote are removed, and the folder only when that leaves it empty: a
    bag is never deleted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[Path] = []
        self.fd: int | None = None

    def __enter__(self) -> _Home:
        try:
            self.path.mkdir()
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            faults.point("withdraw.folder-made")
        except FileExistsError as exc:  # not ours: left alone
            raise CollectionError(f"{self.path} already exists") from exc
        except BaseException as exc:  # an error, or Ctrl-C or SIGTERM at any instant here
            self.__exit__()
            if isinstance(exc, OSError):
                raise CollectionError(f"cannot create {self.path}: {exc.strerror}") from exc
            raise
        return self

    def write(self, name: str, text: str) -> None:
        target = self.path / name
        self.written.append(target)
        try:
            with open(target, "x", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            for folder in (self.path, self.path.parent):  # the file, and the folder it is in
                fsync_directory(folder)
        except OSError as exc:
            raise CollectionError(f"cannot write {target}: {exc.strerror}") from exc

    def __exit__(self, *_: object) -> None:
        # Whatever stopped us (an error, Ctrl-C, SIGTERM), the disk says whether the rename
        # happened: a withdrawal that is done stays done.
        if not _moved_in(self.path):
            self._undo()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _undo(self) -> None:
        for path in self.written:
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _clear_abandoned(area: Path) -> None:
    """Remove the folders of withdrawals killed before their rename: no bag in them, and
    no live withdrawal holding their lock. Only their tombstone goes, then the empty folder."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(area) as entries:
        candidates = [Path(e.path) for e in entries if not e.name.startswith(".")]
    for folder in candidates:
        if not bags.is_folder(folder) or _moved_in(folder):
            continue
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a withdrawal is being made in it
        try:
            if not _moved_in(folder):
                with contextlib.suppress(OSError):
                    (folder / TOMBSTONE).unlink()
                with contextlib.suppress(OSError):
                    folder.rmdir()
        finally:
            os.close(fd)


def _bag_info(place: bags.Place) -> tuple[tuple[str, str], ...]:
    """The bag-info elements (label, value) of a bag, as the bag reader reads them."""
    try:
        read = read_bag(place.files(), manifests=False, fetch_txt=False, payload=False)
    except OSError:
        return ()
    return tuple(read.items())
