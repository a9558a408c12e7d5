"""fetch.txt (§2.2.3): ``url length filepath`` lines, parsed without trusting them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.bagit import paths

_LINE = re.compile(r"^(\S+)[ \t]+(\S+)[ \t]+(.+)$")


@dataclass(frozen=True)
class Entry:
    line: int
    url: str
    length: int | None  # None for "-"
    path: str  # decoded (%0A, %0D, %25)
    raw_path: str


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str


def is_absolute_uri(url: str) -> bool:
    """RFC 3986 absolute-URI: a scheme, then a hierarchical part or path."""
    parts = urlsplit(url)
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)) and bool(
        parts.netloc or parts.path
    )


def parse_fetch(
    lines: Iterable[str], *, version_1_0: bool = True
) -> tuple[list[Entry], list[BadLine]]:
    """Parse fetch.txt lines; paths follow the manifests' encoding rules (see manifest.py)."""
    entries: list[Entry] = []
    bad: list[BadLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            bad.append(BadLine(number, text, "blank line"))
            continue
        match = _LINE.match(text)
        if not match:
            bad.append(BadLine(number, text, "not 'url length filepath'"))
            continue
        url, length, raw = match.groups()
        if length != "-" and not length.isdigit():
            bad.append(BadLine(number, text, f"length {length!r} is neither a number nor '-'"))
            continue
        if version_1_0 and paths.raw_percent(raw):
            bad.append(BadLine(number, text, "'%' not percent-encoded as %25"))
            continue
        size = None if length == "-" else int(length)
        entries.append(Entry(number, url, size, paths.decode(raw, percent=version_1_0), raw))
    return entries, bad
