"""File format identification against PRONOM (https://www.nationalarchives.gov.uk/PRONOM/).

A small, exact subset: formats a text archive meets, each recognised by the PRONOM
signature that decides its PUID (magic bytes read from the first chunk of the single
hashing pass, so identification costs no extra read), then text formats by extension for
files that are well-formed text. A file we cannot place is "unknown", never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

HEAD_SIZE = 8192


@dataclass(frozen=True)
class Format:
    """A format: PRONOM unique identifier (or None), name, version, MIME type, DCMI type."""

    puid: str | None
    name: str
    version: str | None
    mimetype: str
    dcmi_type: str | None

    @property
    def is_text(self) -> bool:
        return self.mimetype.startswith("text/") or self.puid in _TEXT_PUIDS


UNKNOWN = Format(None, "Unknown", None, "application/octet-stream", None)
PLAIN_TEXT = Format("x-fmt/111", "Plain Text File", None, "text/plain", "Text")

_PDF_PUIDS = {
    "1.0": "fmt/14",
    "1.1": "fmt/15",
    "1.2": "fmt/16",
    "1.3": "fmt/17",
    "1.4": "fmt/18",
    "1.5": "fmt/19",
    "1.6": "fmt/20",
    "1.7": "fmt/276",
    "2.0": "fmt/1129",
}
_JFIF_PUIDS = {"1.00": "fmt/42", "1.01": "fmt/43", "1.02": "fmt/44"}

# Text formats told apart by extension once the bytes are known to be text.
_TEXT_BY_EXTENSION = {
    ".txt": PLAIN_TEXT,
    ".text": PLAIN_TEXT,
    ".md": Format("fmt/1149", "Markdown", None, "text/markdown", "Text"),
    ".markdown": Format("fmt/1149", "Markdown", None, "text/markdown", "Text"),
    ".csv": Format("x-fmt/18", "Comma Separated Values", None, "text/csv", "Dataset"),
    ".json": Format("fmt/817", "JSON Data Interchange Format", None, "application/json", "Dataset"),
    ".html": Format("fmt/96", "Hypertext Markup Language", None, "text/html", "Text"),
    ".htm": Format("fmt/96", "Hypertext Markup Language", None, "text/html", "Text"),
}
_XML = Format("fmt/101", "Extensible Markup Language", "1.0", "application/xml", "Text")
_TEXT_PUIDS = frozenset({"fmt/817", "fmt/101"})


def identify(name: str, head: bytes, is_text: bool) -> Format:
    """Identify a file from its name, its first bytes and whether it is well-formed text."""
    by_signature = _by_signature(head)
    if by_signature is not None:
        return by_signature
    if is_text:
        extension = PurePosixPath(name).suffix.lower()
        stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if stripped.startswith(b"<?xml") and extension not in (".html", ".htm"):
            return _XML
        return _TEXT_BY_EXTENSION.get(extension, PLAIN_TEXT)
    if PurePosixPath(name).suffix.lower() in (".txt", ".text"):
        # Named as text but not well-formed UTF-8 (a legacy 8-bit encoding, say): still a
        # plain text file to PRONOM; its validation event records what is wrong with it.
        return PLAIN_TEXT
    return UNKNOWN


def _by_signature(head: bytes) -> Format | None:
    match = re.match(rb"%PDF-(\d\.\d)", head)
    if match:
        version = match.group(1).decode()
        return Format(
            _PDF_PUIDS.get(version), "Portable Document Format", version, "application/pdf", "Text"
        )
    if head.startswith(b"\xff\xd8\xff") and head[6:11] == b"JFIF\x00":
        version = f"{head[11]}.{head[12]:02d}"
        return Format(
            _JFIF_PUIDS.get(version),
            "JPEG File Interchange Format",
            version,
            "image/jpeg",
            "StillImage",
        )
    if head.startswith((b"GIF87a", b"GIF89a")):
        version = head[3:6].decode()
        puid = "fmt/3" if version == "87a" else "fmt/4"
        return Format(puid, "Graphics Interchange Format", version, "image/gif", "StillImage")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return Format("fmt/353", "Tagged Image File Format", None, "image/tiff", "StillImage")
    if head.startswith(b"{\\rtf"):
        return Format(None, "Rich Text Format", None, "application/rtf", "Text")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        # The PNG version (fmt/11, 12, 13) is decided by chunks we do not inspect.
        return Format(None, "Portable Network Graphics", None, "image/png", "StillImage")
    return None
