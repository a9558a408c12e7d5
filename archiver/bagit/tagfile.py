"""The text tag file format (§2.3): encodings, BOMs and the three line endings."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import AnyStr, BinaryIO, TypeVar

_LINE_END = re.compile(r"\r\n|\r|\n")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class BadLine:
    """A tag file line that is not what its file's lines must be, and why."""

    line: int
    text: str
    reason: str


T = TypeVar("T")


def partition(scanned: Iterable[T | BadLine]) -> tuple[list[T], list[BadLine]]:
    """A scan's good entries and its bad lines, each kept in order."""
    good: list[T] = []
    bad: list[BadLine] = []
    for item in scanned:
        if isinstance(item, BadLine):
            bad.append(item)
        else:
            good.append(item)
    return good, bad


@dataclass(frozen=True)
class Lines:
    """A tag file's lines (without their endings) and whether the last one was terminated."""

    lines: list[str]
    terminated: bool


def split_lines(text: str) -> Lines:
    """Split on LF, CR or CRLF, mixed freely (§2.3)."""
    if not text:
        return Lines([], True)
    parts = _LINE_END.split(text)
    terminated = parts[-1] == ""
    if terminated:
        parts.pop()
    return Lines(parts, terminated)


def bom_of(data: bytes) -> bytes:
    """The byte order mark ``data`` starts with, or b""."""
    for bom, _ in _BOMS:
        if data.startswith(bom):
            return bom
    return b""


def python_codec(encoding: str) -> str | None:
    """The Python codec for an IANA charset name, or None when Python has none.

    Only character encodings count: Python also registers bytes-to-bytes and text-to-text
    transforms under codec names (hex, base64, zlib, rot13, punycode...), which cannot
    decode a tag file and must read as unknown, not crash a reader later.
    """
    try:
        info = codecs.lookup(encoding.strip())
    except (LookupError, ValueError):  # ValueError: a name holding a NUL
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


# Text codecs that are not character sets: they transform names, and fail on other text in
# ways (UnicodeError, not UnicodeDecodeError) a reader does not expect.
_NOT_CHARSETS = frozenset({"punycode", "idna"})


# Where Python's str.splitlines ends a line besides CR and LF -- and so LoC bagit-python,
# which reads tag files through codecs.open. RFC 8493 ends lines at CR, LF or CRLF only
# (§2.3): a name or value holding one of these reads differently there.
OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_OTHER_LINE_BREAK = re.compile(f"[{OTHER_LINE_BREAKS}]")


def other_line_break(text: str) -> str | None:
    """The first character of ``text`` that other readers take for a line break, as
    ``U+XXXX``; None when there is none."""
    found = _OTHER_LINE_BREAK.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def line_break_problem(text: str) -> str | None:
    """Why ``text`` cannot go into a tag file line that every reader reads back the same."""
    character = other_line_break(text)
    if character:
        return f"holds {character}, which LoC bagit-python and other readers take for a line break"
    return None


class UndecodableLineError(ValueError):
    """A line that is not in the declared encoding."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def ascii_compatible(codec: str) -> bool:
    """Whether CR and LF are the single bytes 0x0D and 0x0A in ``codec`` (UTF-8, Latin-1...)."""
    try:
        return "\r\na".encode(codec) == b"\r\na"
    except (LookupError, UnicodeError):
        return False


_BYTE_LINE_END = re.compile(rb"\r\n|\r|\n")
# A streamed tag file's line longer than this (bytes; characters in a UTF-16 or UTF-32 file)
# is reported, not kept: a manifest or fetch.txt line is a checksum or URL and a path, and a
# path is at most a few kilobytes on any file system.
MAX_LINE = 1 << 20


@dataclass(frozen=True)
class LongLine:
    """A line longer than the limit: only its length was kept."""

    length: int


def byte_lines(
    handle: BinaryIO, chunk: int = 1 << 16, limit: int = MAX_LINE
) -> Iterator[bytes | LongLine]:
    """Lines of a stream split on CR, LF or CRLF, as bytes; a line over ``limit`` bytes
    as a LongLine. Each byte is scanned once, and memory stays within ``limit`` plus a
    chunk, however long a line is."""
    return _split(iter(lambda: handle.read(chunk), b""), _BYTE_LINE_END, b"\r", b"\n", limit)


def _split(
    chunks: Iterable[AnyStr],
    line_end: re.Pattern[AnyStr],
    cr: AnyStr,
    lf: AnyStr,
    limit: int,
) -> Iterator[AnyStr | LongLine]:
    """Lines across chunks: each chunk is split once, and the unfinished line's pieces are
    gathered (never re-scanned) until a line end completes it."""
    empty = cr[:0]
    pending: list[AnyStr] = []  # the unfinished line's pieces, while it is within the limit
    size = 0  # the unfinished line's length, kept or not
    after_cr = False  # the last chunk ended with CR: an LF starting this one is its CRLF
    for data in chunks:
        if not data:
            continue  # a decoder waiting for the rest of a character
        if after_cr and data[:1] == lf:
            data = data[1:]
        after_cr = data[-1:] == cr
        ended: list[AnyStr] = line_end.split(data)  # no groups in the pattern: no None
        rest = ended.pop()
        for piece in ended:
            size += len(piece)
            pending.append(piece)
            yield LongLine(size) if size > limit else empty.join(pending)
            pending, size = [], 0
        size += len(rest)
        if size <= limit:
            pending.append(rest)
        else:
            pending = []
    if size:
        yield LongLine(size) if size > limit else empty.join(pending)


def decoded_lines(lines: Iterable[bytes | LongLine], codec: str) -> Iterator[str | LongLine]:
    """Each byte line decoded on its own: an error names its line, earlier lines stand."""
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, LongLine):
            yield raw
            continue
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise UndecodableLineError(number, f"{exc.reason} at byte {exc.start}") from exc
        except UnicodeError as exc:  # a codec that reports no position
            raise UndecodableLineError(number, str(exc)) from exc


_TEXT_LINE_END = re.compile(r"\r\n|\r|\n")


def stream_lines(
    handle: BinaryIO, codec: str, chunk: int = 1 << 16, limit: int = MAX_LINE
) -> Iterator[str | LongLine]:
    """Lines of a stream in an encoding whose line breaks are not single bytes (UTF-16...),
    decoded chunk by chunk and split as ``byte_lines`` splits bytes."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    count = 0

    def texts() -> Iterator[str]:
        while data := handle.read(chunk):
            yield decoder.decode(data)
        yield decoder.decode(b"", final=True)

    try:
        for line in _split(texts(), _TEXT_LINE_END, "\r", "\n", limit):
            count += 1
            yield line
    except UnicodeDecodeError as exc:
        raise UndecodableLineError(count + 1, exc.reason) from exc
    except UnicodeError as exc:
        raise UndecodableLineError(count + 1, str(exc)) from exc
