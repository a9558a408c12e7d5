"""The preservation description of a bag, before it is XML: objects, events and agents.

Controlled values are the Library of Congress preservation vocabularies
(https://id.loc.gov/vocabulary/preservation.html); each code here is the last segment of
its valueURI.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from archiver.formats import Format
from archiver.text import TextProperties

LOC = "http://id.loc.gov/vocabulary/preservation/"

EVENT_TYPES = {
    "mes": "message digest calculation",
    "for": "format identification",
    "val": "validation",
    "pac": "packing",
    "fix": "fixity check",
    "ing": "ingestion",
}
AGENT_TYPES = {"sof": "software", "org": "organization", "per": "person"}
AGENT_ROLES = {"exe": "executing program", "imp": "implementer"}
OBJECT_ROLES = {"sou": "source", "out": "outcome"}
HASH_FUNCTIONS = {"sha256": "SHA-256", "sha512": "SHA-512", "md5": "MD5", "sha1": "SHA-1"}

# uuid5 namespace for event identifiers: same bag, same inputs, same clock -> same UUIDs.
_EVENT_NAMESPACE = uuid.UUID("5b0e0c6e-3f3a-4a52-9b7d-2c1c8a6f0e11")


@dataclass(frozen=True, order=True)
class Identifier:
    type: str
    value: str


@dataclass(frozen=True)
class Agent:
    identifier: Identifier
    name: str
    type_code: str  # key of AGENT_TYPES
    version: str | None = None


@dataclass(frozen=True)
class Event:
    identifier: Identifier
    type_code: str  # key of EVENT_TYPES
    when: datetime
    detail: str
    outcome: str  # "success" or "failure"
    # notes on the outcome: one, or one per file where files that share the event differ
    outcome_details: tuple[str, ...] = ()
    agents: tuple[tuple[Identifier, str], ...] = ()  # (agent, AGENT_ROLES key)
    # (object, OBJECT_ROLES key or None when the link needs no role)
    objects: tuple[tuple[Identifier, str | None], ...] = ()


@dataclass(frozen=True)
class FileObject:
    """A payload file as PREMIS sees it."""

    identifier: Identifier
    path: str  # bag path, "data/..."
    original_name: str
    size: int
    digests: Mapping[str, str]
    format: Format
    text: TextProperties | None


@dataclass(frozen=True)
class Representation:
    """The bag's content as one PREMIS representation: every file object of its Provenance
    is included in it (neither side lists the other)."""

    identifier: Identifier
    name: str


@dataclass(frozen=True)
class Provenance:
    representation: Representation
    files: tuple[FileObject, ...]
    events: tuple[Event, ...]
    agents: tuple[Agent, ...]


def event_identifier(*parts: str) -> Identifier:
    """A UUID event identifier determined by ``parts`` (bag, event type, object, inputs, time)."""
    return Identifier("UUID", str(uuid.uuid5(_EVENT_NAMESPACE, "\x1f".join(parts))))
