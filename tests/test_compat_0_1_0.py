"""Bags written by archiver 0.1.0 (tests/data/archiver-0.1.0, made with the 0.1.0 code) stay
first-class: they validate without errors, are audited, served over OAI-PMH and exported with
the same content as a bag made now from the same files and record."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, CliRunner, iter_findings, snapshot
from tests.oai_helpers import NS, PREFIX, Repo, header_ids, moment

OLD = REPO / "tests" / "data" / "archiver-0.1.0"
BAGS = ("a-giant-step-for-peace", "nested-ten")
NOW = moment("2027-01-01T00:00:00Z")


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "collection"
    for name in BAGS:
        shutil.copytree(OLD / name, root / name, symlinks=True)
    return root


def test_the_bags_are_what_0_1_0_wrote() -> None:
    for name in BAGS:
        agent = (OLD / name / "bag-info.txt").read_text(encoding="utf-8")
        assert "Bag-Software-Agent: archiver 0.1.0\n" in agent


def test_bags_written_by_0_1_0_validate_without_errors(cli: CliRunner, collection: Path) -> None:
    run = cli("validate", "--json", *(collection / name for name in BAGS))
    assert run.code == 0, run.out
    report = json.loads(run.out)
    assert len(report["bags"]) == len(BAGS)
    errors = [f for f in iter_findings(report) if f["severity"] == "error"]
    assert errors == []


def test_bags_written_by_0_1_0_are_audited(cli: CliRunner, collection: Path) -> None:
    first = cli("audit", collection)
    assert first.code == 0, first.out + first.err
    again = cli("audit", collection)  # now against the ledger's record of them
    assert again.code == 0, again.out + again.err


def test_bags_written_by_0_1_0_are_served_over_oai_pmh(collection: Path) -> None:
    repo = Repo(collection, NOW, page_size=len(BAGS))
    try:
        for prefix in ("oai_dc", "mets", "premis"):
            listed = repo.ask(f"verb=ListRecords&metadataPrefix={prefix}")  # schema-valid
            assert sorted(header_ids(listed)) == [PREFIX + name for name in BAGS]
            for name in BAGS:
                record = repo.ask(
                    f"verb=GetRecord&identifier={PREFIX}{name}&metadataPrefix={prefix}"
                )
                assert record.find(".//o:metadata", NS) is not None
    finally:
        repo.close()


def test_a_0_1_0_bag_exports_with_the_content_of_a_bag_made_now(
    cli: CliRunner, tmp_path: Path
) -> None:
    old = shutil.copytree(OLD / "nested-ten", tmp_path / "old" / "nested-ten")
    made = cli(
        "bag",
        old / "data",
        "--out",
        tmp_path / "new",
        "--metadata",
        OLD / "nested-ten.record.json",
        "--id",
        "nested-ten",
    )
    assert made.code == 0, made.err
    new = tmp_path / "new" / "nested-ten"
    payload = {k: v for k, v in snapshot(new).items() if k.startswith("data/")}
    assert payload == {k: v for k, v in snapshot(old).items() if k.startswith("data/")}
    exported = {}
    for label, bag in (("old", old), ("new", new)):
        run = cli("export", bag, "--to", "dspace-saf", "--out", tmp_path / f"saf-{label}")
        assert run.code == 0, run.out + run.err
        exported[label] = {
            # The provenance names the software that wrote each bag, as it should.
            path: re.sub(rb"Bag-Software-Agent: archiver [0-9.]+", b"", data)
            for path, data in snapshot(tmp_path / f"saf-{label}").items()
            # the bag's own METS and PREMIS travel with it, each in its own layout
            if not path.endswith(("mets.xml", "premis.xml"))
        }
    assert exported["old"] == exported["new"]
