"""A bag's metadata documents as OAI-PMH records: which may be served.

A document is served only when it is what its format says: well-formed, without a
DOCTYPE, rooted where the format is (``oai_dc:dc``, ``mets:mets``, ``premis:premis``) and
valid against the vendored schemas as an OAI-PMH response checks them. ``check`` finds that
out streaming, so memory stays flat whatever the size; the catalog checks each document when
it indexes the bag and keeps the ``signature`` of the file it checked, so a request checks
again only a file changed since.
"""

from __future__ import annotations

import functools
import io
import mmap
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from archiver import layout
from archiver.findings import Finding, finding
from archiver.xml import mets, parsing, writing
from archiver.xml.namespaces import METS, MODS, OAI_DC, PREMIS, q


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


# -- serving: a document copied into a response as it is read ------------------------------

# The attributes that hold xs:IDs or refer to them (IDREF, IDREFS), by element namespace.
_ID_ATTRIBUTES = {
    METS: frozenset({"ID", "ADMID", "DMDID", "FILEID", "STRUCTID", "TRANSFORMBEHAVIOR"}),
    PREMIS: frozenset(
        {
            "xmlID",
            "LinkAgentXmlID",
            "LinkEventXmlID",
            "LinkObjectXmlID",
            "LinkPermissionStatementXmlID",
            "RelEventXmlID",
            "RelObjectXmlID",
        }
    ),
    MODS: frozenset({"ID"}),
}
# Joins a bag's prefix to an ID it did not write as archiver writes them now: a NameChar no
# bag identifier holds (they are ASCII), so what follows it is the ID as it was.
_OTHER = "\u00b7"


def served_id(bag_id: str, value: str) -> str:
    """An xs:ID (or a reference to one) of a bag's document as a response carries it.

    One ListRecords response holds the documents of many bags, so no two may share an ID.
    IDs archiver writes (mets.id_prefix) are unique across bags and kept; any other -- a
    bag written before that rule ('b7x_file_1' for bags '7x' and 'b7x' alike), a document
    from elsewhere -- becomes '_', the bag identifier, a middle dot, the ID: unique too,
    as a bag identifier is ASCII.
    """
    prefix = mets.id_prefix(bag_id)
    if value.startswith(prefix) and mets.LOCAL_ID.fullmatch(value, len(prefix)):
        return value
    return f"_{bag_id}{_OTHER}{value}"


def _served_ids(bag_id: str) -> writing.Rewrite:
    def attributes(element: etree._Element) -> Mapping[str, str] | etree._Attrib:
        attrib = element.attrib
        names = _ID_ATTRIBUTES.get(etree.QName(element).namespace or "")
        if not names or not attrib:
            return attrib
        return {
            name: (" ".join(served_id(bag_id, v) for v in value.split()))
            if name in names
            else value
            for name, value in attrib.items()
        }

    return attributes


# -- the fast way: a document that can go out byte for byte ------------------------------------

# What may come before the root element for a document to be copied byte for byte: a BOM,
# an XML declaration naming UTF-8 (or none), white space.
_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:<\?xml\s+version\s*=\s*[\"']1\.0[\"']"
    rb"(?:\s+encoding\s*=\s*[\"'](?i:utf-8)[\"'])?(?:\s+standalone\s*=\s*[\"'](?:yes|no)[\"'])?"
    rb"\s*\?>)?\s*(?=<[^!?])"
)
# An element whose name has no prefix (it may be in no namespace), or markup inside a
# comment or CDATA that looks like one: either way, not copied byte for byte.
_UNPREFIXED = re.compile(rb"<[^\s/!?:>][^\s/:>]*[\s/>]")
_ID_NAMES = rb"(?:ID|ADMID|DMDID|FILEID|STRUCTID|TRANSFORMBEHAVIOR|xmlID|(?:Link|Rel)\w*XmlID)"
_READ = 1 << 16


def verbatim(handle: BinaryIO, bag_id: str) -> tuple[int, int] | None:
    """Where the root element of a checked document lies in its file, (start, end), when
    those bytes can go into a response as they are; None when they must be copied an
    element at a time (``copy``).

    They can when nothing but a UTF-8 declaration and white space comes before the root and
    only white space after it, no element name lacks a prefix (so none falls into the
    response's default namespace), and every ID already is as ``served_id`` serves it --
    as archiver writes them. Found by regular expressions over the file mapped in memory:
    C speed, no Python per element.
    """
    try:
        size = os.fstat(handle.fileno()).st_size
        if not size:
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            prolog = _PROLOG.match(data)
            if prolog is None:
                return None
            end = size
            while end and data[end - 1 : end].isspace():
                end -= 1
            tail = data[max(0, end - 3) : end]
            if not tail.endswith(b">") or tail.endswith((b"?>", b"-->")):
                return None  # a comment or processing instruction after the root
            if _UNPREFIXED.search(data) or _ids_to_rewrite(bag_id).search(data):
                return None
            return prolog.end(), end
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None


@functools.lru_cache(maxsize=256)
def _ids_to_rewrite(bag_id: str) -> re.Pattern[bytes]:
    """An ID attribute (or reference) holding a value ``served_id`` would change."""
    one = (
        re.escape(mets.id_prefix(bag_id).encode()) + b"(?:" + mets.LOCAL_ID.pattern.encode() + b")"
    )
    kept = one + rb"(?: " + one + rb")*"
    return re.compile(
        rb"\s" + _ID_NAMES + rb"\s*=\s*(?:\"(?!" + kept + rb"\")|'(?!" + kept + rb"'))"
    )


@dataclass(frozen=True)
class Document:
    """A checked document, open, ready to be copied into a response."""

    handle: BinaryIO
    span: tuple[int, int] | None  # verbatim()


def checked(signature: str, span: tuple[int, int] | None) -> str:
    """What the catalog keeps of a document found fit to serve."""
    return f"{signature}@{span[0]}-{span[1]}" if span else signature


def read_checked(kept: str | None) -> tuple[str | None, tuple[int, int] | None]:
    """``checked``'s signature and span back."""
    if kept is None:
        return None, None
    signature, _, span = kept.partition("@")
    start, _, end = span.partition("-")
    return signature, (int(start), int(end)) if start.isdigit() and end.isdigit() else None


def copy(document: Document, bag_id: str, stream: writing.Stream, default: str) -> Iterator[None]:
    """Write a checked document into ``stream``: its root element and what it holds, as
    they are but for its xs:IDs (``served_id``); byte for byte when it can be
    (``verbatim``), else read and written an element at a time. Pauses as it goes (after
    each piece, so the caller can send what is written on).

    ``default``: the default namespace where the stream is. A read error, or a document
    that changed since it was checked, raises (OSError, XMLSyntaxError) with part of it
    written: a response cannot be taken back, the caller can only end it there.
    """
    handle = document.handle
    if document.span is not None:
        return stream.raw(_pieces(handle, *document.span))
    handle.seek(0)
    events = parsing.iterparse(handle, ("start", "end"), content_only=True)
    return stream.copy(events, default=default, attributes=_served_ids(bag_id))


def _pieces(handle: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    handle.seek(start)
    left = end - start
    while left > 0:
        piece = handle.read(min(_READ, left))
        if not piece:
            raise OSError(f"{getattr(handle, 'name', 'a document')} is shorter than when checked")
        left -= len(piece)
        yield piece
