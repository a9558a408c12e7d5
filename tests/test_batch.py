"""archiver batch (issue 14): a spreadsheet of descriptions -> one bag per row, checked
whole first, resumable after kill -9, failed rows given back as an errors sheet."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from archiver.batch import run_batch
from archiver.validation import validate_bag
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, make_source_tree, snapshot


def write_csv(path: Path, rows: list[list[str]], *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def texts(folder: Path, count: int, prefix: str = "text") -> list[str]:
    """``count`` small texts in ``folder``; their names relative to it."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        name = f"{prefix}-{index:03d}.txt"
        (folder / name).write_text(f"Text number {index}.\nIt says something.\n", encoding="utf-8")
        names.append(f"{folder.name}/{name}")
    return names


def journal_rows(collection: Path) -> list[tuple[str, int, str, str]]:
    with closing(sqlite3.connect(collection / ".archiver" / "batches.sqlite")) as db:
        return list(db.execute("SELECT sheet, row, bag_id, how FROM rows ORDER BY row"))


def bag_folders(collection: Path) -> list[str]:
    return sorted(p.name for p in collection.iterdir() if not p.name.startswith("."))


# -- the acceptance sheet ----------------------------------------------------------------------


def test_a_sheet_of_200_rows_with_3_bad_ones_makes_197_bags_and_an_errors_sheet(
    tmp_path: Path, cli: CliRunner
) -> None:
    names = texts(tmp_path / "work" / "texts", 200)
    rows = [["source", "id", "dc.title", "dc.date", "dc.subject", "bag-info/Source-Organization"]]
    for index, name in enumerate(names):
        rows.append([name, f"t{index:03d}", f"Text {index}", "2019-05", "News||Weather", "Gazette"])
    rows[1 + 17][0] = "texts/missing.txt"  # a missing file
    rows[1 + 42][3] = "31 February 2019"  # a date that is none
    rows[1 + 99][1] = "../escape"  # an id that is no id
    sheet = write_csv(tmp_path / "work" / "records.csv", rows)
    collection = tmp_path / "collection"
    run = cli("batch", sheet, "--out", collection, "--jobs", "2", "--json")
    assert run.code == 1, run.err
    result = json.loads(run.out)
    assert (result["rows"], result["bagged"], result["failed"]) == (200, 197, 3)
    made = bag_folders(collection)
    assert len(made) == 197
    assert "t017" not in made and "t042" not in made
    for bag_id in ("t000", "t150", "t199"):
        assert validate_bag(collection / bag_id).valid
    dc = (collection / "t150" / "metadata" / "dc.xml").read_text(encoding="utf-8")
    assert "<dc:subject>News</dc:subject>" in dc and "<dc:subject>Weather</dc:subject>" in dc
    errors = Path(result["errors_sheet"])
    assert errors == collection / ".archiver" / "batches" / "records-errors.csv"
    with open(errors, encoding="utf-8-sig", newline="") as handle:
        given = list(csv.reader(handle))
    assert given[0] == [*rows[0], "error"]
    assert [row[:-1] for row in given[1:]] == [rows[18], rows[43], rows[100]]
    reasons = [row[-1] for row in given[1:]]
    assert "no such file" in reasons[0]
    assert reasons[1].startswith("dc.date:")
    assert reasons[2].startswith("id: invalid bag identifier")
    assert [r[1] for r in journal_rows(collection)] == [
        n for n in range(2, 202) if n not in (19, 44, 101)
    ]


def test_the_errors_sheet_fixed_and_run_again_bags_the_rest(tmp_path: Path, cli: CliRunner) -> None:
    names = texts(tmp_path / "work" / "texts", 3)
    rows = [["source", "id", "dc.title"], *([n, f"b{i}", f"Text {i}"] for i, n in enumerate(names))]
    rows[2][0] = "texts/typo.txt"
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    collection = tmp_path / "c"
    assert cli("batch", sheet, "--out", collection, "--jobs", "1").code == 1
    errors = collection / ".archiver" / "batches" / "sheet-errors.csv"
    with open(errors, encoding="utf-8-sig", newline="") as handle:
        given = list(csv.reader(handle))
    given[1][0] = names[1]  # fixed
    fixed = write_csv(tmp_path / "work" / "fixed.csv", given)
    run = cli("batch", fixed, "--out", collection, "--root", tmp_path / "work")
    assert run.code == 0, run.out + run.err
    assert bag_folders(collection) == ["b0", "b1", "b2"]
    assert not errors.with_name("fixed-errors.csv").exists()


# -- resuming --------------------------------------------------------------------------------


def batch_command(tmp_path: Path, rows: int) -> tuple[list[str], Path, dict[str, str]]:
    """``archiver batch`` as a command line, of a sheet of ``rows`` titled texts into
    tmp_path/collection; the collection, and the environment to run it in."""
    names = texts(tmp_path / "work" / "texts", rows)
    lines = [["source", "dc.title"], *([n, f"Text {i}"] for i, n in enumerate(names))]
    sheet = write_csv(tmp_path / "work" / "sheet.csv", lines)
    collection = tmp_path / "collection"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}
    command = [sys.executable, "-m", "archiver", "batch", str(sheet), "--out", str(collection)]
    return command, collection, env


def run_command(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A batch command line run to its end (two minutes at most), its output captured."""
    return subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_kill_9_in_the_middle_then_the_same_command_bags_every_row_once(tmp_path: Path) -> None:
    command, collection, env = batch_command(tmp_path, 60)
    child = subprocess.Popen(
        [*command, "--jobs", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if collection.is_dir() and len(bag_folders(collection)) >= 10:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the batch ended before it could be killed"
    os.killpg(child.pid, signal.SIGKILL)  # the batch and its workers, at once
    child.wait()
    first = len(bag_folders(collection))
    assert 10 <= first < 60
    again = run_command(command, env)
    assert again.returncode == 0, again.stdout + again.stderr
    made = bag_folders(collection)
    assert len(made) == 60  # every row once: no duplicate, no partial left
    assert not [p for p in collection.iterdir() if p.name.startswith(".archiver-partial")]
    journal = journal_rows(collection)
    assert [r[1] for r in journal] == list(range(2, 62))  # each row once
    assert sorted(r[2] for r in journal) == made
    assert all(validate_bag(collection / bag_id).valid for bag_id in made[::7])
    # and once more: nothing to do
    third = run_command([*command, "--json"], env)
    assert json.loads(third.stdout)["journalled"] == 60


def test_killed_between_a_groups_renames_the_rerun_adopts_those_and_bags_the_rest(
    tmp_path: Path,
) -> None:
    """kill -9 after the third bag of a task's commit group is moved into place: three bags
    are in the collection, none journalled, the group's others staged only. The same
    command again adopts the three, bags the others, and leaves no partial folder."""
    command, collection, env = batch_command(tmp_path, 16)
    first = run_command(
        [*command, "--jobs", "1"], {**env, "ARCHIVER_FAULT": "staging.after-rename:3"}
    )
    assert first.returncode == -signal.SIGKILL
    assert len(bag_folders(collection)) == 3
    assert journal_rows(collection) == []
    again = run_command([*command, "--jobs", "1", "--json"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    hows = [b["how"] for b in json.loads(again.stdout)["bags"]]
    assert hows == ["adopted"] * 3 + ["bagged"] * 13
    assert len(bag_folders(collection)) == 16
    assert not [p for p in collection.iterdir() if p.name.startswith(".archiver-partial")]
    assert [r[1] for r in journal_rows(collection)] == list(range(2, 18))


def test_a_bag_made_but_never_journalled_is_validated_and_adopted(tmp_path: Path) -> None:
    names = texts(tmp_path / "work" / "texts", 2)
    rows = [["source", "id", "dc.title"], [names[0], "a", "First"], [names[1], "b", "Second"]]
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    collection = tmp_path / "c"
    from archiver.clock import Clock
    from archiver.packing import make_bag

    clock = Clock.from_epoch(BAGS_EPOCH)
    make_bag(
        [tmp_path / "work" / names[0]],
        collection,
        bag_id="a",
        record={"title": "First"},
        clock=clock,
        workers=1,
    )
    # a bag "b" with other files than row 3's: never adopted
    other = tmp_path / "other.txt"
    other.write_text("something else\n")
    make_bag([other], collection, bag_id="b", record={"title": "Second"}, clock=clock, workers=1)
    before = snapshot(collection / "b")
    result = run_batch(sheet, collection, jobs=1, clock=clock)
    assert [(b.row, b.bag_id, b.how) for b in result.bags] == [(2, "a", "adopted")]
    assert [(p.row, "other files" in p.message) for p in result.failures] == [(3, True)]
    assert snapshot(collection / "b") == before
    assert [(r[1], r[2], r[3]) for r in journal_rows(collection)] == [(2, "a", "adopted")]


def test_a_tasks_bags_are_flushed_to_disk_together_not_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """32 rows in one process go 8 to a task: 4 flushes of the file system (one per task's
    commit group), where a bag alone would pay one each; every bag is whole and valid."""
    from archiver import staging

    flushes: list[Path] = []
    real = staging.sync_filesystem

    def counted(path: Path) -> None:
        flushes.append(path)
        real(path)

    monkeypatch.setattr(staging, "sync_filesystem", counted)
    names = texts(tmp_path / "work" / "texts", 32)
    rows = [["source", "dc.title"], *([n, f"Text {i}"] for i, n in enumerate(names))]
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    result = run_batch(sheet, tmp_path / "c", jobs=1)
    assert result.ok and len(result.bags) == 32
    assert len(flushes) == 4
    assert len(journal_rows(tmp_path / "c")) == 32
    assert all(validate_bag(b.path).valid for b in result.bags[::5])


def test_a_commit_group_that_raises_fails_its_rows_not_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archiver import staging

    def broken(self: staging.CommitGroup) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(staging.CommitGroup, "commit", broken)
    names = texts(tmp_path / "work" / "texts", 3)
    rows = [["source", "dc.title"], *([n, f"Text {i}"] for i, n in enumerate(names))]
    result = run_batch(write_csv(tmp_path / "work" / "sheet.csv", rows), tmp_path / "c", jobs=1)
    assert result.bags == []
    assert [(p.row, p.message) for p in result.failures] == [
        (row, "unexpected RuntimeError: a bug") for row in (2, 3, 4)
    ]
    assert bag_folders(tmp_path / "c") == []
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".archiver-partial")]


def test_two_rows_of_one_task_that_make_the_same_bag_give_one_bag_adopted_once(
    tmp_path: Path,
) -> None:
    """Same file, same title, no id: both rows derive one id. Both are built in one commit
    group; the second finds the first's bag in its place, and adopts it (it holds exactly
    its files)."""
    names = texts(tmp_path / "work" / "texts", 1)
    rows = [["source", "dc.title"], [names[0], "Same"], [names[0], "Same"]]
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    result = run_batch(sheet, tmp_path / "c", jobs=1)
    assert result.ok
    assert sorted((b.row, b.how) for b in result.bags) == [(2, "bagged"), (3, "adopted")]
    assert len({b.bag_id for b in result.bags}) == 1 and len(bag_folders(tmp_path / "c")) == 1
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".archiver-partial")]


# -- other sheets ------------------------------------------------------------------------------


def test_an_archivematica_metadata_csv_makes_a_bag_per_file_with_the_objects_defaults(
    tmp_path: Path, cli: CliRunner
) -> None:
    """Archivematica's transfer layout: objects/ beside metadata/metadata.csv; the objects
    row gives every file row its defaults; a non-DC column is a bag-info label; non-ASCII
    file names."""
    transfer = tmp_path / "transfer"
    (transfer / "objects" / "letters").mkdir(parents=True)
    (transfer / "objects" / "café menu.txt").write_text("Soupe du jour\n", encoding="utf-8")
    (transfer / "objects" / "letters" / "naïve.txt").write_text("Dear reader,\n", encoding="utf-8")
    sheet = write_csv(
        transfer / "metadata" / "metadata.csv",
        [
            ["filename", "dc.title", "dc.creator", "dc.date", "dc.rights", "Box"],
            ["objects", "", "Archives team", "", "CC BY 4.0", "12"],
            ["objects/café menu.txt", "The café menu", "", "1998", "", ""],
            ["objects/letters/naïve.txt", "A naïve letter", "A. Writer", "1999-03-02", "", "7"],
        ],
        bom=True,
    )
    collection = tmp_path / "collection"
    run = cli("batch", sheet, "--out", collection, "--json")
    assert run.code == 0, run.out + run.err
    result = json.loads(run.out)
    assert result["kind"] == "archivematica" and result["bagged"] == 2
    by_row = {b["row"]: Path(b["path"]) for b in result["bags"]}
    menu, letter = by_row[3], by_row[4]
    assert (menu / "data" / "café menu.txt").read_text(encoding="utf-8") == "Soupe du jour\n"
    dc = (menu / "metadata" / "dc.xml").read_text(encoding="utf-8")
    assert "<dc:creator>Archives team</dc:creator>" in dc  # from the objects row
    assert "<dc:rights>CC BY 4.0</dc:rights>" in dc
    letter_dc = (letter / "metadata" / "dc.xml").read_text(encoding="utf-8")
    assert "<dc:creator>A. Writer</dc:creator>" in letter_dc  # its own value wins
    assert "Box: 7" in (letter / "bag-info.txt").read_text(encoding="utf-8")
    assert "Box: 12" in (menu / "bag-info.txt").read_text(encoding="utf-8")
    assert all(validate_bag(path).valid for path in by_row.values())


def test_a_dart_batch_csv_makes_a_bag_per_row(tmp_path: Path, cli: CliRunner) -> None:
    """DART's batch CSV: Bag-Name, Root-Directory (absolute, inside --root), tag columns
    as tag_file.txt/Tag-Name."""
    roots = tmp_path / "data"
    for name in ("photos-2019", "letters-1998"):
        texts(roots / name, 2, prefix=name)
    sheet = write_csv(
        tmp_path / "jobs" / "batch.csv",
        [
            [
                "Bag-Name",
                "Root-Directory",
                "bag-info.txt/Source-Organization",
                "aptrust-info.txt/Title",
                "aptrust-info.txt/Description",
            ],
            ["test.edu.photos", str(roots / "photos-2019"), "Test U", "Photos 2019", "Summer"],
            ["test.edu.letters", str(roots / "letters-1998"), "Test U", "Letters", "Old ones"],
        ],
    )
    collection = tmp_path / "collection"
    refused = cli("batch", sheet, "--out", collection, "--dry-run")
    assert refused.code == 1 and "outside" in refused.out  # absolute paths: --root needed
    run = cli("batch", sheet, "--out", collection, "--root", roots)
    assert run.code == 0, run.out + run.err
    assert bag_folders(collection) == ["test.edu.letters", "test.edu.photos"]
    photos = collection / "test.edu.photos"
    assert "Source-Organization: Test U" in (photos / "bag-info.txt").read_text()
    dc = (photos / "metadata" / "dc.xml").read_text(encoding="utf-8")
    assert "<dc:title>Photos 2019</dc:title>" in dc and "Summer" in dc
    assert sorted(p.name for p in (photos / "data").iterdir()) == [
        "photos-2019-000.txt",
        "photos-2019-001.txt",
    ]


# -- checking before anything is written ----------------------------------------------------------


def test_a_dry_run_lists_every_problem_and_writes_nothing(tmp_path: Path, cli: CliRunner) -> None:
    names = texts(tmp_path / "work" / "texts", 4)
    (tmp_path / "secret.txt").write_text("outside\n")
    rows = [
        ["source", "id", "dc.title", "dc.date"],
        [names[0], "x", "One", "2001"],
        [names[1], "x", "Two", "2002"],  # the same id again
        ["../secret.txt", "", "Three", "2003"],  # outside the sheet's folder
        [names[3], "", "", "not a date"],
        ["", "", "", ""],  # Excel's trailing empty rows
        ["", "", "", ""],
    ]
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    collection = tmp_path / "collection"
    before = snapshot(tmp_path)
    run = cli("batch", sheet, "--out", collection, "--dry-run", "--json")
    assert run.code == 1
    result = json.loads(run.out)
    assert result["rows"] == 4 and result["to_bag"] == 1
    assert [(p["row"], p["column"]) for p in result["problems"]] == [
        (3, "id"),
        (4, "source"),
        (5, "dc.date"),
    ]
    assert snapshot(tmp_path) == before
    assert not collection.exists()


def test_the_sheets_folder_resolver_agrees_with_realpath_on_links_and_dots(
    tmp_path: Path,
) -> None:
    """The sheet check resolves each folder once (sources.Resolver); over a tree of links
    (to folders, to files, to outside, dangling, chained) and '.'/'..' components, one
    shared resolver gives exactly what os.path.realpath gives, path by path."""
    import itertools

    from archiver.sources import Resolver

    base = tmp_path / "base"
    (base / "real" / "sub").mkdir(parents=True)
    (base / "real" / "f.txt").write_text("f")
    (base / "real" / "sub" / "g.txt").write_text("g")
    (tmp_path / "outside").mkdir()
    (base / "ln").symlink_to("real")
    (base / "real" / "lf").symlink_to("f.txt")
    (base / "real" / "up").symlink_to("..")
    (base / "out").symlink_to("../outside")
    (base / "chain").symlink_to("ln")
    (base / "dangling").symlink_to("nowhere/at/all")
    parts = ["real", "ln", "chain", "sub", "f.txt", "lf", "up", "out", "dangling", "..", "x"]
    shared = Resolver()
    checked = 0
    for depth in (1, 2, 3):
        for combo in itertools.product(parts, repeat=depth):
            for path in (base.joinpath(*combo), Path(os.path.relpath(base, Path.cwd()), *combo)):
                expected = Path(os.path.realpath(path))
                assert shared.real(path) == expected, path
                assert Resolver().real(path) == expected, path
                checked += 1
    assert checked == 2 * (11 + 11**2 + 11**3)


def test_a_source_through_a_link_out_of_the_sheets_folder_is_refused(
    tmp_path: Path, cli: CliRunner
) -> None:
    names = texts(tmp_path / "work" / "texts", 2)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.txt").write_text("secret\n")
    (tmp_path / "work" / "door").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "work" / "texts" / "alias.txt").symlink_to(tmp_path / "elsewhere" / "secret.txt")
    rows = [
        ["source", "dc.title"],
        [names[0], "Fine"],
        ["door/secret.txt", "Through a linked folder"],
        ["texts/alias.txt", "Through a linked file"],
        [names[1], "Fine too"],
    ]
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    run = cli("batch", sheet, "--out", tmp_path / "c", "--dry-run", "--json")
    assert run.code == 1
    problems = json.loads(run.out)["problems"]
    assert [(p["row"], p["column"]) for p in problems] == [(3, "source"), (4, "source")]
    assert all("outside" in p["message"] for p in problems)


def test_a_dry_run_after_a_run_says_which_rows_are_bagged_already_and_writes_nothing(
    tmp_path: Path, cli: CliRunner
) -> None:
    names = texts(tmp_path / "work" / "texts", 3)
    rows = [["source", "dc.title"], *([n, f"Text {i}"] for i, n in enumerate(names))]
    rows.append(["texts/missing.txt", "Never there"])
    sheet = write_csv(tmp_path / "work" / "sheet.csv", rows)
    collection = tmp_path / "collection"
    assert cli("batch", sheet, "--out", collection).code == 1  # the missing file's row
    rows.insert(3, [names[0], "A new row"])  # another sheet: nothing journalled for it
    edited = write_csv(tmp_path / "work" / "edited.csv", rows)
    before = snapshot(tmp_path)
    records = collection / ".archiver"
    entries_changed = records.stat().st_mtime_ns  # a file made or removed there changes it
    run = cli("batch", sheet, "--out", collection, "--dry-run", "--json")
    assert run.code == 1
    result = json.loads(run.out)
    assert (result["to_bag"], result["journalled"], result["failed"]) == (3, 3, 1)
    assert [b["row"] for b in result["bags"]] == [2, 3, 4]
    text = cli("batch", sheet, "--out", collection, "--dry-run")
    assert "4 rows: 0 ready to bag, 3 bagged before, 1 with problems" in text.out
    other = json.loads(cli("batch", edited, "--out", collection, "--dry-run", "--json").out)
    assert (other["to_bag"], other["journalled"]) == (4, 0)
    assert snapshot(tmp_path) == before
    assert (
        records.stat().st_mtime_ns == entries_changed
    )  # no WAL or shared memory, even for a moment


def test_a_journal_opened_read_only_makes_no_file_beside_it(tmp_path: Path) -> None:
    from archiver.collection.journal import Journal

    path = tmp_path / "batches.sqlite"
    journal = Journal(path)
    journal.record("sheet", [(2, "a", "bagged")], "2026-12-07T00:00:00Z")
    journal.close()
    side = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    stored = path.read_bytes()
    looking = Journal(path, read_only=True)
    try:
        assert looking.done("sheet") == {2: "a"}
        assert not any(p.exists() for p in side)
    finally:
        looking.close()
    assert path.read_bytes() == stored
    writing = Journal(path)  # as a batch opens it: its WAL beside it while it is open
    try:
        writing.done("sheet")
        assert all(p.exists() for p in side)
    finally:
        writing.close()


def test_an_unknown_column_stops_the_whole_sheet_with_a_suggestion(
    tmp_path: Path, cli: CliRunner
) -> None:
    names = texts(tmp_path / "work" / "texts", 1)
    sheet = write_csv(
        tmp_path / "work" / "sheet.csv",
        [["source", "dc.titel", "bag-info/Source-Organisation"], [names[0], "A title", "Us"]],
    )
    run = cli("batch", sheet, "--out", tmp_path / "c")
    assert run.code == 2
    assert "dc.titel: did you mean dc.title?" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
    fixed = write_csv(
        tmp_path / "work" / "fixed.csv",
        [["source", "dc.title", "bag-info/Source-Organisation"], [names[0], "A title", "Us"]],
    )
    run = cli("batch", fixed, "--out", tmp_path / "c", "--dry-run")
    assert run.code == 0
    assert "did you mean Source-Organization?" in run.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"source,dc.title\r\ntexts/a.txt,caf\xe9\r\n", "not UTF-8"),
        (b"", "the sheet is empty"),
        (b"title,creator\r\nx,y\r\n", "no 'source' column"),
        (b"source,source\r\nx,y\r\n", "given 2 times"),
        (b'source,dc.title\r\nx,"never closed\r\n', "row 2: not CSV: unexpected end of data"),
        (b'source,dc.title\r\nx,"a"b\r\n', "row 2: not CSV: ',' expected after '\"'"),
        (b'source,dc.title\r\nx,"a"\r\ny,"b\r\n', "row 3: not CSV: unexpected end of data"),
        (b"source,dc.title\r\nx,y\x00\r\n", "holds a NUL character"),
    ],
)
def test_a_sheet_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, cli: CliRunner, content: bytes, message: str
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(content)
    run = cli("batch", sheet, "--out", tmp_path / "c")
    assert run.code == 2
    assert message in run.err and len(run.err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_only_cr_and_lf_end_a_row_as_in_csv(tmp_path: Path) -> None:
    """NEL, a line or paragraph separator or a form feed in a cell is part of the cell
    (RFC 4180 rows end with CRLF; Excel writes LF too), never a row's end."""
    from archiver.sheet import read_sheet

    make_source_tree(tmp_path / "work" / "texts", {"a.txt": "A\n"})
    titles = ["Next\x85line", "Line\u2028separator", "Para\u2029graph", "Page\x0cbreak"]
    rows = [f"texts/a.txt,{title},b{n}" for n, title in enumerate(titles)]
    sheet = tmp_path / "work" / "sheet.csv"
    sheet.write_text("source,dc.title,id\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    read = read_sheet(sheet)
    assert [job.row for job in read.jobs] == [2, 3, 4]
    assert [job.bag_id for job in read.jobs] == ["b0", "b1", "b2"]
    assert [job.record.values("title") for job in read.jobs] == [(t,) for t in titles[:3]]
    # XML cannot hold a form feed: that row's title is its one problem
    assert [(p.row, p.column) for p in read.problems] == [(5, "dc.title")]


def test_the_sheets_in_batch_md_are_read_as_it_says(tmp_path: Path, cli: CliRunner) -> None:
    """The CSV examples of docs/batch.md, their files made: archiver's and Archivematica's
    bag; DART's (its Root-Directory moved under --root) too."""
    import re

    blocks = re.findall(
        r"^```csv\n(.*?)^```$", (REPO / "docs" / "batch.md").read_text(), re.M | re.S
    )
    ours, archivematica, dart = blocks
    work = tmp_path / "ours"
    for name in ("giant-step.txt", "harvest.txt", "harvest-notes.txt"):
        texts_dir = work / "texts"
        texts_dir.mkdir(parents=True, exist_ok=True)
        (texts_dir / name).write_text(f"{name}\n", encoding="utf-8")
    (work / "sheet.csv").write_text(ours, encoding="utf-8")
    run = cli("batch", work / "sheet.csv", "--out", tmp_path / "c1", "--json")
    assert run.code == 0, run.out + run.err
    made = json.loads(run.out)["bags"]
    assert made[0]["id"] == "giant-step" and len(made) == 2
    dc = (tmp_path / "c1" / "giant-step" / "metadata" / "dc.xml").read_text(encoding="utf-8")
    assert "<dc:date>2018-06</dc:date>" in dc and "<dc:subject>Diplomacy</dc:subject>" in dc
    transfer = tmp_path / "transfer"
    (transfer / "objects" / "letters").mkdir(parents=True)
    (transfer / "objects" / "café menu.txt").write_text("menu\n", encoding="utf-8")
    (transfer / "objects" / "letters" / "naïve.txt").write_text("letter\n", encoding="utf-8")
    (transfer / "metadata").mkdir()
    (transfer / "metadata" / "metadata.csv").write_text(archivematica, encoding="utf-8")
    run = cli("batch", transfer / "metadata" / "metadata.csv", "--out", tmp_path / "c2")
    assert run.code == 0, run.out + run.err
    assert len(bag_folders(tmp_path / "c2")) == 2
    scans = tmp_path / "srv" / "scans" / "photos-2019"
    scans.mkdir(parents=True)
    (scans / "p1.txt").write_text("photo\n")
    (tmp_path / "dart.csv").write_text(dart.replace("/srv/scans", str(scans.parent)))
    run = cli("batch", tmp_path / "dart.csv", "--out", tmp_path / "c3", "--root", tmp_path / "srv")
    assert run.code == 0, run.out + run.err
    assert bag_folders(tmp_path / "c3") == ["test.edu.photos-2019"]


def test_workers_that_die_stop_only_their_rows_and_a_rerun_bags_the_rest(tmp_path: Path) -> None:
    """Every worker process is killed (SIGKILL) at its second bag: the batch goes on on new
    workers, a row whose worker died twice fails with why, nothing crashes; run again
    without the fault, every row is bagged once."""
    command, collection, env = batch_command(tmp_path, 12)
    faulty = {**env, "ARCHIVER_FAULT": "writer.worker-copy:2"}
    first = run_command([*command, "--jobs", "2", "--json"], faulty)
    assert first.returncode in (0, 1), first.stderr
    assert "Traceback" not in first.stderr
    result = json.loads(first.stdout)
    failed = {p["row"] for p in result["problems"]}
    assert all("worker process died" in p["message"] for p in result["problems"])
    assert {b["row"] for b in result["bags"]} | failed == set(range(2, 14))
    again = run_command(command, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(bag_folders(collection)) == 12
    assert [r[1] for r in journal_rows(collection)] == list(range(2, 14))


def test_a_row_whose_worker_always_dies_fails_alone(tmp_path: Path) -> None:
    """Rows go to the workers several to a task; one row kills its worker each time. The
    rows that shared its broken pool are tried again alone and bagged; only that row
    fails, with why."""
    command, collection, env = batch_command(tmp_path, 120)
    run = run_command(
        [*command, "--jobs", "2", "--json"], {**env, "ARCHIVER_FAULT": "batch.row-61"}
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    result = json.loads(run.stdout)
    assert [(p["row"], p["message"]) for p in result["problems"]] == [
        (61, "its worker process died, twice")
    ]
    assert len(bag_folders(collection)) == 119
    assert [r[1] for r in journal_rows(collection)] == [r for r in range(2, 122) if r != 61]


# -- the rows' own checks on the workers ------------------------------------------------------


def _mixed_sheet(tmp_path: Path, rows: int) -> Path:
    """An archiver sheet of ``rows`` rows with every kind of problem, spread over chunks:
    missing and outside sources, dates that are none, bad ids and an id given twice far
    apart, a row too wide, empty rows."""
    names = texts(tmp_path / "work" / "texts", rows)
    (tmp_path / "outside.txt").write_text("not here\n", encoding="utf-8")
    lines = [["source", "id", "dc.title", "dc.date", "bag-info/Source-Organization"]]
    for index, name in enumerate(names):
        source, bag_id, date = name, f"item-{index:04d}", str(1900 + index % 100)
        if index % 37 == 5:
            source = "texts/missing.txt"
        if index % 41 == 7:
            date = "the thirty-second of Smarch"
        if index % 53 == 11:
            bag_id = "bad id with spaces"
        if index % 59 == 13:
            source = "../outside.txt"
        if index == 250:
            bag_id = "item-0003"  # given on an early row, in another chunk
        lines.append([source, bag_id, f"Text {index}", date, "Archive"])
        if index % 97 == 50:
            lines.append(["", "", "", "", ""])  # an empty row: skipped
    lines.insert(140, [names[0], "wide", "Wide", "2000", "Archive", "one cell too many"])
    return write_csv(tmp_path / "work" / "sheet.csv", lines)


def test_the_rows_checked_on_workers_give_the_same_sheet_as_checked_here(tmp_path: Path) -> None:
    """The checks spanning rows (ids given twice, Archivematica's defaults) stay in order
    in the parent; each row's own checks run on the workers a chunk at a time: the jobs,
    the problems and their order are the same either way."""
    from archiver.bagit import hashing
    from archiver.check.profile import load_profile
    from archiver.sheet import read_sheet

    sheet = _mixed_sheet(tmp_path, 420)
    transfer = tmp_path / "transfer"
    (transfer / "objects").mkdir(parents=True)
    rows = [["filename", "dc.title", "dc.creator", "dc.date"], ["objects", "", "The team", ""]]
    for index in range(300):
        name = f"ré {index:03d}.txt"
        if index % 43 != 9:  # some files missing
            (transfer / "objects" / name).write_text(f"{index}\n", encoding="utf-8")
        date = "1999-02-30" if index % 31 == 4 else "1999"
        rows.append([f"objects/{name}", f"Item {index}", "", date])
    metadata = write_csv(transfer / "metadata" / "metadata.csv", rows)
    roots = tmp_path / "roots"
    jobs = [["Bag-Name", "Root-Directory", "aptrust-info.txt/Title", "aptrust-info.txt/Access"]]
    for index in range(300):
        (roots / f"r{index}").mkdir(parents=True)
        (roots / f"r{index}" / "a.txt").write_text(f"{index}\n", encoding="utf-8")
        access = "" if index % 29 == 3 else "Institution"  # APTrust requires it
        jobs.append([f"test.edu.r{index}", f"r{index}", f"Item {index}", access])
    dart = write_csv(tmp_path / "jobs.csv", jobs)
    aptrust = load_profile(REPO / "schemas" / "bagit-profiles" / "aptrust-v2.3.dart-format.json")
    pool = hashing.process_pool(2)
    try:
        for path, profile in ((sheet, None), (metadata, None), (dart, aptrust)):
            root = roots if profile is not None else None
            here = read_sheet(path, root=root, profile=profile)
            there = read_sheet(path, root=root, profile=profile, executor=pool)
            assert there.jobs == here.jobs
            assert there.problems == here.problems
            assert there.cells == here.cells
            assert len(here.jobs) > 200 and len(here.problems) > 8
            assert {p.row for p in here.problems}.isdisjoint(j.row for j in here.jobs)
    finally:
        hashing.close_pool(pool)
    found = read_sheet(sheet).problems
    assert any(p.message.startswith("id item-0003 is given on row 5 too") for p in found)
    assert any(p.column == "" and "6 cells, but 5 columns" in p.message for p in found)


def test_a_worker_that_dies_checking_rows_leaves_them_to_be_checked_here(tmp_path: Path) -> None:
    """A check worker killed (as by the OOM killer) in the middle of its chunk: that chunk
    and the ones after it are checked by the batch itself, a new pool bags the rows, and
    the outcome is a run with no worker dying."""
    command, collection, env = batch_command(tmp_path, 300)
    mark = tmp_path / "mark"
    fault = {"ARCHIVER_FAULT": "sheet.check-130", "ARCHIVER_FAULT_MARK": str(mark)}
    run = run_command([*command, "--jobs", "2", "--json"], {**env, **fault})
    assert mark.read_text() == "sheet.check-130"  # the worker checking rows 130-257 died
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert (result["bagged"], result["failed"]) == (300, 0)
    assert len(bag_folders(collection)) == 300
    assert [r[1] for r in journal_rows(collection)] == list(range(2, 302))
