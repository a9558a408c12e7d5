"""Fault injection for bagging: ``archiver bag`` killed (-9) at every point where a crash
matters -- mid-copy, before the flush, before and after the rename or the --force
exchange, while the replaced bag is removed.

After each: no process of the run is left (kill_at checks), nothing half-made carries the
bag's name, the old bag of a --force run is whole (byte for byte) until the new one has
taken its place, and the next run completes and removes the dead run's partial folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.staging import PARTIAL_PREFIX
from archiver.validation import validate_bag
from tests.conftest import make_source_tree, snapshot
from tests.faults import kill_at

BIG = 3 << 20  # three chunks of the copy: killed after the first, the file is a third there


def _bag(source: Path, out: Path, bag_id: str, *options: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "archiver", "bag", source, "--out", out, "--id", bag_id, *options],
        capture_output=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")


def _partials(out: Path) -> list[str]:
    return [name for name in os.listdir(out) if name.startswith(PARTIAL_PREFIX)]


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    """An old and a new version of a source: a big file (copied in chunks) and a small one."""
    old = make_source_tree(tmp_path / "old", {"big.bin": b"o" * BIG, "note.txt": "old\n"})
    new = make_source_tree(tmp_path / "new", {"big.bin": b"n" * BIG, "note.txt": "new\n"})
    return old, new


def test_a_bag_killed_mid_copy_leaves_nothing_named_and_the_next_run_cleans_up(
    tmp_path: Path, sources: tuple[Path, Path]
) -> None:
    _, new = sources
    out = tmp_path / "out"
    kill_at(
        "hashing.chunk-written:2",
        "bag",
        new,
        "--out",
        out,
        "--id",
        "b",
        "--processes",
        "1",
        tmp=tmp_path,
    )
    assert os.listdir(out) == _partials(out) != []  # the half-copied file, hidden
    (partial,) = _partials(out)
    assert 0 < (out / partial / "data" / "big.bin").stat().st_size < BIG
    _bag(new, out, "b")
    assert os.listdir(out) == ["b"]
    assert validate_bag(out / "b").valid


@pytest.mark.parametrize("point", ["staging.before-sync", "staging.before-rename"])
def test_a_new_bag_killed_before_its_rename_never_appears(
    tmp_path: Path, sources: tuple[Path, Path], point: str
) -> None:
    _, new = sources
    out = tmp_path / "out"
    kill_at(point, "bag", new, "--out", out, "--id", "b", tmp=tmp_path)
    assert os.listdir(out) == _partials(out) != []
    _bag(new, out, "b")
    assert os.listdir(out) == ["b"]


@pytest.mark.parametrize(
    "point",
    [
        "hashing.chunk-written:2",
        "staging.before-sync",
        "staging.before-rename",
        "staging.after-rename",
        "staging.before-cleanup",
    ],
)
def test_force_killed_anywhere_leaves_the_old_bag_or_the_new_one_whole(
    tmp_path: Path, sources: tuple[Path, Path], point: str
) -> None:
    old, new = sources
    out = tmp_path / "out"
    _bag(old, out, "b")
    before = snapshot(out / "b")
    kill_at(
        point, "bag", new, "--out", out, "--id", "b", "--force", "--processes", "1", tmp=tmp_path
    )
    assert sorted(name for name in os.listdir(out) if not name.startswith(".")) == ["b"]
    swapped = point in ("staging.after-rename", "staging.before-cleanup")
    if swapped:  # the exchange was done: the new bag is in place, the old one hidden
        assert (out / "b" / "data" / "note.txt").read_text() == "new\n"
        assert validate_bag(out / "b").valid
        (partial,) = _partials(out)
        assert (out / partial / "data" / "note.txt").read_text() == "old\n"
    else:
        assert snapshot(out / "b") == before
    assert _partials(out) != []
    _bag(new, out, "b", "--force")
    assert os.listdir(out) == ["b"]  # the dead run's partial folder is gone
    assert (out / "b" / "data" / "note.txt").read_text() == "new\n"
    assert validate_bag(out / "b").valid
