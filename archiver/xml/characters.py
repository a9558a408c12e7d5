"""The characters XML 1.0 cannot hold, and what to do about a value that has them.

Most C0 control characters, U+FFFE and U+FFFF, and lone surrogates (which a JSON string
can hold as an escape) cannot appear in an XML 1.0 document at all, not even as character
references (§2.2). lxml refuses them when a document is built; these functions let a caller
find them first: to refuse a file name or a record with a reason, or to show a harvester's
argument in an error message.
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
