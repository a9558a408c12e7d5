"""Our metadata, when a bag carries it: XSD validity (offline) and agreement with the bag.

Each payload file must appear in the METS fileSec and as a PREMIS file object, with sizes
equal to the files and checksums equal to the manifests; no METS file may point at a
payload file that is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from archiver import layout
from archiver.bagit import reader
from archiver.findings import BagReport, finding
from archiver.xml import parsing
from archiver.xml.namespaces import METS, PREMIS, XLINK, XSI, q

_EXPECTED_ROOTS = {
    layout.DC_XML: q("http://www.openarchives.org/OAI/2.0/oai_dc/", "dc"),
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


def carries_metadata(inventory: reader.Inventory) -> bool:
    return any(name in inventory.tags for name in layout.METADATA_FILES)


def check_metadata(
    root: Path,
    inventory: reader.Inventory,
    manifests: Mapping[str, Mapping[str, str]],
    report: BagReport,
) -> None:
    """Add metadata findings to ``report``. ``manifests``: algorithm -> payload path -> digest."""
    documents: dict[str, etree._ElementTree] = {}
    for name in layout.METADATA_FILES:
        if name not in inventory.tags:
            report.add(finding("metadata.file.missing", name, f"{name} is missing"))
            continue
        tree = _load(root, name, report)
        if tree is not None:
            documents[name] = tree
    if layout.METS_XML in documents:
        _check_mets(documents[layout.METS_XML], inventory, manifests, report)
    if layout.PREMIS_XML in documents:
        _check_premis(documents[layout.PREMIS_XML], inventory, manifests, report)


def _load(root: Path, name: str, report: BagReport) -> etree._ElementTree | None:
    try:
        with reader.open_file(root, name) as handle:
            tree = parsing.parse_file(handle)
    except OSError as exc:
        report.add(finding("metadata.xml.malformed", name, f"cannot read {name}: {exc}"))
        return None
    except etree.XMLSyntaxError as exc:
        report.add(finding("metadata.xml.malformed", name, f"{name}: {exc.msg}", line=exc.lineno))
        return None
    root_tag = etree.QName(tree.getroot()).text
    if root_tag != _EXPECTED_ROOTS[name]:
        report.add(
            finding(
                "metadata.xml.wrong-root",
                name,
                f"{name} has root {root_tag}, expected {_EXPECTED_ROOTS[name]}",
            )
        )
        return None
    for problem in parsing.schema_errors(parsing.preservation_schema(), tree):
        report.add(finding("metadata.xml.schema-invalid", name, f"{name} {problem}"))
    return tree


def _check_mets(
    tree: etree._ElementTree,
    inventory: reader.Inventory,
    manifests: Mapping[str, Mapping[str, str]],
    report: BagReport,
) -> None:
    described: set[str] = set()
    for element in tree.iterfind(".//mets:fileSec//mets:file", _NS):
        location = element.find("mets:FLocat", _NS)
        reference = location.get(q(XLINK, "href")) if location is not None else None
        if reference is None:
            continue
        href = unquote(reference)
        described.add(href)
        if href not in inventory.payload:
            report.add(
                finding(
                    "metadata.mets.points-at-missing-file",
                    layout.METS_XML,
                    f"METS file {element.get('ID')} points at {href}, which is not in the payload",
                    entry=href,
                )
            )
            continue
        _compare_size(report, "METS", href, element.get("SIZE"), inventory)
        checksum_type = element.get("CHECKSUMTYPE", "")
        _compare_digest(
            report,
            "METS",
            href,
            _METS_ALGORITHMS.get(checksum_type),
            element.get("CHECKSUM"),
            manifests,
            label=checksum_type,
        )
    _undescribed(
        report, "metadata.mets.file-not-described", "a METS fileSec entry", inventory, described
    )


def _check_premis(
    tree: etree._ElementTree,
    inventory: reader.Inventory,
    manifests: Mapping[str, Mapping[str, str]],
    report: BagReport,
) -> None:
    described: set[str] = set()
    for obj in tree.iterfind("premis:object", _NS):
        if obj.get(q(XSI, "type")) != "premis:file":
            continue
        path = obj.findtext(
            "premis:storage/premis:contentLocation/premis:contentLocationValue", namespaces=_NS
        )
        if path is None or path not in inventory.payload:
            continue
        described.add(path)
        size = obj.findtext("premis:objectCharacteristics/premis:size", namespaces=_NS)
        _compare_size(report, "PREMIS", path, size, inventory)
        for fixity in obj.iterfind("premis:objectCharacteristics/premis:fixity", _NS):
            value_uri = fixity.xpath(
                "string(premis:messageDigestAlgorithm/@valueURI)", namespaces=_NS
            )
            algorithm = str(value_uri).rsplit("/", 1)[-1]
            digest = fixity.findtext("premis:messageDigest", namespaces=_NS)
            _compare_digest(report, "PREMIS", path, algorithm, digest, manifests, label=algorithm)
    _undescribed(
        report, "metadata.premis.file-not-described", "a PREMIS file object", inventory, described
    )


_CODES = {
    ("METS", "size"): "metadata.mets.size-mismatch",
    ("METS", "digest"): "metadata.mets.checksum-mismatch",
    ("PREMIS", "size"): "metadata.premis.size-mismatch",
    ("PREMIS", "digest"): "metadata.premis.fixity-mismatch",
}


def _compare_size(
    report: BagReport, source: str, path: str, declared: str | None, inventory: reader.Inventory
) -> None:
    actual = inventory.payload[path]
    if declared is not None and declared != str(actual):
        report.add(
            finding(
                _CODES[source, "size"],
                path,
                f"{source} gives {path} {declared} bytes; the file has {actual}",
                expected=declared,
                found=actual,
            )
        )


def _compare_digest(
    report: BagReport,
    source: str,
    path: str,
    algorithm: str | None,
    declared: str | None,
    manifests: Mapping[str, Mapping[str, str]],
    *,
    label: str,
) -> None:
    listed = manifests.get(algorithm or "", {}).get(path)
    if declared is not None and listed is not None and declared.lower() != listed:
        report.add(
            finding(
                _CODES[source, "digest"],
                path,
                f"{source} {label} of {path} differs from the manifest",
                algorithm=algorithm,
                expected=listed,
                found=declared,
            )
        )


def _undescribed(
    report: BagReport, code: str, what: str, inventory: reader.Inventory, described: set[str]
) -> None:
    for path in sorted(set(inventory.payload) - described):
        report.add(finding(code, path, f"{path} has no {what}"))
