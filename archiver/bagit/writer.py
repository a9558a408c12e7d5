"""The one bag writer: every bag archiver makes (its own, an export's, an ingested one's)
is written here, BagIt 1.0 with UTF-8 tag files.

    payload    each file copied once, every digest computed on the way (and whatever else
               the caller's probe wants to see of the bytes: text properties, a format
               signature); digests a source bag promised are checked in the same pass
    tag files  written or copied, digested as they are written
    finish     bagit.txt, bag-info.txt (Payload-Oxum from what was written), one payload
               manifest per algorithm, one tag manifest per tag algorithm; tag files and
               folders dated by the caller's clock, so the same input gives the same bag
    commit     (a staged bag) flushed to disk and renamed into place whole: see staging

A bag is written into a folder the caller names (an exporter's own staging folder) or
staged beside its target by ``BagWriter.staged``. Nothing here reads a bag back: that is
the reader's job, and the validator's.

Errors name the file by its bag path and the bag by what the caller calls it (``shown``:
the target the user named), never by the hidden staging folder it is built in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from archiver import faults
from archiver.bagit import algorithms, baginfo, hashing, manifest, paths
from archiver.bagit.files import BagFile
from archiver.bagit.names import BAG_INFO_TXT, BAGIT_TXT, PAYLOAD_DIR
from archiver.errors import BagWriteError, DigestMismatchError, SourceError
from archiver.staging import CommitGroup, Staging, os_reason

DECLARATION = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_BATCH = 1 << 20  # bytes gathered before a write when a document comes in small pieces


@dataclass(frozen=True)
class PayloadPart:
    """One payload file to write: its bag path, and its bytes (a file to copy, or content)."""

    path: str  # "data/..."
    source: Path | BagFile | None = None
    content: bytes | None = None
    # algorithm -> digest its source promises (a source bag's manifests): checked on the way
    expected: Mapping[str, str] = field(default_factory=dict)
    size: int = 0  # when known beforehand: big files are copied with a helper thread


@dataclass(frozen=True)
class WrittenFile:
    """What writing one payload file found."""

    path: str
    size: int
    digests: dict[str, str]  # every algorithm computed (the bag's and the expected ones)
    probed: Any = None  # what the caller's probe made of the bytes


Consumer = hashing.Consumer
# Called in the process that copies the file: consumers to feed every chunk to, and a
# function returning what they found (which must be picklable: it may cross processes).
Probe = Callable[[PayloadPart], tuple[Sequence[Consumer], Callable[[], Any]]]
Content = bytes | Iterable[str] | Callable[[BinaryIO], object]


class BagWriter:
    """Writes one bag into ``root`` (created if missing, never written over)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        algorithms_: Sequence[str] = algorithms.WRITTEN,
        *,
        tag_algorithms: Sequence[str] | None = None,
        computed: Sequence[str] = (),
        workers: int | None = None,
        executor: Executor | None = None,
        staging: Staging | None = None,
        shown: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.shown = shown or str(self.root)  # the bag, as errors name it
        self.algorithms = tuple(algorithms_)
        self.tag_algorithms = tuple(tag_algorithms if tag_algorithms is not None else algorithms_)
        # computed for every payload file (WrittenFile.digests), whether a manifest lists
        # them or not: what archiver's METS and PREMIS record
        self.computed = tuple(n for n in computed if n not in self.algorithms)
        self.workers = hashing.worker_count(workers)
        self.executor = executor  # the caller's, for copying many small files
        self._staging = staging
        self._payload: dict[str, dict[str, str]] = {}
        self._payload_bytes = 0
        self._tags: dict[str, dict[str, str]] = {}
        self._pending: dict[str, Future[dict[str, str]]] = {}
        self._finished = False
        for name in {*self.algorithms, *self.tag_algorithms, *self.computed}:
            if not algorithms.is_supported(name):
                raise ValueError(f"archiver cannot compute {name!r} digests")
        try:
            self.root.mkdir(parents=True, exist_ok=staging is not None)
        except OSError as exc:
            raise BagWriteError(f"cannot create {self.shown}: {os_reason(exc)}") from exc

    @classmethod
    @contextlib.contextmanager
    def staged(
        cls,
        parent: str | os.PathLike[str],
        algorithms_: Sequence[str] = algorithms.WRITTEN,
        *,
        target: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> Iterator[BagWriter]:
        """A writer building its bag in a hidden staging folder in ``parent``; call
        ``commit(target)`` to move the finished bag into place. Leaving the block without a
        commit (an error, Ctrl-C) removes everything written. ``target``, when known
        already, is how errors name the bag."""
        shown = str(target) if target is not None else f"a new bag in {parent}"
        with Staging(Path(parent)) as staging:
            yield cls(staging.path, algorithms_, staging=staging, shown=shown, **options)

    # -- payload -------------------------------------------------------------------------

    @property
    def oxum(self) -> str:
        """Payload-Oxum of the payload written so far."""
        return baginfo.oxum(self._payload_bytes, len(self._payload))

    def write_payload(
        self, parts: Sequence[PayloadPart], probe: Probe | None = None
    ) -> list[WrittenFile]:
        """Copy (or write) every part, in parallel, each read once; results in input order.

        ``probe`` must be picklable (a module-level function): it may run in a worker.
        DigestMismatchError lists every file whose bytes differ from what its source bag
        promised; SourceError when a source cannot be read or changes while it is read.
        """
        for part in parts:
            if (
                not part.path.startswith(f"{PAYLOAD_DIR}/")
                or part.path in self._payload
                or paths.unsafe_reason(part.path)
            ):
                raise ValueError(f"{part.path!r} is not a new payload path")
        self._make_folders(str(Path(part.path).parent) for part in parts)
        names = _names((*self.algorithms, *self.computed), parts)
        write = functools.partial(_write_part, self.root, self.shown, names, probe)
        # A compressed archive's members are copied here, in one pass over the archive; every
        # other part anywhere (a .tar's member sent as its slice of the archive).
        streamed = {i for i, part in enumerate(parts) if _from_stream(part)}
        spread = [i for i in range(len(parts)) if i not in streamed]
        found: dict[int, WrittenFile] = dict(
            zip(
                spread,
                hashing.run_all(
                    write,
                    [_portable(parts[i]) for i in spread],
                    [parts[i].size for i in spread],
                    self.workers,
                    self.executor,
                    preload=[__name__, *([probe.__module__] if probe is not None else [])],
                ),
                strict=True,
            )
        )
        if streamed:
            found.update(_write_streamed(write, parts, sorted(streamed)))
        written = [found[i] for i in range(len(parts))]
        mismatches = [
            (w.path, name, want.lower(), w.digests[name])
            for part, w in zip(parts, written, strict=True)
            for name, want in sorted(part.expected.items())
            if algorithms.is_supported(name) and w.digests[name] != want.lower()
        ]
        if mismatches:
            raise DigestMismatchError(mismatches)
        for w in written:
            self._payload[w.path] = {name: w.digests[name] for name in self.algorithms}
            self._payload_bytes += w.size
        return written

    # -- tag files -----------------------------------------------------------------------

    def write_tag_file(
        self, path: str, content: Content, *, executor: Executor | None = None
    ) -> None:
        """Write a tag file: bytes, text pieces (UTF-8), or a function writing to a stream.

        With ``executor``, the file is written there while the caller goes on (``content``
        must then be picklable for a process pool: a module-level function, or a partial of
        one); ``finish`` waits for it.
        """
        self._check_tag_path(path)
        self._make_folders([str(Path(path).parent)])
        if executor is None:
            self._tags[path] = _write_tag(self.root, self.shown, path, content, self.tag_algorithms)
        else:
            self._pending[path] = executor.submit(
                _write_tag, self.root, self.shown, path, content, self.tag_algorithms
            )

    def copy_tag_file(self, path: str, source: Path | BagFile) -> None:
        """Copy a tag file byte for byte (a foreign bag's, kept), digesting it on the way."""
        self._check_tag_path(path)
        self._make_folders([str(Path(path).parent)])
        found = _copy(source, self.root, self.shown, path, self.tag_algorithms, (), None)
        self._tags[path] = found.digests

    def _make_folders(self, folders: Iterable[str]) -> None:
        """Every folder the given bag paths' files go in, parents first, one at a time (no
        recursion however deep)."""
        wanted = {
            "/".join(parts[:n])
            for f in folders
            for parts in [f.split("/")]
            for n in range(1, len(parts) + 1)
        }
        for folder in sorted(wanted - {"."}, key=lambda f: (f.count("/"), f)):
            try:
                os.mkdir(self.root / folder)
            except FileExistsError:
                continue
            except OSError as exc:
                raise BagWriteError(
                    f"cannot write {folder}/ into {self.shown}: {os_reason(exc)}"
                ) from exc

    def _check_tag_path(self, path: str) -> None:
        if (
            self._finished
            or path.startswith(f"{PAYLOAD_DIR}/")
            or path in self._tags
            or path in self._pending
            or path in (BAGIT_TXT, BAG_INFO_TXT)
            or manifest.NAME.match(path)
        ):
            raise ValueError(f"{path!r} is not a tag file the caller may write")

    # -- the rest ------------------------------------------------------------------------

    def finish(
        self, bag_info: Sequence[tuple[str, str]], *, moment: datetime | None = None
    ) -> None:
        """Write bagit.txt, bag-info.txt (Payload-Oxum appended unless given), the
        manifests and the tag manifests. ``moment`` dates every tag file and folder."""
        for path, pending in sorted(self._pending.items()):
            self._tags[path] = pending.result()  # what writing it raised is raised here
        self._pending.clear()
        items = list(bag_info)
        if not any(label.lower() == "payload-oxum" for label, _ in items):
            items.append(("Payload-Oxum", self.oxum))
        try:
            info = baginfo.format_bag_info(items)
        except ValueError as exc:
            raise BagWriteError(str(exc)) from exc
        tags: dict[str, bytes] = {BAGIT_TXT: DECLARATION, BAG_INFO_TXT: info}
        for name in self.algorithms:
            entries = ((path, sums[name]) for path, sums in self._payload.items())
            tags[manifest.payload_manifest_name(name)] = manifest.format_manifest(entries)
        for path, data in tags.items():
            self._write_bytes(path, data)
            self._tags[path] = _digests(data, self.tag_algorithms)
        for name in self.tag_algorithms:
            entries = ((path, sums[name]) for path, sums in self._tags.items())
            self._write_bytes(manifest.tag_manifest_name(name), manifest.format_manifest(entries))
        self._finished = True
        if moment is not None:
            try:
                _settle_times(self.root, moment)
            except OSError as exc:
                raise BagWriteError(
                    f"cannot date the files of {self.shown}: {os_reason(exc)}"
                ) from exc

    def commit(
        self,
        target: str | os.PathLike[str],
        *,
        replace: bool = False,
        group: CommitGroup | None = None,
    ) -> Path:
        """Move a finished, staged bag to ``target`` (in the staging parent) whole; with
        ``group``, when the group commits (staging.CommitGroup)."""
        if self._staging is None or not self._finished:
            raise ValueError("only a finished, staged bag can be committed")
        self._staging.commit(Path(target), replace=replace, group=group)
        return Path(target)

    def commit_serialized(
        self, target: str | os.PathLike[str], kind: str, *, top: str, replace: bool = False
    ) -> Path:
        """Write a finished, staged bag as one archive file at ``target`` (``kind``: "tar",
        "tgz" or "zip"; its top-level folder ``top``), built in a staging folder beside it
        and moved into place whole; the staged bag is removed when the writer's block ends."""
        from archiver.bagit import archives  # tarfile and zipfile: only when serializing

        if self._staging is None or not self._finished:
            raise ValueError("only a finished, staged bag can be committed")
        target = Path(target)
        with Staging(target.parent) as outer:
            inner = outer.path / "archive"
            try:
                archives.write_archive(self.root, top, inner, kind)
            except OSError as exc:
                raise BagWriteError(f"cannot write {target}: {os_reason(exc)}") from exc
            outer.commit_inner("archive", target, replace=replace)
        return target

    def payload_digests(self) -> dict[str, dict[str, str]]:
        """Payload path -> algorithm -> digest, for the bag's algorithms."""
        return {path: dict(sums) for path, sums in self._payload.items()}

    def _write_bytes(self, path: str, data: bytes) -> None:
        try:
            with open(self.root / path, "xb") as handle:
                handle.write(data)
        except OSError as exc:
            raise BagWriteError(f"cannot write {path} into {self.shown}: {os_reason(exc)}") from exc


def write_bag(
    root: str | os.PathLike[str],
    payload: Iterable[PayloadPart],
    *,
    algorithms_: Sequence[str],
    bag_info: Sequence[tuple[str, str]] = (),
    tag_files: Mapping[str, bytes] | None = None,
    tag_algorithms: Sequence[str] | None = None,
    expected: Mapping[str, Mapping[str, str]] | None = None,
    moment: datetime | None = None,
    shown: str | None = None,
) -> dict[str, dict[str, str]]:
    """A plain bag at ``root`` in one call; payload path -> digests in ``algorithms_``.

    ``expected`` (path -> algorithm -> digest) adds to each part's own expectations.
    Payload-Oxum is added to ``bag_info`` (after the given labels). ``shown``: how errors
    name the bag (``root`` itself by default; not a staging folder the user never named).
    """
    writer = BagWriter(root, algorithms_, tag_algorithms=tag_algorithms, shown=shown)
    parts = [
        PayloadPart(
            part.path,
            part.source,
            part.content,
            {**part.expected, **(expected or {}).get(part.path, {})},
            part.size,
        )
        for part in payload
    ]
    writer.write_payload(parts)
    for path, data in (tag_files or {}).items():
        writer.write_tag_file(path, data)
    writer.finish(bag_info, moment=moment)
    return writer.payload_digests()


# -- the work behind it --------------------------------------------------------------------


def _names(bag_algorithms: Sequence[str], parts: Sequence[PayloadPart]) -> tuple[str, ...]:
    extra = {n for part in parts for n in part.expected if algorithms.is_supported(n)}
    return tuple(dict.fromkeys([*bag_algorithms, *sorted(extra - set(bag_algorithms))]))


def _from_stream(part: PayloadPart) -> bool:
    """A member of an archive read only from its start (compressed)."""
    source = part.source
    return (
        isinstance(source, BagFile)
        and not source.has_fd
        and hasattr(source.files, "streams_in_order")
        and not getattr(source.files, "sliceable", False)
    )


def _portable(part: PayloadPart) -> PayloadPart:
    """The part as a worker process is sent it: a .tar's member as its slice of the archive
    (not the archive's whole index)."""
    source = part.source
    if isinstance(source, BagFile) and getattr(source.files, "sliceable", False):
        detached = source.files.detached([source.path])  # type: ignore[attr-defined]
        return dataclasses.replace(part, source=BagFile(detached, source.path))
    return part


def _write_streamed(
    write: Callable[..., WrittenFile], parts: Sequence[PayloadPart], indices: list[int]
) -> Iterator[tuple[int, WrittenFile]]:
    """Parts from compressed archives, each archive read once front to back, in this process
    (a helper thread digests big members)."""
    groups: dict[int, list[int]] = {}
    for i in indices:
        groups.setdefault(id(cast(BagFile, parts[i].source).files), []).append(i)
    with ThreadPoolExecutor(1, thread_name_prefix="archiver-split") as helper:
        for group in groups.values():
            files = cast(BagFile, parts[group[0]].source).files
            by_path = {cast(BagFile, parts[i].source).path: i for i in group}
            for rel, handle in files.streams_in_order(list(by_path)):  # type: ignore[attr-defined]
                i = by_path[rel]
                if isinstance(handle, str):
                    raise SourceError(f"{files.location}/{rel}: cannot read: {handle}")
                with handle:
                    yield i, write(parts[i], helper, stream=handle)


def _write_part(
    root: Path,
    shown: str,
    names: Sequence[str],
    probe: Probe | None,
    part: PayloadPart,
    helper: Executor | None,
    *,
    stream: BinaryIO | None = None,
) -> WrittenFile:
    """One payload file: copied (or written) once, digested, probed. Runs in a worker, or
    here with the ``stream`` of a compressed archive's member."""
    faults.point("writer.worker-copy")  # in the worker: what the caller sees when one dies
    consumers, result = probe(part) if probe is not None else ((), lambda: None)
    if part.source is not None:
        found = _copy(part.source, root, shown, part.path, names, consumers, helper, stream)
    else:
        data = part.content or b""
        try:
            with open(root / part.path, "xb") as handle:
                handle.write(data)
        except OSError as exc:
            raise BagWriteError(f"cannot write {part.path} into {shown}: {os_reason(exc)}") from exc
        view = memoryview(data)
        for consumer in consumers:
            consumer(view)
        found = hashing.Digested(len(data), _digests(data, names))
    return WrittenFile(part.path, found.size, found.digests, result())


def _copy(
    source: Path | BagFile,
    root: Path,
    shown: str,
    path: str,
    names: Sequence[str],
    consumers: Sequence[Consumer],
    helper: Executor | None,
    stream: BinaryIO | None = None,
) -> hashing.Digested:
    """Copy ``source`` (read from ``stream`` when it is open already) to the bag path
    ``path`` of the bag at ``root`` (``shown`` in errors)."""
    try:
        return hashing.copy_file(
            source, root / path, names, consumers, helper=helper, stream=stream
        )
    except hashing.WriteFailedError as exc:
        raise BagWriteError(f"cannot write {path} into {shown}: {os_reason(exc)}") from exc
    except hashing.SourceChangedError as exc:
        raise SourceError(f"{source}: changed while it was being copied") from exc
    except OSError as exc:
        raise SourceError(f"{source}: cannot read: {exc.strerror or exc}") from exc


def _write_tag(
    root: Path, shown: str, path: str, content: Content, names: Sequence[str]
) -> dict[str, str]:
    """Write one tag file, digesting it on the way (in this process or a worker's)."""
    hashes = {name: algorithms.new(name) for name in names}
    try:
        with open(root / path, "xb") as raw:
            stream = _DigestingStream(raw, list(hashes.values()))
            if isinstance(content, bytes):
                stream.write(content)
            elif callable(content):
                content(cast(BinaryIO, stream))
            else:
                stream.write_text(content)
            stream.flush()
    except OSError as exc:
        raise BagWriteError(f"cannot write {path} into {shown}: {os_reason(exc)}") from exc
    except ValueError as exc:  # a character XML 1.0 cannot hold: refused, never written
        raise BagWriteError(f"cannot write {path} into {shown}: {exc}") from exc
    return {name: h.hexdigest() for name, h in hashes.items()}


def _digests(data: bytes, names: Iterable[str]) -> dict[str, str]:
    found = {}
    for name in names:
        h = algorithms.new(name)
        h.update(data)
        found[name] = h.hexdigest()
    return found


class _DigestingStream:
    """A binary stream that digests what passes through it, in batches of about 1 MiB."""

    def __init__(self, raw: BinaryIO, hashes: Sequence[Any]) -> None:
        self.raw = raw
        self.hashes = hashes
        self.pending: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.pending.append(bytes(data))
        self.size += len(data)
        if self.size >= _BATCH:
            self.flush()
        return len(data)

    def write_text(self, pieces: Iterable[str]) -> None:
        batch: list[str] = []
        size = 0
        for piece in pieces:
            batch.append(piece)
            size += len(piece)
            if size >= _BATCH:
                self.write("".join(batch).encode("utf-8"))
                batch, size = [], 0
        self.write("".join(batch).encode("utf-8"))

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.pending, self.size = [], 0
        for h in self.hashes:
            h.update(data)
        self.raw.write(data)


def _settle_times(root: Path, moment: datetime) -> None:
    """Tag files and folders take the clock's time, so a rebuilt bag is identical on disk too.

    Payload files keep their sources' modification times (the copy set them).
    """
    stamp = int(moment.timestamp()) * 1_000_000_000
    for folder, dirnames, filenames in os.walk(root):
        base = Path(folder)
        rel = base.relative_to(root)
        if rel.parts[:1] != (PAYLOAD_DIR,):
            for name in filenames:
                os.utime(base / name, ns=(stamp, stamp), follow_symlinks=False)
        for name in dirnames:
            os.utime(base / name, ns=(stamp, stamp), follow_symlinks=False)
    os.utime(root, ns=(stamp, stamp))
