"""Manifest paths: RFC 8493 percent-encoding, safety (§5.1) and collision keys (§6.1.1.3).

Paths inside a bag are ``str`` with ``/`` separators, relative to the bag's base
directory (``data/a.txt``). In manifests and fetch.txt, CR, LF and ``%`` -- those and only
those -- are percent-encoded (§2.1.3); a reader decodes exactly ``%0A``, ``%0D`` and ``%25``.
"""

from __future__ import annotations

import re
import unicodedata

from archiver.bagit import tagfile

_DECODE = re.compile(r"%(0[AaDd]|25)")
_DECODE_LINE_BREAKS = re.compile(r"%(0[AaDd])")
_RAW_PERCENT = re.compile(r"%(?!0[AaDd]|25)")
_DECODED = {"0a": "\n", "0d": "\r", "25": "%"}
_DRIVE = re.compile(r"^[A-Za-z]:")
WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
WINDOWS_FORBIDDEN = frozenset('<>:"|?*\\')  # and '\\', which separates folders there


def encode(path: str) -> str:
    """Encode a bag path for a manifest line (§2.1.3): ``%`` first, then CR and LF."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode(raw: str, *, percent: bool = True) -> str:
    """Decode a manifest path: only %0A, %0D and %25 (either case); any other % stays.

    Before BagIt 1.0 only CR and LF were encoded (``percent=False``): there, %25 is three
    characters of a name, not an encoded '%'.
    """
    pattern = _DECODE if percent else _DECODE_LINE_BREAKS
    return pattern.sub(lambda m: _DECODED[m.group(1).lower()], raw)


def raw_percent(raw: str) -> bool:
    """Whether ``raw`` holds a '%' that is not %25, %0A or %0D: in 1.0, '%' MUST be encoded."""
    return _RAW_PERCENT.search(raw) is not None


def unsafe_reason(path: str) -> str | None:
    """Why ``path`` could reach outside the bag (§5.1), or None when it stays inside."""
    if not path:
        return "empty path"
    if "\x00" in path:
        return "contains a NUL character"
    if path.startswith(("/", "\\")):
        return "absolute path"
    if path.startswith("~"):
        return "starts with '~' (a user's home directory)"
    if _DRIVE.match(path) or path.startswith("\\\\?\\"):
        return "Windows drive or namespace path"
    if ".." not in path:  # the usual case, and the one a manifest of 100,000 lines repeats
        return None
    for part in re.split(r"[/\\]", path):
        if part == "..":
            return "contains a '..' segment"
    return None


def write_problem(path: str) -> str | None:
    """Why a payload path must not be written into a bag, or None: every reader must take
    it for a safe path (§5.1; '\\' separates folders too, as on Windows), and read its
    manifest line back as this one path."""
    reason = unsafe_reason(path)
    if reason:
        return (
            f"{reason} (validators read '\\' as a folder separator too)" if "\\" in path else reason
        )
    return tagfile.line_break_problem(path)


def collision_key(path: str) -> str:
    """Two paths with the same key differ only in case or Unicode normalisation."""
    return unicodedata.normalize("NFC", path).casefold()


def windows_problem(path: str) -> str | None:
    """Why a path could not be written on Windows (§6.1.2), or None."""
    for part in path.split("/"):
        stem = part.split(".", 1)[0].upper()
        if stem in WINDOWS_RESERVED:
            return f"{part!r} is a reserved name on Windows"
        bad = sorted(set(part) & WINDOWS_FORBIDDEN)
        if bad:
            return f"{part!r} contains {''.join(bad)!r}, forbidden on Windows"
        if part.endswith((" ", ".")) and part not in {".", ".."}:
            return f"{part!r} ends with a space or a dot, which Windows drops"
    return None


def is_utf8(path: str) -> bool:
    """Whether ``path`` is a real UTF-8 name (not one read from disk with surrogate escapes
    standing for bytes that are not UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sort_key(path: str) -> bytes:
    """The order entries are written in: by the UTF-8 bytes of the path."""
    return path.encode("utf-8", "surrogateescape")
