"""Namespace URIs and the schema locations written into our documents."""

from __future__ import annotations

METS = "http://www.loc.gov/METS/"
PREMIS = "http://www.loc.gov/premis/v3"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
MODS = "http://www.loc.gov/mods/v3"
DC = "http://purl.org/dc/elements/1.1/"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

METS_XSD = "http://www.loc.gov/standards/mets/mets.xsd"
PREMIS_XSD = "http://www.loc.gov/standards/premis/v3/premis.xsd"
OAI_DC_XSD = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

NSMAP = {
    "mets": METS,
    "premis": PREMIS,
    "oai_dc": OAI_DC,
    "dc": DC,
    "xlink": XLINK,
    "xsi": XSI,
}


def q(namespace: str, local: str) -> str:
    """Clark notation: ``{namespace}local``."""
    return f"{{{namespace}}}{local}"
