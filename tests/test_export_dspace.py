"""`archiver export --to dspace-saf`: a DSpace Simple Archive Format item folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import bagit
import pytest

from archiver.clock import Clock
from archiver.errors import ExportRefusedError, PackageCheckError
from archiver.export.base import Options
from archiver.export.dspace import (
    DC_REGISTRY,
    DCTERMS_REGISTRY,
    EXPORTER,
    DCValue,
    crosswalk,
    metadata_document,
)
from archiver.export.source import read_source
from archiver.record import Record
from archiver.xml import parsing
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, listing, make_source_tree, snapshot
from tests.corrupt import flip_byte

SAMPLE_BAG = REPO / "bags" / "a-giant-step-for-peace"
SAMPLE_TEXT = "a-giant-step-for-peace.txt"

FULL_RECORD = {
    "title": ["Letters from Cardiff", "Cardiff letters"],
    "creator": ["Jones, Megan", "Evans, Rhys"],
    "subject": ["World War, 1939-1945 -- Wales", "Letters"],
    "description": ['Letters & notes <1941–1943>, "quoted"', "Line one\r\nline two"],
    "publisher": "Archiver Test Press",
    "contributor": "Cardiff Museum",
    "date": ["1943-05-02", "2020"],
    "type": "Text",
    "format": ["text/plain; charset=UTF-8", "3 letters"],
    "identifier": ["https://example.org/letters/7", "letters-7"],
    "source": "Cardiff Museum, box 12",
    "language": ["en-GB", "Welsh"],
    "relation": ["https://example.org/series/1", "Family papers"],
    "coverage": ["1939-1945", "Cardiff", "east=-3.18; north=51.48", "start=1941; end=1943"],
    "rights": ["https://creativecommons.org/licenses/by/4.0/", "© the Jones family"],
    "bag-info": {"Source-Organization": "Cardiff Museum"},
}
# Nested folders, a non-ASCII name, and two names DSpace would otherwise read as its own
# (contents) or that the bag's metadata would take (mets.xml).
FULL_FILES: dict[str, bytes | str] = {
    "café ☕.txt": "the first letter\n",
    "chapters/one.txt": "one\n",
    "chapters/deep/two.md": "# two\n",
    "images/plate 1.png": bytes(range(256)),
    "mets.xml": "<not-the-bags-mets/>\n",
    "contents": "a payload file called contents\n",
}


def export(cli: CliRunner, bag: Path, out: Path, *, epoch: int | None = BAGS_EPOCH) -> Path:
    run = cli("export", bag, "--to", "dspace-saf", "--out", out, epoch=epoch)
    assert run.code == 0, run.err
    return out / "item_000"


def dcvalues(path: Path) -> list[tuple[str, str | None, str]]:
    root = parsing.parse_bytes(path.read_bytes()).getroot()
    return [
        (
            v.get("element", ""),
            None if v.get("qualifier") == "none" else v.get("qualifier"),
            v.text or "",
        )
        for v in root
    ]


def contents_lines(item: Path) -> list[list[str]]:
    data = (item / "contents").read_bytes().decode("utf-8")
    assert data.endswith("\n") and "\r" not in data
    return [line.split("\t") for line in data.splitlines()]


@pytest.fixture
def full_bag(tmp_path: Path, cli: CliRunner) -> Path:
    source = make_source_tree(tmp_path / "letters", FULL_FILES)
    record = tmp_path / "record.json"
    record.write_text(json.dumps(FULL_RECORD), encoding="utf-8")
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "letters", "--metadata", record)
    assert run.code == 0, run.err
    return tmp_path / "bags" / "letters"


def test_the_sample_bag_becomes_one_item_folder_of_saf_files(
    tmp_path: Path, cli: CliRunner
) -> None:
    run = cli("export", SAMPLE_BAG, "--to", "dspace-saf", "--out", tmp_path / "saf")
    assert run.code == 0, run.err
    assert listing(tmp_path / "saf") == [
        "item_000",
        f"item_000/{SAMPLE_TEXT}",
        "item_000/contents",
        "item_000/dc.xml",
        "item_000/dublin_core.xml",
        "item_000/metadata_dcterms.xml",
        "item_000/mets.xml",
        "item_000/premis.xml",
    ]
    assert listing(tmp_path) == ["saf", *(f"saf/{p}" for p in listing(tmp_path / "saf"))]
    assert "checked: export.dspace.primary (DSpace ItemImport: contents primary:true" in run.out
    assert "checked: export.dspace.registry (DSpace metadata registries" in run.out


def test_the_sample_items_dublin_core_is_its_record_in_dspace_fields(
    tmp_path: Path, cli: CliRunner
) -> None:
    item = export(cli, SAMPLE_BAG, tmp_path / "saf")
    root = parsing.parse_bytes((item / "dublin_core.xml").read_bytes()).getroot()
    assert root.tag == "dublin_core" and root.get("schema") == "dc"
    values = dcvalues(item / "dublin_core.xml")
    assert values[0] == ("title", None, "A giant step for peace")
    assert ("date", "issued", "2018-06") in values
    assert ("language", "iso", "en") in values
    assert ("format", "mimetype", "text/plain") in values
    assert ("identifier", "other", "a-giant-step-for-peace") in values
    assert [v for e, _, v in values if e == "subject"][1] == (
        "Korea (North) -- Foreign relations -- United States"
    )
    assert ("description", None) in {(e, q) for e, q, _ in values}
    # No unqualified dc.coverage exists in DSpace's registry; place names go to dcterms.
    assert all(e != "coverage" for e, _, _ in values)
    terms = dcvalues(item / "metadata_dcterms.xml")
    assert ("coverage", None, "Singapore") in terms
    assert ("coverage", None, "Korean Peninsula") in terms
    [statement] = [v for e, _, v in terms if e == "provenance"]
    assert "a-giant-step-for-peace" in statement and "Bagging-Date: 2026-11-27" in statement


def test_contents_marks_the_text_primary_and_puts_the_bags_metadata_in_metadata(
    tmp_path: Path, cli: CliRunner
) -> None:
    item = export(cli, SAMPLE_BAG, tmp_path / "saf")
    lines = contents_lines(item)
    assert lines[0] == [SAMPLE_TEXT, "bundle:ORIGINAL", "primary:true"]
    assert [line[:2] for line in lines[1:]] == [
        ["dc.xml", "bundle:METADATA"],
        ["mets.xml", "bundle:METADATA"],
        ["premis.xml", "bundle:METADATA"],
    ]
    assert lines[2][2] == "description:metadata/mets.xml of the source bag: its METS document"


def test_every_file_is_the_bags_own_file_byte_for_byte(tmp_path: Path, cli: CliRunner) -> None:
    item = export(cli, SAMPLE_BAG, tmp_path / "saf")
    assert (item / SAMPLE_TEXT).read_bytes() == (SAMPLE_BAG / "data" / SAMPLE_TEXT).read_bytes()
    for name in ("dc.xml", "mets.xml", "premis.xml"):
        assert (item / name).read_bytes() == (SAMPLE_BAG / "metadata" / name).read_bytes()


def test_nested_payload_keeps_its_folders_and_clashing_names_get_a_number(
    tmp_path: Path, cli: CliRunner, full_bag: Path
) -> None:
    item = export(cli, full_bag, tmp_path / "saf")
    lines = contents_lines(item)
    metadata = "description:metadata/{} of the source bag: its {}"
    premis = metadata.format("premis.xml", "PREMIS preservation metadata")
    assert lines == [
        ["café ☕.txt", "bundle:ORIGINAL", "primary:true"],
        ["chapters/deep/two.md", "bundle:ORIGINAL"],
        ["chapters/one.txt", "bundle:ORIGINAL"],
        ["1_contents", "bundle:ORIGINAL", "description:data/contents of the source bag"],
        ["images/plate 1.png", "bundle:ORIGINAL"],
        ["mets.xml", "bundle:ORIGINAL"],
        ["dc.xml", "bundle:METADATA", metadata.format("dc.xml", "Dublin Core record")],
        ["1_mets.xml", "bundle:METADATA", metadata.format("mets.xml", "METS document")],
        ["premis.xml", "bundle:METADATA", premis],
    ]
    for rel, content in FULL_FILES.items():
        name = "1_contents" if rel == "contents" else rel
        want = content.encode() if isinstance(content, str) else content
        assert (item / name).read_bytes() == want, rel
    assert (item / "1_mets.xml").read_bytes() == (full_bag / "metadata" / "mets.xml").read_bytes()


def test_names_dspace_reads_as_its_own_are_never_given_to_payload(
    tmp_path: Path, cli: CliRunner
) -> None:
    files: dict[str, bytes | str] = {
        "a.txt": "text\n",
        "dublin_core.xml": "<payload/>\n",
        "1_dublin_core.xml": "<payload too/>\n",
        "metadata_notes.xml": "<would be read as metadata/>\n",
        "-r odd.txt": "would be read as a registration\n",
        "HANDLE/inner.txt": "a folder named like the handle file\n",
    }
    source = make_source_tree(tmp_path / "src", files)
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "names").code == 0
    item = export(cli, tmp_path / "bags" / "names", tmp_path / "saf")
    names = {line[0]: line[2:] for line in contents_lines(item)}
    assert set(names) == {
        "1_-r odd.txt",
        "1_HANDLE/inner.txt",
        "1_dublin_core.xml",
        "1_metadata_notes.xml",
        "2_dublin_core.xml",
        "a.txt",
        "dc.xml",
        "mets.xml",
        "premis.xml",
    }
    assert names["2_dublin_core.xml"] == ["description:data/dublin_core.xml of the source bag"]
    assert names["1_dublin_core.xml"] == []  # the payload's own name, kept
    assert (item / "2_dublin_core.xml").read_text(encoding="utf-8") == "<payload/>\n"
    assert (item / "dublin_core.xml").read_bytes().startswith(b"<?xml")


def test_without_tag_manifests_the_metadata_copies_are_checked_against_their_files(
    tmp_path: Path,
) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    for manifest in bag.glob("tagmanifest-*.txt"):
        manifest.unlink()
    source = read_source(bag)
    options = Options(Clock.from_epoch(BAGS_EPOCH))
    EXPORTER.write(source, tmp_path / "saf", options)
    assert "export.source.files" in EXPORTER.check(tmp_path / "saf", source, options).checks
    item = tmp_path / "saf" / "item_000"
    assert (item / "mets.xml").read_bytes() == (bag / "metadata" / "mets.xml").read_bytes()
    flip_byte(item / "mets.xml", 50)
    with pytest.raises(PackageCheckError) as caught:
        EXPORTER.check(tmp_path / "saf", source, options)
    (found,) = caught.value.findings
    assert (found.code, found.path) == ("export.source.files", "item_000/mets.xml")
    assert "its source file" in found.message
    assert (found.params["algorithm"], found.params["source"]) == ("sha256", "metadata/mets.xml")


def test_every_dc_element_of_a_full_record_lands_in_a_registry_field(
    tmp_path: Path, cli: CliRunner, full_bag: Path
) -> None:
    item = export(cli, full_bag, tmp_path / "saf")
    assert dcvalues(item / "dublin_core.xml") == [
        ("title", None, "Letters from Cardiff"),
        ("title", "alternative", "Cardiff letters"),
        ("contributor", "author", "Jones, Megan"),
        ("contributor", "author", "Evans, Rhys"),
        ("subject", None, "World War, 1939-1945 -- Wales"),
        ("subject", None, "Letters"),
        ("description", None, 'Letters & notes <1941–1943>, "quoted"'),
        ("description", None, "Line one\r\nline two"),
        ("publisher", None, "Archiver Test Press"),
        ("contributor", None, "Cardiff Museum"),
        ("date", "issued", "1943-05-02"),
        ("date", None, "2020"),
        ("type", None, "Text"),
        ("format", "mimetype", "text/plain; charset=UTF-8"),
        ("format", None, "3 letters"),
        ("identifier", "other", "letters"),  # the bag's identifier, added by archiver bag
        ("identifier", "uri", "https://example.org/letters/7"),
        ("identifier", "other", "letters-7"),
        ("source", None, "Cardiff Museum, box 12"),
        ("language", "iso", "en_GB"),
        ("language", None, "Welsh"),
        ("relation", "uri", "https://example.org/series/1"),
        ("relation", None, "Family papers"),
        ("coverage", "temporal", "1939-1945"),
        ("coverage", "spatial", "east=-3.18; north=51.48"),
        ("coverage", "temporal", "start=1941; end=1943"),
        ("rights", "uri", "https://creativecommons.org/licenses/by/4.0/"),
        ("rights", None, "© the Jones family"),
    ]
    terms = dcvalues(item / "metadata_dcterms.xml")
    assert [(e, q) for e, q, _ in terms] == [("provenance", None), ("coverage", None)]
    assert terms[1][2] == "Cardiff"
    assert "Source-Organization: Cardiff Museum" in terms[0][2]
    assert all((e, q) in DC_REGISTRY for e, q, _ in dcvalues(item / "dublin_core.xml"))
    assert all((e, q) in DCTERMS_REGISTRY for e, q, _ in terms)


def test_coverage_is_spatial_or_temporal_only_when_its_form_says_so() -> None:
    values = [
        "2018-06-12",
        "1939–1945",
        "1990/2000",
        "name=Edwardian era; start=1901; end=1910",
        "northlimit=52; eastlimit=1; southlimit=50; westlimit=-5",
        "51.48, -3.18",
        "Singapore",
        "123, 456",
        "20th century",
    ]
    found = [(v.schema, v.qualifier) for v in crosswalk(Record().with_values("coverage", values))]
    assert found == [
        ("dc", "temporal"),
        ("dc", "temporal"),
        ("dc", "temporal"),
        ("dc", "temporal"),
        ("dc", "spatial"),
        ("dc", "spatial"),
        ("dcterms", None),
        ("dcterms", None),
        ("dcterms", None),
    ]
    assert ("coverage", None) not in DC_REGISTRY and ("coverage", None) in DCTERMS_REGISTRY


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("1943", "dc.date.issued"),
        ("1943-05", "dc.date.issued"),
        ("1943-05-02", "dc.date.issued"),
        ("2018-06-15T09:30:00Z", "dc.date.issued"),
        ("1990~", "dcterms.date"),  # approximate
        ("1990?", "dcterms.date"),  # uncertain
        ("1990%", "dcterms.date"),
        ("199X", "dcterms.date"),  # unspecified digits
        ("2020-21", "dcterms.date"),  # spring 2020, not month 21
        ("1990/1995", "dcterms.date"),
        ("../1990", "dcterms.date"),
        ("2018-06-15T09:30Z", "dcterms.date"),  # DCDate drops what follows the minute
        ("2018-06-15T09:30:00.25Z", "dcterms.date"),
        ("2018-06-15T09:30:00", "dcterms.date"),  # local time: DCDate would take it as UTC
        ("2018-02-30", "dcterms.date"),
    ],
)
def test_a_date_is_dc_date_issued_only_when_dspace_reads_it_exactly(value: str, field: str) -> None:
    (found,) = crosswalk(Record().with_values("date", [value]))
    assert (found.field, found.value) == (field, value)


def test_an_inexact_first_date_leaves_no_issued_date_and_later_exact_ones_are_dc_date() -> None:
    record = Record().with_values("date", ["circa 1990", "1990~", "1991"])
    assert [(v.field, v.value) for v in crosswalk(record)] == [
        ("dcterms.date", "circa 1990"),
        ("dcterms.date", "1990~"),
        ("dc.date", "1991"),
    ]


def test_an_edtf_date_goes_to_metadata_dcterms_as_written(tmp_path: Path, cli: CliRunner) -> None:
    source = make_source_tree(tmp_path / "src", {"report.txt": "Report\n"})
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"title": "Report", "date": "Spring 2020"}), encoding="utf-8")
    assert (
        cli("bag", source, "--out", tmp_path / "bags", "--id", "r", "--metadata", record).code == 0
    )
    item = export(cli, tmp_path / "bags" / "r", tmp_path / "saf")
    assert [v for v in dcvalues(item / "dublin_core.xml") if v[0] == "date"] == []
    assert ("date", None, "2020-21") in dcvalues(item / "metadata_dcterms.xml")


def test_an_ingested_bagit_python_bag_gets_no_issued_date_from_its_bagging_date(
    tmp_path: Path, cli: CliRunner
) -> None:
    foreign = make_source_tree(tmp_path / "report-1998", {"report.txt": "Annual report 1998\n"})
    bagit.make_bag(str(foreign), {"Source-Organization": "Example County Archive"})
    assert "Bagging-Date" in (foreign / "bag-info.txt").read_text(encoding="utf-8")
    assert cli("ingest", foreign, "--out", tmp_path / "c").code == 0
    item = export(cli, tmp_path / "c" / "report-1998", tmp_path / "saf")
    assert [v for v in dcvalues(item / "dublin_core.xml") if v[0] == "date"] == []
    assert [v for v in dcvalues(item / "metadata_dcterms.xml") if v[0] == "date"] == []
    # the foreign bag exported as it is: its bag-info gives the record, not its Bagging-Date
    item = export(cli, foreign, tmp_path / "saf-foreign")
    assert [v for v in dcvalues(item / "dublin_core.xml") if v[0] == "date"] == []


@pytest.mark.parametrize("value", ["bell\x07", "\ufffe", "half \ud800 pair"])
def test_a_value_xml_cannot_carry_is_refused_not_written(value: str) -> None:
    with pytest.raises(ExportRefusedError, match=r"dc\.description"):
        metadata_document("dc", [DCValue("dc", "description", None, value)])


def test_escaped_text_round_trips_through_the_written_xml() -> None:
    value = "A & B <c> \"d\" 'e'\r\n\ttabbed ☕ \U0001f600"
    data = metadata_document("dc", [DCValue("dc", "title", None, value)])
    [element] = parsing.parse_bytes(data).getroot()
    assert element.text == value


def test_an_invalid_source_bag_is_refused_and_nothing_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    flip_byte(bag / "data" / SAMPLE_TEXT, 100)
    exports = tmp_path / "exports"
    exports.mkdir()
    run = cli("export", bag, "--to", "dspace-saf", "--out", exports / "saf")
    assert run.code == 1
    assert "not a valid bag" in run.err
    assert listing(exports) == []


def test_an_existing_out_is_refused_and_left_as_it_was(tmp_path: Path, cli: CliRunner) -> None:
    out = tmp_path / "saf"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n", encoding="utf-8")
    before = snapshot(tmp_path)
    run = cli("export", SAMPLE_BAG, "--to", "dspace-saf", "--out", out)
    assert run.code == 2
    assert "already exists" in run.err
    assert snapshot(tmp_path) == before
    assert listing(tmp_path) == ["saf", "saf/keep.txt"]


def test_a_profile_is_refused_for_a_package_that_is_not_a_bag(
    tmp_path: Path, cli: CliRunner
) -> None:
    profile = REPO / "schemas" / "archiver-bagit-profile.json"
    out = tmp_path / "saf"
    run = cli("export", SAMPLE_BAG, "--to", "dspace-saf", "--out", out, "--profile", profile)
    assert run.code == 2
    assert "a BagIt profile does not apply to a DSpace Simple Archive Format package" in run.err
    assert "--profile" not in run.err  # a library message names no command-line option
    assert listing(tmp_path) == []


def test_a_file_name_contents_cannot_list_is_refused_naming_it(
    tmp_path: Path, cli: CliRunner
) -> None:
    source = make_source_tree(tmp_path / "src", {"ok.txt": "fine\n", "new\nline.txt": "x\n"})
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "odd").code == 0
    exports = tmp_path / "exports"
    exports.mkdir()
    run = cli("export", tmp_path / "bags" / "odd", "--to", "dspace-saf", "--out", exports / "saf")
    assert run.code == 2
    assert "data/new\\nline.txt" in run.err
    assert listing(exports) == []


def test_two_exports_are_byte_identical_whatever_the_clock(
    tmp_path: Path, cli: CliRunner, full_bag: Path
) -> None:
    export(cli, full_bag, tmp_path / "one")
    export(cli, full_bag, tmp_path / "two", epoch=None)
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert len(snapshot(tmp_path / "one")) == 12


def _second_primary(item: Path) -> None:
    contents = item / "contents"
    contents.write_bytes(
        contents.read_bytes().replace(
            b"mets.xml\tbundle:METADATA", b"mets.xml\tbundle:METADATA\tprimary:true"
        )
    )


def _unknown_field(item: Path) -> None:
    path = item / "dublin_core.xml"
    path.write_bytes(path.read_bytes().replace(b'qualifier="issued"', b'qualifier="published"'))


def _no_such_coverage(item: Path) -> None:
    path = item / "metadata_dcterms.xml"
    path.write_bytes(path.read_bytes().replace(b'element="coverage"', b'element="place"', 1))


def _not_well_formed(item: Path) -> None:
    path = item / "dublin_core.xml"
    path.write_bytes(path.read_bytes().replace(b"</dublin_core>", b"</dublin_cor>"))


def _bad_bundle(item: Path) -> None:
    contents = item / "contents"
    contents.write_bytes(contents.read_bytes().replace(b"\tbundle:METADATA", b"\tbundle:", 1))


def _stray_folder(item: Path) -> None:
    (item.parent / "item_001").mkdir()


def _other_title(item: Path) -> None:
    path = item / "dublin_core.xml"
    path.write_bytes(path.read_bytes().replace(b"A giant step", b"A small step"))


@pytest.mark.parametrize(
    ("tamper", "code", "path"),
    [
        (
            lambda item: flip_byte(item / SAMPLE_TEXT, 7),
            "export.source.files",
            f"item_000/{SAMPLE_TEXT}",
        ),
        (
            lambda item: (item / "notes.txt").write_text("x"),
            "export.dspace.unlisted-file",
            "item_000/notes.txt",
        ),
        (
            lambda item: (item / "premis.xml").unlink(),
            "export.dspace.contents-file",
            "item_000/contents",
        ),
        (
            lambda item: (item / "handle").write_text("123456789/1"),
            "export.dspace.item-files",
            "item_000/handle",
        ),
        (_second_primary, "export.dspace.primary", "item_000/contents"),
        (_unknown_field, "export.dspace.registry", "item_000/dublin_core.xml"),
        (_no_such_coverage, "export.dspace.registry", "item_000/metadata_dcterms.xml"),
        (_not_well_formed, "export.dspace.metadata-file", "item_000/dublin_core.xml"),
        (_bad_bundle, "export.dspace.contents", "item_000/contents"),
        (_stray_folder, "export.dspace.archive-folder", "item_001"),
        (_other_title, "export.source.record", "item_000/dublin_core.xml"),
    ],
    ids=[
        "flipped-byte",
        "unlisted-file",
        "missing-file",
        "handle-file",
        "second-primary",
        "unknown-qualifier",
        "unknown-dcterms-element",
        "not-well-formed",
        "no-bundle",
        "second-item",
        "other-title",
    ],
)
def test_check_names_the_rule_a_tampered_package_breaks(
    tmp_path: Path, cli: CliRunner, tamper: Callable[[Path], object], code: str, path: str
) -> None:
    item = export(cli, SAMPLE_BAG, tmp_path / "saf")
    options = Options(Clock.from_epoch(BAGS_EPOCH))
    source = read_source(SAMPLE_BAG)
    held = EXPORTER.check(tmp_path / "saf", source, options)  # untouched: every rule holds
    assert held.findings == []
    assert code in held.checks
    tamper(item)
    with pytest.raises(PackageCheckError) as caught:
        EXPORTER.check(tmp_path / "saf", source, options)
    broken = [(f.code, f.path) for f in caught.value.findings if f.severity == "error"]
    assert (code, path) in broken
    assert code not in caught.value.checks
    assert code in str(caught.value)
    for found in caught.value.findings:  # a path is a field, never repeated in the message
        assert not found.path or found.path not in found.message
