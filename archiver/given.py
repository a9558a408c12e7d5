"""Files people hand archiver by name (a record, a profile, a sheet, the users file): read
whole, but never more than such a file can sensibly hold.

``--metadata /dev/zero`` or a sheet named by mistake for a disk image would otherwise be
read until memory runs out. Each caller names its limit; a file over it is an OSError
(EFBIG) whose ``strerror`` says so, which the caller reports as it reports any file it
cannot read.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from archiver.errors import UsageError

MiB = 1 << 20


class TooLargeError(OSError):
    """A file over the limit its reader sets."""

    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        super().__init__(
            errno.EFBIG,
            f"larger than {limit // MiB} MiB, the most archiver reads of such a file",
            path,
        )


def read_limited(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the file at ``path``, reading at most ``limit`` + 1 of them (a pipe or
    a device too); TooLargeError when there are more than ``limit``."""
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise TooLargeError(path, limit)
    return data


def given_path(value: str | os.PathLike[str], what: str) -> Path:
    """``value`` as a Path; UsageError naming ``what`` when it is empty, which Path("")
    would quietly take for the current folder (an unset variable in a caller's script)."""
    if not os.fspath(value):
        raise UsageError(f"{what}: an empty path")
    return Path(value)


__all__ = ["MiB", "TooLargeError", "given_path", "read_limited"]
