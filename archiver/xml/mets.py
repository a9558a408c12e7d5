"""METS 1.12.1: the document that ties a bag's files and metadata together (pure: no I/O
but the stream it is given).

    mets OBJID=<bag id>
      metsHdr CREATEDATE, agent (the creating software)
      dmdSec   oai_dc:dc wrapped as MDTYPE="DC" (a declared element, so it is schema-checked)
      amdSec   the bag: techMD and digiprovMD, each an mdRef to metadata/premis.xml
      fileSec  fileGrp USE="original": SIZE, MIMETYPE, CHECKSUM (SHA-256), FLocat
      structMap TYPE="physical": the data/ folder tree

PREMIS is referenced, not embedded: premis.xml is its one copy (bags of archiver 0.1.0
embedded it again, in an amdSec per file; docs/bag-layout.md). Streamed (writing.Stream)
like premis.xml: its size grows with the number of files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cache
from itertools import groupby
from urllib.parse import quote

from archiver import layout
from archiver.clock import w3cdtf
from archiver.provenance import Agent, FileObject, Provenance
from archiver.record import Record
from archiver.xml import dc, writing
from archiver.xml.namespaces import (
    METS,
    METS_XSD,
    OAI_DC,
    OAI_DC_XSD,
    XLINK,
    XSI,
    q,
)
from archiver.xml.writing import Leaf, Output, Stream

CHECKSUM_ALGORITHM = "sha256"
CHECKSUM_TYPE = "SHA-256"
# The Dublin Core record declares its own namespaces (it is written whole). Every namespace
# in scope costs a little for each element xmlfile writes.
NSMAP = {"mets": METS, "xlink": XLINK, "xsi": XSI}
_SCHEMA_LOCATIONS = f"{METS} {METS_XSD} {OAI_DC} {OAI_DC_XSD}"


@cache
def _tag(local: str) -> str:
    return q(METS, local)


def id_prefix(bag_id: str) -> str:
    """What every xs:ID of a bag's METS starts with: '_', the bag identifier, '_'.

    IDs must be unique in a document, and one OAI-PMH ListRecords response carries the METS
    of many bags, so no two bags may share one. A bag identifier (letters, digits, '.',
    '_', '-') never starts with '_', and what follows the prefix is one of the forms
    LOCAL_ID matches, none of which ends with another after a '_': two bags' IDs never
    meet. (A 'b' before a leading digit did not do that: "7x" and "b7x" both wrote
    "b7x_file_1".)
    """
    return f"_{bag_id}_"


# What follows the prefix in each ID this module writes, or wrote: archiver 0.1.0 also gave
# every file an amdSec and techMD, and each event and agent a digiprovMD. Their bags' IDs
# must still read as archiver's, so OAI-PMH serves them as they are (oai/records.py).
LOCAL_ID = re.compile(
    r"dmdSec_1|amdSec_bag|techMD_bag|digiprovMD_bag|digiprovMD_(event|agent)_[0-9]+"
    r"|(amdSec|techMD|file)_[0-9]+"
)


def href(path: str) -> str:
    """A bag path as the URI reference FLocat carries (xs:anyURI): percent-encoded UTF-8.

    '+' is encoded too (%2B), though RFC 3986 allows it in a path: Archivematica's metsrw
    reads hrefs with unquote_plus, which would take a raw '+' for a space."""
    return quote(path, safe="/!$&'()*,;=:@~")


def _wrapped(
    stream: Stream, section: str, md_id: str, mdtype: str, label: str | None = None
) -> AbstractContextManager[None]:
    """``mets:<section>/mdWrap/xmlData``: what is written inside goes into xmlData."""
    wrap = {"MDTYPE": mdtype, **({"LABEL": label} if label else {})}
    return stream.elements(
        (_tag(section), {"ID": md_id}), (_tag("mdWrap"), wrap), (_tag("xmlData"), None)
    )


def write(
    output: Output,
    bag_id: str,
    record: Record,
    provenance: Provenance,
    software: Agent,
    now: datetime,
) -> None:
    """metadata/mets.xml."""
    ids = id_prefix(bag_id)
    attrib = {q(XSI, "schemaLocation"): _SCHEMA_LOCATIONS, "OBJID": bag_id}
    titles = record.values("title")
    if titles:
        attrib["LABEL"] = titles[0]
    creator = {"ROLE": "CREATOR", "TYPE": "OTHER", "OTHERTYPE": "SOFTWARE"}
    with writing.stream(output) as stream, stream.element(_tag("mets"), attrib, NSMAP):
        with (
            stream.element(
                _tag("metsHdr"), {"CREATEDATE": w3cdtf(now), "RECORDSTATUS": "Complete"}
            ),
            stream.element(_tag("agent"), creator),
        ):
            stream.leaf(_tag("name"), f"{software.name} {software.version}")
        with _wrapped(stream, "dmdSec", f"{ids}dmdSec_1", "DC", label="Dublin Core"):
            stream.write(dc.oai_dc(record, standalone=False))
        with stream.element(_tag("amdSec"), {"ID": f"{ids}amdSec_bag"}):
            for section, label in _PREMIS_REFERENCES:
                stream.leaves(
                    _tag(section), {"ID": f"{ids}{section}_bag"}, [_premis_reference(label)]
                )
        with stream.element(_tag("fileSec")), stream.element(_tag("fileGrp"), {"USE": "original"}):
            for number, obj in enumerate(provenance.files, start=1):
                _write_file(stream, ids, number, obj)
        root_div = {
            "TYPE": "Directory",
            "LABEL": bag_id,
            "DMDID": f"{ids}dmdSec_1",
            "ADMID": f"{ids}amdSec_bag",
        }
        with (
            stream.element(_tag("structMap"), {"TYPE": "physical", "LABEL": "BagIt bag"}),
            stream.element(_tag("div"), root_div),
        ):
            paths = [
                (tuple(obj.path.split("/")), number)
                for number, obj in enumerate(provenance.files, start=1)
            ]
            _write_folder(stream, ids, paths)


# Where the bag's PREMIS is, from METS: the amdSec sections that refer to it, and what each
# takes from it. A bag-relative path, as FLocat's are.
_PREMIS_REFERENCES = (
    ("techMD", "PREMIS objects: the representation and every payload file"),
    ("digiprovMD", "PREMIS events and agents"),
)


def _premis_reference(label: str) -> Leaf:
    """``mets:mdRef`` to metadata/premis.xml (a leaf of its techMD or digiprovMD)."""
    attrib = {
        "LOCTYPE": "OTHER",
        "OTHERLOCTYPE": "SYSTEM",
        q(XLINK, "type"): "simple",
        q(XLINK, "href"): href(layout.PREMIS_XML),
        "MDTYPE": "PREMIS",
        "LABEL": label,
    }
    return (_tag("mdRef"), "", attrib)


def _write_file(stream: Stream, ids: str, number: int, obj: FileObject) -> None:
    """A fileSec entry: what the file is and where it lives."""
    attrib = {
        "ID": f"{ids}file_{number}",
        "MIMETYPE": obj.format.mimetype,
        "SIZE": str(obj.size),
        "CHECKSUM": obj.digests[CHECKSUM_ALGORITHM],
        "CHECKSUMTYPE": CHECKSUM_TYPE,
    }
    location = {
        "LOCTYPE": "OTHER",
        "OTHERLOCTYPE": "SYSTEM",
        q(XLINK, "type"): "simple",
        q(XLINK, "href"): href(obj.path),
    }
    stream.leaves(_tag("file"), attrib, [(_tag("FLocat"), "", location)])


def _write_folder(stream: Stream, ids: str, files: Sequence[tuple[tuple[str, ...], int]]) -> None:
    """Nested Directory divs down to one Item div per file, following the (sorted) bag paths.

    ``files``: (the path's parts below this folder, file number), in bag order.
    """
    for folder, entries in groupby(
        files, key=lambda entry: entry[0][0] if len(entry[0]) > 1 else None
    ):
        if folder is None:
            for (name,), number in entries:
                pointer = (_tag("fptr"), "", {"FILEID": f"{ids}file_{number}"})
                stream.leaves(_tag("div"), {"TYPE": "Item", "LABEL": name}, [pointer])
        else:
            with stream.element(_tag("div"), {"TYPE": "Directory", "LABEL": folder}):
                _write_folder(stream, ids, [(parts[1:], number) for parts, number in entries])
