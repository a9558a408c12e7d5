"""Our metadata, when a bag carries it: XSD validity (offline) and agreement with the bag.

Each payload file must appear in the METS fileSec and as a PREMIS file object, with sizes
equal to the files and checksums equal to the manifests; no METS file may point at a
payload file that is not there.

Documents are streamed, so memory stays flat however many files a bag has: one plain pass
checks well-formedness and does the cross-checks, dropping each record once read; then
the schema check -- on a tree for documents small enough to list every violation, else
streamed (the first violation), which is safe only after the plain pass (libxml2's
validating parser does not report truncated documents).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from lxml import etree

from archiver import layout
from archiver.bagit import hashing
from archiver.bagit.reader import Bag, Inventory
from archiver.check.bag import Inspection
from archiver.dates import recorded_date
from archiver.findings import BagReport, Finding, finding
from archiver.xml import parsing
from archiver.xml.namespaces import DC, METS, OAI_DC, PREMIS, XLINK, XSI, q

_EXPECTED_ROOTS = {
    layout.DC_XML: q(OAI_DC, "dc"),
    layout.METS_XML: q(METS, "mets"),
    layout.PREMIS_XML: q(PREMIS, "premis"),
}
# METS CHECKSUMTYPE -> RFC 8493 algorithm name
_METS_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_NS = {"mets": METS, "premis": PREMIS, "xlink": XLINK}
# Documents up to this size are validated on a tree, which lists every violation.
_TREE_LIMIT = 16 << 20

Manifests = Mapping[str, Mapping[str, str]]


@dataclass
class _Scan:
    """What the cross-checks need while one document streams by."""

    inventory: Inventory
    manifests: Manifests
    report: BagReport
    described: set[str] = field(default_factory=set)


# PREMIS documents at least this big are checked on a second core while METS is checked
# here: each takes seconds for a bag of 10,000 files, and a worker costs a tenth of one.
BESIDE_MINIMUM = 8 << 20


def check_metadata(inspection: Inspection, executor: Executor | None = None) -> None:
    """Add metadata findings to the inspection's report, comparing with its payload manifests.

    A big PREMIS document is checked on ``executor``, or on a worker process of
    multiprocessing's fork server (never a fork of this process), while this thread checks
    DC and METS.
    """
    bag, manifests, report = inspection.bag, inspection.payload_manifests, inspection.report
    beside: Future[list[Finding]] | None = None
    pool: Executor | None = None
    if bag.inventory.tags.get(layout.PREMIS_XML, 0) >= BESIDE_MINIMUM:
        pool = executor or hashing.process_pool(1, [__name__])
        # What the worker needs of the bag: its files and inventory, not its manifests.
        slim = replace(bag, manifests=(), fetch=(), problems=())
        beside = pool.submit(_check_document, slim, layout.PREMIS_XML, manifests)
    try:
        for name in (layout.DC_XML, layout.METS_XML):
            for item in _check_document(bag, name, manifests):
                report.add(item)
        if beside is None:
            found = _check_document(bag, layout.PREMIS_XML, manifests)
        else:
            found = beside.result()
            beside = None
    finally:
        if beside is not None:
            beside.cancel()
        if pool is not None and pool is not executor:
            pool.shutdown(wait=True, cancel_futures=True)
    for item in found:
        report.add(item)


def _check_document(bag: Bag, name: str, manifests: Manifests) -> list[Finding]:
    """Every finding about one metadata document."""
    inventory = bag.inventory
    report = BagReport(bag.location)
    if name not in inventory.tags:
        report.add(finding("metadata.file.missing", name, "missing"))
        return report.findings
    handlers = {
        layout.DC_XML: ((q(DC, "date"),), _dc_date, "", ""),
        layout.METS_XML: (
            (q(METS, "file"), q(METS, "mdRef")),
            _mets_record,
            "metadata.mets.file-not-described",
            "METS fileSec entry",
        ),
        layout.PREMIS_XML: (
            (q(PREMIS, "object"),),
            _premis_object,
            "metadata.premis.file-not-described",
            "PREMIS file object",
        ),
    }
    scan = _Scan(inventory, manifests, report)
    tags, handler, missing_code, what = handlers[name]
    if not _scan(bag, name, tags, handler, scan):
        return report.findings
    _check_schema(bag, name, report)
    if missing_code:
        for path in sorted(set(inventory.payload) - scan.described):
            report.add(finding(missing_code, path, f"has no {what}"))
    return report.findings


def _dc_date(element: etree._Element, scan: _Scan) -> None:
    """A dc:date a program can read: W3CDTF or EDTF (a warning: the XSD allows any text)."""
    value = element.text or ""
    if recorded_date(value) is None:
        shown = value.strip()[:200]
        scan.report.add(
            finding(
                "metadata.dc.date-unreadable",
                layout.DC_XML,
                f"dc:date {shown!r} is neither W3CDTF nor EDTF",
                line=element.sourceline,
                value=shown,
            )
        )


# The elements each document is read by: the record (what is cross-checked) and every kind
# of child the root has. Only their ends surface from the parser; each is dropped once read,
# so memory holds one section at a time, and Python sees a few events per file, not one per
# element (the parser, in C, still checks every byte is well-formed).
_METS_SECTIONS = ("metsHdr", "dmdSec", "amdSec", "fileSec", "structMap", "structLink")
_SECTIONS = {
    layout.DC_XML: (q(DC, "*"),),  # each element, dropped once read
    # structMap divs too: they nest, one per folder and per file, and are dropped as they end
    layout.METS_XML: tuple(q(METS, local) for local in (*_METS_SECTIONS, "behaviorSec", "div")),
    layout.PREMIS_XML: tuple(q(PREMIS, local) for local in ("object", "event", "agent", "rights")),
}


def _scan(
    bag: Bag,
    name: str,
    tags: tuple[str, ...],
    handler: Callable[[etree._Element, _Scan], None],
    scan: _Scan,
) -> bool:
    """The plain pass: well-formed, the expected root, each ``tag`` record handled. True if read."""
    wanted = [*tags, *_SECTIONS[name]]
    try:
        with bag.open(name) as handle:
            context: Any = parsing.iterparse(handle, ("end",), tag=wanted)
            checked = False
            for _, element in context:
                if not checked:
                    if not _root_is_right(element.getroottree(), name, scan.report):
                        return False
                    checked = True
                if element.tag in tags:
                    handler(element, scan)
                    parent = element.getparent()
                    if parent is not None and parent.tag in tags:
                        continue  # a record inside a record (METS files nest): kept whole
                _drop(element)  # a record read, a section of the root, a structMap div
            if not checked:
                root = context.root
                if root is None:
                    raise StopIteration
                if not _root_is_right(root.getroottree(), name, scan.report):
                    return False
    except OSError as exc:
        scan.report.add(finding("metadata.xml.malformed", name, f"cannot read: {exc}"))
        return False
    except etree.XMLSyntaxError as exc:
        message, column = _without_position(exc.msg)
        scan.report.add(
            finding("metadata.xml.malformed", name, message, line=exc.lineno, column=column)
        )
        return False
    except StopIteration:  # no element at all
        scan.report.add(finding("metadata.xml.malformed", name, "no root element"))
        return False
    return True


_POSITION = re.compile(r", line \d+, column (\d+)$")


def _without_position(message: str) -> tuple[str, int | None]:
    """libxml2's message without the position it appends (the line is a field already)."""
    found = _POSITION.search(message)
    if found is None:
        return message, None
    return message[: found.start()], int(found.group(1))


def _root_is_right(tree: etree._ElementTree, name: str, report: BagReport) -> bool:
    if tree.docinfo.doctype:
        # archiver never writes a DOCTYPE; one can only bring entity tricks (XXE, billion
        # laughs). Nothing in it is resolved or loaded: the file is refused.
        report.add(
            finding(
                "metadata.xml.malformed", name, "has a DOCTYPE (entity declarations are refused)"
            )
        )
        return False
    found = etree.QName(tree.getroot()).text
    if found != _EXPECTED_ROOTS[name]:
        report.add(
            finding(
                "metadata.xml.wrong-root",
                name,
                f"the root element is {found}, not {_EXPECTED_ROOTS[name]}",
                expected=_EXPECTED_ROOTS[name],
                found=found,
            )
        )
        return False
    return True


def _drop(element: Any) -> None:
    element.clear(keep_tail=True)
    while element.getprevious() is not None:
        del element.getparent()[0]


def _check_schema(bag: Bag, name: str, report: BagReport) -> None:
    schema = parsing.preservation_schema()
    with bag.open(name) as handle:
        if bag.inventory.tags[name] <= _TREE_LIMIT:
            problems = parsing.schema_errors(schema, parsing.parse_file(handle))
        else:
            first = parsing.streamed_schema_error(schema, handle)
            problems = (
                []
                if first is None
                else [
                    (first[0], f"{first[1]} (the first violation; too big a document to list all)")
                ]
            )
    for line, problem in problems:
        report.add(finding("metadata.xml.schema-invalid", name, problem, line=line))


def _mets_record(element: etree._Element, scan: _Scan) -> None:
    if element.tag == _MDREF:
        _mets_reference(element, scan)
    else:
        _mets_file(element, scan)


_MDREF = q(METS, "mdRef")


def _mets_reference(element: etree._Element, scan: _Scan) -> None:
    """An mdRef to a file of the bag (archiver's METS refers to premis.xml so, since 0.2.0)
    must find it there. References of other kinds (a URL, a handle) are not followed."""
    if (element.get("LOCTYPE"), element.get("OTHERLOCTYPE")) != ("OTHER", "SYSTEM"):
        return
    reference = element.get(q(XLINK, "href"))
    if reference is None:
        return
    path = unquote(reference)
    if scan.inventory.size_of(path) is None:
        section = element.getparent()
        where = f" in {section.get('ID')}" if section is not None and section.get("ID") else ""
        scan.report.add(
            finding(
                "metadata.mets.reference-missing",
                layout.METS_XML,
                f"METS mdRef{where} points at {path}, which is not in the bag",
                entry=path,
            )
        )


def _mets_file(element: etree._Element, scan: _Scan) -> None:
    location = element.find("mets:FLocat", _NS)
    reference = location.get(q(XLINK, "href")) if location is not None else None
    if reference is None:
        return
    href = unquote(reference)
    scan.described.add(href)
    if href not in scan.inventory.payload:
        scan.report.add(
            finding(
                "metadata.mets.points-at-missing-file",
                layout.METS_XML,
                f"METS file {element.get('ID')} points at {href}, which is not in the payload",
                entry=href,
            )
        )
        return
    _compare_size(scan, "METS", href, element.get("SIZE"))
    checksum_type = element.get("CHECKSUMTYPE", "")
    _compare_digest(
        scan,
        "METS",
        href,
        _METS_ALGORITHMS.get(checksum_type),
        element.get("CHECKSUM"),
        label=checksum_type,
    )


def _premis_object(element: etree._Element, scan: _Scan) -> None:
    if element.get(q(XSI, "type")) != "premis:file":
        return
    path = element.findtext(
        "premis:storage/premis:contentLocation/premis:contentLocationValue", namespaces=_NS
    )
    if path is None or path not in scan.inventory.payload:
        return
    scan.described.add(path)
    _compare_size(
        scan,
        "PREMIS",
        path,
        element.findtext("premis:objectCharacteristics/premis:size", namespaces=_NS),
    )
    for fixity in element.iterfind("premis:objectCharacteristics/premis:fixity", _NS):
        value_uri = fixity.xpath("string(premis:messageDigestAlgorithm/@valueURI)", namespaces=_NS)
        algorithm = str(value_uri).rsplit("/", 1)[-1]
        digest = fixity.findtext("premis:messageDigest", namespaces=_NS)
        _compare_digest(scan, "PREMIS", path, algorithm, digest, label=algorithm)


_CODES = {
    ("METS", "size"): "metadata.mets.size-mismatch",
    ("METS", "digest"): "metadata.mets.checksum-mismatch",
    ("PREMIS", "size"): "metadata.premis.size-mismatch",
    ("PREMIS", "digest"): "metadata.premis.fixity-mismatch",
}


def _compare_size(scan: _Scan, source: str, path: str, declared: str | None) -> None:
    actual = scan.inventory.payload[path]
    if declared is not None and declared != str(actual):
        scan.report.add(
            finding(
                _CODES[source, "size"],
                path,
                f"{source} gives {declared} bytes; the file has {actual}",
                expected=declared,
                found=actual,
            )
        )


def _compare_digest(
    scan: _Scan,
    source: str,
    path: str,
    algorithm: str | None,
    declared: str | None,
    *,
    label: str,
) -> None:
    listed = scan.manifests.get(algorithm or "", {}).get(path)
    if declared is not None and listed is not None and declared.lower() != listed:
        scan.report.add(
            finding(
                _CODES[source, "digest"],
                path,
                f"{source} {label} differs from the manifest",
                algorithm=algorithm,
                expected=listed,
                found=declared,
            )
        )
