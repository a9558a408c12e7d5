"""The characters XML 1.0 cannot hold, and what to do about a value that has them.

Most C0 control characters, U+FFFE and U+FFFF, and lone surrogates (which a JSON string
can hold as an escape) cannot appear in an XML 1.0 document at all, not even as character
references (§2.2). lxml refuses them when a document is built; these functions let a caller
find them first: to refuse a file name or a record with a reason, to show a harvester's
argument in an error message, or to name a file that has them in a record about it.
"""

from __future__ import annotations

import re

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def xml_problem(value: str) -> str | None:
    """Why ``value`` cannot be written into XML 1.0, or None."""
    found = _ILLEGAL.search(value)
    if found:
        return f"U+{ord(found.group()):04X} cannot appear in an XML 1.0 document"
    return None


def xml_safe(value: str) -> str:
    """``value`` with each character XML 1.0 cannot hold replaced by U+FFFD."""
    return _ILLEGAL.sub(REPLACEMENT, value)


def xml_escaped(value: str) -> str:
    """``value`` with each character XML 1.0 cannot hold written as an escape, the way the
    command line shows it: a control character as ``\\x01``, a byte of a name that is not
    UTF-8 (a surrogate escape from the file system) as ``\\xff``, anything else as
    ``\\ufffe``. Where a record must name such a file (a PREMIS event about it), the name
    stays recognisable, with the very bytes it has on disk, as U+FFFD would not keep it."""
    return _ILLEGAL.sub(_escape, value)


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"
