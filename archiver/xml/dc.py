"""Dublin Core: a Record's values as an ``oai_dc:dc`` element (pure, no I/O)."""

from __future__ import annotations

from lxml import etree

from archiver.record import Record
from archiver.xml.namespaces import DC, OAI_DC, OAI_DC_XSD, XSI, q


def oai_dc(record: Record, *, schema_location: bool = True) -> etree._Element:
    """``<oai_dc:dc>`` with one ``dc:*`` element per value, in DCMES order."""
    nsmap = {"oai_dc": OAI_DC, "dc": DC, "xsi": XSI}
    root = etree.Element(q(OAI_DC, "dc"), nsmap=nsmap)
    if schema_location:
        root.set(q(XSI, "schemaLocation"), f"{OAI_DC} {OAI_DC_XSD}")
    for element, values in record.dc:
        for value in values:
            etree.SubElement(root, q(DC, element)).text = value
    return root
