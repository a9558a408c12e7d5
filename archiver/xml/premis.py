"""PREMIS 3.0 from a Provenance, built with lxml (pure: no I/O but the stream it is given).

metadata/premis.xml (``write``) is the one home of a bag's PREMIS: METS points at it
(mdRef) rather than holding a copy. Everything is streamed (writing.Stream), so only the
root declares the namespaces, and memory stays flat however many files a bag has. Events
link to the objects they concern, not objects back to events. Tests check every shape
against the XSD; docs/bag-layout.md says what is left out and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from io import BytesIO
from typing import Any, BinaryIO

from archiver.clock import w3cdtf
from archiver.provenance import (
    AGENT_ROLES,
    AGENT_TYPES,
    EVENT_TYPES,
    HASH_FUNCTIONS,
    LOC,
    OBJECT_ROLES,
    Agent,
    Event,
    FileObject,
    Identifier,
    Provenance,
    Representation,
)
from archiver.xml import parsing, writing
from archiver.xml.namespaces import PREMIS, PREMIS_XSD, XSI, q
from archiver.xml.writing import Leaf, Node, Output, Stream

VERSION = "3.0"
# How a file object says where it lives: its path relative to the bag's base directory.
CONTENT_LOCATION_TYPE = "BagIt bag path"
NSMAP = {"premis": PREMIS, "xsi": XSI}


@cache
def _tag(local: str) -> str:
    return q(PREMIS, local)


def _vocabulary(vocabulary: str, code: str) -> dict[str, str]:
    """The LoC vocabulary term's URI; it names the authority too, so nothing else is repeated."""
    return {"valueURI": f"{LOC}{vocabulary}/{code}"}


def write_representation(stream: Stream, rep: Representation) -> None:
    """``premis:object xsi:type="premis:representation"``: the bag's content as a whole.

    It does not list its files, nor do they point back at it: every file object of the
    document is part of it, and either list would repeat every file once more.
    """
    with stream.element(_tag("object"), {q(XSI, "type"): "premis:representation"}):
        _write_identifier(stream, "object", rep.identifier)
        stream.leaf(_tag("originalName"), rep.name)


def write_file_object(stream: Stream, obj: FileObject) -> None:
    """``premis:object xsi:type="premis:file"``: what a payload file is and where it lives.

    Streamed, so it declares no namespace of its own (the document's root does). What can be
    derived is left out: that the file is part of the bag's representation (every file
    object of a bag's premis.xml is), the registry role of its PRONOM key. Built as one
    node and written in one call: a bag of 100,000 files has as many.
    """
    parts: list[Node] = [_identifier("object", obj.identifier)]
    if obj.text is not None:
        parts += [
            (
                _tag("significantProperties"),
                None,
                [
                    (_tag("significantPropertiesType"), kind, None),
                    (_tag("significantPropertiesValue"), value, None),
                ],
            )
            for kind, value in obj.text.significant_properties()
        ]
    characteristics: list[Node] = [
        (
            _tag("fixity"),
            None,
            [
                (
                    _tag("messageDigestAlgorithm"),
                    HASH_FUNCTIONS.get(algorithm, algorithm),
                    _vocabulary("cryptographicHashFunctions", algorithm),
                ),
                (_tag("messageDigest"), digest, None),
            ],
        )
        for algorithm, digest in obj.digests.items()
    ]
    characteristics.append((_tag("size"), str(obj.size), None))
    fmt = obj.format
    designation: list[Node] = [(_tag("formatName"), fmt.name, None)]
    if fmt.version:
        designation.append((_tag("formatVersion"), fmt.version, None))
    described: list[Node] = [(_tag("formatDesignation"), None, designation)]
    if fmt.puid:
        registry: list[Node] = [
            (_tag("formatRegistryName"), "PRONOM", None),
            (_tag("formatRegistryKey"), fmt.puid, None),
        ]
        described.append((_tag("formatRegistry"), None, registry))
    characteristics.append((_tag("format"), None, described))
    location: list[Node] = [
        (_tag("contentLocationType"), CONTENT_LOCATION_TYPE, None),
        (_tag("contentLocationValue"), obj.path, None),
    ]
    parts += [
        (_tag("objectCharacteristics"), None, characteristics),
        (_tag("originalName"), obj.original_name, None),
        (_tag("storage"), None, [(_tag("contentLocation"), None, location)]),
    ]
    stream.nested(_tag("object"), {q(XSI, "type"): "premis:file"}, parts)


def _identifier(kind: str, identifier: Identifier) -> tuple[str, None, list[Node]]:
    return (
        _tag(f"{kind}Identifier"),
        None,
        [
            (_tag(f"{kind}IdentifierType"), identifier.type, None),
            (_tag(f"{kind}IdentifierValue"), identifier.value, None),
        ],
    )


def _write_identifier(stream: Stream, kind: str, identifier: Identifier) -> None:
    stream.nested(*_identifier(kind, identifier))


def write_event(stream: Stream, ev: Event) -> None:
    """``premis:event``: what happened, when, how it went, by whom, to which objects."""
    with stream.element(_tag("event")):
        _write_identifier(stream, "event", ev.identifier)
        stream.leaf(
            _tag("eventType"),
            EVENT_TYPES[ev.type_code],
            _vocabulary("eventType", ev.type_code),
        )
        stream.leaf(_tag("eventDateTime"), w3cdtf(ev.when))
        stream.leaves(
            _tag("eventDetailInformation"), None, [(_tag("eventDetail"), ev.detail, None)]
        )
        with stream.element(_tag("eventOutcomeInformation")):
            stream.leaf(_tag("eventOutcome"), ev.outcome)
            for note in ev.outcome_details:
                stream.leaves(
                    _tag("eventOutcomeDetail"), None, [(_tag("eventOutcomeDetailNote"), note, None)]
                )
        for agent_id, role in ev.agents:
            stream.leaves(
                _tag("linkingAgentIdentifier"),
                None,
                [
                    (_tag("linkingAgentIdentifierType"), agent_id.type, None),
                    (_tag("linkingAgentIdentifierValue"), agent_id.value, None),
                    (
                        _tag("linkingAgentRole"),
                        AGENT_ROLES[role],
                        _vocabulary("eventRelatedAgentRole", role),
                    ),
                ],
            )
        for object_id, object_role in ev.objects:
            link: list[Leaf] = [
                (_tag("linkingObjectIdentifierType"), object_id.type, None),
                (_tag("linkingObjectIdentifierValue"), object_id.value, None),
            ]
            if object_role:
                link.append(
                    (
                        _tag("linkingObjectRole"),
                        OBJECT_ROLES[object_role],
                        _vocabulary("eventRelatedObjectRole", object_role),
                    )
                )
            stream.leaves(_tag("linkingObjectIdentifier"), None, link)


def write_agent(stream: Stream, ag: Agent) -> None:
    """``premis:agent``: who or what acted (archiver itself, an organisation)."""
    with stream.element(_tag("agent")):
        _write_identifier(stream, "agent", ag.identifier)
        stream.leaf(_tag("agentName"), ag.name)
        stream.leaf(
            _tag("agentType"), AGENT_TYPES[ag.type_code], _vocabulary("agentType", ag.type_code)
        )
        if ag.version:
            stream.leaf(_tag("agentVersion"), ag.version)


def write(output: Output, provenance: Provenance) -> None:
    """metadata/premis.xml: the representation, every file, event and agent."""
    attrib = {"version": VERSION, q(XSI, "schemaLocation"): f"{PREMIS} {PREMIS_XSD}"}
    with writing.stream(output) as stream, stream.element(_tag("premis"), attrib, NSMAP):
        write_representation(stream, provenance.representation)
        for obj in provenance.files:
            write_file_object(stream, obj)
        for ev in provenance.events:
            write_event(stream, ev)
        for ag in provenance.agents:
            write_agent(stream, ag)


def document(provenance: Provenance) -> bytes:
    """A whole premis.xml in memory (small provenance: an audit's fixity events)."""
    output = BytesIO()
    write(output, provenance)
    return output.getvalue()


@dataclass(frozen=True)
class EventSeen:
    """An event as a PREMIS document records it (``read_premis``): its words, not ours."""

    type: str
    when: str
    outcome: str
    detail: str


@dataclass(frozen=True)
class FileSeen:
    """A file object as a PREMIS document records it (``read_premis``): where it lives in
    the bag, its format, and its significant properties (type -> value: for a text,
    character encoding, byte order mark, line endings, character count)."""

    path: str
    format: str
    registry_key: str
    properties: dict[str, str]


@dataclass(frozen=True)
class PremisSeen:
    events: list[EventSeen]
    files: dict[str, FileSeen]  # by path in the bag


def read_premis(handle: BinaryIO) -> PremisSeen:
    """The events and the file objects of a PREMIS document, in document order, in one
    streamed pass (each element is let go once read). lxml's XMLSyntaxError propagates."""
    events: list[EventSeen] = []
    files: dict[str, FileSeen] = {}
    for _, element in parsing.iterparse(handle, ("end",), tag=[_tag("event"), _tag("object")]):
        if element.tag == _tag("event"):
            events.append(
                EventSeen(
                    type=_text(element, "eventType"),
                    when=_text(element, "eventDateTime"),
                    outcome=_text(element, "eventOutcomeInformation", "eventOutcome"),
                    detail=_text(element, "eventDetailInformation", "eventDetail"),
                )
            )
        elif element.get(q(XSI, "type")) == "premis:file":
            path = _text(element, "storage", "contentLocation", "contentLocationValue")
            designation = ("objectCharacteristics", "format", "formatDesignation")
            name = _text(element, *designation, "formatName")
            version = _text(element, *designation, "formatVersion")
            properties: dict[str, str] = {}
            for found in element.iterfind(_tag("significantProperties")):
                kind = _text(found, "significantPropertiesType")
                if kind and kind not in properties:
                    properties[kind] = _text(found, "significantPropertiesValue")
            if path:
                files.setdefault(
                    path,
                    FileSeen(
                        path=path,
                        format=f"{name} {version}" if name and version else name,
                        registry_key=_text(
                            element,
                            "objectCharacteristics",
                            "format",
                            "formatRegistry",
                            "formatRegistryKey",
                        ),
                        properties=properties,
                    ),
                )
        element.clear()
    return PremisSeen(events, files)


def _text(element: Any, *steps: str) -> str:
    return str(element.findtext("/".join(_tag(step) for step in steps), "")).strip()
