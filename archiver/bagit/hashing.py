"""Reading a file once for every algorithm, and copying it while doing so.

Each chunk read is handed to every hash and every consumer (the bag writer, the text
analyser) before the next is read, so a payload file is read exactly once. A big file is
copied by the kernel instead (copy_file_range), and its copy read back from the page cache
as it is made: the digests are of the bag's bytes, and no byte is copied through this
process. Memory is a few chunk buffers per thread, whatever the file sizes.

Both cores are used (``run_all``):
- a big file: ``pump`` gives the costliest algorithm a helper thread (hashlib releases
  the GIL on large updates), so SHA-256 and SHA-512 of a chunk are computed at once;
- many small files: batches run on worker processes (from the fork server, or the
  caller's executor), where per-file system calls and GIL-holding short hashes do not
  contend.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import importlib
import itertools
import os
import select
import signal
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ThreadPoolExecutor,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TypeVar, cast

from archiver import faults, progress
from archiver.bagit import algorithms
from archiver.bagit.files import BagFile
from archiver.errors import WorkerError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.context import BaseContext, ForkServerContext
    from multiprocessing.sharedctypes import Synchronized

    from archiver.bagit.files import BagFiles

CHUNK = 1 << 20
# Big files are read in bigger chunks: fewer hand-overs between the two threads.
BIG_CHUNK = 8 << 20
# Below this size the hand-over to a helper thread costs more than it saves.
SPLIT_THRESHOLD = 8 << 20
# Slowest first: the one given a helper thread in split mode.
_COST_ORDER = ("sha512", "sha384", "md5", "sha3512", "sha3384", "sha3256", "sha3224")

Consumer = Callable[[memoryview], None]
T = TypeVar("T")
R = TypeVar("R")

_local = threading.local()


def _buffers(size: int = CHUNK, count: int = 2) -> tuple[memoryview, ...]:
    """The calling thread's ``count`` chunk buffers of ``size`` bytes, allocated once."""
    cache: dict[tuple[int, int], tuple[memoryview, ...]] | None = getattr(_local, "views", None)
    if cache is None:
        cache = _local.views = {}
    views = cache.get((size, count))
    if views is None:
        views = cache[size, count] = tuple(memoryview(bytearray(size)) for _ in range(count))
    return views


@dataclass(frozen=True)
class Digested:
    """What one pass over a file found."""

    size: int
    digests: dict[str, str]


class SourceChangedError(OSError):
    """The file changed while it was being read."""


class WriteFailedError(OSError):
    """Writing the copy failed (disk full, permissions...): the target's fault, not the source's."""


def _feed(
    hashes: Sequence[hashlib._Hash], consumers: Sequence[Consumer], chunk: memoryview
) -> None:
    for h in hashes:
        h.update(chunk)
    for consumer in consumers:
        consumer(chunk)


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
    return _pump_via(lambda view: os.readv(fd, [view]), names, consumers, size_hint, helper)


def _pump_via(
    read: Callable[[memoryview], int],
    names: Sequence[str],
    consumers: Sequence[Consumer],
    size_hint: int,
    helper: Executor | None,
    chunk_size: int = BIG_CHUNK,
) -> Digested:
    """What ``read`` hands out, to its end, fed once to every hash and consumer: a big one
    (``size_hint``) on two threads (_pump_split, in ``chunk_size`` pieces), else here."""
    hashes = {name: algorithms.new(name) for name in names}
    if helper is None or len(names) < 2 or size_hint < SPLIT_THRESHOLD:
        every = list(hashes.values())
        view = _buffers()[0]
        total = 0
        while count := read(view):
            _feed(every, consumers, view[:count])
            total += count
        return Digested(total, {name: h.hexdigest() for name, h in hashes.items()})
    return _pump_split(read, hashes, consumers, helper, chunk_size)


def _readinto(handle: BinaryIO) -> Callable[[memoryview], int]:
    """A stream's readinto, as _pump_via reads (0 at its end, never None)."""
    readinto: Callable[[memoryview], int | None] = handle.readinto  # type: ignore[attr-defined]
    return lambda view: readinto(view) or 0


def _pump_split(
    read: Callable[[memoryview], int],
    hashes: dict[str, hashlib._Hash],
    consumers: Sequence[Consumer],
    helper: Executor,
    chunk_size: int = BIG_CHUNK,
) -> Digested:
    """Two threads on one file: the helper runs the costliest digest, this one reads up
    to _AHEAD chunks ahead of it and runs the other digests and the consumers.

    The text check (GIL-bound decoding) stays here too. Measured on 512 MiB of the sample
    text, 21 alternating runs: 1.09x of SHA-512 alone, against 1.21x with the text check
    and the other digests on a third thread, and 1.11x when the helper took them over while
    this thread ran the costliest digest after each read (a text in Chinese: 1.13x against
    1.24x): the costliest digest never waits for a read, and the two cores are evenly
    loaded. The helper runs its chunks in order, never waiting for this thread while
    chunks are read ahead; a buffer is reused only once the helper is done with it.
    """
    main_names, helper_names = _split(list(hashes))
    main = [hashes[n] for n in main_names]
    side = [hashes[n] for n in helper_names]
    views = _buffers(chunk_size, _AHEAD)
    pending: deque[Future[None]] = deque()
    total = 0
    try:
        for index in itertools.count():
            if len(pending) == len(views):
                pending.popleft().result()  # the oldest buffer is free again
            view = views[index % len(views)]
            count = read(view)
            if not count:
                break
            chunk = view[:count]
            pending.append(helper.submit(_feed, side, (), chunk))
            _feed(main, consumers, chunk)
            total += count
    finally:
        while pending:
            pending.popleft().result()
    return Digested(total, {name: h.hexdigest() for name, h in hashes.items()})


# Chunks read ahead of the helper at most (each a buffer of BIG_CHUNK bytes, or CHUNK).
_AHEAD = 4


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


_libc = ctypes.CDLL(None, use_errno=True)
_sync_file_range = getattr(_libc, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
_SYNC_FILE_RANGE_WRITE = 2  # start writeback, do not wait for it


def _write_all(fd: int, chunk: memoryview | bytes) -> None:
    try:
        written = os.write(fd, chunk)
        while written < len(chunk):  # short writes happen on some file systems
            written += os.write(fd, chunk[written:])
    except OSError as exc:
        raise WriteFailedError(exc.errno, exc.strerror) from exc


def digest_stream(handle: BinaryIO, names: Sequence[str]) -> Digested:
    """Digests of what ``handle`` holds from where it stands to its end."""
    hashes = {name: algorithms.new(name) for name in names}
    total = 0
    while chunk := handle.read(CHUNK):
        for h in hashes.values():
            h.update(chunk)
        total += len(chunk)
    return Digested(total, {name: h.hexdigest() for name, h in hashes.items()})


def digest_readable(
    handle: BinaryIO, names: Sequence[str], size_hint: int = 0, helper: Executor | None = None
) -> Digested:
    """Digests of what ``handle`` holds from where it stands to its end (a member of an
    archive, say); a big one on two threads, as ``pump`` reads a file."""
    # A stream (an archive's member) copies what it hands out: small chunks keep that small.
    return _pump_via(_readinto(handle), names, (), size_hint, helper, CHUNK)


def digest_bag_file(
    files: BagFiles, path: str, names: Sequence[str], helper: Executor | None = None
) -> dict[str, str] | str:
    """Digests of a bag file, or why it could not be read (never through a link)."""
    try:
        open_fd = getattr(files, "open_fd", None)
        if open_fd is None:
            with files.open(path) as handle:
                return digest_stream(handle, names).digests
        fd = open_fd(path)
        try:
            size = os.fstat(fd).st_size
            return pump(fd, names, size_hint=size, helper=helper).digests
        finally:
            os.close(fd)
    except OSError as exc:
        return exc.strerror or str(exc)


class _Writer:
    """A consumer that writes every chunk to an open file descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, chunk: memoryview) -> None:
        _write_all(self.fd, chunk)
        faults.point("hashing.chunk-written")  # a copy killed half-way

    def close(self) -> None:
        """Nothing is pending: every chunk was written when it was given."""


class _KernelCopy:
    """A big file copied by the kernel (copy_file_range: no byte passes through this
    process), a step at a time on a thread of its own, each step's writeback started at
    once so that the final flush has little left. ``read`` hands out what is copied so far,
    read back from the copy: the digests are of the bag's own bytes.

    Writing through this process cost two copies in memory per byte and, on this project's
    machine, three times the time of the kernel's copy. Where the kernel cannot copy between
    the two files (another file system, an old kernel), the thread copies with pread and
    pwrite instead.
    """

    _STEP = 32 << 20

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.copied = 0  # bytes copied so far (published under the condition)
        self.offset = 0  # bytes handed out by read
        self.finished = False
        self.stopped = False  # the reader is gone: no more steps
        self.error: BaseException | None = None
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="archiver-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        kernel = True
        try:
            while not self.stopped:
                step = 0
                if kernel:
                    try:
                        step = os.copy_file_range(
                            self.src, self.dst, self._STEP, self.copied, self.copied
                        )
                    except OSError as exc:
                        if exc.errno not in _NO_KERNEL_COPY:
                            raise
                        kernel = False
                if not kernel:
                    step = self._copy_through(self.copied)
                if not step:
                    break
                if _sync_file_range is not None:
                    _sync_file_range(self.dst, self.copied, step, _SYNC_FILE_RANGE_WRITE)
                with self.condition:
                    self.copied += step
                    self.condition.notify_all()
                faults.point("hashing.chunk-written")  # a copy killed half-way
        except OSError as exc:
            self.error = (
                WriteFailedError(exc.errno, exc.strerror) if exc.errno in _WRITE_ERRORS else exc
            )
        except BaseException as exc:  # handed to the caller by read and close
            self.error = exc
        finally:
            with self.condition:
                self.finished = True
                self.condition.notify_all()

    def _copy_through(self, offset: int) -> int:
        view = _buffers(BIG_CHUNK, 1)[0]
        count = os.preadv(self.src, [view], offset)
        done = 0
        while done < count:
            done += os.pwritev(self.dst, [view[done:count]], offset + done)
        return count

    def read(self, view: memoryview) -> int:
        """The next bytes copied (waiting for them), read back from the copy; 0 at the end."""
        with self.condition:
            self.condition.wait_for(lambda: self.copied > self.offset or self.finished)
            available = self.copied - self.offset
        if self.error is not None:
            raise self.error
        if available <= 0:
            return 0
        count = os.preadv(self.dst, [view[: min(len(view), available)]], self.offset)
        self.offset += count
        return count

    def close(self) -> None:
        """Stop after the step under way (all is copied when every byte was read), wait for
        the thread; raise what copying raised."""
        self.stopped = True
        self.thread.join()
        if self.error is not None:
            raise self.error


# copy_file_range cannot copy between these files: copy through this process instead.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}
# What copy_file_range fails with when the copy, not the source, is at fault.
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


_READ = os.O_RDONLY | os.O_CLOEXEC


def copy_file(
    source: str | os.PathLike[str] | BagFile,
    target: str | os.PathLike[str],
    names: Sequence[str],
    consumers: Sequence[Consumer] = (),
    *,
    helper: Executor | None = None,
    stream: BinaryIO | None = None,
) -> Digested:
    """Copy ``source`` to a new file ``target`` (never overwriting), digesting on the way.

    The copy keeps the source's modification time. The source is opened read-only and its
    size and mtime are compared before and after: a file that changes while it is read
    raises SourceChangedError rather than being bagged half old, half new. An archive's
    member is read as a stream (``stream``, when it is open already: a compressed archive
    is read in stored order), and must hold the size its archive says.
    """
    if isinstance(source, BagFile) and not source.has_fd:  # an archive's member
        entry = source.files.stat(source.path)
        size = entry.size if entry else 0
        if stream is not None:
            return _copy_readable(stream, size, target, names, consumers, helper=helper)
        with source.files.open(source.path) as handle:
            return _copy_readable(handle, size, target, names, consumers)
    src = source.open_fd() if isinstance(source, BagFile) else os.open(source, _READ)
    try:
        before = os.fstat(src)
        if not stat.S_ISREG(before.st_mode):
            raise IsADirectoryError(f"not a regular file: {source}")
        big = helper is not None and len(names) > 1 and before.st_size >= SPLIT_THRESHOLD
        try:
            # A big copy is read back (its digests are the copy's): opened for reading too.
            access = os.O_RDWR if big else os.O_WRONLY
            dst = os.open(target, access | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise WriteFailedError(exc.errno, exc.strerror, os.fspath(target)) from exc
        try:
            if big:
                assert helper is not None
                copier = _KernelCopy(src, dst)
                try:
                    result = _pump_split(
                        copier.read, {n: algorithms.new(n) for n in names}, consumers, helper
                    )
                finally:
                    copier.close()
            else:
                writer = _Writer(dst)
                result = pump(src, names, [writer, *consumers], size_hint=before.st_size)
            after = os.fstat(src)
            if (
                result.size != before.st_size
                or after.st_size != before.st_size
                or after.st_mtime_ns != before.st_mtime_ns
            ):
                raise SourceChangedError(f"{source} changed while it was being read")
            try:
                os.utime(dst, ns=(before.st_mtime_ns, before.st_mtime_ns))
            except OSError as exc:
                raise WriteFailedError(exc.errno, exc.strerror) from exc
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return result


def _copy_readable(
    handle: BinaryIO,
    size: int,
    target: str | os.PathLike[str],
    names: Sequence[str],
    consumers: Sequence[Consumer] = (),
    *,
    helper: Executor | None = None,
) -> Digested:
    """Copy what ``handle`` holds (an archive member, ``size`` bytes by its header) to a new
    file ``target`` (never overwriting), digesting on the way; a big one on two threads.
    A stream that ends before or after ``size`` raises SourceChangedError."""
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise WriteFailedError(exc.errno, exc.strerror, os.fspath(target)) from exc
    try:
        every: list[Consumer] = [_Writer(dst), *consumers]
        result = _pump_via(_readinto(handle), names, every, size, helper, CHUNK)
        if result.size != size:
            raise SourceChangedError(f"holds {result.size} bytes where its archive says {size}")
    finally:
        os.close(dst)
    return result


# Small files go to worker processes in batches: per-file work is mostly system calls and
# short hashes that hold the GIL, so threads contend; processes scale. Limits per batch:
BATCH_FILES = 256
BATCH_BYTES = 32 << 20
# Fewer small files than this are not worth starting worker processes for.
POOL_MINIMUM = 64


def worker_init(
    parent: int | None = None, preload: Sequence[str] = (), seats: Synchronized[int] | None = None
) -> None:
    """A worker process dies with the process that started its pool, and leaves Ctrl-C to it.

    A pool worker whose caller is killed (kill -9) would otherwise wait for work forever,
    and the fork server that forked it stays up as long as a worker does. So a thread
    waits on the caller's pidfd and ends the worker when the caller is gone. Ctrl-C reaches
    the whole process group: the caller decides, and waits for running batches before it
    cleans up. SIGTERM ends a worker at once. ``preload``: modules a worker forked from its
    caller imports now, while its caller goes on (a fork server's are imported there).
    ``seats``: the pool's count of workers pinned so far; this one takes the next core.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if seats is not None:
        with seats.get_lock():
            seat, seats.value = seats.value, seats.value + 1
        cores = sorted(os.sched_getaffinity(0))
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cores[seat % len(cores)]})
    if parent is not None:
        try:
            watched = os.pidfd_open(parent)
        except (OSError, AttributeError):  # already gone, or no pidfd here: poll instead
            watched = None
        threading.Thread(target=_die_with, args=(parent, watched), daemon=True).start()
    for name in preload:
        importlib.import_module(name)


def _die_with(parent: int, watched: int | None) -> None:
    if watched is not None:
        select.select([watched], [], [])  # readable when the process has exited
    else:
        while _exists(parent):
            time.sleep(1)
    os._exit(1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_batch(task: Callable[[T, Executor | None], R], batch: list[T]) -> list[R]:
    return [task(item, None) for item in batch]


def run_all(
    task: Callable[[T, Executor | None], R],
    items: Sequence[T],
    sizes: Sequence[int],
    workers: int,
    executor: Executor | None = None,
    preload: Sequence[str] = (),
) -> list[R]:
    """``task(item, helper)`` for every item, on every core; results in input order."""
    results: list[R | None] = [None] * len(items)
    for index, result in run_each(task, items, sizes, workers, executor, preload):
        results[index] = result
    return cast("list[R]", results)


def run_each(
    task: Callable[[T, Executor | None], R],
    items: Sequence[T],
    sizes: Sequence[int],
    workers: int,
    executor: Executor | None = None,
    preload: Sequence[str] = (),
) -> Iterator[tuple[int, R]]:
    """``task(item, helper)`` for every item on every core, as (index, result) when done.

    Files of SPLIT_THRESHOLD bytes or more run in this process, one at a time, each with a
    helper thread for its costliest algorithm. Smaller files run in batches on
    ``executor`` meanwhile (the caller's: threads, processes, anything that runs a
    picklable task), or else on a pool of ``workers`` processes that this call starts and
    stops: forked by multiprocessing's fork server, never from this process, so they
    inherit none of its locks, files or threads, and behave the same under the CLI, a
    threaded server or a Dask worker. ``task`` must be picklable (a module-level function
    or a partial of one); ``preload`` names the modules it needs, imported once in the
    fork server rather than in every worker. A bounded number of batches is in flight, so
    memory stays flat however many files there are. The first exception cancels what has
    not started and is re-raised. The bytes of the files are told to the calling context's
    progress (archiver.progress): all of them first, then each file's once it is done.
    """
    progress.begin(sum(sizes))
    for index, result in _run_each(task, items, sizes, workers, executor, preload):
        progress.advance(sizes[index])
        yield index, result


def _run_each(
    task: Callable[[T, Executor | None], R],
    items: Sequence[T],
    sizes: Sequence[int],
    workers: int,
    executor: Executor | None,
    preload: Sequence[str],
) -> Iterator[tuple[int, R]]:
    if workers <= 1 and executor is None:
        for index, item in enumerate(items):
            yield index, task(item, None)
        return
    small = [i for i, size in enumerate(sizes) if size < SPLIT_THRESHOLD]
    big = [i for i, size in enumerate(sizes) if size >= SPLIT_THRESHOLD]
    if len(small) < POOL_MINIMUM and executor is None:
        big, small = sorted(big + small), []
    pool: Executor | None = executor
    owned = False
    pending: deque[tuple[list[int], Future[list[R]]]] = deque()
    batches = _batches(small, sizes)
    limit = max(workers, 2) * 4

    def top_up() -> None:
        assert pool is not None
        while len(pending) < limit:
            indices = next(batches, None)
            if indices is None:
                return
            pending.append((indices, pool.submit(_run_batch, task, [items[i] for i in indices])))

    def finished(block: bool) -> Iterator[tuple[int, R]]:
        while pending and (block or pending[0][1].done()):
            indices, future = pending.popleft()
            try:
                done = future.result()
            except BrokenExecutor as exc:
                raise WorkerError(
                    "a worker process died while it was working (killed, or out of memory)"
                ) from exc
            for pair in zip(indices, done, strict=True):
                faults.point("hashing.result")
                yield pair
            top_up()

    try:
        if small:
            if pool is None:
                pool, owned = process_pool(workers, preload), True
            top_up()
        if big:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-split") as helper:
                for index in big:
                    yield index, task(items[index], helper)
                    yield from finished(block=False)
        yield from finished(block=True)
    finally:
        for _, future in pending:
            future.cancel()
        if owned and pool is not None:
            close_pool(pool)


def start_pool_server(preload: Sequence[str] = ()) -> None:
    """Start the fork server behind process_pool now, on a thread, so that its start-up (a
    fresh interpreter importing ``preload``) overlaps what the caller does before it needs
    a pool. The server lives as long as this process, as it would if a pool started it."""
    import multiprocessing.forkserver

    _server_context(preload)
    threading.Thread(
        target=multiprocessing.forkserver.ensure_running, name="archiver-forkserver", daemon=True
    ).start()


def process_pool(
    workers: int, preload: Sequence[str] = (), *, fork: bool = False, pin: bool = False
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes forked by multiprocessing's fork server (started once
    per process; ``preload`` is imported there when it starts): clean children, quick to
    start, no resource of this process inherited. (multiprocessing is imported here, not
    with this module: bagging one big file needs none of it, and it costs 25 ms.)

    ``fork``: fork the workers from this process instead, when it runs no other thread
    (``single_threaded``), for a caller that holds no lock or file its workers must not
    share: no fork server to start, nor its resource tracker; each worker imports
    ``preload`` as it starts, beside its caller. With another thread running, the fork
    server forks them all the same: a fork copies a lock that another thread may hold.

    ``pin``: when there is a worker for each core this process may use, each worker is
    kept on a core of its own (sched_setaffinity). Otherwise the scheduler moves busy
    workers between cores whenever the caller or the kernel's flusher threads wake, and
    each move restarts a worker with cold caches: with two workers bagging small texts
    on two cores, pinned workers took ~5% less time. A core another program keeps busy
    slows its worker, and the other workers take more of the tasks."""
    from concurrent.futures import ProcessPoolExecutor

    workers = worker_count(workers)
    if fork and single_threaded():
        import multiprocessing  # (its fork flushes stdout first: nothing is written twice)

        context: BaseContext = multiprocessing.get_context("fork")
        imports = tuple(preload)  # by each worker, as it starts
    else:
        context, imports = _server_context(preload), ()  # by the server, once
    seats = context.Value("i", 0) if pin and workers == default_workers() > 1 else None
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=worker_init,
        initargs=(os.getpid(), imports, seats),
    )
    # Every worker started now, none on a later submit. Python 3.11 starts a worker on a
    # submit after waking the thread that watches the workers, which then does not watch
    # it: if that worker died, the pool would wait for its task forever; and a worker
    # started while the others are terminated for a death is never told to stop (CPython
    # gh-119592). The executor does the same for fork-started pools.
    launch = getattr(pool, "_launch_processes", None)
    if launch is not None:
        launch()
    return pool


def close_pool(pool: Executor) -> None:
    """Shut ``pool`` down: cancel what has not started, wait for its workers to end.

    A pool that never ran a task has its workers told to stop all the same. A process pool
    that a dying worker broke (killed, out of memory) has its other workers killed first:
    they are idle or doomed, as the pool can no longer be used. Python 3.11's executor can
    start a worker on a submit while it terminates the others for a death, then wait for
    that worker forever (CPython gh-119592), and a worker that ignores SIGTERM would hold
    it just as long."""
    if broken(pool):
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(OSError, ValueError):
                process.kill()
    elif getattr(pool, "_processes", None) and getattr(pool, "_executor_manager_thread", 0) is None:
        # Started (process_pool starts every worker) but never given a task: no thread
        # tells its workers to stop, and they would wait for work, and this process for
        # them at exit, forever. The executor starts that thread on a first submit.
        getattr(pool, "_start_executor_manager_thread", lambda: None)()
    pool.shutdown(wait=True, cancel_futures=True)


def broken(pool: Executor) -> bool:
    """Whether a worker of ``pool`` died, which breaks a process pool for good."""
    return bool(getattr(pool, "_broken", False))


def single_threaded() -> bool:
    """Whether this process runs one thread, native ones counted (Linux: /proc/self/task)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # pragma: no cover - not Linux
        return threading.active_count() == 1


def _server_context(preload: Sequence[str]) -> ForkServerContext:
    """multiprocessing's fork server, to import this module and ``preload`` when it starts."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, *preload])
    return context


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


# Workers asked for beyond this many a core are not started: more cannot hash faster, and
# a typo ("--processes 10000") would otherwise start every one of them at once.
MOST_PER_CORE = 8


def worker_count(asked: int | None) -> int:
    """How many workers to use when ``asked`` for so many (None: one a core): at least one,
    at most MOST_PER_CORE a core."""
    cores = default_workers()
    return max(1, min(asked or cores, MOST_PER_CORE * cores))


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
