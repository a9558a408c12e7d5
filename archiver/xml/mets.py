"""METS 1.12.1: the document that ties a bag's files and metadata together (pure, no I/O).

mets OBJID=<bag id>
  metsHdr CREATEDATE, agent (the creating software)
  dmdSec   oai_dc:dc wrapped as MDTYPE="DC" (declared, so it is schema-checked)
  amdSec   the bag: PREMIS representation, bag-level events, agents
  amdSec   one per payload file: PREMIS file object (techMD) and its events (digiprovMD)
  fileSec  fileGrp USE="original": SIZE, MIMETYPE, CHECKSUM (SHA-256), FLocat
  structMap TYPE="physical": the data/ folder tree
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from archiver.clock import w3cdtf
from archiver.provenance import Agent, Provenance
from archiver.record import Record
from archiver.xml import dc, premis
from archiver.xml.namespaces import (
    METS,
    METS_XSD,
    OAI_DC,
    OAI_DC_XSD,
    PREMIS,
    PREMIS_XSD,
    XLINK,
    XSI,
    q,
)

CHECKSUM_ALGORITHM = "sha256"
CHECKSUM_TYPE = "SHA-256"
_NSMAP = {"mets": METS, "xlink": XLINK, "xsi": XSI}


def _sub(parent: etree._Element, name: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, q(METS, name), attrib=attributes)


def _wrap(
    parent: etree._Element, name: str, md_id: str, mdtype: str, content: etree._Element
) -> None:
    section = _sub(parent, name, ID=md_id)
    wrap = _sub(section, "mdWrap", MDTYPE=mdtype)
    _sub(wrap, "xmlData").append(content)


def document(
    bag_id: str, record: Record, provenance: Provenance, software: Agent, now: datetime
) -> etree._Element:
    root = etree.Element(q(METS, "mets"), nsmap=_NSMAP)
    root.set(
        q(XSI, "schemaLocation"),
        f"{METS} {METS_XSD} {PREMIS} {PREMIS_XSD} {OAI_DC} {OAI_DC_XSD}",
    )
    root.set("OBJID", bag_id)
    titles = record.values("title")
    if titles:
        root.set("LABEL", titles[0])

    header = _sub(root, "metsHdr", CREATEDATE=w3cdtf(now), RECORDSTATUS="Complete")
    agent = _sub(header, "agent", ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    etree.SubElement(agent, q(METS, "name")).text = f"{software.name} {software.version}"

    dmd = _sub(root, "dmdSec", ID="dmdSec_1")
    wrap = _sub(dmd, "mdWrap", MDTYPE="DC", LABEL="Dublin Core")
    _sub(wrap, "xmlData").append(dc.oai_dc(record, schema_location=False))

    bag_amd = _sub(root, "amdSec", ID="amdSec_bag")
    _wrap(
        bag_amd,
        "techMD",
        "techMD_bag",
        "PREMIS:OBJECT",
        premis.representation_object(provenance.representation),
    )
    events_by_id = {ev.identifier: ev for ev in provenance.events}
    for index, event_id in enumerate(provenance.representation.events, start=1):
        _wrap(
            bag_amd,
            "digiprovMD",
            f"digiprovMD_bag_{index}",
            "PREMIS:EVENT",
            premis.event(events_by_id[event_id]),
        )
    for index, ag in enumerate(provenance.agents, start=1):
        _wrap(bag_amd, "digiprovMD", f"digiprovMD_agent_{index}", "PREMIS:AGENT", premis.agent(ag))

    file_ids: dict[str, str] = {}
    for number, obj in enumerate(provenance.files, start=1):
        amd = _sub(root, "amdSec", ID=f"amdSec_{number}")
        _wrap(amd, "techMD", f"techMD_{number}", "PREMIS:OBJECT", premis.file_object(obj))
        for index, event_id in enumerate(obj.events, start=1):
            _wrap(
                amd,
                "digiprovMD",
                f"digiprovMD_{number}_{index}",
                "PREMIS:EVENT",
                premis.event(events_by_id[event_id]),
            )
        file_ids[obj.path] = f"file_{number}"

    file_sec = _sub(root, "fileSec")
    group = _sub(file_sec, "fileGrp", USE="original")
    for number, obj in enumerate(provenance.files, start=1):
        entry = _sub(
            group,
            "file",
            ID=file_ids[obj.path],
            MIMETYPE=obj.format.mimetype,
            SIZE=str(obj.size),
            CHECKSUM=obj.digests[CHECKSUM_ALGORITHM],
            CHECKSUMTYPE=CHECKSUM_TYPE,
            ADMID=f"amdSec_{number}",
        )
        location = _sub(entry, "FLocat", LOCTYPE="OTHER", OTHERLOCTYPE="SYSTEM")
        location.set(q(XLINK, "type"), "simple")
        location.set(q(XLINK, "href"), obj.path)

    struct_map = _sub(root, "structMap", TYPE="physical", LABEL="BagIt bag")
    top = _sub(
        struct_map, "div", TYPE="Directory", LABEL=bag_id, DMDID="dmdSec_1", ADMID="amdSec_bag"
    )
    _tree(top, file_ids)
    return root


def _tree(top: etree._Element, file_ids: dict[str, str]) -> None:
    """Nested Directory divs down to one Item div per file, following the bag paths."""
    folders: dict[tuple[str, ...], etree._Element] = {(): top}
    for path, file_id in file_ids.items():
        parts = tuple(path.split("/"))
        for depth in range(1, len(parts)):
            key = parts[:depth]
            if key not in folders:
                folders[key] = _sub(
                    folders[key[:-1]], "div", TYPE="Directory", LABEL=parts[depth - 1]
                )
        item = _sub(folders[parts[:-1]], "div", TYPE="Item", LABEL=parts[-1])
        _sub(item, "fptr", FILEID=file_id)
