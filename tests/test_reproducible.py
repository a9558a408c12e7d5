"""Same inputs and SOURCE_DATE_EPOCH -> byte-identical bags; sources never touched."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import bagit

from tests.conftest import BAGS_EPOCH, REPO, SAMPLE_RECORD, CliRunner, make_source_tree, snapshot

COMMITTED = REPO / "bags" / "a-giant-step-for-peace"


def test_two_runs_with_the_same_inputs_and_epoch_give_identical_bags(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    for out in ("first", "second"):
        run = cli(
            "bag", sample_copy, "--out", tmp_path / out, "--metadata", SAMPLE_RECORD, "--id", "same"
        )
        assert run.code == 0, run.err
    first, second = tmp_path / "first" / "same", tmp_path / "second" / "same"
    assert snapshot(first) == snapshot(second)
    assert sorted(snapshot(first)) == sorted(snapshot(second))


def test_tag_files_carry_the_epoch_as_their_time_and_payload_keeps_the_sources(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    os.utime(sample_copy, ns=(1_500_000_000 * 10**9, 1_529_000_000 * 10**9))
    assert cli("bag", sample_copy, "--out", tmp_path, "--id", "times").code == 0
    bag = tmp_path / "times"
    for name in (
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "metadata/mets.xml",
        "metadata",
    ):
        assert (bag / name).stat().st_mtime == BAGS_EPOCH, name
    assert (bag / "data" / sample_copy.name).stat().st_mtime_ns == 1_529_000_000 * 10**9


def test_a_different_epoch_changes_only_dates_not_the_payload(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    assert cli("bag", sample_copy, "--out", tmp_path / "a", "--id", "x").code == 0
    assert (
        cli("bag", sample_copy, "--out", tmp_path / "b", "--id", "x", epoch=BAGS_EPOCH + 86400).code
        == 0
    )
    a, b = snapshot(tmp_path / "a" / "x"), snapshot(tmp_path / "b" / "x")
    assert a["data/a-giant-step-for-peace.txt"] == b["data/a-giant-step-for-peace.txt"]
    assert a["manifest-sha512.txt"] == b["manifest-sha512.txt"]
    assert a["bag-info.txt"] != b["bag-info.txt"]
    assert b"Bagging-Date: 2026-11-28" in b["bag-info.txt"]


def test_bagging_leaves_the_sources_bytes_and_times_unchanged(
    tmp_path: Path, cli: CliRunner
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "alpha\n", "deep/b.bin": b"\x00\x01\x02"})
    before = {
        p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
        for p in source.rglob("*")
        if p.is_file()
    }
    assert cli("bag", source, "--out", tmp_path / "out", "--id", "s").code == 0
    after = {
        p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
        for p in source.rglob("*")
        if p.is_file()
    }
    assert after == before
    assert sorted(p.name for p in source.rglob("*")) == ["a.txt", "b.bin", "deep"]


def test_the_committed_sample_bag_is_exactly_what_demo_makes_today(
    tmp_path: Path, cli: CliRunner
) -> None:
    run = cli("demo", "--out", tmp_path, epoch=BAGS_EPOCH)
    assert run.code == 0, run.err
    assert snapshot(tmp_path / "a-giant-step-for-peace") == snapshot(COMMITTED)


def test_loc_bagit_python_and_archiver_both_validate_the_committed_bag(cli: CliRunner) -> None:
    logging.getLogger("bagit").setLevel(logging.ERROR)
    bag = bagit.Bag(str(COMMITTED))
    bag.validate()
    assert bag.is_valid()
    run = cli("validate", COMMITTED)
    assert run.code == 0, run.out + run.err
    assert "valid (0 errors, 0 warnings)" in run.out
