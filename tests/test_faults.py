"""Fault injection: archiver killed (-9) at named points leaves nothing it cannot recover."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver.validation import validate_bag
from tests.conftest import listing, make_source_tree
from tests.faults import kill_at

MANY: dict[str, bytes | str] = {f"d{i % 8}/f{i:03d}.txt": f"text {i}\n" for i in range(80)}


@pytest.mark.parametrize(
    "point", ["hashing.result:40", "staging.before-rename", "staging.after-rename"]
)
def test_bag_killed_anywhere_leaves_no_process_and_the_next_bag_succeeds(
    tmp_path: Path, point: str
) -> None:
    source = make_source_tree(tmp_path / "src", MANY)
    out = tmp_path / "out"
    kill_at(point, "bag", source, "--out", out, "--id", "b", tmp=tmp_path)
    bags = [name for name in os.listdir(out) if not name.startswith(".")]
    if point == "staging.after-rename":
        assert bags == ["b"] and validate_bag(out / "b").valid  # whole, though unannounced
    else:
        assert bags == []  # nothing half-made under its name
    again = kill_free_bag(source, out, "c")
    assert again == 0
    assert not any(name.startswith(".archiver-partial-") for name in os.listdir(out)), listing(out)
    assert validate_bag(out / "c").valid


def kill_free_bag(source: Path, out: Path, bag_id: str) -> int:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "archiver", "bag", source, "--out", out, "--id", bag_id],
        capture_output=True,
        check=False,
    ).returncode


def test_a_worker_killed_mid_copy_is_one_line_and_nothing_is_left(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = make_source_tree(tmp_path / "src", MANY)
    out = tmp_path / "out"
    mark = tmp_path / "mark"
    run = subprocess.run(
        [sys.executable, "-m", "archiver", "bag", source, "--out", out, "--id", "b"],
        env={
            **os.environ,
            "ARCHIVER_FAULT": "writer.worker-copy:3",
            "ARCHIVER_FAULT_MARK": str(mark),
        },
        capture_output=True,
        check=False,
    )
    err = run.stderr.decode()
    assert mark.read_text() == "writer.worker-copy"
    assert run.returncode == 2, err
    assert err.count("\n") == 1 and "worker process died" in err and "Traceback" not in err
    assert os.listdir(out) == []
