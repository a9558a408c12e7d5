"""archiver export --to aptrust: a tarred bag as APTrust's ingest (and DART) accepts it."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import bagit
import pytest

from archiver.check.profile import Serialization, load_profile
from archiver.clock import Clock
from archiver.errors import PackageCheckError
from archiver.export import aptrust
from archiver.export.base import Options, PackageCheck
from archiver.export.source import read_source
from archiver.validation import validate_bag
from archiver.version import AGENT
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, listing, write_tree
from tests.corrupt import drop_manifest_line, flip_byte, reseal_tag_manifests

PROFILES = REPO / "tests" / "data" / "bagit-profiles"
APTRUST_ID = "https://raw.githubusercontent.com/APTrust/preservation-services/master/profiles/aptrust-v2.3.json"
FOO_ID = "http://www.library.yale.edu/mssa/bagitprofiles/disk_images.json"
BTR_ID = "https://github.com/dpscollaborative/btr_bagit_profile/releases/download/1.0/btr-bagit-profile.json"
SAMPLE_TITLE = "A giant step for peace"
NAME = "example.edu.giant-step"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The committed sample bag, copied (tests never touch the repository's own)."""
    return Path(shutil.copytree(REPO / "bags" / "a-giant-step-for-peace", tmp_path / "sample"))


def _bag(cli: CliRunner, tmp_path: Path, files: dict[str, bytes | str], **record: object) -> Path:
    """A bag made by ``archiver bag`` from ``files``, with ``record`` as its metadata."""
    source = write_tree(tmp_path / "source", files)
    args: list[str | Path] = [source, "--out", tmp_path / "bags", "--id", "multi"]
    if record:
        (tmp_path / "record.json").write_text(json.dumps(record), encoding="utf-8")
        args += ["--metadata", tmp_path / "record.json"]
    run = cli("bag", *args)
    assert run.code == 0, run.err
    return tmp_path / "bags" / "multi"


@pytest.fixture
def multi(cli: CliRunner, tmp_path: Path) -> Path:
    """A bag of nested folders, made without a record: no Source-Organization, no description."""
    return _bag(
        cli,
        tmp_path,
        {
            "a.txt": "hello\nworld\n",
            "sub/b.bin": bytes(range(256)),
            "sub/deeper/c d.md": "# é\n",
        },
    )


def _export(cli: CliRunner, bag: Path, out: Path, *extra: str | Path) -> str:
    run = cli("export", bag, "--to", "aptrust", "--out", out, *extra)
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == str(out)
    return run.out


def _unpack(tar: Path, into: Path) -> Path:
    with tarfile.open(tar) as archive:
        archive.extractall(into, filter="data")
    return into / tar.name.removesuffix(".tar")


def _members(tar: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(tar) as archive:
        return archive.getmembers()


def _tag_lines(path: Path) -> list[tuple[str, str]]:
    return [
        (label, value)
        for label, _, value in (
            line.partition(": ") for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]


# -- what is written -----------------------------------------------------------------------


def test_the_sample_becomes_one_tar_that_unpacks_to_a_folder_named_as_the_tar(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"{NAME}.tar"
    _export(cli, sample, out)
    members = _members(out)
    assert [m.name for m in members] == [  # tag files first, then the payload
        NAME,
        f"{NAME}/bagit.txt",
        f"{NAME}/bag-info.txt",
        f"{NAME}/manifest-md5.txt",
        f"{NAME}/manifest-sha256.txt",
        f"{NAME}/tagmanifest-md5.txt",
        f"{NAME}/tagmanifest-sha256.txt",
        f"{NAME}/aptrust-info.txt",
        f"{NAME}/metadata",
        f"{NAME}/metadata/dc.xml",
        f"{NAME}/metadata/mets.xml",
        f"{NAME}/metadata/premis.xml",
        f"{NAME}/data",
        f"{NAME}/data/a-giant-step-for-peace.txt",
    ]
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == BAGS_EPOCH
        assert member.type in (tarfile.DIRTYPE, tarfile.REGTYPE)
        assert member.mode == (0o755 if member.isdir() else 0o644)
    assert out.read_bytes()[257:265] == b"ustar\x0000"  # POSIX (pax) headers, not GNU
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, "sample"]  # nothing else


def test_bagit_and_the_tag_files_say_what_aptrust_asks_for(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    bag = _unpack(_export_to(cli, sample, tmp_path), tmp_path)
    assert (bag / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    # in the order of APTrust's profile, as DART and `archiver bag --profile` write them
    assert _tag_lines(bag / "aptrust-info.txt") == [
        ("Title", SAMPLE_TITLE),
        ("Access", "Institution"),
        (
            "Description",
            "Newspaper editorial on the meeting of Kim Jong Un and Donald Trump at the Singapore "
            "summit of 12 June 2018, calling for an end to sanctions and for the normalisation "
            "of relations between the United States and the DPRK.",
        ),
        ("Storage-Option", "Standard"),
    ]
    description = "A newspaper editorial, kept bit for bit as the archiver project's first bag."
    assert _tag_lines(bag / "bag-info.txt") == [
        ("External-Identifier", "a-giant-step-for-peace"),
        ("Source-Organization", "archiver sample collection"),
        ("External-Description", description),
        ("Bag-Group-Identifier", "editorials"),
        ("Internal-Sender-Identifier", "a-giant-step-for-peace"),
        ("Internal-Sender-Description", description),
        ("Bagging-Date", "2026-11-27"),
        ("Bag-Software-Agent", AGENT),
        ("BagIt-Profile-Identifier", APTRUST_ID),
        ("Payload-Oxum", "3528.1"),
    ]
    assert not (bag / "fetch.txt").exists()
    for name in ("dc.xml", "mets.xml", "premis.xml"):
        assert (bag / "metadata" / name).read_bytes() == (sample / "metadata" / name).read_bytes()
    text = (sample / "data" / "a-giant-step-for-peace.txt").read_bytes()
    assert (bag / "data" / "a-giant-step-for-peace.txt").read_bytes() == text
    assert (bag / "manifest-md5.txt").read_text() == (
        f"{hashlib.md5(text).hexdigest()}  data/a-giant-step-for-peace.txt\n"
    )
    listed = (bag / "tagmanifest-sha256.txt").read_text()
    for name in ("aptrust-info.txt", "bag-info.txt", "metadata/mets.xml", "manifest-md5.txt"):
        assert f"  {name}\n" in listed


def _export_to(cli: CliRunner, bag: Path, tmp_path: Path) -> Path:
    out = tmp_path / "exports" / f"{NAME}.tar"
    out.parent.mkdir(exist_ok=True)
    _export(cli, bag, out)
    return out


def test_the_unpacked_bag_is_valid_to_bagit_python_and_to_archiver(
    cli: CliRunner, sample: Path, multi: Path, tmp_path: Path
) -> None:
    logging.getLogger("bagit").setLevel(logging.CRITICAL)
    for number, source in enumerate((sample, multi)):
        out = tmp_path / f"v{number}" / f"{NAME}.tar"
        out.parent.mkdir()
        _export(cli, source, out)
        bag = _unpack(out, tmp_path / f"u{number}")
        reference = bagit.Bag(str(bag))
        reference.validate()
        assert sorted(reference.algorithms) == ["md5", "sha256"]
        assert validate_bag(bag).valid


def test_a_bag_of_nested_folders_keeps_every_file_and_folder_byte_for_byte(
    cli: CliRunner, multi: Path, tmp_path: Path
) -> None:
    out = _export_to(cli, multi, tmp_path)
    names = [m.name.removeprefix(f"{NAME}/") for m in _members(out)]
    assert [n for n in names if n.startswith("data")] == [
        "data",
        "data/a.txt",
        "data/sub",
        "data/sub/b.bin",
        "data/sub/deeper",
        "data/sub/deeper/c d.md",
    ]
    bag = _unpack(out, tmp_path / "unpacked")
    for rel in ("data/a.txt", "data/sub/b.bin", "data/sub/deeper/c d.md"):
        assert (bag / rel).read_bytes() == (multi / rel).read_bytes()
    sha256 = (bag / "manifest-sha256.txt").read_text()
    assert sha256 == "".join(
        f"{hashlib.sha256((multi / rel).read_bytes()).hexdigest()}  {rel}\n"
        for rel in ("data/a.txt", "data/sub/b.bin", "data/sub/deeper/c d.md")
    )
    info = dict(_tag_lines(bag / "bag-info.txt"))
    assert info["Payload-Oxum"] == f"{12 + 256 + len('# é'.encode()) + 1}.3"
    # The title archiver derived from the folder's name; no description, so none written.
    assert _tag_lines(bag / "aptrust-info.txt") == [
        ("Title", "source"),
        ("Access", "Institution"),
        ("Storage-Option", "Standard"),
    ]


def test_a_bag_without_source_organization_is_exported_without_one(
    cli: CliRunner, multi: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"{NAME}.tar"
    lines = _export(cli, multi, out)
    info = dict(_tag_lines(_unpack(out, tmp_path / "unpacked") / "bag-info.txt"))
    assert "Source-Organization" not in info
    assert info["Internal-Sender-Identifier"] == "multi"
    # Only recommended by APTrust: told as a notice (on stderr), not an error.
    assert "checked: export.aptrust.source-organization" not in lines
    run = cli("export", multi, "--to", "aptrust", "--out", tmp_path / "again.tar", "--json")
    [notice] = json.loads(run.out)["findings"]
    assert (notice["code"], notice["severity"]) == ("export.aptrust.source-organization", "info")
    assert notice["path"] == "again/bag-info.txt"


def test_access_and_storage_option_come_from_the_source_bag_info(
    cli: CliRunner, tmp_path: Path
) -> None:
    source = _bag(
        cli,
        tmp_path,
        {"a.txt": "text\n"},
        title="Minutes",
        **{"bag-info": {"Access": "restricted", "Storage-Option": "Glacier-Deep-OR"}},
    )
    out = tmp_path / f"{NAME}.tar"
    _export(cli, source, out)
    bag = _unpack(out, tmp_path / "unpacked")
    assert _tag_lines(bag / "aptrust-info.txt") == [
        ("Title", "Minutes"),
        ("Access", "Restricted"),
        ("Storage-Option", "Glacier-Deep-OR"),
    ]
    labels = [label for label, _ in _tag_lines(bag / "bag-info.txt")]
    assert "Access" not in labels and "Storage-Option" not in labels


def test_the_same_bag_and_source_date_epoch_give_a_byte_identical_tar(
    cli: CliRunner, multi: Path, tmp_path: Path
) -> None:
    outs = [tmp_path / name / f"{NAME}.tar" for name in ("one", "two", "three")]
    for out in outs:
        out.parent.mkdir()
    _export(cli, multi, outs[0])
    _export(cli, multi, outs[1])
    assert (
        cli("export", multi, "--to", "aptrust", "--out", outs[2], epoch=BAGS_EPOCH + 86400).code
        == 0
    )
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()
    assert {m.mtime for m in _members(outs[2])} == {BAGS_EPOCH + 86400}


# -- what is refused -----------------------------------------------------------------------


NO_TITLE = (
    "APTrust's profile: 1 problem: aptrust-info.txt/Title: the profile requires it; none is "
    "given, and the record has no dc:title; nothing exported"
)


def _refused(cli: CliRunner, bag: Path, out: Path, code: int, *extra: str | Path) -> str:
    before = listing(out.parent)
    run = cli("export", bag, "--to", "aptrust", "--out", out, *extra)
    assert run.code == code, run.err
    if code == 2:
        assert run.out == ""
    assert listing(out.parent) == before  # nothing written, no staging folder left
    return run.err


def test_a_bag_whose_dublin_core_has_no_title_is_refused_and_nothing_written(
    cli: CliRunner, multi: Path, tmp_path: Path
) -> None:
    # archiver bag always gives a title (here the folder's name), so the
    # bag's DC record loses its dc:title afterwards, the tag manifests resealed: a valid bag
    # whose Dublin Core has no title, as another tool may make.
    dc = multi / "metadata" / "dc.xml"
    dc.write_text(dc.read_text(encoding="utf-8").replace("  <dc:title>source</dc:title>\n", ""))
    reseal_tag_manifests(multi)
    assert validate_bag(multi).valid
    (tmp_path / "exports").mkdir()
    err = _refused(cli, multi, tmp_path / "exports" / f"{NAME}.tar", 2)
    assert NO_TITLE in err


def test_a_foreign_bag_without_title_is_refused_and_one_with_title_exported(
    cli: CliRunner, tmp_path: Path
) -> None:
    # A bagit-python bag carries no Dublin Core: its title can only come from a Title label.
    root = write_tree(tmp_path / "foreign", {"minutes.txt": "Minutes of the meeting\n"})
    bagit.make_bag(str(root), {"Source-Organization": "Example Archive"})
    (tmp_path / "exports").mkdir()
    err = _refused(cli, root, tmp_path / "exports" / f"{NAME}.tar", 2)
    assert NO_TITLE in err
    info = root / "bag-info.txt"
    info.write_text(info.read_text(encoding="utf-8") + "Title: Minutes, 3 March 1999\n")
    bagit.Bag(str(root)).save(manifests=False)
    out = tmp_path / "exports" / f"{NAME}.tar"
    run = cli("export", root, "--to", "aptrust", "--out", out)
    assert run.code == 0, run.err
    with tarfile.open(out) as tar:
        member = tar.extractfile(f"{NAME}/aptrust-info.txt")
        assert member is not None
        assert "Title: Minutes, 3 March 1999\n" in member.read().decode()


def test_an_invalid_source_bag_exits_1_and_nothing_is_written(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    flip_byte(sample / "data" / "a-giant-step-for-peace.txt", 100)
    (tmp_path / "exports").mkdir()
    err = _refused(cli, sample, tmp_path / "exports" / f"{NAME}.tar", 1)
    assert "is not a valid bag" in err


def test_an_existing_out_exits_2_and_is_left_as_it_was(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "exports" / f"{NAME}.tar"
    out.parent.mkdir()
    out.write_bytes(b"someone else's tar")
    err = _refused(cli, sample, out, 2)
    assert "already exists" in err
    assert out.read_bytes() == b"someone else's tar"


@pytest.mark.parametrize(
    ("out_name", "reason"),
    [
        ("giant-step.zip", "APTrust takes a tar file named NAME.tar"),
        ("-giant.tar", "begins with '-'"),
        (".tar", "is empty"),
    ],
)
def test_an_out_name_aptrust_cannot_take_exits_2(
    cli: CliRunner, sample: Path, tmp_path: Path, out_name: str, reason: str
) -> None:
    (tmp_path / "exports").mkdir()
    assert reason in _refused(cli, sample, tmp_path / "exports" / out_name, 2)


def test_a_payload_file_name_aptrust_refuses_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    source = _bag(cli, tmp_path, {"a.txt": "text\n", "-notes.txt": "notes\n"})
    (tmp_path / "exports").mkdir()
    err = _refused(cli, source, tmp_path / "exports" / f"{NAME}.tar", 2)
    assert "data/-notes.txt: begins with '-'" in err


# APTrust's ingest (preservation-services util/util.go) rejects a name holding what Go's
# unicode.IsControl calls a control (C0, DEL and C1, U+0080-U+009F: ContainsControlCharacter)
# or the text of an escaped one (ContainsEscapedControl: \\u0000-\\u001f, \\u007f,
# \\u0080-\\u009f), and reads manifest paths literally, so a '%' (written '%25' by RFC 8493)
# names a file it cannot find.
REFUSED_NAMES = {
    "c1-control": ("c1\u0090.txt", "a control character (U+0090)"),
    "escaped-control-text": ("esc\\u001b.txt", "the text of an escaped control character"),
    "escaped-control-text-upper": ("esc\\U009F.txt", "the text of an escaped control character"),
    "percent": ("50% off.txt", "'%'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_NAMES))
def test_a_name_aptrust_ingest_rejects_is_refused_up_front_naming_the_file_and_rule(
    cli: CliRunner, tmp_path: Path, case: str
) -> None:
    name, reason = REFUSED_NAMES[case]
    source = _bag(cli, tmp_path, {"a.txt": "text\n", f"sub/{name}": "x\n"})
    assert validate_bag(source).valid
    (tmp_path / "exports").mkdir()
    err = _refused(cli, source, tmp_path / "exports" / f"{NAME}.tar", 2)
    assert err.count("\n") == 1  # one line
    assert "export.aptrust.file-name" in err  # the rule, by its code
    assert reason in err
    assert "data/sub/" in err and "a.txt" not in err  # the file, and only it
    assert not any(0x80 <= ord(c) < 0xA0 for c in err)  # shown escaped on the terminal


@pytest.mark.parametrize(
    "name",
    ["nb\u00a0sp.txt", "esc\\x1b.txt", "esc\\u0020.txt", "a+b.txt"],
    ids=["no-break-space", "escaped-x-text", "escaped-printable", "plus"],
)
def test_a_name_aptrust_ingest_takes_is_exported(cli: CliRunner, tmp_path: Path, name: str) -> None:
    # U+00A0 is no control to Go's unicode.IsControl; ContainsEscapedControl matches only
    # \\u (or \\U) escapes of controls, not \\x1b nor \\u0020.
    source = _bag(cli, tmp_path, {"a.txt": "text\n", name: "x\n"})
    out = tmp_path / f"{NAME}.tar"
    _export(cli, source, out)
    assert f"{NAME}/data/{name}" in {m.name for m in _members(out)}


def test_an_access_value_aptrust_does_not_know_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    source = _bag(cli, tmp_path, {"a.txt": "text\n"}, **{"bag-info": {"Access": "Public"}})
    (tmp_path / "exports").mkdir()
    err = _refused(cli, source, tmp_path / "exports" / f"{NAME}.tar", 2)
    assert (
        "APTrust's profile: 1 problem: aptrust-info.txt/Access: 'Public' is not one of "
        "Consortia, Institution, Restricted (the values of the bag's bag-info labels of those "
        "names); nothing exported"
    ) in err


def test_a_bag_with_an_empty_payload_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    empty = write_tree(
        tmp_path / "empty",
        {
            "bagit.txt": "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": "Title: Nothing\nPayload-Oxum: 0.0\n",
            "manifest-sha256.txt": "",
        },
    )
    (empty / "data").mkdir()
    assert validate_bag(empty).valid
    (tmp_path / "exports").mkdir()
    err = _refused(cli, empty, tmp_path / "exports" / f"{NAME}.tar", 2)
    assert "the bag has no payload file" in err


# -- --profile -----------------------------------------------------------------------------


def test_a_profile_the_package_meets_is_declared_and_checked(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "btr.json"
    shutil.copy(PROFILES / "btr-bagit-profile.json", profile)
    out = tmp_path / f"{NAME}.tar"
    lines = _export(cli, sample, out, "--profile", profile)
    assert "  checked: export.profile (archiver export: the BagIt profile given" in lines
    info = _tag_lines(_unpack(out, tmp_path / "unpacked") / "bag-info.txt")
    assert [v for k, v in info if k == "BagIt-Profile-Identifier"] == [APTRUST_ID, BTR_ID]


def test_a_profile_the_package_breaks_exits_1_and_nothing_is_written(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "profile" / "foo.json"
    profile.parent.mkdir()
    shutil.copy(PROFILES / "bagProfileFoo.json", profile)
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / f"{NAME}.tar"
    run = cli("export", sample, "--to", "aptrust", "--out", out, "--profile", profile, "--json")
    assert run.code == 1
    assert listing(tmp_path / "exports") == []
    result = json.loads(run.out)
    found = {(f["code"], f["path"]) for f in result["findings"]}
    assert ("profile.version.not-accepted", f"{NAME}/bagit.txt") in found
    assert ("profile.bag-info.required", f"{NAME}/bag-info.txt") in found
    # Foo accepts tar serializations: the tar meets that rule (judged on the tar itself).
    assert not any(code.startswith("profile.serialization") for code, _ in found)
    assert all(f["params"]["profile"] == FOO_ID for f in result["findings"])
    assert "export.profile" not in result["checks"] and "export.aptrust.profile" in result["checks"]
    assert "export.profile" in run.err


def test_a_dart_profile_may_be_given_too(cli: CliRunner, sample: Path, tmp_path: Path) -> None:
    document = json.loads((PROFILES / "aptrust-v2.3.dart-format.json").read_text())
    document["manifestsRequired"] = ["md5", "sha512"]
    document["bagItProfileInfo"]["bagItProfileIdentifier"] = "https://example.org/strict.json"
    profile = tmp_path / "strict.json"
    profile.write_text(json.dumps(document))
    out = tmp_path / f"{NAME}.tar"
    lines = _export(cli, sample, out, "--profile", profile)
    assert "  checked: export.profile" in lines
    assert (_unpack(out, tmp_path / "unpacked") / "manifest-sha512.txt").is_file()


def test_a_profile_s_tag_manifests_are_written_and_what_aptrust_refuses_exits_2(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    document = json.loads((PROFILES / "aptrust-v2.3.dart-format.json").read_text())
    document["tagManifestsRequired"] = ["SHA-512"]  # spelled as RFC 8493 §2.4 lets it be
    document["bagItProfileInfo"]["bagItProfileIdentifier"] = "https://example.org/strict.json"
    profile = tmp_path / "strict.json"
    profile.write_text(json.dumps(document))
    out = tmp_path / f"{NAME}.tar"
    _export(cli, sample, out, "--profile", profile)
    bag = _unpack(out, tmp_path / "unpacked")
    assert sorted(p.name for p in bag.glob("*manifest-*")) == [
        "manifest-md5.txt", "manifest-sha256.txt",
        "tagmanifest-md5.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt",
    ]  # fmt: skip
    for algorithm, why in (("sha384", "does not allow sha384"), ("whirlpool", "cannot compute")):
        document["manifestsRequired"] = ["md5", algorithm]
        document["manifestsAllowed"] = ["md5", "sha256", algorithm]
        profile.write_text(json.dumps(document))
        (tmp_path / "exports").mkdir(exist_ok=True)
        err = _refused(cli, sample, tmp_path / "exports" / f"{NAME}.tar", 2, "--profile", profile)
        refused = "the profile https://example.org/strict.json requires manifests APTrust cannot"
        assert refused in err and why in err


def test_a_profile_file_that_is_no_profile_exits_2(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "profile" / "broken.json"
    profile.parent.mkdir()
    profile.write_text('{"bagItProfileInfo": {}, "tags": [{"tagFile": 1}]}')
    (tmp_path / "exports").mkdir()
    err = _refused(cli, sample, tmp_path / "exports" / f"{NAME}.tar", 2, "--profile", profile)
    assert "not a usable DART profile: 3 problems" in err


# -- the shipped profile and check() -------------------------------------------------------


def test_the_shipped_aptrust_profile_is_the_reference_copy_and_reads_as_aptrust_says() -> None:
    shipped = REPO / "schemas" / aptrust.PROFILE_FILE
    assert shipped.read_bytes() == (PROFILES / "aptrust-v2.3.dart-format.json").read_bytes()
    profile = aptrust.aptrust_profile()
    assert profile == load_profile(PROFILES / "aptrust-v2.3.dart-format.json")
    assert (profile.identifier, profile.version) == (APTRUST_ID, "2.3")
    assert profile.accept_bagit_versions == ("0.97", "1.0")
    assert (profile.serialization, profile.accept_serialization) == (
        Serialization.REQUIRED,
        ("application/tar",),
    )
    assert profile.tar_dir_must_match_name
    assert (profile.allow_fetch, profile.manifests_required) == (False, ("md5",))
    access = profile.tag("aptrust-info.txt", "Access")
    assert access is not None and access.values == ("Consortia", "Institution", "Restricted")
    title = profile.tag("aptrust-info.txt", "Title")
    assert title is not None and title.required and not title.empty_ok
    storage = profile.tag("aptrust-info.txt", "Storage-Option")
    assert storage is not None and storage.default == "Standard"


def test_validate_judges_the_unpacked_bag_by_the_shipped_dart_profile(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    bag = _unpack(_export_to(cli, sample, tmp_path), tmp_path / "unpacked")
    shipped = REPO / "schemas" / aptrust.PROFILE_FILE
    run = cli("validate", "--json", "--profile", shipped, bag)
    findings = json.loads(run.out)["bags"][0]["findings"]
    # Every rule of APTrust's profile holds but the one a folder cannot meet: it is no tar.
    assert [f["code"] for f in findings if f["severity"] == "error"] == [
        "profile.serialization.required"
    ]
    assert run.code == 1
    (bag / "aptrust-info.txt").write_text("Title: \nAccess: Everyone\n", encoding="utf-8")
    reseal_tag_manifests(bag)
    run = cli("validate", "--json", "--profile", shipped, bag)
    codes = sorted(f["code"] for f in json.loads(run.out)["bags"][0]["findings"])
    assert codes == [
        "bag.manifest.algorithm-weak",  # md5, which APTrust requires
        "profile.serialization.required",
        "profile.tag.empty",
        "profile.tag.required",
        "profile.tag.value",
    ]


@pytest.fixture
def exported(cli: CliRunner, sample: Path, tmp_path: Path) -> Path:
    return _export_to(cli, sample, tmp_path)


def _check(tar: Path, sample: Path) -> PackageCheck:
    return aptrust.check(tar, read_source(sample), Options(Clock.from_epoch(BAGS_EPOCH)))


def test_check_passes_the_tar_it_wrote_and_says_what_held(exported: Path, sample: Path) -> None:
    held = _check(exported, sample)
    assert held.checks == [
        "export.aptrust.bag",
        "export.aptrust.file-name",
        "export.aptrust.profile",
        "export.aptrust.size",
        "export.aptrust.source-organization",
        "export.aptrust.tar",
        "export.aptrust.tar-folder",
        "export.source.bag-info",
        "export.source.files",
        "export.source.record",
    ]
    assert held.findings == []


def _rebuild(tar: Path, edit: Callable[[Path], object], tmp_path: Path) -> None:
    """Unpack, edit, reseal the tag manifests and tar again: damage a checksum cannot see."""
    bag = _unpack(tar, tmp_path / "edit")
    edit(bag)
    reseal_tag_manifests(bag)
    tar.unlink()
    aptrust.write_tar(bag, bag.name, tar, BAGS_EPOCH)


def _replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _append_member(tar: Path, info: tarfile.TarInfo, data: bytes = b"") -> None:
    with tarfile.open(tar, "a", format=tarfile.PAX_FORMAT) as archive:
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data) if data else None)


def _data_offset(tar: Path, rel: str) -> int:
    """Where a member's bytes start in the tar file."""
    return next(m.offset_data for m in _members(tar) if m.name == f"{NAME}/{rel}")


def _drop_md5(bag: Path) -> None:
    (bag / "manifest-md5.txt").unlink()
    (bag / "tagmanifest-md5.txt").unlink()
    drop_manifest_line(bag / "tagmanifest-sha256.txt", "  manifest-md5.txt")


def _symlink(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


TAMPERINGS: dict[str, tuple[Callable[[Path, Path], object], str, str]] = {
    "payload byte flipped": (
        lambda tar, _: flip_byte(tar, _data_offset(tar, "data/a-giant-step-for-peace.txt") + 9),
        "bag.payload.checksum-mismatch",
        f"{NAME}/data/a-giant-step-for-peace.txt",
    ),
    "renamed": (
        lambda tar, _: tar.rename(tar.with_name("other.edu.bag.tar")),
        "export.aptrust.tar-folder",
        f"{NAME}/bagit.txt",
    ),
    "symlink member": (
        lambda tar, _: _append_member(tar, _symlink(f"{NAME}/data/link")),
        "export.aptrust.tar",
        f"{NAME}/data/link",
    ),
    "member outside the folder": (
        lambda tar, _: _append_member(tar, tarfile.TarInfo("stray.txt"), b"x"),
        "export.aptrust.tar-folder",
        "stray.txt",
    ),
    "dot-dot member": (
        lambda tar, _: _append_member(tar, tarfile.TarInfo(f"{NAME}/../evil"), b"x"),
        "export.aptrust.tar",
        f"{NAME}/../evil",
    ),
    "a name APTrust refuses": (
        lambda tar, _: _append_member(tar, tarfile.TarInfo(f"{NAME}/data/-x"), b"x"),
        "export.aptrust.file-name",
        f"{NAME}/data/-x",
    ),
    "a C1 control in a name": (
        lambda tar, _: _append_member(tar, tarfile.TarInfo(f"{NAME}/data/c1\u0085"), b"x"),
        "export.aptrust.file-name",
        f"{NAME}/data/c1\u0085",
    ),
    "a percent sign in a name": (
        lambda tar, _: _append_member(tar, tarfile.TarInfo(f"{NAME}/data/100%"), b"x"),
        "export.aptrust.file-name",
        f"{NAME}/data/100%",
    ),
    "compressed": (
        lambda tar, _: tar.write_bytes(gzip.compress(tar.read_bytes(), mtime=0)),
        "export.aptrust.tar",
        "",
    ),
    "no title": (
        lambda tar, tmp: _rebuild(
            tar, lambda bag: _replace_in(bag / "aptrust-info.txt", "Title: ", "Name: "), tmp
        ),
        "profile.tag.required",
        f"{NAME}/aptrust-info.txt",
    ),
    "access not allowed": (
        lambda tar, tmp: _rebuild(
            tar,
            lambda bag: _replace_in(bag / "aptrust-info.txt", "Institution", "Everyone"),
            tmp,
        ),
        "profile.tag.value",
        f"{NAME}/aptrust-info.txt",
    ),
    "no md5 manifest": (
        lambda tar, tmp: _rebuild(tar, _drop_md5, tmp),
        "profile.manifest.required",
        f"{NAME}/manifest-md5.txt",
    ),
    "fetch.txt": (
        lambda tar, tmp: _rebuild(tar, lambda bag: (bag / "fetch.txt").write_text(""), tmp),
        "profile.fetch.not-allowed",
        f"{NAME}/fetch.txt",
    ),
    "metadata changed": (
        lambda tar, tmp: _rebuild(
            tar, lambda bag: _replace_in(bag / "metadata" / "dc.xml", "Editorials", "News"), tmp
        ),
        "export.source.files",
        f"{NAME}/metadata/dc.xml",
    ),
    "bag-info changed": (
        lambda tar, tmp: _rebuild(
            tar, lambda bag: _replace_in(bag / "bag-info.txt", "editorials", "news"), tmp
        ),
        "export.source.bag-info",
        f"{NAME}/bag-info.txt",
    ),
}


@pytest.mark.parametrize("damage", sorted(TAMPERINGS))
def test_check_fails_a_tampered_tar(
    exported: Path, sample: Path, tmp_path: Path, damage: str
) -> None:
    tamper, code, path = TAMPERINGS[damage]
    tamper(exported, tmp_path)
    tar = exported if exported.exists() else exported.with_name("other.edu.bag.tar")
    with pytest.raises(PackageCheckError) as caught:
        _check(tar, sample)
    broken = [(f.code, f.path) for f in caught.value.findings if f.severity == "error"]
    assert (code, path) in broken
    assert str(caught.value).startswith(f"{tar.name} breaks export.")  # the rules, by code
    assert [p.name for p in tar.parent.iterdir()] == [tar.name]  # its temporary folder is gone


def test_the_aptrust_tar_validates_directly_without_unpacking(
    cli: CliRunner, sample: Path, tmp_path: Path
) -> None:
    """archiver validate reads the exported tar in place: valid, no finding above a notice."""
    out = tmp_path / f"{NAME}.tar"
    _export(cli, sample, out)
    run = cli("validate", "--json", out)
    assert run.code == 0, run.out
    [bag] = json.loads(run.out)["bags"]
    assert bag["valid"] is True
    assert [f for f in bag["findings"] if f["severity"] != "info"] == []
