"""Bags built to a BagIt profile (issue 14): bag --profile/--algorithm/--tag, batch
--profile; what cannot be met is refused before anything is written."""

from __future__ import annotations

import csv
import json
import logging
import tarfile
from pathlib import Path

import bagit
import pytest

from archiver.validation import validate_bag
from tests.conftest import REPO, CliRunner, make_source_tree, snapshot

APTRUST = REPO / "schemas" / "bagit-profiles" / "aptrust-v2.3.dart-format.json"
ACCESS = ("--profile", str(APTRUST), "--tag", "aptrust-info.txt/Access=Institution")
APTRUST_ID = json.loads(APTRUST.read_text())["bagItProfileInfo"]["bagItProfileIdentifier"]


@pytest.fixture(autouse=True)
def _quiet_bagit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bagit")


def source(tmp_path: Path) -> Path:
    return make_source_tree(
        tmp_path / "src", {"report.txt": "Annual report\n\nAll is well.\n", "fig.csv": "a,b\n"}
    )


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_a_bag_built_to_aptrust_s_profile_validates_by_it_and_exports_to_aptrust(
    tmp_path: Path, cli: CliRunner
) -> None:
    run = cli(
        "bag", source(tmp_path), "--out", tmp_path / "out", "--id", "test.edu.report",
        "--profile", APTRUST,
        "--tag", "aptrust-info.txt/Access=institution",
        "--serialize", "tar",
    )  # fmt: skip
    assert run.code == 0, run.err
    archive = tmp_path / "out" / "test.edu.report.tar"
    report = validate_bag(archive, profile=APTRUST)
    assert report.valid, report.findings
    assert [f.code for f in report.findings if f.severity != "info"] == []
    with tarfile.open(archive) as opened:
        opened.extractall(tmp_path / "x", filter="data")
    bag = tmp_path / "x" / "test.edu.report"
    bagit.Bag(str(bag)).validate()
    assert sorted(p.name for p in bag.glob("*manifest-*")) == [
        "manifest-md5.txt",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-md5.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sha512.txt",
    ]
    assert lines(bag / "aptrust-info.txt") == [
        "Title: src",  # the record's dc:title (derived: a payload of two files, its folder)
        "Access: Institution",  # as the profile spells it
        "Storage-Option: Standard",  # the profile's default
    ]
    assert f"BagIt-Profile-Identifier: {APTRUST_ID}" in lines(bag / "bag-info.txt")
    exported = cli("export", archive, "--to", "aptrust", "--out", tmp_path / "test.edu.again.tar")
    assert exported.code == 0, exported.out + exported.err


def test_what_a_profile_requires_and_is_not_given_is_refused_before_anything_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    src = source(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (("--profile", APTRUST), "aptrust-info.txt/Access: the profile requires it"),
        (
            ("--profile", APTRUST, "--tag", "aptrust-info.txt/Access=Public"),
            "'Public' is not one of Consortia, Institution, Restricted",
        ),
        (
            (*ACCESS, "--algorithm", "sha1"),
            "requires md5 manifests too",
        ),
        (("--algorithm", "md5"), "requires sha256, sha512 manifests too"),  # our own profile
        # a value given by hand follows a record's bag-info rules, in any tag file
        (("--tag", "bag-info.txt/X-Note=a\x1bb"), "bag-info.txt/X-Note: contains a control"),
        ((*ACCESS, "--tag", "aptrust-info.txt/Description=a\x00b"), "contains a control"),
    ]  # fmt: skip
    for options, message in cases:
        run = cli("bag", src, "--out", out, "--id", "x", *options)
        assert run.code == 2, options
        assert message in run.err, (options, run.err)
        assert snapshot(out) == {}


def test_manifests_as_chosen_and_tags_without_a_profile(tmp_path: Path, cli: CliRunner) -> None:
    run = cli(
        "bag", source(tmp_path), "--out", tmp_path / "out", "--id", "b",
        "--profile", APTRUST, "--tag", "aptrust-info.txt/Access=Consortia", "--algorithm", "md5",
    )  # fmt: skip
    assert run.code == 0, run.err
    bag = tmp_path / "out" / "b"
    assert sorted(p.name for p in bag.glob("*manifest-*")) == [
        "manifest-md5.txt",
        "tagmanifest-md5.txt",
    ]
    assert validate_bag(bag).valid  # METS and PREMIS still hold SHA-256 and SHA-512
    run = cli(
        "bag", source(tmp_path), "--out", tmp_path / "out", "--id", "c",
        "--tag", "bag-info.txt/Source-Organization=County Archive",
        "--tag", "notes/provenance.txt/Received-From=A donor",
    )  # fmt: skip
    assert run.code == 0, run.err
    bag = tmp_path / "out" / "c"
    assert "Source-Organization: County Archive" in lines(bag / "bag-info.txt")
    assert lines(bag / "notes" / "provenance.txt") == ["Received-From: A donor"]
    assert validate_bag(bag).valid  # archiver's own profile still names it, and holds
    bagit.Bag(str(bag)).validate()


def test_a_profiles_algorithm_names_are_read_as_rfc_8493_normalises_them(
    tmp_path: Path, cli: CliRunner
) -> None:
    # RFC 8493 §2.4: "SHA-512" and "sha512" are one algorithm; the profile check reads them
    # so, and so does the bag made to the profile.
    document = json.loads(APTRUST.read_text(encoding="utf-8"))
    document["manifestsRequired"] = ["MD5", "SHA-512"]
    document["manifestsAllowed"] = ["MD5", "SHA-256", "SHA-512"]
    document["tagManifestsRequired"] = ["SHA-256"]
    profile = tmp_path / "spelled.json"
    profile.write_text(json.dumps(document), encoding="utf-8")
    run = cli(
        "bag", source(tmp_path), "--out", tmp_path / "out", "--id", "b", "--serialize", "tar",
        "--profile", profile, "--tag", "aptrust-info.txt/Access=Institution",
    )  # fmt: skip
    assert run.code == 0, run.err
    with tarfile.open(tmp_path / "out" / "b.tar") as tar:
        names = sorted(n.removeprefix("b/") for n in tar.getnames() if "manifest-" in n)
    assert names == [
        "manifest-md5.txt", "manifest-sha256.txt", "manifest-sha512.txt",
        "tagmanifest-md5.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt",
    ]  # fmt: skip
    run = cli("validate", "--profile", profile, tmp_path / "out" / "b.tar")
    assert run.code == 0, run.out + run.err


def test_a_batch_built_to_a_profile_checks_each_row_against_it_first(
    tmp_path: Path, cli: CliRunner
) -> None:
    roots = tmp_path / "data"
    for name in ("a", "b", "c"):
        make_source_tree(roots / name, {f"{name}.txt": f"text {name}\n"})
    sheet = tmp_path / "jobs.csv"
    with open(sheet, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["Bag-Name", "Root-Directory", "aptrust-info.txt/Title", "aptrust-info.txt/Access"],
                ["test.edu.a", str(roots / "a"), "Item A", "Institution"],
                ["test.edu.b", str(roots / "b"), "Item B", ""],  # Access missing
                ["test.edu.c", str(roots / "c"), "Item C", "Restricted"],
            ]
        )
    collection = tmp_path / "collection"
    run = cli("batch", sheet, "--out", collection, "--root", roots, "--profile", APTRUST, "--json")
    assert run.code == 1, run.err
    result = json.loads(run.out)
    assert [(p["row"], p["column"]) for p in result["problems"]] == [(3, "aptrust-info.txt/Access")]
    assert sorted(p.name for p in collection.iterdir() if not p.name.startswith(".")) == [
        "test.edu.a",
        "test.edu.c",
    ]
    bag = collection / "test.edu.c"
    assert lines(bag / "aptrust-info.txt") == [
        "Title: Item C",
        "Access: Restricted",
        "Storage-Option: Standard",
    ]
    report = validate_bag(bag, profile=APTRUST)
    # a folder: only APTrust's rule that a bag travels as a tar is not met
    assert {f.code for f in report.findings if f.severity == "error"} <= {
        "profile.serialization.required"
    }
    bad = cli("batch", sheet, "--out", collection, "--profile", APTRUST, "--algorithm", "sha1")
    assert bad.code == 2 and "requires md5 manifests too" in bad.err
