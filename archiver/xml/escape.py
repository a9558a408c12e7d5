"""Escaping for the streamed XML writers (premis, mets), which build text, not trees.

XML 1.0 cannot carry most C0 control characters, nor lone surrogates (which a JSON
string can hold as an escape), at all, even as character references;
``text`` and ``attr`` refuse them (the record schema and the payload planner keep them
out, so meeting one here is a bug). CR is escaped in text and TAB/LF/CR in attributes, so
a parser hands back exactly the value written (§2.11 and §3.3.3 of XML 1.0).
"""

from __future__ import annotations

import re

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def _check(value: str) -> None:
    found = _ILLEGAL.search(value)
    if found:
        raise ValueError(f"U+{ord(found.group()):04X} cannot appear in an XML 1.0 document")


# Most values (identifiers, names, dates) need nothing done: one search tells.
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def text(value: str) -> str:
    """``value`` as element content."""
    if _TEXT_SPECIAL.search(value) is None:
        return value
    _check(value)
    return value.translate(_TEXT)


def attr(value: str) -> str:
    """``value`` as a double-quoted attribute value (without the quotes)."""
    if _ATTR_SPECIAL.search(value) is None:
        return value
    _check(value)
    return value.translate(_ATTR)
