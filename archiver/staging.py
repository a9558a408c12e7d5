"""Folders that appear whole or not at all.

A ``Staging`` folder is built beside its target (same file system, hidden name), flushed to
disk with one syncfs(2), then renamed into place with renameat2(2): RENAME_NOREPLACE for a
new target, RENAME_EXCHANGE to swap out an old one. A crash leaves at most a hidden
``.archiver-partial-*`` folder; it holds a lock while its builder lives, and the next build of
the same folder removes any partial folder whose lock is free (its builder is dead).
The final name is given only at commit, so a bag whose name depends on its content (a
derived identifier) is built the same way.

A partial folder is visible for a moment before its builder holds its lock, and a peer's
cleanup may take it for a dead builder's and remove it in that moment. Both sides therefore
lock first and then check that the name still leads to the folder they locked (the usual
lock-file protocol): a builder whose folder was taken makes another, and a cleanup never
removes a folder it did not lock, nor one a peer already removed.

Messages name the user's folders (the parent, the target), never the hidden partial one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import time
from pathlib import Path
from types import TracebackType

from archiver import faults
from archiver.bagit.names import BAGIT_TXT
from archiver.errors import ArchiverError, BagExistsError, BagWriteError, UsageError

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
NAME_LENGTH = len(PARTIAL_PREFIX) + 12  # a partial folder's name: the prefix, 12 hex digits
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100  # partial folders made before giving up, each taken by a peer's cleanup


def _lock_if_still_there(fd: int, path: Path) -> bool:
    """Take ``fd``'s lock without waiting; True when it was free and ``path`` still names the
    folder ``fd`` is open on (a folder removed, or replaced, after it was opened is not)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    held, there = os.fstat(fd), _lstat(path)
    return there is not None and (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


# When this process last cleared a folder of stale partial folders: (dev, inode, path) ->
# time.
# A batch makes thousands of bags in one folder; listing it for each would cost O(n^2).
_CLEARED: dict[tuple[int, int, str], float] = {}
_CLEAR_EVERY = 60.0  # seconds: a builder that died since is cleared up within a minute


def _clear_now_and_then(parent: Path) -> None:
    """remove_stale_partials, at most once a minute per folder in this process."""
    try:
        info = os.stat(parent)
    except OSError:
        return
    key, now = (info.st_dev, info.st_ino, os.fspath(parent)), time.monotonic()
    if now - _CLEARED.get(key, -_CLEAR_EVERY) < _CLEAR_EVERY:
        return
    _CLEARED[key] = now
    remove_stale_partials(parent)


def remove_stale_partials(parent: Path) -> list[Path]:
    """Remove partial folders left in ``parent`` by builders that died; return what was removed.

    Best effort: a folder that cannot be removed is left for a later run to try again.
    """
    removed: list[Path] = []
    try:
        with os.scandir(parent) as entries:
            candidates = [e.name for e in entries if e.name.startswith(PARTIAL_PREFIX)]
    except OSError:
        return removed
    for name in candidates:
        if not name.startswith(PARTIAL_PREFIX):
            continue
        candidate = parent / name
        try:
            fd = os.open(candidate, _OPEN_FOLDER)
        except OSError:
            continue  # gone already, a link, or not a folder
        try:
            if not _lock_if_still_there(fd, candidate):
                continue  # a live builder holds it, or a peer removed it meanwhile
            shutil.rmtree(candidate, ignore_errors=True)
            if _lstat(candidate) is None:
                removed.append(candidate)
        finally:
            os.close(fd)
    return removed


def os_reason(exc: OSError) -> str:
    """What an OSError says went wrong, without the path it carries: inside a staging
    folder, that path is one the user never named."""
    return exc.strerror or type(exc).__name__


def check_target(target: Path, *, replace: bool) -> None:
    """Refuse early when ``target`` exists and may not be replaced."""
    if not replace and (target.exists() or target.is_symlink()):
        raise BagExistsError(f"{target} already exists", target)


def check_outside(target: Path, source: Path, message: str) -> None:
    """UsageError ``target: message`` when ``target`` is the folder ``source`` or inside it
    (links resolved): what is made from a bag is never written into it, which is only read."""
    if not source.is_dir():
        return
    here, there = source.resolve(), target.resolve()
    if there == here or here in there.parents:
        raise UsageError(f"{target}: {message}")


def check_outside_bags(
    out_dir: Path,
    why: str = "a bag is never written into another",
    error: type[ArchiverError] = UsageError,
) -> None:
    """``error`` when ``out_dir`` is a bag, or a folder inside one (a bagit.txt there or
    above it, links resolved): what archiver writes there (a bag, a collection's records)
    would be files the bag's manifests do not list, that bag damaged. (A collection is a
    folder that holds bags.)"""
    folder = Path(out_dir).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / BAGIT_TXT).is_file():
            where = "is a bag" if candidate == folder else f"is inside the bag {candidate}"
            raise error(f"{out_dir}: {where}; {why} (give the folder that holds the bags)")


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
        self._group: CommitGroup | None = None  # its commit deferred to this group

    def __enter__(self) -> Staging:
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            _clear_now_and_then(self.parent)
            self._make_locked()
        except OSError as exc:
            self._cleanup()
            raise BagWriteError(f"cannot write into {self.parent}: {os_reason(exc)}") from exc
        return self

    def _make_locked(self) -> None:
        """Make the partial folder and take its lock, as one step for a peer's cleanup."""
        for _ in range(_ATTEMPTS):
            self.path = self.parent / f"{PARTIAL_PREFIX}{secrets.token_hex(6)}"
            try:
                self.path.mkdir()
            except FileExistsError:
                continue
            try:
                fd = os.open(self.path, _OPEN_FOLDER)
            except FileNotFoundError:
                continue  # a peer's cleanup removed it before it was locked
            if _lock_if_still_there(fd, self.path):
                self._lock_fd = fd
                return
            os.close(fd)  # a peer's cleanup holds it and removes it
        raise BagWriteError(
            f"cannot write into {self.parent}: every folder made there was removed at once"
        )

    def commit(
        self, target: Path, *, replace: bool = False, group: CommitGroup | None = None
    ) -> None:
        """Flush the staged folder to disk and move it to ``target`` (same parent). With
        ``group``, the folder is handed to the group and moved when the group commits."""
        check_target(target, replace=replace)
        if group is not None:
            if replace:
                raise ValueError("a commit group never replaces a folder")
            group.hold(self, target)
            self._group = group
            return
        try:
            faults.point("staging.before-sync")
            sync_filesystem(self.path)
            faults.point("staging.before-rename")
            if replace and (target.exists() or target.is_symlink()):
                self._exchange(target)
            else:
                self._rename_new(target)
            faults.point("staging.after-rename")
            fsync_directory(target.parent)
        except OSError as exc:
            raise _not_moved(target, exc) from exc

    def commit_inner(self, name: str, target: Path, *, replace: bool = False) -> None:
        """Flush the staged folder and move its entry ``name`` (a file or a folder built
        inside it) to ``target``, never over an existing one unless ``replace`` (then only
        over a file, in one atomic rename); the rest is removed on exit."""
        check_target(target, replace=replace)
        inner = self.path / name
        try:
            sync_filesystem(self.path)
            if replace and target.exists():
                if target.is_dir() or target.is_symlink():
                    raise BagWriteError(f"{target} exists and is not a file; not replacing it")
                os.replace(inner, target)
                fsync_directory(target.parent)
                return
            done = _renameat2(inner, target, _RENAME_NOREPLACE)
            if not done:
                if target.exists():
                    raise BagExistsError(f"{target} appeared while it was being built", target)
                os.rename(inner, target)
            fsync_directory(target.parent)
        except FileExistsError as exc:
            raise BagExistsError(f"{target} appeared while it was being built", target) from exc
        except OSError as exc:
            raise BagWriteError(f"cannot move the package into {target}: {os_reason(exc)}") from exc

    def _rename_new(self, target: Path) -> None:
        try:
            done = _renameat2(self.path, target, _RENAME_NOREPLACE)
        except FileExistsError as exc:
            raise BagExistsError(
                f"{target} appeared while the bag was being built", target
            ) from exc
        if not done:
            if target.exists():
                raise BagExistsError(f"{target} appeared while the bag was being built", target)
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
        # Removed while still locked: no peer's cleanup works on it at the same time.
        if self.path.exists() and not self.path.is_symlink():
            faults.point("staging.before-cleanup")  # what it holds: a failed build, an old bag
            shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # After commit() self.path is gone (renamed) or holds the replaced old bag; a
        # folder handed to a group is the group's to move or remove.
        if self._group is None:
            self._cleanup()


class CommitGroup:
    """Staged folders committed together: flushed to disk with one syncfs for them all,
    then each renamed into place (never over an existing one), then their parents' entries
    flushed once. Each folder still appears whole or not at all and is on disk before it
    appears; a batch of small bags pays two flushes a group, not two a bag.

        with CommitGroup() as group:
            with Staging(parent) as staging:
                ... write into staging.path ...
                staging.commit(parent / name, group=group)   # held, not moved yet
            ...
            failed = group.commit()   # target -> why it was not moved there

    Leaving the block without commit() (an error, Ctrl-C) removes every folder held.
    """

    def __init__(self) -> None:
        self._held: list[tuple[Staging, Path]] = []

    def hold(self, staging: Staging, target: Path) -> None:
        self._held.append((staging, target))

    def __len__(self) -> int:
        return len(self._held)

    def commit(self) -> dict[Path, BagWriteError | BagExistsError]:
        """Move every folder held into place; the targets that were not, and why (the
        others are in place and on disk)."""
        held, self._held = self._held, []
        failed: dict[Path, BagWriteError | BagExistsError] = {}
        try:
            if not held:
                return failed
            parents = list(dict.fromkeys(staging.parent for staging, _ in held))
            try:
                faults.point("staging.before-sync")
                for parent in parents:  # a batch's are one; syncfs flushes a file system
                    sync_filesystem(parent)
            except OSError as exc:
                return {target: _not_moved(target, exc) for _, target in held}
            moved: list[Path] = []
            for staging, target in held:
                faults.point("staging.before-rename")
                try:
                    check_target(target, replace=False)
                    staging._rename_new(target)
                except BagExistsError as exc:
                    failed[target] = exc
                    continue
                except OSError as exc:
                    failed[target] = _not_moved(target, exc)
                    continue
                moved.append(target)
                faults.point("staging.after-rename")
            try:
                for parent in parents:
                    fsync_directory(parent)
            except OSError as exc:
                failed.update({target: _not_moved(target, exc) for target in moved})
            return failed
        finally:
            for staging, _ in held:
                staging._cleanup()

    def __enter__(self) -> CommitGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        held, self._held = self._held, []
        for staging, _ in held:
            staging._cleanup()


def _not_moved(target: Path, exc: OSError) -> BagWriteError:
    return BagWriteError(f"cannot move the bag into {target}: {os_reason(exc)}")
