"""Withdrawing a bag: it leaves the collection without being deleted, and a tombstone says
when and why, so that harvesters are told the record is gone (OAI-PMH deleted records).

    COLLECTION/.archiver/withdrawn/ID.TIME/bag/            the bag, moved here whole
    COLLECTION/.archiver/withdrawn/ID.TIME/tombstone.json  id, time, reason, its bag-info
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.bagit.reader import read_bag
from archiver.clock import from_w3cdtf, w3cdtf
from archiver.collection import bags
from archiver.errors import CollectionError, UsageError

WITHDRAWN_DIR = "withdrawn"
TOMBSTONE = "tombstone.json"


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
    """Every withdrawal recorded in the collection, oldest first."""
    folder = withdrawn_dir(collection)
    found = []
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            stone = entry / TOMBSTONE
            if not entry.is_dir() or entry.is_symlink() or not stone.is_file():
                continue
            try:
                read = Tombstone.from_json(json.loads(stone.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a broken tombstone is not a withdrawal we can vouch for
            if read is not None:
                found.append(read)
    return sorted(found, key=lambda t: (t.withdrawn_at, t.id))


def withdraw(collection: Path, bag_id: str, *, reason: str, now: datetime) -> Path:
    """Move a bag out of the collection into its withdrawn area, never deleting it, and leave
    a tombstone (id, time, reason, bag-info) beside it. Returns where the bag now lives.

    The move is one rename on the same file system: the bag is in the collection or in the
    withdrawn area, never half in each.
    """
    if not reason.strip():
        raise UsageError("a withdrawal needs a reason")
    if bag_id not in bags.bag_ids(collection):
        raise CollectionError(f"{collection / bag_id}: no such bag in the collection")
    when = w3cdtf(now)
    home = withdrawn_dir(collection) / f"{bag_id}.{when.replace(':', '').replace('-', '')}"
    stone = Tombstone(bag_id, when, reason.strip(), _bag_info(collection / bag_id))
    try:
        home.mkdir(parents=True)
    except FileExistsError as exc:
        raise CollectionError(f"{home} already exists") from exc
    except OSError as exc:
        raise CollectionError(f"cannot create {home}: {exc.strerror}") from exc
    try:
        (home / TOMBSTONE).write_text(
            json.dumps(stone.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        os.rename(collection / bag_id, home / "bag")
    except OSError as exc:
        # No tombstone without its bag: a bag still in the collection is not withdrawn.
        (home / TOMBSTONE).unlink(missing_ok=True)
        home.rmdir()
        raise CollectionError(f"cannot withdraw {collection / bag_id}: {exc.strerror}") from exc
    return home / "bag"


def _bag_info(bag: Path) -> tuple[tuple[str, str], ...]:
    """The bag-info elements (label, value) of a bag, as the bag reader reads them."""
    try:
        read = read_bag(bag, manifests=False, fetch_txt=False)
    except OSError:
        return ()
    return tuple(read.items())
