"""archiver export, whatever the target: the JSON result, refusals common to all targets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archiver import resources
from archiver.codes import CATALOGUE
from archiver.errors import ExportRefusedError, SourceError
from archiver.export.base import TARGETS
from archiver.export.source import read_source
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, listing, snapshot, write_tree
from tests.corrupt import flip_byte
from tests.test_packing import validator

SAMPLE_BAG = REPO / "bags" / "a-giant-step-for-peace"
OUT_NAMES = {
    "dspace-saf": "saf",
    "archivematica": "transfer.zip",
    "ocfl": "root",
    "aptrust": "giant-step.tar",
}


# the target's name in its finding codes: export.<this>.*
TARGET_CODES = {
    "dspace-saf": "dspace",
    "archivematica": "archivematica",
    "ocfl": "ocfl",
    "aptrust": "aptrust",
}


def test_every_target_has_an_out_name_here() -> None:
    assert set(OUT_NAMES) == set(TARGETS) == set(TARGET_CODES)


def test_every_target_has_export_codes_in_the_catalogue() -> None:
    for target in TARGET_CODES.values():
        codes = [code for code in CATALOGUE if code.startswith(f"export.{target}.")]
        assert codes, target
        for code in codes:
            rule = CATALOGUE[code].rule
            assert rule.split()[0] in {"DSpace", "Archivematica", "APTrust", "OCFL"}, rule


@pytest.mark.parametrize("target", sorted(OUT_NAMES))
def test_the_json_result_matches_its_schema(tmp_path: Path, cli: CliRunner, target: str) -> None:
    out = tmp_path / OUT_NAMES[target]
    run = cli("export", SAMPLE_BAG, "--to", target, "--out", out, "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    validator(resources.json_schema("export-result.schema.json")).validate(result)
    assert result["target"] == target
    assert result["valid"] is True
    # Every rule held is listed by its catalogue code, each code named after its target's
    # rule (or the package's agreement with the source bag); nothing is prose.
    assert result["checks"]
    for code in result["checks"]:
        assert code in CATALOGUE
        assert code.startswith((f"export.{TARGET_CODES[target]}.", "export.source."))
    assert all(f["code"] in CATALOGUE and f["severity"] != "error" for f in result["findings"])
    package = Path(result["path"])
    assert package.exists()
    assert package == out or out in package.parents  # OCFL: the object inside the root
    # nothing left behind: no staging folders beside the package
    assert [p for p in listing(tmp_path) if Path(p).name.startswith(".")] == []


@pytest.mark.parametrize("target", sorted(OUT_NAMES))
def test_every_target_takes_a_repeated_label_and_names_with_a_no_break_space_or_a_plus(
    tmp_path: Path, cli: CliRunner, target: str
) -> None:
    # What each target's own code takes (issue 11): a label given twice keeps both values;
    # U+00A0 is no control character to APTrust (Go's unicode.IsControl); '+' is %2B in
    # the METS every package carries.
    names = ["nb\u00a0sp.txt", "a+b.txt"]
    source = write_tree(tmp_path / "src", {name: f"{name}\n" for name in names})
    record = tmp_path / "record.json"
    record.write_text(
        json.dumps({"title": "Odd names", "bag-info": {"Contact-Email": ["a@x.org", "b@x.org"]}})
    )
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "odd", "--metadata", record)
    assert run.code == 0, run.err
    out = tmp_path / OUT_NAMES[target]
    run = cli("export", tmp_path / "bags" / "odd", "--to", target, "--out", out, "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["valid"] is True
    assert not [f for f in result["findings"] if f["severity"] != "info"]


@pytest.mark.parametrize("target", sorted(OUT_NAMES))
def test_an_invalid_bag_is_refused_with_its_report_for_every_target(
    tmp_path: Path, cli: CliRunner, target: str
) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    flip_byte(bag / "data" / "a-giant-step-for-peace.txt", 10)
    exports = tmp_path / "exports"
    exports.mkdir()
    run = cli("export", bag, "--to", target, "--out", exports / OUT_NAMES[target], "--json")
    assert run.code == 1
    report = json.loads(run.out)
    assert report["valid"] is False
    codes = {f["code"] for f in report["bags"][0]["findings"]}
    assert "bag.payload.checksum-mismatch" in codes
    assert "nothing exported" in run.err
    assert listing(exports) == []


@pytest.mark.parametrize("target", sorted(OUT_NAMES))
@pytest.mark.parametrize("where", ["data", "top", "the-bag", "through-a-link"])
def test_a_package_is_never_written_inside_the_bag_it_is_made_from(
    tmp_path: Path, cli: CliRunner, target: str, where: str
) -> None:
    """The source bag is only read: an --out inside it (or through a link to it) is exit 2,
    and the bag stays as it was (an OCFL root there made the bag invalid)."""
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    (tmp_path / "link").symlink_to(bag, target_is_directory=True)
    out = {
        "data": bag / "data" / OUT_NAMES[target],
        "top": bag / OUT_NAMES[target],
        "the-bag": bag,
        "through-a-link": tmp_path / "link" / OUT_NAMES[target],
    }[where]
    before = snapshot(bag)
    run = cli("export", bag, "--to", target, "--out", out)
    assert run.code == 2, run.err
    assert "cannot be written inside the bag being exported" in run.err or (
        where == "the-bag" and "already exists" in run.err
    )
    assert snapshot(bag) == before


def test_an_unknown_target_is_a_usage_error(tmp_path: Path, cli: CliRunner) -> None:
    with pytest.raises(SystemExit) as caught:
        cli("export", SAMPLE_BAG, "--to", "fedora3", "--out", tmp_path / "x")
    assert caught.value.code == 2
    assert listing(tmp_path) == []


def test_a_metadata_file_changed_since_validation_is_refused_not_exported(
    tmp_path: Path,
) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    source = read_source(bag)
    assert source.metadata == ("metadata/dc.xml", "metadata/mets.xml", "metadata/premis.xml")
    assert source.metadata_file("metadata/dc.xml") == (bag / "metadata" / "dc.xml").read_bytes()
    flip_byte(bag / "metadata" / "dc.xml", 60)
    with pytest.raises(SourceError, match=r"dc\.xml: sha256 is .* it changed since"):
        source.metadata_file("metadata/dc.xml")


def test_export_bag_is_public_and_takes_plain_strings(tmp_path: Path) -> None:
    import archiver
    from archiver import export

    assert archiver.export_bag is export.export_bag
    result = archiver.export_bag(
        str(SAMPLE_BAG),
        to="dspace-saf",
        out=str(tmp_path / "saf"),
        clock=archiver.Clock.from_epoch(BAGS_EPOCH),
    )
    assert isinstance(result, archiver.ExportResult)
    assert (result.target, result.path, result.valid) == ("dspace-saf", tmp_path / "saf", True)
    assert "export.dspace.contents" in result.checks
    # A profile is given as a file (either format) and read once, for a package that is a bag.
    profile = REPO / "schemas" / "bagit-profiles" / "aptrust-v2.3.dart-format.json"
    tarred = export.export_bag(
        SAMPLE_BAG, to="aptrust", out=tmp_path / "example.edu.giant.tar", profile=str(profile)
    )
    assert "export.profile" in tarred.checks
    with pytest.raises(ExportRefusedError, match="does not apply to a DSpace"):
        export.export_bag(SAMPLE_BAG, to="dspace-saf", out=tmp_path / "saf2", profile=profile)
