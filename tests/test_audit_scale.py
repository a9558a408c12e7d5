"""archiver audit under pressure: killed with SIGKILL and resumed; fanned out over Dask with a
worker killed mid-run. Bags here are plain BagIt bags of big sparse files, written by hand:
quick to make, slow enough to hash that a run can be caught in the middle."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from archiver.clock import Clock
from archiver.collection import Collection
from archiver.collection.report import AuditReport
from tests.conftest import BAGS_EPOCH
from tests.corrupt import flip_byte

FILE_SIZE = 24 << 20


@cache
def _zero_digests(size: int) -> tuple[str, str]:
    block = bytes(size)
    return hashlib.sha256(block).hexdigest(), hashlib.sha512(block).hexdigest()


def make_sparse_bag(root: Path, files: int, size: int = FILE_SIZE) -> Path:
    """A valid BagIt 1.0 bag of ``files`` sparse (all-zero) files, sha256 and sha512."""
    (root / "data").mkdir(parents=True)
    sha256, sha512 = _zero_digests(size)
    for index in range(files):
        with (root / "data" / f"part-{index:03d}.bin").open("wb") as handle:
            handle.truncate(size)
    names = [f"data/part-{index:03d}.bin" for index in range(files)]
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {size * files}.{files}\n")
    for algorithm, digest in (("sha256", sha256), ("sha512", sha512)):
        lines = "".join(f"{digest}  {name}\n" for name in names)
        (root / f"manifest-{algorithm}.txt").write_text(lines)
    tag_files = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
    for algorithm in ("sha256", "sha512"):
        lines = "".join(
            f"{hashlib.new(algorithm, (root / name).read_bytes()).hexdigest()}  {name}\n"
            for name in tag_files
        )
        (root / f"tagmanifest-{algorithm}.txt").write_text(lines)
    return root


def _rows(ledger: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(ledger) as db:
        return list(db.execute(query, args))


def test_a_run_killed_with_sigkill_is_resumed_without_rechecking_what_it_recorded(
    tmp_path: Path,
) -> None:
    collection = tmp_path / "collection"
    for number in range(6):
        make_sparse_bag(collection / f"bag{number}", files=8)
    ledger = collection / ".archiver" / "ledger.sqlite"
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(BAGS_EPOCH))
    command = [
        sys.executable,
        "-m",
        "archiver",
        "audit",
        str(collection),
        "--workers",
        "1",
        "--json",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    recorded = 0
    while time.monotonic() < deadline and process.poll() is None:
        if ledger.exists():
            try:
                recorded = _rows(ledger, "SELECT count(*) FROM file_checks")[0][0]  # type: ignore[assignment]
            except sqlite3.OperationalError:  # the schema is still being created
                recorded = 0
            if recorded:
                break
        time.sleep(0.01)
    assert process.poll() is None, "the audit ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    before = _rows(ledger, "SELECT rowid, * FROM file_checks ORDER BY rowid")
    total = 6 * (8 + 4) * 2  # six bags, 8 payload + 4 tag files each, two algorithms
    assert 0 < len(before) < total
    assert _rows(ledger, "SELECT finished_at FROM runs") == [(None,)]

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["resumed"] is True
    assert report["run"] == 1
    assert report["checked"] == 6
    assert report["damaged"] == 0
    after = _rows(ledger, "SELECT rowid, * FROM file_checks ORDER BY rowid")
    assert after[: len(before)] == before  # what the killed run recorded is kept as it was
    assert len(after) == total  # and every (file, algorithm) is there exactly once (the PK)
    recorded_bytes = sum(
        FILE_SIZE for row in before if str(row[3]).startswith("data/") and row[4] == "sha256"
    )
    payload = 6 * 8 * FILE_SIZE
    assert report["hashed"] < payload  # the resumed run did not read everything again
    assert report["hashed"] <= payload - recorded_bytes + 6 * 4096
    assert len(_rows(ledger, "SELECT * FROM bag_checks WHERE run_id = 1")) == 6
    assert _rows(ledger, "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") == [(1,)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from distributed import LocalCluster

    local = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: another cluster may hold 8787
        silence_logs=50,
    )
    try:
        yield local
    finally:
        local.close()


def _damaged_collection(root: Path) -> Path:
    for number in range(8):
        make_sparse_bag(root / f"bag{number}", files=6)
    flip_byte(root / "bag2" / "data" / "part-003.bin", offset=1000)
    (root / "bag5" / "data" / "part-001.bin").unlink()
    with (root / "bag6" / "bag-info.txt").open("a") as handle:
        handle.write("Contact-Name: someone\n")
    return root


def _verdicts(report: AuditReport) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    return {
        bag.id: (bag.status, sorted((f.code, f.path) for f in bag.findings)) for bag in report.bags
    }


def test_a_dask_audit_survives_a_killed_worker_and_agrees_with_a_local_one(
    tmp_path: Path, cluster: object
) -> None:
    from distributed import Client

    collection = _damaged_collection(tmp_path / "collection")
    clock = Clock.from_epoch(BAGS_EPOCH)
    local = Collection(collection, ledger=tmp_path / "local.sqlite").audit(workers=2, clock=clock)

    address = cluster.scheduler_address  # type: ignore[attr-defined]
    client = Client(address)  # type: ignore[no-untyped-call]
    pids = client.run(os.getpid)
    client.close()  # type: ignore[no-untyped-call]
    ledger = tmp_path / "dask.sqlite"
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ledger.exists():
                try:
                    count = _rows(ledger, "SELECT count(*) FROM file_checks")[0][0]
                except sqlite3.OperationalError:
                    count = 0
                if count:
                    pid = next(iter(pids.values()))
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_one_worker_mid_run)
    killer.start()
    distributed = Collection(collection, ledger=ledger).audit(scheduler=address, clock=clock)
    killer.join()
    assert killed, "no worker was killed: the test proves nothing"
    unfinished = _rows(ledger, "SELECT count(*) FROM bag_checks WHERE finished_at IS NULL")
    assert unfinished == [(0,)]
    per_bag = _rows(ledger, "SELECT bag_id, count(*) FROM bag_checks GROUP BY bag_id")
    assert sorted(per_bag) == [(f"bag{n}", 1) for n in range(8)]  # each bag exactly once
    assert _verdicts(distributed) == _verdicts(local)
    assert {bag.id for bag in distributed.bags if bag.status == "damaged"} == {
        "bag2",
        "bag5",
        "bag6",
    }
    files = _rows(ledger, "SELECT count(*) FROM file_checks")[0][0]
    assert files == _rows(tmp_path / "local.sqlite", "SELECT count(*) FROM file_checks")[0][0]


def test_progress_goes_to_stderr_only_when_it_is_a_terminal(tmp_path: Path) -> None:
    import pty

    collection = tmp_path / "collection"
    for number in range(3):
        make_sparse_bag(collection / f"bag{number}", files=2, size=1 << 20)
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(BAGS_EPOCH))
    command = [sys.executable, "-m", "archiver", "audit", str(collection)]
    leader, follower = pty.openpty()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=follower) as process:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        out, _ = process.communicate(timeout=60)
    os.close(leader)
    assert process.returncode == 0
    assert b"3/3 [" in shown and b"bags/s" in shown and b"2.0 MiB]" in shown
    assert b"bags/s" not in out  # progress never goes to stdout
    piped = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert piped.returncode == 0
    assert piped.stderr == b""  # no progress when stderr is not a terminal
