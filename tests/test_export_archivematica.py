"""archiver export --to archivematica: a zipped bag for Archivematica's "Zipped bag" transfer."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote_plus

import bagit
import pytest
from lxml import etree

from archiver import resources
from archiver.clock import Clock
from archiver.errors import PackageCheckError
from archiver.export import archivematica
from archiver.export.archivematica import EXPORTER
from archiver.export.base import Options
from archiver.export.source import read_source
from archiver.validation import validate_bag
from archiver.version import AGENT
from tests.conftest import BAGS_EPOCH, REPO, CliRunner, listing, make_source_tree
from tests.corrupt import flip_byte
from tests.test_packing import validator

SAMPLE_BAG = REPO / "bags" / "a-giant-step-for-peace"
SAMPLE_TOP = "a-giant-step-for-peace"
SAMPLE_TEXT = "a-giant-step-for-peace.txt"

RICH_FILES: dict[str, bytes | str] = {
    "chapitre 1/préface.txt": "Préface\n",
    "chapitre 1/images/carte du monde.bin": bytes(range(256)) * 4,
    "日本語/読み物.md": "# 読み物\n",
    "notes.txt": "plain\r\nlines\r\n",
}
RICH_RECORD = {
    "title": "Écrits réunis — «Anthologie»",
    "creator": ["Dvořák, Antonín", 'Smith, "Jo"'],
    "subject": ["Musique", "Poésie, lyrique", "日本の詩"],
    "description": 'Première ligne,\nseconde ligne avec des "guillemets".',
    "publisher": "Éditions du Nord",
    "contributor": "Østergaard, Lærke",
    "date": "2019-05-01",
    "type": "Text",
    "language": ["fr", "ja"],
    "relation": "https://example.org/série/1",
    "rights": "CC BY 4.0",
}
RICH_BAG_INFO = {
    "Source-Organization": "Bibliothèque municipale",
    "Contact-Name": "Zoë Ålund",
    "Contact-Email": "zoe@example.org",
    "Bag-Group-Identifier": "anthologies",
    "Internal-Sender-Identifier": "/archives/2019/écrits",
}


def export(cli: CliRunner, bag: Path, out: Path, epoch: int = BAGS_EPOCH) -> Path:
    run = cli("export", bag, "--to", "archivematica", "--out", out, epoch=epoch)
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == str(out)
    return out


def members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def unpack(package: Path, into: Path) -> Path:
    """Extract the zip (as 7z does for Archivematica) and return its one top-level folder."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(into)
    (top,) = into.iterdir()
    return top


def metadata_rows(text: str) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """metadata.csv as Archivematica reads it: header, then file name -> column -> values."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, found = rows[0], {}
    for row in rows[1:]:
        values: dict[str, list[str]] = {}
        for name, value in zip(header[1:], row[1:], strict=True):
            values.setdefault(name, []).append(value)
        found[row[0]] = values
    return header, found


def record_columns(bag: Path) -> dict[str, list[str]]:
    return {f"dc.{element}": list(values) for element, values in read_source(bag).record.dc}


@pytest.fixture
def sample_zip(tmp_path: Path, cli: CliRunner) -> Path:
    return export(cli, SAMPLE_BAG, tmp_path / "out" / "giant.zip")


@pytest.fixture
def rich_bag(tmp_path: Path, cli: CliRunner) -> Path:
    source = make_source_tree(tmp_path / "src", RICH_FILES)
    record = tmp_path / "record.json"
    document = {**RICH_RECORD, "bag-info": RICH_BAG_INFO}
    record.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "rich", "--metadata", record)
    assert run.code == 0, run.err
    return tmp_path / "bags" / "rich"


# -- the package ----------------------------------------------------------------------------


def test_the_sample_bag_becomes_a_zip_of_one_bag_folder_in_the_documented_layout(
    sample_zip: Path,
) -> None:
    assert list(members(sample_zip)) == [
        f"{SAMPLE_TOP}/{rel}"
        for rel in (  # tag files first: a reader meets every manifest before the payload
            "bagit.txt",
            "bag-info.txt",
            "manifest-sha256.txt",
            "manifest-sha512.txt",
            "tagmanifest-sha256.txt",
            "tagmanifest-sha512.txt",
            "data/metadata/metadata.csv",
            "data/metadata/submissionDocumentation/dc.xml",
            "data/metadata/submissionDocumentation/mets.xml",
            "data/metadata/submissionDocumentation/premis.xml",
            f"data/objects/{SAMPLE_TEXT}",
        )
    ]


def test_the_unpacked_bag_is_valid_to_bagit_python_and_to_archiver(
    sample_zip: Path, tmp_path: Path
) -> None:
    bag = unpack(sample_zip, tmp_path / "unpacked")
    reference = bagit.Bag(str(bag))
    reference.validate()
    assert sorted(reference.algorithms) == ["sha256", "sha512"]
    assert validate_bag(bag).valid
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert f"data/objects/{SAMPLE_TEXT}" in manifest
    assert "data/metadata/metadata.csv" in manifest  # metadata is payload: it is verified too


def test_the_payload_sits_under_data_objects_byte_for_byte(sample_zip: Path) -> None:
    found = members(sample_zip)
    source = (SAMPLE_BAG / "data" / SAMPLE_TEXT).read_bytes()
    assert found[f"{SAMPLE_TOP}/data/objects/{SAMPLE_TEXT}"] == source


def test_submission_documentation_holds_the_sources_metadata_files_byte_for_byte(
    sample_zip: Path,
) -> None:
    found = members(sample_zip)
    for name in ("dc.xml", "mets.xml", "premis.xml"):
        copy = found[f"{SAMPLE_TOP}/data/metadata/submissionDocumentation/{name}"]
        assert copy == (SAMPLE_BAG / "metadata" / name).read_bytes()


def test_metadata_csv_describes_the_transfer_as_a_whole_in_its_one_row(
    sample_zip: Path,
) -> None:
    # The record describes the item, not each of its files: a file row repeating it made
    # every file of Archivematica's METS claim all the item's formats and its identifier.
    # A file row cannot carry less (Archivematica writes an empty element for an empty
    # cell, archivematica/Issues#1517), and what is true of a file alone (its format,
    # size, digests) Archivematica records itself in the file's PREMIS.
    raw = members(sample_zip)[f"{SAMPLE_TOP}/data/metadata/metadata.csv"]
    assert not raw.startswith(b"\xef\xbb\xbf")
    header, rows = metadata_rows(raw.decode("utf-8"))
    assert header[0] == "filename"
    assert header.count("dc.subject") == 4  # one column per value, the header repeated
    assert list(rows) == ["objects"]
    expected = record_columns(SAMPLE_BAG)
    assert expected["dc.title"] == ["A giant step for peace"]
    assert expected["dc.coverage"] == ["Singapore", "Korean Peninsula"]
    assert rows["objects"] == expected
    assert all(value for values in rows["objects"].values() for value in values)  # no blanks


def test_bag_info_keeps_the_descriptive_labels_and_dates_the_new_bag_by_the_clock(
    tmp_path: Path, cli: CliRunner
) -> None:
    # an even second: a zip member's time is kept to two seconds
    later = int(datetime(2031, 3, 4, 5, 6, 8, tzinfo=UTC).timestamp())
    package = export(cli, SAMPLE_BAG, tmp_path / "later.zip", epoch=later)
    found = members(package)
    info = found[f"{SAMPLE_TOP}/bag-info.txt"].decode("utf-8").splitlines()
    payload = [data for name, data in found.items() if "/data/" in name]
    assert info == [
        "Bagging-Date: 2031-03-04",
        f"Bag-Software-Agent: {AGENT}",
        "External-Identifier: a-giant-step-for-peace",
        "Source-Organization: archiver sample collection",
        "External-Description: A newspaper editorial, kept bit for bit as the archiver "
        "project's first bag.",
        "Bag-Group-Identifier: editorials",
        f"Payload-Oxum: {sum(map(len, payload))}.{len(payload)}",
    ]
    with zipfile.ZipFile(package) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2031, 3, 4, 5, 6, 8)}


def test_zip_members_are_stored_plain_files_with_utf8_names(
    rich_bag: Path, tmp_path: Path, cli: CliRunner
) -> None:
    package = export(cli, rich_bag, tmp_path / "rich.zip")
    with zipfile.ZipFile(package) as archive:
        infos = archive.infolist()
    assert all(info.compress_type == zipfile.ZIP_STORED for info in infos)
    assert all(info.create_system == 3 for info in infos)
    assert all(info.external_attr >> 16 == stat.S_IFREG | 0o644 for info in infos)
    assert not any(info.is_dir() for info in infos)
    named = {info.filename: info for info in infos}
    odd = named["rich/data/objects/日本語/読み物.md"]
    assert odd.flag_bits & 0x800  # the language-encoding flag: the name is UTF-8


def test_the_cli_prints_the_checks_that_held(tmp_path: Path, cli: CliRunner) -> None:
    out = tmp_path / "giant.zip"
    run = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", out, "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["target"] == "archivematica" and result["path"] == str(out)
    assert result["checks"] == [
        "export.archivematica.bag",
        "export.archivematica.bag-info-label",
        "export.archivematica.metadata-csv",
        "export.archivematica.zip",
        "export.source.bag-info",
        "export.source.files",
        "export.source.record",
    ]
    assert result["findings"] == []
    assert listing(tmp_path) == ["giant.zip"]  # no staging or scratch folder left behind
    text = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", tmp_path / "t.zip")
    assert "  checked: export.archivematica.bag (Archivematica verify_and_restructure" in text.out


# -- a multi-file bag -----------------------------------------------------------------------


def test_a_multi_file_bag_with_nested_non_ascii_names_and_a_rich_record(
    rich_bag: Path, tmp_path: Path, cli: CliRunner
) -> None:
    package = export(cli, rich_bag, tmp_path / "rich.zip")
    bag = unpack(package, tmp_path / "unpacked")
    assert bag.name == "rich"
    bagit.Bag(str(bag)).validate()
    assert validate_bag(bag).valid
    for rel, content in RICH_FILES.items():
        data = content.encode() if isinstance(content, str) else content
        assert (bag / "data" / "objects" / rel).read_bytes() == data
        assert (rich_bag / "data" / rel).read_bytes() == data
    text = (bag / "data" / "metadata" / "metadata.csv").read_text(encoding="utf-8")
    header, rows = metadata_rows(text)
    assert header[0] == "filename"
    assert all(name.startswith("dc.") for name in header[1:])
    assert list(rows) == ["objects"]  # the transfer; no row repeats it for each file
    expected = record_columns(rich_bag)
    assert rows["objects"] == expected
    assert expected["dc.creator"] == ["Dvořák, Antonín", 'Smith, "Jo"']
    assert expected["dc.subject"] == ["Musique", "Poésie, lyrique", "日本の詩"]
    assert expected["dc.description"] == ['Première ligne,\nseconde ligne avec des "guillemets".']
    assert expected["dc.language"] == ["fr", "ja"]
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    for label, value in RICH_BAG_INFO.items():
        assert f"{label}: {value}\n" in info
    documentation = bag / "data" / "metadata" / "submissionDocumentation"
    assert sorted(p.name for p in documentation.iterdir()) == ["dc.xml", "mets.xml", "premis.xml"]


# -- refusals -------------------------------------------------------------------------------


def test_an_invalid_source_bag_exits_1_and_writes_nothing(tmp_path: Path, cli: CliRunner) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SAMPLE_BAG, bag)
    flip_byte(bag / "data" / SAMPLE_TEXT, 100)
    out = tmp_path / "out" / "giant.zip"
    run = cli("export", bag, "--to", "archivematica", "--out", out)
    assert run.code == 1
    assert "not a valid bag" in run.err
    assert listing(tmp_path / "out") == []


def test_an_existing_out_exits_2_and_is_left_untouched(tmp_path: Path, cli: CliRunner) -> None:
    out = tmp_path / "giant.zip"
    out.write_bytes(b"already here")
    run = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", out)
    assert run.code == 2
    assert "already exists" in run.err
    assert out.read_bytes() == b"already here"
    assert listing(tmp_path) == ["giant.zip"]


def test_an_out_name_archivematica_would_untar_is_refused_before_writing(
    tmp_path: Path, cli: CliRunner
) -> None:
    run = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", tmp_path / "giant.tar.gz")
    assert run.code == 2
    assert "untars" in run.err
    assert listing(tmp_path) == []


def test_an_out_name_without_zip_suffix_is_refused_before_writing(
    tmp_path: Path, cli: CliRunner
) -> None:
    # Archivematica's dashboard offers only .zip, .tgz and .tar.gz files for the zipped bag
    # transfer type: a zip named otherwise would not be offered at all.
    for name in ("transfer", "transfer.ZIP.bak"):
        run = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", tmp_path / name)
        assert run.code == 2
        assert run.out == ""
        assert f"{name}: " in run.err and "end in .zip" in run.err
        assert run.err.count("\n") == 1
    assert listing(tmp_path) == []
    package = export(cli, SAMPLE_BAG, tmp_path / "transfer.ZIP")  # the suffix in any case
    assert zipfile.is_zipfile(package)


def test_a_payload_name_bagit_python_cannot_find_is_refused(tmp_path: Path, cli: CliRunner) -> None:
    source = make_source_tree(tmp_path / "src", {"50% off.txt": "x\n"})
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "pct").code == 0
    run = cli(
        "export", tmp_path / "bags" / "pct", "--to", "archivematica", "--out", tmp_path / "p.zip"
    )
    assert run.code == 2
    assert "50% off.txt" in run.err and "bagit-python" in run.err
    assert not (tmp_path / "p.zip").exists()


def test_a_repeated_bag_info_label_travels_with_every_value(tmp_path: Path, cli: CliRunner) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    record = tmp_path / "record.json"
    emails = ["zoe@example.org", "archives@example.org"]
    record.write_text(json.dumps({"title": "A", "bag-info": {"Contact-Email": emails}}))
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "two", "--metadata", record)
    assert run.code == 0, run.err
    package = export(cli, tmp_path / "bags" / "two", tmp_path / "two.zip")
    bag = unpack(package, tmp_path / "unpacked")
    info = (bag / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    assert [line for line in info if line.startswith("Contact-Email: ")] == [
        f"Contact-Email: {email}" for email in emails
    ]
    # As Archivematica reads it (create_mets_v2.py writes one element per value of a list).
    assert bagit.Bag(str(bag)).info["Contact-Email"] == emails


def test_a_plus_in_a_file_name_is_percent_encoded_in_the_mets_archivematica_reads(
    tmp_path: Path, cli: CliRunner
) -> None:
    # metsrw reads FLocat hrefs with unquote_plus: a raw '+' would read as a space.
    source = make_source_tree(tmp_path / "src", {"a+b.txt": "a\n", "c d.txt": "c\n"})
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "plus")
    assert run.code == 0, run.err
    package = export(cli, tmp_path / "bags" / "plus", tmp_path / "plus.zip")
    mets = members(package)["plus/data/metadata/submissionDocumentation/mets.xml"]
    hrefs = {
        str(element.get("{http://www.w3.org/1999/xlink}href"))
        for element in etree.fromstring(mets).iter("{http://www.loc.gov/METS/}FLocat")
    }
    assert hrefs == {"data/a%2Bb.txt", "data/c%20d.txt"}
    assert {unquote_plus(href) for href in hrefs} == {"data/a+b.txt", "data/c d.txt"}


def test_a_bag_info_label_that_is_not_an_xml_name_is_refused(
    tmp_path: Path, cli: CliRunner
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "a\n"})
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"title": "A", "bag-info": {"Contact Name": "Zoë"}}))
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "sp", "--metadata", record)
    assert run.code == 0, run.err
    run = cli(
        "export", tmp_path / "bags" / "sp", "--to", "archivematica", "--out", tmp_path / "s.zip"
    )
    assert run.code == 2
    assert "'Contact Name'" in run.err and "XML" in run.err
    assert not (tmp_path / "s.zip").exists()


# -- --profile ------------------------------------------------------------------------------


def test_the_bag_names_and_meets_a_profile_given(tmp_path: Path, cli: CliRunner) -> None:
    profile = REPO / "tests" / "data" / "bagit-profiles" / "btr-bagit-profile.json"
    out = tmp_path / "giant.zip"
    run = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", out, "--profile", profile)
    assert run.code == 0, run.out + run.err
    assert "  checked: export.profile (archiver export: the BagIt profile given" in run.out
    info = members(out)[f"{SAMPLE_TOP}/bag-info.txt"].decode("utf-8").splitlines()
    assert info[2] == (
        "BagIt-Profile-Identifier: https://github.com/dpscollaborative/btr_bagit_profile/"
        "releases/download/1.0/btr-bagit-profile.json"
    )


def test_a_profile_the_bag_breaks_is_reported_and_nothing_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    # Foo accepts BagIt 0.96 and 0.97 only, and zip and tar serializations.
    profile = REPO / "tests" / "data" / "bagit-profiles" / "bagProfileFoo.json"
    out = tmp_path / "out" / "giant.zip"
    run = cli(
        "export", SAMPLE_BAG, "--to", "archivematica", "--out", out, "--profile", profile, "--json"
    )
    assert run.code == 1
    result = json.loads(run.out)
    errors = {(f["code"], f["path"]) for f in result["findings"] if f["severity"] == "error"}
    assert ("profile.version.not-accepted", f"{SAMPLE_TOP}/bagit.txt") in errors
    assert not any(code.startswith("profile.serialization") for code, _ in errors)
    assert "export.profile" not in result["checks"]
    assert listing(tmp_path / "out") == []


# -- reproducibility ------------------------------------------------------------------------


def test_the_same_bag_at_the_same_moment_gives_byte_identical_zips(
    rich_bag: Path, tmp_path: Path, cli: CliRunner
) -> None:
    first = export(cli, rich_bag, tmp_path / "a" / "first.zip").read_bytes()
    second = export(cli, rich_bag, tmp_path / "b" / "second-name.zip").read_bytes()
    assert first == second
    later = export(cli, rich_bag, tmp_path / "c" / "first.zip", epoch=BAGS_EPOCH + 3600)
    assert later.read_bytes() != first  # the clock, not the file system, dates the members


# -- the check ------------------------------------------------------------------------------


def _rewrite(package: Path, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> None:
    found = change(members(package))
    package.unlink()
    with zipfile.ZipFile(package, "w") as archive:
        for name, data in found.items():
            archive.writestr(name, data)


def _flip_payload_byte(found: dict[str, bytes]) -> dict[str, bytes]:
    name = f"{SAMPLE_TOP}/data/objects/{SAMPLE_TEXT}"
    data = bytearray(found[name])
    data[10] ^= 1
    return {**found, name: bytes(data)}


def _add_second_folder(found: dict[str, bytes]) -> dict[str, bytes]:
    return {**found, "other/readme.txt": b"x"}


def _rename_filename_column(found: dict[str, bytes]) -> dict[str, bytes]:
    name = f"{SAMPLE_TOP}/data/metadata/metadata.csv"
    return {**found, name: found[name].replace(b"filename,", b"file,", 1)}


def _add_file_row(found: dict[str, bytes]) -> dict[str, bytes]:
    name = f"{SAMPLE_TOP}/data/metadata/metadata.csv"
    header = found[name].split(b"\n", 1)[0]
    row = b",".join([f"data/objects/{SAMPLE_TEXT}".encode(), *[b"x"] * header.count(b",")])
    return {**found, name: found[name] + row + b"\n"}


def _drop_premis(found: dict[str, bytes]) -> dict[str, bytes]:
    name = f"{SAMPLE_TOP}/data/metadata/submissionDocumentation/premis.xml"
    return {k: v for k, v in found.items() if k != name}


def _climb_out(found: dict[str, bytes]) -> dict[str, bytes]:
    return {**found, f"{SAMPLE_TOP}/../escape.txt": b"x"}


def _label_with_space(found: dict[str, bytes]) -> dict[str, bytes]:
    """bag-info gets a label Archivematica cannot write as an XML element; its manifests
    resealed, so that only this rule breaks."""
    top = f"{SAMPLE_TOP}/"
    info = found[top + "bag-info.txt"] + b"Contact Name: Zo\xc3\xab\n"
    tags = {name[len(top) :]: data for name, data in found.items() if "/data/" not in name}
    tags["bag-info.txt"] = info
    for algorithm in ("sha256", "sha512"):
        listed = {n: d for n, d in tags.items() if not n.startswith("tagmanifest-")}
        tags[f"tagmanifest-{algorithm}.txt"] = "".join(
            f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n"
            for name, data in sorted(listed.items())
        ).encode()
    return {**found, **{top + name: data for name, data in tags.items()}}


@pytest.mark.parametrize(
    ("tamper", "code", "path"),
    [
        (_flip_payload_byte, "export.archivematica.bag", SAMPLE_TOP),
        (
            _flip_payload_byte,
            "bag.payload.checksum-mismatch",
            f"{SAMPLE_TOP}/data/objects/{SAMPLE_TEXT}",
        ),
        (_add_second_folder, "export.archivematica.zip", ""),
        (
            _rename_filename_column,
            "export.archivematica.metadata-csv",
            f"{SAMPLE_TOP}/data/metadata/metadata.csv",
        ),
        (
            _add_file_row,
            "export.archivematica.metadata-csv",
            f"{SAMPLE_TOP}/data/metadata/metadata.csv",
        ),
        (
            _drop_premis,
            "export.source.files",
            f"{SAMPLE_TOP}/data/metadata/submissionDocumentation/premis.xml",
        ),
        (_climb_out, "export.archivematica.zip", f"{SAMPLE_TOP}/../escape.txt"),
        (_label_with_space, "export.archivematica.bag-info-label", f"{SAMPLE_TOP}/bag-info.txt"),
    ],
    ids=[
        "bagit-python",
        "archiver-validator",
        "second-folder",
        "filename-column",
        "a-file-row",
        "no-premis",
        "climbing-member",
        "label-not-xml-name",
    ],
)
def test_a_tampered_package_fails_the_check_with_the_rules_code(
    tamper: Callable[[dict[str, bytes]], dict[str, bytes]],
    code: str,
    path: str,
    sample_zip: Path,
    tmp_path: Path,
) -> None:
    options = Options(Clock.from_epoch(BAGS_EPOCH))
    source = read_source(SAMPLE_BAG)
    held = EXPORTER.check(sample_zip, source, options)  # untouched, it passes
    assert held.findings == []
    _rewrite(sample_zip, tamper)
    with pytest.raises(PackageCheckError, match=r"^giant\.zip breaks export\.") as caught:
        EXPORTER.check(sample_zip, source, options)
    broken = [(f.code, f.path) for f in caught.value.findings if f.severity == "error"]
    assert (code, path) in broken
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in sample_zip.parent.iterdir()) == ["giant.zip"]


def test_a_broken_package_is_not_moved_into_place_and_its_findings_are_printed(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The written zip loses premis.xml before it is checked, as a faulty disk might do.
    real = archivematica.zip_folder

    def lossy(folder: Path, top: str, target: Path, when: tuple[int, ...]) -> None:
        (folder / "data" / "metadata" / "submissionDocumentation" / "premis.xml").unlink()
        real(folder, top, target, when)  # type: ignore[arg-type]

    monkeypatch.setattr(archivematica, "zip_folder", lossy)
    out = tmp_path / "out" / "giant.zip"
    run = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", out, "--json")
    assert run.code == 1
    result = json.loads(run.out)
    validator(resources.json_schema("export-result.schema.json")).validate(result)
    assert result["valid"] is False
    # The bag's manifests still list it (bag.payload.file-missing, bagit-python rejects the
    # bag), and it is not the source's file any more.
    codes = {f["code"] for f in result["findings"] if f["path"].endswith("premis.xml")}
    assert codes == {"bag.payload.file-missing", "export.source.files"}
    [premis] = [f for f in result["findings"] if f["code"] == "export.source.files"]
    assert premis["severity"] == "error"
    assert premis["rule"] == "archiver export: the source bag's files, byte for byte"
    assert "export.archivematica.zip" in result["checks"]
    assert "export.source.files" not in result["checks"]
    assert "archiver: error: " in run.err and "export.source.files" in run.err
    assert listing(tmp_path / "out") == []
    text = cli("export", SAMPLE_BAG, "--to", "archivematica", "--out", out)
    assert text.code == 1
    assert (
        f"  error: [export.source.files] {SAMPLE_TOP}/data/metadata/submissionDocumentation/"
        "premis.xml: missing"
    ) in text.out


def test_a_file_that_is_not_a_zip_fails_the_check(sample_zip: Path) -> None:
    sample_zip.write_bytes(sample_zip.read_bytes()[:100])
    with pytest.raises(PackageCheckError) as caught:
        EXPORTER.check(sample_zip, read_source(SAMPLE_BAG), Options(Clock.from_epoch(BAGS_EPOCH)))
    (found,) = caught.value.findings
    assert (found.code, found.path) == ("export.archivematica.zip", "")
    assert found.message.startswith("not a readable zip")


def test_the_archivematica_zip_validates_directly_without_unpacking(
    sample_zip: Path, cli: CliRunner
) -> None:
    """archiver validate reads the exported zip in place: valid, no finding above a notice."""
    run = cli("validate", "--json", sample_zip)
    assert run.code == 0, run.out
    [bag] = json.loads(run.out)["bags"]
    assert bag["valid"] is True
    assert [f for f in bag["findings"] if f["severity"] != "info"] == []
