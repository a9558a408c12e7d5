"""Payload and tag manifests (§2.1.3, §2.2.1): file names, writing and parsing lines."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from archiver.bagit import paths
from archiver.bagit.tagfile import OTHER_LINE_BREAKS, BadLine, partition

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


# The manifest a bag writer makes: hex digests, one or more spaces, payload paths that need
# no decoding, cannot reach out of the bag and hold no character other readers break lines
# at. A path is at most 4,096 characters (PATH_MAX) here: a longer line goes the slow way.
_PLAIN_PAYLOAD = "[0-9A-Fa-f]{%d} +data/[^%%\\x00\\r\\n" + OTHER_LINE_BREAKS + "]{0,4091}\\n"


def read_plain_payload(handle: BinaryIO, digest_length: int) -> dict[str, str] | None:
    """A payload manifest's entries at C speed, when every line is as a writer makes it --
    UTF-8 without BOM, LF endings, ``digest  data/path`` with a digest of the algorithm's
    length, no '%', no '..', no path twice -- so that no line could give a finding. None
    otherwise: then scan_manifest reads it line by line, finding by finding. Read in
    blocks of whole lines: memory holds one block, and the entries."""
    entries: dict[str, str] = {}
    rows = 0
    pending = b""
    line = _plain_line(digest_length)
    while chunk := handle.read(_BLOCK):
        data = pending + chunk
        if not rows and data.startswith(b"\xef\xbb\xbf"):
            return None
        cut = data.rfind(b"\n") + 1
        block, pending = data[:cut], data[cut:]
        if len(pending) > _LONGEST or b".." in block:
            return None  # a line longer than a plain one, or a path the slow way judges
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if line.fullmatch(text) is None:
            return None
        for row in text.split("\n")[:-1]:  # LF alone ends a line here, as in the slow way
            digest, _, path = row.partition(" ")
            entries[path.lstrip(" ")] = digest.lower()
            rows += 1
    if pending or len(entries) != rows:
        return None  # a last line without its LF, or a path listed twice
    return entries


_BLOCK = 1 << 20
_LONGEST = 8192  # bytes: longer than any plain line (a digest, spaces, a path of PATH_MAX)


@functools.cache
def _plain_line(digest_length: int) -> re.Pattern[str]:
    return re.compile(f"(?:{_PLAIN_PAYLOAD % digest_length})*")
