"""Fault injection on the collection: ``audit``, ``withdraw`` and ``ingest`` killed (-9) at
named points leave no process, no lock and no half-made record, and the next run completes
(issue 10: items 1 and 3, and the fault-injection acceptance)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from archiver import faults
from tests.conftest import BAGS_EPOCH, CliRunner, small_collection
from tests.corrupt import flip_byte
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


# -- audit -----------------------------------------------------------------------------------


def lock_is_free(lock: Path) -> bool:
    """Whether another process could take the audit's lock now (asked from this process)."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # and with it the lock this probe took
    return True


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, int, int, list[str]]]:
    return {
        bag["id"]: (bag["status"], bag["files"], bag["bytes"], [f["code"] for f in bag["findings"]])
        for bag in report["bags"]
    }


@pytest.mark.parametrize(
    "point",
    [
        "auditing.batch-hashed:3",  # mid-run: digests in hand, not yet recorded
        "auditing.bag-recorded:2",  # mid-run: two bags recorded
        "store.ledger.before-commit:9",  # mid-ledger write: a transaction not yet committed
    ],
)
def test_an_audit_killed_mid_run_holds_no_lock_and_the_next_one_resumes_it_to_the_same_verdicts(
    tmp_path: Path, point: str
) -> None:
    collection = small_collection(tmp_path, bags=4, files=70)  # two hashing batches a bag
    flip_byte(collection / "b2" / "data" / "f033.txt")
    twin = tmp_path / "twin"
    shutil.copytree(collection, twin)
    kill_at(point, "audit", collection, "--workers", "2", tmp=tmp_path)
    records = collection / ".archiver"
    assert lock_is_free(records / "ledger.sqlite.lock")
    with closing(sqlite3.connect(records / "ledger.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    resumed = archiver("audit", collection, "--workers", "2", "--json")
    assert resumed.returncode == 1, resumed.stderr  # b2 is damaged, and only b2
    report = json.loads(resumed.stdout)
    assert report["resumed"] and report["run"] == 1
    alone = archiver("audit", twin, "--workers", "2", "--json")
    assert verdicts(report) == verdicts(json.loads(alone.stdout))
    assert lock_is_free(records / "ledger.sqlite.lock")


# -- ingest ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [
        "hashing.result:45",  # mid-copy: the foreign bag validated, its payload half copied
        "staging.before-rename",
        "staging.after-rename",
    ],
)
def test_an_ingest_killed_anywhere_leaves_a_valid_collection_and_the_next_ingest_completes(
    tmp_path: Path, point: str
) -> None:
    collection = small_collection(tmp_path, bags=1)
    foreign = small_collection(tmp_path / "elsewhere", bags=1, files=80) / "b0"
    kill_at(point, "ingest", foreign, "--out", collection, "--id", "new", tmp=tmp_path)
    committed = point == "staging.after-rename"
    bags = sorted(name for name in os.listdir(collection) if not name.startswith("."))
    assert bags == (["b0", "new"] if committed else ["b0"])  # nothing half-made under a name
    audited = archiver("audit", collection, "--json")
    assert audited.returncode == 0, audited.stdout  # every bag in it whole and valid
    again = archiver(
        "ingest", foreign, "--out", collection, "--id", "again" if committed else "new"
    )
    assert again.returncode == 0, again.stderr
    assert not [n for n in os.listdir(collection) if n.startswith(".archiver-partial-")]
    final = json.loads(archiver("audit", collection, "--json").stdout)
    assert {bag["id"]: bag["status"] for bag in final["bags"]} == {
        "b0": "intact",
        "new": "intact" if committed else "new",
        **({"again": "new"} if committed else {}),
    }


def test_sigterm_mid_audit_is_exit_130_releases_the_lock_and_the_next_audit_resumes(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = small_collection(tmp_path, bags=3, files=70)
    point_of = faults.point

    def terminate_at(name: str) -> None:
        if name == "auditing.bag-recorded":
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the CLI as it would be
        point_of(name)

    monkeypatch.setattr(faults, "point", terminate_at)
    stopped = cli("audit", collection, "--workers", "2")
    assert stopped.code == 130 and stopped.err.count("\n") == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("archiver-audit")]
    monkeypatch.setattr(faults, "point", point_of)
    resumed = cli("audit", collection, "--json")  # in this process: refused if still held
    assert resumed.code == 0
    report = json.loads(resumed.out)
    assert report["resumed"] and report["new"] == 3
