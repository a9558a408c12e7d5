"""Bags kept as one file -- ``.tar``, ``.tar.gz``/``.tgz`` and ``.zip`` -- read in place.

An archive is a ``BagFiles`` like a folder: the reader, the validator and the checksums
see bag paths (``data/a.txt``), never the archive's member names, and nothing is ever
extracted to disk. The bag is the archive's single top-level folder (RFC 8493 §4.1
practice).

Opening an archive indexes it once: a zip by its central directory, a tar by one pass
over its headers (a ``.tar`` seeks over the data; a ``.tar.gz`` must decompress it all,
and keeps the small tag files it meets, so the reader never decompresses again for them).
``digests_in_order`` then reads every wanted member once, in stored order, for all its
algorithms: the one pass a compressed stream allows.

What a hostile archive holds becomes a finding (``problems``), never an exception or a
write: names that climb out (``..``, absolute, drive letters) or are not UTF-8, duplicate
names, links, devices, sparse members, encrypted or oversized zip entries, a damaged or
truncated archive. The member is then left out of the bag, or listed as what it is (a
link, a special file, unreadable), as a folder's would be.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from archiver.bagit import algorithms, hashing, manifest, paths
from archiver.bagit import names as _names
from archiver.bagit.files import BagFiles, Entry, Kind
from archiver.bagit.names import BAG_INFO_TXT, BAGIT_TXT, MAX_TAG_FILE, PAYLOAD_DIR
from archiver.findings import Finding, finding

# The archive kinds, by file name (names.ARCHIVE_SUFFIXES).
archive_kind = _names.archive_kind
bag_id = _names.archived_bag_id
# The media types a profile's Accept-Serialization may name each kind of archive by.
MEDIA_TYPES = {
    "tar": ("application/x-tar", "application/tar"),
    "tgz": ("application/gzip", "application/x-gzip", "application/tar+gzip", "application/x-gtar"),
    "zip": ("application/zip", "application/x-zip-compressed"),
}
# A zip entry that would grow more than this many times over is a bomb, once it is big.
MAX_RATIO = 1000
_RATIO_FROM = 1 << 20
# Tag files a .tar.gz index keeps in memory, at most, all together.
_KEPT_AT_MOST = 64 << 20
_CHUNK = hashing.CHUNK


def open_archive(path: str | os.PathLike[str]) -> ArchiveFiles:
    """The bag in the archive at ``path``, indexed. OSError when the file cannot be opened."""
    kind = archive_kind(path)
    if kind == "zip":
        return ZipFiles(path)
    if kind in ("tar", "tgz"):
        return TarFiles(path, compressed=kind == "tgz")
    raise ValueError(f"{os.fspath(path)} is not named as a .tar, .tar.gz, .tgz or .zip")


def unopened(path: str | os.PathLike[str], exc: OSError) -> ArchiveFiles:
    """An archive that could not be opened at all, as an empty bag whose one problem says
    why (bag.archive.damaged): for a caller that judges it rather than stopping."""
    files = ArchiveFiles(path)
    files.problems.append(
        finding("bag.archive.damaged", "", f"cannot be opened: {exc.strerror or exc}")
    )
    return files


class _Member:
    """One archive member as the bag sees it (no Entry kept: an index of 100,000 members
    holds one small object each)."""

    __slots__ = ("key", "kind", "path", "size")

    def __init__(self, path: str, kind: Kind, size: int, key: object) -> None:
        self.path, self.kind, self.size = path, kind, size
        self.key = key  # how the archive finds it again (a tar offset, a ZipInfo)

    @property
    def entry(self) -> Entry:
        return Entry(self.path, self.kind, self.size)


class ArchiveFiles:
    """The common part: the index from bag paths to members, findings, walking."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.problems: list[Finding] = []
        self._members: dict[str, _Member] = {}  # bag path -> member, in stored order
        self._folders: set[str] = set()
        self._names: dict[str, str] = {}  # bag path -> member name, where not TOP/PATH
        self.top: str | None = None  # the bag's folder in the archive, once indexed
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @property
    def media_types(self) -> tuple[str, ...]:
        """What the archive is, as a profile's Accept-Serialization names it."""
        return MEDIA_TYPES[archive_kind(self.path) or "tar"]

    @property
    def location(self) -> str:
        return str(self.path)

    # -- indexing ------------------------------------------------------------------------

    def _add(self, problem: Finding) -> None:
        self.problems.append(problem)

    def _place(self, names: Sequence[tuple[str, Entry, object]]) -> None:
        """Index the members (archive name, entry with the archive name as path, key): find
        the bag's top folder, refuse unsafe and duplicate names, keep the rest by bag path."""
        safe: list[tuple[str, str, Entry, object]] = []  # (stripped, as stored, entry, key)
        for name, entry, key in names:
            reason = _unsafe(name)
            if reason is not None:
                self._add(
                    finding(
                        "bag.archive.unsafe-member",
                        _shown(name),
                        f"a member name that could not stay inside the bag ({reason}); not read",
                    )
                )
                continue
            safe.append((name.strip("/"), name, entry, key))
        tops = {name.split("/", 1)[0] for name, _, _, _ in safe if name}
        folders = {
            name.split("/", 1)[0]
            for name, _, entry, _ in safe
            if "/" in name or entry.kind is Kind.DIRECTORY
        }
        top = next(iter(folders)) if len(folders) == 1 else None
        if top is None or len(tops) > 1:
            self._add(
                finding(
                    "bag.archive.top-level",
                    "",
                    f"the archive holds {len(tops)} top-level entries"
                    + ("" if not tops else f" ({', '.join(sorted(tops)[:5])})")
                    + ", not the one folder a serialized bag is",
                    entries=len(tops),
                )
            )
        self.top = top
        for name, raw, entry, key in safe:
            if top is None:
                rel = name
            elif name == top:
                continue
            elif name.startswith(f"{top}/"):
                rel = name[len(top) + 1 :]
            else:
                continue  # beside the bag's folder: told as a top-level entry above
            if not rel:
                continue
            if entry.kind is Kind.DIRECTORY:
                self._folders.add(rel)
                continue
            if rel in self._members or rel in self._folders:
                self._add(
                    finding(
                        "bag.archive.duplicate-member",
                        rel,
                        "the archive holds this name more than once; only the first is read",
                    )
                )
                continue
            self._members[rel] = _Member(rel, entry.kind, entry.size, key)
            if raw != (rel if top is None else f"{top}/{rel}"):
                self._names[rel] = raw  # the archive's own spelling, where it differs
        for rel in list(self._members):  # folders a member implies, listed or not
            parts = rel.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                self._folders.add("/".join(parts[:depth]))
        for rel in self._folders & self._members.keys():
            self._add(
                finding(
                    "bag.archive.duplicate-member",
                    rel,
                    "the archive holds this name both as a file and as a folder",
                )
            )
            del self._members[rel]

    def _name_of(self, rel: str) -> str:
        """The member name the archive stores ``rel`` under."""
        return self._names.get(rel) or (rel if self.top is None else f"{self.top}/{rel}")

    # -- BagFiles ------------------------------------------------------------------------

    def walk(self, *, payload: bool = True) -> Iterator[Entry]:
        """Every entry, in the order a folder's walk gives (names sorted, depth first)."""
        children: dict[str, list[Entry]] = {}
        for rel in self._folders:
            parent, _, _ = rel.rpartition("/")
            children.setdefault(parent, []).append(Entry(rel, Kind.DIRECTORY))
        for rel, member in self._members.items():
            parent, _, _ = rel.rpartition("/")
            children.setdefault(parent, []).append(member.entry)
        stack: list[str] = [""]
        while stack:
            folder = stack.pop()
            below: list[str] = []
            for entry in sorted(children.get(folder, ()), key=lambda e: e.path):
                yield entry
                if entry.kind is Kind.DIRECTORY and (payload or entry.path != PAYLOAD_DIR):
                    below.append(entry.path)
            stack.extend(reversed(below))

    def stat(self, path: str) -> Entry | None:
        if path in self._folders:
            return Entry(path, Kind.DIRECTORY)
        member = self._members.get(path)
        return None if member is None else member.entry

    def open(self, path: str) -> BinaryIO:
        member = self._members.get(path)
        if member is None:
            raise FileNotFoundError(f"{path}: not in {self.path.name}")
        if member.kind is not Kind.FILE:
            raise IsADirectoryError(f"{path} is not a regular file")
        try:
            return cast("BinaryIO", io.BufferedReader(_Guarded(self._open(member)), _CHUNK))
        except _DAMAGE as exc:
            raise OSError(errno.EIO, _reason(exc)) from exc

    def _open(self, member: _Member) -> BinaryIO:
        raise NotImplementedError

    @property
    def sliceable(self) -> bool:
        """Whether members' bytes lie in the archive file as they are (an uncompressed
        .tar): then workers can digest them with nothing but the path and ``slice_of``."""
        return False

    def slice_of(self, rel: str) -> tuple[int, int] | None:  # noqa: ARG002 - none here
        """(offset, size) of the regular member ``rel`` in the archive file, when sliceable."""
        return None

    def detached(self, paths: Sequence[str]) -> BagFiles | None:  # noqa: ARG002 - none
        """The files at ``paths`` as a BagFiles a worker process can be sent instead of this
        archive (which it would index again), or None when this archive cannot be read but
        from its start (compressed): then the work stays here."""
        return None

    def members(self) -> Iterator[tuple[Entry, BinaryIO | None]]:
        for rel, member in self._members.items():
            if member.kind is not Kind.FILE:
                yield member.entry, None
                continue
            try:
                handle = self.open(rel)
            except OSError:
                yield Entry(rel, Kind.UNREADABLE), None
                continue
            with contextlib.closing(handle):
                yield member.entry, handle

    def digests_in_order(
        self, jobs: Sequence[tuple[str, Sequence[str]]]
    ) -> Iterator[tuple[int, dict[str, str] | str]]:
        """(index in ``jobs``, digests or why the member could not be read) for every job
        (bag path, algorithms), each member read once, in the order the archive stores them."""
        wanted = {}
        for index, (rel, names) in enumerate(jobs):
            known = self._known_digests(rel)
            if known is not None and set(names) <= known.keys():
                yield index, {name: known[name] for name in names}
            else:
                wanted[rel] = index
        if not wanted:
            return
        with ThreadPoolExecutor(1, thread_name_prefix="archiver-split") as helper:
            for rel, handle in self._stored_order(wanted):
                index = wanted.pop(rel)
                if isinstance(handle, str):
                    yield index, handle
                    continue
                size = self._members[rel].size
                try:
                    with contextlib.closing(handle):
                        found = hashing.digest_readable(handle, jobs[index][1], size, helper)
                except (OSError, *_DAMAGE) as exc:
                    yield index, _reason(exc)
                else:
                    yield index, found.digests
        for index in wanted.values():  # never met: the archive ended before them
            yield index, "the archive ends before this member"

    def streams_in_order(self, paths: Sequence[str]) -> Iterator[tuple[str, BinaryIO | str]]:
        """(bag path, its member's stream or why it cannot be read) for each of ``paths``,
        in the order the archive stores them: a compressed archive is read once. Each
        stream must be read before the next is asked for."""
        wanted = dict.fromkeys(paths, 0)
        for rel, handle in self._stored_order(dict(wanted)):
            wanted.pop(rel, None)
            if isinstance(handle, str):
                yield rel, handle
            else:
                yield rel, cast("BinaryIO", io.BufferedReader(_Guarded(handle), _CHUNK))
        for rel in wanted:  # never met: the archive ended before them
            yield rel, "the archive ends before this member"

    def _known_digests(self, rel: str) -> dict[str, str] | None:  # noqa: ARG002 - none here
        """Digests of ``rel`` taken while indexing, if any."""
        return None

    def _stored_order(self, wanted: dict[str, int]) -> Iterator[tuple[str, BinaryIO | str]]:
        """(bag path, open stream or why not) for the wanted members, in stored order."""
        for rel, member in list(self._members.items()):
            if rel not in wanted:
                continue
            try:
                yield rel, self._open(member)
            except (OSError, *_DAMAGE) as exc:
                yield rel, _reason(exc)


class ZipFiles(ArchiveFiles):
    """A bag in a ``.zip``, read through the central directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._zip: zipfile.ZipFile | None = None
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            self._add(finding("bag.archive.damaged", "", f"not a readable zip: {exc}"))
            infos = []
        names: list[tuple[str, Entry, object]] = []
        for info in infos:
            name = info.filename
            kind = _zip_kind(info)
            if info.flag_bits & 0x1:
                self._add(
                    finding(
                        "bag.archive.encrypted",
                        _shown(name),
                        "an encrypted entry; it cannot be read",
                    )
                )
                kind = Kind.UNREADABLE
            elif kind is Kind.FILE and _bomb(info):
                self._add(
                    finding(
                        "bag.archive.bomb",
                        _shown(name),
                        f"would grow from {info.compress_size} to {info.file_size} bytes "
                        f"(more than {MAX_RATIO} times); not read",
                        size=info.file_size,
                    )
                )
                kind = Kind.UNREADABLE
            names.append((name, Entry(name, kind, info.file_size), info))
        self._place(names)

    def __reduce__(self) -> tuple[type[ZipFiles], tuple[str]]:
        return (ZipFiles, (str(self.path),))  # a worker opens and indexes it again

    def _open(self, member: _Member) -> BinaryIO:
        assert self._zip is not None
        info = cast("zipfile.ZipInfo", member.key)
        with self._lock:  # ZipFile's shared file handle: one open at a time
            try:
                return cast("BinaryIO", self._zip.open(info))
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
                raise OSError(_reason(exc)) from exc


def _zip_kind(info: zipfile.ZipInfo) -> Kind:
    if info.is_dir():
        return Kind.DIRECTORY
    kind = stat.S_IFMT(info.external_attr >> 16)
    if info.create_system == 3 and kind:  # made on Unix, with a file type: links, devices
        if kind == stat.S_IFLNK:
            return Kind.SYMLINK
        if kind not in (stat.S_IFREG, stat.S_IFDIR):
            return Kind.SPECIAL
    return Kind.FILE


def _bomb(info: zipfile.ZipInfo) -> bool:
    return info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1)


class TarFiles(ArchiveFiles):
    """A bag in a ``.tar`` or ``.tar.gz``."""

    def __init__(self, path: str | os.PathLike[str], *, compressed: bool) -> None:
        super().__init__(path)
        self.compressed = compressed
        # A file that cannot be opened at all (no such file, no permission) is an OSError,
        # as for a zip; what goes wrong once it is open is damage, a finding.
        opened = open(self.path, "rb")  # noqa: SIM115 - closed by _stream
        self._kept: dict[str, bytes] = {}  # .tar.gz: tag files met while indexing
        # .tar.gz: payload digests taken while indexing, by the payload manifests met before
        # (archiver's archives put them first): then the index was the only pass.
        # (algorithms, their raw digests one after the other): a dict of hex strings per
        # member cost ~500 bytes, 50 MB for 100,000 members.
        self._digested: dict[str, tuple[tuple[str, ...], bytes]] = {}
        names: list[tuple[str, Entry, object]] = []
        kept = 0
        listed: set[str] = set()  # algorithms of the payload manifests met so far
        orders: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple of names, shared
        try:
            with (
                self._stream(opened) as archive,
                ThreadPoolExecutor(1, thread_name_prefix="archiver-split") as helper,
            ):
                for info in archive:
                    _forget_read(archive)
                    name = info.name
                    kind = _tar_kind(info)
                    if info.issparse():
                        self._add(
                            finding(
                                "bag.archive.unsupported-member",
                                _shown(name),
                                "a GNU sparse member; not read",
                            )
                        )
                        kind = Kind.SPECIAL
                    size = info.size if kind is Kind.FILE else 0
                    names.append((name, Entry(name, kind, size), info.offset_data))
                    if not compressed or kind is not Kind.FILE:
                        continue
                    if _in_payload(name):
                        data = archive.extractfile(info) if listed else None
                        if data is not None:
                            found = hashing.digest_readable(
                                cast("BinaryIO", data), sorted(listed), size, helper
                            )
                            order = tuple(sorted(found.digests))
                            raw = b"".join(bytes.fromhex(found.digests[a]) for a in order)
                            self._digested[name] = (orders.setdefault(order, order), raw)
                        continue
                    listed |= _payload_manifest_algorithm(name)
                    if kept + size <= _KEPT_AT_MOST and size <= MAX_TAG_FILE:
                        data = archive.extractfile(info)
                        if data is not None:
                            self._kept[name] = data.read()
                            kept += info.size
        except (OSError, *_DAMAGE) as exc:
            self._add(finding("bag.archive.damaged", "", f"the archive is damaged: {_reason(exc)}"))
        self._place(names)
        by_rel = {rel: self._name_of(rel) for rel in self._members}
        self._kept = {rel: self._kept[n] for rel, n in by_rel.items() if n in self._kept}
        self._digested = {
            rel: self._digested[n] for rel, n in by_rel.items() if n in self._digested
        }

    def __reduce__(self) -> tuple[Callable[[str, bool], TarFiles], tuple[str, bool]]:
        return (_tar_files, (str(self.path), self.compressed))  # a worker indexes it again

    @contextlib.contextmanager
    def _stream(self, opened: IO[bytes] | None = None) -> Iterator[tarfile.TarFile]:
        """The archive read front to back (``r|`` for a .tar.gz: no seeking back), from the
        file ``opened`` already when given (closed here)."""
        with opened or open(self.path, "rb") as raw:
            if self.compressed:  # two calls: the type checker knows each mode's result
                archive = tarfile.open(  # noqa: SIM115 - closed by the with below
                    fileobj=raw, mode="r|gz", encoding="utf-8", errors="surrogateescape"
                )
            else:
                archive = tarfile.open(  # noqa: SIM115 - closed by the with below
                    fileobj=raw, mode="r:", encoding="utf-8", errors="surrogateescape"
                )
            with archive:
                yield archive

    def _known_digests(self, rel: str) -> dict[str, str] | None:
        known = self._digested.get(rel)
        if known is None:
            return None
        order, raw = known
        found, at = {}, 0
        for name in order:
            size = algorithms.digest_length(name) // 2
            found[name] = raw[at : at + size].hex()
            at += size
        return found

    def detached(self, paths: Sequence[str]) -> BagFiles | None:
        if self.compressed:
            return None
        where = {rel: at for rel in paths if (at := self.slice_of(rel)) is not None}
        return _SlicedFiles(self.location, where)

    @property
    def sliceable(self) -> bool:
        return not self.compressed

    def slice_of(self, rel: str) -> tuple[int, int] | None:
        member = self._members.get(rel)
        if self.compressed or member is None or member.kind is not Kind.FILE:
            return None
        return cast("int", member.key), member.size

    def _open(self, member: _Member) -> BinaryIO:
        kept = self._kept.get(member.path)
        if kept is not None:
            return io.BytesIO(kept)
        if self.compressed:
            scanned = _Scanned(self, self._name_of(member.path))
            return cast("BinaryIO", io.BufferedReader(scanned, _CHUNK))
        return _open_slice(self.path, cast("int", member.key), member.size)

    def _stored_order(self, wanted: dict[str, int]) -> Iterator[tuple[str, BinaryIO | str]]:
        """A .tar's members are read where the index found them (_open: no header parsed
        twice); a .tar.gz is decompressed again, in one pass, its tag files kept while
        indexing served first, from memory."""
        if not self.compressed:
            yield from super()._stored_order(wanted)
            return
        by_name = {self._name_of(rel): rel for rel in wanted}
        for rel in [r for r in wanted if r in self._kept]:
            yield rel, io.BytesIO(self._kept[rel])
        if all(rel in self._kept for rel in wanted):
            return  # no second pass over the stream
        try:
            with self._stream() as archive:
                for found in archive:
                    _forget_read(archive)
                    rel_or_none = by_name.get(found.name)
                    if rel_or_none is None or rel_or_none not in wanted:
                        continue
                    if rel_or_none in self._kept:
                        continue
                    data = archive.extractfile(found)
                    if data is None:
                        yield rel_or_none, "not a regular file"
                    else:
                        yield rel_or_none, cast("BinaryIO", data)
        except (OSError, *_DAMAGE) as exc:
            reason = _reason(exc)
            for rel in list(wanted):
                if rel not in self._kept:
                    yield rel, reason


def digest_slice(
    path: str, job: tuple[str, tuple[str, ...], int, int], helper: Executor | None
) -> dict[str, str] | str:
    """Digests of one member of the .tar at ``path`` (job: bag path, algorithms, offset,
    size), or why it could not be read: a task for hashing.run_each's workers."""
    _, names, offset, size = job
    try:
        with _open_slice(path, offset, size) as handle:
            return hashing.digest_readable(handle, names, size, helper).digests
    except (OSError, *_DAMAGE) as exc:
        return _reason(exc)


def _payload_manifest_algorithm(name: str) -> set[str]:
    """{algorithm} when member ``name`` is a bag's payload manifest (TOP/manifest-ALG.txt)
    of an algorithm archiver computes, else an empty set."""
    parts = name.strip("/").split("/")
    named = manifest.NAME.match(parts[-1]) if len(parts) == 2 else None
    if named is None or named.group(1) is not None:
        return set()
    algorithm = named.group(2)
    return {algorithm} if algorithms.is_supported(algorithm) else set()


class _SlicedFiles:
    """A few members of a .tar, reached by offset (what ``TarFiles.detached`` sends a worker:
    the tar's path and where they lie, not the archive's index)."""

    def __init__(self, location: str, where: dict[str, tuple[int, int]]) -> None:
        self._location = location
        self._where = where

    @property
    def location(self) -> str:
        return self._location

    def walk(self, *, payload: bool = True) -> Iterator[Entry]:
        for rel in sorted(self._where):
            if payload or not rel.startswith(f"{PAYLOAD_DIR}/"):
                yield Entry(rel, Kind.FILE, self._where[rel][1])

    def stat(self, path: str) -> Entry | None:
        where = self._where.get(path)
        return None if where is None else Entry(path, Kind.FILE, where[1])

    def open(self, path: str) -> BinaryIO:
        if path not in self._where:
            raise FileNotFoundError(f"{path}: not sent")
        return _open_slice(self._location, *self._where[path])

    def members(self) -> Iterator[tuple[Entry, BinaryIO | None]]:
        for entry in self.walk():
            with self.open(entry.path) as handle:
                yield entry, handle


def _forget_read(archive: tarfile.TarFile) -> None:
    """Drop the TarInfo objects tarfile keeps of what it read (for getmembers): 100,000 of
    them cost ~70 MB, and only names and offsets are kept here."""
    members: list[tarfile.TarInfo] = archive.members  # type: ignore[attr-defined]
    members.clear()


def _tar_files(path: str, compressed: bool) -> TarFiles:
    return TarFiles(path, compressed=compressed)


def _tar_kind(info: tarfile.TarInfo) -> Kind:
    if info.isdir():
        return Kind.DIRECTORY
    if info.issym():
        return Kind.SYMLINK
    if info.isreg():
        return Kind.FILE
    return Kind.SPECIAL  # hard links, devices, FIFOs


# What reading a damaged archive raises, besides OSError.
_DAMAGE = (EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, RuntimeError)


class _Guarded(io.RawIOBase):
    """A member's stream whose damage (a cut-short tar, a zip entry failing its CRC, a bad
    deflate stream) is an OSError, as a file's unreadable bytes are: what every reader of
    bag files handles."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            return int(self._inner.readinto(buffer))  # type: ignore[attr-defined]
        except _DAMAGE as exc:
            raise OSError(errno.EIO, _reason(exc)) from exc

    # Seekable where the member's stream is (a .tar's slice, a zip entry, a tag file kept
    # in memory): a reader may read a document twice (the OAI provider checks, then copies).
    def seekable(self) -> bool:
        return bool(self._inner.seekable())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return int(self._inner.seek(offset, whence))
        except _DAMAGE as exc:
            raise OSError(errno.EIO, _reason(exc)) from exc

    def tell(self) -> int:
        return int(self._inner.tell())

    def close(self) -> None:
        self._inner.close()
        super().close()


class _Slice(io.RawIOBase):
    """``size`` bytes at ``offset`` of an open file (pread), the descriptor closed with it."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd, self._start, self._at, self._end = fd, offset, offset, offset + size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: self._start, io.SEEK_CUR: self._at, io.SEEK_END: self._end}
        self._at = max(self._start, base[whence] + offset)
        return self._at - self._start

    def tell(self) -> int:
        return self._at - self._start

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._at >= self._end:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._end - self._at)]
        count = os.preadv(self._fd, [view], self._at)
        if not count:
            raise EOFError("unexpected end of the archive")
        self._at += count
        return count

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _open_slice(path: str | os.PathLike[str], offset: int, size: int) -> BinaryIO:
    """``size`` bytes at ``offset`` of the file at ``path``, as a buffered stream."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    return cast("BinaryIO", io.BufferedReader(_Slice(fd, offset, size), _CHUNK))


class _Scanned(io.RawIOBase):
    """One member of a .tar.gz not kept in memory: found by reading the stream again."""

    def __init__(self, files: TarFiles, name: str) -> None:
        self._stack = contextlib.ExitStack()
        archive = self._stack.enter_context(files._stream())
        data = None
        for info in archive:
            _forget_read(archive)
            if info.name == name:
                data = archive.extractfile(info)
                break
        if data is None:
            self._stack.close()
            raise FileNotFoundError(f"{name}: not found again in {files.path.name}")
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self._stack.close()
        super().close()


def _in_payload(name: str) -> bool:
    """Whether an archive member's name puts it in its bag's payload (TOP/data/...)."""
    parts = name.strip("/").split("/")
    return len(parts) > 2 and parts[1] == PAYLOAD_DIR


def _unsafe(name: str) -> str | None:
    """Why a member's name may not be taken as a path inside the bag, or None: the reader's
    rule for a path that could leave the bag (paths.unsafe_reason), and, for a name that
    becomes a path here, bytes that are not UTF-8 and any backslash."""
    if not paths.is_utf8(name):
        return "not UTF-8"
    reason = paths.unsafe_reason(name)
    if reason is not None:
        return reason
    if "\\" in name:
        return "holds a backslash"
    return None


def _shown(name: str) -> str:
    """A member name fit for a report (never a lone surrogate)."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# -- writing -------------------------------------------------------------------------------

# What `bag --serialize` writes, and the file name's extension for each.
EXTENSIONS = {"tar": ".tar", "tgz": ".tar.gz", "zip": ".zip"}
_GZIP_LEVEL = 6  # 9 costs twice the time for a few per cent
_ZIP_EPOCH = 315532800  # 1980-01-01: the earliest time a zip entry can hold
_ZIP_END = 4354819198  # 2107-12-31 23:59:58: the last


@dataclass(frozen=True)
class Style:
    """How an archive's members are written, beyond what every archive here shares."""

    mtime: int | None = None  # one time for every member, else each file's own
    folders: bool = True  # folder entries (Archivematica's zips hold files only)
    compressed: bool = True  # a zip's entries deflated, else stored


def write_archive(root: Path, top: str, target: Path, kind: str, style: Style = Style()) -> None:
    """The bag folder ``root`` as an archive at ``target`` (a new file), its one top-level
    folder named ``top``. Reproducible: members in a fixed order -- bagit.txt, bag-info.txt,
    the manifests, the tag manifests, the other tag files, then data/ (so a reader meets
    every tag file before the payload, and can judge in one pass) -- each with its file's
    modification time (or ``style.mtime``), owner 0, modes 644 and 755, nothing of this
    machine recorded. The file is flushed to disk before this returns. Every archive
    archiver writes is written here: ``bag --serialize`` and the exports alike."""
    entries = [e for e in _archive_order(root) if style.folders or not stat.S_ISDIR(e[1].st_mode)]
    with open(target, "xb") as raw:
        if kind == "zip":
            _write_zip(root, top, entries, raw, style)
        else:
            _write_tar(root, top, entries, raw, style, compressed=kind == "tgz")
        raw.flush()
        os.fsync(raw.fileno())


def _archive_order(root: Path) -> list[tuple[str, os.stat_result]]:
    """(bag path, lstat) of every folder and file, in the order an archive stores them."""
    found: list[tuple[str, os.stat_result]] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        folder = root / prefix if prefix else root
        below = []
        for name in sorted(os.listdir(folder)):
            rel = f"{prefix}{name}"
            info = os.lstat(root / rel)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                raise OSError(
                    f"{rel} is not a file or a folder; a bag written here never holds one"
                )
            found.append((rel, info))
            if stat.S_ISDIR(info.st_mode):
                below.append(f"{rel}/")
        stack.extend(reversed(below))

    def rank(item: tuple[str, os.stat_result]) -> tuple[int, str]:
        rel = item[0]
        if rel == BAGIT_TXT:
            return (0, rel)
        if rel == BAG_INFO_TXT:
            return (1, rel)
        named = manifest.NAME.match(rel)
        if named is not None:  # payload manifests, then tag manifests
            return (2 if named.group(1) is None else 3, rel)
        if rel == PAYLOAD_DIR or rel.startswith(f"{PAYLOAD_DIR}/"):
            return (5, "")
        return (4, "")

    # A stable sort: within the last two ranks, the walk's order (names, depth first).
    return sorted(found, key=rank)


def _write_tar(
    root: Path,
    top: str,
    entries: list[tuple[str, os.stat_result]],
    raw: IO[bytes],
    style: Style,
    *,
    compressed: bool,
) -> None:
    import gzip

    stream = (
        cast(
            "IO[bytes]",
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0),
        )
        if compressed
        else raw
    )
    try:
        with tarfile.open(
            fileobj=stream, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8"
        ) as archive:
            if style.folders:
                folder = tarfile.TarInfo(top)
                folder.type, folder.mode = tarfile.DIRTYPE, 0o755
                folder.mtime = _time(style, os.lstat(root))
                archive.addfile(_owned_by_nobody(folder))
            for rel, info in entries:
                member = tarfile.TarInfo(f"{top}/{rel}")
                member.mtime = _time(style, info)
                if stat.S_ISDIR(info.st_mode):
                    member.type, member.mode = tarfile.DIRTYPE, 0o755
                    archive.addfile(_owned_by_nobody(member))
                    continue
                member.mode, member.size = 0o644, info.st_size
                with open(root / rel, "rb") as handle:
                    archive.addfile(_owned_by_nobody(member), handle)
    finally:
        if stream is not raw:
            stream.close()


def _time(style: Style, info: os.stat_result) -> int:
    return int(info.st_mtime) if style.mtime is None else style.mtime


def _owned_by_nobody(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _write_zip(
    root: Path, top: str, entries: list[tuple[str, os.stat_result]], raw: IO[bytes], style: Style
) -> None:
    import time

    def stamp(info: os.stat_result) -> tuple[int, int, int, int, int, int]:
        moment = min(max(_time(style, info), _ZIP_EPOCH), _ZIP_END)  # what DOS dates hold
        year, month, day, hour, minute, second = time.gmtime(moment)[:6]
        return (year, month, day, hour, minute, second)

    method = zipfile.ZIP_DEFLATED if style.compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(raw, "w", method, compresslevel=_GZIP_LEVEL) as archive:
        if style.folders:
            folder = zipfile.ZipInfo(f"{top}/", stamp(os.lstat(root)))
            folder.create_system, folder.external_attr = 3, (0o40755 << 16) | 0x10
            archive.writestr(folder, b"")
        for rel, info in entries:
            directory = stat.S_ISDIR(info.st_mode)
            entry = zipfile.ZipInfo(f"{top}/{rel}{'/' if directory else ''}", stamp(info))
            entry.create_system = 3
            if directory:
                entry.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(entry, b"")
                continue
            entry.external_attr = 0o100644 << 16
            entry.compress_type = method
            entry.file_size = info.st_size
            with (
                open(root / rel, "rb") as handle,
                archive.open(entry, "w", force_zip64=info.st_size >= zipfile.ZIP64_LIMIT) as out,
            ):
                while chunk := handle.read(_CHUNK):
                    out.write(chunk)
