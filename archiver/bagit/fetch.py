"""fetch.txt (§2.2.3): ``url length filepath`` lines, parsed without trusting them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.bagit import paths
from archiver.bagit.tagfile import BadLine, partition

_LINE = re.compile(r"^(\S+)[ \t]+(\S+)[ \t]+(.+)$")
_DIGITS = re.compile(r"^[0-9]+$")
_LENGTH_DIGITS = 20  # 10**20 bytes is 100 exabytes


@dataclass(frozen=True)
class Entry:
    line: int
    url: str
    length: int | None  # None for "-"
    path: str  # decoded (%0A, %0D, %25)
    raw_path: str


def is_absolute_uri(url: str) -> bool:
    """RFC 3986 absolute-URI: a scheme, then a hierarchical part or path."""
    parts = urlsplit(url)
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme)) and bool(
        parts.netloc or parts.path
    )


def parse_fetch(
    lines: Iterable[str], *, version_1_0: bool = True
) -> tuple[list[Entry], list[BadLine]]:
    """Parse fetch.txt lines; keep every problem rather than stopping at the first."""
    return partition(scan_fetch(enumerate(lines, start=1), version_1_0=version_1_0))


def scan_fetch(
    lines: Iterable[tuple[int, str]], *, version_1_0: bool = True
) -> Iterator[Entry | BadLine]:
    """Each numbered fetch.txt line as an Entry or a BadLine, as it comes; paths follow the
    manifests' encoding rules (see manifest.py)."""
    for number, text in lines:
        if not text.strip():
            yield BadLine(number, text, "blank line")
            continue
        match = _LINE.match(text)
        if not match:
            yield BadLine(number, text, "not 'url length filepath'")
            continue
        url, length, raw = match.groups()
        if length != "-" and not _DIGITS.match(length):
            yield BadLine(number, text, f"length {length!r} is neither a number nor '-'")
            continue
        if len(length) > _LENGTH_DIGITS:
            yield BadLine(number, text, f"a length of {len(length)} digits; no file is that large")
            continue
        if version_1_0 and paths.raw_percent(raw):
            yield BadLine(number, text, "'%' not percent-encoded as %25")
            continue
        size = None if length == "-" else int(length)
        yield Entry(number, url, size, paths.decode(raw, percent=version_1_0), raw)
