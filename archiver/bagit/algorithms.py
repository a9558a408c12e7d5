"""Checksum algorithms by their RFC 8493 §2.4 names (lowercase, alphanumerics only)."""

from __future__ import annotations

import hashlib
import re

# The algorithms we write, in the order manifests are listed: SHA-256 and SHA-512 are the
# two every BagIt 1.0 tool MUST support (§2.4); SHA-512 is the SHOULD default.
WRITTEN = ("sha256", "sha512")

# §2.4 names -> hashlib names. md5 and sha1 are read for backward compatibility only.
_HASHLIB_NAMES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3224": "sha3_224",
    "sha3256": "sha3_256",
    "sha3384": "sha3_384",
    "sha3512": "sha3_512",
    "blake2b512": "blake2b",
    "blake2s256": "blake2s",
}
WEAK = frozenset({"md5", "sha1"})


def normalise(name: str) -> str:
    """§2.4: lowercase the common name and drop every non-alphanumeric character."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_supported(name: str) -> bool:
    return name in _HASHLIB_NAMES


def new(name: str) -> hashlib._Hash:
    """A fresh hash object for a §2.4 algorithm name; KeyError when we do not know it."""
    return hashlib.new(_HASHLIB_NAMES[name])


def digest_length(name: str) -> int:
    """Length of the algorithm's hex digest."""
    return new(name).digest_size * 2
