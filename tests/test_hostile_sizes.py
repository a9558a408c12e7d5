"""Hostile sizes in a bag's tag files: one scan per byte, bounded memory, bounded reports.

Issue 10, item 15: a single 100 MB manifest or fetch.txt line took minutes (the line
splitter re-split a growing buffer: quadratic), and a manifest of a million bad lines took
17 s, 730 MB and printed 139 MB. These tests check the mechanism -- every byte is scanned
once, memory does not follow a line's length, findings of one code about one file are
listed up to LISTED and then counted -- not the time taken (docs/benchmarks.md has figures).
"""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from archiver.bagit import reader, tagfile
from archiver.cli import main
from archiver.codes import LISTED
from archiver.findings import MORE, BagReport, Summariser, counted, finding
from archiver.validation import validate_bag
from tests.test_finding_codes import ZEROS_256, write_foreign_bag


class _CountingPattern:
    """Stands for the splitter's line-end pattern and counts the bytes it is asked to scan."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.scanned = 0

    def split(self, data: bytes) -> list[bytes]:
        self.scanned += len(data)
        return self.pattern.split(data)


def _append_long_line(path: Path, length: int, head: bytes = b"", tail: bytes = b"\n") -> int:
    """Append one line of ``length`` bytes (``head``, then x's) to ``path``; its length."""
    with path.open("ab") as handle:
        handle.write(head)
        left = length - len(head)
        block = b"x" * (1 << 20)
        while left > 0:
            handle.write(block[: min(left, len(block))])
            left -= len(block)
        handle.write(tail)
    return length


def test_a_long_line_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _CountingPattern(tagfile._BYTE_LINE_END)
    monkeypatch.setattr(tagfile, "_BYTE_LINE_END", counting)
    data = b"short\n" + b"x" * (4 << 20) + b"\r\nlast"
    lines = list(tagfile.byte_lines(io.BytesIO(data), limit=8 << 20))
    assert lines == [b"short", b"x" * (4 << 20), b"last"]
    assert counting.scanned == len(data)  # the old splitter scanned it 33 times over


def test_a_line_longer_than_the_limit_is_counted_not_kept() -> None:
    data = b"a\n" + b"y" * 5000 + b"\rb\r"
    lines = list(tagfile.byte_lines(io.BytesIO(data), chunk=7, limit=100))
    assert lines == [b"a", tagfile.LongLine(5000), b"b"]


def test_reading_a_manifest_with_a_16_mb_line_takes_little_memory(tmp_path: Path) -> None:
    bag = write_foreign_bag(tmp_path / "bag")
    manifest = bag / "manifest-sha256.txt"
    length = _append_long_line(manifest, 16 << 20, ZEROS_256.encode() + b"  data/")
    tracemalloc.start()
    try:
        read = reader.read_bag(bag)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (found,) = [p for p in read.problems if p.code == "bag.manifest.line-malformed"]
    assert found.params == {"line": 3, "length": length}
    assert peak < 4 << 20  # the old reader held the line, and more than one copy of it


def test_a_manifest_of_a_million_bad_lines_gives_a_bounded_report(tmp_path: Path) -> None:
    bag = write_foreign_bag(tmp_path / "bag")
    with (bag / "manifest-sha256.txt").open("a", encoding="utf-8") as handle:
        handle.writelines(f"not-hex  data/{n}.txt\n" for n in range(1_000_000))
    report = validate_bag(bag, workers=1)
    malformed = [f for f in report.findings if f.code == "bag.manifest.line-malformed"]
    assert len(malformed) == LISTED + 1
    assert [f.params["line"] for f in malformed[:3]] == [3, 4, 5]
    summary = malformed[-1]
    assert summary.path == "manifest-sha256.txt"
    assert summary.params == {MORE: 1_000_000 - LISTED}
    assert sum(counted(f) for f in malformed) == 1_000_000
    assert not report.valid


def test_a_fetch_txt_of_many_lines_is_summarised_per_code(tmp_path: Path) -> None:
    urls = [f"https://example.org/{n} 5 data/remote/{n}.txt" for n in range(3 * LISTED)]
    bag = write_foreign_bag(tmp_path / "bag", fetch=urls)
    report = validate_bag(bag, workers=1)
    for code in ("bag.fetch.not-in-manifest", "bag.fetch.unfetched"):
        found = [f for f in report.findings if f.code == code]
        assert len(found) == LISTED + 1, code
        assert found[-1].path == "fetch.txt"
        assert found[-1].params == {MORE: 2 * LISTED}


def test_the_cli_counts_what_a_summary_stands_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag = write_foreign_bag(tmp_path / "bag")
    with (bag / "manifest-sha256.txt").open("a", encoding="utf-8") as handle:
        handle.writelines(f"not-hex  data/{n}.txt\n" for n in range(1000))
    assert main(["validate", str(bag)]) == 1
    out = capsys.readouterr().out
    assert out.count("[bag.manifest.line-malformed]") == LISTED + 1
    assert f"{1000 - LISTED} more like this not listed" in out
    assert out.strip().endswith("INVALID (1000 errors, 0 warnings)")
    assert main(["validate", "--json", str(bag)]) == 1
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert len(document["bags"][0]["findings"]) == LISTED + 1


def test_a_summary_handed_on_adds_to_the_count_of_the_next_list() -> None:
    first: list[Any] = []
    reading = Summariser(first, limit=2)
    for line in range(5):
        reading.add(finding("bag.manifest.line-malformed", "manifest-sha256.txt", "bad", line=line))
    assert [counted(f) for f in first] == [1, 1, 3]
    report = BagReport("bag")
    report.add(finding("bag.manifest.line-malformed", "manifest-sha256.txt", "bad", line=9))
    for item in first:
        report.add(item)
    assert [f.params.get(MORE) for f in report.findings] == [None, None, None, 3]
    assert sum(counted(f) for f in report.findings) == 6


# -- files handed to archiver by name ------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["bag", "{text}", "--out", "{out}", "--metadata", "/dev/zero"], "larger than 16 MiB"),
        (["validate", "--profile", "/dev/zero", "{text}"], "cannot read the profile: larger"),
        (["batch", "/dev/zero", "--out", "{out}", "--dry-run"], "cannot read the sheet: larger"),
        (["serve", "{out}", "--port", "0", "--users", "/dev/zero"], "cannot read the users file"),
    ],
    ids=["record", "profile", "sheet", "users"],
)
def test_a_file_handed_by_name_is_read_up_to_its_limit_not_to_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    """/dev/zero never ends: each reader stops one byte past its limit (16 MiB for a
    record, a profile or the users file, 256 MiB for a sheet) and says why, exit 2."""
    text = tmp_path / "text.txt"
    text.write_text("text\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    tracemalloc.start()
    try:
        code = main([word.format(text=text, out=out) for word in command])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "MiB" in err and len(err.strip().splitlines()) == 1
    assert peak < 3 * 256 << 20  # the limit read once, decoded at most once
    assert list(out.iterdir()) == []
