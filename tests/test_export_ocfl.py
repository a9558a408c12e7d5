"""archiver export --to ocfl: the bag as an OCFL 1.1 object in a storage root, judged by ocfl-py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import ocfl
import pytest

from archiver.clock import Clock
from archiver.errors import PackageCheckError
from archiver.export.base import Options
from archiver.export.ocfl import EXPORTER, LAYOUT, _new_root, object_id
from archiver.export.source import read_source
from archiver.version import AGENT
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, Run, listing, snapshot, write_tree
from tests.corrupt import flip_byte

SAMPLE_BAG = REPO / "bags" / "a-giant-step-for-peace"
SAMPLE_ID = "a-giant-step-for-peace"
SAMPLE_FILE = "data/a-giant-step-for-peace.txt"
# Nested folders, names outside ASCII and with spaces, an empty file, and two files with the
# same bytes (OCFL stores that content once).
NESTED: dict[str, bytes | str] = {
    "chapitre 1/été.txt": "Un été à Singapour…\n",
    "chapitre 1/notes/Überblick.md": "# Überblick\n",
    "日本語/読む.txt": "読む\n",
    "copie de l’été.txt": "Un été à Singapour…\n",
    "empty.txt": "",
}


def export(
    cli: CliRunner, bag: Path, root: Path, *more: str | Path, epoch: int = BAGS_EPOCH
) -> Run:
    return cli("export", bag, "--to", "ocfl", "--out", root, *more, epoch=epoch)


def make_bag(
    cli: CliRunner,
    folder: Path,
    bag_id: str,
    files: dict[str, bytes | str],
    epoch: int = BAGS_EPOCH,
) -> Path:
    """``archiver bag`` of ``files`` into ``folder/bag_id``."""
    source = write_tree(folder / "source", files)
    run = cli("bag", source, "--out", folder, "--id", bag_id, epoch=epoch)
    assert run.code == 0, run.err
    return folder / bag_id


def validated(root: Path) -> tuple[int, int]:
    """(objects, valid objects) as ocfl-py counts them, every content digest checked."""
    storage = ocfl.StorageRoot(root=os.fspath(root))
    assert storage.validate(check_digests=True), storage.log
    return storage.num_objects, storage.good_objects


def object_dir(root: Path, bag_id: str) -> Path:
    return root / str(ocfl.StorageRoot(root=os.fspath(root)).object_path(object_id(bag_id)))


def inventory(root: Path, bag_id: str) -> Any:
    return json.loads((object_dir(root, bag_id) / "inventory.json").read_text(encoding="utf-8"))


def extracted(root: Path, bag_id: str, version: str, into: Path) -> dict[str, bytes]:
    """A version of the bag's object, as ocfl-py extracts it."""
    target = into / f"extracted-{version}"
    ocfl.Object().extract(os.fspath(object_dir(root, bag_id)), version, os.fspath(target))
    return snapshot(target)


def content_files(objdir: Path, version: str) -> set[str]:
    content = objdir / version / "content"
    return {p.relative_to(content).as_posix() for p in content.rglob("*") if p.is_file()}


def hidden(folder: Path) -> list[str]:
    return [path for path in listing(folder) if Path(path).name.startswith(".")]


def test_the_sample_bag_becomes_the_one_valid_object_of_a_new_storage_root(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "root"
    run = export(cli, SAMPLE_BAG, root, "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["checks"] == [
        "export.ocfl.inventory",
        "export.ocfl.object",
        "export.ocfl.storage-root",
        "export.source.files",
    ]
    assert result["findings"] == []  # no errors, no warnings
    run = export(cli, SAMPLE_BAG, tmp_path / "second-root")
    objdir = object_dir(tmp_path / "second-root", SAMPLE_ID)
    assert run.out.splitlines()[0] == str(objdir)  # the object, not the root, is printed
    assert "  note: new OCFL 1.1 storage root" in run.out
    assert "  checked: export.ocfl.object (OCFL 1.1 §3: object" in run.out
    objdir = object_dir(root, SAMPLE_ID)
    assert (root / "0=ocfl_1.1").read_text(encoding="utf-8") == "ocfl_1.1\n"
    layout = json.loads((root / "ocfl_layout.json").read_text(encoding="utf-8"))
    assert layout["extension"] == LAYOUT
    config = json.loads((root / "extensions" / LAYOUT / "config.json").read_text(encoding="utf-8"))
    assert config == {
        "extensionName": LAYOUT,
        "digestAlgorithm": "sha256",
        "tupleSize": 3,
        "numberOfTuples": 3,
    }
    assert validated(root) == (1, 1)

    objdir = object_dir(root, SAMPLE_ID)
    assert objdir.name == "info%3aarchiver%2fa-giant-step-for-peace"  # 0003's encoding
    found = inventory(root, SAMPLE_ID)
    assert found["id"] == "info:archiver/a-giant-step-for-peace"
    assert found["type"] == "https://ocfl.io/1.1/spec/#inventory"
    assert found["digestAlgorithm"] == "sha512"
    assert found["head"] == "v1"
    v1 = found["versions"]["v1"]
    assert v1["created"] == "2026-11-27T00:00:00Z"  # BAGS_EPOCH, from SOURCE_DATE_EPOCH
    assert v1["message"] == f"Exported by {AGENT} from bag a-giant-step-for-peace"
    assert v1["user"]["name"] == "archiver"
    sidecar = (objdir / "inventory.json.sha512").read_text(encoding="utf-8").split()
    assert sidecar == [
        hashlib.sha512((objdir / "inventory.json").read_bytes()).hexdigest(),
        "inventory.json",
    ]
    # The whole bag, tag files included, under its own paths: the head version *is* the bag.
    assert content_files(objdir, "v1") == set(snapshot(SAMPLE_BAG))
    assert extracted(root, SAMPLE_ID, "v1", tmp_path) == snapshot(SAMPLE_BAG)
    assert hidden(tmp_path) == []


def test_a_second_bag_with_nested_non_ascii_names_joins_the_same_root(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "root"
    assert export(cli, SAMPLE_BAG, root).code == 0
    first = snapshot(object_dir(root, SAMPLE_ID))
    nested = make_bag(cli, tmp_path / "nested", "nested-names", NESTED)

    run = export(cli, nested, root)
    assert run.code == 0, run.err
    assert validated(root) == (2, 2)
    assert "checked: export.ocfl.storage-root" in run.out
    assert snapshot(object_dir(root, SAMPLE_ID)) == first
    assert extracted(root, "nested-names", "head", tmp_path) == snapshot(nested)
    objdir = object_dir(root, "nested-names")
    assert "data/chapitre 1/notes/Überblick.md" in content_files(objdir, "v1")
    assert "data/日本語/読む.txt" in content_files(objdir, "v1")
    # Two files with the same bytes: two logical paths, one content file.
    found = inventory(root, "nested-names")
    digest = hashlib.sha512("Un été à Singapour…\n".encode()).hexdigest()
    assert sorted(found["versions"]["v1"]["state"][digest]) == [
        "data/chapitre 1/été.txt",
        "data/copie de l’été.txt",
    ]
    assert len(found["manifest"][digest]) == 1
    assert hidden(root) == []


def test_re_exporting_an_unchanged_bag_writes_no_new_version(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "root"
    assert export(cli, SAMPLE_BAG, root).code == 0
    before, names = snapshot(root), listing(root)

    run = export(cli, SAMPLE_BAG, root, epoch=BAGS_EPOCH + 86400)
    assert run.code == 0, run.err
    assert "unchanged" in run.out and "no new version written" in run.out
    assert snapshot(root) == before and listing(root) == names
    assert inventory(root, SAMPLE_ID)["head"] == "v1"


def test_a_changed_bag_under_the_same_id_becomes_v2_storing_only_what_changed(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "root"
    first = make_bag(cli, tmp_path / "one", "story", {"a.txt": "same\n", "b.txt": "first\n"})
    second = make_bag(
        cli, tmp_path / "two", "story", {"a.txt": "same\n", "b.txt": "second\n", "c.txt": "new\n"}
    )
    assert export(cli, first, root).code == 0
    objdir = object_dir(root, "story")
    v1_before = snapshot(objdir / "v1")
    a_inode = (objdir / "v1" / "content" / "data" / "a.txt").stat().st_ino
    folder_inode = objdir.stat().st_ino

    run = export(cli, second, root)
    assert run.code == 0, run.err
    # b.txt and the tag files that list it changed; c.txt is new.
    assert "v2 written (bag files changed: 8, added: 1, removed: 0" in run.out
    assert validated(root) == (1, 1)
    found = inventory(root, "story")
    assert found["head"] == "v2"
    stored = content_files(objdir, "v2")
    assert {"data/b.txt", "data/c.txt", "manifest-sha512.txt", "bag-info.txt"} <= stored
    assert "data/a.txt" not in stored  # unchanged content stays in v1 only (forward delta)
    assert "bagit.txt" not in stored
    # The object was swapped in whole (a new folder, never an old one edited in place), and
    # its earlier versions are the very same files (hard links), not copies.
    assert objdir.stat().st_ino != folder_inode
    assert snapshot(objdir / "v1") == v1_before
    assert (objdir / "v1" / "content" / "data" / "a.txt").stat().st_ino == a_inode
    assert extracted(root, "story", "v1", tmp_path) == snapshot(first)
    assert extracted(root, "story", "v2", tmp_path) == snapshot(second)
    assert hidden(root) == []

    # Going back to the first bag is a third version that stores nothing new.
    run = export(cli, first, root)
    assert run.code == 0, run.err
    assert inventory(root, "story")["head"] == "v3"
    assert not (objdir / "v3" / "content").exists()
    assert extracted(root, "story", "v3", tmp_path) == snapshot(first)
    assert validated(root) == (1, 1)


def test_without_hard_links_a_new_version_copies_the_earlier_ones_and_swaps_in_whole(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    first = make_bag(cli, tmp_path / "one", "story", {"a.txt": "same\n", "b.txt": "first\n"})
    second = make_bag(cli, tmp_path / "two", "story", {"a.txt": "same\n", "b.txt": "second\n"})
    assert export(cli, first, root).code == 0
    objdir = object_dir(root, "story")
    a_inode = (objdir / "v1" / "content" / "data" / "a.txt").stat().st_ino

    def no_link(*_: object, **__: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as on FAT or some FUSE mounts

    monkeypatch.setattr(os, "link", no_link)
    run = export(cli, second, root)
    assert run.code == 0, run.err
    assert validated(root) == (1, 1)
    assert inventory(root, "story")["head"] == "v2"
    assert (objdir / "v1" / "content" / "data" / "a.txt").stat().st_ino != a_inode  # a copy
    assert extracted(root, "story", "v1", tmp_path) == snapshot(first)
    assert extracted(root, "story", "v2", tmp_path) == snapshot(second)
    assert hidden(root) == []


def test_a_root_made_meanwhile_by_another_writer_is_written_into_not_replaced(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "root"
    assert export(cli, SAMPLE_BAG, root).code == 0
    before = snapshot(root)
    # What a second writer finds when the first moved its new root in after it looked.
    assert _new_root(root) is False
    assert snapshot(root) == before
    assert hidden(tmp_path) == []


def test_a_bag_remade_with_new_dates_only_stores_its_tag_files(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "root"
    files: dict[str, bytes | str] = {"text.txt": "the same words\n"}
    first = make_bag(cli, tmp_path / "one", "dated", files)
    later = make_bag(cli, tmp_path / "two", "dated", files, epoch=BAGS_EPOCH + 86400)
    assert export(cli, first, root).code == 0
    assert export(cli, later, root, epoch=BAGS_EPOCH + 86400).code == 0
    found = inventory(root, "dated")
    assert found["head"] == "v2"
    assert found["versions"]["v2"]["created"] == "2026-11-28T00:00:00Z"
    stored = content_files(object_dir(root, "dated"), "v2")
    assert "bag-info.txt" in stored and "metadata/premis.xml" in stored
    assert not any(path.startswith("data/") for path in stored)
    assert validated(root) == (1, 1)


def test_a_root_in_another_layout_is_refused_and_left_untouched(
    tmp_path: Path, cli: CliRunner
) -> None:
    root = tmp_path / "flat"
    ocfl.StorageRoot(
        root=os.fspath(root), layout_name="0002-flat-direct-storage-layout"
    ).initialize()
    before, names = snapshot(root), listing(root)

    run = export(cli, SAMPLE_BAG, root)
    assert run.code == 2
    assert "0002-flat-direct-storage-layout" in run.err and LAYOUT in run.err
    assert snapshot(root) == before and listing(root) == names
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_what_is_not_a_storage_root_is_refused_and_left_untouched(
    tmp_path: Path, cli: CliRunner, kind: str
) -> None:
    out = tmp_path / "out"
    if kind == "folder":
        write_tree(out, {"notes.txt": "mine\n"})
    else:
        out.write_text("mine\n", encoding="utf-8")
    before = out.read_bytes() if kind == "file" else snapshot(out)

    run = export(cli, SAMPLE_BAG, out)
    assert run.code == 2
    assert "not an OCFL storage root" in run.err or "neither empty nor" in run.err
    assert (out.read_bytes() if kind == "file" else snapshot(out)) == before
    assert hidden(tmp_path) == []


def test_an_ocfl_object_is_not_a_storage_root(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "root"
    assert export(cli, SAMPLE_BAG, root).code == 0
    before = snapshot(root)
    run = export(cli, SAMPLE_BAG, object_dir(root, SAMPLE_ID))
    assert run.code == 2
    assert "E069" in run.err
    assert snapshot(root) == before


def test_an_empty_folder_becomes_a_storage_root(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert export(cli, SAMPLE_BAG, root).code == 0
    assert validated(root) == (1, 1)


def test_an_invalid_source_bag_is_refused_and_nothing_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    flip_byte(bag / SAMPLE_FILE)

    run = export(cli, bag, tmp_path / "new-root")
    assert run.code == 1
    assert not (tmp_path / "new-root").exists()

    root = tmp_path / "root"
    other = make_bag(cli, tmp_path / "other", "other", {"x.txt": "x\n"})
    assert export(cli, other, root).code == 0
    before = snapshot(root)
    assert export(cli, bag, root).code == 1
    assert snapshot(root) == before
    assert hidden(tmp_path) == []


def test_check_reports_a_corrupted_object(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "root"
    assert export(cli, SAMPLE_BAG, root).code == 0
    flip_byte(object_dir(root, SAMPLE_ID) / "v1" / "content" / SAMPLE_FILE)

    # ocfl-py counts the object bad; its root-level verdict alone would not say so.
    storage = ocfl.StorageRoot(root=os.fspath(root))
    storage.validate(check_digests=True)
    assert (storage.num_objects, storage.good_objects) == (1, 0)
    options = Options(Clock.from_epoch(BAGS_EPOCH))
    with pytest.raises(PackageCheckError) as caught:
        EXPORTER.check(root, read_source(SAMPLE_BAG), options)
    relative = object_dir(root, SAMPLE_ID).relative_to(root).as_posix()
    found = [f for f in caught.value.findings if f.params.get("ocfl_code") == "E092a"]
    assert found and {(f.code, f.path) for f in found} == {("export.ocfl.object", relative)}
    assert str(found[0].params["spec"]).startswith("https://ocfl.io/1.1/spec/#E092")
    assert "[E092]" not in found[0].message  # the code is a param, not text
    assert "export.ocfl.storage-root" in caught.value.checks


def test_check_compares_the_head_version_with_the_bag(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "root"
    first = make_bag(cli, tmp_path / "one", "story", {"a.txt": "same\n", "b.txt": "first\n"})
    second = make_bag(
        cli, tmp_path / "two", "story", {"a.txt": "same\n", "b.txt": "second\n", "c.txt": "new\n"}
    )
    assert export(cli, first, root).code == 0
    options = Options(Clock.from_epoch(BAGS_EPOCH))
    assert "export.source.files" in EXPORTER.check(root, read_source(first), options).checks
    # A valid object that is not this bag: OCFL validation alone would pass it.
    with pytest.raises(PackageCheckError) as caught:
        EXPORTER.check(root, read_source(second), options)
    relative = object_dir(root, "story").relative_to(root).as_posix()
    differences = {
        (f.code, f.path, f.params["file"], f.message)
        for f in caught.value.findings
        if f.params.get("file", "").startswith("data/")  # type: ignore[union-attr]
    }
    assert differences == {
        ("export.source.files", relative, "data/c.txt", "the head version lacks a file of the bag"),
        (
            "export.source.files",
            relative,
            "data/b.txt",
            "the head version holds other bytes than the bag's file (sha512)",
        ),
    }
    assert str(caught.value).startswith(f"the OCFL storage root {root} breaks export.source.files")


def test_two_fresh_roots_from_the_same_bags_and_epoch_are_byte_identical(
    tmp_path: Path, cli: CliRunner
) -> None:
    nested = make_bag(cli, tmp_path / "nested", "nested-names", NESTED)
    for name in ("first", "second"):
        assert export(cli, SAMPLE_BAG, tmp_path / name).code == 0
        assert export(cli, nested, tmp_path / name).code == 0
    assert listing(tmp_path / "first") == listing(tmp_path / "second")
    assert snapshot(tmp_path / "first") == snapshot(tmp_path / "second")


def test_an_object_added_to_a_1_0_root_is_a_1_0_object(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "root"
    ocfl.StorageRoot(root=os.fspath(root), layout_name=LAYOUT).initialize(spec_version="1.0")
    assert export(cli, SAMPLE_BAG, root).code == 0
    objdir = object_dir(root, SAMPLE_ID)
    assert (objdir / "0=ocfl_object_1.0").is_file()
    assert inventory(root, SAMPLE_ID)["type"] == "https://ocfl.io/1.0/spec/#inventory"
    assert validated(root) == (1, 1)


def test_a_roots_own_0003_parameters_place_the_object(tmp_path: Path, cli: CliRunner) -> None:
    root = tmp_path / "root"
    params = {"digestAlgorithm": "md5", "tupleSize": 2, "numberOfTuples": 2}
    ocfl.StorageRoot(root=os.fspath(root), layout_name=LAYOUT).initialize(
        layout_params=json.dumps(params)
    )
    assert export(cli, SAMPLE_BAG, root).code == 0
    relative = object_dir(root, SAMPLE_ID).relative_to(root).parts
    digest = hashlib.md5(b"info:archiver/a-giant-step-for-peace").hexdigest()
    assert relative[:2] == (digest[:2], digest[2:4])
    assert validated(root) == (1, 1)


def test_a_profile_is_judged_on_the_bag_before_anything_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    ours = REPO / "schemas" / "archiver-bagit-profile.json"
    broken = REPO / "tests" / "data" / "bagit-profiles" / "dpn-bagit-profile.json"
    run = export(cli, SAMPLE_BAG, tmp_path / "refused", "--profile", broken, "--json")
    assert run.code == 1
    result = json.loads(run.out)
    assert result["valid"] is False
    assert "profile.tag-file.required" in {f["code"] for f in result["findings"]}
    # The bag itself was judged: bag paths, the profile named in every finding.
    assert {f["params"]["profile"] for f in result["findings"]} == {
        "https://wiki.aptrust.org/DPN_BagIt_Profile"
    }
    assert "no OCFL version was written from it" in run.err
    assert not (tmp_path / "refused").exists()
    run = export(cli, SAMPLE_BAG, tmp_path / "root", "--profile", ours)
    assert run.code == 0, run.err
    assert "  checked: export.profile (archiver export: the BagIt profile given" in run.out


def test_the_object_id_is_an_info_uri_that_gives_the_bag_id_back() -> None:
    assert object_id("a-giant-step-for-peace") == "info:archiver/a-giant-step-for-peace"
    assert object_id("ark:/12345/x y%#") == "info:archiver/ark:/12345/x%20y%25%23"
