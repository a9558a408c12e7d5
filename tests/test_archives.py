"""Serialized bags (.tar, .tar.gz, .zip) judged in place, as their folders are (issue 13)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from archiver.bagit.archives import archive_kind, bag_id, open_archive
from archiver.packing import make_bag
from archiver.validation import validate_bag
from tests.conftest import CliRunner, watch_opens
from tests.test_conformance import BAGS, SUITE

KINDS = ("tar", "tar.gz", "zip")


# -- packing a folder the way others do -----------------------------------------------------


def pack(folder: Path, out: Path, kind: str) -> Path:
    """``folder`` as ``out``.<kind>, its one top-level folder named as the folder is; links
    stored as links, folders and files in name order."""
    target = out.with_name(f"{out.name}.{kind}")
    if kind == "zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in [folder, *sorted(folder.rglob("*"))]:
                name = path.relative_to(folder.parent).as_posix()
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    entry = zipfile.ZipInfo(name)
                    entry.create_system = 3
                    entry.external_attr = (stat.S_IFLNK | 0o777) << 16
                    archive.writestr(entry, os.readlink(path))
                elif stat.S_ISDIR(info.st_mode):
                    archive.write(path, f"{name}/")
                else:
                    archive.write(path, name)
    else:
        with tarfile.open(target, "w:gz" if kind == "tar.gz" else "w") as archive:
            archive.add(folder, arcname=folder.name)
    return target


def judged(bag: Path) -> tuple[bool, list[tuple[str, str, str]]]:
    report = validate_bag(bag, workers=1)
    return report.valid, sorted((f.code, f.path, f.severity) for f in report.findings)


# -- the LoC conformance suite, serialized ---------------------------------------------------


@pytest.fixture(scope="module")
def suite_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("suite") / "bagit-conformance-suite"
    shutil.copytree(SUITE, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("kind", KINDS)
def test_every_conformance_bag_serialized_is_judged_as_its_folder(
    suite_copy: Path, tmp_path: Path, kind: str
) -> None:
    differ = []
    for name in BAGS:
        folder = suite_copy / name
        archive = pack(folder, tmp_path / name.replace("/", "_"), kind)
        expected = judged(folder)
        found = judged(archive)
        if found != expected:
            differ.append((name, expected, found))
    assert differ == []


# -- names and kinds --------------------------------------------------------------------------


def _listing(
    archive: Path,
) -> tuple[list[tuple[str, str, int]], list[tuple[int, int] | None], list[str]]:
    files = open_archive(archive)
    entries = sorted(files.walk(), key=lambda e: e.path)
    return (
        [(e.path, e.kind.value, e.size) for e in entries],
        [files.slice_of(e.path) for e in entries],
        sorted(f"{f.code} {f.path}" for f in files.problems),
    )


def test_a_plain_tar_s_headers_read_straight_index_it_as_tarfile_does(
    suite_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast header reader and tarfile index every conformance bag's .tar alike (names,
    kinds, sizes, where the bytes lie, findings); GNU tar's archives and damaged headers
    too (the fast reader leaves what it does not take to tarfile)."""
    import subprocess

    from archiver.bagit import archives

    made = [pack(suite_copy / name, tmp_path / name.replace("/", "_"), "tar") for name in BAGS]
    gnu = tmp_path / "gnu.tar"
    subprocess.run(["tar", "--format=gnu", "-cf", gnu, "-C", suite_copy, BAGS[0]], check=True)
    bad = tmp_path / "bad.tar"
    data = bytearray(made[0].read_bytes())
    data[148] ^= 1  # the first header's checksum
    bad.write_bytes(bytes(data))
    real = archives._ustar_headers
    used: list[bool] = []

    def watched(fd: int) -> object:
        found = real(fd)
        used.append(found is not None)
        return found

    monkeypatch.setattr(archives, "_ustar_headers", watched)
    for archive in [*made, gnu, bad]:
        fast = _listing(archive)
        with monkeypatch.context() as only_tarfile:
            only_tarfile.setattr(archives, "_ustar_headers", lambda fd: None)
            assert _listing(archive) == fast, archive.name
    assert used.count(True) >= len(made) // 2  # the fast reader did take most of them
    assert used[-1] is False  # not the damaged one


def test_archive_names_tell_the_kind_and_the_bag_id() -> None:
    assert [archive_kind(n) for n in ("b.tar", "B.TAR.GZ", "b.tgz", "b.zip", "b")] == [
        "tar",
        "tgz",
        "tgz",
        "zip",
        None,
    ]
    assert [bag_id(n) for n in ("x/b1.tar", "b2.tar.gz", "b3.TGZ", "b4.zip")] == [
        "b1",
        "b2",
        "b3",
        "b4",
    ]


# -- our own bags -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("src") / "report"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("caf\u00e9 \u2014 a text\n", encoding="utf-8")
    (source / "sub" / "b.bin").write_bytes(os.urandom(3000))
    (source / "sub" / ("\u00fcber long name " + "x" * 120 + ".txt")).write_text("pax\n")
    return make_bag([source], tmp_path_factory.mktemp("out"), bag_id="own", workers=1).path


@pytest.mark.parametrize("kind", KINDS)
def test_an_archiver_bag_serialized_validates_with_its_metadata(
    own_bag: Path, tmp_path: Path, kind: str
) -> None:
    archive = pack(own_bag, tmp_path / "own", kind)
    valid, findings = judged(archive)
    assert valid, findings
    assert judged(own_bag) == (valid, findings)


@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_payload_byte_in_an_archive_is_a_checksum_mismatch(
    own_bag: Path, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "own"
    shutil.copytree(own_bag, folder)
    with open(folder / "data" / "a.txt", "r+b") as handle:
        handle.write(b"C")
    archive = pack(folder, tmp_path / "changed", kind)
    valid, findings = judged(archive)
    assert not valid
    assert ("bag.payload.checksum-mismatch", "data/a.txt", "error") in findings


def test_validating_an_archive_writes_nothing_and_reads_only_the_archive(
    own_bag: Path, tmp_path: Path, cli: CliRunner
) -> None:
    archive = pack(own_bag, tmp_path / "own", "tar.gz")
    before = sorted(p.name for p in tmp_path.iterdir())
    with watch_opens() as opened:
        run = cli("validate", "--json", archive)
    assert run.code == 0, run.out
    assert json.loads(run.out)["bags"][0]["valid"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    around = [p for p in opened if str(tmp_path) in p]
    assert around and all(Path(p) == archive for p in around), around


# -- hostile archives ---------------------------------------------------------------------------


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _tagged_bag(top: str = "b") -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """A valid little bag as tar members (payload data/a.txt)."""
    import hashlib

    payload = b"hello\n"
    digest = hashlib.sha256(payload).hexdigest()
    return [
        (_member(top, tarfile.DIRTYPE), None),
        (_member(f"{top}/bagit.txt"), b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"),
        (_member(f"{top}/bag-info.txt"), b"Payload-Oxum: 6.1\n"),
        (_member(f"{top}/manifest-sha256.txt"), f"{digest}  data/a.txt\n".encode()),
        (_member(f"{top}/data", tarfile.DIRTYPE), None),
        (_member(f"{top}/data/a.txt"), payload),
    ]


def _codes(path: Path) -> set[tuple[str, str]]:
    report = validate_bag(path, workers=1)
    return {(f.code, f.path) for f in report.findings}


def test_the_little_tar_bag_is_valid(tmp_path: Path) -> None:
    assert _codes(_tar(tmp_path / "b.tar", _tagged_bag())) == set()


HOSTILE: dict[str, tuple[list[tuple[tarfile.TarInfo, bytes | None]], tuple[str, str]]] = {
    "climbs out": (
        [(_member("b/../../evil.txt"), b"x")],
        ("bag.archive.unsafe-member", "b/../../evil.txt"),
    ),
    "absolute": ([(_member("/etc/evil"), b"x")], ("bag.archive.unsafe-member", "/etc/evil")),
    "drive letter": (
        [(_member("C:/evil.txt"), b"x")],
        ("bag.archive.unsafe-member", "C:/evil.txt"),
    ),
    "symlink": (
        [(_member("b/data/link", tarfile.SYMTYPE, linkname="/etc/passwd"), None)],
        ("bag.path.symlink", "data/link"),
    ),
    "hard link": (
        [(_member("b/data/hard", tarfile.LNKTYPE, linkname="b/data/a.txt"), None)],
        ("bag.path.special-file", "data/hard"),
    ),
    "device": (
        [(_member("b/data/dev", tarfile.CHRTYPE, devmajor=1, devminor=3), None)],
        ("bag.path.special-file", "data/dev"),
    ),
    "fifo": (
        [(_member("b/data/fifo", tarfile.FIFOTYPE), None)],
        ("bag.path.special-file", "data/fifo"),
    ),
    "duplicate": (
        [(_member("b/data/a.txt"), b"other\n")],
        ("bag.archive.duplicate-member", "data/a.txt"),
    ),
    "case clash": (
        [(_member("b/data/A.txt"), b"x")],
        ("bag.name.case-or-normalisation", "data/A.txt"),
    ),
    "second top folder": ([(_member("c/x.txt"), b"x")], ("bag.archive.top-level", "")),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_hostile_tar_member_is_a_finding(tmp_path: Path, case: str) -> None:
    extra, expected = HOSTILE[case]
    archive = _tar(tmp_path / "b.tar", [*_tagged_bag(), *extra])
    codes = _codes(archive)
    if case == "case clash":  # told on the first of the two names, as in a folder
        expected = ("bag.name.case-or-normalisation", "data/a.txt")
    assert expected in codes, codes
    assert not (tmp_path / "evil.txt").exists()


def test_a_truncated_tar_is_damaged_and_its_missing_files_told(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "b.tar", _tagged_bag())
    data = archive.read_bytes()
    cut = data.index(b"hello\n")  # inside the payload member
    archive.write_bytes(data[: cut + 3])
    codes = _codes(archive)
    assert ("bag.archive.damaged", "") in codes or ("bag.payload.unreadable", "data/a.txt") in codes


def test_a_tar_gz_that_is_no_gzip_is_damaged(tmp_path: Path) -> None:
    bad = tmp_path / "b.tar.gz"
    _tar(tmp_path / "b.tar", _tagged_bag()).rename(bad)
    assert ("bag.archive.damaged", "") in _codes(bad)


def test_a_member_longer_than_its_header_says_is_damage_not_a_crash(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "b.tar", _tagged_bag())
    data = bytearray(archive.read_bytes())
    at = data.index(b"hello\n")
    data[at : at + 6] = b"A" * 6
    data[at + 6 : at + 512] = b"B" * (512 - 6)  # the payload block, then garbage headers
    data[at + 512 : at + 1024] = b"C" * 512
    archive.write_bytes(bytes(data))
    codes = _codes(archive)
    assert ("bag.payload.checksum-mismatch", "data/a.txt") in codes or (
        "bag.archive.damaged",
        "",
    ) in codes


def _zip(path: Path, entries: list[tuple[str, bytes]], **options: object) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data, **options)  # type: ignore[arg-type]
    return path


def _zip_bag() -> list[tuple[str, bytes]]:
    return [(info.name, data) for info, data in _tagged_bag() if data is not None]


def test_a_zip_bomb_is_not_inflated(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "b.zip", [*_zip_bag(), ("b/data/bomb.bin", bytes(64 << 20))])
    codes = _codes(archive)
    assert ("bag.archive.bomb", "b/data/bomb.bin") in codes


def test_an_encrypted_zip_entry_is_a_finding(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "b.zip", _zip_bag())
    data = bytearray(archive.read_bytes())
    # set the "encrypted" flag of data/a.txt in its local header and its central record
    name = b"b/data/a.txt"
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                data[start + flag_at] |= 0x1
            start += 4
    archive.write_bytes(bytes(data))
    codes = _codes(archive)
    assert ("bag.archive.encrypted", "b/data/a.txt") in codes


def test_a_zip_with_entries_beside_the_bag_folder_has_a_top_level_finding(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "b.zip", [*_zip_bag(), ("stray.txt", b"x")])
    assert ("bag.archive.top-level", "") in _codes(archive)


def test_pax_long_and_unicode_names_are_read(tmp_path: Path) -> None:
    import hashlib

    name = "\u00fcber-" + "n" * 200 + ".txt"
    payload = b"long\n"
    members = _tagged_bag()
    members[3] = (
        _member("b/manifest-sha256.txt"),
        (
            f"{hashlib.sha256(b'hello' + bytes([10])).hexdigest()}  data/a.txt\n"
            f"{hashlib.sha256(payload).hexdigest()}  data/{name}\n"
        ).encode(),
    )
    members[2] = (_member("b/bag-info.txt"), b"Payload-Oxum: 11.2\n")
    archive = _tar(tmp_path / "b.tar", [*members, (_member(f"b/data/{name}"), payload)])
    assert _codes(archive) == set()


@pytest.mark.parametrize("make", [lambda p: p.write_bytes(b""), lambda p: p.write_bytes(b"PK")])
def test_an_empty_or_broken_zip_is_damaged(tmp_path: Path, make: Callable[[Path], None]) -> None:
    archive = tmp_path / "b.zip"
    make(archive)
    assert ("bag.archive.damaged", "") in _codes(archive)


def test_a_zip_naming_a_version_from_the_future_is_damaged(tmp_path: Path) -> None:
    """zipfile refuses a central directory entry needing zip 8.4 with NotImplementedError:
    damage, not a crash (found by the random damages below)."""
    archive = _zip(tmp_path / "b.zip", _zip_bag())
    data = bytearray(archive.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first central directory header
    data[entry + 6 : entry + 8] = (84).to_bytes(2, "little")  # version needed to extract
    archive.write_bytes(bytes(data))
    assert ("bag.archive.damaged", "") in _codes(archive)


def test_open_archive_lists_the_bag_by_bag_paths(own_bag: Path, tmp_path: Path) -> None:
    archive = pack(own_bag, tmp_path / "own", "zip")
    files = open_archive(archive)
    paths = [e.path for e in files.walk()]
    assert "bagit.txt" in paths and "data/a.txt" in paths and "own" not in paths
    with files.open("data/a.txt") as handle:
        assert handle.read() == (own_bag / "data" / "a.txt").read_bytes()


@pytest.mark.parametrize("kind", KINDS)
def test_a_big_member_is_digested_on_two_threads_and_checked(tmp_path: Path, kind: str) -> None:
    """A member above the split threshold (8 MiB) is read through the two-thread pump: its
    digests are right, and one changed byte at its end is a mismatch."""
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(9 << 20))
    bag = make_bag([source], tmp_path / "out", bag_id="big", workers=1).path
    assert judged(pack(bag, tmp_path / "fine", kind))[0]
    with open(bag / "data" / "big.bin", "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 1]))
    valid, findings = judged(pack(bag, tmp_path / "changed", kind))
    assert not valid
    assert ("bag.payload.checksum-mismatch", "data/big.bin", "error") in findings


@pytest.fixture(scope="module")
def many_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("many") / "letters"
    for index in range(90):
        folder = source / f"d{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:03}.txt").write_text(f"letter {index}\n" * (index + 1))
    return make_bag([source], tmp_path_factory.mktemp("out"), bag_id="many", workers=1).path


def test_a_tar_of_many_files_is_digested_on_worker_processes(
    many_bag: Path, tmp_path: Path
) -> None:
    """Enough small files for a pool: a .tar's members are located and digested by worker
    processes (from the tar's path and offsets); results as on one core, a change found."""
    archive = pack(many_bag, tmp_path / "many", "tar")
    assert open_archive(archive).sliceable
    one = validate_bag(archive, workers=1)
    two = validate_bag(archive, workers=2)
    assert one.valid and two.valid, two.findings
    folder = tmp_path / "changed"
    shutil.copytree(many_bag, folder / "many")
    target = next((folder / "many" / "data").rglob("f042.txt"))
    target.write_text(target.read_text().upper())
    changed = pack(folder / "many", tmp_path / "changed", "tar")
    report = validate_bag(changed, workers=2)
    assert {(f.code, f.path) for f in report.findings} >= {
        ("bag.payload.checksum-mismatch", target.relative_to(folder / "many").as_posix())
    }


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_checked_on_an_executor_gets_the_document_not_the_archive(
    many_bag: Path, tmp_path: Path, kind: str
) -> None:
    """With an executor, PREMIS is checked there: from a .tar the worker is sent where the
    document lies (ArchiveFiles.detached), from a .tar.gz its name to find it by; a zip
    keeps the check here; the verdict is the folder's."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    archive = pack(many_bag, tmp_path / "many", kind)
    sent = open_archive(archive).detached(["metadata/premis.xml", "no/such.txt"])
    if kind != "zip":  # a .tar.gz's member is found again in a pass from its start
        assert sent is not None
        sent = pickle.loads(pickle.dumps(sent))  # what a worker gets
        assert len(pickle.dumps(sent)) < 1000
        assert [e.path for e in sent.walk()] == ["metadata/premis.xml"]
        with sent.open("metadata/premis.xml") as handle:
            assert handle.read() == (many_bag / "metadata" / "premis.xml").read_bytes()
    else:
        assert sent is None
    with ThreadPoolExecutor(2) as executor:
        report = validate_bag(archive, executor=executor)
    assert report.valid, report.findings
    assert sorted((f.code, f.path) for f in report.findings) == sorted(
        (f.code, f.path) for f in validate_bag(many_bag, workers=1).findings
    )


def _profile(tmp_path: Path, serialization: str, accept: list[str]) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(
        json.dumps(
            {
                "BagIt-Profile-Info": {
                    "BagIt-Profile-Identifier": "https://example.org/p.json",
                    "Source-Organization": "Example",
                    "External-Description": "test",
                    "Version": "1",
                    "BagIt-Profile-Version": "1.4.0",
                },
                "Serialization": serialization,
                "Accept-Serialization": accept,
                "Accept-BagIt-Version": ["1.0"],
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("serialization", "accept", "kind", "expected"),
    [
        ("forbidden", [], "zip", {"profile.serialization.forbidden"}),
        ("optional", ["application/zip"], "tar", {"profile.serialization.not-accepted"}),
        ("optional", ["application/zip"], "zip", set()),
        ("required", ["application/x-tar"], "tar", set()),
        ("required", ["application/gzip"], "tar.gz", set()),
        ("required", ["application/x-tar"], "folder", {"profile.serialization.required"}),
    ],
)
def test_a_profile_s_serialization_rules_judge_archives_and_folders(
    own_bag: Path,
    tmp_path: Path,
    serialization: str,
    accept: list[str],
    kind: str,
    expected: set[str],
) -> None:
    bag = own_bag if kind == "folder" else pack(own_bag, tmp_path / "own", kind)
    profile = _profile(tmp_path, serialization, accept)
    report = validate_bag(bag, workers=1, profile=profile)
    found = {f.code for f in report.findings if f.code.startswith("profile.serialization")}
    assert found == expected


# -- bag --serialize ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tar", "tgz", "zip"])
def test_bag_serialize_is_reproducible_valid_and_extracts_to_the_folder_bag(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import bagit

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    source = tmp_path / "src" / "letters"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("caf\u00e9\n", encoding="utf-8")
    (source / "sub" / ("\u00fcber " + "n" * 120 + ".txt")).write_text("long\n")
    made = []
    for round_ in ("one", "two"):
        run = cli("bag", source, "--out", tmp_path / round_, "--id", "l", "--serialize", kind)
        assert run.code == 0, run.err
        made.append(Path(run.out.strip()))
    extension = {"tar": ".tar", "tgz": ".tar.gz", "zip": ".zip"}[kind]
    assert [p.name for p in made] == [f"l{extension}"] * 2
    assert made[0].read_bytes() == made[1].read_bytes()
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [f"l{extension}"]
    valid, findings = judged(made[0])
    assert valid and findings == [], findings
    # The same sources bagged as a folder: the archive holds exactly that folder.
    assert cli("bag", source, "--out", tmp_path / "folder", "--id", "l").code == 0
    unpacked = tmp_path / "unpacked"
    if kind == "zip":
        with zipfile.ZipFile(made[0]) as archive:
            names = archive.namelist()
            archive.extractall(unpacked)
    else:
        with tarfile.open(made[0]) as archive:
            names = archive.getnames()
            archive.extractall(unpacked, filter="data")
    folder, extracted = tmp_path / "folder" / "l", unpacked / "l"
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(extracted) for p in extracted.rglob("*") if p.is_file())
    assert all((folder / f).read_bytes() == (extracted / f).read_bytes() for f in files)
    bagit.Bag(str(extracted)).validate()
    # Tag files before the payload: bagit.txt first, then bag-info.txt, no data/ before the end.
    inside = [n.rstrip("/").split("/", 1)[1] for n in names if "/" in n.rstrip("/")]
    assert inside[:2] == ["bagit.txt", "bag-info.txt"]
    first_data = next(i for i, n in enumerate(inside) if n.startswith("data"))
    assert all(n.startswith("data") for n in inside[first_data:])


def test_bag_serialize_never_overwrites_unless_forced(tmp_path: Path, cli: CliRunner) -> None:
    source = tmp_path / "a.txt"
    source.write_text("first\n")
    assert (
        cli("bag", source, "--out", tmp_path / "out", "--id", "x", "--serialize", "zip").code == 0
    )
    archive = tmp_path / "out" / "x.zip"
    before = archive.read_bytes()
    source.write_text("second\n")
    again = cli("bag", source, "--out", tmp_path / "out", "--id", "x", "--serialize", "zip")
    assert again.code != 0 and "exists" in again.err
    assert archive.read_bytes() == before
    forced = cli(
        "bag", source, "--out", tmp_path / "out", "--id", "x", "--serialize", "zip", "--force"
    )
    assert forced.code == 0, forced.err
    assert archive.read_bytes() != before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.zip"]
    with zipfile.ZipFile(archive) as opened:
        assert opened.read("x/data/a.txt") == b"second\n"


# -- one pass over a compressed stream ------------------------------------------------------------


def test_a_tar_gz_with_its_tag_files_first_is_decompressed_once(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """archiver's own .tar.gz (tag files first) is judged in one pass: the digests are taken
    while it is indexed. One packed the other way (data/ before the manifests) takes two,
    and is judged the same."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    source = tmp_path / "src"
    source.mkdir()
    for index in range(5):
        (source / f"f{index}.txt").write_text(f"text {index}\n")
    assert (
        cli("bag", source, "--out", tmp_path / "out", "--id", "b", "--serialize", "tgz").code == 0
    )
    ours = tmp_path / "out" / "b.tar.gz"
    assert cli("bag", source, "--out", tmp_path / "folder", "--id", "b").code == 0
    theirs = pack(tmp_path / "folder" / "b", tmp_path / "theirs", "tar.gz")  # data/ first
    for archive, passes in ((ours, 1), (theirs, 2)):
        with watch_opens() as opened:
            report = validate_bag(archive, workers=1)
        assert report.valid, report.findings
        assert sum(1 for p in opened if Path(p) == archive) == passes, (archive, opened)


def test_a_tar_gz_s_big_tag_files_are_digested_while_indexed_and_read_again_when_asked(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tag files too big to keep (here: any) are digested during the index pass by the tag
    manifests met before them, so the checksums need no second pass; a big kept one (a
    manifest) is handed out once, then found again in the archive."""
    from archiver.bagit import archives

    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a text\n")
    assert (
        cli("bag", source, "--out", tmp_path / "out", "--id", "b", "--serialize", "tgz").code == 0
    )
    archive = tmp_path / "out" / "b.tar.gz"
    folder = tmp_path / "folder"
    with tarfile.open(archive) as opened:
        opened.extractall(folder, filter="data")
    metadata = ["metadata/dc.xml", "metadata/mets.xml", "metadata/premis.xml", "data/a.txt"]
    monkeypatch.setattr(archives, "_KEPT_AT_MOST", 4096)  # the manifests, not the metadata
    monkeypatch.setattr(archives, "_ONCE_FROM", 0)  # every kept file handed out once
    files = open_archive(archive)
    jobs = [(rel, ("sha256", "sha512")) for rel in metadata]
    with watch_opens() as opened_files:
        found = dict(files.digests_in_order(jobs))
    assert str(archive) not in opened_files  # no second pass
    for index, rel in enumerate(metadata):
        data = (folder / "b" / rel).read_bytes()
        assert found[index] == {n: hashlib.new(n, data).hexdigest() for n in ("sha256", "sha512")}
    manifest_bytes = (folder / "b" / "manifest-sha256.txt").read_bytes()
    for _ in range(2):  # from memory, then from the archive again
        with files.open("manifest-sha256.txt") as handle:
            assert handle.read() == manifest_bytes
    assert validate_bag(archive, workers=1).valid


def test_a_compressed_payload_declaring_more_than_its_oxum_is_not_inflated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each entry under the ratio cap, all of them far more than Payload-Oxum says (the slack,
    1 GiB, made 1 MiB here): a bomb of many entries. Nothing of the payload is inflated; the
    tag files are still checked."""
    from archiver.check import bag as bag_rules

    monkeypatch.setattr(bag_rules, "_BOMB_SLACK", 1 << 20)
    archive = _zip(tmp_path / "b.zip", [*_zip_bag(), ("b/data/more.bin", os.urandom(2 << 20))])
    report = validate_bag(archive, workers=1)
    codes = {(f.code, f.path) for f in report.findings}
    assert ("bag.archive.bomb", "") in codes
    assert ("bag.bag-info.oxum-mismatch", "bag-info.txt") in codes
    assert not any(code == "bag.payload.checksum-mismatch" for code, _ in codes)


# -- damaged archives: a finding, never an exception ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_randomly_damaged_archives_give_findings_never_exceptions(
    own_bag: Path, tmp_path: Path, kind: str
) -> None:
    """Cut short anywhere, or with bytes changed anywhere (header, data, central directory,
    gzip trailer): validation returns a report -- never an exception, never a hang -- and the
    damage shows as an error."""
    import random

    rng = random.Random(f"damaged-{kind}")
    whole = pack(own_bag, tmp_path / "own", kind).read_bytes()
    target = tmp_path / f"damaged.{kind}"
    for attempt in range(200):
        data = bytearray(whole)
        if attempt % 2:
            del data[rng.randrange(1, len(data)) :]
        else:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(data))
        report = validate_bag(target, workers=1)
        if attempt % 2 and len(data) < len(whole) // 2:  # the payload, at the end, is gone
            assert not report.valid, (attempt, report.findings)


def test_a_zip64_bag_of_more_than_65535_entries_is_read_whole(tmp_path: Path) -> None:
    """Past the 16-bit entry count of a plain zip (zip64's end record carries the count):
    every entry is indexed and the bag judged, a changed one found."""
    import hashlib

    count = 66_000
    lines, entries = [], []
    for index in range(count):
        data = f"{index}\n".encode()
        rel = f"data/d{index % 100:02}/f{index:05}.txt"
        entries.append((f"b/{rel}", data))
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {rel}\n")
    entries[123] = (entries[123][0], b"changed\n")
    size = sum(len(f"{index}\n") for index in range(count))
    tags = [
        ("b/bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"),
        ("b/bag-info.txt", f"Payload-Oxum: {size}.{count}\n".encode()),
        ("b/manifest-sha256.txt", "".join(lines).encode()),
    ]
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for name, data in [*tags, *entries]:
            out.writestr(name, data)
    assert len(open_archive(archive)._members) == count + 3
    report = validate_bag(archive, workers=1)
    found = {(f.code, f.path) for f in report.findings}
    assert found >= {("bag.payload.checksum-mismatch", "data/d23/f00123.txt")}
    assert not any(code.startswith("bag.archive") for code, _ in found), found
