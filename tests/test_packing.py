"""archiver bag: the layout, the metadata and their agreement with the manifests."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import bagit
import jsonschema
import pytest
from lxml import etree
from referencing import Registry, Resource

from archiver import resources
from archiver.validation import validate_bag
from archiver.xml import parsing
from tests.conftest import BAGS_EPOCH, SAMPLE_RECORD, CliRunner, make_source_tree
from tests.helpers_xml import (
    LOC,
    NS,
    bag_info,
    fixity,
    manifest,
    mets_files,
    parse,
    premis_files,
)

LAYOUT = [
    "bag-info.txt",
    "bagit.txt",
    "data",
    "data/a-giant-step-for-peace.txt",
    "manifest-sha256.txt",
    "manifest-sha512.txt",
    "metadata",
    "metadata/dc.xml",
    "metadata/mets.xml",
    "metadata/premis.xml",
    "tagmanifest-sha256.txt",
    "tagmanifest-sha512.txt",
]


@pytest.fixture
def sample_bag(tmp_path: Path, sample_copy: Path, cli: CliRunner) -> Path:
    run = cli(
        "bag",
        sample_copy,
        "--out",
        tmp_path / "out",
        "--metadata",
        SAMPLE_RECORD,
        "--id",
        "giant-step",
    )
    assert run.code == 0, run.err
    assert run.out.strip() == str(tmp_path / "out" / "giant-step")
    return tmp_path / "out" / "giant-step"


def test_the_bag_has_exactly_the_documented_layout(sample_bag: Path) -> None:
    found = sorted(p.relative_to(sample_bag).as_posix() for p in sample_bag.rglob("*"))
    assert found == LAYOUT
    assert (sample_bag / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )


def test_the_payload_is_the_source_bit_for_bit_under_its_own_name(
    sample_bag: Path, sample_copy: Path
) -> None:
    copied = sample_bag / "data" / sample_copy.name
    assert copied.read_bytes() == sample_copy.read_bytes()
    assert copied.stat().st_mtime_ns == sample_copy.stat().st_mtime_ns


def test_loc_bagit_python_validates_the_bag(sample_bag: Path) -> None:
    logging.getLogger("bagit").setLevel(logging.ERROR)
    bag = bagit.Bag(str(sample_bag))
    bag.validate()  # raises BagValidationError when invalid
    assert bag.is_valid()
    assert set(bag.algorithms) == {"sha256", "sha512"}


def test_the_manifests_hold_the_real_digests_of_every_file(sample_bag: Path) -> None:
    for algorithm in ("sha256", "sha512"):
        payload = manifest(sample_bag / f"manifest-{algorithm}.txt")
        assert list(payload) == ["data/a-giant-step-for-peace.txt"]
        for path, digest in payload.items():
            assert digest == hashlib.new(algorithm, (sample_bag / path).read_bytes()).hexdigest()
        tags = manifest(sample_bag / f"tagmanifest-{algorithm}.txt")
        assert sorted(tags) == [
            "bag-info.txt",
            "bagit.txt",
            "manifest-sha256.txt",
            "manifest-sha512.txt",
            "metadata/dc.xml",
            "metadata/mets.xml",
            "metadata/premis.xml",
        ]
        for path, digest in tags.items():
            assert digest == hashlib.new(algorithm, (sample_bag / path).read_bytes()).hexdigest()


def test_bag_info_lists_generated_labels_then_the_users_in_order(sample_bag: Path) -> None:
    items = bag_info(sample_bag / "bag-info.txt")
    assert [label for label, _ in items] == [
        "Bagging-Date",
        "Payload-Oxum",
        "External-Identifier",
        "Bag-Software-Agent",
        "BagIt-Profile-Identifier",
        "Source-Organization",
        "External-Description",
        "Bag-Group-Identifier",
    ]
    values = dict(items)
    assert values["Bagging-Date"] == "2026-11-27"
    assert values["Payload-Oxum"] == "3528.1"
    assert values["External-Identifier"] == "giant-step"
    assert values["Bag-Software-Agent"].startswith("archiver ")
    assert values["Bag-Group-Identifier"] == "editorials"


def test_every_xml_file_validates_against_the_vendored_schemas(sample_bag: Path) -> None:
    schema = parsing.preservation_schema()
    roots = {"dc.xml": "oai_dc:dc", "mets.xml": "mets:mets", "premis.xml": "premis:premis"}
    for name, root in roots.items():
        tree = parse(sample_bag / "metadata" / name)
        prefix, local = root.split(":")
        assert tree.getroot().tag == f"{{{NS[prefix]}}}{local}"
        assert schema.validate(tree), schema.error_log


def test_the_schema_check_is_not_vacuous_dc_inside_mets_is_validated(sample_bag: Path) -> None:
    # METS xmlData is processContents="lax": a DC record it does not know would pass
    # unchecked. Ours is wrapped as oai_dc:dc, so a bad element inside it must fail.
    tree = parse(sample_bag / "metadata" / "mets.xml")
    record = tree.find(".//mets:dmdSec//oai_dc:dc", NS)
    assert record is not None
    etree.SubElement(record, f"{{{NS['dc']}}}colour").text = "red"
    schema = parsing.preservation_schema()
    assert not schema.validate(tree)
    assert "colour" in str(schema.error_log)


def test_mets_and_premis_agree_with_the_manifests_and_the_files(sample_bag: Path) -> None:
    sha256 = manifest(sample_bag / "manifest-sha256.txt")
    sha512 = manifest(sample_bag / "manifest-sha512.txt")
    mets = parse(sample_bag / "metadata" / "mets.xml")
    files = mets_files(mets)
    assert set(files) == set(sha256)
    for path, attributes in files.items():
        assert attributes["CHECKSUMTYPE"] == "SHA-256"
        assert attributes["CHECKSUM"] == sha256[path]
        assert int(attributes["SIZE"]) == (sample_bag / path).stat().st_size
        assert attributes["MIMETYPE"] == "text/plain"
    objects = premis_files(parse(sample_bag / "metadata" / "premis.xml"))
    assert set(objects) == set(sha256)
    for path, obj in objects.items():
        assert fixity(obj) == {"sha256": sha256[path], "sha512": sha512[path]}
        size = obj.findtext(".//premis:size", namespaces=NS)
        assert size == str((sample_bag / path).stat().st_size)


def test_mets_carries_objid_header_dmdsec_amdsec_filesec_and_structmap(sample_bag: Path) -> None:
    root = parse(sample_bag / "metadata" / "mets.xml").getroot()
    assert root.get("OBJID") == "giant-step"
    header = root.find("mets:metsHdr", NS)
    assert header is not None
    assert header.get("CREATEDATE") == "2026-11-27T00:00:00Z"
    agent = header.findtext("mets:agent/mets:name", namespaces=NS)
    assert agent is not None and agent.startswith("archiver ")
    wrap = root.find("mets:dmdSec/mets:mdWrap", NS)
    assert wrap is not None and wrap.get("MDTYPE") == "DC"
    assert root.findtext(".//mets:dmdSec//dc:title", namespaces=NS) == "A giant step for peace"
    reference = root.find("mets:amdSec/mets:techMD/mets:mdRef", NS)  # PREMIS, not a copy
    assert reference is not None and reference.get("MDTYPE") == "PREMIS"
    assert reference.get(f"{{{NS['xlink']}}}href") == "metadata/premis.xml"
    group = root.find("mets:fileSec/mets:fileGrp", NS)
    assert group is not None and group.get("USE") == "original"
    pointer = root.find(".//mets:structMap[@TYPE='physical']//mets:fptr", NS)
    assert pointer is not None
    file_element = group.find("mets:file", NS)
    assert file_element is not None
    assert pointer.get("FILEID") == file_element.get("ID")


def test_the_identifier_appears_in_bag_info_dc_mets_and_premis(sample_bag: Path) -> None:
    assert dict(bag_info(sample_bag / "bag-info.txt"))["External-Identifier"] == "giant-step"
    dc = parse(sample_bag / "metadata" / "dc.xml")
    assert "giant-step" in [e.text for e in dc.iterfind("dc:identifier", NS)]
    assert parse(sample_bag / "metadata" / "mets.xml").getroot().get("OBJID") == "giant-step"
    premis = parse(sample_bag / "metadata" / "premis.xml")
    values = [e.text or "" for e in premis.iterfind(".//premis:objectIdentifierValue", NS)]
    assert "giant-step" in values
    assert "giant-step/data/a-giant-step-for-peace.txt" in values


def test_dublin_core_holds_the_record_with_its_date_normalised(sample_bag: Path) -> None:
    dc = parse(sample_bag / "metadata" / "dc.xml")
    record = json.loads(SAMPLE_RECORD.read_text(encoding="utf-8"))
    assert dc.findtext("dc:title", namespaces=NS) == record["title"]
    assert dc.findtext("dc:date", namespaces=NS) == "2018-06"
    assert [e.text for e in dc.iterfind("dc:subject", NS)] == record["subject"]
    assert dc.findtext("dc:format", namespaces=NS) == "text/plain"
    order = [etree.QName(e).localname for e in dc.getroot()]
    dcmes = [
        "title",
        "creator",
        "subject",
        "description",
        "publisher",
        "contributor",
        "date",
        "type",
        "format",
        "identifier",
        "source",
        "language",
        "relation",
        "coverage",
        "rights",
    ]
    assert order == sorted(order, key=dcmes.index)


def test_premis_records_the_texts_properties_and_its_pronom_format(
    sample_bag: Path, sample_copy: Path
) -> None:
    text = sample_copy.read_text(encoding="utf-8")
    obj = premis_files(parse(sample_bag / "metadata" / "premis.xml"))[
        "data/a-giant-step-for-peace.txt"
    ]
    properties = {
        p.findtext("premis:significantPropertiesType", namespaces=NS): p.findtext(
            "premis:significantPropertiesValue", namespaces=NS
        )
        for p in obj.iterfind("premis:significantProperties", NS)
    }
    assert properties["character encoding"] == "UTF-8"
    assert properties["line endings"] == "LF"
    assert properties["character count"] == str(len(text))
    assert obj.findtext(".//premis:formatRegistryKey", namespaces=NS) == "x-fmt/111"
    assert obj.findtext(".//premis:formatRegistryName", namespaces=NS) == "PRONOM"
    assert obj.findtext("premis:originalName", namespaces=NS) == "a-giant-step-for-peace.txt"


def _events(tree: etree._ElementTree) -> dict[str, etree._Element]:
    found = {}
    for event in tree.iterfind(".//premis:event", NS):
        kind = event.find("premis:eventType", NS)
        assert kind is not None
        found[kind.get("valueURI", "")] = event
    return found


def test_premis_events_use_loc_types_and_link_agents_and_objects(sample_bag: Path) -> None:
    tree = parse(sample_bag / "metadata" / "premis.xml")
    events = _events(tree)
    expected = {f"{LOC}eventType/{code}" for code in ("mes", "for", "val", "pac")}
    assert set(events) == expected
    agents = {
        a.findtext("premis:agentIdentifier/premis:agentIdentifierValue", namespaces=NS): a
        for a in tree.iterfind("premis:agent", NS)
    }
    objects = {e.text for e in tree.iterfind(".//premis:objectIdentifierValue", NS)}
    for event in events.values():
        assert event.findtext("premis:eventDateTime", namespaces=NS) == "2026-11-27T00:00:00Z"
        assert event.findtext(".//premis:eventOutcome", namespaces=NS) == "success"
        linked_agents = [
            e.text for e in event.iterfind(".//premis:linkingAgentIdentifierValue", NS)
        ]
        assert linked_agents and set(linked_agents) <= set(agents)
        linked_objects = [
            e.text for e in event.iterfind(".//premis:linkingObjectIdentifierValue", NS)
        ]
        assert linked_objects and set(linked_objects) <= objects
    kinds = {
        name: str(a.xpath("string(premis:agentType/@valueURI)", namespaces=NS))
        for name, a in agents.items()
    }
    software = [a for name, a in agents.items() if kinds[name] == f"{LOC}agentType/sof"]
    assert len(software) == 1
    assert software[0].findtext("premis:agentVersion", namespaces=NS)
    assert kinds["archiver sample collection"] == f"{LOC}agentType/org"


def test_a_source_that_is_not_utf8_is_bagged_and_its_validation_event_says_so(
    tmp_path: Path, cli: CliRunner
) -> None:
    source = tmp_path / "latin1.txt"
    source.write_bytes("Caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    run = cli("bag", source, "--out", tmp_path / "out", "--id", "latin")
    assert run.code == 0, run.err
    bag = tmp_path / "out" / "latin"
    assert (bag / "data" / "latin1.txt").read_bytes() == source.read_bytes()
    tree = parse(bag / "metadata" / "premis.xml")
    validation = _events(tree)[f"{LOC}eventType/val"]
    assert validation.findtext(".//premis:eventOutcome", namespaces=NS) == "failure"
    note = validation.findtext(".//premis:eventOutcomeDetailNote", namespaces=NS) or ""
    assert "not UTF-8" in note and "0xE9" in note
    obj = premis_files(tree)["data/latin1.txt"]
    assert obj.find("premis:significantProperties", NS) is None
    assert schema_valid(bag)


def schema_valid(bag: Path) -> bool:
    schema = parsing.preservation_schema()
    return all(
        schema.validate(parse(bag / "metadata" / n)) for n in ("dc.xml", "mets.xml", "premis.xml")
    )


def test_without_metadata_the_title_type_and_format_are_derived(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    run = cli("bag", sample_copy, "--out", tmp_path / "out", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert summary["metadata"]["dc"]["title"] == ["A giant step for peace"]
    assert summary["metadata"]["dc"]["type"] == ["Text"]
    assert summary["metadata"]["dc"]["format"] == ["text/plain"]
    assert summary["id"].startswith("a-giant-step-for-peace-")
    assert summary["metadata"]["dc"]["identifier"] == [summary["id"]]


def test_the_derived_identifier_is_stable_for_the_same_content(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    first = json.loads(cli("bag", sample_copy, "--out", tmp_path / "a", "--json").out)["id"]
    second = json.loads(cli("bag", sample_copy, "--out", tmp_path / "b", "--json").out)["id"]
    assert first == second
    changed = tmp_path / "other.txt"
    changed.write_bytes(sample_copy.read_bytes() + b"\n")
    third = json.loads(cli("bag", changed, "--out", tmp_path / "c", "--json").out)["id"]
    assert third != first and third.startswith("a-giant-step-for-peace-")


def test_the_json_summary_matches_its_schema(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    run = cli("bag", sample_copy, "--out", tmp_path / "out", "--metadata", SAMPLE_RECORD, "--json")
    assert run.code == 0, run.err
    validator(resources.json_schema("bag-result.schema.json")).validate(json.loads(run.out))


def test_bag_says_how_it_recorded_each_converted_date(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    record = tmp_path / "record.json"
    dates = ["Spring 2020", "circa 1990", "2018-06-15/2018-06-20"]
    record.write_text(json.dumps({"title": "Notes", "date": dates}), encoding="utf-8")
    run = cli("bag", sample_copy, "--out", tmp_path / "out", "--metadata", record, "--id", "n")
    assert run.code == 0, run.err
    assert run.out == f"{tmp_path / 'out' / 'n'}\n"  # stdout stays the path a script reads
    assert run.err.splitlines() == [
        '  note: date[0]: "Spring 2020" recorded as EDTF 2020-21 (spring 2020)',
        '  note: date[1]: "circa 1990" recorded as EDTF 1990~ (about 1990)',
    ]
    dc = parse(tmp_path / "out" / "n" / "metadata" / "dc.xml")
    assert [e.text for e in dc.getroot().iter(f"{{{NS['dc']}}}date")] == [
        "2020-21",
        "1990~",
        "2018-06-15/2018-06-20",
    ]
    again = cli("bag", sample_copy, "--out", tmp_path / "again", "--metadata", record, "--json")
    assert json.loads(again.out)["notes"] == [
        line[len("  note: ") :] for line in run.err.splitlines()
    ]


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resources(
        (name, Resource.from_contents(resources.json_schema(name)))
        for name in ("bag-result.schema.json", "validation-report.schema.json")
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_a_folder_source_keeps_relative_paths_and_odd_names_are_encoded(
    tmp_path: Path, cli: CliRunner
) -> None:
    source = make_source_tree(
        tmp_path / "src",
        {
            "chapter 1.txt": "one\n",
            "sub/50% off.txt": "two\n",
            "sub/deeper/new\nline.txt": "three\r\n",
            "sub/café.md": "# four\n",
        },
    )
    run = cli("bag", source, "--out", tmp_path / "out", "--id", "odd")
    assert run.code == 0, run.err
    bag = tmp_path / "out" / "odd"
    raw = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert "data/sub/50%25 off.txt" in raw
    assert "data/sub/deeper/new%0Aline.txt" in raw
    assert set(manifest(bag / "manifest-sha512.txt")) == {
        "data/chapter 1.txt",
        "data/sub/50% off.txt",
        "data/sub/deeper/new\nline.txt",
        "data/sub/café.md",
    }
    for rel in manifest(bag / "manifest-sha256.txt"):
        assert (bag / rel).read_bytes() == (source / rel.removeprefix("data/")).read_bytes()
    assert schema_valid(bag)
    files = mets_files(parse(bag / "metadata" / "mets.xml"))
    assert set(files) == set(manifest(bag / "manifest-sha256.txt"))


def test_a_plus_in_a_name_is_percent_encoded_in_mets_and_the_validator_reads_it_back(
    tmp_path: Path, cli: CliRunner
) -> None:
    # RFC 3986 allows a raw '+' in a path, but Archivematica's metsrw reads FLocat hrefs
    # with unquote_plus, which takes it for a space: 'a+b.txt' became 'a b.txt'.
    source = make_source_tree(tmp_path / "src", {"a+b.txt": "plus\n", "a b.txt": "space\n"})
    run = cli("bag", source, "--out", tmp_path / "out", "--id", "plus")
    assert run.code == 0, run.err
    bag = tmp_path / "out" / "plus"
    tree = parse(bag / "metadata" / "mets.xml")
    hrefs = sorted(
        str(location.get(f"{{{NS['xlink']}}}href"))
        for location in tree.iterfind(".//mets:FLocat", NS)
    )
    assert hrefs == ["data/a%20b.txt", "data/a%2Bb.txt"]
    assert sorted(map(unquote_plus, hrefs)) == ["data/a b.txt", "data/a+b.txt"]  # as metsrw
    report = validate_bag(bag)
    assert report.valid and not [f for f in report.findings if f.code.startswith("metadata.")]


def test_bagit_python_rejects_percent_names_because_of_its_own_bug(
    tmp_path: Path, cli: CliRunner
) -> None:
    # RFC 8493 §2.1.3: '%' MUST be written as %25. bagit-python 1.9 does not decode it
    # (LibraryOfCongress/bagit-python#157), so it cannot find such files: this test pins
    # down that the disagreement is bagit-python's, and only for such names.
    source = make_source_tree(tmp_path / "src", {"50% off.txt": "x"})
    assert cli("bag", source, "--out", tmp_path / "out", "--id", "pct").code == 0
    bag = tmp_path / "out" / "pct"
    assert cli("validate", bag).code == 0
    logging.getLogger("bagit").setLevel(logging.CRITICAL)
    with pytest.raises(bagit.BagValidationError, match=re.escape("50%25 off.txt")):
        bagit.Bag(str(bag)).validate()


def test_several_sources_land_side_by_side(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    folder = make_source_tree(tmp_path / "more", {"notes/a.txt": "a\n"})
    run = cli("bag", sample_copy, folder, "--out", tmp_path / "out", "--id", "two")
    assert run.code == 0, run.err
    assert set(manifest(tmp_path / "out" / "two" / "manifest-sha256.txt")) == {
        "data/a-giant-step-for-peace.txt",
        "data/notes/a.txt",
    }


def test_demo_bags_and_validates_the_bundled_sample(tmp_path: Path, cli: CliRunner) -> None:
    run = cli("demo", "--out", tmp_path / "demo")
    assert run.code == 0, run.err
    assert "a-giant-step-for-peace" in run.out and "valid" in run.out
    assert (
        tmp_path / "demo" / "a-giant-step-for-peace" / "data" / "a-giant-step-for-peace.txt"
    ).is_file()
    again = cli("demo", "--out", tmp_path / "demo", "--json")
    assert again.code == 2 and "already exists" in again.err
    forced = cli("demo", "--out", tmp_path / "demo", "--json", "--force")
    assert forced.code == 0
    summary = json.loads(forced.out)
    assert summary["validation"]["valid"] is True
    validator(resources.json_schema("bag-result.schema.json")).validate(summary)


def test_the_process_pool_path_gives_the_same_bag_as_one_worker(tmp_path: Path) -> None:
    from archiver.clock import Clock
    from archiver.packing import make_bag

    files: dict[str, bytes | str] = {
        f"d{i % 7}/f{i:03d}.txt": f"file {i}\n" * (i % 13) for i in range(150)
    }
    files["big.bin"] = os.urandom(9 << 20)  # above the split threshold: helper thread path
    source = make_source_tree(tmp_path / "src", files)
    clock = Clock.from_epoch(BAGS_EPOCH)
    one = make_bag([source], tmp_path / "one", bag_id="b", clock=clock, workers=1)
    two = make_bag([source], tmp_path / "two", bag_id="b", clock=clock, workers=2)
    from tests.conftest import snapshot

    assert snapshot(one.path) == snapshot(two.path)
    assert len(manifest(two.path / "manifest-sha256.txt")) == 151
    shutil.rmtree(tmp_path / "one")


def test_mets_and_premis_are_what_their_builders_write_and_the_tag_manifests_digest_them(
    tmp_path: Path,
) -> None:
    """Streamed through the tag writer (digested on the way), each document is the bytes its
    builder gives on its own, and the tag manifest holds the digest of those very bytes."""
    from io import BytesIO

    from archiver import packing
    from archiver.clock import Clock
    from archiver.xml import mets, premis

    files: dict[str, bytes | str] = {f"t/{i:04d}.txt": f"text {i} ☕\n" for i in range(300)}
    files.update({f"b/{i:04d}.bin": b"\xff\x00" * (i + 1) for i in range(300)})  # not text
    source = make_source_tree(tmp_path / "src", files)
    clock = Clock.from_epoch(BAGS_EPOCH)
    result = packing.make_bag([source], tmp_path / "out", bag_id="p", clock=clock)
    alone = {"premis.xml": BytesIO(), "mets.xml": BytesIO()}
    premis.write(alone["premis.xml"], result.provenance)
    software = packing.software_agent()
    mets.write(alone["mets.xml"], "p", result.record, result.provenance, software, clock.now())
    tags = manifest(result.path / "tagmanifest-sha512.txt")
    for name, output in alone.items():
        written = (result.path / "metadata" / name).read_bytes()
        assert written == output.getvalue(), name
        assert tags[f"metadata/{name}"] == hashlib.sha512(written).hexdigest()
    assert schema_valid(result.path)


def test_premis_written_on_a_worker_is_what_this_process_writes(tmp_path: Path) -> None:
    """From 256 files on, PREMIS is written on a second core while METS is written here:
    the bag is byte for byte the one a single process makes, and a caller's executor is
    used instead of a worker when one is given."""
    from concurrent.futures import ThreadPoolExecutor

    from archiver import packing
    from archiver.clock import Clock
    from tests.conftest import snapshot

    files: dict[str, bytes | str] = {f"t/{i:04d}.txt": f"text {i}\n" for i in range(300)}
    source = make_source_tree(tmp_path / "src", files)
    clock = Clock.from_epoch(BAGS_EPOCH)
    here = packing.make_bag([source], tmp_path / "here", bag_id="p", clock=clock, workers=1)
    beside = packing.make_bag([source], tmp_path / "beside", bag_id="p", clock=clock, workers=2)
    with ThreadPoolExecutor(2) as executor:
        threads = packing.make_bag(
            [source], tmp_path / "threads", bag_id="p", clock=clock, executor=executor
        )
    assert snapshot(beside.path) == snapshot(here.path) == snapshot(threads.path)
    assert schema_valid(beside.path)
