"""PREMIS 3.0 elements from a Provenance (pure, no I/O).

The same element functions serve metadata/premis.xml (a ``premis:premis`` document) and
the METS amdSec (standalone objects, events and agents carrying ``version="3.0"``).
"""

from __future__ import annotations

from lxml import etree

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
from archiver.xml.namespaces import PREMIS, PREMIS_XSD, XSI, q

VERSION = "3.0"
# How a file object says where it lives: its path relative to the bag's base directory.
CONTENT_LOCATION_TYPE = "BagIt bag path"
_NSMAP = {"premis": PREMIS, "xsi": XSI}


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, q(PREMIS, name))
    if text is not None:
        element.text = text
    return element


def _authority(
    parent: etree._Element, name: str, vocabulary: str, code: str, label: str
) -> etree._Element:
    element = _sub(parent, name, label)
    element.set("authority", vocabulary)
    element.set("authorityURI", f"{LOC}{vocabulary}")
    element.set("valueURI", f"{LOC}{vocabulary}/{code}")
    return element


def _identifier(parent: etree._Element, prefix: str, identifier: Identifier) -> None:
    holder = _sub(parent, f"{prefix}Identifier")
    _sub(holder, f"{prefix}IdentifierType", identifier.type)
    _sub(holder, f"{prefix}IdentifierValue", identifier.value)


def _root(name: str, xsi_type: str | None, standalone: bool) -> etree._Element:
    element = etree.Element(q(PREMIS, name), nsmap=_NSMAP)
    if xsi_type:
        element.set(q(XSI, "type"), f"premis:{xsi_type}")
    if standalone:
        element.set("version", VERSION)
    return element


def _relationship(
    parent: etree._Element, subtype_code: str, subtype: str, related: Identifier
) -> None:
    relationship = _sub(parent, "relationship")
    _authority(relationship, "relationshipType", "relationshipType", "str", "structural")
    _authority(relationship, "relationshipSubType", "relationshipSubType", subtype_code, subtype)
    holder = _sub(relationship, "relatedObjectIdentifier")
    _sub(holder, "relatedObjectIdentifierType", related.type)
    _sub(holder, "relatedObjectIdentifierValue", related.value)


def _linking_events(parent: etree._Element, events: tuple[Identifier, ...]) -> None:
    for event in events:
        holder = _sub(parent, "linkingEventIdentifier")
        _sub(holder, "linkingEventIdentifierType", event.type)
        _sub(holder, "linkingEventIdentifierValue", event.value)


def file_object(obj: FileObject, *, standalone: bool = True) -> etree._Element:
    """``premis:object xsi:type="premis:file"``: identity, fixity, size, format, text properties."""
    element = _root("object", "file", standalone)
    _identifier(element, "object", obj.identifier)
    if obj.text is not None:
        for kind, value in obj.text.significant_properties():
            properties = _sub(element, "significantProperties")
            _sub(properties, "significantPropertiesType", kind)
            _sub(properties, "significantPropertiesValue", value)
    characteristics = _sub(element, "objectCharacteristics")
    _sub(characteristics, "compositionLevel", "0")
    for algorithm, digest in obj.digests.items():
        fixity = _sub(characteristics, "fixity")
        _authority(
            fixity,
            "messageDigestAlgorithm",
            "cryptographicHashFunctions",
            algorithm,
            HASH_FUNCTIONS.get(algorithm, algorithm),
        )
        _sub(fixity, "messageDigest", digest)
        _sub(fixity, "messageDigestOriginator", "archiver")
    _sub(characteristics, "size", str(obj.size))
    fmt = _sub(characteristics, "format")
    designation = _sub(fmt, "formatDesignation")
    _sub(designation, "formatName", obj.format.name)
    if obj.format.version:
        _sub(designation, "formatVersion", obj.format.version)
    if obj.format.puid:
        registry = _sub(fmt, "formatRegistry")
        _sub(registry, "formatRegistryName", "PRONOM")
        _sub(registry, "formatRegistryKey", obj.format.puid)
        _sub(registry, "formatRegistryRole", "specification")
    _sub(element, "originalName", obj.original_name)
    storage = _sub(element, "storage")
    location = _sub(storage, "contentLocation")
    _sub(location, "contentLocationType", CONTENT_LOCATION_TYPE)
    _sub(location, "contentLocationValue", obj.path)
    _relationship(element, "isi", "is included in", obj.representation)
    _linking_events(element, obj.events)
    return element


def representation_object(rep: Representation, *, standalone: bool = True) -> etree._Element:
    """``premis:object xsi:type="premis:representation"``: the bag's content as a whole."""
    element = _root("object", "representation", standalone)
    _identifier(element, "object", rep.identifier)
    _sub(element, "originalName", rep.name)
    for child in rep.files:
        _relationship(element, "inc", "includes", child)
    _linking_events(element, rep.events)
    return element


def event(ev: Event, *, standalone: bool = True) -> etree._Element:
    element = _root("event", None, standalone)
    _identifier(element, "event", ev.identifier)
    _authority(element, "eventType", "eventType", ev.type_code, EVENT_TYPES[ev.type_code])
    _sub(element, "eventDateTime", w3cdtf(ev.when))
    detail = _sub(element, "eventDetailInformation")
    _sub(detail, "eventDetail", ev.detail)
    outcome = _sub(element, "eventOutcomeInformation")
    _sub(outcome, "eventOutcome", ev.outcome)
    if ev.outcome_detail:
        outcome_detail = _sub(outcome, "eventOutcomeDetail")
        _sub(outcome_detail, "eventOutcomeDetailNote", ev.outcome_detail)
    for agent_id, role in ev.agents:
        holder = _sub(element, "linkingAgentIdentifier")
        _sub(holder, "linkingAgentIdentifierType", agent_id.type)
        _sub(holder, "linkingAgentIdentifierValue", agent_id.value)
        _authority(holder, "linkingAgentRole", "eventRelatedAgentRole", role, AGENT_ROLES[role])
    for object_id, role in ev.objects:
        holder = _sub(element, "linkingObjectIdentifier")
        _sub(holder, "linkingObjectIdentifierType", object_id.type)
        _sub(holder, "linkingObjectIdentifierValue", object_id.value)
        _authority(holder, "linkingObjectRole", "eventRelatedObjectRole", role, OBJECT_ROLES[role])
    return element


def agent(ag: Agent, *, standalone: bool = True) -> etree._Element:
    element = _root("agent", None, standalone)
    _identifier(element, "agent", ag.identifier)
    _sub(element, "agentName", ag.name)
    _authority(element, "agentType", "agentType", ag.type_code, AGENT_TYPES[ag.type_code])
    if ag.version:
        _sub(element, "agentVersion", ag.version)
    return element


def document(provenance: Provenance) -> etree._Element:
    """``premis:premis`` holding the representation, every file, event and agent."""
    root = etree.Element(q(PREMIS, "premis"), nsmap=_NSMAP)
    root.set("version", VERSION)
    root.set(q(XSI, "schemaLocation"), f"{PREMIS} {PREMIS_XSD}")
    root.append(representation_object(provenance.representation, standalone=False))
    for obj in provenance.files:
        root.append(file_object(obj, standalone=False))
    for ev in provenance.events:
        root.append(event(ev, standalone=False))
    for ag in provenance.agents:
        root.append(agent(ag, standalone=False))
    return root
