"""Reading what a bag says, independently of the code that wrote it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from lxml import etree

NS = {
    "mets": "http://www.loc.gov/METS/",
    "premis": "http://www.loc.gov/premis/v3",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xlink": "http://www.w3.org/1999/xlink",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
LOC = "http://id.loc.gov/vocabulary/preservation/"


def parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


def manifest(path: Path) -> dict[str, str]:
    """A manifest as path -> digest, decoding %0A, %0D and %25 (RFC 8493 §2.1.3)."""
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, raw = line.partition("  ")
        decoded = raw.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
        entries[decoded] = digest
    return entries


def bag_info(path: Path) -> list[tuple[str, str]]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, _, value = line.partition(": ")
        items.append((label, value))
    return items


def mets_files(tree: etree._ElementTree) -> dict[str, dict[str, str]]:
    """fileSec entries by payload path (FLocat href, URI-decoded)."""
    found = {}
    for element in tree.iterfind(".//mets:fileSec/mets:fileGrp/mets:file", NS):
        location = element.find("mets:FLocat", NS)
        assert location is not None
        href = unquote(location.get(f"{{{NS['xlink']}}}href", ""))
        found[href] = dict(element.attrib)
    return found


def premis_files(tree: etree._ElementTree) -> dict[str, etree._Element]:
    """PREMIS file objects by their contentLocationValue."""
    found = {}
    for obj in tree.iterfind(".//premis:object", NS):
        if obj.get(f"{{{NS['xsi']}}}type") != "premis:file":
            continue
        path = obj.findtext(".//premis:contentLocationValue", namespaces=NS)
        assert path is not None
        found[path] = obj
    return found


def fixity(obj: etree._Element) -> dict[str, str]:
    """algorithm code (from the LoC valueURI) -> digest."""
    result = {}
    for element in obj.iterfind(".//premis:fixity", NS):
        algorithm = element.find("premis:messageDigestAlgorithm", NS)
        assert algorithm is not None
        code = algorithm.get("valueURI", "").rsplit("/", 1)[-1]
        result[code] = element.findtext("premis:messageDigest", namespaces=NS) or ""
    return result
