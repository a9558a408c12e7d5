"""Dublin Core: a Record's values as an ``oai_dc:dc`` record (pure, no I/O)."""

from __future__ import annotations

from archiver.record import Record
from archiver.xml.escape import text
from archiver.xml.namespaces import DC, OAI_DC, OAI_DC_XSD, XSI

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def oai_dc(record: Record, indent: str = "", *, standalone: bool = True) -> str:
    """``<oai_dc:dc>`` with one ``dc:*`` element per value, in DCMES order.

    ``standalone`` declares the namespaces and the schema location on the element itself;
    embedded in METS the enclosing document declares them.
    """
    if standalone:
        opening = (
            f'{indent}<oai_dc:dc xmlns:oai_dc="{OAI_DC}" xmlns:dc="{DC}" xmlns:xsi="{XSI}" '
            f'xsi:schemaLocation="{OAI_DC} {OAI_DC_XSD}">\n'
        )
    else:
        opening = f"{indent}<oai_dc:dc>\n"
    lines = [opening]
    for element, values in record.dc:
        for value in values:
            lines.append(f"{indent}  <dc:{element}>{text(value)}</dc:{element}>\n")
    lines.append(f"{indent}</oai_dc:dc>\n")
    return "".join(lines)


def document(record: Record) -> str:
    """metadata/dc.xml."""
    return DECLARATION + oai_dc(record)
