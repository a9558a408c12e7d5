"""Bag identifiers: the rule a given one must follow, and the stable one derived otherwise.

An identifier names the bag folder and appears as bag-info External-Identifier,
dc:identifier, METS OBJID and in the PREMIS object identifiers, so it is kept to
letters, digits, ".", "_" and "-" (safe in file names, URIs and XML IDs alike).

A derived identifier spells its title in ASCII with anyascii, which transliterates every
script ("Über Straße" -> "uber-strasse", Japanese and Chinese by their romanised readings),
where dropping what is not ASCII would lose a non-Latin title whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from archiver.errors import UsageError

_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SLUG_MAX = 60
DERIVED_MAX_LENGTH = _SLUG_MAX + 9  # a slug, "-", eight hex digits


def check_bag_id(value: str) -> str:
    """Return ``value`` if it is a usable bag identifier, else raise UsageError."""
    if not _VALID.match(value):
        raise UsageError(
            f"invalid bag identifier {value!r}: use 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def slugify(text: str) -> str:
    """A lowercase ASCII slug of ``text``, transliterated, cut at a word boundary; "" when
    nothing is left. ASCII text is taken as it is: its slug never changes."""
    from anyascii import anyascii  # here: its import (5 ms) is paid only when it is used

    ascii_text = anyascii(text)
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > _SLUG_MAX:
            break
        slug = candidate
    if not slug and words:
        slug = words[0][:_SLUG_MAX]
    return slug


def derive_bag_id(title: str, payload: Iterable[tuple[str, str]]) -> str:
    """A readable, stable identifier: the title's slug and a digest of the payload.

    ``payload`` yields (bag path, sha256) pairs; the same files under the same names give
    the same identifier, and two different texts with the same title do not collide.
    """
    digest = hashlib.sha256()
    for path, sha256 in sorted(payload):
        digest.update(f"{sha256} {path}\n".encode())
    slug = slugify(title) or "bag"
    return f"{slug}-{digest.hexdigest()[:8]}"
