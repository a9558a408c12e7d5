"""Folders that appear whole or not at all.

A ``Staging`` folder is built beside its target (same file system, hidden name), flushed to
disk with one syncfs(2), then renamed into place with renameat2(2): RENAME_NOREPLACE for a
new target, RENAME_EXCHANGE to swap out an old one. A crash leaves at most a hidden
``.archiver-partial-*`` folder; it holds a lock while its builder lives, and the next build of
the same folder removes any partial folder whose lock is free (its builder is dead).
The final name is given only at commit, so a bag whose name depends on its content (a
derived identifier) is built the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
from pathlib import Path
from types import TracebackType

from archiver import faults
from archiver.errors import BagExistsError, BagWriteError

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """renameat2(2); False when the kernel or file system does not offer it."""
    function = getattr(_libc, "renameat2", None)
    if function is None:
        return False
    result = function(
        _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), ctypes.c_uint(flags)
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(code, os.strerror(code), os.fspath(target))


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step; False when the kernel or file system cannot."""
    return _renameat2(first, second, _RENAME_EXCHANGE)


def sync_filesystem(path: Path) -> None:
    """Flush all writes on ``path``'s file system: one syncfs(2), not an fsync per file."""
    function = getattr(_libc, "syncfs", None)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if function is None or function(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PARTIAL_PREFIX = ".archiver-partial-"


def remove_stale_partials(parent: Path) -> list[Path]:
    """Remove partial folders left in ``parent`` by builders that died; return what was removed."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for candidate in parent.iterdir():
        if not candidate.name.startswith(PARTIAL_PREFIX) or candidate.is_symlink():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live builder holds it
        try:
            shutil.rmtree(candidate)
            removed.append(candidate)
        finally:
            os.close(fd)
    return removed


def check_target(target: Path, *, replace: bool) -> None:
    """Refuse early when ``target`` exists and may not be replaced."""
    if not replace and (target.exists() or target.is_symlink()):
        raise BagExistsError(f"{target} already exists")


class Staging:
    """Build a folder in ``parent`` and move it into place whole.

    with Staging(parent) as staging:
        ... write into staging.path ...
        staging.commit(parent / name, replace=False)

    Leaving the block without commit() (an exception, Ctrl-C) removes the partial folder.
    """

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.path = parent / f"{PARTIAL_PREFIX}{secrets.token_hex(6)}"
        self._lock_fd: int | None = None

    def __enter__(self) -> Staging:
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(self.parent)
            self.path.mkdir()
            self._lock_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._cleanup()
            raise BagWriteError(f"cannot create {self.path}: {exc.strerror}") from exc
        return self

    def commit(self, target: Path, *, replace: bool = False) -> None:
        """Flush the staged folder to disk and move it to ``target`` (same parent)."""
        check_target(target, replace=replace)
        try:
            sync_filesystem(self.path)
            faults.point("staging.before-rename")
            if replace and (target.exists() or target.is_symlink()):
                self._exchange(target)
            else:
                self._rename_new(target)
            faults.point("staging.after-rename")
            fsync_directory(target.parent)
        except OSError as exc:
            raise BagWriteError(f"cannot move the bag into {target}: {exc}") from exc

    def commit_inner(self, name: str, target: Path) -> None:
        """Flush the staged folder and move its entry ``name`` (a file or a folder built
        inside it) to ``target``, never over an existing one; the rest is removed on exit."""
        check_target(target, replace=False)
        inner = self.path / name
        try:
            sync_filesystem(self.path)
            done = _renameat2(inner, target, _RENAME_NOREPLACE)
            if not done:
                if target.exists():
                    raise BagExistsError(f"{target} appeared while it was being built")
                os.rename(inner, target)
            fsync_directory(target.parent)
        except FileExistsError as exc:
            raise BagExistsError(f"{target} appeared while it was being built") from exc
        except OSError as exc:
            raise BagWriteError(f"cannot move the package into {target}: {exc}") from exc

    def _rename_new(self, target: Path) -> None:
        try:
            done = _renameat2(self.path, target, _RENAME_NOREPLACE)
        except FileExistsError as exc:
            raise BagExistsError(f"{target} appeared while the bag was being built") from exc
        if not done:
            if target.exists():
                raise BagExistsError(f"{target} appeared while the bag was being built")
            os.rename(self.path, target)

    def _exchange(self, target: Path) -> None:
        if not target.is_dir() or target.is_symlink():
            raise BagWriteError(f"{target} exists and is not a folder; not replacing it")
        if _renameat2(self.path, target, _RENAME_EXCHANGE):
            return  # the old bag now sits at self.path and is removed on exit
        # No atomic exchange here: move the old bag aside first, so it is never lost. The
        # aside name is not a partial one: stale-partial cleanup never touches it.
        aside = self.parent / f".archiver-replaced-{secrets.token_hex(6)}"
        os.rename(target, aside)
        try:
            os.rename(self.path, target)
        except OSError as exc:
            raise BagWriteError(
                f"could not replace {target}; the old bag is kept at {aside}"
            ) from exc
        self.path = aside

    def _cleanup(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
        if self.path.exists() and not self.path.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # After commit() self.path is gone (renamed) or holds the replaced old bag.
        self._cleanup()
