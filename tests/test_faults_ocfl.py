"""archiver export --to ocfl killed (-9) at each step that changes the storage root: the root
is valid (ocfl-py) at that instant, and the next export finishes or undoes what was left."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import ocfl
import pytest

import archiver.export.ocfl
from archiver.clock import Clock
from archiver.export import export_bag
from archiver.export.ocfl import object_id
from archiver.packing import make_bag
from archiver.staging import PARTIAL_PREFIX
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, Run, write_tree
from tests.faults import kill_at

SAMPLE_BAG = REPO / "bags" / "a-giant-step-for-peace"
SAMPLE_ID = "a-giant-step-for-peace"
STORY = "story"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bags and roots every test copies: the story bag in two states, a root holding the
    sample bag's object, a root holding the story's first state as v1."""
    base = tmp_path_factory.mktemp("made")
    clock = Clock.from_epoch(BAGS_EPOCH)
    found = {}
    for name, files in {
        "one": {"a.txt": "same\n", "b.txt": "first\n"},
        "two": {"a.txt": "same\n", "b.txt": "second\n", "c.txt": "new\n", "d.txt": "new\n"},
    }.items():
        source = write_tree(base / name / "source", dict(files))
        make_bag(source, base / name, bag_id=STORY, clock=clock, workers=1)
        found[name] = base / name / STORY
    found["root-with-sample"] = base / "root-with-sample"
    export_bag(SAMPLE_BAG, to="ocfl", out=found["root-with-sample"], clock=clock)
    found["root-with-story"] = base / "root-with-story"
    export_bag(found["one"], to="ocfl", out=found["root-with-story"], clock=clock)
    return found


def copied(made: dict[str, Path], name: str, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(made[name], root)
    return root


def export_args(bag: Path, root: Path) -> list[str | os.PathLike[str]]:
    return ["export", bag, "--to", "ocfl", "--out", root]


def export(cli: CliRunner, bag: Path, root: Path) -> Run:
    """The next run, undisturbed."""
    return cli(*export_args(bag, root))


def valid_root(root: Path) -> dict[str, str]:
    """The root as ocfl-py's validator judges it, every digest checked: it must be valid,
    every object in it too; returns each object's id and head version."""
    storage = ocfl.StorageRoot(root=os.fspath(root))
    assert storage.validate(check_digests=True), storage.log
    assert storage.num_objects == storage.good_objects, storage.errors
    heads = {}
    for path, identifier in storage.list_objects():
        assert identifier not in heads, f"{identifier} twice in the root"
        inventory = json.loads((root / path / "inventory.json").read_text(encoding="utf-8"))
        heads[identifier] = inventory["head"]
    return heads


def leftovers(folder: Path) -> list[str]:
    """Hidden folders of archiver's (.archiver-partial-*, .archiver-replaced-*) anywhere under
    ``folder``: the root, beside it, in its extensions/."""
    return sorted(os.fspath(path) for path in folder.rglob(".archiver-*"))


# point -> the objects (id -> head) in the root right after the kill; None: no root yet.
NEW_ROOT = {
    "ocfl.root-staged": None,
    "ocfl.root-before-rename": None,
    "ocfl.root-after-rename": {},
    "ocfl.object-staged": {},
    "ocfl.copy:3": {},
    "ocfl.object-before-rename": {},
    "ocfl.object-after-rename": {object_id(SAMPLE_ID): "v1"},
}


@pytest.mark.parametrize("point", NEW_ROOT)
def test_a_new_root_killed_at_point_is_absent_or_valid_and_the_next_run_completes(
    tmp_path: Path, cli: CliRunner, point: str
) -> None:
    root = tmp_path / "root"
    kill_at(point, *export_args(SAMPLE_BAG, root), tmp=tmp_path)
    expected = NEW_ROOT[point]
    if expected is None:
        assert not root.exists()
    else:
        assert valid_root(root) == expected

    run = export(cli, SAMPLE_BAG, root)
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(SAMPLE_ID): "v1"}
    assert leftovers(tmp_path) == []


# point -> the objects in the root holding the sample bag's, right after the kill.
NEW_OBJECT = {
    "ocfl.object-staged": {object_id(SAMPLE_ID): "v1"},
    "ocfl.copy:2": {object_id(SAMPLE_ID): "v1"},
    "ocfl.object-before-rename": {object_id(SAMPLE_ID): "v1"},
    "ocfl.object-after-rename": {object_id(SAMPLE_ID): "v1", object_id(STORY): "v1"},
}


@pytest.mark.parametrize("point", NEW_OBJECT)
def test_a_new_object_killed_at_point_leaves_a_valid_root_and_the_next_run_adds_it(
    tmp_path: Path, cli: CliRunner, made: dict[str, Path], point: str
) -> None:
    root = copied(made, "root-with-sample", tmp_path)
    kill_at(point, *export_args(made["one"], root), tmp=tmp_path)
    assert valid_root(root) == NEW_OBJECT[point]

    run = export(cli, made["one"], root)
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(SAMPLE_ID): "v1", object_id(STORY): "v1"}
    assert leftovers(tmp_path) == []


# point -> the story object's head right after the kill.
NEW_VERSION = {
    "ocfl.version-linked": "v1",
    "ocfl.copy:2": "v1",
    "ocfl.version-before-swap": "v1",
    "ocfl.version-after-swap": "v2",
}


@pytest.mark.parametrize("point", NEW_VERSION)
def test_a_new_version_killed_at_point_leaves_a_valid_object_and_the_next_run_writes_it(
    tmp_path: Path, cli: CliRunner, made: dict[str, Path], point: str
) -> None:
    root = copied(made, "root-with-story", tmp_path)
    kill_at(point, *export_args(made["two"], root), tmp=tmp_path)
    assert valid_root(root) == {object_id(STORY): NEW_VERSION[point]}

    run = export(cli, made["two"], root)
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(STORY): "v2"}
    assert leftovers(tmp_path) == []


def test_an_empty_folder_killed_before_it_becomes_a_root_is_made_one_by_the_next_run(
    tmp_path: Path,
    cli: CliRunner,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    kill_at("ocfl.root-before-rename", *export_args(SAMPLE_BAG, root), tmp=tmp_path)
    assert not root.exists() or os.listdir(root) == []
    run = export(cli, SAMPLE_BAG, root)
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(SAMPLE_ID): "v1"}
    assert leftovers(tmp_path) == []


@pytest.fixture
def no_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started meanwhile see a file system without renameat2(RENAME_EXCHANGE), as some
    network file systems are: in this process, and in children, where a sitecustomize module
    replaces staging.exchange as they start."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import archiver.staging\narchiver.staging.exchange = lambda first, second: False\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.fspath(hook), *sys.path]))
    monkeypatch.setattr(archiver.export.ocfl, "exchange", lambda first, second: False)


# point -> the objects right after the kill; between its two renames the root lacks the
# object (and the folders that held only it), which is valid.
WITHOUT_EXCHANGE = {
    "ocfl.version-before-swap": {object_id(STORY): "v1"},
    "ocfl.version-aside": {},
    "ocfl.version-after-swap": {object_id(STORY): "v2"},
}


@pytest.mark.parametrize("point", WITHOUT_EXCHANGE)
@pytest.mark.usefixtures("no_exchange")
def test_without_an_atomic_exchange_a_version_killed_at_point_leaves_a_valid_root(
    tmp_path: Path, cli: CliRunner, made: dict[str, Path], point: str
) -> None:
    root = copied(made, "root-with-story", tmp_path)
    kill_at(point, *export_args(made["two"], root), tmp=tmp_path)
    assert valid_root(root) == WITHOUT_EXCHANGE[point]

    run = export(cli, made["two"], root)
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(STORY): "v2"}
    assert leftovers(tmp_path) == []
    if point == "ocfl.version-aside":  # the next run finished the move, and had no more to do
        assert "no new version written" in run.out


@pytest.mark.usefixtures("no_exchange")
def test_a_run_killed_while_finishing_an_interrupted_swap_is_finished_by_the_next(
    tmp_path: Path, cli: CliRunner, made: dict[str, Path]
) -> None:
    root = copied(made, "root-with-story", tmp_path)
    kill_at("ocfl.version-aside", *export_args(made["two"], root), tmp=tmp_path)
    kill_at("ocfl.recovered", *export_args(made["one"], root), tmp=tmp_path)
    assert valid_root(root) == {object_id(STORY): "v2"}

    run = export(cli, made["one"], root)  # the first state again: v3
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(STORY): "v3"}
    assert leftovers(tmp_path) == []


def test_what_earlier_versions_left_in_a_root_is_cleaned_by_the_next_export(
    tmp_path: Path, cli: CliRunner, made: dict[str, Path]
) -> None:
    """They staged in the root itself and made an object's parent folders before moving the
    object in: a kill left a hidden folder (E072) or empty folders (E073), and every later
    export into the root failed its check."""
    root = copied(made, "root-with-sample", tmp_path)
    write_tree(root / f"{PARTIAL_PREFIX}0123456789ab" / "object" / "v1" / "content", {"x": "x"})
    (root / f"{PARTIAL_PREFIX}ba9876543210").mkdir()
    (root / "0ab" / "cde" / "f01").mkdir(parents=True)
    sample_tuple = next(p for p in root.iterdir() if p.is_dir() and len(p.name) == 3)
    (sample_tuple / "fff").mkdir()
    storage = ocfl.StorageRoot(root=os.fspath(root))
    assert not storage.validate()

    run = export(cli, made["one"], root)
    assert run.code == 0, run.err
    assert valid_root(root) == {object_id(SAMPLE_ID): "v1", object_id(STORY): "v1"}
    assert leftovers(tmp_path) == []
    assert not (root / "0ab").exists() and not (sample_tuple / "fff").exists()
