"""Integrity verification runs over a collection: fixity audits with a history.

    bags in the collection -> which to check (never-checked first; or only the stale)
    -> per bag: structure and completeness (check.bag), then every file hashed
       (here, on worker threads, on the caller's executor or on a Dask cluster) -> each
       result written to the ledger as it arrives -> per bag a verdict -> the run report
       (JSON, HTML, PREMIS events).

Only this process (the coordinator) writes the ledger; workers only hash. A run that is
killed is resumed by the next one: what it recorded is kept and not checked again. Nothing
inside a bag is ever written.

Nothing here forks: a library call behaves the same in the CLI, in a threaded server and on
a Dask worker, and the ledger's lock never lives on in a child of a killed coordinator.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

from archiver import faults
from archiver.bagit import hashing
from archiver.bagit.archives import ArchiveFiles
from archiver.bagit.files import FolderFiles
from archiver.check.bag import Inspection, Mode, check_bag, checksum_mismatch, unreadable
from archiver.clock import Clock, w3cdtf
from archiver.codes import Severity
from archiver.collection import bags, withdrawal
from archiver.collection.ledger import BagCheck, BagStatus, FileCheck, Ledger, Outcome
from archiver.collection.report import AuditReport, BagOutcome
from archiver.collection.withdrawal import Tombstone
from archiver.errors import CollectionError, UsageError
from archiver.findings import Finding, finding, finding_from_json
from archiver.version import AGENT

# Files per task and bytes per task: small enough to record results often (a killed run
# loses little), big enough that task overhead stays small.
BATCH_FILES = 64
BATCH_BYTES = 64 << 20

# bag folder (or .tar), bag path, algorithms, and in a .tar the member's (offset, size)
Job = tuple[str, str, tuple[str, ...], "tuple[int, int] | None"]
Hashed = tuple["dict[str, str] | str", float]  # digests or why not, seconds


def hash_batch(batch: list[Job]) -> list[Hashed]:
    """The task workers run: digest each file (never through a link; a .tar's member where
    it lies in the archive), timing each."""
    results: list[Hashed] = []
    for root, path, names, where in batch:
        started = time.perf_counter()
        if where is None:
            digests = hashing.digest_bag_file(FolderFiles(root), path, names)
        else:
            from archiver.bagit.archives import digest_slice

            digests = digest_slice(root, (path, names, *where), None)
        results.append((digests, time.perf_counter() - started))
    return results


# -- engines: where the hashing runs --------------------------------------------------------


class _Pending(Protocol):
    def result(self) -> list[Hashed]: ...


class Engine(Protocol):
    def submit(self, batch: list[Job]) -> _Pending: ...

    def close(self) -> None: ...


class InlineEngine:
    """One worker: hash here, now."""

    def submit(self, batch: list[Job]) -> _Pending:
        future: Future[list[Hashed]] = Future()
        future.set_result(hash_batch(batch))
        return future

    def close(self) -> None:
        """Nothing to stop."""


class ExecutorEngine:
    """Hashing on a ``concurrent.futures.Executor``: the caller's (left running when the
    audit ends) or one the audit made for itself (shut down when it ends)."""

    def __init__(self, executor: Executor, *, owned: bool) -> None:
        self.executor = executor
        self.owned = owned

    def submit(self, batch: list[Job]) -> _Pending:
        return self.executor.submit(hash_batch, batch)

    def close(self) -> None:
        if self.owned:
            hashing.close_pool(self.executor)


class DaskEngine:
    """A Dask distributed cluster (``archiver[distributed]``): workers must see the same files.

    A worker that dies takes its running tasks with it; the scheduler runs them again
    elsewhere, and each task's result still reaches this coordinator exactly once.
    """

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise UsageError(
                "auditing on a Dask scheduler needs Dask distributed: "
                "pip install 'archiver[distributed]'"
            ) from exc
        try:
            # A scheduler that does not answer within seconds is not there: say so quickly.
            self.client = Client(address, timeout=10)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        except (ValueError, TypeError) as exc:  # what Dask says of an address it cannot parse
            raise UsageError(
                f"{address!r} is not a Dask scheduler's address (tcp://HOST:PORT): {exc}"
            ) from exc

    def submit(self, batch: list[Job]) -> _Pending:
        pending: _Pending = self.client.submit(hash_batch, batch, pure=False, retries=3)
        return pending

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def make_engine(workers: int, scheduler: str | None, executor: Executor | None) -> Engine:
    if scheduler:
        return DaskEngine(scheduler)
    if executor is not None:
        return ExecutorEngine(executor, owned=False)
    if workers <= 1:
        return InlineEngine()
    # Threads, not processes: hashlib releases the GIL while it digests (a worker holds it
    # for under a tenth of its time on 512 KiB files), threads start at once and import
    # nothing, and a lock or a descriptor of this process never outlives it in a child.
    threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="archiver-audit")
    return ExecutorEngine(threads, owned=True)


Progress = Callable[[int, int, int], None]  # bags done, bags to check, bytes hashed


# -- the run ----------------------------------------------------------------------------------


@dataclass
class _BagWork:
    """One bag on its way through the pipeline."""

    id: str
    place: bags.Place
    inspection: Inspection
    started: float
    batches_left: int = 0
    files: int = 0
    size: int = 0


class _Lock:
    """Only one audit of a ledger at a time: a POSIX record lock on a file beside it.

    Not flock(2): a record lock belongs to the process, so the kernel drops it when the
    process ends however it ends (kill -9 included), and a child forked while it is held
    does not inherit it. Whatever the caller forks (a fork-context process pool, a server's
    workers), no other process ever holds the audit's lock. Because record locks do not
    keep two threads of one process apart, this process also notes the locks it holds; and
    since closing any descriptor of the file would drop the lock, the file is opened only
    by the thread that takes it.
    """

    _held: ClassVar[set[tuple[int, int]]] = set()
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, ledger_path: Path) -> None:
        path = ledger_path.with_name(ledger_path.name + ".lock")
        busy = CollectionError(f"another audit is running on this ledger ({path})")
        with self._guard:
            if _identity(path) in self._held:
                raise busy
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # O_CLOEXEC: no program this process starts is handed the descriptor.
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise CollectionError(f"cannot open the audit lock {path}: {exc.strerror}") from exc
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    raise busy from exc
                raise CollectionError(f"cannot lock {path}: {exc.strerror}") from exc
            stat = os.fstat(fd)
            self.fd, self.identity = fd, (stat.st_dev, stat.st_ino)
            self._held.add(self.identity)

    def release(self) -> None:
        with self._guard:
            os.close(self.fd)  # the record lock goes with it
            self._held.discard(self.identity)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def run_audit(
    root: Path,
    ledger_path: Path,
    *,
    older_than: timedelta | None,
    workers: int | None,
    scheduler: str | None,
    executor: Executor | None,
    clock: Clock,
    progress: Progress | None,
    only: Sequence[str] | None = None,
) -> AuditReport:
    """Audit every bag of the collection at ``root`` (those due, with ``older_than``; only
    those named, with ``only``), recording it in the ledger at ``ledger_path``.
    Collection.audit documents the options."""
    found = bags.places(root)
    if only is not None:
        absent = sorted(set(only) - set(found))
        if absent:
            raise CollectionError(f"not a bag of the collection {root}: {', '.join(absent)}")
    lock = _Lock(ledger_path)
    try:
        ledger = Ledger(ledger_path, create=True)
        try:
            return _Run(root, found, ledger, clock, progress, only).execute(
                older_than, hashing.worker_count(workers), scheduler, executor
            )
        finally:
            ledger.close()
    finally:
        lock.release()


class _Run:
    def __init__(
        self,
        root: Path,
        places: dict[str, list[bags.Place]],
        ledger: Ledger,
        clock: Clock,
        progress: Progress | None,
        only: Sequence[str] | None = None,
    ) -> None:
        self.root = root
        self.only = None if only is None else set(only)  # the bags to check: all, or these
        self.places = places
        self.ids = sorted(places)
        self.ledger = ledger
        self.clock = clock
        self.progress = progress
        self.hashed = 0
        self.stones: dict[str, Tombstone] | None = None

    def now(self) -> str:
        return w3cdtf(self.clock.now())

    def execute(
        self,
        older_than: timedelta | None,
        workers: int,
        scheduler: str | None,
        executor: Executor | None,
    ) -> AuditReport:
        options = {
            "older_than_days": None if older_than is None else older_than / timedelta(days=1),
            "workers": workers,
            "scheduler": scheduler,
            **({} if self.only is None else {"bags": sorted(self.only)}),
        }
        # The engine first: a run that cannot start (no scheduler) is never recorded.
        engine = make_engine(workers, scheduler, executor)
        try:
            return self._execute(options, engine, older_than, workers)
        finally:
            engine.close()

    def _execute(
        self, options: dict[str, Any], engine: Engine, older_than: timedelta | None, workers: int
    ) -> AuditReport:
        previous = self.ledger.unfinished_run()
        if previous is not None and self.only is not None:
            raise CollectionError(
                f"audit run {previous.id} was interrupted: audit the whole collection to "
                "finish it before checking single bags"
            )
        run = previous or self.ledger.start_run(self.now(), AGENT, socket.gethostname(), options)
        self.run_id = run.id
        report = AuditReport(
            str(self.root), str(self.ledger.path), run.id, previous is not None, run.started_at
        )
        self.ledger.saw_bags(self.ids, run.id, run.started_at)
        self.known = self.ledger.known_bags()
        # New to the ledger in this run: still new when the run is resumed.
        self.new = {b for b in self.ids if self.known[b].first_run == run.id}
        # Bags the ledger knows whose folder is still here without bagit.txt.
        self.former = {b for b in self.known if b not in self.ids and bags.is_folder(self.root / b)}
        checkable = {*self.ids, *self.former}
        done = set()
        for check in self.ledger.run_checks(run.id):  # finished before the run was interrupted
            if check.finished_at is not None and _kind(check) == self._kind_now(check.bag_id):
                done.add(check.bag_id)
                report.bags.append(_outcome(check))
        # Every other bag the ledger knows has left: missing (on every run until it comes
        # back) or withdrawn (told once). Decided afresh when a run is resumed, so a bag
        # checked before the interruption that has gone since is not reported intact.
        for bag_id in sorted(set(self.known) - checkable if self.only is None else ()):
            gone = self._gone(bag_id)
            if gone is not None:
                report.bags.append(gone)
        candidates = sorted(checkable - done if self.only is None else self.only - done)
        due = self._due(candidates, older_than)
        report.skipped = len(candidates) - len(due)
        for number, outcome in enumerate(self._pipeline(due, engine, workers), 1):
            report.bags.append(outcome)
            if self.progress:
                self.progress(len(done) + number, len(done) + len(due), self.hashed)
        report.finished = self.now()
        report.hashed = self.hashed
        self.ledger.finish_run(run.id, report.finished)
        report.bags.sort(key=lambda bag: bag.id)
        return report

    def _kind_now(self, bag_id: str) -> str:
        return "bag" if bag_id in self.ids else "former" if bag_id in self.former else "gone"

    def _gone(self, bag_id: str, *, now: bool = False) -> BagOutcome | None:
        """The verdict on a bag the ledger knows that has left the collection, recorded;
        None for a withdrawal an earlier run has told of already, unless it left ``now``
        (while this run checked it)."""
        known = self.known[bag_id]
        stone = self._withdrawal(bag_id, again=now)
        if stone is None:
            status = BagStatus.MISSING
            found = finding(
                "audit.bag.missing",
                "",
                f"{bag_id} has disappeared from the collection without being withdrawn",
                since=known.missing_since or self.now(),
            )
        elif not now and known.withdrawn_run not in (None, self.run_id):
            return None
        else:
            status = BagStatus.WITHDRAWN
            found = finding(
                "audit.bag.withdrawn",
                "",
                f"{bag_id} was withdrawn from the collection: {stone.reason}",
                withdrawn_at=stone.withdrawn_at,
            )
        self.ledger.gone_bag(
            self.run_id, bag_id, when=self.now(), status=status, findings=[found.to_json()]
        )
        return BagOutcome(bag_id, status, findings=[found])

    def _withdrawal(self, bag_id: str, *, again: bool) -> Tombstone | None:
        """The withdrawal that took the bag away: a tombstone no older than the last time
        the ledger saw it here (an older one is of a bag of that name withdrawn before).
        The tombstones are read once a run, and ``again`` when a bag left during it."""
        if again or self.stones is None:
            # Oldest first: the last of an id is its latest withdrawal.
            self.stones = {t.id: t for t in withdrawal.tombstones(self.root)}
        stone = self.stones.get(bag_id)
        seen = self.known[bag_id].last_seen or ""
        return stone if stone is not None and stone.withdrawn_at >= seen else None

    def _due(self, candidates: list[str], older_than: timedelta | None) -> list[str]:
        """Bags to check: never-checked first, then the longest unchecked; all, or the stale.
        A folder that is no longer a bag is always due: it is reported until it is mended."""
        last = self.ledger.last_success()
        if older_than is not None:
            limit = w3cdtf(self.clock.now() - older_than)
            candidates = [
                b for b in candidates if b in self.former or b not in last or last[b] < limit
            ]
        return sorted(candidates, key=lambda b: (b in last, last.get(b, ""), b))

    # -- the pipeline: prepare bags, hash in batches, record, judge -------------------------

    def _pipeline(self, due: Sequence[str], engine: Engine, workers: int) -> Iterator[BagOutcome]:
        window = max(2, workers * 4)
        pending: deque[tuple[_BagWork, list[tuple[str, str, tuple[str, ...]]], _Pending]] = deque()
        for bag_id in due:
            work = self._prepare(bag_id)
            batches = self._batches(work)
            if not batches:
                yield self._judge(work)
                continue
            work.batches_left = len(batches)
            files = work.inspection.bag.files
            in_order = None
            if isinstance(files, ArchiveFiles) and not files.sliceable:
                # A compressed archive is read front to back once, here: each batch's
                # digests are taken from that one pass as the batch is collected.
                in_order = _InOrder(files, [(rel, names) for b in batches for _, rel, names in b])
            for batch in batches:
                if in_order is not None:
                    pending.append((work, batch, in_order.batch([rel for _, rel, _ in batch])))
                else:
                    jobs: list[Job] = [
                        (str(work.place.path), rel, names, _slice(files, rel))
                        for _, rel, names in batch
                    ]
                    pending.append((work, batch, engine.submit(jobs)))
                while len(pending) >= window:
                    yield from self._collect(pending.popleft())
        while pending:
            yield from self._collect(pending.popleft())

    def _prepare(self, bag_id: str) -> _BagWork:
        held = self.places.get(bag_id)
        # a folder the ledger knows that lost its bagit.txt is checked as the folder it is
        place = held[0] if held else bags.Place(bag_id, self.root / bag_id)
        self.ledger.start_bag(self.run_id, bag_id, self.now())
        inspection = check_bag(place.files_or_damage(), mode=Mode.COMPLETENESS, workers=1)
        return _BagWork(bag_id, place, inspection, time.perf_counter())

    def _batches(self, work: _BagWork) -> list[list[tuple[str, str, tuple[str, ...]]]]:
        """Files still to hash for this bag (a resumed run skips what it recorded)."""
        inspection = work.inspection
        recorded = {(c.path, c.algorithm) for c in self.ledger.file_checks(self.run_id, work.id)}
        self._record_missing(work, recorded)
        algorithms_of = _algorithms(inspection)
        batches: list[list[tuple[str, str, tuple[str, ...]]]] = []
        batch: list[tuple[str, str, tuple[str, ...]]] = []
        weight = 0
        files = {**inspection.inventory.tags, **inspection.inventory.payload}
        for rel in sorted(files):
            names = tuple(n for n in algorithms_of(rel) if (rel, n) not in recorded)
            if not names:
                continue
            size = files[rel]
            work.files += 1
            work.size += size
            if batch and (len(batch) >= BATCH_FILES or weight + size > BATCH_BYTES):
                batches.append(batch)
                batch, weight = [], 0
            batch.append((work.id, rel, names))
            weight += size
        if batch:
            batches.append(batch)
        return batches

    def _record_missing(self, work: _BagWork, recorded: set[tuple[str, str]]) -> None:
        """Files the manifests list but the bag lacks: recorded as checks too."""
        inventory = work.inspection.inventory
        checks = [
            FileCheck(work.id, path, name, digest, None, Outcome.MISSING)
            for manifests, present in (
                (work.inspection.payload_manifests, inventory.payload),
                (work.inspection.tag_manifests, inventory.tags),
            )
            for name, entries in sorted(manifests.items())
            for path, digest in sorted(entries.items())
            if path not in present and (path, name) not in recorded
        ]
        if checks:
            self.ledger.record_files(self.run_id, checks, self.now(), AGENT)

    def _collect(
        self, item: tuple[_BagWork, list[tuple[str, str, tuple[str, ...]]], _Pending]
    ) -> Iterator[BagOutcome]:
        work, batch, pending = item
        outcomes = pending.result()
        faults.point("auditing.batch-hashed")  # digests in hand, not yet in the ledger
        checks: list[FileCheck] = []
        for (_, rel, names), (result, seconds) in zip(batch, outcomes, strict=True):
            expected = _expected(work.inspection, rel)
            for name in names:
                want = expected.get(name)
                if isinstance(result, str):
                    checks.append(
                        FileCheck(work.id, rel, name, want, None, Outcome.UNREADABLE, seconds)
                    )
                    continue
                got = result[name]
                outcome = (
                    Outcome.UNLISTED
                    if want is None
                    else Outcome.OK
                    if got == want
                    else Outcome.CHANGED
                )
                checks.append(FileCheck(work.id, rel, name, want, got, outcome, seconds))
            if not isinstance(result, str):
                self.hashed += work.inspection.inventory.size_of(rel) or 0
        self.ledger.record_files(self.run_id, checks, self.now(), AGENT)
        work.batches_left -= 1
        if work.batches_left == 0:
            yield self._judge(work)

    def _judge(self, work: _BagWork) -> BagOutcome:
        """The bag's verdict from its structure and every recorded file check."""
        if not work.place.present():  # it left while it was being checked
            gone = self._gone(work.id, now=True)
            assert gone is not None  # a bag that left now is always told of
            return gone
        findings = list(work.inspection.report.findings)
        for check in self.ledger.file_checks(self.run_id, work.id):
            found = _check_finding(check, work.inspection)
            if found is not None:
                findings.append(found)
        if work.id in self.former:
            findings.append(
                finding(
                    "audit.bag.no-longer-a-bag",
                    "",
                    f"{work.id} is no longer a bag: its folder is here, without bagit.txt",
                )
            )
        others = self.places.get(work.id, [])[1:]
        if others:
            findings.append(
                finding(
                    "audit.bag.ambiguous",
                    "",
                    f"{work.id} is held by {work.place.path.name} and by "
                    f"{', '.join(p.path.name for p in others)}: {work.place.path.name} was "
                    "checked; move the others out of the collection",
                    checked=work.place.path.name,
                )
            )
        if work.id in self.new:
            findings.append(finding("audit.bag.new", "", f"{work.id} is new to the ledger"))
        damaged = any(f.severity is Severity.ERROR for f in findings)
        status = (
            BagStatus.DAMAGED
            if damaged
            else BagStatus.NEW
            if work.id in self.new
            else BagStatus.INTACT
        )
        seconds = time.perf_counter() - work.started
        inventory = work.inspection.inventory
        files, size = len(inventory.payload), sum(inventory.payload.values())
        self.ledger.finish_bag(
            self.run_id,
            work.id,
            when=self.now(),
            status=status,
            files=files,
            size=size,
            seconds=seconds,
            findings=[f.to_json() for f in findings],
        )
        faults.point("auditing.bag-recorded")
        return BagOutcome(work.id, status, files, size, seconds, findings)


def _slice(files: object, rel: str) -> tuple[int, int] | None:
    """Where a .tar's member lies in the archive (a worker digests it there); None for a
    folder's file."""
    return files.slice_of(rel) if isinstance(files, ArchiveFiles) else None


class _InOrder:
    """The digests of a compressed archive's members, taken in one front-to-back pass as
    batches ask for them (out-of-order ones kept until their batch is collected)."""

    def __init__(self, files: ArchiveFiles, jobs: list[tuple[str, tuple[str, ...]]]) -> None:
        self.jobs = jobs
        self.results = files.digests_in_order(jobs)
        self.started = time.perf_counter()
        self.ready: dict[str, dict[str, str] | str] = {}

    def batch(self, paths: list[str]) -> _Pending:
        return _Taken(self, paths)

    def take(self, paths: list[str]) -> list[Hashed]:
        if not all(rel in self.ready for rel in paths):
            for index, found in self.results:
                self.ready[self.jobs[index][0]] = found
                if all(rel in self.ready for rel in paths):
                    break
        now = time.perf_counter()
        seconds, self.started = (now - self.started) / max(len(paths), 1), now
        return [
            (self.ready.pop(rel, "the archive ends before this member"), seconds) for rel in paths
        ]


@dataclass
class _Taken:
    """One batch's share of an _InOrder pass, read when the batch is collected."""

    source: _InOrder
    paths: list[str]

    def result(self) -> list[Hashed]:
        return self.source.take(self.paths)


def _kind(check: BagCheck) -> str:
    """What a recorded check was made of: a bag, a folder no longer a bag, or neither."""
    if check.status.gone:
        return "gone"
    codes = {f.get("code") for f in check.findings}
    return "former" if "audit.bag.no-longer-a-bag" in codes else "bag"


def _algorithms(inspection: Inspection) -> Callable[[str], tuple[str, ...]]:
    """For a bag file, the algorithms to digest it with: its manifests' (unlisted payload
    files with every payload algorithm, so the ledger records what they are)."""
    payload_names = tuple(sorted(inspection.payload_manifests))

    def names(rel: str) -> tuple[str, ...]:
        if rel.startswith("data/"):
            return payload_names
        return tuple(sorted(n for n, entries in inspection.tag_manifests.items() if rel in entries))

    return names


def _expected(inspection: Inspection, rel: str) -> dict[str, str]:
    manifests = (
        inspection.payload_manifests if rel.startswith("data/") else inspection.tag_manifests
    )
    return {name: entries[rel] for name, entries in manifests.items() if rel in entries}


def _check_finding(check: FileCheck, inspection: Inspection) -> Finding | None:
    """A recorded check as the validator reports the same outcome."""
    if check.outcome == Outcome.CHANGED:
        payload = check.path.startswith("data/")
        manifest = next(
            m.name
            for m in inspection.bag.manifests
            if m.algorithm == check.algorithm and m.tag is not payload
        )
        return checksum_mismatch(check.path, check.algorithm, manifest, check.expected, check.found)
    if check.outcome == Outcome.UNREADABLE:
        return unreadable(check.path)
    return None


def _outcome(check: BagCheck) -> BagOutcome:
    """A bag check recorded in the ledger, as the report tells it."""
    return BagOutcome(
        check.bag_id,
        check.status,
        check.files or 0,
        check.bytes or 0,
        check.seconds or 0.0,
        [finding_from_json(f) for f in check.findings],
    )
