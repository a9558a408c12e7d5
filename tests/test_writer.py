"""archiver.bagit.writer: plain bags for exporters, valid to bagit-python and to us."""

from __future__ import annotations

import os
from pathlib import Path

import bagit
import pytest

from archiver.bagit.reader import read_bag
from archiver.bagit.writer import BagWriter, PayloadPart, write_bag
from archiver.errors import DigestMismatchError
from archiver.validation import validate_bag


def _parts(tmp_path: Path) -> list[PayloadPart]:
    source = tmp_path / "a.txt"
    source.write_bytes(b"hello\n")
    return [
        PayloadPart("data/a.txt", source=source),
        PayloadPart("data/sub dir/b.txt", content=b"bee"),
    ]


def test_written_bag_is_valid_to_both_validators(tmp_path: Path) -> None:
    root = tmp_path / "bag"
    digests = write_bag(
        root,
        _parts(tmp_path),
        algorithms_=["md5", "sha256"],
        bag_info=[("Source-Organization", "Example")],
        tag_files={"aptrust-info.txt": b"Title: A title\n"},
    )
    assert digests["data/a.txt"]["md5"] == "b1946ac92492d2347c6235b4d2611184"
    assert set(digests["data/sub dir/b.txt"]) == {"md5", "sha256"}
    reference = bagit.Bag(str(root))
    reference.validate()
    assert sorted(reference.algorithms) == ["md5", "sha256"]
    assert validate_bag(root).valid
    info = (root / "bag-info.txt").read_text()
    assert info == "Source-Organization: Example\nPayload-Oxum: 9.2\n"
    tag_manifest = (root / "tagmanifest-sha256.txt").read_text()
    assert "aptrust-info.txt" in tag_manifest
    assert "data/" not in tag_manifest
    assert "data/sub dir/b.txt" in (root / "manifest-md5.txt").read_text()


def test_tag_algorithms_can_differ_from_payload_algorithms(tmp_path: Path) -> None:
    root = tmp_path / "bag"
    write_bag(root, _parts(tmp_path), algorithms_=["sha512"], tag_algorithms=["sha256"])
    names = sorted(p.name for p in root.iterdir() if p.is_file())
    assert names == ["bag-info.txt", "bagit.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt"]
    assert validate_bag(root).valid


def test_expected_digests_are_checked_while_copying(tmp_path: Path) -> None:
    parts = _parts(tmp_path)
    good = {"data/a.txt": {"md5": "b1946ac92492d2347c6235b4d2611184"}}
    write_bag(tmp_path / "ok", parts, algorithms_=["sha256"], expected=good)
    assert "md5" not in (tmp_path / "ok" / "manifest-sha256.txt").read_text()
    bad = {"data/a.txt": {"md5": "0" * 32}}
    with pytest.raises(DigestMismatchError, match=r"data/a\.txt: md5 is b1946ac9"):
        write_bag(tmp_path / "bad", parts, algorithms_=["sha256"], expected=bad)


def test_a_staged_bag_appears_whole_on_commit_and_not_at_all_on_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with BagWriter.staged(out, ["sha256"]) as writer:
        writer.write_payload(_parts(tmp_path))
        writer.write_tag_file("metadata/notes.txt", lambda stream: stream.write(b"streamed\n"))
        writer.write_tag_file("metadata/pieces.txt", ["one ", "two\n"])
        writer.finish([("Source-Organization", "Example")])
        assert os.listdir(out) != ["bag"]  # still hidden while being built
        writer.commit(out / "bag")
    assert os.listdir(out) == ["bag"]
    assert (out / "bag" / "metadata" / "pieces.txt").read_bytes() == b"one two\n"
    assert "metadata/notes.txt" in (out / "bag" / "tagmanifest-sha256.txt").read_text()
    assert validate_bag(out / "bag").valid

    def interrupted() -> None:
        with BagWriter.staged(out, ["sha256"]) as writer:
            writer.write_payload(_parts(tmp_path))
            assert len(os.listdir(out)) == 2  # the bag, and the hidden one being built
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert os.listdir(out) == ["bag"]


def test_the_writer_keeps_the_files_it_owns_to_itself(tmp_path: Path) -> None:
    writer = BagWriter(tmp_path / "bag", ["sha256"])
    for path in ("bagit.txt", "bag-info.txt", "manifest-md5.txt", "tagmanifest-sha1.txt", "data/x"):
        with pytest.raises(ValueError, match="not a tag file"):
            writer.write_tag_file(path, b"x")
    with pytest.raises(ValueError, match="not a new payload path"):
        writer.write_payload([PayloadPart("elsewhere/a.txt", content=b"a")])
    with pytest.raises(ValueError, match="finished, staged"):
        writer.commit(tmp_path / "there")


def test_every_mismatch_is_named_at_once(tmp_path: Path) -> None:
    parts = [
        PayloadPart("data/a", content=b"a", expected={"md5": "0" * 32}),
        PayloadPart("data/b", content=b"b", expected={"sha256": "1" * 64}),
        PayloadPart("data/c", content=b"c", expected={"unknown-algorithm": "zz"}),
    ]
    with pytest.raises(DigestMismatchError) as caught:
        BagWriter(tmp_path / "bag", ["sha512"]).write_payload(parts)
    assert [(path, name) for path, name, _, _ in caught.value.mismatches] == [
        ("data/a", "md5"),
        ("data/b", "sha256"),
    ]


def test_bag_info_values_with_line_breaks_are_written_as_continuation_lines(
    tmp_path: Path,
) -> None:
    root = tmp_path / "bag"
    value = "Rapport annuel,\nédition de 1998"
    write_bag(
        root, _parts(tmp_path), algorithms_=["sha256"], bag_info=[("External-Description", value)]
    )
    assert (
        (root / "bag-info.txt")
        .read_bytes()
        .startswith("External-Description: Rapport annuel,\n édition de 1998\n".encode())
    )
    assert read_bag(root).value("External-Description") == value
    bagit.Bag(str(root)).validate()
