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

import json
from pathlib import Path

import pytest

from archiver.errors import SourceError
from archiver.ingest import ingest_bag
from tests.conftest import CliRunner, Run, listing, make_source_tree
from tests.test_finding_codes import PAYLOAD, write_foreign_bag

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
