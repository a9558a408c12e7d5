"""The people who may log in to the web view: a users file of Argon2 password hashes.

    {"users": {"ana": {"hash": "$argon2id$...", "admin": true}, ...}}

Written whole or not at all (a temporary file beside it, flushed, renamed over it), mode
0600. A name is 1-64 letters, digits, '.', '_' or '-'. Checking a password costs the same
whether or not the name exists (a dummy hash is checked instead), so timing does not tell
which names are users.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from archiver.errors import UsageError
from archiver.given import MiB, read_limited
from archiver.staging import fsync_directory

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # Argon2 takes any length; a megabyte would be a cheap way to load us
_hasher = PasswordHasher()
_DUMMY = _hasher.hash(secrets.token_hex(16))

MAX_USERS_BYTES = 16 * MiB  # an Argon2 hash is ~100 bytes: over 100,000 users


@dataclass(frozen=True)
class User:
    name: str
    admin: bool


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(read_limited(path, MAX_USERS_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the users file: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: cannot read the users file: {exc}") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise UsageError(f"{path}: not a users file (no 'users' object)")
    return {str(k): v for k, v in users.items() if isinstance(v, dict)}


def load(path: Path) -> dict[str, dict[str, object]]:
    """The users of ``path`` (none when there is no such file); UsageError when it is not
    a users file."""
    return _read(path)


def add_user(path: Path, name: str, password: str, *, admin: bool = False) -> None:
    """Add ``name`` (or set a new password and role for it) to the users file at ``path``."""
    if not _NAME.fullmatch(name):
        raise UsageError(f"{name!r}: a user name is 1-64 letters, digits, '.', '_' or '-'")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsageError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    try:
        password.encode("utf-8")  # what Argon2 hashes; a stdin byte that was not UTF-8 is not
    except UnicodeEncodeError as exc:
        raise UsageError("a password is text: what was given is not UTF-8") from exc
    users = _read(path)
    users[name] = {"hash": _hasher.hash(password), "admin": admin}
    text = json.dumps({"users": users}, indent=2, sort_keys=True) + "\n"
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write the users file: {exc.strerror}") from exc


def check_password(users: dict[str, dict[str, object]], name: str, password: str) -> User | None:
    """The user ``name`` when ``password`` is theirs; None otherwise (same cost either way)."""
    entry = users.get(name)
    stored = entry.get("hash") if entry else None
    if len(password) > MAX_PASSWORD:
        password = password[:MAX_PASSWORD] + "x"  # never theirs: a long one costs no more
    try:
        _hasher.verify(stored if isinstance(stored, str) else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if entry is None or not isinstance(stored, str):
        return None
    return User(name, entry.get("admin") is True)
