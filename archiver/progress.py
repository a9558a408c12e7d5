"""How long work tells how far it has got: bytes of files read, as they are done.

Every file a command reads for its digests -- bagging, validating, ingesting, the validation
an export starts with -- goes through ``hashing.run_each``, which tells the progress of the
calling context here: first the bytes it is about to read (``begin``), then each file's
bytes once it is done (``advance``). Nothing is told unless the caller asked, with
``reporting``: a context variable, so each thread (a request of a threaded server, a Dask
task) has its own, and library calls take no extra argument. The command line draws what it
is told as a progress bar on a terminal (``archiver.cli``).

The audit, whose hashing runs on threads or a Dask cluster, reports its own progress (bags,
bytes) through the callback ``Collection.audit`` takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Progress(Protocol):
    """What is told of work in bytes: more work is coming, some work is done."""

    def begin(self, total: int) -> None: ...

    def advance(self, done: int) -> None: ...


_current: ContextVar[Progress | None] = ContextVar("archiver_progress", default=None)


@contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Tell ``progress`` of the work done in this context until the block ends."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


def begin(total: int) -> None:
    """``total`` more bytes are about to be read (told to the context's progress, if any)."""
    progress = _current.get()
    if progress is not None:
        progress.begin(total)


def advance(done: int) -> None:
    """``done`` bytes were read (told to the context's progress, if any)."""
    progress = _current.get()
    if progress is not None:
        progress.advance(done)
