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
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from lxml import etree

from archiver import layout
from archiver.bagit import hashing
from archiver.bagit.archives import ArchiveFiles
from archiver.bagit.files import BagFiles
from archiver.bagit.names import BAGIT_TXT
from archiver.bagit.reader import Bag, Inventory, read_bag
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
# here, when the caller has no pool: each takes a second or more for a bag of 10,000 files,
# and a worker costs a tenth of one.
BESIDE_MINIMUM = 8 << 20


def check_metadata(inspection: Inspection, executor: Executor | None = None) -> None:
    """Add metadata findings to the inspection's report, comparing with its payload manifests.

    PREMIS, the biggest document, is checked on ``executor`` (a pool of processes) when
    there is one, or for a big document on a worker process of multiprocessing's fork
    server (never a fork of this process), while this process checks DC and METS.
    """
    begin_metadata(inspection, executor)()


def begin_metadata(inspection: Inspection, executor: Executor | None = None) -> Callable[[], None]:
    """check_metadata, started: PREMIS is submitted now (ahead of what the caller submits
    next, the checksums) and, with ``executor``, DC and METS are checked on a thread of this
    process meanwhile -- its main thread only waits for the checksums' results. The worker
    reads the payload manifests from the bag itself (_FromBag), never sent them. The
    function returned waits, and adds the findings to the report (DC, METS, then PREMIS)."""
    bag, manifests, report = inspection.bag, inspection.payload_manifests, inspection.report
    # What a worker needs of the bag: its files and inventory, not its manifests as read.
    big = bag.inventory.tags.get(layout.PREMIS_XML, 0) >= BESIDE_MINIMUM
    # A worker gets the bag's files; from an archive, only where the document lies in it
    # (a compressed archive cannot be read but from its start: PREMIS is checked here).
    sent: BagFiles | None = bag.files
    if isinstance(bag.files, ArchiveFiles):  # the document, and what the manifests are read from
        declared = [BAGIT_TXT, *(m.name for m in bag.payload_manifests())]
        sent = bag.files.detached((*declared, layout.PREMIS_XML))
    pool = executor if sent is not None else None
    if pool is None and big and sent is not None:
        pool = hashing.process_pool(1, [__name__])
    slim = replace(bag, manifests=(), fetch=(), problems=(), files=sent or bag.files)
    futures: list[Future[list[Finding]]] = []
    if pool is not None:
        recipe = _FromBag(inspection.aliases)
        futures.append(pool.submit(_check_documents, slim, (layout.PREMIS_XML,), recipe))
    here = (
        ThreadPoolExecutor(1, thread_name_prefix="archiver-metadata")
        if executor is not None
        else None
    )
    if here is not None:
        futures.insert(0, here.submit(_check_documents, bag, _HERE, manifests))

    def finish() -> None:
        try:
            if here is None:
                futures.insert(0, _done(_check_documents(bag, _HERE, manifests)))
            if pool is None:
                futures.append(_done(_check_documents(bag, (layout.PREMIS_XML,), manifests)))
            for future in futures:
                for item in future.result():
                    report.add(item)
        finally:
            for future in futures:
                future.cancel()
            if here is not None:
                here.shutdown(wait=True)
            if pool is not None and pool is not executor:
                hashing.close_pool(pool)

    return finish


# The documents checked in this process while PREMIS (the biggest) is checked on a worker.
_HERE = (layout.DC_XML, layout.METS_XML)


def _done(findings: list[Finding]) -> Future[list[Finding]]:
    future: Future[list[Finding]] = Future()
    future.set_result(findings)
    return future


def _check_documents(
    bag: Bag, names: tuple[str, ...], manifests: Manifests | _FromBag
) -> list[Finding]:
    if isinstance(manifests, _FromBag):
        manifests = manifests.read(bag)
    return [item for name in names for item in _check_document(bag, name, manifests)]


@dataclass(frozen=True)
class _FromBag:
    """What a worker is sent instead of the manifests: it reads them from the bag itself
    (as the validator did, the same names resolved by the same ``aliases``). Pickled, the
    manifests of 100,000 files cost the sending process ~50 MiB at once (a pickle memo
    entry per string, the pickle growing in memory); read again, a part of a second on the
    worker's core."""

    aliases: Mapping[str, str]

    def read(self, bag: Bag) -> Manifests:
        read = read_bag(bag.files, fetch_txt=False, payload=False)
        return {
            m.algorithm: {self.aliases.get(p, p): d for p, d in m.entries.items()}
            for m in read.payload_manifests()
            if m.supported
        }


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
    tags, handler, missing_code, what = handlers[name]
    scan = _Scan(inventory, manifests, report)
    if not _scan(bag, name, tags, handler, scan, validating=True):
        # Not a valid document: read again, the plain pass and the schema check apart, so
        # that every finding is told as it is (libxml2 validating a stream may take a
        # malformed document for an invalid one, and stops at the first violation).
        report = BagReport(bag.location)
        scan = _Scan(inventory, manifests, report)
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
    *,
    validating: bool = False,
) -> bool:
    """The plain pass: well-formed, the expected root, each ``tag`` record handled. True if read.

    ``validating``: the usual case in one pass -- libxml2 checks the schema while the
    records are handled, after a pass in C alone proves the document well-formed (which a
    validating parser does not: it may pass a truncated document). True only when the
    document is well-formed, has the expected root and is valid; on False the findings
    gathered are partial, to be thrown away.
    """
    wanted = [*tags, *_SECTIONS[name]]
    schema = parsing.preservation_schema() if validating else None
    try:
        if schema is not None:
            with bag.open(name) as handle:
                if parsing.syntax_error(handle) is not None:
                    return False
        with bag.open(name) as handle, parsing.validating(schema):
            context: Any = parsing.iterparse(handle, ("end",), tag=wanted, schema=schema)
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
        if validating:
            return False
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
_FLOCAT = q(METS, "FLocat")


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
    location = element.find(_FLOCAT)
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
    if not _is_premis_file(element.get(_XSI_TYPE), element):
        return
    # Only the children that hold a fact are walked, selected in C (each element Python
    # sees costs a proxy object: 100,000 objects had some fifteen each).
    path = size = None
    fixities: list[etree._Element] = []
    for part in element.iterchildren(_CHARACTERISTICS, _STORAGE):
        if part.tag == _CHARACTERISTICS:
            for fact in part.iterchildren(_FIXITY, _SIZE):
                if fact.tag == _FIXITY:
                    fixities.append(fact)
                else:
                    size = fact.text
        elif path is None:
            path = part.findtext(_LOCATION)
    if path is None or path not in scan.inventory.payload:
        return
    scan.described.add(path)
    _compare_size(scan, "PREMIS", path, size)
    for fixity in fixities:
        # The first algorithm and the first digest, as find and findtext would give them
        # (which go through ElementPath, in Python: 20% slower over 100,000 objects).
        named = digest = None
        for fact in fixity.iterchildren(_ALGORITHM, _DIGEST):
            if fact.tag == _DIGEST:
                if digest is None:
                    digest = fact.text or ""
            elif named is None:
                named = fact
        algorithm = None if named is None else _premis_algorithm(named)
        label = algorithm or ("" if named is None else (named.text or "").strip())
        _compare_digest(scan, "PREMIS", path, algorithm, digest, label=label)


_CHARACTERISTICS, _FIXITY, _SIZE, _STORAGE, _ALGORITHM, _DIGEST = (
    q(PREMIS, local)
    for local in (
        "objectCharacteristics",
        "fixity",
        "size",
        "storage",
        "messageDigestAlgorithm",
        "messageDigest",
    )
)
_LOCATION = f"{q(PREMIS, 'contentLocation')}/{q(PREMIS, 'contentLocationValue')}"
_XSI_TYPE = q(XSI, "type")


def _is_premis_file(value: str | None, element: etree._Element) -> bool:
    """Whether xsi:type names PREMIS's file type, under whatever prefix the document binds."""
    if value is None:
        return False
    prefix, _, local = value.strip().rpartition(":")
    return local == "file" and element.nsmap.get(prefix or None) == PREMIS


def _premis_algorithm(named: etree._Element) -> str | None:
    """The RFC 8493 name of a messageDigestAlgorithm: by the last step of its valueURI (the
    LoC vocabulary's), else by its text as METS spells it ("SHA-256") or as the manifests
    do ("sha256"); None for an algorithm none of these names."""
    for name in (named.get("valueURI", "").rsplit("/", 1)[-1], (named.text or "").strip()):
        found = _ALGORITHM_NAMES.get(name.upper())
        if found:
            return found
    return None


# Either spelling, upper-cased -> the RFC 8493 name: "SHA-256" and "SHA256" -> "sha256".
_ALGORITHM_NAMES = {
    **_METS_ALGORITHMS,
    **{name.upper(): name for name in _METS_ALGORITHMS.values()},
}


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
