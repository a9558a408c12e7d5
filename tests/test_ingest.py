"""archiver ingest: bags made elsewhere become archiver bags; the original is only read."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import bagit
import pytest

from archiver import resources
from archiver.bagit.reader import read_bag
from archiver.errors import DigestMismatchError, InvalidBagError, SourceError
from archiver.ingest import ingest_bag
from archiver.packing import Origin, pack
from archiver.provenance import Provenance
from archiver.sources import PayloadFile
from archiver.validation import validate_bag
from archiver.xml import parsing
from tests.conftest import REPO, CliRunner, listing, snapshot, watch_reads, write_tree
from tests.foreign import LATIN1_ELEMENTS, make_latin1_bag
from tests.helpers_xml import LOC, NS, bag_info, manifest, parse
from tests.test_packing import validator

SUITE = REPO / "tests" / "data" / "bagit-conformance-suite"
# The conformance suite's valid bags, and those valid with warnings, except the one whose
# copy here is incomplete (see test_conformance.INCOMPLETE_HERE).
SUITE_BAGS = sorted(
    p.relative_to(SUITE).as_posix()
    for p in [*SUITE.glob("v*/valid/*"), *SUITE.glob("v*/warning/*")]
    if p.is_dir() and p.name != "special-system-files"
)
FILES: dict[str, bytes | str] = {
    "report.txt": "Annual report 1998\n\nThe year in review.\n",
    "tables/table 1.csv": "year,count\n1998,12\n",
    "tables/naïve café.txt": "accented name\n",
    "scan.bin": bytes(range(256)) * 4,
}


@pytest.fixture(autouse=True)
def _quiet_bagit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bagit")


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """A BagIt 0.97 bag made by LoC bagit-python, with md5 and sha256 manifests."""
    root = write_tree(tmp_path / "annual-report-1998", FILES)
    bagit.make_bag(
        str(root),
        {
            "Source-Organization": "Example County Archive",
            "External-Description": "Scanned annual report and its figures.",
            "External-Identifier": "ECA-1998-07",
            "Bag-Count": "1 of 1",
            "Contact-Name": "A. Archivist",
        },
        checksums=["md5", "sha256"],
    )
    assert (root / "bagit.txt").read_text().startswith("BagIt-Version: 0.97")
    return root


def _tree_state(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of everything under ``root``."""
    return {rel: (data, (root / rel).stat().st_mtime_ns) for rel, data in snapshot(root).items()}


def test_a_bagit_python_bag_becomes_a_valid_archiver_bag(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    before = _tree_state(foreign)
    run = cli("ingest", foreign, "--out", tmp_path / "collection")
    assert run.code == 0, run.err
    bag = tmp_path / "collection" / "ECA-1998-07"  # its External-Identifier
    assert run.out.strip() == str(bag)
    assert validate_bag(bag).valid
    bagit.Bag(str(bag)).validate()
    # payload: byte for byte, now under SHA-256 and SHA-512
    for rel, content in FILES.items():
        data = content.encode() if isinstance(content, str) else content
        assert (bag / "data" / rel).read_bytes() == data
        assert manifest(bag / "manifest-sha512.txt")[f"data/{rel}"] == (
            hashlib.sha512(data).hexdigest()
        )
    assert sorted(p.name for p in bag.glob("*manifest-*")) == [
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sha512.txt",
    ]
    # the original bag: untouched, bytes and times
    assert _tree_state(foreign) == before


def test_the_foreign_tag_files_are_kept_byte_for_byte(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    assert cli("ingest", foreign, "--out", tmp_path / "c").code == 0
    bag = tmp_path / "c" / "ECA-1998-07"
    kept = bag / "metadata" / "original"
    names = sorted(p.name for p in foreign.iterdir() if p.is_file())
    assert sorted(p.name for p in kept.iterdir()) == names
    for name in names:
        assert (kept / name).read_bytes() == (foreign / name).read_bytes()
    # and they are covered by the new tag manifests
    tagged = manifest(bag / "tagmanifest-sha512.txt")
    assert (
        tagged["metadata/original/manifest-md5.txt"]
        == hashlib.sha512((foreign / "manifest-md5.txt").read_bytes()).hexdigest()
    )


def test_bag_info_is_kept_with_package_labels_renamed(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    assert cli("ingest", foreign, "--out", tmp_path / "c").code == 0
    bag = tmp_path / "c" / "ECA-1998-07"
    items = bag_info(bag / "bag-info.txt")
    values = dict(items)
    assert values["External-Identifier"] == "ECA-1998-07"
    assert values["Original-External-Identifier"] == "ECA-1998-07"
    assert values["Bag-Software-Agent"].startswith("archiver ")
    assert values["Original-Bag-Software-Agent"].startswith("bagit.py ")
    assert values["Source-Organization"] == "Example County Archive"
    assert values["Contact-Name"] == "A. Archivist"
    assert values["Bag-Count"] == "1 of 1"
    assert values["Bagging-Date"] == "2026-11-27"
    assert [label for label, _ in items].count("Payload-Oxum") == 1
    size = sum(len(c.encode() if isinstance(c, str) else c) for c in FILES.values())
    assert values["Payload-Oxum"] == f"{size}.{len(FILES)}"


def test_dublin_core_comes_from_bag_info_and_the_text(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    assert cli("ingest", foreign, "--out", tmp_path / "c").code == 0
    dc = parse(tmp_path / "c" / "ECA-1998-07" / "metadata" / "dc.xml")

    def values(element: str) -> list[str]:
        return [e.text or "" for e in dc.getroot().iter(f"{{{NS['dc']}}}{element}")]

    # no Title label, several files: the folder's name, not the first line of one of them
    assert values("title") == ["annual-report-1998"]
    assert values("publisher") == ["Example County Archive"]
    assert values("description") == ["Scanned annual report and its figures."]
    assert values("identifier") == ["ECA-1998-07"]
    assert "Text" in values("type")


def test_a_foreign_bagging_date_is_never_the_works_date(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    # bagit-python wrote the day the report was packed; the report is from 1998.
    packed = dict(bag_info(foreign / "bag-info.txt"))["Bagging-Date"]
    assert cli("ingest", foreign, "--out", tmp_path / "c").code == 0
    bag = tmp_path / "c" / "ECA-1998-07"
    dc = parse(bag / "metadata" / "dc.xml")
    assert [e.text for e in dc.getroot().iter(f"{{{NS['dc']}}}date")] == []
    assert dict(bag_info(bag / "bag-info.txt"))["Original-Bagging-Date"] == packed


def test_premis_records_the_validation_and_the_ingestion(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    assert cli("ingest", foreign, "--out", tmp_path / "c").code == 0
    bag = tmp_path / "c" / "ECA-1998-07"
    tree = parse(bag / "metadata" / "premis.xml")
    events = tree.getroot().findall("premis:event", NS)
    kinds = [e.find("premis:eventType", NS).get("valueURI") for e in events]  # type: ignore[union-attr]
    assert kinds[0] == f"{LOC}eventType/val"
    assert kinds[-1] == f"{LOC}eventType/ing"
    assert f"{LOC}eventType/pac" in kinds
    first, last = events[0], events[-1]
    detail = "premis:eventDetailInformation/premis:eventDetail"
    assert "BagIt 0.97" in (first.findtext(detail, namespaces=NS) or "")
    outcome = "premis:eventOutcomeInformation/premis:eventOutcome"
    assert first.findtext(outcome, namespaces=NS) == "success"
    assert last.findtext(outcome, namespaces=NS) == "success"
    text = last.findtext(detail, namespaces=NS) or ""
    assert "md5, sha256 digests checked" in text
    assert "bagit.py" in text
    schema = parsing.preservation_schema()
    for name in ("premis.xml", "mets.xml", "dc.xml"):
        assert schema.validate(parse(bag / "metadata" / name))


def test_metadata_record_and_id_override_what_the_bag_says(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    record = tmp_path / "record.json"
    record.write_text(
        json.dumps(
            {
                "title": "Annual Report of the County, 1998",
                "creator": "County Clerk",
                "date": "March 1999",
                "bag-info": {"Source-Organization": "Example State Archives"},
            }
        )
    )
    run = cli("ingest", foreign, "--out", tmp_path / "c", "--metadata", record, "--id", "ar-1998")
    assert run.code == 0, run.err
    bag = tmp_path / "c" / "ar-1998"
    dc = parse(bag / "metadata" / "dc.xml").getroot()
    assert dc.findtext("dc:title", namespaces=NS) == "Annual Report of the County, 1998"
    assert dc.findtext("dc:date", namespaces=NS) == "1999-03"
    assert dc.find("dc:publisher", NS) is None  # the record says what DC is; not bag-info
    items = bag_info(bag / "bag-info.txt")
    assert [v for k, v in items if k == "Source-Organization"] == ["Example State Archives"]
    assert dict(items)["External-Identifier"] == "ar-1998"
    assert dict(items)["Original-External-Identifier"] == "ECA-1998-07"


def test_an_archiver_bag_keeps_its_dublin_core(tmp_path: Path, cli: CliRunner) -> None:
    sample = REPO / "bags" / "a-giant-step-for-peace"
    run = cli("ingest", sample, "--out", tmp_path / "c", "--id", "giant-step-again")
    assert run.code == 0, run.err
    bag = tmp_path / "c" / "giant-step-again"
    assert validate_bag(bag).valid
    old = parse(sample / "metadata" / "dc.xml").getroot()
    new = parse(bag / "metadata" / "dc.xml").getroot()
    assert new.findtext("dc:title", namespaces=NS) == old.findtext("dc:title", namespaces=NS)
    assert new.findtext("dc:creator", namespaces=NS) == old.findtext("dc:creator", namespaces=NS)
    kept = bag / "metadata" / "original" / "metadata" / "premis.xml"
    assert kept.read_bytes() == (sample / "metadata" / "premis.xml").read_bytes()


@pytest.mark.parametrize("name", SUITE_BAGS)
def test_each_valid_conformance_bag_is_ingested(tmp_path: Path, cli: CliRunner, name: str) -> None:
    original = tmp_path / "foreign"
    shutil.copytree(SUITE / name, original, symlinks=True)
    before = _tree_state(original)
    run = cli("ingest", original, "--out", tmp_path / "c", "--id", "ingested", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    validator(resources.json_schema("bag-result.schema.json")).validate(summary)
    bag = tmp_path / "c" / "ingested"
    assert validate_bag(bag).valid, validate_bag(bag).to_json()
    if "encoded-names" not in name:  # bagit-python does not decode %25 in manifest paths
        bagit.Bag(str(bag)).validate()
    payload = {
        p.relative_to(original).as_posix(): p.read_bytes()
        for p in (original / "data").rglob("*")
        if p.is_file()
    }
    assert {f["path"] for f in summary["files"]} == set(payload)
    for rel, data in payload.items():
        assert (bag / rel).read_bytes() == data
    assert _tree_state(original) == before


def test_an_invalid_bag_is_refused_with_its_report(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    target = foreign / "data" / "report.txt"
    target.write_bytes(target.read_bytes().replace(b"1998", b"1999"))
    run = cli("ingest", foreign, "--out", tmp_path / "c", "--json")
    assert run.code == 1
    report = json.loads(run.out)
    assert not report["valid"]
    assert any(f["path"] == "data/report.txt" for f in report["bags"][0]["findings"])
    assert "nothing ingested" in run.err
    assert listing(tmp_path / "c") == []


def test_a_bag_with_files_still_to_fetch_is_refused(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    (foreign / "data" / "scan.bin").unlink()
    (foreign / "fetch.txt").write_text("https://example.org/scan.bin 1024 data/scan.bin\n")
    info = foreign / "bag-info.txt"
    size = sum(len(c.encode() if isinstance(c, str) else c) for c in FILES.values()) - 1024
    info.write_text(re.sub(r"Payload-Oxum: .*", f"Payload-Oxum: {size}.3", info.read_text()))
    bagit.Bag(str(foreign)).save(manifests=False)  # tag manifests again, fetch.txt included
    report = validate_bag(foreign)
    assert [f.code for f in report.findings if f.severity == "error"] == ["bag.fetch.unfetched"]
    run = cli("ingest", foreign, "--out", tmp_path / "c")
    assert run.code == 1
    assert "data/scan.bin: not fetched yet from https://example.org/scan.bin" in run.out
    assert listing(tmp_path / "c") == []


def test_an_existing_bag_is_not_overwritten(tmp_path: Path, cli: CliRunner, foreign: Path) -> None:
    existing = write_tree(tmp_path / "c" / "ECA-1998-07", {"keep.txt": "mine"})
    run = cli("ingest", foreign, "--out", tmp_path / "c")
    assert run.code == 2
    assert "exists" in run.err
    assert listing(tmp_path / "c") == ["ECA-1998-07", "ECA-1998-07/keep.txt"]
    assert (existing / "keep.txt").read_text() == "mine"


def test_the_collection_cannot_be_inside_the_foreign_bag(cli: CliRunner, foreign: Path) -> None:
    before = _tree_state(foreign)
    run = cli("ingest", foreign, "--out", foreign / "data" / "collection")
    assert run.code == 2
    assert "inside the bag" in run.err
    assert _tree_state(foreign) == before


def test_not_a_folder_and_a_bad_id_are_usage_errors(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    assert cli("ingest", tmp_path / "missing", "--out", tmp_path / "c").code == 2
    run = cli("ingest", foreign, "--out", tmp_path / "c", "--id", "../escape")
    assert run.code == 2
    assert listing(tmp_path / "c") == []


def test_ingesting_twice_gives_identical_bags(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    assert cli("ingest", foreign, "--out", tmp_path / "one").code == 0
    assert cli("ingest", foreign, "--out", tmp_path / "two").code == 0
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_a_payload_that_differs_from_its_manifest_is_never_packed(tmp_path: Path) -> None:
    """The digests a bag promised are checked again as each file is copied (the file could
    change between validation and copy): a mismatch stops the ingest, nothing written."""
    source = write_tree(tmp_path / "src", {"a.txt": "hello\n"}) / "a.txt"
    plan = [PayloadFile(source, "data/a.txt", "a.txt", 6)]

    def unchanged(provenance: Provenance, *_: object) -> Provenance:
        return provenance

    good = hashlib.md5(b"hello\n").hexdigest()
    origin = Origin({"data/a.txt": {"md5": good}}, (), unchanged)
    result = pack(plan, tmp_path / "ok", bag_id="ok", origin=origin, workers=1)
    assert validate_bag(result.path).valid
    wrong = Origin({"data/a.txt": {"md5": "0" * 32}}, (), unchanged)
    with pytest.raises(
        SourceError, match=r"data/a\.txt: md5 is b1946ac9.*bag said 0{32}"
    ) as caught:
        pack(plan, tmp_path / "bad", bag_id="bad", origin=wrong, workers=1)
    assert isinstance(caught.value, DigestMismatchError)
    assert caught.value.mismatches == (("data/a.txt", "md5", "0" * 32, good),)
    assert os.listdir(tmp_path / "bad") == []


def test_tag_files_in_latin_1_are_read_in_latin_1(tmp_path: Path, cli: CliRunner) -> None:
    letter = "Chère amie,\n".encode()
    root = write_tree(
        tmp_path / "latin",
        {
            "bagit.txt": "BagIt-Version: 0.97\nTag-File-Character-Encoding: ISO-8859-1\n",
            "bag-info.txt": "Contact-Name: José Müller\n".encode("latin-1"),
            "manifest-sha256.txt": f"{hashlib.sha256(letter).hexdigest()}  data/lettre.txt\n",
            "data/lettre.txt": letter,
        },
    )
    run = cli("ingest", root, "--out", tmp_path / "c")
    assert run.code == 0, run.err
    items = dict(bag_info(tmp_path / "c" / "latin" / "bag-info.txt"))
    assert items["Contact-Name"] == "José Müller"
    dc = parse(tmp_path / "c" / "latin" / "metadata" / "dc.xml").getroot()
    assert dc.findtext("dc:contributor", namespaces=NS) == "José Müller"
    assert dc.findtext("dc:title", namespaces=NS) == "Chère amie,"


def test_an_iso_8859_1_bag_keeps_its_labels_and_folded_values(tmp_path: Path) -> None:
    foreign = make_latin1_bag(tmp_path / "rapport")
    result = ingest_bag(foreign, tmp_path / "collection", bag_id="rapport-1998")
    ours = read_bag(result.path)
    kept = [(label, value) for label, value in ours.items() if not label.startswith("Original-")]
    for label, value in LATIN1_ELEMENTS:
        if label.lower() != "bagging-date":
            assert (label, value) in kept
    assert ours.values("Original-Bagging-Date") == ["2003-05-14"]
    assert ours.values("Contact-Name") == ["Zoë Müller", "François Lefèvre"]
    original = result.path / "metadata" / "original" / "bag-info.txt"
    assert original.read_bytes() == (foreign / "bag-info.txt").read_bytes()
    assert validate_bag(result.path).valid


def test_processes_sets_how_many_workers_hash_and_the_bag_is_the_same(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archiver.bagit import hashing

    source = write_tree(tmp_path / "many", {f"f{n:03}.txt": f"text {n}\n" for n in range(80)})
    bagit.make_bag(str(source), checksums=["sha256"])
    pools: list[int] = []
    real = hashing.process_pool

    def counted(
        workers: int, preload: Sequence[str] = (), *, fork: bool = False, pin: bool = False
    ) -> ProcessPoolExecutor:
        pools.append(workers)
        return real(workers, preload, fork=fork, pin=pin)

    monkeypatch.setattr(hashing, "process_pool", counted)
    assert cli("ingest", source, "--out", tmp_path / "one", "--processes", "1").code == 0
    assert pools == []  # one process: hashed in this one, no pool started
    assert cli("ingest", source, "--out", tmp_path / "two", "--processes", "2").code == 0
    assert pools and set(pools) == {2}
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    with pytest.raises(SystemExit) as refused:  # the parser's own exit: a usage error
        cli("ingest", source, "--out", tmp_path / "three", "--processes", "0")
    assert refused.value.code == 2


def test_each_payload_file_is_read_once(tmp_path: Path, foreign: Path) -> None:
    """The payload's digests are checked as the copy reads each file, not by a validation
    that read it all first: one open each (tag files are read to be judged, then kept)."""
    with watch_reads() as reads:
        result = ingest_bag(foreign, tmp_path / "c", workers=1)
    assert validate_bag(result.path).valid
    payload = sorted((foreign / "data").rglob("*"))
    opened = [Path(path).resolve() for path, _ in reads]
    assert payload and all(opened.count(path.resolve()) == 1 for path in payload if path.is_file())


def test_a_damaged_payload_is_refused_with_the_report_a_validation_gives(
    tmp_path: Path, cli: CliRunner, foreign: Path
) -> None:
    target = foreign / "data" / "report.txt"
    target.write_bytes(target.read_bytes().replace(b"1998", b"1999"))
    with pytest.raises(InvalidBagError) as refused:
        ingest_bag(foreign, tmp_path / "c", workers=1)
    assert refused.value.report.findings == validate_bag(foreign).findings
    errors = {(f.code, f.path) for f in refused.value.report.findings if f.severity == "error"}
    assert errors == {("bag.payload.checksum-mismatch", "data/report.txt")}
    assert listing(tmp_path / "c") == []


def test_a_bag_refused_before_its_copy_gets_every_finding_a_validation_gives(
    tmp_path: Path, foreign: Path
) -> None:
    """Its tag files wrong (a manifest line gone) and a payload file changed: the report
    holds both, as validate gives it, not only what the first pass (no payload digests)
    saw."""
    target = foreign / "data" / "report.txt"
    target.write_bytes(target.read_bytes().replace(b"1998", b"1999"))
    manifest = foreign / "manifest-md5.txt"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[1:]))  # the tag manifests no longer match it either
    with pytest.raises(InvalidBagError) as refused:
        ingest_bag(foreign, tmp_path / "c", workers=1)
    assert refused.value.report.findings == validate_bag(foreign).findings
    assert "bag.payload.checksum-mismatch" in {f.code for f in refused.value.report.findings}
    assert listing(tmp_path / "c") == []
