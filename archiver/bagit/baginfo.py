"""bag-info.txt (§2.2.2): writing labelled values in order, and reading them back."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from archiver.bagit import tagfile
from archiver.bagit.tagfile import BadLine

# Labels the writer owns; a user may not set them (case-insensitive, like all reserved names).
GENERATED = (
    "Bagging-Date",
    "Payload-Oxum",
    "External-Identifier",
    "Bag-Software-Agent",
    "BagIt-Profile-Identifier",
)
# The reserved metadata element names of §2.2.2, as the RFC spells them.
RESERVED = (
    "Source-Organization",
    "Organization-Address",
    "Contact-Name",
    "Contact-Phone",
    "Contact-Email",
    "External-Description",
    "Bagging-Date",
    "External-Identifier",
    "Bag-Size",
    "Payload-Oxum",
    "Bag-Group-Identifier",
    "Bag-Count",
    "Internal-Sender-Identifier",
    "Internal-Sender-Description",
)
# A label this many letters or fewer from a reserved one is taken for a misspelling of it.
NEAR = 2
# Reserved names that SHOULD NOT be repeated (§2.2.2).
NOT_REPEATED = frozenset(
    label.lower()
    for label in ("Bagging-Date", "Bag-Size", "Bag-Group-Identifier", "Bag-Count", "Payload-Oxum")
)
LABEL = re.compile(r"^[^:\s](?:[^:\r\n]*[^:\s])?$")


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot be a bag-info label, or None."""
    if not LABEL.match(label):
        return "a label must not contain ':' or line breaks, nor start or end with whitespace"
    return tagfile.line_break_problem(label)


def near_reserved(label: str) -> str | None:
    """The reserved label that ``label`` misspells -- one or two letters away from it,
    case aside (``Source-Organisation``) -- or None when ``label`` is reserved itself or
    near none. A reader looks reserved labels up by name: a misspelt one is just another
    label, and the value it carries is not read as what it was meant to be."""
    key = label.lower()
    best: tuple[int, str] | None = None
    for reserved, spelt, pieces in _NEAR_FILTER.get(len(key), ()):
        # Two edits change at most two of a label's three pieces: a label in which no piece
        # of the reserved one is found is far from it, without an edit distance computed.
        if not any(piece in key for piece in pieces):
            continue
        distance = _edit_distance(key, spelt, NEAR)
        if distance == 0:
            return None
        if distance <= NEAR and (best is None or distance < best[0]):
            best = (distance, reserved)
    return best[1] if best is not None else None


def _pieces(text: str, count: int) -> tuple[str, ...]:
    """``text`` cut into ``count`` pieces of (nearly) equal length."""
    bounds = [len(text) * n // count for n in range(count + 1)]
    return tuple(text[start:end] for start, end in pairwise(bounds))


def _near_filter() -> dict[int, list[tuple[str, str, tuple[str, ...]]]]:
    """Label length -> the reserved labels near that length: as given, in lower case, and
    cut into NEAR + 1 pieces."""
    by_length: dict[int, list[tuple[str, str, tuple[str, ...]]]] = {}
    for label in RESERVED:
        entry = (label, label.lower(), _pieces(label.lower(), NEAR + 1))
        for length in range(len(label) - NEAR, len(label) + NEAR + 1):
            by_length.setdefault(length, []).append(entry)
    return by_length


_NEAR_FILTER = _near_filter()


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` for anything farther.

    Only the band of cells within ``limit`` of the diagonal is computed, and a row with no
    cell within ``limit`` ends it: a bag-info.txt of a million labels is judged in seconds.
    """
    far = limit + 1
    if abs(len(a) - len(b)) > limit:
        return far
    previous = [j if j <= limit else far for j in range(len(b) + 1)]
    for i, char in enumerate(a, start=1):
        current = [i if i <= limit else far] + [far] * len(b)
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != b[j - 1]), far
            )
        if min(current) >= far:
            return far
        previous = current
    return previous[-1]


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be written into bag-info.txt so that it reads back the same, or None.

    A value may hold line breaks (LF): each further line is written as a continuation line
    (§2.2.2), which a reader folds back in with its line break. CR cannot round-trip (any of
    CR, LF, CRLF ends a line), nor can whitespace at either end of a line (a reader drops
    a continuation line's padding), nor an empty first line.
    """
    if "\r" in value:
        return "a value must not contain a carriage return"
    lines = value.split("\n")
    if not lines[0]:
        return "a value must not be empty"
    if any(line != line.strip(" \t") for line in lines):
        return "no line of a value may start or end with whitespace"
    return tagfile.line_break_problem(value)


def format_bag_info(items: Sequence[tuple[str, str]]) -> bytes:
    """``Label: value`` lines in the given order (§2.2.2: order MUST be preserved).

    A value's line breaks become continuation lines indented by one space; nothing else is
    folded: readers disagree on what a folded long line means (bagit-python keeps the
    padding, RFC 8493 drops it), and the 79-character limit is only RECOMMENDED.
    """
    lines = []
    for label, value in items:
        problem = label_problem(label) or value_problem(value)
        if problem:
            raise ValueError(f"bag-info {label!r}: {problem}")
        first, *more = value.split("\n")
        lines.append(f"{label}: {first}\n")
        lines.extend(f" {line}\n" for line in more)
    return "".join(lines).encode()


@dataclass(frozen=True)
class Element:
    """One metadata element: the line it starts on, its label and its (unfolded) value."""

    line: int
    label: str
    value: str


def parse_bag_info(lines: Iterable[str], *, strict: bool) -> tuple[list[Element], list[BadLine]]:
    """Parse bag-info lines. ``strict`` applies BagIt 1.0's separator rule.

    1.0: a colon, then exactly one space or tab (§2.2.2). Before 1.0, readers MUST accept
    any whitespace before and after the colon. Continuation lines start with whitespace and
    join the value with a line break, their padding dropped (§2.2.2).
    """
    elements: list[Element] = []
    bad: list[BadLine] = []
    for number, text in enumerate(lines, start=1):
        if text[:1] in (" ", "\t"):
            if not elements:
                bad.append(BadLine(number, text, "continuation line with no element before it"))
                continue
            last = elements[-1]
            elements[-1] = Element(last.line, last.label, f"{last.value}\n{text.strip()}")
            continue
        if not text.strip():
            bad.append(BadLine(number, text, "blank line"))
            continue
        label, colon, value = text.partition(":")
        if not colon:
            bad.append(BadLine(number, text, "no ':' separating label and value"))
            continue
        if strict:
            if label != label.strip():
                bad.append(BadLine(number, text, "whitespace before ':' (not allowed in 1.0)"))
            elif value[:1] not in (" ", "\t"):
                bad.append(BadLine(number, text, "no space or tab after ':'"))
            elif value[1:2] in (" ", "\t"):
                bad.append(BadLine(number, text, "more than one space or tab after ':'"))
        elements.append(Element(number, label.strip(), value.strip()))
    return elements, bad


def oxum(total_bytes: int, file_count: int) -> str:
    """Payload-Oxum: octet count, a dot, stream count (§2.2.2)."""
    return f"{total_bytes}.{file_count}"
