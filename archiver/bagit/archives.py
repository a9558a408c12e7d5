"""Bags kept as one file -- ``.tar``, ``.tar.gz``/``.tgz`` and ``.zip`` -- read in place.

An archive is a ``BagFiles`` like a folder: the reader, the validator and the checksums
see bag paths (``data/a.txt``), never the archive's member names, and nothing is ever
extracted to disk. The bag is the archive's single top-level folder (RFC 8493 §4.1
practice).

Opening an archive indexes it once: a zip by its central directory, a tar by one pass
over its headers (a ``.tar`` seeks over the data; a ``.tar.gz`` must decompress it all).
A ``.tar.gz``'s index pass keeps the tag files it meets (64 MiB in all at most; a big one,
a manifest, is handed out once, to the reader, then forgotten) and digests every other
member by the manifests met before it -- archiver's archives put bagit.txt, bag-info.txt,
the manifests and the tag manifests first -- so that, for them, the index is the only pass.
``digests_in_order`` reads every other wanted member once, in stored order, for all its
algorithms, and stops where the last one ends: the one pass a compressed stream allows.
A worker can be sent a few members (``detached``): a .tar's by offset, a .tar.gz's by name,
found again from its start.

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
import re
import stat
import tarfile
import threading
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
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
# Tag files a .tar.gz index keeps in memory, at most, all together; from this size on, a
# kept one is handed out once and then read from the archive again (the manifests).
_KEPT_AT_MOST = 64 << 20
_ONCE_FROM = 1 << 20
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


# A member as the archive stores it: its name, kind, size, and how to find it again.
_Stored = tuple[str, Kind, int, object]


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

    def _place(self, names: Sequence[_Stored]) -> None:
        """Index the members (archive name, kind, size, key): find the bag's top folder,
        refuse unsafe and duplicate names, keep the rest by bag path."""
        safe: list[tuple[str, str, Kind, int, object]] = []  # (stripped, as stored, ...)
        for name, kind, size, key in names:
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
            safe.append((name.strip("/"), name, kind, size, key))
        tops = {name.split("/", 1)[0] for name, *_ in safe if name}
        folders = {
            name.split("/", 1)[0]
            for name, _, kind, _, _ in safe
            if "/" in name or kind is Kind.DIRECTORY
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
        for name, raw, kind, size, key in safe:
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
            if kind is Kind.DIRECTORY:
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
            self._members[rel] = _Member(rel, kind, size, key)
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
        return _guarded(lambda: self._open(member))

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
            for rel, handle in self.streams_in_order(list(wanted)):
                index = wanted[rel]
                if isinstance(handle, str):
                    yield index, handle
                    continue
                size = self._members[rel].size
                try:
                    with handle:
                        found = hashing.digest_readable(handle, jobs[index][1], size, helper)
                except OSError as exc:  # damage too: the stream is guarded
                    yield index, _reason(exc)
                else:
                    yield index, found.digests

    def streams_in_order(self, paths: Sequence[str]) -> Iterator[tuple[str, BinaryIO | str]]:
        """(bag path, its member's stream or why it cannot be read) for each of ``paths``,
        in the order the archive stores them: a compressed archive is read once. Each
        stream must be read before the next is asked for."""
        wanted = dict.fromkeys(paths, 0)
        for rel, handle in self._stored_order(dict(wanted)):
            wanted.pop(rel, None)
            yield rel, handle if isinstance(handle, str) else _buffered(handle)
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
        except (*_DAMAGE, zipfile.LargeZipFile, ValueError) as exc:
            # (a central directory naming a zip version from the future: NotImplementedError)
            self._add(finding("bag.archive.damaged", "", f"not a readable zip: {exc}"))
            infos = []
        names: list[_Stored] = []
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
            names.append((name, kind, info.file_size, info))
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
        opened = open(self.path, "rb")  # noqa: SIM115 - closed by _stream or below
        self._kept: dict[str, bytes] = {}  # .tar.gz: tag files met while indexing
        self._once: set[str] = set()  # kept ones handed out once only (the big ones)
        # .tar.gz: digests taken while indexing, by the manifests met before (archiver's
        # archives put them first): then the index was the only pass. Per stored member
        # (a .tar.gz member's key is its place in the archive), -1 or where its raw digests
        # lie in one buffer and which algorithms they are (offset << 8 | order): a dict of
        # hex strings per member cost ~500 bytes, 50 MB for 100,000 members; this ~100.
        self._digest_at = array("q")
        self._digests = bytearray()
        self._orders: list[tuple[str, ...]] = []
        if not compressed:
            try:
                plain = _ustar_headers(opened.fileno())
            except OSError:
                plain = None  # tarfile reads it again and says what is wrong
            if plain is not None:
                opened.close()
                self._place(plain)
                return
        names: list[_Stored] = []
        kept = 0
        listed: set[str] = set()  # algorithms of the payload manifests met so far
        tag_listed: set[str] = set()  # and of the tag manifests
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
                    # a .tar.gz's member is found by its place (offsets mean nothing there)
                    names.append((name, kind, size, len(names) if compressed else info.offset_data))
                    self._digest_at.append(-1)
                    if not compressed or kind is not Kind.FILE:
                        continue
                    payload = _in_payload(name)
                    if payload or kept + size > _KEPT_AT_MOST or size > MAX_TAG_FILE:
                        # Digested now by the manifests met before it (archiver's archives
                        # put them first): then the index was the only pass.
                        wanted = listed if payload else tag_listed
                        data = archive.extractfile(info) if wanted else None
                        if data is not None:
                            found = hashing.digest_readable(
                                cast("BinaryIO", data), sorted(wanted), size, helper
                            )
                            self._remember(found.digests)
                        continue
                    tag, algorithm = _manifest_algorithm(name)
                    (tag_listed if tag else listed).update(algorithm)
                    data = archive.extractfile(info)
                    if data is not None:
                        kept_data = self._kept[name] = data.read()
                        kept += info.size
                        if size >= _ONCE_FROM:
                            # A big one (a manifest) is handed out once, to the reader,
                            # then forgotten: its digests, taken now by the algorithms a
                            # tag manifest may name, answer the checksums.
                            self._remember(
                                _digests_of(kept_data, {*tag_listed, *algorithms.WRITTEN})
                            )
                            self._once.add(name)
        except (OSError, *_DAMAGE) as exc:
            self._add(finding("bag.archive.damaged", "", f"the archive is damaged: {_reason(exc)}"))
        self._place(names)
        # _kept stays keyed by member name (looked up through _name_of): no second dict
        # made to re-key it. A name the index left out (unsafe, a duplicate) is never
        # looked up.

    def _remember(self, digests: dict[str, str]) -> None:
        """Keep the digests of the member indexed last."""
        order = tuple(sorted(digests))
        if order not in self._orders:
            self._orders.append(order)
        number = self._orders.index(order)
        if number > 0xFF:
            return  # (never in practice: as many algorithm sets as members are not kept)
        self._digest_at[-1] = len(self._digests) << 8 | number
        for name in order:
            self._digests += bytes.fromhex(digests[name])

    def __reduce__(self) -> tuple[Callable[[str, bool], TarFiles], tuple[str, bool]]:
        return (_tar_files, (str(self.path), self.compressed))  # a worker indexes it again

    def _stream(
        self, opened: IO[bytes] | None = None
    ) -> contextlib.AbstractContextManager[tarfile.TarFile]:
        return _tar_stream(self.path, self.compressed, opened)

    def _known_digests(self, rel: str) -> dict[str, str] | None:
        member = self._members.get(rel)
        if not self.compressed or member is None:
            return None
        where = self._digest_at[cast("int", member.key)]
        if where < 0:
            return None
        found, at = {}, where >> 8
        for name in self._orders[where & 0xFF]:
            size = algorithms.digest_length(name) // 2
            found[name] = self._digests[at : at + size].hex()
            at += size
        return found

    def detached(self, paths: Sequence[str]) -> BagFiles | None:
        if self.compressed:  # found again by a pass from the start of the archive
            regular = [(rel, m) for rel in paths if (m := self._members.get(rel)) is not None]
            named = {rel: (self._name_of(rel), m.size) for rel, m in regular if m.kind is Kind.FILE}
            return _SlicedFiles(self.location, named, compressed=True)
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
        name = self._name_of(member.path)
        with self._lock:
            kept = self._kept.pop(name, None) if name in self._once else self._kept.get(name)
        if kept is not None:
            return io.BytesIO(kept)
        if self.compressed:  # (buffered and guarded by open)
            return cast("BinaryIO", _Scanned(self.path, name))
        return _open_slice(self.path, cast("int", member.key), member.size)

    def _stored_order(self, wanted: dict[str, int]) -> Iterator[tuple[str, BinaryIO | str]]:
        """A .tar's members are read where the index found them (_open: no header parsed
        twice); a .tar.gz is decompressed again, in one pass, its tag files kept while
        indexing served first, from memory."""
        if not self.compressed:
            yield from super()._stored_order(wanted)
            return
        by_name = {self._name_of(rel): rel for rel in wanted}
        left = set()
        for name, rel in by_name.items():
            with self._lock:
                kept = self._kept.pop(name, None) if name in self._once else self._kept.get(name)
            if kept is not None:
                yield rel, io.BytesIO(kept)
            else:
                left.add(rel)
        if not left:
            return  # no second pass over the stream
        try:
            with self._stream() as archive:
                for found in archive:
                    _forget_read(archive)
                    rel_or_none = by_name.get(found.name)
                    if rel_or_none is None or rel_or_none not in left:
                        continue
                    left.discard(rel_or_none)
                    data = archive.extractfile(found)
                    if data is None:
                        yield rel_or_none, "not a regular file"
                    else:
                        yield rel_or_none, cast("BinaryIO", data)
                    if not left:
                        return  # the rest of the archive is not read
        except (OSError, *_DAMAGE) as exc:
            reason = _reason(exc)
            for rel in [r for r in wanted if r in left]:  # in the order asked, once each
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


def _digests_of(data: bytes, names: set[str]) -> dict[str, str]:
    hashes = {name: algorithms.new(name) for name in sorted(names)}
    for digest in hashes.values():
        digest.update(data)
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def _manifest_algorithm(name: str) -> tuple[bool, set[str]]:
    """(whether it is a tag manifest, {algorithm}) when member ``name`` is a bag's manifest
    (TOP/manifest-ALG.txt, TOP/tagmanifest-ALG.txt) of an algorithm archiver computes;
    else (False, an empty set)."""
    parts = name.strip("/").split("/")
    named = manifest.NAME.match(parts[-1]) if len(parts) == 2 else None
    if named is None or not algorithms.is_supported(named.group(2)):
        return False, set()
    return named.group(1) is not None, {named.group(2)}


class _SlicedFiles:
    """A few members of a .tar, reached by offset, or of a .tar.gz, by their name in a pass
    from its start (what ``TarFiles.detached`` sends a worker: the archive's path and where
    they lie, not its index)."""

    def __init__(
        self,
        location: str,
        where: Mapping[str, tuple[int | str, int]],
        *,
        compressed: bool = False,
    ) -> None:
        self._location = location
        self._where = where
        self._compressed = compressed

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
        at, size = self._where[path]
        if isinstance(at, str):
            return _guarded(lambda: cast("BinaryIO", _Scanned(self._location, at)))
        return _open_slice(self._location, at, size)

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


# -- a plain .tar's headers, read straight ------------------------------------------------

_HEADER = 512
_FLAG_KINDS = {
    b"0": Kind.FILE,
    b"\0": Kind.FILE,
    b"7": Kind.FILE,  # contiguous: a regular file to tarfile too
    b"5": Kind.DIRECTORY,
    b"2": Kind.SYMLINK,
    b"1": Kind.SPECIAL,  # a hard link
    b"3": Kind.SPECIAL,
    b"4": Kind.SPECIAL,
    b"6": Kind.SPECIAL,
}
_NUMBERS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (329, 337), (337, 345))


def _ustar_headers(fd: int) -> list[_Stored] | None:
    """The members of a .tar whose headers are all plain ustar/GNU ones or pax extended
    headers naming a path or size, read with a pread per header -- tarfile's parser costs
    ~35 microseconds a member, this a few -- or None when anything is out of the ordinary
    (a global pax header, a GNU long-name header, a sparse member, a number not in octal,
    a bad checksum, a member running past the end, no end marker): then tarfile reads the
    archive from its start, and tells what is wrong. What it accepts is what tarfile reads
    from the same headers (tarfile.TarInfo.frombuf, _proc_pax)."""
    size = os.fstat(fd).st_size
    found: list[_Stored] = []
    extended: dict[str, str] | None = None  # what the pax header before this one said
    at = 0
    while True:
        block = os.pread(fd, _HEADER, at)
        if len(block) < _HEADER:
            return None
        if not block.strip(b"\0"):
            return found  # the end-of-archive marker
        numbers = [_octal(block[start:end]) for start, end in _NUMBERS]
        checksum = _octal(block[148:156])
        if checksum is None or None in numbers:
            return None
        if checksum != sum(block) - sum(block[148:156]) + 256:
            return None  # (tarfile also takes a signed sum: it is left to tarfile)
        flag = block[156:157]
        if flag == b"x" and extended is None:
            length = cast("int", numbers[3])
            extended = _pax_records(os.pread(fd, length, at + _HEADER), length)
            if extended is None:
                return None
            at += _HEADER + -(-length // _HEADER) * _HEADER
            continue
        kind = _FLAG_KINDS.get(flag)
        if kind is None:
            return None
        name = _text(block[0:100])
        if flag == b"\0" and name.endswith("/"):
            kind = Kind.DIRECTORY
        if kind is Kind.DIRECTORY:
            name = name.rstrip("/")
        prefix = _text(block[345:500])
        if prefix:
            name = f"{prefix}/{name}"
        length = cast("int", numbers[3])
        if extended is not None:
            if "path" in extended:
                name = extended["path"].rstrip("/")
            if "size" in extended:
                length = int(extended["size"])
            extended = None
        data = at + _HEADER
        if kind is not Kind.FILE and length:
            return None
        if data + length > size:
            return None
        found.append((name, kind, length if kind is Kind.FILE else 0, data))
        at = data + -(-length // _HEADER) * _HEADER


_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
# What a pax extended header may say for the fast reader to take it: the rest (hdrcharset,
# GNU sparse maps...) is left to tarfile.
_PAX_TAKEN = frozenset(
    {"path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "linkpath"}
)


def _pax_records(data: bytes, length: int) -> dict[str, str] | None:
    """A pax extended header's records, as tarfile's _proc_pax reads them; None when it
    says something only tarfile handles, or its size is not a whole number."""
    if len(data) < length:
        return None
    records: dict[str, str] = {}
    at = 0
    while (match := _PAX_RECORD.match(data, at)) is not None:
        size = int(match.group(1))
        if size == 0:
            return None
        keyword = match.group(2).decode("utf-8", "surrogateescape")
        if keyword not in _PAX_TAKEN:
            return None
        value = data[match.end(2) + 1 : match.start(1) + size - 1]
        records[keyword] = value.decode("utf-8", "surrogateescape")
        at += size
    if "size" in records and not records["size"].isdigit():
        return None
    return records


def _octal(field: bytes) -> int | None:
    """A header's number field as tarfile's nti reads it, when in octal; else None."""
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    if not all(48 <= byte <= 55 for byte in text):
        return None
    return int(text, 8)


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _tar_kind(info: tarfile.TarInfo) -> Kind:
    if info.isdir():
        return Kind.DIRECTORY
    if info.issym():
        return Kind.SYMLINK
    if info.isreg():
        return Kind.FILE
    return Kind.SPECIAL  # hard links, devices, FIFOs


# What reading a damaged archive raises, besides OSError.
_DAMAGE = (
    EOFError,
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,  # zipfile: an encrypted entry, a bad password
    NotImplementedError,  # zipfile: a compression method or zip version it cannot read
)


def _guarded(opening: Callable[[], BinaryIO]) -> BinaryIO:
    """A member's stream as every reader of bag files takes it: buffered, and its damage
    (in opening it too) an OSError."""
    try:
        return _buffered(opening())
    except _DAMAGE as exc:
        raise OSError(errno.EIO, _reason(exc)) from exc


def _buffered(stream: BinaryIO) -> BinaryIO:
    """An open member's stream, buffered, its damage an OSError."""
    return cast("BinaryIO", io.BufferedReader(_Guarded(stream), _CHUNK))


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


@contextlib.contextmanager
def _tar_stream(
    path: str | os.PathLike[str], compressed: bool, opened: IO[bytes] | None = None
) -> Iterator[tarfile.TarFile]:
    """The archive read front to back (``r|`` for a .tar.gz: no seeking back), from the
    file ``opened`` already when given (closed here)."""
    with opened or open(path, "rb") as raw:
        if compressed:  # two calls: the type checker knows each mode's result
            archive = tarfile.open(  # noqa: SIM115 - closed by the with below
                fileobj=raw, mode="r|gz", encoding="utf-8", errors="surrogateescape"
            )
        else:
            archive = tarfile.open(  # noqa: SIM115 - closed by the with below
                fileobj=raw, mode="r:", encoding="utf-8", errors="surrogateescape"
            )
        with archive:
            yield archive


class _Scanned(io.RawIOBase):
    """One member of a .tar.gz not kept in memory: found by reading the stream again."""

    def __init__(self, path: str | os.PathLike[str], name: str) -> None:
        self._stack = contextlib.ExitStack()
        archive = self._stack.enter_context(_tar_stream(path, compressed=True))
        data = None
        for info in archive:
            _forget_read(archive)
            if info.name == name:
                data = archive.extractfile(info)
                break
        if data is None:
            self._stack.close()
            raise FileNotFoundError(f"{name}: not found again in {os.path.basename(path)}")
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
    with open(target, "xb") as raw:
        _write(root, top, raw, kind, style)
        raw.flush()
        os.fsync(raw.fileno())


def stream_archive(root: Path, top: str, kind: str, style: Style = Style()) -> Iterator[bytes]:
    """The archive write_archive would write of ``root``, as its bytes, while it is made (a
    download that starts at once, with nothing on disk): the same members in the same
    order (a zip's sizes and CRCs follow each member, in data descriptors, as a stream
    cannot go back to write them before it). A thread writes it into a
    bounded pipe: memory stays at a few chunks whatever the bag's size. Closing the
    iterator early (the client went away) ends the thread."""
    pipe = _Pipe()

    def make() -> None:
        try:
            _write(root, top, cast("IO[bytes]", pipe), kind, style)
        except BaseException as exc:  # the reader gets it (or went away)
            pipe.fail(exc)
        else:
            pipe.finish()

    writer = threading.Thread(target=make, name="archiver-archive-stream", daemon=True)
    writer.start()
    try:
        yield from pipe.chunks()
    finally:
        pipe.abandon()
        writer.join()


def _write(root: Path, top: str, raw: IO[bytes], kind: str, style: Style) -> None:
    entries = [e for e in _archive_order(root) if style.folders or not stat.S_ISDIR(e[1].st_mode)]
    if kind == "zip":
        _write_zip(root, top, entries, raw, style)
    else:
        _write_tar(root, top, entries, raw, style, compressed=kind == "tgz")


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes a reader takes as chunks, a few at most waiting."""

    def __init__(self) -> None:
        import queue

        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
        self._written = 0
        self._abandoned = threading.Event()

    def writable(self) -> bool:
        return True

    def tell(self) -> int:  # tarfile and zipfile ask where they start; no seek is offered
        return self._written

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        block = bytes(data)
        self._put(block)
        self._written += len(block)
        return len(block)

    def _put(self, item: bytes | BaseException | None) -> None:
        import queue

        while True:
            if self._abandoned.is_set():
                raise OSError(errno.EPIPE, "the reader went away")
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            self._put(None)

    def fail(self, exc: BaseException) -> None:
        with contextlib.suppress(OSError):
            self._put(exc)

    def abandon(self) -> None:
        self._abandoned.set()

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise OSError(f"the archive could not be made: {item}") from item
            if item:
                yield item


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
