"""Every export's package says what the source bag's bag-info says: the same labels, the
same values, as the one bag reader reads them.

The source is a bag from an older tool (tests/foreign.py): ISO-8859-1 tag files, a value
folded over three lines, a repeated label, CRLF line ends. RFC 8493 §2.2.2 reads a folded
value with its line breaks, the continuation lines' padding dropped; each package is read
back with the same reader (its bag-info) or parsed (DSpace's XML, metadata.csv) and compared
with what ``read_bag`` reads from the source.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
import zipfile
from pathlib import Path

import ocfl
import pytest

from archiver.bagit.reader import read_bag, read_labelled
from archiver.clock import Clock
from archiver.export import export_bag
from archiver.export.ocfl import object_id
from archiver.version import AGENT
from archiver.xml import parsing
from tests.conftest import BAGS_EPOCH
from tests.foreign import LATIN1_ELEMENTS, make_latin1_bag

CLOCK = Clock.from_epoch(BAGS_EPOCH)
EXPORTED_ON = "2026-11-27"  # BAGS_EPOCH's date: the new Bagging-Date of a new bag
FOLDED = "External-Description"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_latin1_bag(tmp_path / "rapport-1998")


def source_items(bag: Path) -> list[tuple[str, str]]:
    """The source's bag-info as the reader reads it (and as tests/foreign.py says it is)."""
    items = read_bag(bag).items()
    assert items[:-1] == LATIN1_ELEMENTS  # then Payload-Oxum
    assert "\n" in dict(items)[FOLDED]  # folded over three lines, kept as three
    return items


def without(items: list[tuple[str, str]], *labels: str) -> list[tuple[str, str]]:
    return [(label, value) for label, value in items if label not in labels]


def test_dspace_dublin_core_carries_the_bag_info_values(source: Path, tmp_path: Path) -> None:
    items = source_items(source)
    export_bag(source, to="dspace-saf", out=tmp_path / "saf", clock=CLOCK)
    item = tmp_path / "saf" / "item_000"
    found = _dcvalues(item / "dublin_core.xml")
    # The bag has no Dublin Core of its own: its record is what bag-info says, crosswalked.
    crosswalk = {
        "Title": ("title", None),
        "External-Description": ("description", None),
        "Source-Organization": ("publisher", None),
        "Contact-Name": ("contributor", None),
    }
    for label, field in crosswalk.items():
        expected = [value for name, value in items if name == label]
        assert [value for *key, value in found if tuple(key) == field] == expected, label
    # Its Bagging-Date says when it was packed, not when its work was made: no dc.date
    # (it is in the provenance statement, below).
    assert [key for *key, _ in found if key[0] == "date"] == []
    [provenance] = [value for element, _, value in _dcvalues(item / "metadata_dcterms.xml")]
    said = dict(items)
    assert (
        f"(Bagging-Date: {said['Bagging-Date']}; "
        f"Source-Organization: {said['Source-Organization']})"
    ) in provenance


def test_archivematica_bag_info_and_metadata_csv_carry_the_values(
    source: Path, tmp_path: Path
) -> None:
    items = source_items(source)
    export_bag(source, to="archivematica", out=tmp_path / "rapport.zip", clock=CLOCK)
    with zipfile.ZipFile(tmp_path / "rapport.zip") as archive:
        archive.extractall(tmp_path / "unzipped")
    bag = tmp_path / "unzipped" / "rapport-1998"
    written = read_bag(bag).items()
    # This bag's date and software, the identifier Archivematica's transfer takes, then the
    # source's labels and values in their order, folded value and repeated label included.
    assert written[:3] == [
        ("Bagging-Date", EXPORTED_ON),
        ("Bag-Software-Agent", AGENT),
        ("External-Identifier", "rapport-1998"),
    ]
    assert without(written[3:], "Payload-Oxum") == without(items, "Bagging-Date", "Payload-Oxum")
    text = (bag / "data" / "metadata" / "metadata.csv").read_text(encoding="utf-8")
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    for row in rows:
        columns: dict[str, list[str]] = {}
        for name, value in zip(header[1:], row[1:], strict=True):
            columns.setdefault(name, []).append(value)
        said = dict(items)
        assert columns["dc.title"] == [said["Title"]]
        assert columns["dc.description"] == [said[FOLDED]]
        assert columns["dc.publisher"] == [said["Source-Organization"]]
        assert columns["dc.contributor"] == [v for k, v in items if k == "Contact-Name"]
        assert "dc.date" not in columns  # its Bagging-Date is not its work's date


def test_aptrust_bag_info_and_aptrust_info_carry_the_values(source: Path, tmp_path: Path) -> None:
    items = source_items(source)
    tar = tmp_path / "example.edu.rapport-1998.tar"
    export_bag(source, to="aptrust", out=tar, clock=CLOCK)
    with tarfile.open(tar) as archive:
        archive.extractall(tmp_path / "untarred", filter="data")
    written = read_bag(tmp_path / "untarred" / "example.edu.rapport-1998")
    recomputed = ("Bagging-Date", "Bag-Software-Agent", "BagIt-Profile-Identifier", "Payload-Oxum")
    said = dict(items)
    assert without(written.items(), *recomputed) == [
        *without(items, *recomputed),
        ("Internal-Sender-Identifier", "rapport-1998"),
        # The bag's own description, for APTrust's registry when aptrust-info has none.
        ("Internal-Sender-Description", said[FOLDED]),
    ]
    elements, problems = read_labelled(written, "aptrust-info.txt")
    assert problems == []
    aptrust_info = {e.label: e.value for e in elements}
    assert aptrust_info["Title"] == said["Title"]
    # aptrust-info.txt's Description is a single line by APTrust's rules: the same words.
    assert aptrust_info["Description"] == " ".join(said[FOLDED].split())


def test_ocfl_object_holds_the_bag_with_its_bag_info(source: Path, tmp_path: Path) -> None:
    items = source_items(source)
    root = tmp_path / "root"
    export_bag(source, to="ocfl", out=root, clock=CLOCK)
    relative = ocfl.StorageRoot(root=os.fspath(root)).object_path(object_id("rapport-1998"))
    content = root / relative / "v1" / "content"  # the head version: the bag, path for path
    assert read_bag(content).items() == items
    # Byte for byte: still ISO-8859-1, still folded with its own padding.
    assert (content / "bag-info.txt").read_bytes() == (source / "bag-info.txt").read_bytes()


def _dcvalues(path: Path) -> list[tuple[str, str | None, str]]:
    root = parsing.parse_bytes(path.read_bytes()).getroot()
    return [
        (
            value.get("element", ""),
            None if value.get("qualifier") in (None, "none") else value.get("qualifier"),
            value.text or "",
        )
        for value in root
    ]
