"""A collection on read-only media (or without write permission): audited with its ledger
elsewhere, its history read where it is, and whatever would write there refused in one
line with exit 2, nothing changed (issue 10, item 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import BAGS_EPOCH, CliRunner, listing, snapshot
from tests.test_audit import make_collection

ENV = {**os.environ, "SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}
# Permissions do not stop root: a read-only bind mount, in a mount namespace of the child's
# own, does (the mount is gone when the child ends).
_MOUNT_READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


@contextmanager
def _without_write_permission(root: Path) -> Iterator[None]:
    entries = [root, *(p for p in root.rglob("*") if not p.is_symlink())]
    modes = {entry: entry.stat().st_mode for entry in entries}
    for entry, mode in modes.items():
        entry.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for entry, mode in modes.items():
            entry.chmod(mode)


def read_only(collection: Path, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """``archiver ARGS`` in a child that may not write anywhere under ``collection``."""
    command = [sys.executable, "-m", "archiver", *(os.fspath(arg) for arg in args)]
    if os.geteuid() == 0:
        wrapped = ["unshare", "--mount", "sh", "-c", _MOUNT_READ_ONLY, "sh", str(collection)]
        return subprocess.run(
            [*wrapped, *command], env=ENV, capture_output=True, text=True, check=False
        )
    with _without_write_permission(collection):
        return subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)


def state(collection: Path) -> tuple[list[str], dict[str, bytes]]:
    return listing(collection), snapshot(collection)


def assert_one_line(run: subprocess.CompletedProcess[str], *words: str) -> None:
    assert (run.returncode, run.stdout) == (2, ""), run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("archiver: error: ")
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


def test_an_audit_of_a_read_only_collection_is_exit_2_saying_where_its_ledger_can_go(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    before = state(collection)
    run = read_only(collection, "audit", collection)
    assert_one_line(run, str(collection / ".archiver"), "--ledger FILE")
    assert state(collection) == before


def test_a_read_only_collection_is_audited_with_its_ledger_elsewhere_and_left_as_it_was(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    before = state(collection)
    ledger = tmp_path / "records" / "ledger.sqlite"
    for _ in range(2):
        run = read_only(collection, "audit", collection, "--ledger", ledger)
        assert run.returncode == 0, run.stderr
    assert "run 2: 2 bags checked" in run.stdout
    assert state(collection) == before


def test_the_history_and_premis_of_a_read_only_collection_are_read_where_they_are(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    assert cli("audit", collection).code == 0
    before = state(collection)
    history = read_only(collection, "audit", "history", collection)
    assert history.returncode == 0, history.stderr
    assert history.stdout.startswith("run 1 ")
    premis = read_only(collection, "audit", "premis", collection, "alpha")
    assert premis.returncode == 0, premis.stderr
    assert "<premis:eventOutcome>success</premis:eventOutcome>" in premis.stdout
    assert state(collection) == before
    again = read_only(collection, "audit", collection)  # writing is still refused
    assert_one_line(again, "--ledger FILE")


def test_a_withdrawal_from_a_read_only_collection_is_exit_2_in_one_line_and_changes_nothing(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    for audited in (False, True):  # without .archiver/ yet, then with it
        if audited:
            assert cli("audit", collection).code == 0
        before = state(collection)
        run = read_only(collection, "withdraw", collection, "bravo", "--reason", "rights")
        assert_one_line(run, str(collection / ".archiver"))
        assert state(collection) == before
