"""The lean metadata layout (issue 12): METS refers to premis.xml instead of embedding it,
PREMIS is streamed once, and a bag's XML stays small per payload file with every fact in it.
"""

from __future__ import annotations

import random
from pathlib import Path

import metsrw
import pytest
from lxml import etree

from archiver import make_bag, validate_bag
from archiver.clock import Clock
from archiver.oai import records
from tests.helpers_xml import NS, manifest, parse, premis_files

# METS + PREMIS + DC together, per payload file (docs/bag-layout.md, "Lean metadata").
BUDGET = 3000
FILES = 1000
EPOCH = 1795737600


@pytest.fixture(scope="module")
def random_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 random 8 KiB files named dNN/fNNNNN.txt in ten folders, bagged."""
    root = tmp_path_factory.mktemp("lean")
    source = root / "src"
    noise = random.Random(12)
    for number in range(FILES):
        path = source / f"d{number // 100:02d}" / f"f{number:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(noise.randbytes(8192))
    result = make_bag(
        source, root / "bags", bag_id="lean", clock=Clock.from_epoch(EPOCH), workers=1
    )
    return Path(result.path)


def test_metadata_per_payload_file_stays_within_three_kilobytes(random_bag: Path) -> None:
    metadata = random_bag / "metadata"
    sizes = {
        name: (metadata / name).stat().st_size for name in ("dc.xml", "mets.xml", "premis.xml")
    }
    assert sum(sizes.values()) / FILES <= BUDGET, sizes


def test_the_lean_bag_validates_with_its_documents_schema_valid(random_bag: Path) -> None:
    # validate_bag checks every document against the vendored XSDs and against the manifests.
    report = validate_bag(random_bag)
    assert report.valid and not report.findings, report.findings


def test_mets_refers_to_premis_instead_of_embedding_it(random_bag: Path) -> None:
    root = parse(random_bag / "metadata" / "mets.xml").getroot()
    assert root.find(".//premis:object", NS) is None
    assert root.find(".//premis:event", NS) is None
    references = root.findall("mets:amdSec/*/mets:mdRef", NS)
    assert [etree_local(r.getparent()) for r in references] == ["techMD", "digiprovMD"]
    for reference in references:
        assert reference.get("MDTYPE") == "PREMIS"
        assert reference.get(f"{{{NS['xlink']}}}href") == "metadata/premis.xml"
    assert (random_bag / "metadata" / "premis.xml").is_file()


def etree_local(element: object) -> str:
    tag = str(getattr(element, "tag", ""))
    return tag.rpartition("}")[2]


def code(element: etree._Element, path: str) -> str:
    """The LoC vocabulary code of the element at ``path``: its valueURI's last segment."""
    return str(element.xpath(f"string({path}/@valueURI)", namespaces=NS)).rsplit("/", 1)[-1]


def test_premis_declares_its_namespaces_once(random_bag: Path) -> None:
    text = (random_bag / "metadata" / "premis.xml").read_text(encoding="utf-8")
    assert text.count('xmlns:premis="') == 1
    assert text.count('xmlns:xsi="') == 1


def test_every_fact_of_every_file_is_still_in_premis(random_bag: Path) -> None:
    tree = parse(random_bag / "metadata" / "premis.xml")
    objects = premis_files(tree)
    sha256 = manifest(random_bag / "manifest-sha256.txt")
    sha512 = manifest(random_bag / "manifest-sha512.txt")
    assert sorted(objects) == sorted(sha256)
    for path, obj in objects.items():
        digests = {
            code(f, "premis:messageDigestAlgorithm"): f.findtext(
                "premis:messageDigest", namespaces=NS
            )
            for f in obj.iterfind(".//premis:fixity", NS)
        }
        assert digests == {"sha256": sha256[path], "sha512": sha512[path]}
        assert obj.findtext(".//premis:size", namespaces=NS) == str(
            (random_bag / path).stat().st_size
        )
        assert obj.findtext(".//premis:formatName", namespaces=NS)
    # Random bytes are no UTF-8 text: one validation event, a note per file naming it, linked
    # to the representation (every payload file failed alike).
    failed = [
        event
        for event in tree.iterfind("premis:event", NS)
        if code(event, "premis:eventType") == "val"
    ]
    assert len(failed) == 1
    notes = failed[0].findall(".//premis:eventOutcomeDetailNote", NS)
    assert [str(n.text).split(":")[0] for n in notes] == sorted(sha256)
    linked = failed[0].findall(".//premis:linkingObjectIdentifierValue", NS)
    assert [n.text for n in linked] == ["lean"]
    types = {code(e, "premis:eventType") for e in tree.iterfind("premis:event", NS)}
    assert types == {"mes", "for", "val", "pac"}
    assert tree.findtext("premis:agent/premis:agentName", namespaces=NS) == "archiver"


def test_text_properties_are_still_recorded(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("Ein Schritt\r\nfür den Frieden\r\n", encoding="utf-8")
    (source / "b.bin").write_bytes(b"\x00\x01")
    bag = Path(make_bag(source, tmp_path / "bags", bag_id="texts", workers=1).path)
    objects = premis_files(parse(bag / "metadata" / "premis.xml"))
    properties = {
        p.findtext("premis:significantPropertiesType", namespaces=NS): p.findtext(
            "premis:significantPropertiesValue", namespaces=NS
        )
        for p in objects["data/a.txt"].iterfind("premis:significantProperties", NS)
    }
    assert properties == {
        "character encoding": "UTF-8",
        "byte order mark": "absent",
        "line endings": "CRLF",
        "character count": "30",
    }
    # Only a.txt is a text: its validation event links it, not the representation.
    tree = parse(bag / "metadata" / "premis.xml")
    links = {
        code(e, "premis:eventType"): [
            n.text for n in e.iterfind(".//premis:linkingObjectIdentifierValue", NS)
        ]
        for e in tree.iterfind("premis:event", NS)
    }
    assert links["val"] == ["texts/data/a.txt"]
    assert links["mes"] == ["texts"]
    assert validate_bag(bag).valid


def test_metsrw_reads_the_paths_and_checksums_of_our_mets(random_bag: Path) -> None:
    document = metsrw.METSDocument.fromfile(str(random_bag / "metadata" / "mets.xml"))
    files = {
        entry.path: (entry.checksumtype, entry.checksum)
        for entry in document.all_files()
        if entry.type == "Item"
    }
    sha256 = manifest(random_bag / "manifest-sha256.txt")
    assert files == {path: ("SHA-256", digest) for path, digest in sha256.items()}


def test_the_lean_mets_and_premis_are_served_byte_for_byte(random_bag: Path) -> None:
    # OAI-PMH copies archiver's own documents into responses as they are when it can: the
    # mdRef sections' IDs are ones it writes (mets.LOCAL_ID), so nothing needs rewriting.
    for name in ("mets.xml", "premis.xml"):
        with (random_bag / "metadata" / name).open("rb") as handle:
            assert records.verbatim(handle, "lean") is not None, name
