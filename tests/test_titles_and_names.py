"""Derived titles and identifiers that do not mislead, and the warnings ``bag`` gives about
what other tools stumble on (issue 11): a folder titled by its name, a text by its first
line only when that line reads as a title; non-Latin titles transliterated into their
identifiers; a misspelt reserved bag-info label and a '%' in a file name warned of."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest

from archiver import make_bag
from archiver.bagit import baginfo
from archiver.identifiers import check_bag_id, derive_bag_id, slugify
from tests.conftest import CliRunner, iter_findings

Source = Callable[[dict[str, bytes | str]], Path]

GFDL = "GNU Free Documentation License\nVersion 1.3, 3 November 2008\n"
MAN_PAGE = "TAR(1)                     GNU TAR Manual                     TAR(1)\n\nNAME\n"


def bag_json(cli: CliRunner, *args: str | Path) -> tuple[dict[str, object], str]:
    run = cli("bag", *args, "--json")
    assert run.code == 0, run.err
    return json.loads(run.out), run.err


def title_of(summary: dict[str, object]) -> str:
    metadata = summary["metadata"]
    assert isinstance(metadata, dict)
    (title,) = metadata["dc"]["title"]
    assert isinstance(title, str)
    return title


# -- titles ----------------------------------------------------------------------------------


def test_a_folder_is_titled_by_its_name_not_its_first_files_first_line(
    tmp_path: Path, cli: CliRunner
) -> None:
    folder = tmp_path / "license texts"
    (folder / "fdl.txt").parent.mkdir()
    (folder / "fdl.txt").write_text(GFDL)
    (folder / "gpl.txt").write_text("GNU General Public License\n")
    summary, err = bag_json(cli, folder, "--out", tmp_path / "bags")
    assert title_of(summary) == "license texts"
    assert summary["notes"] == ["title 'license texts' derived from the name of the folder bagged"]
    assert "  note: title 'license texts' derived from the name of the folder" in err


def test_several_sources_are_titled_by_the_first_ones_name(
    tmp_path: Path, make_source: Source
) -> None:
    scans = make_source({"p1.txt": "Page one\n"})
    notes = make_source({"notes.txt": "Notes on the scans\n"}) / "notes.txt"
    by_folder = make_bag([scans, notes], tmp_path / "a")
    assert by_folder.record.values("title") == (scans.name,)
    assert by_folder.notes == (
        f"title {scans.name!r} derived from the name of the first folder given",
    )
    by_file = make_bag([notes, scans], tmp_path / "b")
    assert by_file.record.values("title") == ("notes",)
    assert by_file.notes == ("title 'notes' derived from the name of the first file given",)


def test_an_ingested_bag_of_several_files_is_titled_by_its_folders_name(
    tmp_path: Path, cli: CliRunner
) -> None:
    foreign = tmp_path / "licences-2019"
    foreign.mkdir()
    for name, text in {"fdl.txt": GFDL, "gpl.txt": "GNU General Public License\n"}.items():
        (foreign / name).write_text(text)
    bagit.make_bag(str(foreign))  # a bagit-python bag: no Title label, no Dublin Core
    run = cli("ingest", foreign, "--out", tmp_path / "c", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert title_of(summary) == "licences-2019"
    assert summary["notes"] == ["title 'licences-2019' derived from the name of the bag ingested"]


def test_a_text_with_a_title_like_first_line_is_titled_by_it(
    tmp_path: Path, make_source: Source
) -> None:
    text = make_source({"essay.txt": "\n\n  On   the keeping of texts\n\nBody.\n"}) / "essay.txt"
    result = make_bag(text, tmp_path / "bags")
    assert result.record.values("title") == ("On the keeping of texts",)
    assert result.notes == (
        "title 'On the keeping of texts' derived from the first line of data/essay.txt",
    )


@pytest.mark.parametrize(
    ("first_line", "why"),
    [
        (MAN_PAGE, "a page header, the same word at both ends"),
        ("GNU GENERAL PUBLIC LICENSE\nVersion 3\n", "mostly upper case"),
        ("word " * 30 + "\n", "longer than 120 characters"),
        ("-------- 1.2.3 --------\n", "without letters"),
    ],
    ids=["man-page-header", "all-caps", "too-long", "no-letters"],
)
def test_a_text_whose_first_line_would_mislead_is_titled_by_its_file_name(
    tmp_path: Path, cli: CliRunner, make_source: Source, first_line: str, why: str
) -> None:
    text = make_source({"tar.1.txt": first_line + "Body text.\n"}) / "tar.1.txt"
    summary, err = bag_json(cli, text, "--out", tmp_path / "bags")
    assert title_of(summary) == "tar.1"
    note = f"title 'tar.1' derived from the file name of data/tar.1.txt (its first line is {why})"
    assert summary["notes"] == [note]
    assert f"  note: {note}\n" in err


def test_a_first_line_of_120_characters_is_still_a_title(
    tmp_path: Path, make_source: Source
) -> None:
    line = ("A long but honest title " * 5)[:119] + "s"
    assert len(line) == 120
    result = make_bag(make_source({"t.txt": line + "\n"}) / "t.txt", tmp_path / "bags")
    assert result.record.values("title") == (line,)


def test_a_file_that_is_not_text_is_titled_by_its_name(tmp_path: Path, make_source: Source) -> None:
    scan = make_source({"scan 1.pdf": b"%PDF-1.7\n\xff\xfe\x00binary"}) / "scan 1.pdf"
    result = make_bag(scan, tmp_path / "bags")
    assert result.record.values("title") == ("scan 1",)
    assert result.notes == (
        "title 'scan 1' derived from the file name of data/scan 1.pdf (it is not UTF-8 text)",
    )


def test_a_given_title_is_kept_and_nothing_is_noted(
    tmp_path: Path, cli: CliRunner, make_source: Source
) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"title": "Licences"}))
    summary, err = bag_json(
        cli, make_source({"a.txt": GFDL}), "--out", tmp_path / "bags", "--metadata", record
    )
    assert (title_of(summary), summary["notes"], err) == ("Licences", [], "")


# -- identifiers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Über Straße", "uber-strasse"),
        ("日本語のタイトル", "ribenyunotaitoru"),
        ("Москва и Петербург", "moskva-i-peterburg"),
        ("A giant step for peace", "a-giant-step-for-peace"),
        ("???", ""),
    ],
)
def test_titles_in_any_script_are_transliterated_into_their_slug(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_a_japanese_title_gives_a_readable_identifier_not_bag_and_a_digest() -> None:
    bag_id = derive_bag_id("日本語のタイトル", [("data/a.txt", "0" * 64)])
    assert bag_id.startswith("ribenyunotaitoru-") and check_bag_id(bag_id) == bag_id


def test_derived_identifiers_of_ascii_titles_are_unchanged() -> None:
    # the identifier the code before transliteration derived
    payload = [("data/a-giant-step-for-peace.txt", "0" * 64)]
    assert derive_bag_id("A giant step for peace", payload) == "a-giant-step-for-peace-ec77dd81"


def test_a_long_transliterated_title_keeps_the_identifier_rule() -> None:
    bag_id = derive_bag_id("東京" * 100, [])
    assert check_bag_id(bag_id) == bag_id and len(bag_id) <= 69


@pytest.mark.parametrize(
    ("label", "reserved"),
    [
        ("Source-Organisation", "Source-Organization"),
        ("Contact-Nmae", "Contact-Name"),
        ("bagging date", "Bagging-Date"),
        ("Payload-Oxum2", "Payload-Oxum"),
        ("Bag-Sizes", "Bag-Size"),
        ("Internal-Sender-Descriptions", "Internal-Sender-Description"),
        ("source-organization", None),  # reserved labels are matched case aside
        ("Contact-Email", None),
        ("Title", None),
        ("Bag-Software-Agent", None),
        ("Original-Bagging-Date", None),
        ("Bag-Group", None),
    ],
)
def test_a_label_near_a_reserved_one_is_told_apart_from_others(
    label: str, reserved: str | None
) -> None:
    assert baginfo.near_reserved(label) == reserved


# -- warnings at creation --------------------------------------------------------------------


def test_a_label_one_or_two_letters_from_a_reserved_one_is_warned_of_and_still_written(
    tmp_path: Path, cli: CliRunner, make_source: Source
) -> None:
    record = tmp_path / "record.json"
    record.write_text(
        json.dumps(
            {
                "title": "Letters",
                "bag-info": {"Source-Organisation": "Us", "contact-name": "Ann", "Shelf": "3"},
            }
        )
    )
    source = make_source({"a.txt": "Dear all.\n"})
    run = cli("bag", source, "--out", tmp_path / "bags", "--metadata", record, "--id", "letters")
    assert run.code == 0, run.err
    assert run.err == (
        "  warning: bag-info Source-Organisation: one or two letters from the reserved "
        "Source-Organization; a misspelling? (readers take it for another label)\n"
    )
    bag = tmp_path / "bags" / "letters"
    assert "Source-Organisation: Us\n" in (bag / "bag-info.txt").read_text()

    validated = cli("validate", "--json", bag)
    assert validated.code == 0, validated.out
    found: list[Any] = list(iter_findings(json.loads(validated.out)))
    assert [(f["code"], f["severity"], f["params"]) for f in found] == [
        (
            "bag.bag-info.label-near-reserved",
            "warning",
            {"label": "Source-Organisation", "reserved": "Source-Organization", "line": 6},
        )
    ]


def test_a_percent_sign_in_a_name_is_warned_of_and_the_bag_still_written(
    tmp_path: Path, cli: CliRunner, make_source: Source
) -> None:
    source = make_source({"50% off.txt": "Sale.\n", "plain.txt": "Plain.\n"})
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "sale")
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if "warning" in line]
    assert warnings == [
        "  warning: data/50% off.txt: '%' in a name is written %25 in the manifests, as "
        "RFC 8493 says, but LoC bagit-python, DART and Archivematica cannot read such a bag "
        "(bagit-python #157)"
    ]
    manifest = (tmp_path / "bags" / "sale" / "manifest-sha256.txt").read_text()
    assert "  data/50%25 off.txt\n" in manifest
    assert cli("validate", tmp_path / "bags" / "sale").code == 0
