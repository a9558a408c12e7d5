"""A bag's metadata documents as OAI-PMH records: which may be served.

A document is served only when it is what its format says: well-formed, without a
DOCTYPE, rooted where the format is (``oai_dc:dc``, ``mets:mets``, ``premis:premis``) and
valid against the vendored schemas as an OAI-PMH response checks them. ``check`` finds that
out streaming, so memory stays flat whatever the size; the catalog checks each document when
it indexes the bag and keeps the ``signature`` of the file it checked, so a request checks
again only a file changed since.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from archiver import layout
from archiver.findings import Finding, finding
from archiver.xml import parsing
from archiver.xml.namespaces import METS, OAI_DC, PREMIS, q


@dataclass(frozen=True)
class Format:
    prefix: str  # the metadataPrefix
    schema: str  # what ListMetadataFormats names
    namespace: str
    source: str  # the bag file the record is made from
    root: str  # the element that file must start with


FORMATS = {
    "oai_dc": Format(
        "oai_dc",
        "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
        OAI_DC,
        layout.DC_XML,
        q(OAI_DC, "dc"),
    ),
    "mets": Format(
        "mets",
        "http://www.loc.gov/standards/mets/mets.xsd",
        METS,
        layout.METS_XML,
        q(METS, "mets"),
    ),
    "premis": Format(
        "premis",
        "http://www.loc.gov/standards/premis/v3/premis.xsd",
        PREMIS,
        layout.PREMIS_XML,
        q(PREMIS, "premis"),
    ),
}


def signature(handle: BinaryIO) -> str:
    """The open file as the catalog knows it: modification time, size, inode."""
    try:
        info = os.fstat(handle.fileno())
    except (OSError, AttributeError, io.UnsupportedOperation):
        return ""  # not a file on this machine: always checked again
    return f"{info.st_mtime_ns}:{info.st_size}:{info.st_ino}"


def check(handle: BinaryIO, fmt: Format) -> Finding | None:
    """Why the document open in ``handle`` cannot be served as ``fmt``; None when it can.

    Three streamed passes: the root (and no DOCTYPE), well-formedness, the schema (libxml2
    does not report a truncated document while it validates, hence the pass before).
    """
    name = fmt.source
    try:
        handle.seek(0)
        problem = _root_problem(handle, fmt)
        if problem is None:
            handle.seek(0)
            error = parsing.syntax_error(handle)
            if error is not None:
                return finding("metadata.xml.malformed", name, error.msg, line=error.lineno)
            handle.seek(0)
            invalid = parsing.streamed_schema_error(parsing.oai_schema(), handle)
            if invalid is not None:
                line, message = invalid
                return finding("metadata.xml.schema-invalid", name, message, line=line)
        return problem
    except OSError as exc:
        return finding("metadata.xml.malformed", name, f"cannot read: {exc.strerror or exc}")


def _root_problem(handle: BinaryIO, fmt: Format) -> Finding | None:
    name = fmt.source
    try:
        for _, element in parsing.iterparse(handle, ("start",)):
            if element.getroottree().docinfo.doctype:
                # archiver never writes one; it can only bring entity tricks
                return finding(
                    "metadata.xml.malformed",
                    name,
                    "has a DOCTYPE (entity declarations are refused)",
                )
            if element.tag != fmt.root:
                return finding(
                    "metadata.xml.wrong-root",
                    name,
                    f"the root element is {element.tag}, not {fmt.root}",
                    expected=fmt.root,
                    found=str(element.tag),
                )
            return None
    except etree.XMLSyntaxError as exc:
        return finding("metadata.xml.malformed", name, exc.msg, line=exc.lineno)
    return finding("metadata.xml.malformed", name, "no root element")
