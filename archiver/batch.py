"""Batch ingest: a spreadsheet of descriptions -> one bag per row in a collection.

    read and check the whole sheet (archiver.sheet: a bad header stops everything, a bad
    row only itself) -> [--dry-run: report, write nothing] -> the rows not journalled yet
    bagged in parallel (make_bag, a few rows per task, on worker processes) -> each
    task's bags journalled as they land -> the rows that failed written back as an errors sheet.

Resumable: the collection's batch journal (collection/journal.py) records each row's bag
once it is in the collection; run the same sheet again and only what is missing is
bagged. Every bag appears whole or not at all (make_bag's staging and rename). A bag found
in the collection under a row's id that the journal does not know of -- a run killed
between the rename and the journal's commit, or a bag made by hand -- is validated and
adopted when it is valid and holds exactly the row's files; otherwise the row fails.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver import faults
from archiver.bagit import hashing
from archiver.clock import Clock, w3cdtf
from archiver.collection.bags import RECORDS_DIR
from archiver.collection.journal import JOURNAL_FILE, Journal
from archiver.errors import (
    ArchiverError,
    BagExistsError,
    BagWriteError,
    StoreError,
    UsageError,
)
from archiver.given import given_path
from archiver.sheet import ERROR_COLUMN, Job, RowProblem, Sheet, read_sheet
from archiver.staging import CommitGroup, check_outside_bags, fsync_directory

if TYPE_CHECKING:  # the profile engine is imported only for a batch that names a profile
    from concurrent.futures import ProcessPoolExecutor

    from archiver.check.profile import Profile

# What the workers' fork server imports when it starts, before any row reaches a worker:
# the bagging code (packing: the writer, lxml, METS, PREMIS), not only this module.
_PRELOAD = [__name__, "archiver.packing"]
BATCHES_DIR = "batches"  # COLLECTION/.archiver/batches/<sheet>-errors.csv
Progress = Callable[[int, int], None]  # rows done, rows to do


@dataclass(frozen=True)
class RowBag:
    """A row's bag: made now, adopted (found made), or made by an earlier run."""

    row: int
    bag_id: str
    path: Path
    how: str  # "bagged", "adopted", "journalled"

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "id": self.bag_id, "path": str(self.path), "how": self.how}


@dataclass
class BatchResult:
    """What a batch did (or, dry, would do)."""

    sheet: Sheet
    collection: Path
    dry_run: bool
    bags: list[RowBag] = field(default_factory=list)
    failures: list[RowProblem] = field(default_factory=list)  # the sheet's and the run's
    errors_sheet: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        counts = {how: sum(1 for b in self.bags if b.how == how) for how in _HOWS}
        return {
            "sheet": str(self.sheet.path),
            "kind": self.sheet.kind,
            "collection": str(self.collection),
            "dry_run": self.dry_run,
            "rows": self.sheet.rows,
            "to_bag": len(self.sheet.jobs),
            **counts,
            "failed": len({p.row for p in self.failures}),
            "bags": [b.to_json() for b in sorted(self.bags, key=lambda b: b.row)],
            "problems": [p.to_json() for p in self.failures],
            "warnings": list(self.sheet.warnings),
            "errors_sheet": None if self.errors_sheet is None else str(self.errors_sheet),
        }


_HOWS = ("bagged", "adopted", "journalled")


def _journalled(sheet: Sheet, collection: Path, result: BatchResult) -> None:
    """A dry run's look at the journal, read without writing: the rows an earlier run of
    this sheet bagged, which a real run would not bag again. Nothing when there is no
    journal, or it cannot be read."""
    path = collection / RECORDS_DIR / JOURNAL_FILE
    if not path.is_file():
        return
    try:
        journal = Journal(path, read_only=True)
        try:
            done = journal.done(sheet.digest)
        finally:
            journal.close()
    except StoreError:
        return
    for job in sheet.jobs:
        if job.row in done:
            bag_id = done[job.row]
            result.bags.append(RowBag(job.row, bag_id, collection / bag_id, "journalled"))


def run_batch(
    sheet: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    dry_run: bool = False,
    profile: Profile | str | os.PathLike[str] | None = None,
    algorithms_: Sequence[str] | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
    fork: bool = False,
) -> BatchResult:
    """Bag every good row of ``sheet`` into the collection ``out`` (module docstring).

    ``root``: where sources may be (default: the sheet's folder); ``jobs``: rows bagged at
    once, each on a worker process (default: every core; 1 bags here). ``dry_run`` checks
    everything and writes nothing. ``profile`` (a BagIt profile or its file) and
    ``algorithms_`` build every bag to that profile (archiver.profiles), a row's tag-file
    columns giving its tags. UsageError when the sheet cannot be read or has a column it
    does not know; the rows' problems are in the result, never raised.

    ``fork``: the workers may be forked from this process, as the batch starts, when it
    runs one thread (hashing.process_pool): for a caller that holds no lock or file a
    worker must not share, as the CLI. Otherwise the fork server starts them."""
    if jobs is not None and jobs < 1:
        raise UsageError(f"a batch needs at least 1 job, not {jobs}")
    if profile is not None:
        from archiver.check.profile import Profile, load_profile

        if not isinstance(profile, Profile):
            profile = load_profile(Path(profile))
    # Where the bags go, checked before any worker starts or the sheet is read.
    collection = given_path(out, "the collection")
    if collection.exists() and not collection.is_dir():
        raise UsageError(f"{collection}: not a directory")
    check_outside_bags(collection)  # its journal, its bags: never inside another bag
    count = hashing.worker_count(jobs)
    pool: ProcessPoolExecutor | None = None
    if not dry_run and count > 1:
        # The workers start while the sheet is checked, not after, and import the bagging
        # code meanwhile: forked from here when the caller allows it and this process runs
        # one thread (nothing of the batch is open yet), else by the fork server, started
        # now (a fresh interpreter).
        if fork and hashing.single_threaded():
            pool = hashing.process_pool(count, _PRELOAD, fork=True, pin=True)
        else:
            hashing.start_pool_server(_PRELOAD)
    try:
        # The rows' own checks run on the workers, when they are there already.
        read = read_sheet(sheet, root=root, profile=profile, algorithms_=algorithms_, executor=pool)
        if pool is not None and hashing.broken(pool):  # a worker died: a new pool bags
            hashing.close_pool(pool)
            pool = None
        result = BatchResult(read, collection, dry_run, failures=list(read.problems))
        if dry_run:
            _journalled(read, collection, result)
            return result
        clock = clock or Clock.from_environment()
        try:
            (collection / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {collection / RECORDS_DIR}: {exc.strerror}") from exc
        journal = Journal(collection / RECORDS_DIR / JOURNAL_FILE)
        try:
            build = _Build(clock, profile, tuple(algorithms_) if algorithms_ else None)
            _Run(read, collection, journal, build, result, progress).execute(count, pool)
        finally:
            journal.close()
    finally:
        if pool is not None:  # shut down by the run already, unless it never began
            hashing.close_pool(pool)
    result.failures.sort(key=lambda p: (p.row, p.column))
    result.errors_sheet = _write_errors(read, collection, result.failures)
    return result


class _Run:
    def __init__(
        self,
        sheet: Sheet,
        collection: Path,
        journal: Journal,
        build: _Build,
        result: BatchResult,
        progress: Progress | None,
    ) -> None:
        self.sheet = sheet
        self.collection = collection
        self.journal = journal
        self.build = build
        self.result = result
        self.progress = progress

    def execute(self, count: int, pool: ProcessPoolExecutor | None = None) -> None:
        """Bag the rows not journalled yet, ``count`` at once: on ``pool`` when given (this
        shuts it down), or on pools of its own; in this process for one."""
        done = self.journal.done(self.sheet.digest)
        todo: list[Job] = []
        for job in self.sheet.jobs:
            if job.row in done:
                bag_id = done[job.row]
                self.result.bags.append(
                    RowBag(job.row, bag_id, self.collection / bag_id, "journalled")
                )
            else:
                todo.append(job)
        total, finished = len(todo), 0
        if self.progress:
            self.progress(0, total)
        for group in self._outcomes(todo, count, pool):
            self._settle(group)
            finished += len(group)
            if self.progress:
                self.progress(finished, total)

    def _outcomes(
        self, todo: list[Job], count: int, first: ProcessPoolExecutor | None
    ) -> Iterator[list[_Outcome]]:
        """(job, outcome) pairs as rows' bags are made, a task's rows at a time, in the
        order the tasks finish. ``first``: the pool to use first (shut down here)."""
        size = min(count, len(todo))
        # Several rows a task: the parent's work per task (sending it, journalling what
        # comes back) competes with the workers for the same cores, and a task's bags are
        # flushed to disk together (bag_rows).
        per_task = max(1, min(_ROWS_PER_TASK, len(todo) // (max(size, 1) * 4)))
        if size <= 1:
            if first is not None:
                hashing.close_pool(first)
            for start in range(0, len(todo), per_task):
                group = todo[start : start + per_task]
                outcomes = bag_rows(group, str(self.collection), self.build)
                yield list(zip(group, outcomes, strict=True))
            return
        # A worker that dies (killed, out of memory) breaks the pool and every task in it.
        # Their rows are tried again on a new pool, one at a time and alone in it, so that
        # a row whose worker dies again is the one to blame: it fails, no other with it.
        queue: deque[Job] = deque(todo)
        broke: dict[int, int] = {}  # row -> pools it was in when they broke
        while queue:
            # A new pool, after one broke, comes from the fork server: this process holds
            # the journal's database open now, which a forked worker would inherit.
            pool, first = first or hashing.process_pool(size, _PRELOAD, pin=True), None
            pending: dict[Future[list[tuple[str, str, str]]], list[Job]] = {}
            broken = False
            try:
                while queue or pending:
                    while queue and not broken and len(pending) < size * 2:  # a few ahead
                        if queue[0].row in broke and pending:
                            break  # it waits to run alone
                        group = _take(queue, per_task, broke)
                        try:
                            future = pool.submit(bag_rows, group, str(self.collection), self.build)
                        except BrokenExecutor:  # (counted against the rows: no endless loop)
                            broken = True
                            if failed := _requeue(group, broke, queue, front=True):
                                yield failed
                            continue
                        pending[future] = group
                        if group[0].row in broke:
                            break  # alone: nothing else until it is done
                    if not pending:
                        break  # broken: a new pool for the rows queued
                    ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in ready:
                        group = pending.pop(future)
                        try:
                            outcomes = future.result()
                        except BrokenExecutor:
                            broken = True
                            if failed := _requeue(group, broke, queue, front=False):
                                yield failed
                            continue
                        yield list(zip(group, outcomes, strict=True))
            finally:
                hashing.close_pool(pool)

    def _settle(self, group: list[_Outcome]) -> None:
        """Take a task's outcomes into the result; journal its bags in one transaction."""
        landed: list[tuple[int, str, str]] = []
        for job, (what, where, detail) in group:
            if what == "exists":
                what, detail = _adopt(job, Path(where))
            if what in ("bagged", "adopted"):
                path = Path(where)
                landed.append((job.row, path.name, what))
                self.result.bags.append(RowBag(job.row, path.name, path, what))
            else:
                self.result.failures.append(RowProblem(job.row, "", detail))
        if landed:
            self.journal.record(self.sheet.digest, landed, w3cdtf(self.build.clock.now()))


_Outcome = tuple[Job, tuple[str, str, str]]
_ROWS_PER_TASK = 8


def _take(queue: deque[Job], most: int, broke: dict[int, int]) -> list[Job]:
    """Up to ``most`` rows from the front of ``queue``; a row that was in a broken pool
    goes alone."""
    group = [queue.popleft()]
    if group[0].row in broke:
        return group
    while queue and len(group) < most and queue[0].row not in broke:
        group.append(queue.popleft())
    return group


def _requeue(
    group: list[Job], broke: dict[int, int], queue: deque[Job], *, front: bool
) -> list[_Outcome]:
    """The rows of a task whose pool broke: queued again (at the front, or the back), or,
    the second time, failed: their outcomes."""
    again = [job for job in group if _again(broke, job)]
    if front:
        queue.extendleft(reversed(again))
    else:
        queue.extend(again)
    retried = {job.row for job in again}
    return [(job, _DIED_TWICE) for job in group if job.row not in retried]


_DIED_TWICE = ("failed", "", "its worker process died, twice")


def _again(broke: dict[int, int], job: Job) -> bool:
    """Count a broken pool against the row; whether it may be tried once more."""
    broke[job.row] = broke.get(job.row, 0) + 1
    return broke[job.row] < 2


@dataclass(frozen=True)
class _Build:
    """How every row's bag is made (sent to each worker with its row)."""

    clock: Clock
    profile: Profile | None = None
    algorithms: tuple[str, ...] | None = None


def bag_rows(jobs: Sequence[Job], out: str, build: _Build) -> list[tuple[str, str, str]]:
    """The task a worker runs: make several rows' bags, one after the other, each staged
    whole; then flush them to disk together and move each into place (a CommitGroup: two
    flushes for the task, not two a bag). Each row's outcome as bag_row gives it."""
    with CommitGroup() as group:
        made = [bag_row(job, out, build, group) for job in jobs]
        try:
            missed = group.commit()
        except Exception as exc:  # a bug: the group's rows fail, never the batch
            why = f"unexpected {type(exc).__name__}: {_one_line(str(exc))}"
            return [("failed", "", why) if o[0] == "bagged" else o for o in made]
    return [_moved(outcome, missed) for outcome in made]


def _moved(
    outcome: tuple[str, str, str], missed: dict[Path, BagWriteError | BagExistsError]
) -> tuple[str, str, str]:
    """A row's outcome once its group committed: a bag whose move failed is not made."""
    what, where, _ = outcome
    exc = missed.get(Path(where)) if what == "bagged" else None
    if exc is None:
        return outcome
    if isinstance(exc, BagExistsError):
        return "exists", where, str(exc)
    return "failed", "", _one_line(str(exc))


def bag_row(
    job: Job, out: str, build: _Build, group: CommitGroup | None = None
) -> tuple[str, str, str]:
    """Make one row's bag (moved into place now, or held by ``group``). ("bagged", its
    path, ""), ("exists", what holds its place, why) or ("failed", "", why): never an
    exception, so one row's trouble stays its own."""
    from archiver.packing import make_bag

    faults.point(f"batch.row-{job.row}")  # the tests' row whose worker always dies
    try:
        made = make_bag(
            list(job.sources),
            out,
            record=job.record,
            bag_id=job.bag_id,
            clock=build.clock,
            workers=1,
            profile=build.profile,
            algorithms_=build.algorithms,
            tags=job.tag_values(),
            group=group,
        )
    except BagExistsError as exc:
        return "exists", os.fspath(exc.path or ""), str(exc)
    except ArchiverError as exc:
        return "failed", "", _one_line(str(exc))
    except Exception as exc:
        return "failed", "", f"unexpected {type(exc).__name__}: {_one_line(str(exc))}"
    return "bagged", str(made.path), ""


def _adopt(job: Job, existing: Path) -> tuple[str, str]:
    """("adopted", "") when the bag at ``existing`` is valid and holds exactly the row's
    files (by SHA-256); else ("failed", why)."""
    from archiver.sources import plan_payload
    from archiver.validation import inspect_bag

    if not existing.name or not existing.is_dir():
        return "failed", f"{existing} holds this row's place and is not a bag folder"
    try:
        inspection = inspect_bag(existing)
    except ArchiverError as exc:
        return "failed", f"{existing} is there already and cannot be read: {exc}"
    if not inspection.report.valid:
        return "failed", f"{existing} is there already and is not a valid bag: validate it"
    held = dict(inspection.payload_manifests.get("sha256", {}))
    try:
        wanted = {
            item.path: hashing.digest_file(
                Path(str(item.source)), ["sha256"], follow_symlinks=True
            ).digests["sha256"]
            for item in plan_payload(list(job.sources))
        }
    except (ArchiverError, OSError) as exc:
        return "failed", f"cannot read the row's sources again: {exc}"
    if held != wanted:
        return "failed", f"{existing} is there already and holds other files than this row's"
    return "adopted", ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _write_errors(sheet: Sheet, collection: Path, failures: list[RowProblem]) -> Path | None:
    """The failed rows, as given, with an error column, as
    COLLECTION/.archiver/batches/<sheet>-errors.csv (written whole, then renamed into
    place); a stale one of an earlier run is removed when nothing failed."""
    folder = collection / RECORDS_DIR / BATCHES_DIR
    target = folder / f"{sheet.path.stem}-errors.csv"
    if not failures:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        return None
    reasons: dict[int, list[str]] = {}
    for problem in failures:
        text = f"{problem.column}: {problem.message}" if problem.column else problem.message
        reasons.setdefault(problem.row, []).append(text)
    headers = list(sheet.headers)
    error_at = headers.index(ERROR_COLUMN) if ERROR_COLUMN in headers else None
    if error_at is None:
        headers.append(ERROR_COLUMN)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in sorted(reasons):
        cells = list(sheet.cells.get(row, []))
        cells += [""] * (len(sheet.headers) - len(cells))
        reason = "; ".join(reasons[row])
        if error_at is None:
            cells.append(reason)
        else:
            cells[error_at] = reason
        writer.writerow(cells)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        scratch = folder / f".{target.name}.new"
        with open(scratch, "w", encoding="utf-8-sig", newline="") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, target)
        fsync_directory(folder)
    except OSError as exc:
        raise UsageError(f"cannot write the errors sheet {target}: {exc.strerror}") from exc
    return target


__all__ = ["BatchResult", "RowBag", "run_batch"]
