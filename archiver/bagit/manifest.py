"""Payload and tag manifests (§2.1.3, §2.2.1): file names, writing and parsing lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from archiver.bagit import paths
from archiver.bagit.tagfile import BadLine, partition

NAME = re.compile(r"^(tag)?manifest-(.+)\.txt$")
_LINE = re.compile(r"^([^ \t]+)[ \t]+(.*)$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


def payload_manifest_name(algorithm: str) -> str:
    return f"manifest-{algorithm}.txt"


def tag_manifest_name(algorithm: str) -> str:
    return f"tagmanifest-{algorithm}.txt"


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """Manifest bytes for (bag path, hex digest) pairs, sorted by path, LF-terminated."""
    ordered = sorted(entries, key=lambda entry: paths.sort_key(entry[0]))
    return "".join(f"{digest}  {paths.encode(path)}\n" for path, digest in ordered).encode()


@dataclass(frozen=True)
class Entry:
    """One manifest line: its number, digest, decoded path and the raw path as written."""

    line: int
    digest: str
    path: str
    raw_path: str
    starred: bool


def parse_manifest(
    lines: Iterable[str], *, version_1_0: bool = True
) -> tuple[list[Entry], list[BadLine]]:
    """Parse manifest lines; keep every problem rather than stopping at the first."""
    return partition(scan_manifest(enumerate(lines, start=1), version_1_0=version_1_0))


def scan_manifest(
    lines: Iterable[tuple[int, str]], *, version_1_0: bool = True
) -> Iterator[Entry | BadLine]:
    """Each numbered manifest line as an Entry or a BadLine, as it comes: a reader keeps
    what it wants of them, so memory need not grow with the number of bad lines.

    BagIt 1.0 percent-encodes '%' (§2.1.3): a bare '%' is a malformed line there, and %25
    decodes. Earlier versions encoded only CR and LF.
    """
    for number, text in lines:
        if not text.strip():
            yield BadLine(number, text, "blank line")
            continue
        match = _LINE.match(text)
        if not match:
            yield BadLine(number, text, "no whitespace between checksum and path")
            continue
        digest, raw = match.group(1), match.group(2)
        if not _HEX.match(digest):
            yield BadLine(number, text, "checksum is not hexadecimal")
            continue
        starred = raw.startswith("*")
        if starred:  # md5sum's binary-mode marker (§6.1.3)
            raw = raw[1:]
        if not raw:
            yield BadLine(number, text, "no file path")
            continue
        if "%" not in raw:  # nothing encoded: the path as written (most lines)
            yield Entry(number, digest.lower(), raw, raw, starred)
            continue
        if version_1_0 and paths.raw_percent(raw):
            yield BadLine(number, text, "'%' not percent-encoded as %25")
            continue
        path = paths.decode(raw, percent=version_1_0)
        yield Entry(number, digest.lower(), path, raw, starred)
