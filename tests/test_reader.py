"""The one bag reader: what it makes of a bag, and what it refuses to be led into."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.bagit.files import FolderFiles, Kind
from archiver.bagit.reader import read_bag, read_labelled
from archiver.validation import validate_bag
from tests.conftest import CliRunner
from tests.corrupt import bury_beyond_path_max
from tests.foreign import LATIN1_ELEMENTS, LATIN1_PAYLOAD, make_latin1_bag


def test_bag_info_is_decoded_as_declared_with_continuations_folded_and_repeats_kept(
    tmp_path: Path,
) -> None:
    bag = read_bag(make_latin1_bag(tmp_path / "bag"))
    assert bag.declaration.encoding == "ISO-8859-1"
    assert bag.items()[:-1] == LATIN1_ELEMENTS
    assert bag.values("contact-name") == ["Zoë Müller", "François Lefèvre"]
    assert bag.value("Payload-Oxum") is not None
    assert [p.code for p in bag.problems] == ["bag.declaration.encoding-not-utf8"]


def test_validate_json_shows_bag_info_as_the_reader_saw_it(tmp_path: Path, cli: CliRunner) -> None:
    root = make_latin1_bag(tmp_path / "bag")
    run = cli("validate", "--json", root)
    assert run.code == 0, run.out
    [report] = json.loads(run.out)["bags"]
    assert [tuple(pair) for pair in report["bag_info"][:-1]] == LATIN1_ELEMENTS


def test_the_model_holds_every_manifest_by_algorithm_with_paths_decoded(tmp_path: Path) -> None:
    bag = read_bag(make_latin1_bag(tmp_path / "bag"))
    assert [(m.name, m.tag) for m in bag.manifests] == [
        ("manifest-sha256.txt", False),
        ("manifest-sha512.txt", False),
        ("tagmanifest-sha256.txt", True),
        ("tagmanifest-sha512.txt", True),
    ]
    assert set(bag.payload_manifests()[0].entries) == set(LATIN1_PAYLOAD)
    assert dict(bag.inventory.payload) == {rel: len(data) for rel, data in LATIN1_PAYLOAD.items()}


def test_a_fetch_file_is_read_into_entries(tmp_path: Path) -> None:
    root = make_latin1_bag(tmp_path / "bag")
    (root / "fetch.txt").write_bytes(
        b"https://example.org/a.bin 12 data/a.bin\nhttps://example.org/b - data/50%25.bin\n"
    )
    bag = read_bag(root)
    assert [(e.url, e.length, e.path) for e in bag.fetch] == [
        ("https://example.org/a.bin", 12, "data/a.bin"),
        ("https://example.org/b", None, "data/50%.bin"),
    ]


def test_other_labelled_tag_files_are_read_in_the_declared_encoding(tmp_path: Path) -> None:
    root = make_latin1_bag(tmp_path / "bag")
    (root / "aptrust-info.txt").write_bytes("Title: Étude\nAccess: Institution\n".encode("latin-1"))
    elements, problems = read_labelled(read_bag(root), "aptrust-info.txt")
    assert [(e.label, e.value) for e in elements] == [("Title", "Étude"), ("Access", "Institution")]
    assert problems == []


@pytest.mark.parametrize(
    "encoding",
    # "UTF-\x008": a NUL in the name made codecs.lookup raise ValueError (found by the
    # random damages of tests/test_archives.py)
    ["hex", "base64", "rot13", "zlib", "bz2", "uu", "punycode", "idna", "no-such", "UTF-\x008"],
)
def test_a_declared_encoding_that_is_no_character_set_is_a_finding_not_a_crash(
    tmp_path: Path, cli: CliRunner, encoding: str
) -> None:
    root = make_latin1_bag(tmp_path / "bag")
    (root / "bagit.txt").write_text(
        f"BagIt-Version: 1.0\nTag-File-Character-Encoding: {encoding}\n", encoding="ascii"
    )
    bag = read_bag(root)
    assert "bag.declaration.encoding-unknown" in [p.code for p in bag.problems]
    run = cli("validate", "--json", root)
    assert run.code == 1
    codes = [f["code"] for f in json.loads(run.out)["bags"][0]["findings"]]
    assert "bag.declaration.encoding-unknown" in codes


def test_folders_nested_far_deeper_than_the_recursion_limit_are_listed(tmp_path: Path) -> None:
    root = make_latin1_bag(tmp_path / "bag")
    fd = os.open(root / "data", os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1200):  # one level at a time: pathlib's mkdir recurses
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    leaf = os.open("end.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"bottom\n")
    os.close(leaf)
    os.close(fd)
    try:
        bag = read_bag(root)
        assert f"data/{'d/' * 1200}end.txt" in bag.inventory.payload
        report = validate_bag(root)
        assert "bag.manifest.file-unlisted" in [f.code for f in report.findings]
    finally:
        _remove_chain(root / "data", 1200)


def _remove_chain(top: Path, depth: int) -> None:
    """Remove top/d/d/.../end.txt bottom-up (shutil.rmtree recurses, and would fail here)."""
    fds = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    for _ in range(depth):
        fds.append(os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
    os.unlink("end.txt", dir_fd=fds[-1])
    for inner, outer in zip(reversed(fds[1:]), reversed(fds[:-1]), strict=True):
        os.close(inner)
        os.rmdir("d", dir_fd=outer)
    os.close(fds[0])


def test_the_walk_reports_links_and_special_files_without_following_them(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = make_latin1_bag(tmp_path / "bag")
    os.symlink(outside, root / "data" / "linked")
    os.mkfifo(root / "data" / "pipe")
    kinds = {entry.path: entry.kind for entry in FolderFiles(root).walk()}
    assert kinds["data/linked"] is Kind.SYMLINK
    assert kinds["data/pipe"] is Kind.SPECIAL
    assert not any(path.startswith("data/linked/") for path in kinds)
    bag = read_bag(root)
    assert {p.code for p in bag.problems} >= {"bag.path.symlink", "bag.path.special-file"}


def test_no_file_is_opened_through_a_link_at_the_end_or_in_the_middle_of_its_path(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = make_latin1_bag(tmp_path / "bag")
    os.symlink(outside, root / "metadata")
    os.symlink(outside / "secret.txt", root / "bag-info-link.txt")
    files = FolderFiles(root)
    for path, why in (
        ("metadata/secret.txt", "through a symbolic link"),
        ("bag-info-link.txt", "Too many levels of symbolic links"),
        ("../outside/secret.txt", "not a path inside the bag"),
    ):
        with pytest.raises(OSError, match=why):
            files.open(path)
    with files.open("bag-info.txt") as handle:
        assert handle.read(7) == b"Source-"


def test_an_unreadable_folder_is_reported_and_the_rest_still_read(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads every folder whatever its mode: a path too long to stat is the
        # unreadable entry root meets.
        root = make_latin1_bag(tmp_path / "bag")
        bury_beyond_path_max(root / "data")
    else:
        root = make_latin1_bag(tmp_path / "bag")
        locked = root / "data" / "locked"
        locked.mkdir()
        locked.chmod(0)
    bag = read_bag(root)
    assert bag.inventory.unreadable
    assert "bag.payload.unreadable" in [p.code for p in bag.problems]
    assert set(LATIN1_PAYLOAD) <= set(bag.inventory.payload)


def test_a_catalog_reads_a_bag_without_listing_its_payload(tmp_path: Path) -> None:
    """payload=False: data/ is seen, what it holds is never listed (a catalog serving a
    record of a bag of a million files lists none of them)."""
    root = make_latin1_bag(tmp_path / "bag")
    for number in range(50):
        (root / "data" / f"extra-{number}").mkdir()
    listed = [entry.path for entry in FolderFiles(root).walk(payload=False)]
    assert "data" in listed and not [p for p in listed if p.startswith("data/")]
    bag = read_bag(root, manifests=False, fetch_txt=False, payload=False)
    whole = read_bag(root)
    assert bag.inventory.payload == {} and bag.inventory.has_payload_dir
    assert bag.inventory.tags == whole.inventory.tags
    assert bag.items() == whole.items()


_DIGEST = st.sampled_from(["a" * 64, "B" * 64, "c" * 63, "0" * 128, "d" * 64 + "x"])
_SEPARATOR = st.sampled_from([" ", "  ", "   ", "\t", " \t"])
_PATH = st.one_of(
    st.sampled_from(
        [
            "data/a.txt",
            "data/sub/b c.txt",
            "data/../x",
            "data/%25x",
            "data/%",
            "./data/a.txt",
            "*data/a.txt",
            "bagit.txt",
            "data/\u2028line",
            "data/\x85nel",
            "data/tab\tin",
            "data/back\\slash",
            "data/caf\u00e9",
            "data/trailing ",
            "",
        ]
    ),
    st.text(alphabet="ad/ .%\\\u00e9", min_size=1, max_size=12).map(lambda t: "data/" + t),
)
_ENDING = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])


@given(
    lines=st.lists(st.tuples(_DIGEST, _SEPARATOR, _PATH, _ENDING), max_size=8),
    bom=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_a_payload_manifest_read_whole_gives_what_reading_it_line_by_line_gives(
    lines: list[tuple[str, str, str, str]], bom: bool
) -> None:
    """A payload manifest as a writer makes it is parsed whole, in C; any other goes line
    by line. Whichever way it goes, the entries and every finding are the same."""
    import tempfile

    from archiver.bagit import manifest

    text = "".join(d + s + p + e for d, s, p, e in lines)
    with tempfile.TemporaryDirectory() as folder:
        bag = Path(folder)
        (bag / "data").mkdir()
        (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        (bag / "manifest-sha256.txt").write_bytes(
            (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
        )
        fast = read_bag(bag)
        whole = manifest.read_plain_payload

        def line_by_line(handle: BinaryIO, digest_length: int) -> dict[str, str] | None:
            return None  # no manifest is taken whole: every line is read one by one

        try:
            manifest.read_plain_payload = line_by_line
            slow = read_bag(bag)
        finally:
            manifest.read_plain_payload = whole
    assert [m.entries for m in fast.manifests] == [m.entries for m in slow.manifests]
    assert fast.problems == slow.problems
