"""Every XML parser and schema archiver uses comes from here.

Parsers never resolve entities, never touch the network and refuse huge trees, so a
hostile document (billion laughs, external entities, XXE) is inert. Schemas load from the
vendored copies in schemas/xsd: a driver schema imports each namespace from its local file,
and a resolver maps the remote schemaLocations inside the vendored files to local copies.
Order matters (schemas/xsd/SOURCES.md): xml.xsd and xlink.xsd first, then DC terms (which
brings the DC elements) before anything that imports simple DC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from lxml import etree

from archiver import resources
from archiver.errors import SchemaError

# Remote schemaLocations found inside the vendored files -> local file names.
_LOCAL_COPIES = {
    "http://www.loc.gov/standards/xlink/xlink.xsd": "xlink.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
    "http://www.w3.org/2009/01/xml.xsd": "xml.xsd",
    "http://www.loc.gov/mods/xml.xsd": "xml.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": "simpledc20021212.xsd",
}

# Namespace -> vendored file, in the order the driver imports them.
_PRESERVATION_IMPORTS = (
    ("http://www.w3.org/XML/1998/namespace", "xml.xsd"),
    ("http://www.w3.org/1999/xlink", "xlink.xsd"),
    ("http://purl.org/dc/terms/", "dcterms.xsd"),
    ("http://www.openarchives.org/OAI/2.0/oai_dc/", "oai_dc.xsd"),
    ("http://www.loc.gov/METS/", "mets.xsd"),
    ("http://www.loc.gov/premis/v3", "premis.xsd"),
)


class _LocalResolver(etree.Resolver):
    """Serves the vendored copy for every remote schema location we know."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def resolve(self, system_url: str | None, _public_id: str | None, context: Any) -> Any:
        if system_url is None:
            return None
        name = _LOCAL_COPIES.get(system_url)
        if name is None and system_url.startswith(("http://", "https://")):
            name = _LOCAL_COPIES.get(system_url.replace("https://", "http://", 1))
        if name is None:
            return None
        return self.resolve_filename(str(self.folder / name), context)


def parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A parser that resolves no entities, reads nothing from the network, refuses huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_blank_text=remove_blank_text,
    )


class _Nothing:
    """A parser target that keeps nothing: the document is only checked. It has no start,
    end or data method on purpose: lxml then calls no Python code for each element."""

    def close(self) -> None:
        return None


def syntax_error(handle: BinaryIO, chunk: int = 1 << 16) -> etree.XMLSyntaxError | None:
    """Why the document is not well-formed XML (None when it is), found without building a
    tree: memory stays flat, and libxml2 does the whole pass in C."""
    checker = etree.XMLParser(  # parser()'s protections, building nothing
        target=cast(Any, _Nothing()),  # the stubs' target protocol wants every method
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
    )
    try:
        while data := handle.read(chunk):
            checker.feed(data)
        checker.close()
    except etree.XMLSyntaxError as exc:
        return exc
    return None


def parse_bytes(data: bytes) -> etree._ElementTree:
    """Parse a document; lxml's XMLSyntaxError propagates for the caller to translate."""
    root = etree.fromstring(data, parser())
    return root.getroottree()


def parse_file(handle: BinaryIO) -> etree._ElementTree:
    """Parse an open file, streamed (no whole-file copy in memory first)."""
    return etree.parse(handle, parser())


Event = Literal["start", "end"]


def iterparse(
    handle: BinaryIO,
    events: tuple[Event, ...],
    *,
    schema: etree.XMLSchema | None = None,
    tag: Sequence[str] | None = None,
    content_only: bool = False,
) -> Iterator[tuple[str, Any]]:
    """Stream (event, element) pairs with the same protections as ``parser()``.

    With ``schema``, libxml2 validates while parsing -- but then it no longer reports a
    truncated or malformed document as such (it may say nothing at all). Check
    well-formedness with a plain pass first. ``tag``: only these elements' events surface
    (the rest of the document is still parsed, and checked, by libxml2). ``content_only``:
    comments and processing instructions are left out of the tree.
    """
    return iter(
        etree.iterparse(
            handle,
            events=events,
            tag=tag,
            schema=schema,
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            remove_comments=content_only,
            remove_pis=content_only,
        )
    )


def streamed_schema_error(
    schema: etree.XMLSchema, handle: BinaryIO
) -> tuple[int | None, str] | None:
    """Validate a (well-formed) document without building its tree: the first violation.

    Memory stays flat whatever the size: every element is dropped once it has ended.
    libxml2 validating a stream cannot tell the violation's line: it comes without one.
    """
    with _VALIDATION_LOCK:
        try:
            for _, element in iterparse(handle, ("end",), schema=schema):
                element.clear()
                parent = element.getparent()  # None for the root (which may follow a PI)
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
        except etree.XMLSyntaxError as exc:
            found = [e for e in exc.error_log if e.domain_name == "SCHEMASV"]
            if found:
                # libxml2 validating a stream knows no line (it says 0): none, not a wrong one
                return found[-1].line or None, found[-1].message
            return None, str(exc)
    return None


def _schema_parser(folder: Path) -> etree.XMLParser:
    schema_parser = parser()
    schema_parser.resolvers.add(_LocalResolver(folder))
    return schema_parser


_XS = "http://www.w3.org/2001/XMLSchema"


def _driver(imports: tuple[tuple[str, str], ...], folder: Path) -> bytes:
    """A schema that only imports each namespace from its vendored file, in order."""
    root = etree.Element(f"{{{_XS}}}schema", nsmap={"xs": _XS})
    for namespace, name in imports:
        location = (folder / name).as_uri()
        etree.SubElement(root, f"{{{_XS}}}import", namespace=namespace, schemaLocation=location)
    return etree.tostring(root)


@cache
def preservation_schema() -> etree.XMLSchema:
    """One schema for METS 1.12.1, PREMIS 3.0 and oai_dc (with DC), compiled offline."""
    return _compile(_PRESERVATION_IMPORTS)


_OAI_IMPORTS = (
    *_PRESERVATION_IMPORTS,
    ("http://www.openarchives.org/OAI/2.0/", "OAI-PMH.xsd"),
    ("http://www.openarchives.org/OAI/2.0/oai-identifier", "oai-identifier.xsd"),
)


@cache
def oai_schema() -> etree.XMLSchema:
    """OAI-PMH 2.0 responses, with what they embed (oai_dc, METS, PREMIS, oai-identifier)
    declared, so the ``strict`` wildcards really validate it."""
    return _compile(_OAI_IMPORTS)


def _compile(imports: tuple[tuple[str, str], ...]) -> etree.XMLSchema:
    folder = resources.schemas_dir() / "xsd"
    schema_parser = _schema_parser(folder)
    try:
        driver = etree.fromstring(
            _driver(imports, folder), schema_parser, base_url=folder.as_uri() + "/"
        )
        return etree.XMLSchema(driver)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise SchemaError(f"the vendored schemas in {folder} do not compile: {exc}") from exc


_VALIDATION_LOCK = threading.Lock()


@contextmanager
def validating(schema: etree.XMLSchema | None) -> Iterator[None]:
    """Held while ``schema`` (when there is one) validates a stream: validations are
    serialised, as in schema_errors and streamed_schema_error."""
    if schema is None:
        yield
        return
    with _VALIDATION_LOCK:
        yield


def schema_errors(
    schema: etree.XMLSchema, document: etree._ElementTree
) -> list[tuple[int | None, str]]:
    """Every schema violation in ``document`` as (line, message); empty when valid.

    A schema object keeps its error log on itself, so validations are serialised. libxml2
    gives up with an "internal error" on some hostile input (unresolved entities): that is
    reported as a violation too, never raised.
    """
    with _VALIDATION_LOCK:
        try:
            if schema.validate(document):
                return []
        except etree.XMLSchemaValidateError as exc:
            return [(None, f"cannot be validated: {exc}")]
        return [(error.line, error.message) for error in schema.error_log]
