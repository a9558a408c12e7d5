"""The shell examples of the README and docs/ are commands that work.

Every ``archiver ...`` line of an indented example is one the command line accepts, as
written, and every file of this repository it names is there. The README's tour runs, in
order, in a folder holding the files it takes a reader to have (a text, its record, a
foreign bag, three serialized bags, docs/batch.md's sheet): every command exits 0, and
``serve`` answers a harvester under the tour's names. docs/cli.md's ``serve`` example
answers its ``curl``; docs/record.md's example and the README's demo print what they show;
each benchmark command names a script and options that exist.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import bagit
import pytest
from lxml import etree

from archiver.cli import _normalise, build_parser
from tests.conftest import REPO, SAMPLE_RECORD, SAMPLE_TEXT, CliRunner
from tests.oai_helpers import PREFIX, SPECS, live_ids, make_collection, serve_process

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# An indented example line, "$ " optional; a trailing backslash continues it on the next.
_EXAMPLE = re.compile(
    r"^    (?:\$ )?((?:archiver|\.venv/bin/python|curl) (?:.*\\\n    )*.*)$", re.M
)
OAI = "{http://www.openarchives.org/OAI/2.0/}"


@dataclass(frozen=True)
class Example:
    document: str
    line: int
    text: str  # the command as a shell reads it, continuation lines joined

    @property
    def words(self) -> list[str]:
        """The command's words, without a redirection of its output."""
        words = shlex.split(self.text, comments=True)
        return words[: words.index(">")] if ">" in words else words

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.text}"


def examples(document: Path) -> list[Example]:
    text = document.read_text(encoding="utf-8")
    found = []
    for match in _EXAMPLE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        command = re.sub(r"\\\n\s*", "", match.group(1))
        found.append(Example(document.relative_to(REPO).as_posix(), line, command))
    return found


ALL = [example for document in DOCUMENTS for example in examples(document)]
COMMANDS = [example for example in ALL if example.words[0] == "archiver"]


def test_the_documents_hold_the_examples_this_module_checks() -> None:
    assert len(COMMANDS) >= 45
    assert {e.words[1] for e in COMMANDS} >= {
        "bag", "validate", "audit", "serve", "withdraw", "export", "ingest", "batch", "users"
    }  # fmt: skip


@pytest.mark.parametrize("example", COMMANDS, ids=str)
def test_every_archiver_example_is_a_command_line_archiver_accepts(example: Example) -> None:
    parser = build_parser()
    try:
        parser.parse_args(_normalise(example.words[1:]))
    except SystemExit as exit:
        pytest.fail(f"{example}: refused by the parser (exit {exit.code})")
    for word in example.words:
        if word.startswith(("schemas/", "docs/", "benchmarks/")):
            assert (REPO / word).exists(), f"{example}: {word} is not in the repository"


def _tour() -> list[Example]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.count("\n", 0, text.index("## A five-minute tour"))
    end = text.count("\n", 0, text.index("## The Python API"))
    return [e for e in COMMANDS if e.document == "README.md" and start < e.line < end]


def _batch_sheet() -> str:
    """docs/batch.md's example of archiver's own sheet."""
    text = (REPO / "docs" / "batch.md").read_text(encoding="utf-8")
    [sheet, *_] = re.findall(r"^```csv\n(.*?)^```$", text, re.M | re.S)
    assert sheet.startswith("source,")
    return str(sheet)


@pytest.fixture
def reader_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A reader's folder, in a checkout (schemas/), with the files the tour takes as theirs."""
    import archiver

    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "schemas").symlink_to(REPO / "schemas", target_is_directory=True)
    shutil.copyfile(SAMPLE_TEXT, folder / "essay.txt")
    shutil.copyfile(SAMPLE_RECORD, folder / "essay.json")
    foreign = folder / "incoming" / "foreign-bag"
    foreign.mkdir(parents=True)
    shutil.copyfile(SAMPLE_TEXT, foreign / "editorial.txt")
    bagit.make_bag(str(foreign), {"Source-Organization": "A neighbouring library"})
    made = folder / "made"
    for name, serialize in (("deposit", "tar"), ("other", "zip"), ("archived", "tgz")):
        bag = archiver.make_bag([SAMPLE_TEXT], made, bag_id=name, serialize=serialize)
        bag.path.rename(folder / bag.path.name)
    shutil.rmtree(made)
    (folder / "records.csv").write_text(_batch_sheet(), encoding="utf-8")
    (folder / "texts").mkdir()
    for name in ("giant-step.txt", "harvest.txt", "harvest-notes.txt"):
        (folder / "texts" / name).write_text(f"{name}\n\nA text of the sheet.\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    return folder


def _expanded(words: list[str]) -> list[str]:
    """The words as the shell passes them: a pattern becomes the names it matches."""
    return [name for word in words for name in (sorted(glob.glob(word)) if "*" in word else [word])]


def test_the_readmes_tour_runs_in_order_and_does_what_it_says(
    reader_folder: Path, cli: CliRunner
) -> None:
    tour = _tour()
    assert [e.words[1] for e in tour] == [
        "bag", "validate", "validate", "validate", "audit", "audit", "audit", "export", "export",
        "validate", "ingest", "batch", "batch", "serve", "withdraw",
    ]  # fmt: skip
    for example in tour:
        if example.words[1] == "serve":
            _harvest(example, reader_folder)
            continue
        run = cli(*_expanded(example.words[1:]))
        assert run.code == 0, f"{example}: exit {run.code}\n{run.out}{run.err}"
        assert "Traceback" not in run.err
    bags = reader_folder / "bags"
    # the essay withdrawn, the foreign bag brought in, the sheet's two rows bagged
    assert sorted(p.name for p in bags.iterdir() if p.name != ".archiver") == [
        "foreign-bag", "giant-step", "the-harvest-of-1998-7008e33a"
    ]  # fmt: skip
    [withdrawn] = (bags / ".archiver" / "withdrawn").iterdir()
    tombstone = json.loads((withdrawn / "tombstone.json").read_text(encoding="utf-8"))
    assert tombstone["reason"] == "withdrawn at the author's request"
    assert (reader_folder / "audit.html").is_file()
    assert (reader_folder / "example.edu.essay.tar").is_file()
    assert (reader_folder / "ocfl-root" / "0=ocfl_1.1").is_file()


def _harvest(example: Example, folder: Path) -> None:
    """``archiver serve`` as the tour gives it answers a harvester, under its own names."""
    words = example.words
    base_url = words[words.index("--base-url") + 1]
    domain = words[words.index("--repository-identifier") + 1]
    with serve_process(words[2:], cwd=folder) as server:
        with urllib.request.urlopen(f"{server.url}?verb=Identify", timeout=30) as response:
            identify = etree.fromstring(response.read())
        with urllib.request.urlopen(
            f"{server.url}?verb=ListIdentifiers&metadataPrefix=oai_dc", timeout=30
        ) as response:
            listed = etree.fromstring(response.read())
    assert identify.findtext(f"{OAI}Identify/{OAI}baseURL") == base_url
    ids = [e.text for e in listed.iter(f"{OAI}identifier")]
    assert f"oai:{domain}:essay" in ids and f"oai:{domain}:giant-step" in ids


def test_the_record_references_example_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner
) -> None:
    text = (REPO / "docs" / "record.md").read_text(encoding="utf-8")
    [example] = [e for e in COMMANDS if e.document == "docs/record.md"]
    lines = text.splitlines()
    shown = []
    for line in lines[example.line :]:  # the lines after the command, up to a blank one
        if not line.strip():
            break
        shown.append(line.removeprefix("    "))
    assert len(shown) == 2
    monkeypatch.chdir(tmp_path)
    Path("report.txt").write_text("Annual report\n\nWhat the year brought.\n", encoding="utf-8")
    Path("record.json").write_text('{"title": "Report", "date": "Spring 2020"}', encoding="utf-8")
    run = cli(*example.words[1:])
    assert run.code == 0, run.err
    # the identifier's digest part depends on the payload: the doc shows one of its form
    pattern = re.escape(shown[0]).replace("1f2e3d4c", "[0-9a-f]{8}")
    assert re.fullmatch(pattern, run.out.strip()), (run.out, shown[0])
    assert run.err.splitlines() == shown[1:]


BENCHMARKS = [e for e in ALL if e.words[0] == ".venv/bin/python"]


@pytest.mark.parametrize("example", BENCHMARKS, ids=str)
def test_every_script_example_names_a_script_and_options_it_has(example: Example) -> None:
    script = REPO / example.words[1]
    assert script.is_file(), f"{example}: no {example.words[1]}"
    source = script.read_text(encoding="utf-8")
    # the options on the line, and those its comment says the script also takes
    for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", example.text):
        assert f'"{option}"' in source, f"{example}: {script.name} has no {option}"
    for word in example.words[2:]:
        if not word.startswith("-") and "/" in word:
            assert (REPO / word).exists() or word.isupper(), f"{example}: no {word}"


def test_the_cli_references_harvest_example_harvests(tmp_path: Path) -> None:
    """docs/cli.md's ``archiver serve`` example (on any free port: ``--port 0`` comes last)
    answers the ``curl`` under it with every bag, under the example's own names."""
    [curl] = [e for e in ALL if e.words[0] == "curl"]
    [serve] = [e for e in COMMANDS if e.document == curl.document and e.line == curl.line - 2]
    assert serve.words[1:3] == ["serve", "bags"]
    make_collection(tmp_path).rename(tmp_path / "bags")
    url = urllib.parse.urlsplit(curl.words[1])
    domain = serve.words[serve.words.index("--repository-identifier") + 1]
    with serve_process(serve.words[2:], cwd=tmp_path) as server:
        assert url.path == urllib.parse.urlsplit(server.url).path
        with urllib.request.urlopen(f"{server.url}?{url.query}", timeout=30) as response:
            listed = etree.fromstring(response.read())
    records = listed.findall(f"{OAI}ListRecords/{OAI}record")
    ids = [r.findtext(f"{OAI}header/{OAI}identifier") for r in records]
    # every bag, in the list's order, named by the example's domain (the helpers' own one)
    assert ids == [f"oai:{domain}:{bag.removeprefix(PREFIX)}" for bag in live_ids(SPECS)]
    assert listed.find(f".//{OAI}resumptionToken") is None


def test_the_readmes_demo_output_is_what_demo_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner
) -> None:
    """The README shows the demo's output from its start and its last line, with "..."
    for the lines between."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"`archiver demo` bags (?:.+\n)*?.*:\n\n((?:    .*\n)+)", text)
    assert block is not None
    shown = [line.removeprefix("    ") for line in block.group(1).splitlines()]
    cut = shown.index("  ...")
    monkeypatch.chdir(tmp_path)
    run = cli("demo")
    assert run.code == 0, run.err
    printed = run.out.splitlines()
    assert printed[:cut] == shown[:cut]
    tail = shown[cut + 1 :]
    assert printed[len(printed) - len(tail) :] == tail
