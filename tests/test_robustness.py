"""It never crashes: garbage in any tag file yields findings, not a traceback.

Binary noise, a 10 MB line, invalid UTF-8, an empty file, a manifest of a million lines,
hostile XML (billion laughs, external entities), special files and paths past PATH_MAX: each
gives a JSON report with findings naming the file, and exit 0 or 1 -- never 2, never a hang.
The parsers and the whole validator are also fed random text and bytes (hypothesis).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver import resources
from archiver.bagit import baginfo, fetch, manifest
from archiver.cli import main
from archiver.codes import LISTED
from archiver.findings import BagReport, Report
from archiver.validation import validate_bag
from tests import corrupt
from tests.conftest import CliRunner, iter_findings, make_source_tree
from tests.test_finding_codes import archiver_bag, summary, write_foreign_bag
from tests.test_packing import validator

Json = dict[str, Any]

TAG_FILES = [
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
    "fetch.txt",
    "metadata/mets.xml",
    "metadata/premis.xml",
    "metadata/dc.xml",
]
GARBAGE: dict[str, Callable[[Path], None]] = {
    "random-binary": corrupt.fill_random,
    "one-10MB-line": corrupt.one_long_line,
    "invalid-utf8": corrupt.invalid_utf8,
    "empty": corrupt.empty,
}


def report_schema() -> jsonschema.Draft202012Validator:
    return validator(resources.json_schema("validation-report.schema.json"))


def validate_cli(cli: CliRunner, *bags: Path) -> tuple[int, Json]:
    """``archiver validate --json`` in this process: a traceback would fail the test."""
    run = cli("validate", "--json", *bags)
    assert run.code in (0, 1), run.err
    report: Json = json.loads(run.out)
    report_schema().validate(report)
    return run.code, report


def validate_child(*bags: Path, timeout: float = 120) -> tuple[int, Json]:
    """The same in a child process, for bags that could make a careless validator hang."""
    child = subprocess.run(
        [sys.executable, "-m", "archiver", "validate", "--json", *map(os.fspath, bags)],
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    assert child.returncode in (0, 1), child.stderr.decode("utf-8", "replace")
    report: Json = json.loads(child.stdout.decode("utf-8"))
    report_schema().validate(report)
    return child.returncode, report


def paths_named(report: Json) -> set[str]:
    return {str(f["path"]) for f in iter_findings(report)}


# -- garbage in every tag file ---------------------------------------------------------------


@pytest.mark.parametrize("garbage", GARBAGE)
@pytest.mark.parametrize("tag_file", TAG_FILES)
def test_garbage_in_a_tag_file_gives_findings_naming_it_not_a_traceback(
    tmp_path: Path, cli: CliRunner, tag_file: str, garbage: str
) -> None:
    bag = archiver_bag(tmp_path, cli)
    GARBAGE[garbage](bag / tag_file)
    _, report = validate_cli(cli, bag)
    assert tag_file in paths_named(report), summary(list(iter_findings(report)))


def test_special_files_in_place_of_tag_files_are_reported_and_never_opened(
    tmp_path: Path, cli: CliRunner
) -> None:
    bags = []
    for number, tag_file in enumerate(TAG_FILES):
        bag = archiver_bag(tmp_path / str(number), cli)
        target = bag / tag_file
        if target.exists():
            target.unlink()
        corrupt.make_fifo(target)
        bags.append(bag)
    code, report = validate_child(*bags)
    assert code == 1
    for tag_file, bag_report in zip(TAG_FILES, report["bags"], strict=True):
        specials = {
            f["path"] for f in bag_report["findings"] if f["code"] == "bag.path.special-file"
        }
        assert specials == {tag_file}


# -- size ------------------------------------------------------------------------------------


def test_a_manifest_of_a_million_lines_is_judged_in_reasonable_time(tmp_path: Path) -> None:
    bag = write_foreign_bag(tmp_path / "bag")
    with (bag / "manifest-sha256.txt").open("a", encoding="utf-8") as handle:
        handle.writelines(f"{'0' * 64}  data/absent/{n:07d}.txt\n" for n in range(1_000_000))
    started = time.monotonic()
    report = validate_bag(bag, workers=1)
    elapsed = time.monotonic() - started
    assert elapsed < 60
    codes = {f.code for f in report.findings}
    assert codes == {"bag.payload.file-missing"}
    # the first LISTED missing files are named, then one finding counts the rest (issue 10,
    # item 15: a million findings printed 139 MB)
    assert len(report.findings) == LISTED + 1
    assert report.findings[0].path == "data/absent/0000000.txt"
    assert report.findings[-1].path == "manifest-sha256.txt"
    assert report.findings[-1].params == {"more": 1_000_000 - LISTED}


# -- hostile XML -----------------------------------------------------------------------------

_LAUGHS = '<!ENTITY lol "lol">\n' + "".join(
    f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
    for n in range(1, 10)
)


def _with_doctype(data: bytes, root: str, subset: str, old: bytes, new: bytes) -> bytes:
    declaration, rest = data.split(b"\n", 1)
    assert old in rest, old
    doctype = f"<!DOCTYPE {root} [\n{subset}]>\n".encode()
    return declaration + b"\n" + doctype + rest.replace(old, new, 1)


def billion_laughs_in_text(bag: Path) -> None:
    path = bag / "metadata" / "mets.xml"
    path.write_bytes(
        _with_doctype(
            path.read_bytes(),
            "mets:mets",
            _LAUGHS,
            b"<mets:name>archiver",
            b"<mets:name>&lol9;archiver",
        )
    )


def billion_laughs_in_attribute(bag: Path) -> None:
    path = bag / "metadata" / "mets.xml"
    path.write_bytes(
        _with_doctype(path.read_bytes(), "mets:mets", _LAUGHS, b'LABEL="', b'LABEL="&lol9;')
    )


_XXE = '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n'


def external_entity_in_dc_title(bag: Path) -> None:
    path = bag / "metadata" / "dc.xml"
    path.write_bytes(
        _with_doctype(path.read_bytes(), "oai_dc:dc", _XXE, b"<dc:title>", b"<dc:title>&xxe;")
    )


def external_entity_in_premis_size(bag: Path) -> None:
    path = bag / "metadata" / "premis.xml"
    path.write_bytes(
        _with_doctype(
            path.read_bytes(), "premis:premis", _XXE, b"<premis:size>", b"<premis:size>&xxe;"
        )
    )


def external_entity_in_mets_attribute(bag: Path) -> None:
    path = bag / "metadata" / "mets.xml"
    path.write_bytes(
        _with_doctype(path.read_bytes(), "mets:mets", _XXE, b'LABEL="', b'LABEL="&xxe;')
    )


def external_parameter_entity_in_dc(bag: Path) -> None:
    path = bag / "metadata" / "dc.xml"
    subset = '<!ENTITY % xxe SYSTEM "file:///etc/passwd">\n%xxe;\n'
    path.write_bytes(_with_doctype(path.read_bytes(), "oai_dc:dc", subset, b"", b""))


# name -> (corruption, the file, whether it must be reported as malformed or schema-invalid).
# A parameter entity that is declared but never loaded leaves a well-formed, valid document:
# only "not read, not expanded, no crash" is asked of it.
HOSTILE: dict[str, tuple[Callable[[Path], None], str, bool]] = {
    "billion-laughs-in-text": (billion_laughs_in_text, "metadata/mets.xml", True),
    "billion-laughs-in-attribute": (billion_laughs_in_attribute, "metadata/mets.xml", True),
    "external-entity-in-dc-title": (external_entity_in_dc_title, "metadata/dc.xml", True),
    "external-entity-in-premis-size": (
        external_entity_in_premis_size,
        "metadata/premis.xml",
        True,
    ),
    "external-entity-in-mets-attribute": (
        external_entity_in_mets_attribute,
        "metadata/mets.xml",
        True,
    ),
    "external-parameter-entity-in-dc": (external_parameter_entity_in_dc, "metadata/dc.xml", False),
}


def _passwd_lines() -> list[str]:
    """Lines of /etc/passwd long enough not to appear in a report by chance."""
    lines = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if len(line) >= 12]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_xml_is_reported_as_bad_and_never_expanded_or_followed(
    tmp_path: Path, cli: CliRunner, name: str
) -> None:
    hostile, rel, flagged = HOSTILE[name]
    bag = archiver_bag(tmp_path, cli)
    hostile(bag)
    started = time.monotonic()
    code, report = validate_cli(cli, bag)
    assert time.monotonic() - started < 10
    assert code == 1
    findings = list(iter_findings(report))
    bad_xml = {"metadata.xml.malformed", "metadata.xml.schema-invalid"}
    assert not flagged or any(f["path"] == rel and f["code"] in bad_xml for f in findings), summary(
        findings
    )
    text = json.dumps(report)
    assert "lol" * 20 not in text
    assert _passwd_lines(), "the test needs a readable /etc/passwd"
    assert not [line for line in _passwd_lines() if line in text]
    assert len(text) < 100_000


# -- paths the kernel refuses ----------------------------------------------------------------


def test_a_payload_file_whose_path_passes_path_max_gives_findings_not_a_traceback(
    tmp_path: Path, cli: CliRunner
) -> None:
    # The folder can still be listed (its path is shorter than PATH_MAX), the file's path
    # is not: stat() by path fails with ENAMETOOLONG, open() by path too.
    bag = write_foreign_bag(tmp_path / "bag")
    folder = bag / "data" / "deep"
    while len(os.fsencode(folder)) < corrupt.PATH_MAX - 256:
        folder = folder / ("d" * 200)
    name = "f" * (corrupt.PATH_MAX - len(os.fsencode(folder)) - 1)  # <= NAME_MAX (255)
    _make_by_dir_fd(folder, bag / "data", name)
    code, report = validate_cli(cli, bag)
    assert code == 1
    assert any(p.startswith("data/deep/") for p in paths_named(report)), summary(
        list(iter_findings(report))
    )


def _make_by_dir_fd(folder: Path, base: Path, name: str) -> None:
    """Create ``folder`` under ``base`` one level at a time, and the file ``name`` in it."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in folder.relative_to(base).parts:
            os.mkdir(part, dir_fd=fd)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
        os.write(leaf, b"a file no path can reach\n")
        os.close(leaf)
    finally:
        os.close(fd)


# -- property: the parsers never raise and account for every line ---------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")
_TOKENS = [
    "0" * 64,
    "deadBEEF",
    "  ",
    "\t",
    " ",
    ":",
    ": ",
    "*",
    "./",
    "../",
    "/",
    "~",
    "data/",
    "a.txt",
    "%25",
    "%0A",
    "%0d",
    "%",
    "-",
    "12",
    "https://example.org/x",
    "Payload-Oxum",
    "\ufeff",
    "\x00",
    "\x0b",
    "\u2028",
    "é",
]
# Random text, and text built from the pieces these formats are made of.
texts = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.one_of(st.sampled_from([*_TOKENS, "\n", "\r\n", "\r"]), st.text(max_size=8)),
        max_size=60,
    ).map("".join),
)


def split(text: str) -> list[str]:
    """A tag file's lines as the validator hands them over: split on CR, LF or CRLF."""
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def non_blank(lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    return ((n, line) for n, line in enumerate(lines, start=1) if line.strip())


@settings(max_examples=300, deadline=None)
@given(texts)
def test_parse_manifest_never_raises_and_accounts_for_every_line(text: str) -> None:
    lines = split(text)
    entries, bad = manifest.parse_manifest(lines)
    entry_lines = {e.line for e in entries}
    bad_lines = {b.line for b in bad}
    assert not entry_lines & bad_lines
    assert entry_lines | bad_lines <= set(range(1, len(lines) + 1))
    for number, _ in non_blank(lines):
        assert number in entry_lines | bad_lines
    for entry in entries:
        assert entry.raw_path and entry.raw_path in lines[entry.line - 1]


@settings(max_examples=300, deadline=None)
@given(texts)
def test_parse_fetch_never_raises_and_accounts_for_every_line(text: str) -> None:
    lines = split(text)
    entries, bad = fetch.parse_fetch(lines)
    entry_lines = {e.line for e in entries}
    bad_lines = {b.line for b in bad}
    assert not entry_lines & bad_lines
    assert entry_lines | bad_lines <= set(range(1, len(lines) + 1))
    for number, _ in non_blank(lines):
        assert number in entry_lines | bad_lines
    for entry in entries:
        assert entry.url in lines[entry.line - 1]
        assert entry.length is None or entry.length >= 0


@pytest.mark.parametrize("strict", [True, False], ids=["1.0", "before-1.0"])
@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_parse_bag_info_never_raises_and_accounts_for_every_line(strict: bool, text: str) -> None:
    lines = split(text)
    elements, bad = baginfo.parse_bag_info(lines, strict=strict)
    starts = {e.line for e in elements}
    bad_lines = {b.line for b in bad}
    assert starts | bad_lines <= set(range(1, len(lines) + 1))
    for number, line in non_blank(lines):
        if number in starts | bad_lines:
            continue
        # otherwise a continuation line, folded into the element it follows
        assert line[:1] in (" ", "\t"), (number, line)
        before = [e for e in elements if e.line < number]
        assert before and line.strip() in before[-1].value


# -- property: random bytes as a bag's tag file always give a report ------------------------


@pytest.fixture(scope="module")
def template_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small archiver bag, made once by the real CLI; examples work on copies of it."""
    base = tmp_path_factory.mktemp("template")
    source = make_source_tree(base / "src", {"a.txt": "The first text.\n", "sub/b.txt": "Two.\n"})
    assert main(["bag", os.fspath(source), "--out", os.fspath(base / "bags"), "--id", "t"]) == 0
    return base / "bags" / "t"


_BYTE_TOKENS = [token.encode() for token in _TOKENS if token not in {"\ufeff", "\u2028"}] + [
    b"\n",
    b"\r\n",
    b"\r",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xe9",
    b"\x80",
    b"\x00\x00",
]
garbage_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(st.sampled_from(_BYTE_TOKENS), st.binary(max_size=6)), max_size=50).map(
        b"".join
    ),
)


@pytest.mark.parametrize("tag_file", ["manifest-sha256.txt", "bag-info.txt", "fetch.txt"])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=garbage_bytes)
def test_random_bytes_as_a_tag_file_always_give_a_report(
    template_bag: Path, tag_file: str, data: bytes
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        bag = Path(scratch) / "bag"
        shutil.copytree(template_bag, bag, symlinks=True)
        (bag / tag_file).write_bytes(data)
        report = validate_bag(bag, workers=1)
        assert isinstance(report, BagReport)
        document = Report([report]).to_json()
        report_schema().validate(document)
        json.dumps(document)
        # a changed tag file is always noticed, and named
        assert tag_file in {f.path for f in report.findings}
