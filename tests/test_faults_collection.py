"""Fault injection on the collection: ``audit``, ``withdraw`` and ``ingest`` killed (-9) at
named points leave no process, no lock and no half-made record, and the next run completes
(issue 10: items 1 and 3, and the fault-injection acceptance)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from archiver.clock import Clock
from archiver.packing import make_bag
from tests.conftest import BAGS_EPOCH, make_source_tree
from tests.faults import kill_at

ENV = {**os.environ, "SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}


def archiver(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """``archiver ARGS`` in a child of its own, as an operator would run it next."""
    return subprocess.run(
        [sys.executable, "-m", "archiver", *(os.fspath(a) for a in args)],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )


def small_collection(root: Path, bags: int = 3, files: int = 3) -> Path:
    collection = root / "collection"
    for number in range(bags):
        source = make_source_tree(
            root / "sources" / f"b{number}",
            {f"f{i:03d}.txt": f"file {i} of bag {number}\n" for i in range(files)},
        )
        make_bag(
            [source], collection, bag_id=f"b{number}", clock=Clock.from_epoch(BAGS_EPOCH), workers=1
        )
    return collection


# -- the ledger is made whole ----------------------------------------------------------------


def test_the_first_audit_killed_before_its_ledger_is_in_place_leaves_no_ledger_to_refuse(
    tmp_path: Path,
) -> None:
    collection = small_collection(tmp_path)
    records = collection / ".archiver"
    kill_at("store.create-before-rename", "audit", collection, tmp=tmp_path)
    assert not (records / "ledger.sqlite").exists()  # nothing half-made under its name
    again = archiver("audit", collection)
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(records)) == ["ledger.sqlite", "ledger.sqlite.lock"]  # no litter
