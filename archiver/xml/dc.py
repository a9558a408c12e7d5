"""Dublin Core: a Record's values as an ``oai_dc:dc`` record, and back (pure: no I/O but
the stream it is handed); the values of one element read back from such a document."""

from __future__ import annotations

from typing import BinaryIO

from lxml import etree

from archiver.record import DC_ELEMENTS, Record
from archiver.xml import parsing, writing
from archiver.xml.namespaces import DC, OAI_DC, OAI_DC_XSD, XSI, q


def oai_dc(record: Record, *, standalone: bool = True) -> etree._Element:
    """``<oai_dc:dc>`` with one ``dc:*`` element per value, in DCMES order.

    ``standalone`` also gives the schema location (a document or an OAI-PMH record of its
    own); embedded in METS, the enclosing document gives it.
    """
    if standalone:
        root = etree.Element(
            q(OAI_DC, "dc"),
            {q(XSI, "schemaLocation"): f"{OAI_DC} {OAI_DC_XSD}"},
            nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI},
        )
    else:
        root = etree.Element(q(OAI_DC, "dc"), nsmap={"oai_dc": OAI_DC, "dc": DC})
    for element, values in record.dc:
        for value in values:
            etree.SubElement(root, q(DC, element)).text = value
    return root


def document(record: Record) -> bytes:
    """metadata/dc.xml."""
    return writing.serialise(oai_dc(record))


def values(handle: BinaryIO, element: str) -> list[str]:
    """The text of every ``dc:ELEMENT`` in the document ``handle`` holds, streamed, in order
    (``etree.XMLSyntaxError`` when it is not well-formed)."""
    found = []
    for _, node in parsing.iterparse(handle, ("end",), tag=[q(DC, element)]):
        found.append((node.text or "").strip())
        node.clear()
    return found


def read_dc(handle: BinaryIO) -> Record:
    """The Dublin Core values of a ``dc.xml`` document (ours or anyone's ``oai_dc:dc``), by
    element, blank values left out. lxml's XMLSyntaxError for a document that is not XML."""
    root = parsing.parse_file(handle).getroot()
    record = Record()
    for element in DC_ELEMENTS:
        values = [(e.text or "").strip() for e in root.iter(etree.QName(DC, element).text)]
        if values:
            record = record.with_values(element, [v for v in values if v])
    return record
