"""Serialized bags in a collection (issue 13): audited member by member, withdrawn, served
over OAI-PMH, exported and ingested like folder bags, never extracted."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import bagit
import pytest
from lxml import etree

from archiver.bagit.archives import open_archive
from archiver.clock import Clock, from_w3cdtf
from archiver.collection import Collection, bags
from archiver.errors import CollectionError, DigestMismatchError
from archiver.ingest import ingest_bag
from archiver.validation import validate_bag
from tests.conftest import BAGS_EPOCH, CliRunner, make_source_tree, snapshot
from tests.helpers_xml import manifest
from tests.oai_helpers import NS, Repo
from tests.test_archives import pack
from tests.test_audit import audit, bags_of, errors, ledger_rows, statuses

KINDS = {"tar": ".tar", "tgz": ".tar.gz", "zip": ".zip"}
WHEN = from_w3cdtf("2030-01-01T00:00:00Z")


@pytest.fixture(autouse=True)
def _quiet_bagit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bagit")


def add(cli: CliRunner, collection: Path, name: str, kind: str | None = None) -> Path:
    """A bag made by ``archiver bag`` into the collection: a folder, or serialized."""
    files: dict[str, bytes | str] = {
        "a.txt": f"The first text of {name}.\n",
        "sub/b.txt": f"More of {name}.\n" * 50,
    }
    source = make_source_tree(collection.parent / "sources" / name, files)
    serialize = ("--serialize", kind) if kind else ()
    run = cli("bag", source, "--out", collection, "--id", name, "--processes", "1", *serialize)
    assert run.code == 0, run.err
    return collection / (name + (KINDS[kind] if kind else ""))


def members(archive: Path) -> dict[str, bytes]:
    """Every regular member of an archive by bag path, read with the standard library."""
    found = {}
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as opened:
            for info in opened.infolist():
                if not info.is_dir():
                    found[info.filename.split("/", 1)[1]] = opened.read(info)
    else:
        with tarfile.open(archive) as opened:
            for member in opened.getmembers():
                handle = opened.extractfile(member) if member.isfile() else None
                if handle is not None:
                    found[member.name.split("/", 1)[1]] = handle.read()
    return found


def repacked(archive: Path, work: Path, change: str) -> None:
    """The archive made again with one byte of the member ``change`` altered."""
    folder = work / "unpacked"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for rel, data in members(archive).items():
        target = folder / archive.name.split(".")[0] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel == change:
            data = data[:3] + bytes([data[3] ^ 0x20]) + data[4:]
        target.write_bytes(data)
    kind = "zip" if archive.suffix == ".zip" else "tar.gz" if archive.name.endswith("gz") else "tar"
    made = pack(folder / archive.name.split(".")[0], work / "made", kind)
    os.replace(made, archive)


# -- the audit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_audit_records_every_member_of_a_serialized_bag_as_a_folder_s_files(
    tmp_path: Path, cli: CliRunner, kind: str
) -> None:
    collection = tmp_path / "collection"
    add(cli, collection, "plain")
    archive = add(cli, collection, "packed", kind)
    assert Collection(collection).bag_ids() == ["packed", "plain"]
    code, report = audit(cli, collection, "--workers", "2")
    assert code == 0
    assert statuses(report) == {"packed": "new", "plain": "new"}
    rows = ledger_rows(
        collection / ".archiver" / "ledger.sqlite",
        "SELECT path, algorithm, found, outcome FROM file_checks WHERE bag_id = ?",
        "packed",
    )
    held = members(archive)
    # one row per member file and algorithm, keyed by bag path, with the member's real
    # digest (every file but the tag manifests, which no manifest lists, as in a folder)
    listed = [rel for rel in held if not rel.startswith("tagmanifest-")]
    assert sorted((r["path"], r["algorithm"]) for r in rows) == sorted(
        (rel, name) for rel in listed for name in ("sha256", "sha512")
    )
    for row in rows:
        assert row["outcome"] == "ok"
        assert row["found"] == hashlib.new(row["algorithm"], held[row["path"]]).hexdigest()
    folder_rows = ledger_rows(
        collection / ".archiver" / "ledger.sqlite",
        "SELECT path FROM file_checks WHERE bag_id = 'plain' ORDER BY path, algorithm",
    )
    assert [r["path"] for r in folder_rows] == sorted(r["path"] for r in rows)
    again = audit(cli, collection)[1]
    assert statuses(again) == {"packed": "intact", "plain": "intact"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_changed_member_makes_the_serialized_bag_damaged_with_its_real_digest(
    tmp_path: Path, cli: CliRunner, kind: str
) -> None:
    collection = tmp_path / "collection"
    archive = add(cli, collection, "packed", kind)
    assert audit(cli, collection)[0] == 0
    repacked(archive, tmp_path / "work", "data/sub/b.txt")
    code, report = audit(cli, collection)
    assert code == 1
    packed = bags_of(report)["packed"]
    assert packed["status"] == "damaged"
    assert ("bag.payload.checksum-mismatch", "data/sub/b.txt") in errors(packed)
    changed = ledger_rows(
        collection / ".archiver" / "ledger.sqlite",
        "SELECT algorithm, expected, found FROM file_checks WHERE run_id = 2 AND outcome = "
        "'changed'",
    )
    now = members(archive)["data/sub/b.txt"]
    assert {(r["algorithm"], r["found"]) for r in changed} == {
        (name, hashlib.new(name, now).hexdigest()) for name in ("sha256", "sha512")
    }
    assert all(r["expected"] != r["found"] for r in changed)


def test_a_damaged_archive_is_judged_and_the_other_bags_still_checked(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = tmp_path / "collection"
    add(cli, collection, "kept")
    archive = add(cli, collection, "cut", "tgz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    (collection / "junk.zip").write_bytes(b"not a zip at all")
    code, report = audit(cli, collection)
    assert code == 1
    assert statuses(report) == {"cut": "damaged", "junk": "damaged", "kept": "new"}
    assert ("bag.archive.damaged", "") in errors(bags_of(report)["cut"])
    assert ("bag.archive.damaged", "") in errors(bags_of(report)["junk"])


def test_one_id_held_twice_is_ambiguous_and_never_made_by_archiver(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = tmp_path / "collection"
    add(cli, collection, "twice")
    shutil.copy(add(cli, tmp_path / "elsewhere", "twice", "tar"), collection / "twice.tar")
    assert [p.path.name for p in bags.places(collection)["twice"]] == ["twice", "twice.tar"]
    code, report = audit(cli, collection)
    assert code == 1
    found = bags_of(report)["twice"]
    assert found["status"] == "damaged"
    ambiguous = [f for f in found["findings"] if f["code"] == "audit.bag.ambiguous"]
    assert ambiguous and ambiguous[0]["params"] == {"checked": "twice"}
    # archiver never makes the pair: bag refuses an id another entry holds, force or not
    before = snapshot(collection)
    for extra in ((), ("--force",)):
        source = make_source_tree(tmp_path / "again", {"a.txt": "again\n"})
        run = cli("bag", source, "--out", tmp_path / "c2", "--id", "x", *extra)
        assert run.code == 0, run.err
        run = cli(
            "bag", source, "--out", tmp_path / "c2", "--id", "x", "--serialize", "zip", *extra
        )
        assert run.code == 2 and "already holds a bag named x" in run.err
    with pytest.raises(CollectionError, match=r"held by twice and twice\.tar"):
        Collection(collection).withdraw("twice", reason="which one?")
    assert snapshot(collection) == before


def test_which_entries_are_serialized_bags(tmp_path: Path) -> None:
    collection = tmp_path / "c"
    collection.mkdir()
    for name in ("UPPER.TAR", "b.tgz", ".hidden.tar", "notes.txt", "c.tar.gz"):
        (collection / name).write_bytes(b"")
    (collection / "folder.zip").mkdir()  # a folder named as an archive, without bagit.txt
    (collection / "link.tar").symlink_to(collection / "b.tgz")
    found = bags.places(collection)
    assert sorted(found) == ["UPPER", "b", "c"]
    assert [(p.path.name, p.kind) for p in found["UPPER"]] == [("UPPER.TAR", "tar")]
    located = bags.locate(collection, "UPPER")
    assert located is not None and located.path.name == "UPPER.TAR"
    assert bags.locate(collection, "link") is None
    assert bags.locate(collection, "../c") is None


# -- withdrawal, OAI-PMH ---------------------------------------------------------------------------


def test_a_serialized_bag_is_withdrawn_whole_and_its_record_deleted(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = tmp_path / "collection"
    archive = add(cli, collection, "packed", "zip")
    add(cli, collection, "plain")
    data = archive.read_bytes()
    assert audit(cli, collection)[0] == 0
    run = cli("withdraw", collection, "packed", "--reason", "duplicate deposit")
    assert run.code == 0, run.err
    home = Path(run.out.strip())
    assert home.name == "bag.zip" and home.read_bytes() == data
    assert not archive.exists()
    stone = json.loads((home.parent / "tombstone.json").read_text())
    assert stone["id"] == "packed"
    assert ["External-Identifier", "packed"] in stone["bag_info"]
    [withdrawn] = Collection(collection).tombstones()
    assert withdrawn.id == "packed"
    report = audit(cli, collection)[1]
    assert statuses(report) == {"packed": "withdrawn", "plain": "intact"}
    assert Collection(collection).bag_ids() == ["plain"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_oai_provider_serves_a_serialized_bag_s_records(
    tmp_path: Path, cli: CliRunner, kind: str
) -> None:
    collection = tmp_path / "collection"
    archive = add(cli, collection, "packed", kind)
    before = archive.read_bytes()
    repo = Repo(collection, WHEN)
    try:
        held = members(archive)
        for prefix, root_name in (("oai_dc", "dc"), ("mets", "mets"), ("premis", "premis")):
            answer = repo.ask(
                f"verb=GetRecord&identifier=oai:archive.example.org:packed&metadataPrefix={prefix}"
            )
            [metadata] = answer.findall(".//o:metadata", NS)
            assert len(metadata) == 1
            assert etree.QName(metadata[0]).localname == root_name
        dc_answer = repo.ask(
            "verb=GetRecord&identifier=oai:archive.example.org:packed&metadataPrefix=oai_dc"
        )
        title = dc_answer.findtext(".//dc:title", namespaces=NS)
        assert title and title in held["metadata/dc.xml"].decode()
    finally:
        repo.close()
    assert archive.read_bytes() == before
    assert sorted(os.listdir(collection)) == [".archiver", archive.name]


# -- ingest and export from an archive -----------------------------------------------------------


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """A BagIt 0.97 bag made by LoC bagit-python (md5 and sha256)."""
    root = make_source_tree(
        tmp_path / "report-1998",
        {"report.txt": "Annual report, 1998.\n", "figures/one.csv": "a,b\n1,2\n"},
    )
    bagit.make_bag(
        str(root), {"Source-Organization": "County Archive"}, checksums=["md5", "sha256"]
    )
    return root


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
def test_a_foreign_serialized_bag_is_ingested_without_being_extracted(
    tmp_path: Path, cli: CliRunner, foreign: Path, kind: str
) -> None:
    archive = pack(foreign, tmp_path / "deposit", kind)
    before = archive.read_bytes()
    beside = sorted(os.listdir(tmp_path))
    assert cli("ingest", foreign, "--out", tmp_path / "from-folder").code == 0
    run = cli("ingest", archive, "--out", tmp_path / "collection")
    assert run.code == 0, run.err
    bag = tmp_path / "collection" / "deposit"  # the archive's name without its extension
    assert run.out.strip() == str(bag)
    assert validate_bag(bag).valid
    bagit.Bag(str(bag)).validate()
    folder_made = tmp_path / "from-folder" / "report-1998"
    assert manifest(bag / "manifest-sha512.txt") == manifest(folder_made / "manifest-sha512.txt")
    kept = snapshot(bag / "metadata" / "original")
    assert kept == snapshot(folder_made / "metadata" / "original")
    assert archive.read_bytes() == before
    # nothing written beside the archive: no folder it was extracted to
    assert sorted(os.listdir(tmp_path)) == sorted({*beside, "from-folder", "collection"})


def test_a_tar_of_many_files_is_ingested_on_worker_processes(tmp_path: Path, foreign: Path) -> None:
    for index in range(300):
        (foreign / "data" / f"n{index:03d}.txt").write_text(f"note {index}\n")
    bagit.Bag(str(foreign)).save(manifests=True)
    archive = pack(foreign, tmp_path / "many", "tar")
    made = ingest_bag(archive, tmp_path / "c", workers=2, clock=Clock.from_epoch(BAGS_EPOCH))
    assert validate_bag(made.path).valid
    assert (made.path / "data" / "n299.txt").read_text() == "note 299\n"


def test_a_member_changed_after_validation_is_never_ingested(
    tmp_path: Path, foreign: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promised digests are checked again in the read that copies: a member whose bytes
    differ from its manifest by then stops the ingest, and nothing is left."""
    archive = pack(foreign, tmp_path / "deposit", "tar.gz")
    import archiver.ingest as ingest_module
    from archiver.export.source import read_source as real

    def altered(root: Path, inspection: Any) -> Any:
        source = real(root, inspection)
        item = source.payload[0]
        item.digests["sha256"] = "0" * 64  # as if the member changed since it was checked
        return source

    monkeypatch.setattr(ingest_module, "read_source", altered)
    with pytest.raises(DigestMismatchError, match=r"sha256 is .*bag said 0{64}"):
        ingest_bag(archive, tmp_path / "c", workers=1)
    assert os.listdir(tmp_path / "c") == []


@pytest.mark.parametrize(
    ("to", "out"),
    [
        ("dspace-saf", "saf"),
        ("aptrust", "edu.example.packed.tar"),
        ("archivematica", "packed.zip"),
        ("ocfl", "ocfl-root"),
    ],
)
def test_a_serialized_bag_exports_to_every_target(
    tmp_path: Path, cli: CliRunner, to: str, out: str
) -> None:
    archive = add(cli, tmp_path / "collection", "packed", "tgz")
    run = cli("export", archive, "--to", to, "--out", tmp_path / out, "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["valid"] and "export.source.files" in result["checks"]
    payload = {rel: data for rel, data in members(archive).items() if rel.startswith("data/")}
    copies = {
        path.name: path.read_bytes() for path in (tmp_path / out).rglob("*") if path.is_file()
    }
    if to == "aptrust":
        with tarfile.open(tmp_path / out) as opened:
            copies = {
                Path(m.name).name: opened.extractfile(m).read()  # type: ignore[union-attr]
                for m in opened.getmembers()
                if m.isfile()
            }
    if to == "archivematica":
        with zipfile.ZipFile(tmp_path / out) as opened:
            copies = {
                Path(n).name: opened.read(n) for n in opened.namelist() if not n.endswith("/")
            }
    for rel, data in payload.items():
        assert copies[Path(rel).name] == data, rel


def test_an_archive_s_member_streams_can_be_read_twice(tmp_path: Path, cli: CliRunner) -> None:
    """What the OAI provider needs of a document (check, then copy): a member's stream is
    seekable in a .tar, a .zip and a .tar.gz's kept tag files."""
    for kind in sorted(KINDS):
        files = open_archive(add(cli, tmp_path / kind, "b", kind))
        with files.open("metadata/dc.xml") as handle:
            first = handle.read()
            handle.seek(0)
            assert handle.read() == first and first.startswith(b"<?xml")
            handle.seek(5)
            assert handle.read(4) == first[5:9]
        assert io.BytesIO(first).read() == first
