"""archiver.bagit.writer: plain bags for exporters, valid to bagit-python and to us."""

from __future__ import annotations

from pathlib import Path

import bagit
import pytest

from archiver.bagit.writer import PayloadPart, write_bag
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
    with pytest.raises(ValueError, match=r"data/a\.txt: md5 is b1946ac9"):
        write_bag(tmp_path / "bad", parts, algorithms_=["sha256"], expected=bad)
