"""Reading a file once for every algorithm, and copying it while doing so.

Each chunk read is handed to every hash and every consumer (the bag writer, the text
analyser) before the next is read, so a payload file is read exactly once. Memory is one
chunk buffer per worker thread, whatever the file sizes.

Both cores are used (``run_all``):
- a big file: ``pump`` gives the costliest algorithm a helper thread (hashlib releases
  the GIL on large updates), so SHA-256 and SHA-512 of a chunk are computed at once;
- many small files: batches run on forked worker processes, where per-file system calls
  and GIL-holding short hashes do not contend.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, cast

from archiver.bagit import algorithms

CHUNK = 1 << 20
# Below this size the hand-over to a helper thread costs more than it saves.
SPLIT_THRESHOLD = 8 << 20
# Slowest first: the one given a helper thread in split mode.
_COST_ORDER = ("sha512", "sha384", "md5", "sha3512", "sha3384", "sha3256", "sha3224")

Consumer = Callable[[memoryview], None]
T = TypeVar("T")
R = TypeVar("R")

_local = threading.local()


def _buffer() -> memoryview:
    """The calling thread's chunk buffer, allocated once per thread."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = memoryview(bytearray(CHUNK))
        _local.view = view
    return view


@dataclass(frozen=True)
class Digested:
    """What one pass over a file found."""

    size: int
    digests: dict[str, str]


class SourceChangedError(OSError):
    """The file changed while it was being read."""


class WriteFailedError(OSError):
    """Writing the copy failed (disk full, permissions...): the target's fault, not the source's."""


def _update_all(hashes: Sequence[hashlib._Hash], chunk: memoryview) -> None:
    for h in hashes:
        h.update(chunk)


def _split(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(main-thread algorithms, helper-thread algorithms): the costliest one goes to the helper."""
    for costly in _COST_ORDER:
        if costly in names and len(names) > 1:
            return [n for n in names if n != costly], [costly]
    return list(names[:-1]), list(names[-1:])


def pump(
    fd: int,
    names: Sequence[str],
    consumers: Sequence[Consumer] = (),
    *,
    size_hint: int = 0,
    helper: Executor | None = None,
) -> Digested:
    """Read ``fd`` to its end once, feeding every hash and consumer; return size and digests."""
    hashes = {name: algorithms.new(name) for name in names}
    view = _buffer()
    total = 0
    split = helper is not None and len(names) > 1 and size_hint >= SPLIT_THRESHOLD
    if split:
        main_names, helper_names = _split(names)
        main = [hashes[n] for n in main_names]
        side = [hashes[n] for n in helper_names]
    else:
        main, side = list(hashes.values()), []
    while True:
        count = os.readv(fd, [view])
        if count == 0:
            break
        chunk = view[:count]
        if split and helper is not None:
            pending = helper.submit(_update_all, side, chunk)
            _update_all(main, chunk)
            for consumer in consumers:
                consumer(chunk)
            pending.result()
        else:
            _update_all(main, chunk)
            for consumer in consumers:
                consumer(chunk)
        total += count
    return Digested(total, {name: h.hexdigest() for name, h in hashes.items()})


def digest_file(
    path: str | os.PathLike[str],
    names: Sequence[str],
    *,
    helper: Executor | None = None,
    follow_symlinks: bool = False,
) -> Digested:
    """Digests of a regular file. Refuses (OSError) to follow a symlink unless asked to."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(f"not a regular file: {os.fspath(path)}")
        return pump(fd, names, size_hint=info.st_size, helper=helper)
    finally:
        os.close(fd)


class _Writer:
    """A consumer that writes every chunk to an open file descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, chunk: memoryview) -> None:
        try:
            written = os.write(self.fd, chunk)
            while written < len(chunk):  # short writes happen on some file systems
                written += os.write(self.fd, chunk[written:])
        except OSError as exc:
            raise WriteFailedError(exc.errno, exc.strerror) from exc


def copy_file(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    names: Sequence[str],
    consumers: Sequence[Consumer] = (),
    *,
    helper: Executor | None = None,
) -> Digested:
    """Copy ``source`` to a new file ``target`` (never overwriting), digesting on the way.

    The copy keeps the source's modification time. The source is opened read-only and its
    size and mtime are compared before and after: a file that changes while it is read
    raises SourceChangedError rather than being bagged half old, half new.
    """
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        before = os.fstat(src)
        if not stat.S_ISREG(before.st_mode):
            raise IsADirectoryError(f"not a regular file: {os.fspath(source)}")
        try:
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise WriteFailedError(exc.errno, exc.strerror, os.fspath(target)) from exc
        try:
            result = pump(
                src, names, [_Writer(dst), *consumers], size_hint=before.st_size, helper=helper
            )
            after = os.fstat(src)
            if (
                result.size != before.st_size
                or after.st_size != before.st_size
                or after.st_mtime_ns != before.st_mtime_ns
            ):
                raise SourceChangedError(f"{os.fspath(source)} changed while it was being read")
            os.utime(dst, ns=(before.st_mtime_ns, before.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return result


# Small files go to worker processes in batches: per-file work is mostly system calls and
# short hashes that hold the GIL, so threads contend; processes scale. Limits per batch:
BATCH_FILES = 256
BATCH_BYTES = 32 << 20
# Fewer small files than this are not worth starting worker processes for.
POOL_MINIMUM = 64


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: let the parent decide, and have it wait for
    # running batches before it cleans up. SIGTERM ends a worker at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_batch(task: Callable[[T, Executor | None], R], batch: list[T]) -> list[R]:
    return [task(item, None) for item in batch]


def run_all(
    task: Callable[[T, Executor | None], R],
    items: Sequence[T],
    sizes: Sequence[int],
    workers: int,
) -> list[R]:
    """``task(item, helper)`` for every item, on every core; results in input order.

    Files of SPLIT_THRESHOLD bytes or more run in this process, one at a time, each with a
    helper thread for its costliest algorithm. Smaller files run in batches on ``workers``
    forked processes meanwhile. ``task`` must be picklable (a module-level function or a
    partial of one). The first exception cancels what has not started and is re-raised.
    """
    if workers <= 1 or len(items) <= 1:
        return [task(item, None) for item in items]
    small = [i for i, size in enumerate(sizes) if size < SPLIT_THRESHOLD]
    big = [i for i, size in enumerate(sizes) if size >= SPLIT_THRESHOLD]
    results: list[R | None] = [None] * len(items)
    pool: ProcessPoolExecutor | None = None
    batches: list[tuple[list[int], Future[list[R]]]] = []
    try:
        if len(small) >= POOL_MINIMUM:
            # Fork before this process starts any thread of its own.
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_worker_init,
            )
            for indices in _batches(small, sizes):
                batch = [items[i] for i in indices]
                batches.append((indices, pool.submit(_run_batch, task, batch)))
        else:
            big = sorted(big + small)
        if big:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-split") as helper:
                for index in big:
                    results[index] = task(items[index], helper)
        for indices, future in batches:
            for index, result in zip(indices, future.result(), strict=True):
                results[index] = result
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return cast("list[R]", results)


def _batches(indices: list[int], sizes: Sequence[int]) -> Iterator[list[int]]:
    batch: list[int] = []
    weight = 0
    for index in indices:
        if batch and (len(batch) >= BATCH_FILES or weight + sizes[index] > BATCH_BYTES):
            yield batch
            batch, weight = [], 0
        batch.append(index)
        weight += sizes[index]
    if batch:
        yield batch


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
