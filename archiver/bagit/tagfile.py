"""The text tag file format (§2.3): encodings, BOMs and the three line endings."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

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
    """The Python codec for an IANA charset name, or None when Python has none."""
    try:
        return codecs.lookup(encoding.strip()).name
    except LookupError:
        return None
