"""What the user asked to bag -> the payload plan: which file goes to which bag path.

Nothing here writes; the user's files are only looked at (stat and directory listings).
Everything that would make a bad payload is refused before a byte is copied: missing or
unreadable sources, empty folders, links and special files inside folders, names that are
not UTF-8 or that a validator would refuse or read differently, files nested too deep for
METS, paths too long for the file system once staged, and names that collide exactly, by
case or by Unicode normalisation.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archiver import identifiers, layout, staging
from archiver.bagit import paths
from archiver.bagit.files import BagFile
from archiver.errors import SourceError
from archiver.xml.characters import xml_problem


@dataclass(frozen=True)
class PayloadFile:
    source: Path | BagFile  # the user's file (absolute path), or a file of a bag to ingest
    path: str  # bag path, "data/..."
    original_name: str  # the name as given: file name, or path relative to its source folder
    size: int


def plan_payload(
    sources: Sequence[Path],
    out_dir: Path | None = None,
    bag_id: str | None = None,
    *,
    resolver: Resolver | None = None,
) -> list[PayloadFile]:
    """The payload for ``sources`` (files and folders), in manifest order. With ``out_dir``
    (and ``bag_id``, when it is known), a file whose path there would be too long for the
    file system is refused too. ``resolver``: one shared by the calls of a check of many
    sources in a few folders (see Resolver)."""
    room = _room(out_dir, bag_id) if out_dir is not None else None
    resolver = resolver or Resolver()
    files: list[PayloadFile] = []
    for source in sources:
        files.extend(_plan_one(source, out_dir, room, resolver))
    _refuse_collisions(files)
    return sorted(files, key=lambda f: paths.sort_key(f.path))


class Resolver:
    """Real paths (as os.path.realpath gives them), each folder resolved once: resolving a
    path costs a system call per component of it, and a sheet of 1,000 rows names files
    in a few folders. A folder moved, or replaced by a link, after it was resolved is not
    seen: share one only across a single check, never between a check and the bagging."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def real(self, path: Path) -> Path:
        name = path.name
        if name in ("", "..") or not path.parent.name:
            return Path(os.path.realpath(path))  # the root, "x/..", "/name" or "name"
        key = os.fspath(path.parent)
        folder = self._folders.get(key)
        if folder is None:
            folder = self._folders[key] = os.path.realpath(key)
        joined = os.path.join(folder, name)
        if os.path.islink(joined):
            return Path(os.path.realpath(joined))
        return Path(joined)


@dataclass(frozen=True)
class _Room:
    """How long a bag path may be in UTF-8 bytes under ``out_dir``: a path given to the
    system must stay under PATH_MAX, staged (DIR/.archiver-partial-XXXX/data/...) and
    committed (DIR/ID/data/...)."""

    out_dir: Path
    path_max: int
    bytes: int


def _room(out_dir: Path, bag_id: str | None) -> _Room:
    folder = max(staging.NAME_LENGTH, len(bag_id) if bag_id else identifiers.DERIVED_MAX_LENGTH)
    existing = next((p for p in [out_dir, *out_dir.parents] if p.is_dir()), Path("."))
    try:
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        path_max = 4096
    # PATH_MAX counts the final NUL byte; two separators join DIR, the folder and the path.
    return _Room(out_dir, path_max, path_max - 1 - len(os.fsencode(out_dir)) - 2 - folder)


def _plan_one(
    source: Path, out_dir: Path | None, room: _Room | None, resolver: Resolver
) -> list[PayloadFile]:
    try:
        info = source.stat()  # a source named on the command line may be a link: follow it
    except FileNotFoundError as exc:
        raise SourceError(f"{source}: no such file or folder") from exc
    except OSError as exc:
        raise SourceError(f"{source}: cannot read: {exc.strerror}") from exc
    absolute = resolver.real(source)
    if stat.S_ISREG(info.st_mode):
        _check_readable(absolute, source)
        name = _utf8_name(source.name, source)
        return [_payload_file(absolute, name, info.st_size, source, room)]
    if not stat.S_ISDIR(info.st_mode):
        raise SourceError(f"{source}: not a regular file or folder")
    if out_dir is not None:
        out = out_dir.resolve()
        if out == absolute or absolute in out.parents:
            raise SourceError(f"{source}: the output folder {out_dir} is inside this source")
    found: list[PayloadFile] = []
    _walk(absolute, absolute, source, found, room)
    if not found:
        raise SourceError(f"{source}: empty folder, nothing to bag")
    return found


def _walk(
    folder: Path, top: Path, shown: Path, found: list[PayloadFile], room: _Room | None
) -> None:
    """Every file under ``folder``, in name order as a recursive walk would go, without
    recursion: a source may nest folders deeper than Python's recursion limit."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(
                f"{shown / current.relative_to(top)}: cannot list: {exc.strerror}"
            ) from exc
        below: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(top)
            display = shown / relative
            if entry.is_symlink():
                raise SourceError(
                    f"{display}: symbolic link inside a source folder; archiver does not "
                    "follow links (name its target as a source instead)"
                )
            if entry.is_dir(follow_symlinks=False):
                below.append(path)
            elif entry.is_file(follow_symlinks=False):
                # Readability is found out when the file is copied (a clear SourceError, and
                # the staging folder is removed): one system call less per file.
                name = "/".join(_utf8_name(part, display) for part in relative.parts)
                size = entry.stat(follow_symlinks=False).st_size
                found.append(_payload_file(path, name, size, display, room))
            else:
                raise SourceError(f"{display}: not a regular file (device, socket or pipe)")
        stack.extend(reversed(below))


def _payload_file(
    source: Path, name: str, size: int, shown: Path, room: _Room | None
) -> PayloadFile:
    path = f"data/{name}"
    problem = _path_problem(path)
    if problem:
        raise SourceError(f"{shown}: {problem}")
    length = len(path.encode())
    if room is not None and length > room.bytes:
        raise SourceError(
            f"{shown}: its bag path is {length} bytes long; under {room.out_dir} it would pass "
            f"the {room.path_max} bytes a path may have here (bag it into a folder with a "
            "shorter path)"
        )
    return PayloadFile(source, path, name, size)


def check_plan(plan: Sequence[PayloadFile]) -> None:
    """Refuse a plan made elsewhere (a foreign bag's payload) that would make a bad bag."""
    for item in plan:
        problem = _path_problem(item.path)
        if problem:
            raise SourceError(f"{item.path}: {problem}")


def _path_problem(path: str) -> str | None:
    """Why a payload file cannot have this bag path, or None."""
    problem = paths.write_problem(path)
    if problem:
        return f"its name {problem}"
    depth = path.count("/") - 1
    if depth > layout.MAX_FOLDER_DEPTH:
        return (
            f"{depth} folders deep; a bag's files may be {layout.MAX_FOLDER_DEPTH} deep at most "
            "(METS nests an element per folder, and XML parsers stop at 256 levels)"
        )
    return None


def _check_readable(path: Path, shown: Path) -> None:
    if not os.access(path, os.R_OK):
        raise SourceError(f"{shown}: permission denied")


def _utf8_name(name: str, shown: Path) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SourceError(f"{shown}: file name is not valid UTF-8") from exc
    problem = xml_problem(name)
    if problem:  # METS and PREMIS must name the file, and XML 1.0 cannot hold this character
        raise SourceError(f"{shown!s}: file name has a control character ({problem})")
    return name


def _refuse_collisions(files: list[PayloadFile]) -> None:
    by_path: dict[str, PayloadFile] = {}
    by_key: dict[str, PayloadFile] = {}
    for item in files:
        if item.path in by_path:
            raise SourceError(
                f"{item.source} and {by_path[item.path].source} would both be {item.path}"
            )
        key = paths.collision_key(item.path)
        if key in by_key:
            other = by_key[key]
            raise SourceError(
                f"{item.path} and {other.path} differ only in case or Unicode normalisation "
                "(RFC 8493 §6.1.1.3); rename one of them"
            )
        by_path[item.path] = item
        by_key[key] = item
    folders = {
        paths.collision_key(p.rsplit("/", n)[0]) for p in by_path for n in range(1, p.count("/"))
    }
    for item in files:
        if paths.collision_key(item.path) in folders:
            raise SourceError(f"{item.path} is both a file and a folder in the payload")
