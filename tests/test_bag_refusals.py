"""What bagging refuses, before a byte is written: whatever the validators (ours, or LoC
bagit-python) would reject in the bag it made, and what would crash it on the way.

Issue 10, items 13, 14 and 16: ``archiver bag`` exited 0 yet wrote bags its own validator
rejected (a 10,000,000-character description; a file named ``..\\..\\evil.txt``), bags
LoC bagit-python rejected (names and bag-info values holding U+0085 or U+2028), and
crashed with a traceback on hostile input (out of inodes, paths past PATH_MAX, a source
1,200 folders deep, JSON nested 10,000 levels or holding a 5,000-digit number). Each is now
one line naming the file or field, exit 2, and nothing in the output folder.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archiver import layout
from archiver.bagit import writer
from archiver.bagit.names import MAX_TAG_FILE
from archiver.errors import MetadataError, SourceError
from archiver.ingest import ingest_bag
from archiver.packing import make_bag
from archiver.record import MAX_VALUE, Record
from archiver.staging import PARTIAL_PREFIX
from archiver.validation import validate_bag
from tests.conftest import CliRunner, Run, listing, make_source_tree, snapshot
from tests.test_finding_codes import PAYLOAD, archiver_bag, write_foreign_bag

LINE_BREAKS = ["\x85", "\u2028", "\u2029"]


def assert_refused(run: Run, out: Path, *named: str) -> str:
    """Exit 2, one line on stderr naming each of ``named``, and nothing written to ``out``."""
    code, err = run.code, run.err
    assert code == 2, err
    assert err.startswith("archiver: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for name in named:
        assert name in err, (name, err)
    assert listing(out) == []
    return err


def record_file(tmp_path: Path, record: dict[str, object]) -> Path:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


# -- item 14: what LoC bagit-python takes for a line break -----------------------------------


@pytest.mark.parametrize("character", LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_file_name_holding_a_unicode_line_break_is_refused(
    tmp_path: Path, cli: CliRunner, character: str
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n", f"b{character}c.txt": "b\n"})
    out = tmp_path / "out"
    err = assert_refused(
        cli("bag", source, "--out", out, "--id", "b"), out, f"U+{ord(character):04X}"
    )
    assert f"b\\{'x85' if character == chr(0x85) else f'u{ord(character):04x}'}c.txt" in err


@pytest.mark.parametrize("character", LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_bag_info_value_or_label_holding_a_unicode_line_break_is_refused(
    tmp_path: Path, cli: CliRunner, character: str
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    out = tmp_path / "out"
    record = record_file(
        tmp_path,
        {"bag-info": {"Contact-Name": f"Ada{character}Lovelace", f"X{character}Y": "fine"}},
    )
    run = cli("bag", source, "--out", out, "--id", "b", "--metadata", record)
    assert_refused(run, out, "2 problems", "bag-info.Contact-Name:", "bag-info.X")


def test_ingest_refuses_a_foreign_name_holding_a_unicode_line_break(tmp_path: Path) -> None:
    foreign = write_foreign_bag(tmp_path / "foreign", {**PAYLOAD, "data/a\u2028b.txt": b"b\n"})
    out = tmp_path / "collection"
    out.mkdir()
    with pytest.raises(SourceError, match="U\\+2028"):
        ingest_bag(foreign, out, bag_id="b")
    assert listing(out) == []


# -- item 13: what archiver's own validator would reject -------------------------------------


def test_a_description_of_ten_million_characters_is_refused(tmp_path: Path, cli: CliRunner) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    out = tmp_path / "out"
    record = record_file(tmp_path, {"title": "t", "description": ["short", "x" * 10_000_000]})
    run = cli("bag", source, "--out", out, "--id", "b", "--metadata", record)
    assert_refused(run, out, "description[1]: is 10000000 characters long", f"{MAX_VALUE}")


def test_values_at_the_limit_make_a_bag_every_validator_accepts(tmp_path: Path) -> None:
    # The worst cases: a title is also an attribute (METS LABEL), where '"' is written as
    # six bytes; a description of four-byte characters.
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    record = {"title": '"' * MAX_VALUE, "description": "\U0001f600" * MAX_VALUE}
    made = make_bag(source, tmp_path / "out", record=record, bag_id="b", workers=1)
    report = validate_bag(made.path, reference=True)
    assert report.valid and report.findings == [], report.to_json()


def test_bag_info_values_past_what_a_reader_reads_whole_are_refused(tmp_path: Path) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    labels = tuple((f"Note-{n}", "x" * MAX_VALUE) for n in range(MAX_TAG_FILE // MAX_VALUE + 1))
    with pytest.raises(MetadataError, match=r"bag-info: \d+ bytes of labels and values"):
        make_bag(source, tmp_path / "out", record=Record(bag_info=labels), bag_id="b")
    assert listing(tmp_path / "out") == []


def test_a_record_built_in_code_is_checked_like_a_record_file(tmp_path: Path) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    record = Record(
        dc=(("title", ("bell\x07",)), ("subject", ("fine", "y" * (MAX_VALUE + 1)))),
        bag_info=(("Contact-Name", " padded"),),
    )
    with pytest.raises(MetadataError) as raised:
        make_bag(source, tmp_path / "out", record=record, bag_id="b")
    assert [problem.field for problem in raised.value.problems] == [
        "title",
        "bag-info.Contact-Name",
        "subject[1]",
    ]
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("name", ["..\\..\\evil.txt", "a\\..", "..\\b.txt", "a\\..\\b.txt"])
def test_a_file_name_a_validator_reads_as_leaving_the_bag_is_refused(
    tmp_path: Path, cli: CliRunner, name: str
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n", name: "evil\n"})
    out = tmp_path / "out"
    run = cli("bag", source, "--out", out, "--id", "b")
    assert_refused(run, out, "contains a '..' segment", "folder separator")


def test_a_backslash_that_makes_no_dot_dot_segment_is_bagged(tmp_path: Path) -> None:
    source = make_source_tree(tmp_path / "src", {"a\\b.txt": "a\n", "..c.txt": "c\n"})
    made = make_bag(source, tmp_path / "out", bag_id="b", workers=1)
    report = validate_bag(made.path)
    assert report.valid
    assert {f.code for f in report.findings} == {"bag.name.windows"}


def test_a_text_whose_first_line_holds_a_control_character_gets_a_usable_title(
    tmp_path: Path,
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "Bell\x07 rings\nbody\n"})
    made = make_bag(source / "a.txt", tmp_path / "out", bag_id="b", workers=1)
    assert made.record.values("title") == ("Bell\ufffd rings",)
    assert validate_bag(made.path).valid


@pytest.fixture
def nest(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """A source folder with one file ``depth`` folders down; removed without recursion after
    the test (shutil.rmtree, and so pytest's cleanup, recurse once per level)."""
    made: list[tuple[Path, int]] = []

    def make(depth: int) -> Path:
        root = tmp_path / f"src{len(made)}"
        made.append((root, depth))
        return _nest(root, depth)

    yield make
    for root, depth in made:
        for level in range(depth, -1, -1):
            folder = root.joinpath(*["d"] * level)
            for entry in os.scandir(folder):
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
            os.rmdir(folder)


def _nest(root: Path, depth: int) -> Path:
    """A file ``depth`` folders below ``root``, made without a path as long as all of them."""
    folder = root
    root.mkdir()
    descriptor = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=descriptor)
            inner = os.open("d", os.O_RDONLY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        file = os.open("f.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(file, b"deep\n")
        os.close(file)
    finally:
        os.close(descriptor)
    return folder


def test_files_as_deep_as_allowed_make_a_valid_bag(
    tmp_path: Path, nest: Callable[[int], Path]
) -> None:
    source = nest(layout.MAX_FOLDER_DEPTH)
    made = make_bag(source, tmp_path / "out", bag_id="b", workers=1)
    assert validate_bag(made.path).valid


@pytest.mark.parametrize("depth", [layout.MAX_FOLDER_DEPTH + 1, 1200])
def test_a_source_nested_deeper_is_refused_in_one_line(
    tmp_path: Path, cli: CliRunner, nest: Callable[[int], Path], depth: int
) -> None:
    source = nest(depth)
    out = tmp_path / "out"
    run = cli("bag", source, "--out", out, "--id", "b")
    assert_refused(run, out, f"{depth} folders deep", str(layout.MAX_FOLDER_DEPTH))


# -- item 16: one line, not a traceback; item 17: the user's paths, never the staging ones ----

_ERRNOS = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded"}


def _fail_creating(
    monkeypatch: pytest.MonkeyPatch, code: int, wanted: Callable[[str, str], bool]
) -> list[str]:
    """Make creating a file or folder in a staging folder fail with ``code`` (no inode left,
    quota reached) when ``wanted(kind, path)``; returns what failed."""
    failed: list[str] = []
    real_mkdir, real_open = os.mkdir, os.open

    def refuse(kind: str, path: str | bytes | os.PathLike[str]) -> None:
        text = os.fsdecode(path)
        if PARTIAL_PREFIX in text and wanted(kind, text):
            failed.append(text)
            raise OSError(code, os.strerror(code), text)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        refuse("folder", path)
        real_mkdir(path, *args, **kwargs)

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            refuse("file", path)
        return real_open(path, flags, *args, **kwargs)

    def builtin_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "x" in mode or "w" in mode:
            refuse("file", path)
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(writer, "open", builtin_open, raising=False)
    return failed


@pytest.mark.parametrize("code", sorted(_ERRNOS), ids=lambda c: errno.errorcode[c])
@pytest.mark.parametrize(
    ("kind", "part", "named"),
    [
        ("folder", "/data/sub", "data/sub/"),
        ("file", "/data/sub/b.txt", "data/sub/b.txt"),
        ("folder", "/metadata", "metadata/"),
        ("file", "/metadata/premis.xml", "metadata/premis.xml"),
        ("file", "/bag-info.txt", "bag-info.txt"),
        ("folder", PARTIAL_PREFIX, "into"),  # the staging folder itself
    ],
)
def test_no_inode_or_quota_left_is_one_line_naming_the_bag_path_and_target(
    tmp_path: Path,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    kind: str,
    part: str,
    named: str,
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n", "sub/b.txt": "b\n"})
    out = tmp_path / "out"
    out.mkdir()
    failed = _fail_creating(
        monkeypatch,
        code,
        lambda k, path: k == kind and (path.endswith(part) or part == PARTIAL_PREFIX),
    )
    run = cli("bag", source, "--out", out, "--id", "b", "--processes", "1")
    assert failed, "the failure was never injected"
    err = assert_refused(run, out, named, _ERRNOS[code], str(out))
    assert PARTIAL_PREFIX not in err
    if part != PARTIAL_PREFIX:
        assert f"{named} into {out / 'b'}: " in err


def test_an_export_that_runs_out_of_space_names_the_package_not_its_staging_folder(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    bag = archiver_bag(tmp_path, cli)
    out = tmp_path / "exports"
    out.mkdir()
    failed = _fail_creating(
        monkeypatch, errno.ENOSPC, lambda kind, path: path.endswith("/sub/b.txt")
    )
    run = cli("export", bag, "--to", "archivematica", "--out", out / "b.zip")
    assert failed
    err = assert_refused(run, out, "sub/b.txt into the bag for", str(out / "b.zip"), "No space")
    assert PARTIAL_PREFIX not in err


def test_a_path_too_long_once_staged_is_refused_before_anything_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    # 19 folders of 200 bytes: the source path fits in PATH_MAX (4,096), the same path under
    # an output folder of 150 bytes and a staging or bag folder does not.
    deep = "/".join(["d" * 200] * 19) + "/" + "f" * 100 + ".txt"
    source = tmp_path / "src"
    (source / deep).parent.mkdir(parents=True)
    (source / deep).write_text("far down\n")
    out = tmp_path / ("o" * 150)
    run = cli("bag", source, "--out", out, "--id", "b")
    assert_refused(run, out, f"bytes long; under {out} it would pass the 4096 bytes")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"title": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested too deeply"),
        ('{"title": "t", "bag-info": {"Bag-Size": ' + "9" * 5000 + "}}", "more than 4300 digits"),
    ],
    ids=["nested-10000-levels", "a-5000-digit-number"],
)
def test_json_python_cannot_read_is_one_line_for_a_record_and_a_profile(
    tmp_path: Path, cli: CliRunner, text: str, reason: str
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    record = tmp_path / "record.json"
    record.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    run = cli("bag", source, "--out", out, "--id", "b", "--metadata", record)
    assert_refused(run, out, str(record), "(file): not JSON", reason)
    bag = archiver_bag(tmp_path, cli)
    profile = tmp_path / "profile.json"
    profile.write_text(text.replace('"title"', '"BagIt-Profile-Info"'), encoding="utf-8")
    run = cli("validate", bag, "--profile", profile)
    assert_refused(run, tmp_path / "nothing", str(profile), "not JSON", reason)


# -- a big file is copied by the kernel (copy_file_range) while its copy is digested ----------

_BIG = 9 << 20  # above hashing.SPLIT_THRESHOLD: copied by the kernel, digested on two threads


def _kernel_copy_fails(monkeypatch: pytest.MonkeyPatch, code: int, after: int) -> list[int]:
    """copy_file_range fails with ``code`` once ``after`` bytes are copied."""
    real = os.copy_file_range
    calls: list[int] = []

    def copy_file_range(src: int, dst: int, count: int, *offsets: int | None) -> int:
        calls.append(code)
        if (offsets[0] or 0) >= after:
            raise OSError(code, os.strerror(code))
        return real(src, dst, min(count, after), *offsets)

    monkeypatch.setattr(os, "copy_file_range", copy_file_range)
    return calls


@pytest.mark.parametrize("code", [errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP])
@pytest.mark.parametrize("after", [0, 1 << 20])
def test_a_big_file_the_kernel_cannot_copy_is_copied_through_and_the_bag_is_the_same(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, code: int, after: int
) -> None:
    """Another file system, an old kernel: the copy goes on through this process, from where
    the kernel stopped, and the bag is byte for byte the one a single process makes."""
    source = make_source_tree(tmp_path / "src", {"big.bin": os.urandom(_BIG), "a.txt": "a\n"})
    assert cli("bag", source, "--out", tmp_path / "one", "--id", "b", "--processes", "1").code == 0
    calls = _kernel_copy_fails(monkeypatch, code, after)
    assert cli("bag", source, "--out", tmp_path / "two", "--id", "b", "--processes", "2").code == 0
    assert calls, "the kernel copy was never tried"
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert validate_bag(tmp_path / "two" / "b").valid


@pytest.mark.parametrize("code", sorted(_ERRNOS), ids=lambda c: errno.errorcode[c])
def test_a_disk_filling_up_during_a_big_copy_is_one_line_naming_the_file(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    source = make_source_tree(tmp_path / "src", {"big.bin": os.urandom(_BIG)})
    out = tmp_path / "out"
    out.mkdir()
    calls = _kernel_copy_fails(monkeypatch, code, 1 << 20)
    run = cli("bag", source, "--out", out, "--id", "b", "--processes", "2")
    assert calls
    err = assert_refused(run, out, "data/big.bin", _ERRNOS[code], str(out))
    assert PARTIAL_PREFIX not in err


@pytest.mark.parametrize(
    ("size", "processes", "patched"),
    [(100, "1", "readv"), (_BIG, "2", "copy_file_range")],
    ids=["small-file-written-through", "big-file-kernel-copy"],
)
def test_a_source_changed_while_it_is_copied_is_refused_not_bagged(
    tmp_path: Path,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    processes: str,
    patched: str,
) -> None:
    """The digests are of what was copied; a source whose size or time changes meanwhile
    would leave them describing neither: the bag is refused in one line, nothing left."""
    source = make_source_tree(tmp_path / "src", {"f.bin": os.urandom(size)})
    target = source / "f.bin"
    real = getattr(os, patched)
    touched: list[bool] = []

    def touch_once(*args: Any) -> Any:
        result = real(*args)
        if not touched:
            touched.append(True)
            info = target.stat()
            os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
        return result

    monkeypatch.setattr(os, patched, touch_once)
    out = tmp_path / "out"
    out.mkdir()
    run = cli("bag", source, "--out", out, "--id", "b", "--processes", processes)
    assert touched
    assert_refused(run, out, str(target), "changed while it was being copied")
