"""METS 1.12.1: the document that ties a bag's files and metadata together (pure, no I/O).

    mets OBJID=<bag id>
      metsHdr CREATEDATE, agent (the creating software)
      dmdSec   oai_dc:dc wrapped as MDTYPE="DC" (a declared element, so it is schema-checked)
      amdSec   the bag: PREMIS representation (techMD), bag-level events and agents (digiprovMD)
      amdSec   one per payload file: its PREMIS file object (techMD)
      fileSec  fileGrp USE="original": SIZE, MIMETYPE, CHECKSUM (SHA-256), FLocat
      structMap TYPE="physical": the data/ folder tree

Streamed as text like premis.py, for the same reason: size in the number of files.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

from archiver.clock import w3cdtf
from archiver.provenance import Agent, Provenance
from archiver.record import Record
from archiver.xml import dc, premis
from archiver.xml.escape import attr, text
from archiver.xml.namespaces import (
    DC,
    METS,
    METS_XSD,
    OAI_DC,
    OAI_DC_XSD,
    PREMIS,
    PREMIS_XSD,
    XLINK,
    XSI,
)

CHECKSUM_ALGORITHM = "sha256"
CHECKSUM_TYPE = "SHA-256"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_XML_DATA = "        "  # indentation of what sits inside mets:xmlData


def id_prefix(bag_id: str) -> str:
    """What every xs:ID of a bag's METS starts with: the bag identifier, as an NCName.

    IDs must be unique in a document, and one OAI-PMH ListRecords response carries the METS
    of many bags: plain "file_1" would collide. A bag identifier is letters, digits, '.',
    '_' and '-', all NCName characters; only a leading digit needs a letter before it.
    """
    return f"{'b' if bag_id[:1].isdigit() else ''}{bag_id}_"


def href(path: str) -> str:
    """A bag path as the URI reference FLocat carries (xs:anyURI): percent-encoded UTF-8."""
    return quote(path, safe="/!$&'()*+,;=:@~")


def _wrapped(section: str, md_id: str, mdtype: str, content: str) -> str:
    return (
        f'    <mets:{section} ID="{md_id}">\n'
        f'      <mets:mdWrap MDTYPE="{mdtype}">\n'
        f"        <mets:xmlData>\n"
        f"{content}"
        f"        </mets:xmlData>\n"
        f"      </mets:mdWrap>\n"
        f"    </mets:{section}>\n"
    )


def document(
    bag_id: str, record: Record, provenance: Provenance, software: Agent, now: datetime
) -> Iterator[str]:
    """metadata/mets.xml in pieces."""
    ids = id_prefix(bag_id)
    titles = record.values("title")
    label = f' LABEL="{attr(titles[0])}"' if titles else ""
    locations = f"{METS} {METS_XSD} {PREMIS} {PREMIS_XSD} {OAI_DC} {OAI_DC_XSD}"
    yield DECLARATION
    yield (
        f'<mets:mets xmlns:mets="{METS}" xmlns:xlink="{XLINK}" xmlns:xsi="{XSI}" '
        f'xmlns:premis="{PREMIS}" xmlns:oai_dc="{OAI_DC}" xmlns:dc="{DC}" '
        f'xsi:schemaLocation="{locations}" OBJID="{attr(bag_id)}"{label}>\n'
        f'  <mets:metsHdr CREATEDATE="{w3cdtf(now)}" RECORDSTATUS="Complete">\n'
        f'    <mets:agent ROLE="CREATOR" TYPE="OTHER" OTHERTYPE="SOFTWARE">\n'
        f"      <mets:name>{text(f'{software.name} {software.version}')}</mets:name>\n"
        f"    </mets:agent>\n"
        f"  </mets:metsHdr>\n"
        f'  <mets:dmdSec ID="{ids}dmdSec_1">\n'
        f'    <mets:mdWrap MDTYPE="DC" LABEL="Dublin Core">\n'
        f"      <mets:xmlData>\n"
        f"{dc.oai_dc(record, '        ', standalone=False)}"
        f"      </mets:xmlData>\n"
        f"    </mets:mdWrap>\n"
        f"  </mets:dmdSec>\n"
    )
    rep = provenance.representation
    yield f'  <mets:amdSec ID="{ids}amdSec_bag">\n'
    yield _wrapped(
        "techMD", f"{ids}techMD_bag", "PREMIS:OBJECT", premis.representation_object(rep, _XML_DATA)
    )
    for index, ev in enumerate(provenance.events, start=1):
        yield _wrapped(
            "digiprovMD",
            f"{ids}digiprovMD_event_{index}",
            "PREMIS:EVENT",
            premis.event(ev, _XML_DATA),
        )
    for index, ag in enumerate(provenance.agents, start=1):
        yield _wrapped(
            "digiprovMD",
            f"{ids}digiprovMD_agent_{index}",
            "PREMIS:AGENT",
            premis.agent(ag, _XML_DATA),
        )
    yield "  </mets:amdSec>\n"
    for number, obj in enumerate(provenance.files, start=1):
        yield f'  <mets:amdSec ID="{ids}amdSec_{number}">\n'
        yield _wrapped(
            "techMD", f"{ids}techMD_{number}", "PREMIS:OBJECT", premis.file_object(obj, _XML_DATA)
        )
        yield "  </mets:amdSec>\n"
    yield '  <mets:fileSec>\n    <mets:fileGrp USE="original">\n'
    for number, obj in enumerate(provenance.files, start=1):
        yield (
            f'      <mets:file ID="{ids}file_{number}" MIMETYPE="{attr(obj.format.mimetype)}" '
            f'SIZE="{obj.size}" CHECKSUM="{obj.digests[CHECKSUM_ALGORITHM]}" '
            f'CHECKSUMTYPE="{CHECKSUM_TYPE}" ADMID="{ids}amdSec_{number}">\n'
            f'        <mets:FLocat LOCTYPE="OTHER" OTHERLOCTYPE="SYSTEM" xlink:type="simple" '
            f'xlink:href="{attr(href(obj.path))}"/>\n'
            f"      </mets:file>\n"
        )
    yield "    </mets:fileGrp>\n  </mets:fileSec>\n"
    yield '  <mets:structMap TYPE="physical" LABEL="BagIt bag">\n'
    yield (
        f'    <mets:div TYPE="Directory" LABEL="{attr(bag_id)}" DMDID="{ids}dmdSec_1" '
        f'ADMID="{ids}amdSec_bag">\n'
    )
    yield from _tree([obj.path for obj in provenance.files], ids)
    yield "    </mets:div>\n  </mets:structMap>\n</mets:mets>\n"


def _tree(paths: list[str], ids: str) -> Iterator[str]:
    """Nested Directory divs down to one Item div per file, following the (sorted) bag paths."""
    open_folders: list[str] = []
    for number, path in enumerate(paths, start=1):
        *folders, name = path.split("/")
        common = 0
        while (
            common < min(len(folders), len(open_folders))
            and folders[common] == open_folders[common]
        ):
            common += 1
        while len(open_folders) > common:
            open_folders.pop()
            yield f"{'  ' * (len(open_folders) + 3)}</mets:div>\n"
        for folder in folders[common:]:
            yield f'{"  " * (len(open_folders) + 3)}<mets:div TYPE="Directory" LABEL="{attr(folder)}">\n'
            open_folders.append(folder)
        pad = "  " * (len(open_folders) + 3)
        yield (
            f'{pad}<mets:div TYPE="Item" LABEL="{attr(name)}">\n'
            f'{pad}  <mets:fptr FILEID="{ids}file_{number}"/>\n'
            f"{pad}</mets:div>\n"
        )
    while open_folders:
        open_folders.pop()
        yield f"{'  ' * (len(open_folders) + 3)}</mets:div>\n"
