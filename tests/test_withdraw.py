"""Withdrawal is one step: before it the bag is in the collection and no one sees a
tombstone; after it the bag is withdrawn with its tombstone; an interruption anywhere
leaves one or the other (issue 10, item 3)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from archiver import faults
from archiver.clock import Clock
from archiver.collection import Collection
from archiver.validation import validate_bag
from tests.conftest import BAGS_EPOCH, CliRunner, listing
from tests.faults import kill_at
from tests.test_audit import make_collection

NAMES = ("alpha", "bravo")
# Points before the rename: its folder made (and empty), then its tombstone written in it.
BEFORE = ["withdraw.folder-made", "withdraw.before-rename"]


def area(collection: Path) -> Path:
    return collection / ".archiver" / "withdrawn"


def seen(collection: Path) -> tuple[list[str], list[str]]:
    """What everyone who reads the collection sees: its bags, and its withdrawals."""
    col = Collection(collection)
    return col.bag_ids(), [stone.id for stone in col.tombstones()]


def assert_not_withdrawn(collection: Path) -> None:
    assert seen(collection) == (["alpha", "bravo"], [])
    assert validate_bag(collection / "bravo").valid
    with Collection(collection) as col:  # the catalog, brought up to date, agrees
        col.refresh_catalog(clock=Clock.from_epoch(BAGS_EPOCH))
        deleted = col.catalog().store.rows("SELECT id FROM records WHERE deleted = 1")
    assert deleted == []


def assert_withdrawn(collection: Path) -> Path:
    assert seen(collection) == (["alpha"], ["bravo"])
    [home] = [p for p in area(collection).iterdir() if not p.name.startswith(".")]
    assert sorted(os.listdir(home)) == ["bag", "tombstone.json"]
    assert validate_bag(home / "bag").valid
    with Collection(collection) as col:
        col.refresh_catalog(clock=Clock.from_epoch(BAGS_EPOCH))
        deleted = col.catalog().store.rows("SELECT id FROM records WHERE deleted = 1")
    assert [row["id"] for row in deleted] == ["bravo"]
    return home


def test_readers_see_the_bag_and_no_tombstone_until_the_rename_then_only_the_tombstone(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    source = collection / "bravo"
    observed: list[tuple[list[str], list[str]]] = []
    rename = os.rename

    def watched(old: str | os.PathLike[str], new: str | os.PathLike[str]) -> None:
        if Path(old) == source:
            observed.append(seen(collection))
            rename(old, new)
            observed.append(seen(collection))
        else:
            rename(old, new)

    monkeypatch.setattr(os, "rename", watched)
    assert cli("withdraw", collection, "bravo", "--reason", "rights").code == 0
    assert observed == [(["alpha", "bravo"], []), (["alpha"], ["bravo"])]


@pytest.mark.parametrize("point", [*BEFORE, "withdraw.after-rename"])
def test_a_withdrawal_killed_at_either_side_of_its_rename_leaves_one_whole_state(
    tmp_path: Path, cli: CliRunner, point: str
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    kill_at(point, "withdraw", collection, "bravo", "--reason", "rights", tmp=tmp_path)
    if point in BEFORE:
        assert_not_withdrawn(collection)
        again = cli("withdraw", collection, "bravo", "--reason", "rights, again")
        assert again.code == 0, again.err
    home = assert_withdrawn(collection)  # the killed folder was cleared, not left beside it
    assert "rights" in (home / "tombstone.json").read_text()
    assert cli("withdraw", collection, "alpha", "--reason", "next").code == 0
    assert seen(collection) == ([], ["alpha", "bravo"])


@pytest.mark.parametrize("point", [*BEFORE, "withdraw.after-rename"])
def test_sigterm_at_either_side_of_the_rename_is_exit_130_and_leaves_one_whole_state(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    point_of = faults.point

    def terminate_at(name: str) -> None:
        if name == point:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the CLI as it would be
        point_of(name)

    monkeypatch.setattr(faults, "point", terminate_at)
    run = cli("withdraw", collection, "bravo", "--reason", "rights")
    assert run.code == 130
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    if point in BEFORE:
        assert_not_withdrawn(collection)
        assert listing(area(collection)) == []  # not even an empty folder
    else:
        assert_withdrawn(collection)


def test_a_withdrawal_that_cannot_move_the_bag_leaves_nothing_and_says_so_in_one_line(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    rename = os.rename

    def refused(old: str | os.PathLike[str], new: str | os.PathLike[str]) -> None:
        if Path(old) == collection / "bravo":
            raise OSError(30, "Read-only file system", os.fspath(old))
        rename(old, new)

    monkeypatch.setattr(os, "rename", refused)
    run = cli("withdraw", collection, "bravo", "--reason", "rights")
    assert (run.code, run.out) == (2, "")
    assert run.err == (
        f"archiver: error: cannot withdraw {collection / 'bravo'}: Read-only file system\n"
    )
    assert_not_withdrawn(collection)
    assert listing(area(collection)) == []


def test_withdrawing_a_withdrawn_bag_again_says_when_and_why_it_was(
    tmp_path: Path, cli: CliRunner
) -> None:
    # It said only "no such bag in the collection", as for a bag that never was.
    collection = make_collection(cli, tmp_path, NAMES)
    assert cli("withdraw", collection, "bravo", "--reason", "the rights holder asked").code == 0
    run = cli("withdraw", collection, "bravo", "--reason", "again", epoch=BAGS_EPOCH + 60)
    assert run.code == 2
    assert run.err == (
        f"archiver: error: {collection / 'bravo'}: already withdrawn, on 2026-11-27T00:00:00Z: "
        "the rights holder asked\n"
    )
    assert seen(collection) == (["alpha"], ["bravo"])


@pytest.mark.parametrize(
    ("reason", "kept", "refused"),
    [
        ("  deposited\n twice\t by mistake ", "deposited twice by mistake", None),
        ("\n \t", None, "--reason must say why the bag is withdrawn"),
        ("x" * 1001, None, "a withdrawal's reason has 1000 characters at most"),
        ("in red: \x1b[31m", None, "U+001B is a control character"),
    ],
    ids=["whitespace-made-single", "blank", "too-long", "terminal-escape"],
)
def test_a_reason_is_kept_as_one_line_of_text_or_refused(
    tmp_path: Path, cli: CliRunner, reason: str, kept: str | None, refused: str | None
) -> None:
    """The CLI and the web view keep a reason alike (one line, single spaces) and refuse
    alike what no page or report can show; nothing is moved when it is refused."""
    collection = make_collection(cli, tmp_path, ("b1",))
    run = cli("withdraw", collection, "b1", "--reason", reason)
    if refused is None:
        assert run.code == 0, run.err
        [stone] = Collection(collection).tombstones()
        assert stone.reason == kept
    else:
        assert run.code == 2 and refused in run.err
        assert (collection / "b1").is_dir()
        assert not (collection / ".archiver" / "withdrawn").exists()
