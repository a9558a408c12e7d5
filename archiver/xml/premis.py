"""PREMIS 3.0 from a Provenance, built with lxml (pure: no I/O but the stream it is given).

The same builders serve metadata/premis.xml (a ``premis:premis`` document, ``write``) and
the METS amdSec, where objects, events and agents stand alone and carry ``version="3.0"``
(``standalone``). Objects are lxml subtrees; events and agents are streamed, since one
event links to up to every file of a bag. Tests check every shape against the XSD.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO

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
from archiver.xml import writing
from archiver.xml.namespaces import PREMIS, PREMIS_XSD, XSI, q
from archiver.xml.writing import Leaf, Output, Stream

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


def _version(standalone: bool) -> dict[str, str]:
    return {"version": VERSION} if standalone else {}


def _sub(
    parent: etree._Element,
    local: str,
    text: str | None = None,
    attrib: dict[str, str] | None = None,
) -> etree._Element:
    return writing.sub(parent, _tag(local), text, attrib)


def _object(kind: str, standalone: bool) -> etree._Element:
    attrib = {q(XSI, "type"): f"premis:{kind}", **_version(standalone)}
    return etree.Element(_tag("object"), attrib, nsmap=NSMAP)


def _identifier(
    parent: etree._Element, kind: str, identifier: Identifier
) -> tuple[etree._Element, etree._Element]:
    """``<kind>Identifier`` with its type and value; the two leaves."""
    holder = _sub(parent, f"{kind}Identifier")
    return (
        _sub(holder, f"{kind}IdentifierType", identifier.type),
        _sub(holder, f"{kind}IdentifierValue", identifier.value),
    )


def representation_object(rep: Representation, *, standalone: bool = True) -> etree._Element:
    """``premis:object xsi:type="premis:representation"``: the bag's content as a whole.

    Its files say they are included in it; it does not list them back (that list would
    repeat every file once more).
    """
    element = _object("representation", standalone)
    _identifier(element, "object", rep.identifier)
    _sub(element, "originalName", rep.name)
    return element


class _FileForm:
    """``premis:object xsi:type="premis:file"`` for the files of one shape, made from one file.

    What the shape fixes (text or not, the digest algorithms, the format, the
    representation) is built in; what differs from file to file sits in leaves that
    ``fill`` rewrites for another file of the shape.
    """

    def __init__(self, obj: FileObject, standalone: bool, level: int) -> None:
        self.element = element = _object("file", standalone)
        self._identifier = _identifier(element, "object", obj.identifier)
        self._properties: list[etree._Element] = []
        if obj.text is not None:
            for kind, value in obj.text.significant_properties():
                properties = _sub(element, "significantProperties")
                _sub(properties, "significantPropertiesType", kind)
                self._properties.append(_sub(properties, "significantPropertiesValue", value))
        characteristics = _sub(element, "objectCharacteristics")
        _sub(characteristics, "compositionLevel", "0")
        self._digests: list[tuple[str, etree._Element]] = []
        for algorithm, digest in obj.digests.items():
            fixity = _sub(characteristics, "fixity")
            _sub(
                fixity,
                "messageDigestAlgorithm",
                HASH_FUNCTIONS.get(algorithm, algorithm),
                _vocabulary("cryptographicHashFunctions", algorithm),
            )
            self._digests.append((algorithm, _sub(fixity, "messageDigest", digest)))
        self._size = _sub(characteristics, "size", str(obj.size))
        fmt = obj.format
        described = _sub(characteristics, "format")
        designation = _sub(described, "formatDesignation")
        _sub(designation, "formatName", fmt.name)
        if fmt.version:
            _sub(designation, "formatVersion", fmt.version)
        if fmt.puid:
            registry = _sub(described, "formatRegistry")
            _sub(registry, "formatRegistryName", "PRONOM")
            _sub(registry, "formatRegistryKey", fmt.puid)
            _sub(registry, "formatRegistryRole", "specification")
        self._original_name = _sub(element, "originalName", obj.original_name)
        location = _sub(_sub(element, "storage"), "contentLocation")
        _sub(location, "contentLocationType", CONTENT_LOCATION_TYPE)
        self._path = _sub(location, "contentLocationValue", obj.path)
        relationship = _sub(element, "relationship")
        _sub(relationship, "relationshipType", "structural", _vocabulary("relationshipType", "str"))
        _sub(
            relationship,
            "relationshipSubType",
            "is included in",
            _vocabulary("relationshipSubType", "isi"),
        )
        _identifier(relationship, "relatedObject", obj.representation)
        etree.indent(element, space=writing.INDENT, level=level)

    @staticmethod
    def shape(obj: FileObject) -> tuple[object, ...]:
        """What a form fixes: files of equal shape share one."""
        return (obj.text is not None, tuple(obj.digests), obj.format, obj.representation)

    def fill(self, obj: FileObject) -> etree._Element:
        """The form, now describing ``obj`` (a file of its shape)."""
        self._identifier[0].text = obj.identifier.type
        self._identifier[1].text = obj.identifier.value
        if obj.text is not None:
            for leaf, (_, value) in zip(
                self._properties, obj.text.significant_properties(), strict=True
            ):
                leaf.text = value
        for algorithm, leaf in self._digests:
            leaf.text = obj.digests[algorithm]
        self._size.text = str(obj.size)
        self._original_name.text = obj.original_name
        self._path.text = obj.path
        return self.element


class FileObjects:
    """Writes ``premis:object xsi:type="premis:file"`` for file after file, cheaply.

    Building some thirty elements for every file costs more than writing them, and the
    files of a bag come in few shapes (text or not, a format): each shape's element is
    built once, indented for where it is written, and refilled for every file of that shape.
    """

    def __init__(self, *, standalone: bool) -> None:
        self._standalone = standalone
        self._forms: dict[tuple[object, ...], _FileForm] = {}

    def write(self, stream: Stream, obj: FileObject) -> None:
        """``obj``'s object, where ``stream`` stands."""
        key = (stream.depth, *_FileForm.shape(obj))
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _FileForm(obj, self._standalone, stream.depth)
        else:
            form.fill(obj)
        stream.write(form.element, indented=True)


def _write_identifier(stream: Stream, kind: str, identifier: Identifier) -> None:
    stream.leaves(
        _tag(f"{kind}Identifier"),
        None,
        [
            (_tag(f"{kind}IdentifierType"), identifier.type, None),
            (_tag(f"{kind}IdentifierValue"), identifier.value, None),
        ],
    )


def write_event(stream: Stream, ev: Event, *, standalone: bool = True) -> None:
    """``premis:event``: what happened, when, how it went, by whom, to which objects."""
    with stream.element(_tag("event"), _version(standalone)):
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
            if ev.outcome_detail:
                stream.leaves(
                    _tag("eventOutcomeDetail"),
                    None,
                    [(_tag("eventOutcomeDetailNote"), ev.outcome_detail, None)],
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


def write_agent(stream: Stream, ag: Agent, *, standalone: bool = True) -> None:
    """``premis:agent``: who or what acted (archiver itself, an organisation)."""
    with stream.element(_tag("agent"), _version(standalone)):
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
        stream.write(representation_object(provenance.representation, standalone=False))
        objects = FileObjects(standalone=False)
        for obj in provenance.files:
            objects.write(stream, obj)
        for ev in provenance.events:
            write_event(stream, ev, standalone=False)
        for ag in provenance.agents:
            write_agent(stream, ag, standalone=False)


def document(provenance: Provenance) -> bytes:
    """A whole premis.xml in memory (small provenance: an audit's fixity events)."""
    output = BytesIO()
    write(output, provenance)
    return output.getvalue()
