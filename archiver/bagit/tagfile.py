"""The text tag file format (§2.3): encodings, BOMs and the three line endings."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

_LINE_END = re.compile(r"\r\n|\r|\n")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


# Text codecs that are not character sets: they transform names, and fail on other text in
# ways (UnicodeError, not UnicodeDecodeError) a reader does not expect.
_NOT_CHARSETS = frozenset({"punycode", "idna"})


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


def byte_lines(handle: BinaryIO, chunk: int = 1 << 16) -> Iterator[bytes]:
    """Lines of a stream split on CR, LF or CRLF, as bytes, whatever their length."""
    pending = b""
    while data := handle.read(chunk):
        pending += data
        # A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
        held = b"\r" if pending.endswith(b"\r") else b""
        parts = _BYTE_LINE_END.split(pending[: len(pending) - len(held)])
        pending = parts.pop() + held
        yield from parts
    if pending:
        parts = _BYTE_LINE_END.split(pending)
        if parts[-1] == b"":
            parts.pop()
        yield from parts


def decoded_lines(lines: Iterable[bytes], codec: str) -> Iterator[str]:
    """Each byte line decoded on its own: an error names its line, earlier lines stand."""
    for number, raw in enumerate(lines, start=1):
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise UndecodableLineError(number, f"{exc.reason} at byte {exc.start}") from exc
        except UnicodeError as exc:  # a codec that reports no position
            raise UndecodableLineError(number, str(exc)) from exc


def stream_lines(handle: BinaryIO, codec: str) -> Iterator[str]:
    """Lines of a stream in an encoding whose line breaks are not single bytes."""
    text = io.TextIOWrapper(handle, encoding=codec, errors="strict", newline=None)
    count = 0
    try:
        for line in text:
            count += 1
            yield line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise UndecodableLineError(count + 1, exc.reason) from exc
    except UnicodeError as exc:
        raise UndecodableLineError(count + 1, str(exc)) from exc
    finally:
        text.detach()
