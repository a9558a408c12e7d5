"""`archiver bag` refuses bad input: exit 2, one line on stderr naming the problem, nothing written.

Every refusal is checked twice: with an --out folder that does not exist yet (it must not be
created) and with one that already holds things (its listing, hidden entries included, and
its files must stay exactly as they were).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from tests.conftest import SAMPLE_TEXT, CliRunner, Run, listing, snapshot, write_tree

MakeSource = Callable[[dict[str, bytes | str]], Path]


@dataclass(frozen=True)
class Out:
    """An --out folder and what it held before the command ran (None: it did not exist)."""

    path: Path
    before: list[str] | None
    files: dict[str, bytes]

    def assert_untouched(self) -> None:
        if self.before is None:
            assert not self.path.exists(), f"{self.path} was created"
            assert not self.path.parent.exists(), f"{self.path.parent} was created"
        else:
            assert listing(self.path) == self.before
            assert snapshot(self.path) == self.files


@pytest.fixture(params=["new-out", "existing-out"])
def out(request: pytest.FixtureRequest, tmp_path: Path) -> Out:
    if request.param == "new-out":
        return Out(tmp_path / "archive" / "bags", None, {})
    path = write_tree(
        tmp_path / "bags",
        {
            ".hidden": "kept\n",
            "older-bag/bagit.txt": "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            "older-bag/data/a.txt": "a\n",
        },
    )
    return Out(path, listing(path), snapshot(path))


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """A plain source file in its own folder."""
    return write_tree(tmp_path / "texts", {"note.txt": "A short note.\n"}) / "note.txt"


def assert_refused(run: Run, *needles: str) -> None:
    """Exit 2, nothing on stdout, exactly one stderr line that names the problem."""
    assert run.code == 2, run
    assert run.out == ""
    assert run.err.startswith("archiver: error: "), run.err
    assert run.err.endswith("\n")
    assert run.err.count("\n") == 1, f"more than one line on stderr: {run.err!r}"
    assert "\r" not in run.err
    for needle in needles:
        assert needle in run.err, f"{needle!r} not in {run.err!r}"


def write_record(tmp_path: Path, data: Any, name: str = "record.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- sources --------------------------------------------------------------------------------


def test_a_missing_source_is_refused(cli: CliRunner, out: Out, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-text.txt"
    run = cli("bag", missing, "--out", out.path)
    assert_refused(run, str(missing), "no such file")
    out.assert_untouched()


def test_a_missing_source_next_to_a_good_one_is_refused(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "gone"
    run = cli("bag", text_file, missing, "--out", out.path)
    assert_refused(run, str(missing), "no such file")
    out.assert_untouched()


def test_a_fifo_given_as_a_source_is_refused(cli: CliRunner, out: Out, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    run = cli("bag", fifo, "--out", out.path)
    assert_refused(run, str(fifo), "not a regular file")
    out.assert_untouched()


def test_a_fifo_inside_a_source_folder_is_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    source = make_source({"a.txt": "a\n", "sub/b.txt": "b\n"})
    os.mkfifo(source / "sub" / "pipe")
    before = listing(source)
    run = cli("bag", source, "--out", out.path)
    assert_refused(run, str(source / "sub" / "pipe"), "not a regular file")
    out.assert_untouched()
    assert listing(source) == before


def test_an_empty_source_folder_is_refused(cli: CliRunner, out: Out, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = cli("bag", empty, "--out", out.path)
    assert_refused(run, str(empty), "empty folder")
    out.assert_untouched()


def test_a_source_folder_holding_only_empty_folders_is_refused(
    cli: CliRunner, out: Out, tmp_path: Path
) -> None:
    hollow = tmp_path / "hollow"
    (hollow / "a" / "b").mkdir(parents=True)
    run = cli("bag", hollow, "--out", out.path)
    assert_refused(run, str(hollow), "empty folder")
    out.assert_untouched()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("a.txt", id="to-a-file"),
        pytest.param("sub", id="to-a-folder"),
        pytest.param("nowhere.txt", id="dangling"),
    ],
)
def test_a_symlink_inside_a_source_folder_is_refused(
    cli: CliRunner, out: Out, make_source: MakeSource, target: str
) -> None:
    source = make_source({"a.txt": "a\n", "sub/b.txt": "b\n"})
    os.symlink(target, source / "link")
    run = cli("bag", source, "--out", out.path)
    assert_refused(run, str(source / "link"), "symbolic link")
    out.assert_untouched()


def test_two_source_files_with_the_same_name_are_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    first = make_source({"chapter.txt": "one\n"})
    second = make_source({"chapter.txt": "two\n"})
    run = cli("bag", first / "chapter.txt", second / "chapter.txt", "--out", out.path)
    assert_refused(run, "data/chapter.txt", "would both be")
    out.assert_untouched()


def test_two_source_folders_holding_the_same_path_are_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    first = make_source({"part/text.txt": "one\n", "only-here.txt": "x\n"})
    second = make_source({"part/text.txt": "two\n"})
    run = cli("bag", first, second, "--out", out.path)
    assert_refused(run, "data/part/text.txt", "would both be")
    out.assert_untouched()


def test_names_differing_only_in_case_are_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    source = make_source({"A.txt": "upper\n", "a.txt": "lower\n"})
    assert len(os.listdir(source)) == 2
    run = cli("bag", source, "--out", out.path)
    assert_refused(run, "data/A.txt", "data/a.txt", "case")
    out.assert_untouched()


def test_names_differing_only_in_case_across_sources_are_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    first = make_source({"README.txt": "one\n"})
    second = make_source({"readme.txt": "two\n"})
    run = cli("bag", first / "README.txt", second / "readme.txt", "--out", out.path)
    assert_refused(run, "data/README.txt", "data/readme.txt", "case")
    out.assert_untouched()


def test_names_differing_only_in_unicode_normalisation_are_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    assert nfc != nfd
    source = make_source({nfc: "composed\n", nfd: "decomposed\n"})
    assert len(os.listdir(source)) == 2
    run = cli("bag", source, "--out", out.path)
    assert_refused(run, f"data/{nfc}", f"data/{nfd}", "Unicode normalisation")
    out.assert_untouched()


def test_a_file_name_that_is_not_utf8_is_refused(
    cli: CliRunner, out: Out, make_source: MakeSource
) -> None:
    source = make_source({"fine.txt": "fine\n"})
    fd = os.open(os.fsencode(source) + b"/caf\xe9.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"latin-1 name\n")
    os.close(fd)
    run = cli("bag", source, "--out", out.path)
    assert_refused(run, str(source), "caf", "not valid UTF-8")
    out.assert_untouched()


def test_an_out_folder_inside_the_source_folder_is_refused(
    cli: CliRunner, make_source: MakeSource
) -> None:
    source = make_source({"a.txt": "a\n", "sub/b.txt": "b\n"})
    before = snapshot(source)
    before_listing = listing(source)
    target = source / "sub" / "bags"
    run = cli("bag", source, "--out", target)
    assert_refused(run, str(source), str(target), "inside")
    assert not target.exists()
    assert listing(source) == before_listing
    assert snapshot(source) == before


def test_an_out_folder_that_is_the_source_folder_is_refused(
    cli: CliRunner, make_source: MakeSource
) -> None:
    source = make_source({"a.txt": "a\n"})
    before = listing(source)
    run = cli("bag", source, "--out", source)
    assert_refused(run, str(source), "inside")
    assert listing(source) == before


# -- the metadata record --------------------------------------------------------------------


def test_a_metadata_file_that_is_not_json_is_refused(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    record.write_text('{"title": "A note",\n', encoding="utf-8")
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, str(record), "not JSON")
    out.assert_untouched()


def test_a_missing_metadata_file_is_refused(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    record = tmp_path / "absent.json"
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, str(record), "no such file")
    out.assert_untouched()


def test_every_schema_problem_is_listed_on_one_line(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    record = write_record(
        tmp_path,
        {
            "titel": "A note",
            "creator": 42,
            "subject": ["ok", 7],
            "rights": [],
            "bag-info": {"Contact-Name": "Ann\nBob"},
        },
    )
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, str(record), "5 problems")
    for field in ("titel", "creator", "subject", "rights", "bag-info.Contact-Name"):
        assert f"{field}: " in run.err, f"{field} missing from {run.err!r}"
    out.assert_untouched()


def test_an_unknown_key_suggests_the_close_match(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    record = write_record(tmp_path, {"titel": "A note"})
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, "titel", "did you mean 'title'")
    out.assert_untouched()


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        pytest.param({"title": 42}, ("title: ", "not a number"), id="number-for-title"),
        pytest.param(
            {"creator": ["Ann", 3]}, ("creator: ", "item [1]", "not a number"), id="list-number"
        ),
        pytest.param({"title": None}, ("title: ", "null"), id="null-title"),
        pytest.param({"bag-info": "Ann"}, ("bag-info: ", "object"), id="bag-info-string"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(
    cli: CliRunner,
    out: Out,
    text_file: Path,
    tmp_path: Path,
    data: dict[str, Any],
    needles: tuple[str, ...],
) -> None:
    record = write_record(tmp_path, data)
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, str(record), *needles)
    out.assert_untouched()


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("Payload-Oxum", id="as-written"),
        pytest.param("payload-oxum", id="lowercase"),
        pytest.param("PAYLOAD-OXUM", id="uppercase"),
        pytest.param("Bagging-Date", id="bagging-date"),
    ],
)
def test_a_reserved_bag_info_label_set_by_the_user_is_refused(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path, label: str
) -> None:
    record = write_record(tmp_path, {"title": "A note", "bag-info": {label: "13.1"}})
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, f"bag-info.{label}", "cannot be set")
    out.assert_untouched()


def test_a_bag_info_label_containing_a_colon_is_refused(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    record = write_record(tmp_path, {"bag-info": {"Contact:Name": "Ann"}})
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, "bag-info.Contact:Name", "':'")
    out.assert_untouched()


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        pytest.param("nonsense", "not a date", id="unparsable"),
        pytest.param("the day after", "not a date", id="words"),
        pytest.param("03/04/2018", "ambiguous", id="ambiguous"),
        pytest.param("03/04/18", "two-digit year", id="two-digit-year"),
        pytest.param("June", "no year", id="no-year"),
        pytest.param("2018-06-15 09:30", "time zone", id="no-time-zone"),
        pytest.param("5 Jun 18", "1918-06-05 or 2018-06-05", id="two-digit-year-spelled"),
        pytest.param("1 2 2018", "2018-02-01 (1 February 2018) or", id="ambiguous-spaces"),
        pytest.param("2018-06-15/20", "not a date", id="half-an-interval"),
    ],
)
def test_a_date_that_would_need_a_guess_is_refused(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path, date: str, reason: str
) -> None:
    record = write_record(tmp_path, {"title": "A note", "date": date})
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, "date: ", repr(date), reason)
    out.assert_untouched()


def test_a_bad_date_in_a_list_names_its_index(
    cli: CliRunner, out: Out, text_file: Path, tmp_path: Path
) -> None:
    record = write_record(tmp_path, {"date": ["June 2018", "03/04/2018"]})
    run = cli("bag", text_file, "--out", out.path, "--metadata", record)
    assert_refused(run, "date[1]: ", "ambiguous")
    out.assert_untouched()


# -- the identifier -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bag_id",
    [
        pytest.param("../evil", id="parent"),
        pytest.param("-x", id="leading-dash"),
        pytest.param("a b", id="space"),
        pytest.param("", id="empty"),
        pytest.param(".hidden", id="leading-dot"),
        pytest.param("a/b", id="slash"),
        pytest.param("café", id="non-ascii"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("bag\n2", id="line-break"),
    ],
)
def test_an_invalid_id_is_refused(cli: CliRunner, out: Out, text_file: Path, bag_id: str) -> None:
    run = cli("bag", text_file, "--out", out.path, f"--id={bag_id}")
    assert_refused(run, "invalid bag identifier", "(--id)")
    assert repr(bag_id) in run.err
    out.assert_untouched()


def test_an_id_that_looks_like_an_option_is_refused_on_one_line(
    cli: CliRunner, capsys: pytest.CaptureFixture[str], out: Out, text_file: Path
) -> None:
    # argparse takes "--id -x" for a missing value and may leave main() by SystemExit; the
    # console script turns either into the exit status, so both are accepted here.
    try:
        run = cli("bag", text_file, "--out", out.path, "--id", "-x")
    except SystemExit as exc:
        captured = capsys.readouterr()
        run = Run(exc.code if isinstance(exc.code, int) else 1, captured.out, captured.err)
    assert_refused(run, "--id")
    out.assert_untouched()


@pytest.mark.parametrize(
    "bag_id",
    [
        pytest.param("a", id="one-letter"),
        pytest.param("7", id="one-digit"),
        pytest.param("x" * 128, id="longest"),
        pytest.param("Bag_2018.06-15", id="all-allowed-characters"),
    ],
)
def test_a_valid_id_names_the_bag_folder(
    cli: CliRunner, text_file: Path, tmp_path: Path, bag_id: str
) -> None:
    target = tmp_path / "bags"
    run = cli("bag", text_file, "--out", target, "--id", bag_id)
    assert run.code == 0, run.err
    assert listing(target) != []
    assert (target / bag_id / "bagit.txt").is_file()
    assert (target / bag_id / "data" / "note.txt").read_bytes() == text_file.read_bytes()


# -- an existing bag ------------------------------------------------------------------------


def test_an_existing_bag_is_kept_byte_for_byte_and_force_replaces_it(
    cli: CliRunner, make_source: MakeSource, tmp_path: Path
) -> None:
    source = make_source({"text.txt": "First version.\n"})
    target = tmp_path / "bags"
    first = cli("bag", source, "--out", target, "--id", "the-bag")
    assert first.code == 0, first.err
    bag = target / "the-bag"
    files_before = snapshot(bag)
    listing_before = listing(target)
    assert files_before["data/text.txt"] == b"First version.\n"

    write_tree(source, {"text.txt": "Second version, longer.\n"})
    again = cli("bag", source, "--out", target, "--id", "the-bag")
    assert_refused(again, str(bag), "already exists")
    assert snapshot(bag) == files_before
    assert listing(target) == listing_before

    forced = cli("bag", source, "--out", target, "--id", "the-bag", "--force")
    assert forced.code == 0, forced.err
    assert [line for line in forced.err.splitlines() if "note: title" not in line] == []
    assert forced.out.strip() == str(bag)
    assert (bag / "data" / "text.txt").read_bytes() == b"Second version, longer.\n"
    assert snapshot(bag) != files_before
    assert listing(target) == listing_before, "no partial or replaced folder left behind"
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert "data/text.txt" in manifest
    assert manifest != files_before["manifest-sha256.txt"].decode()


def test_an_existing_bag_with_a_derived_id_is_kept_byte_for_byte(
    cli: CliRunner, make_source: MakeSource, tmp_path: Path
) -> None:
    source = make_source({"text.txt": "The same text.\n"})
    target = tmp_path / "bags"
    first = cli("bag", source, "--out", target)
    assert first.code == 0, first.err
    bag = Path(first.out.strip())
    assert bag.parent == target
    files_before = snapshot(bag)
    listing_before = listing(target)

    again = cli("bag", source, "--out", target)
    assert_refused(again, str(bag), "already exists")
    assert snapshot(bag) == files_before
    assert listing(target) == listing_before, "the staging folder was left behind"


def test_an_existing_file_where_the_bag_would_go_is_kept(
    cli: CliRunner, text_file: Path, tmp_path: Path
) -> None:
    target = write_tree(tmp_path / "bags", {"the-bag": "not a bag\n"})
    run = cli("bag", text_file, "--out", target, "--id", "the-bag")
    assert_refused(run, "the-bag", "already exists")
    assert snapshot(target) == {"the-bag": b"not a bag\n"}


# -- what is not an error -------------------------------------------------------------------


def test_a_source_that_is_not_utf8_text_is_bagged_bit_for_bit(
    cli: CliRunner, make_source: MakeSource, tmp_path: Path
) -> None:
    latin1 = "Café, crème brûlée, Straße\r\nÆsir ±½\n".encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        latin1.decode("utf-8")
    source = make_source({"latin1.txt": latin1})
    target = tmp_path / "bags"
    run = cli("bag", source / "latin1.txt", "--out", target, "--id", "latin")
    assert run.code == 0, run.err
    assert run.out.strip() == str(target / "latin")
    payload = target / "latin" / "data" / "latin1.txt"
    assert payload.read_bytes() == latin1
    assert (source / "latin1.txt").read_bytes() == latin1
    assert listing(target / "latin" / "data") == ["latin1.txt"]


def test_the_sample_text_bags_cleanly_next_to_the_refusals(
    cli: CliRunner, sample_copy: Path, tmp_path: Path
) -> None:
    target = tmp_path / "bags"
    run = cli("bag", sample_copy, "--out", target, "--id", "sample")
    assert run.code == 0, run.err
    assert (target / "sample" / "data" / sample_copy.name).read_bytes() == SAMPLE_TEXT.read_bytes()


def test_a_reader_that_goes_away_is_no_error(tmp_path: Path) -> None:
    """`archiver validate --json ... | head -1` ends quietly: no BrokenPipeError traceback."""
    import subprocess
    import sys

    bag = tmp_path / "bags"
    assert (
        subprocess.run(
            [sys.executable, "-m", "archiver", "demo", "--out", bag], capture_output=True
        ).returncode
        == 0
    )
    for index in range(2000):
        (bag / "a-giant-step-for-peace" / "data" / f"extra{index}.txt").write_text("x")
    with subprocess.Popen(
        [sys.executable, "-m", "archiver", "validate", "--json", bag / "a-giant-step-for-peace"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as pipe:
        assert pipe.stdout is not None and pipe.stderr is not None
        pipe.stdout.readline()
        pipe.stdout.close()  # what `head -1` does after its line
        err = pipe.stderr.read().decode()
        assert pipe.wait() == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--out", "{tmp}/demo"],
        ["validate", "--json", "{bag}"],
        ["audit", "{col}"],
    ],
    ids=["demo", "validate-json", "audit"],
)
def test_output_to_a_full_disk_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    """stdout on /dev/full: every write fails with ENOSPC, as on a full disk."""
    col = tmp_path / "col"
    made = subprocess.run(
        [sys.executable, "-m", "archiver", "bag", str(SAMPLE_TEXT), "--out", str(col)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    bag = made.stdout.strip()
    words = [w.format(tmp=tmp_path, bag=bag, col=col) for w in command]
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [sys.executable, "-m", "archiver", *words], stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=120, check=False,
        )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.endswith(
        "archiver: error: cannot write the output: No space left on device\n"
    )
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["audit", ""],
        ["bag", "{text}", "--out", ""],
        ["validate", ""],
        ["ingest", "{text}", "--out", ""],
        ["batch", "", "--out", "c"],
        ["export", "b", "--to", "ocfl", "--out", ""],
        ["serve", "", "--port", "0"],
    ],
    ids=["audit", "bag-out", "validate", "ingest-out", "batch", "export-out", "serve"],
)
def test_an_empty_path_is_refused_not_taken_for_this_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """An empty argument ("$COLLECTION" unset) is no path; Path("") would be "."."""
    text = tmp_path / "text.txt"
    text.write_text("text\n", encoding="utf-8")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(SystemExit) as refused:
        main([word.format(text=text) for word in command])
    assert refused.value.code == 2
    assert listing(here) == []


@pytest.mark.parametrize("where", ["the-bag", "its-data", "a-new-folder-in-it"])
@pytest.mark.parametrize("command", ["bag", "ingest", "batch"])
def test_no_bag_is_written_into_another_bag(
    tmp_path: Path, cli: CliRunner, command: str, where: str
) -> None:
    """An --out that is a bag, or inside one (the bag's path given for its collection's),
    is exit 2: a bag made there would damage the bag around it."""
    text = tmp_path / "text.txt"
    text.write_text("A text\n", encoding="utf-8")
    made = cli("bag", text, "--out", tmp_path / "bags", "--id", "old")
    assert made.code == 0, made.err
    old = tmp_path / "bags" / "old"
    out = {"the-bag": old, "its-data": old / "data", "a-new-folder-in-it": old / "data" / "n"}
    before, names = snapshot(old), listing(old)
    if command == "bag":
        run = cli("bag", text, "--out", out[where], "--id", "new")
    elif command == "ingest":
        run = cli("ingest", old, "--out", out[where], "--id", "new")
    else:
        sheet = tmp_path / "sheet.csv"
        sheet.write_text("source,dc.title\ntext.txt,A text\n", encoding="utf-8")
        run = cli("batch", sheet, "--out", out[where])
    assert run.code == 2, run.out + run.err
    assert "a bag is never written into another" in run.err or (
        command == "ingest" and "cannot be inside the bag being ingested" in run.err
    )
    assert snapshot(old) == before and listing(old) == names  # no folder added either


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "{bag}"],
        ["audit", "{bag}/data"],
        ["audit", "history", "{bag}"],
        ["withdraw", "{bag}", "x", "--reason", "r"],
        ["serve", "{bag}", "--port", "0"],
    ],
    ids=["audit", "audit-its-data", "history", "withdraw", "serve"],
)
def test_a_bag_given_for_a_collection_is_exit_2_and_left_as_it_was(
    tmp_path: Path, cli: CliRunner, command: list[str]
) -> None:
    """A collection keeps its records (ledger, catalog) in .archiver/: inside a bag that
    would be a folder its manifests do not list. The audit reported '0 bags checked', exit
    0, and made one there."""
    text = tmp_path / "text.txt"
    text.write_text("A text\n", encoding="utf-8")
    assert cli("bag", text, "--out", tmp_path / "bags", "--id", "b").code == 0
    bag = tmp_path / "bags" / "b"
    before, names = snapshot(bag), listing(bag)
    run = cli(*[word.format(bag=bag) for word in command])
    assert run.code == 2, run.out + run.err
    assert "is a bag" in run.err or "is inside the bag" in run.err
    assert snapshot(bag) == before and listing(bag) == names
