"""Hostile bags in a served collection (issue 10, item 8): what the OAI-PMH provider reads
of them, and what it never waits for.

A bag whose bag-info.txt or metadata is a link to a file elsewhere must not have that file
served; a tag file that is /dev/zero (through a link or as the device itself) or a FIFO
must neither exhaust memory nor hang the catalog's refresh, the server's start or a
request; a refresh held up reading a bag must not hold the catalog's lock meanwhile.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from archiver.bagit.reader import Bag
from archiver.collection import Collection, store
from archiver.collection.catalog import Catalog
from tests.conftest import watch_reads
from tests.oai_helpers import (
    NS,
    PREFIX,
    BagSpec,
    Repo,
    error_codes,
    make_collection,
    moment,
    oai_get,
    running_server,
    validate,
)

NOW = moment("2024-03-01T00:00:00Z")
SPECS = (
    BagSpec("ours", "Our own bag", "letters", "2024-01-01T10:00:00Z"),
    BagSpec("other", "Another bag", "letters", "2024-01-02T10:00:00Z"),
    BagSpec("foreign", "foreign", None, "2024-01-03T10:00:00Z", foreign=True),
)
SECRET = b"SECRET-0f8e"
_DC = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">'
    f"<dc:title>{SECRET.decode()}</dc:title></oai_dc:dc>\n"
)
T = TypeVar("T")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_collection(tmp_path_factory.mktemp("hostile-template"), SPECS)


@pytest.fixture
def collection(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "c", symlinks=True))


@pytest.fixture
def secrets(tmp_path: Path, template: Path) -> Path:
    """Files outside the collection a hostile bag may point at, each holding SECRET."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "bag-info.txt").write_bytes(b"External-Description: " + SECRET + b"\n")
    (folder / "dc.xml").write_text(_DC, encoding="utf-8")
    for name in ("mets.xml", "premis.xml"):  # real documents, marked as secret
        text = (template / "ours" / "metadata" / name).read_bytes()
        (folder / name).write_bytes(text.replace(b"Our own bag", SECRET))
    return folder


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``, or a failure if it has not returned after ``seconds`` (a generous bound:
    a hang, not a slow run, is what is caught)."""
    found: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            found.append(call())
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s"
    if failed:
        raise failed[0]
    return found[0]


@pytest.fixture
def serve(collection: Path) -> Iterator[Callable[[], Repo]]:
    """Index the collection (within a minute) and serve it; closed at the end."""
    opened: list[Repo] = []

    def start() -> Repo:
        opened.append(_within(60, lambda: Repo(collection, NOW)))
        return opened[-1]

    yield start
    for repo in opened:
        repo.close()


def _get(repo: Repo, bag_id: str, prefix: str) -> tuple[bytes, list[str]]:
    body = _within(
        60, lambda: repo.raw(f"verb=GetRecord&identifier={PREFIX}{bag_id}&metadataPrefix={prefix}")
    )
    return body, error_codes(validate(body))


def _harvest_everything(repo: Repo) -> bytes:
    """Every answer about every bag, in every format, as one text to search."""
    bodies = [
        repo.raw(f"verb=ListRecords&metadataPrefix={p}") for p in ("oai_dc", "mets", "premis")
    ]
    for spec in SPECS:
        bodies.append(repo.raw(f"verb=ListMetadataFormats&identifier={PREFIX}{spec.id}"))
        for prefix in ("oai_dc", "mets", "premis"):
            bodies.append(_get(repo, spec.id, prefix)[0])
    for body in bodies:
        validate(body)
    return b"".join(bodies)


def _link(path: Path, target: Path | str) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target)


# -- links to files outside the collection ---------------------------------------------------


def test_a_bag_info_linked_to_a_file_elsewhere_is_not_served(
    collection: Path, secrets: Path, serve: Callable[[], Repo]
) -> None:
    _link(collection / "foreign" / "bag-info.txt", secrets / "bag-info.txt")
    repo = serve()
    assert SECRET not in _harvest_everything(repo)
    body, codes = _get(repo, "foreign", "oai_dc")
    assert codes == []  # the record is still there, made of what can be read: its identifier
    assert b"<dc:identifier>foreign</dc:identifier>" in body


def test_a_dc_xml_linked_to_a_file_elsewhere_is_not_served(
    collection: Path, secrets: Path, serve: Callable[[], Repo]
) -> None:
    _link(collection / "ours" / "metadata" / "dc.xml", secrets / "dc.xml")
    repo = serve()
    assert SECRET not in _harvest_everything(repo)
    body, codes = _get(repo, "ours", "oai_dc")
    assert codes == [] and b"<dc:identifier>ours</dc:identifier>" in body


@pytest.mark.parametrize("name", ["mets.xml", "premis.xml"])
def test_a_mets_or_premis_document_linked_to_a_file_elsewhere_is_not_served(
    collection: Path, secrets: Path, serve: Callable[[], Repo], name: str
) -> None:
    _link(collection / "ours" / "metadata" / name, secrets / name)
    repo = serve()
    assert SECRET not in _harvest_everything(repo)
    prefix = name.removesuffix(".xml")
    assert _get(repo, "ours", prefix)[1] == ["cannotDisseminateFormat"]


def test_a_metadata_folder_linked_to_a_folder_elsewhere_is_not_served(
    collection: Path, secrets: Path, serve: Callable[[], Repo]
) -> None:
    _link(collection / "ours" / "metadata", secrets)
    repo = serve()
    assert SECRET not in _harvest_everything(repo)
    formats = validate(repo.raw(f"verb=ListMetadataFormats&identifier={PREFIX}ours"))
    assert [p.text for p in formats.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc"]


def test_a_bag_folder_swapped_for_a_link_after_indexing_is_not_served(
    collection: Path, secrets: Path, serve: Callable[[], Repo], tmp_path: Path
) -> None:
    elsewhere = Path(shutil.copytree(collection / "ours", tmp_path / "elsewhere", symlinks=True))
    for name in ("dc.xml", "mets.xml", "premis.xml"):
        shutil.copyfile(secrets / name, elsewhere / "metadata" / name)
    repo = serve()
    _link(collection / "ours", elsewhere)  # after the catalog read it, before it refreshes
    for prefix in ("oai_dc", "mets", "premis"):
        body, _ = _get(repo, "ours", prefix)
        assert SECRET not in body
    assert SECRET not in repo.raw("verb=ListRecords&metadataPrefix=oai_dc")


def test_a_bag_gone_before_the_catalog_noticed_has_no_record_made_up_for_it(
    collection: Path, serve: Callable[[], Repo]
) -> None:
    repo = serve()
    shutil.rmtree(collection / "ours")
    # Not a Dublin Core record made of nothing but the identifier, which a harvester would
    # take for the item's new metadata: the record cannot be read until the next refresh
    # reports it deleted.
    assert _get(repo, "ours", "oai_dc")[1] == ["cannotDisseminateFormat"]
    repo.refresh("2024-03-02T00:00:00Z")
    body, codes = _get(repo, "ours", "oai_dc")
    assert codes == [] and b'status="deleted"' in body


# -- devices and pipes -----------------------------------------------------------------------


def _zero_link(path: Path) -> None:
    _link(path, "/dev/zero")


def _zero_device(path: Path) -> None:
    path.unlink()
    os.mknod(path, stat.S_IFCHR | 0o644, os.makedev(1, 5))  # what /dev/zero is


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


MAKERS: dict[str, Callable[[Path], None]] = {"a link to /dev/zero": _zero_link, "a FIFO": _fifo}
if os.geteuid() == 0:  # only root may make a device node
    MAKERS["the /dev/zero device itself"] = _zero_device
TAG_FILES = ("bag-info.txt", "metadata/dc.xml", "metadata/mets.xml", "metadata/premis.xml")


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("name", TAG_FILES)
def test_a_tag_file_that_is_a_device_or_a_fifo_neither_hangs_nor_fills_memory(
    collection: Path, serve: Callable[[], Repo], kind: str, name: str
) -> None:
    planted = []
    for bag in ("ours", "foreign"):
        if (collection / bag / name).exists():
            MAKERS[kind](collection / bag / name)
            planted.append(str(collection / bag / name))
    with watch_reads() as reads:
        repo = serve()
        everything = _harvest_everything(repo)
        repo.refresh("2024-03-02T00:00:00Z")
    # Never opened, so never read (a read of /dev/zero up to the tag-file cap is 64 MB)
    # nor waited on (a FIFO without a writer blocks its reader).
    opened = {path for path, _ in reads}
    assert not opened & {*planted, "/dev/zero"}
    assert b"<dc:identifier>ours</dc:identifier>" in everything  # still served


def test_the_server_starts_and_answers_over_a_fifo_and_a_dev_zero_link(collection: Path) -> None:
    _fifo(collection / "ours" / "bag-info.txt")
    _zero_link(collection / "foreign" / "bag-info.txt")
    _fifo(collection / "other" / "metadata" / "mets.xml")
    with running_server(collection, page_size=10) as server:  # announces within 30 s
        response = oai_get(server.url, "verb=ListRecords&metadataPrefix=oai_dc")
        assert response.status == 200
        root = validate(response.body)
        assert len(root.findall(".//o:record", NS)) == len(SPECS)


# -- the catalog's lock ----------------------------------------------------------------------


def test_a_refresh_held_up_reading_a_bag_does_not_hold_the_catalog_lock(
    collection: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = Collection(collection)
    serving.catalog().refresh(NOW)
    (collection / "other" / "metadata" / "dc.xml").touch()  # changed: read on the next refresh
    reading, release = threading.Event(), threading.Event()
    read = Catalog.read

    def slow_read(self: Catalog, bag_id: str) -> Bag | None:
        if threading.current_thread().name == "held-up":  # a disk that stalls, a FIFO...
            reading.set()
            release.wait(60)
        return read(self, bag_id)

    monkeypatch.setattr(Catalog, "read", slow_read)
    refresher = threading.Thread(
        target=serving.catalog().refresh, args=(NOW,), name="held-up", daemon=True
    )
    refresher.start()
    try:
        assert reading.wait(60)
        # Another process withdrawing a bag meanwhile: it writes the catalog at once, not
        # after the refresh (a lock held that long would be "database is locked").
        monkeypatch.setattr(store, "BUSY_TIMEOUT_SECONDS", 2.0)
        with Collection(collection) as other:
            other.withdraw("ours", reason="asked", clock=None)
    finally:
        release.set()
        refresher.join(60)
    assert not refresher.is_alive()
    repo = Repo(collection, NOW)
    try:
        header = validate(
            repo.raw(f"verb=GetRecord&identifier={PREFIX}ours&metadataPrefix=oai_dc")
        ).find(".//o:header", NS)
        assert header is not None and header.get("status") == "deleted"
    finally:
        repo.close()
    serving.close()
