"""A bag appears whole or not at all: killed runs, Ctrl-C/SIGTERM, --force, stale leftovers."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archiver import staging
from archiver.errors import BagExistsError
from archiver.packing import make_bag
from archiver.staging import PARTIAL_PREFIX, CommitGroup, Staging, remove_stale_partials
from tests.conftest import BAGS_EPOCH, CliRunner, listing, make_source_tree, snapshot

BIG = 768 << 20


@pytest.fixture
def big_source(tmp_path: Path) -> Path:
    """A large sparse file: quick to make, slow enough to copy and hash to be caught mid-way."""
    path = tmp_path / "big.bin"
    with path.open("wb") as handle:
        handle.truncate(BIG)
    return path


def _start(source: Path, out: Path, bag_id: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(BAGS_EPOCH))
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "bag", str(source), "--out", str(out), "--id", bag_id],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_partial_payload(out: Path, process: subprocess.Popen[bytes]) -> Path:
    """Block until the staging folder holds part (not all) of the payload file."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        for partial in out.glob(f"{PARTIAL_PREFIX}*"):
            payload = partial / "data" / "big.bin"
            if payload.exists() and 0 < payload.stat().st_size < BIG:
                return partial
        time.sleep(0.005)
    raise AssertionError("no partial payload appeared")


def test_a_run_killed_mid_copy_leaves_no_bag_and_the_next_run_cleans_up(
    tmp_path: Path, big_source: Path, cli: CliRunner, sample_copy: Path
) -> None:
    out = tmp_path / "out"
    process = _start(big_source, out, "big")
    _wait_for_partial_payload(out, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "big").exists()
    leftovers = os.listdir(out)
    assert leftovers and all(name.startswith(PARTIAL_PREFIX) for name in leftovers)
    # The dead builder's lock is gone: the next build in the same folder removes its mess.
    assert cli("bag", sample_copy, "--out", out, "--id", "small").code == 0
    assert os.listdir(out) == ["small"]


def test_sigterm_mid_copy_removes_everything_it_wrote(tmp_path: Path, big_source: Path) -> None:
    out = tmp_path / "out"
    process = _start(big_source, out, "big")
    _wait_for_partial_payload(out, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert b"interrupted" in err
    assert listing(out) == []


def test_a_live_builders_partial_folder_is_left_alone(tmp_path: Path) -> None:
    with Staging(tmp_path) as staging:
        (staging.path / "x").write_text("in progress")
        assert remove_stale_partials(tmp_path) == []
        assert (staging.path / "x").exists()
    assert listing(tmp_path) == []


def test_commit_refuses_to_overwrite_an_existing_bag(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "keep.txt").write_text("old")
    with Staging(tmp_path) as staging, pytest.raises(BagExistsError):
        staging.commit(tmp_path / "bag")
    assert (tmp_path / "bag" / "keep.txt").read_text() == "old"
    assert listing(tmp_path) == ["bag", "bag/keep.txt"]


def test_commit_will_not_take_an_empty_folder_either(tmp_path: Path) -> None:
    # rename(2) silently replaces an empty directory: renameat2 NOREPLACE must not.
    (tmp_path / "bag").mkdir()
    with Staging(tmp_path) as staging:
        (staging.path / "new").write_text("x")
        with pytest.raises(BagExistsError):
            staging.commit(tmp_path / "bag")
    assert listing(tmp_path) == ["bag"]


def test_force_swaps_the_new_bag_in_and_the_old_one_out(
    tmp_path: Path, cli: CliRunner, sample_copy: Path
) -> None:
    assert cli("bag", sample_copy, "--out", tmp_path / "out", "--id", "b").code == 0
    old = snapshot(tmp_path / "out" / "b")
    sample_copy.write_bytes(sample_copy.read_bytes() + b"\nA postscript.")
    assert cli("bag", sample_copy, "--out", tmp_path / "out", "--id", "b", "--force").code == 0
    new = snapshot(tmp_path / "out" / "b")
    assert new != old
    assert new["data/a-giant-step-for-peace.txt"].endswith(b"A postscript.")
    assert os.listdir(tmp_path / "out") == ["b"]
    assert cli("validate", tmp_path / "out" / "b").code == 0


# -- item 2 of issue 10: concurrent builds in one folder -----------------------------------


def _only_partial(parent: Path) -> Path:
    (found,) = [parent / name for name in os.listdir(parent) if name.startswith(PARTIAL_PREFIX)]
    return found


def test_a_peers_cleanup_between_making_and_locking_a_folder_does_not_break_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fcntl.flock
    peer_ran: list[list[Path]] = []

    def flock(fd: int, operation: int) -> None:
        if not peer_ran:  # the builder's first lock: a peer cleans up just before it
            peer_ran.append([])
            peer_ran[0].extend(remove_stale_partials(tmp_path))
        real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    with Staging(tmp_path) as staging:
        assert peer_ran and len(peer_ran[0]) == 1  # the peer did remove the first folder
        assert staging.path.is_dir()
        (staging.path / "file").write_text("kept")
        assert remove_stale_partials(tmp_path) == []  # locked now: a peer leaves it alone
        assert (staging.path / "file").read_text() == "kept"
    assert os.listdir(tmp_path) == []


def test_a_folder_a_peers_cleanup_has_locked_is_left_to_it_and_another_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fcntl.flock
    peer_ran: list[Path] = []

    def flock(fd: int, operation: int) -> None:
        if peer_ran:
            real(fd, operation)
            return
        # The peer's cleanup has just locked the new folder; it removes it after our try.
        victim = _only_partial(tmp_path)
        peer = os.open(victim, os.O_RDONLY | os.O_DIRECTORY)
        real(peer, fcntl.LOCK_EX | fcntl.LOCK_NB)
        peer_ran.append(victim)
        try:
            real(fd, operation)
        finally:
            shutil.rmtree(victim)
            os.close(peer)

    monkeypatch.setattr(fcntl, "flock", flock)
    with Staging(tmp_path) as staging:
        assert peer_ran and staging.path != peer_ran[0]
        assert staging.path.is_dir()
    assert os.listdir(tmp_path) == []


def test_many_concurrent_bag_runs_into_one_folder_all_succeed(tmp_path: Path) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "text\n"})
    out = tmp_path / "out"
    errors: list[BaseException] = []

    def bag_some(first: int) -> None:
        for number in range(first, first + 12):
            try:
                make_bag(source, out, bag_id=f"b{number:03d}", workers=1)
            except BaseException as exc:  # every failure is a finding here
                errors.append(exc)

    threads = [threading.Thread(target=bag_some, args=(first,)) for first in range(0, 96, 12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(os.listdir(out)) == [f"b{number:03d}" for number in range(96)]


def test_staging_folders_made_and_removed_by_many_threads_never_fail(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def build() -> None:
        for _ in range(100):
            try:
                with Staging(tmp_path) as staging:
                    (staging.path / "file").write_text("x")
            except BaseException as exc:  # every failure is a finding here
                errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(tmp_path) == []


# -- commit groups ---------------------------------------------------------------------------


def _stage(parent: Path, group: CommitGroup, name: str) -> None:
    with Staging(parent) as folder:
        (folder.path / "file.txt").write_text(name, encoding="utf-8")
        folder.commit(parent / name, group=group)


def _count_flushes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"sync": 0, "fsync": 0}

    def counting(name: str, real: Callable[[Path], None]) -> Callable[[Path], None]:
        def call(path: Path) -> None:
            counts[name] += 1
            real(path)

        return call

    monkeypatch.setattr(staging, "sync_filesystem", counting("sync", staging.sync_filesystem))
    monkeypatch.setattr(staging, "fsync_directory", counting("fsync", staging.fsync_directory))
    return counts


def test_a_commit_group_moves_its_folders_in_after_one_flush_for_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _count_flushes(monkeypatch)
    with CommitGroup() as group:
        for name in ("a", "b", "c"):
            _stage(tmp_path, group, name)
        # held: built and closed, but not in place yet
        assert len(group) == 3 and not any((tmp_path / n).exists() for n in "abc")
        assert len(list(tmp_path.glob(f"{PARTIAL_PREFIX}*"))) == 3
        assert group.commit() == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]
    assert (tmp_path / "b" / "file.txt").read_text(encoding="utf-8") == "b"
    assert counts == {"sync": 1, "fsync": 1}


def test_a_group_member_whose_place_was_taken_meanwhile_alone_is_not_moved(
    tmp_path: Path,
) -> None:
    with CommitGroup() as group:
        for name in ("a", "b", "c"):
            _stage(tmp_path, group, name)
        (tmp_path / "b").mkdir()  # someone else's, made while the group was built
        failed = group.commit()
    assert list(failed) == [tmp_path / "b"]
    assert isinstance(failed[tmp_path / "b"], BagExistsError)
    assert (tmp_path / "a" / "file.txt").exists() and (tmp_path / "c" / "file.txt").exists()
    assert list((tmp_path / "b").iterdir()) == []  # theirs, untouched
    assert not list(tmp_path.glob(f"{PARTIAL_PREFIX}*"))


def test_a_group_left_without_commit_removes_every_folder_it_held(tmp_path: Path) -> None:
    def interrupted() -> None:
        with CommitGroup() as group:
            for name in ("a", "b"):
                _stage(tmp_path, group, name)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert list(tmp_path.iterdir()) == []


def test_a_group_whose_flush_fails_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(path: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(staging, "sync_filesystem", failing)
    with CommitGroup() as group:
        for name in ("a", "b"):
            _stage(tmp_path, group, name)
        failed = group.commit()
    assert sorted(failed) == [tmp_path / "a", tmp_path / "b"]
    assert all("Input/output error" in str(e) for e in failed.values())
    assert list(tmp_path.iterdir()) == []


def test_a_group_never_replaces_and_never_takes_a_serialized_bag(
    tmp_path: Path, sample_copy: Path
) -> None:
    with CommitGroup() as group:
        with pytest.raises(ValueError, match="commit group"):
            make_bag(sample_copy, tmp_path / "out", force=True, group=group)
        with pytest.raises(ValueError, match="commit group"):
            make_bag(sample_copy, tmp_path / "out", serialize="zip", group=group)
        assert len(group) == 0
