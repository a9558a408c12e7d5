"""PREMIS 3.0 from a Provenance, streamed as text (pure, no I/O).

The same functions serve metadata/premis.xml (a ``premis:premis`` document) and the METS
amdSec (standalone objects, events and agents carrying ``version="3.0"``). Text is built
from templates, not trees: a bag of 10,000 files has 10,000 objects, and building them as
lxml trees costs seconds. Tests check every shape against the XSD.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from archiver.xml.escape import attr, text
from archiver.xml.namespaces import PREMIS, PREMIS_XSD, XSI

VERSION = "3.0"
# How a file object says where it lives: its path relative to the bag's base directory.
CONTENT_LOCATION_TYPE = "BagIt bag path"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _vocabulary(vocabulary: str, code: str) -> str:
    """The LoC vocabulary term's URI; it names the authority too, so nothing else is repeated."""
    return f' valueURI="{LOC}{vocabulary}/{code}"'


def _identifier(i: str, kind: str, identifier: Identifier) -> str:
    return (
        f"{i}<premis:{kind}Identifier>\n"
        f"{i}  <premis:{kind}IdentifierType>{text(identifier.type)}</premis:{kind}IdentifierType>\n"
        f"{i}  <premis:{kind}IdentifierValue>{text(identifier.value)}</premis:{kind}IdentifierValue>\n"
        f"{i}</premis:{kind}Identifier>\n"
    )


def _relationship(i: str, subtype_code: str, subtype: str, related: Identifier) -> str:
    return (
        f"{i}<premis:relationship>\n"
        f"{i}  <premis:relationshipType{_vocabulary('relationshipType', 'str')}>structural"
        f"</premis:relationshipType>\n"
        f"{i}  <premis:relationshipSubType{_vocabulary('relationshipSubType', subtype_code)}>"
        f"{subtype}</premis:relationshipSubType>\n"
        f"{i}  <premis:relatedObjectIdentifier>\n"
        f"{i}    <premis:relatedObjectIdentifierType>{text(related.type)}"
        f"</premis:relatedObjectIdentifierType>\n"
        f"{i}    <premis:relatedObjectIdentifierValue>{text(related.value)}"
        f"</premis:relatedObjectIdentifierValue>\n"
        f"{i}  </premis:relatedObjectIdentifier>\n"
        f"{i}</premis:relationship>\n"
    )


def _opening(i: str, name: str, xsi_type: str | None, standalone: bool, namespaces: bool) -> str:
    extra = f' xmlns:premis="{PREMIS}" xmlns:xsi="{XSI}"' if namespaces else ""
    if xsi_type:
        extra += f' xsi:type="premis:{xsi_type}"'
    if standalone:
        extra += f' version="{VERSION}"'
    return f"{i}<premis:{name}{extra}>\n"


def file_object(
    obj: FileObject, i: str = "", *, standalone: bool = True, namespaces: bool = False
) -> str:
    """``premis:object xsi:type="premis:file"``: identity, fixity, size, format, text properties."""
    j, k, m = i + "  ", i + "    ", i + "      "
    parts = [
        _opening(i, "object", "file", standalone, namespaces),
        _identifier(j, "object", obj.identifier),
    ]
    if obj.text is not None:
        for kind, value in obj.text.significant_properties():
            parts.append(
                f"{j}<premis:significantProperties>\n"
                f"{k}<premis:significantPropertiesType>{kind}</premis:significantPropertiesType>\n"
                f"{k}<premis:significantPropertiesValue>{text(value)}</premis:significantPropertiesValue>\n"
                f"{j}</premis:significantProperties>\n"
            )
    parts.append(
        f"{j}<premis:objectCharacteristics>\n{k}<premis:compositionLevel>0</premis:compositionLevel>\n"
    )
    for algorithm, digest in obj.digests.items():
        parts.append(
            f"{k}<premis:fixity>\n"
            f"{m}<premis:messageDigestAlgorithm{_vocabulary('cryptographicHashFunctions', algorithm)}>"
            f"{HASH_FUNCTIONS.get(algorithm, algorithm)}</premis:messageDigestAlgorithm>\n"
            f"{m}<premis:messageDigest>{digest}</premis:messageDigest>\n"
            f"{k}</premis:fixity>\n"
        )
    fmt = obj.format
    version = (
        f"{m}  <premis:formatVersion>{text(fmt.version)}</premis:formatVersion>\n"
        if fmt.version
        else ""
    )
    registry = (
        f"{m}<premis:formatRegistry>\n"
        f"{m}  <premis:formatRegistryName>PRONOM</premis:formatRegistryName>\n"
        f"{m}  <premis:formatRegistryKey>{text(fmt.puid)}</premis:formatRegistryKey>\n"
        f"{m}  <premis:formatRegistryRole>specification</premis:formatRegistryRole>\n"
        f"{m}</premis:formatRegistry>\n"
        if fmt.puid
        else ""
    )
    parts.append(
        f"{k}<premis:size>{obj.size}</premis:size>\n"
        f"{k}<premis:format>\n"
        f"{m}<premis:formatDesignation>\n"
        f"{m}  <premis:formatName>{text(fmt.name)}</premis:formatName>\n"
        f"{version}"
        f"{m}</premis:formatDesignation>\n"
        f"{registry}"
        f"{k}</premis:format>\n"
        f"{j}</premis:objectCharacteristics>\n"
        f"{j}<premis:originalName>{text(obj.original_name)}</premis:originalName>\n"
        f"{j}<premis:storage>\n"
        f"{k}<premis:contentLocation>\n"
        f"{m}<premis:contentLocationType>{CONTENT_LOCATION_TYPE}</premis:contentLocationType>\n"
        f"{m}<premis:contentLocationValue>{text(obj.path)}</premis:contentLocationValue>\n"
        f"{k}</premis:contentLocation>\n"
        f"{j}</premis:storage>\n"
    )
    parts.append(_relationship(j, "isi", "is included in", obj.representation))
    parts.append(f"{i}</premis:object>\n")
    return "".join(parts)


def representation_object(
    rep: Representation, i: str = "", *, standalone: bool = True, namespaces: bool = False
) -> str:
    """``premis:object xsi:type="premis:representation"``: the bag's content as a whole.

    Its files say they are included in it; it does not list them back (that list would
    repeat every file once more).
    """
    j = i + "  "
    return "".join(
        [
            _opening(i, "object", "representation", standalone, namespaces),
            _identifier(j, "object", rep.identifier),
            f"{j}<premis:originalName>{text(rep.name)}</premis:originalName>\n",
            f"{i}</premis:object>\n",
        ]
    )


def event(ev: Event, i: str = "", *, standalone: bool = True, namespaces: bool = False) -> str:
    j, k = i + "  ", i + "    "
    parts = [
        _opening(i, "event", None, standalone, namespaces),
        _identifier(j, "event", ev.identifier),
        f"{j}<premis:eventType{_vocabulary('eventType', ev.type_code)}>"
        f"{EVENT_TYPES[ev.type_code]}</premis:eventType>\n",
        f"{j}<premis:eventDateTime>{w3cdtf(ev.when)}</premis:eventDateTime>\n",
        f"{j}<premis:eventDetailInformation>\n"
        f"{k}<premis:eventDetail>{text(ev.detail)}</premis:eventDetail>\n"
        f"{j}</premis:eventDetailInformation>\n",
        f"{j}<premis:eventOutcomeInformation>\n{k}<premis:eventOutcome>{text(ev.outcome)}</premis:eventOutcome>\n",
    ]
    if ev.outcome_detail:
        parts.append(
            f"{k}<premis:eventOutcomeDetail>\n"
            f"{k}  <premis:eventOutcomeDetailNote>{text(ev.outcome_detail)}</premis:eventOutcomeDetailNote>\n"
            f"{k}</premis:eventOutcomeDetail>\n"
        )
    parts.append(f"{j}</premis:eventOutcomeInformation>\n")
    for agent_id, role in ev.agents:
        parts.append(
            f"{j}<premis:linkingAgentIdentifier>\n"
            f"{k}<premis:linkingAgentIdentifierType>{text(agent_id.type)}</premis:linkingAgentIdentifierType>\n"
            f"{k}<premis:linkingAgentIdentifierValue>{text(agent_id.value)}</premis:linkingAgentIdentifierValue>\n"
            f"{k}<premis:linkingAgentRole{_vocabulary('eventRelatedAgentRole', role)}>"
            f"{AGENT_ROLES[role]}</premis:linkingAgentRole>\n"
            f"{j}</premis:linkingAgentIdentifier>\n"
        )
    for object_id, object_role in ev.objects:
        role_element = (
            f"{k}<premis:linkingObjectRole{_vocabulary('eventRelatedObjectRole', object_role)}>"
            f"{OBJECT_ROLES[object_role]}</premis:linkingObjectRole>\n"
            if object_role
            else ""
        )
        parts.append(
            f"{j}<premis:linkingObjectIdentifier>\n"
            f"{k}<premis:linkingObjectIdentifierType>{text(object_id.type)}</premis:linkingObjectIdentifierType>\n"
            f"{k}<premis:linkingObjectIdentifierValue>{text(object_id.value)}</premis:linkingObjectIdentifierValue>\n"
            f"{role_element}"
            f"{j}</premis:linkingObjectIdentifier>\n"
        )
    parts.append(f"{i}</premis:event>\n")
    return "".join(parts)


def agent(ag: Agent, i: str = "", *, standalone: bool = True, namespaces: bool = False) -> str:
    j = i + "  "
    version = (
        f"{j}<premis:agentVersion>{text(ag.version)}</premis:agentVersion>\n" if ag.version else ""
    )
    return (
        f"{_opening(i, 'agent', None, standalone, namespaces)}"
        f"{_identifier(j, 'agent', ag.identifier)}"
        f"{j}<premis:agentName>{text(ag.name)}</premis:agentName>\n"
        f"{j}<premis:agentType{_vocabulary('agentType', ag.type_code)}>"
        f"{AGENT_TYPES[ag.type_code]}</premis:agentType>\n"
        f"{version}"
        f"{i}</premis:agent>\n"
    )


def document(provenance: Provenance) -> Iterator[str]:
    """metadata/premis.xml in pieces: the representation, every file, event and agent."""
    yield DECLARATION
    yield (
        f'<premis:premis xmlns:premis="{PREMIS}" xmlns:xsi="{XSI}" version="{VERSION}" '
        f'xsi:schemaLocation="{attr(PREMIS)} {attr(PREMIS_XSD)}">\n'
    )
    yield representation_object(provenance.representation, "  ", standalone=False)
    for obj in provenance.files:
        yield file_object(obj, "  ", standalone=False)
    for ev in provenance.events:
        yield event(ev, "  ", standalone=False)
    for ag in provenance.agents:
        yield agent(ag, "  ", standalone=False)
    yield "</premis:premis>\n"
