"""What the OAI-PMH provider serves as a record (issue 10, items 10 and 12): only documents
that are valid, with xs:IDs no other bag's record shares."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from lxml import etree

from archiver.collection.catalog import Item
from archiver.oai import records
from archiver.xml import mets
from tests.oai_helpers import (
    NS,
    PREFIX,
    BagSpec,
    Repo,
    error_codes,
    header_ids,
    make_collection,
    moment,
    validate,
)

NOW = moment("2024-03-01T00:00:00Z")
# Bag identifiers that once wrote the same METS IDs ("7x" and "b7x": b7x_file_1), and ones
# that are each other's prefix up to a '_'.
CLASHING = (
    BagSpec("7x", "Seven", None, "2024-01-01T10:00:00Z"),
    BagSpec("b7x", "B seven", None, "2024-01-02T10:00:00Z"),
    BagSpec("a", "A", None, "2024-01-03T10:00:00Z"),
    BagSpec("a_file", "A file", None, "2024-01-04T10:00:00Z"),
    BagSpec("a_amdSec", "A amdSec", None, "2024-01-05T10:00:00Z"),
)


@pytest.fixture(scope="module")
def clashing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_collection(tmp_path_factory.mktemp("clashing"), CLASHING)


def _item(repo: Repo, bag_id: str) -> Item:
    found = repo.catalog.item(bag_id)
    assert found is not None
    return found


def _ids(root: etree._Element) -> list[str]:
    return [str(v) for v in root.xpath("//mets:mets//@ID", namespaces=NS)]


def test_each_bags_mets_ids_are_its_prefix_and_a_local_form(clashing: Path) -> None:
    for spec in CLASHING:
        tree = etree.parse(str(clashing / spec.id / "metadata" / "mets.xml"))
        ids = [str(v) for v in tree.xpath("//@ID")]
        prefix = mets.id_prefix(spec.id)
        assert ids and all(i.startswith(prefix) for i in ids)
        assert all(mets.LOCAL_ID.fullmatch(i[len(prefix) :]) for i in ids)
        assert not re.match(r"[A-Za-z0-9]", prefix)  # no bag identifier starts like one


def test_list_records_mets_of_bags_whose_ids_once_clashed_has_each_id_once(
    clashing: Path,
) -> None:
    repo = Repo(clashing, NOW, page_size=len(CLASHING))
    try:
        root = repo.ask("verb=ListRecords&metadataPrefix=mets")  # schema-valid: IDs unique
    finally:
        repo.close()
    assert len(root.findall(".//o:record", NS)) == len(CLASHING)
    ids = _ids(root)
    assert [i for i, n in Counter(ids).items() if n > 1] == []


_LOCALS = [
    "dmdSec_1",
    "amdSec_bag",
    "techMD_bag",
    "digiprovMD_bag",  # since 0.2.0: the mdRef to premis.xml
    *(f"{kind}_{n}" for kind in ("digiprovMD_event", "digiprovMD_agent") for n in (1, 12)),
    *(f"{kind}_{n}" for kind in ("amdSec", "techMD", "file") for n in (1, 12)),
]
_BAG_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True) | st.builds(
    lambda a, local: f"{a}_{local}", st.sampled_from(["a", "7x", "b_7"]), st.sampled_from(_LOCALS)
)


@given(first=_BAG_ID, second=_BAG_ID)
@example("7x", "b7x")
@example("a", "a_file")
@example("a", "a_digiprovMD")
def test_two_bags_never_write_the_same_mets_id(first: str, second: str) -> None:
    assume(first != second)
    assert all(mets.LOCAL_ID.fullmatch(local) for local in _LOCALS)
    ids = {mets.id_prefix(first) + local for local in _LOCALS}
    assert ids.isdisjoint(mets.id_prefix(second) + local for local in _LOCALS)


# -- documents that are not what their format says --------------------------------------------


def _edited(
    template: Path, tmp_path: Path, name: str, change: tuple[bytes, bytes]
) -> tuple[Path, Path]:
    """A copy of the collection where bag a's metadata/NAME has ``change`` made."""
    collection = Path(shutil.copytree(template, tmp_path / "c", symlinks=True))
    path = collection / "a" / "metadata" / name
    _edit(path, *change)
    return collection, path


def _edit(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` in a file by ``new``, keeping its modification time (its datestamp)."""
    info = path.stat()
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_a_schema_invalid_dc_xml_is_served_as_dublin_core_from_bag_info_and_logged(
    clashing: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    collection = Path(shutil.copytree(clashing, tmp_path / "c", symlinks=True))
    dc_xml = collection / "a" / "metadata" / "dc.xml"
    # Well-formed, but dc:titel is no Dublin Core element.
    _edit(dc_xml, b"dc:title>", b"dc:titel>")
    with caplog.at_level(logging.WARNING, logger="archiver.catalog"):
        repo = Repo(collection, NOW)
    try:
        root = repo.ask(f"verb=GetRecord&identifier={PREFIX}a&metadataPrefix=oai_dc")
        assert b"titel" not in repo.raw("verb=ListRecords&metadataPrefix=oai_dc")
    finally:
        repo.close()
    assert root.findtext(".//dc:identifier", namespaces=NS) == "a"  # from bag-info
    [logged] = [r.getMessage() for r in caplog.records]
    # Validated streaming: libxml2 knows no line there, and none is claimed (it said "line 0").
    assert logged.startswith("bag a: [metadata.xml.schema-invalid] metadata/dc.xml: Element ")
    assert logged.endswith("; its oai_dc record is made from its bag-info")


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("mets.xml", (b"<mets:name>", b"<mets:nom>")),  # not well-formed any more
        ("mets.xml", (b"mets:name>", b"mets:nom>")),  # well-formed, not METS
        ("premis.xml", (b"premis:eventType", b"premis:eventKind")),
        ("mets.xml", (b'<?xml version="1.0" encoding="UTF-8"?>', b"<!DOCTYPE x>")),
    ],
)
def test_a_mets_or_premis_document_that_is_not_valid_is_not_offered(
    clashing: Path, tmp_path: Path, name: str, change: tuple[bytes, bytes]
) -> None:
    collection, _path = _edited(clashing, tmp_path, name, change)
    prefix = name.removesuffix(".xml")
    repo = Repo(collection, NOW, page_size=len(CLASHING))
    try:
        assert prefix not in _item(repo, "a").formats
        root = repo.ask(f"verb=GetRecord&identifier={PREFIX}a&metadataPrefix={prefix}")
        assert error_codes(root) == ["cannotDisseminateFormat"]
        listed = repo.ask(f"verb=ListRecords&metadataPrefix={prefix}")
        assert PREFIX + "a" not in header_ids(listed)
    finally:
        repo.close()


def test_a_document_changed_since_it_was_checked_is_checked_again_before_it_is_served(
    clashing: Path, tmp_path: Path
) -> None:
    collection = Path(shutil.copytree(clashing, tmp_path / "c", symlinks=True))
    repo = Repo(collection, NOW)
    try:
        for name in ("dc.xml", "mets.xml"):
            path = collection / "a" / "metadata" / name
            path.write_bytes(path.read_bytes().replace(b"</mets:name>", b"</mets:nom>").replace(
                b"dc:title>", b"dc:titel>"
            ))  # fmt: skip
        # Before the catalog's next refresh:
        dc = repo.ask(f"verb=GetRecord&identifier={PREFIX}a&metadataPrefix=oai_dc")
        assert dc.findtext(".//dc:identifier", namespaces=NS) == "a"  # from bag-info
        assert error_codes(
            repo.ask(f"verb=GetRecord&identifier={PREFIX}a&metadataPrefix=mets")
        ) == ["cannotDisseminateFormat"]
    finally:
        repo.close()


# -- bags written before the IDs were unique, and documents from elsewhere --------------------


def _old_ids(path: Path, bag_id: str) -> None:
    """Give a bag's METS the IDs archiver wrote before ('b' before a leading digit)."""
    old = f"{'b' if bag_id[:1].isdigit() else ''}{bag_id}_"
    _edit(path, mets.id_prefix(bag_id).encode(), old.encode())


def test_bags_written_with_the_old_clashing_ids_are_served_with_ids_no_other_bag_has(
    clashing: Path, tmp_path: Path
) -> None:
    collection = Path(shutil.copytree(clashing, tmp_path / "c", symlinks=True))
    for bag_id in ("7x", "b7x"):
        _old_ids(collection / bag_id / "metadata" / "mets.xml", bag_id)
    on_disk = {
        bag_id: _ids(etree.parse(str(collection / bag_id / "metadata" / "mets.xml")).getroot())
        for bag_id in ("7x", "b7x")
    }
    assert set(on_disk["7x"]) == set(on_disk["b7x"])  # b7x_file_1 in both: they clash
    repo = Repo(collection, NOW, page_size=len(CLASHING))
    try:
        # Schema-valid: every ID once, every IDREF (FILEID, ADMID, DMDID) pointing at one.
        root = repo.ask("verb=ListRecords&metadataPrefix=mets")
        single = repo.ask(f"verb=GetRecord&identifier={PREFIX}7x&metadataPrefix=mets")
    finally:
        repo.close()
    ids = _ids(root)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert "_7x\u00b7b7x_file_1" in ids and "_b7x\u00b7b7x_file_1" in ids
    assert mets.id_prefix("a") + "file_1" in ids  # IDs archiver writes now are kept
    assert set(_ids(single)) == {f"_7x\u00b7{i}" for i in on_disk["7x"]}
    refs = single.xpath("//mets:fptr/@FILEID", namespaces=NS)
    assert refs and all(str(r).startswith("_7x\u00b7b7x_") for r in refs)


def test_a_record_is_copied_from_its_file_as_it_is(clashing: Path) -> None:
    """Served METS is the bag's own, element for element (only IDs would change)."""
    repo = Repo(clashing, NOW)
    try:
        root = repo.ask(f"verb=GetRecord&identifier={PREFIX}a&metadataPrefix=mets")
    finally:
        repo.close()
    [served] = root.findall(".//o:metadata/mets:mets", NS)
    original = etree.parse(str(clashing / "a" / "metadata" / "mets.xml")).getroot()
    assert etree.tostring(served, method="c14n", exclusive=True) == etree.tostring(
        original, method="c14n", exclusive=True
    )


# -- big records: streamed ---------------------------------------------------------------------

_SERVE_BIG = """
import resource, sys
from pathlib import Path
from tests.oai_helpers import PREFIX, Repo, moment

repo = Repo(Path(sys.argv[1]), moment("2024-03-01T00:00:00Z"))
def serve(prefix, bag_id):
    query = [("verb", "GetRecord"), ("metadataPrefix", prefix), ("identifier", PREFIX + bag_id)]
    return sum(len(piece) for piece in repo.provider.stream(query, repo.now))
serve("mets", "7x")  # everything loaded and warmed up, on a small record
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sent = serve("mets", "a")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(sent, (after - before) * 1024)
"""


def _big_mets(
    template: Path, tmp_path: Path, count: int, verbatim: bool = True
) -> tuple[Path, Path]:
    """A copy of the collection where bag a's METS holds ``count`` long descriptions; not
    ``verbatim``: with a comment after its root, so it is copied an element at a time."""
    collection = Path(shutil.copytree(template, tmp_path / "c", symlinks=True))
    path = collection / "a" / "metadata" / "mets.xml"
    words = "A description long enough to make this record big, and then some more. " * 2
    many = f"<dc:description>{words}</dc:description>\n" * count
    _edit(path, b"</oai_dc:dc>", many.encode() + b"</oai_dc:dc>")
    if not verbatim:
        _edit(path, b"</mets:mets>", b"</mets:mets>\n<!-- after the root -->")
    return collection, path


@pytest.mark.parametrize("verbatim", [True, False], ids=["byte-for-byte", "element-wise"])
def test_a_big_record_is_served_in_flat_memory(
    clashing: Path, tmp_path: Path, verbatim: bool
) -> None:
    """A 35 MB METS (200,000 elements): the response grows memory by far less than the
    record's size (parsed whole, as it was, it took ten times its size)."""
    collection, path = _big_mets(clashing, tmp_path, 200_000, verbatim)
    size = path.stat().st_size
    assert size > 30_000_000
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_BIG, str(collection)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=300,
    )
    sent, grown = (int(n) for n in result.stdout.split())
    assert sent > size  # the whole record went out
    assert grown < size / 4, f"memory grew by {grown} bytes for a record of {size}"


@pytest.mark.parametrize("verbatim", [True, False], ids=["byte-for-byte", "element-wise"])
def test_a_record_that_breaks_once_its_response_has_begun_ends_the_response(
    clashing: Path, tmp_path: Path, verbatim: bool
) -> None:
    """Nothing wrong is sent: the file is cut while it is being copied (it was checked
    before), so the response stops there, with an error a server logs (app._Streamed)."""
    collection, path = _big_mets(clashing, tmp_path, 20_000, verbatim)
    repo = Repo(collection, NOW)
    query = [("verb", "GetRecord"), ("metadataPrefix", "mets"), ("identifier", f"{PREFIX}a")]
    try:
        pieces = repo.provider.stream(query, NOW)
        first = next(pieces)  # the response has begun, the record is being copied
        assert first.startswith(b"<?xml") and b"</OAI-PMH>" not in first
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
        with pytest.raises(OSError if verbatim else etree.XMLSyntaxError):
            list(pieces)
    finally:
        repo.close()


def _span(repo: Repo, bag_id: str, name: str) -> tuple[int, int] | None:
    return records.read_checked(_item(repo, bag_id).checked[f"metadata/{name}"])[1]


def test_archivers_own_documents_go_out_byte_for_byte(clashing: Path) -> None:
    repo = Repo(clashing, NOW)
    try:
        root = repo.raw(f"verb=GetRecord&identifier={PREFIX}a_file&metadataPrefix=mets")
        spans = {name: _span(repo, "a_file", name) for name in ("dc.xml", "mets.xml", "premis.xml")}
    finally:
        repo.close()
    assert all(spans.values()), spans
    data = (clashing / "a_file" / "metadata" / "mets.xml").read_bytes()
    start, end = spans["mets.xml"]  # type: ignore[misc]
    assert data[start:end].startswith(b"<mets:mets ") and data[start:end].endswith(b"</mets:mets>")
    assert data[start:end] in root


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("mets.xml", (b"</mets:mets>", b"</mets:mets><!-- after -->")),
        ("mets.xml", (b"<mets:mets ", b"<!-- before --><mets:mets ")),
        ("mets.xml", (b'encoding="UTF-8"', b'encoding="ISO-8859-1"')),
        ("mets.xml", (b"<mets:xmlData>", b'<mets:xmlData><note xmlns="urn:x">n</note>')),
        ("mets.xml", (b"<mets:xmlData>", b"<mets:xmlData><note>in no namespace</note>")),
        ("mets.xml", (b'ID="_a_file_1"', b'ID="a_file_1"')),  # an ID served otherwise
        ("premis.xml", (b"<premis:premis ", b"<?pi x?><premis:premis ")),
    ],
)
def test_a_document_that_cannot_go_out_as_it_is_is_copied_element_by_element(
    clashing: Path, tmp_path: Path, name: str, change: tuple[bytes, bytes]
) -> None:
    collection, path = _edited(clashing, tmp_path, name, change)
    prefix = name.removesuffix(".xml")
    repo = Repo(collection, NOW)
    try:
        assert prefix in _item(repo, "a").formats  # still valid, still served
        assert _span(repo, "a", name) is None
        root = repo.ask(f"verb=GetRecord&identifier={PREFIX}a&metadataPrefix={prefix}")
    finally:
        repo.close()
    [served] = root.findall(f".//o:metadata/{prefix}:{prefix}", NS)
    original = etree.parse(str(path)).getroot()
    for element in [original, *original.iterdescendants()]:
        for attribute in set(element.attrib) & {"ID", "ADMID", "DMDID", "FILEID"}:
            element.set(attribute, records.served_id("a", str(element.get(attribute))))
    assert etree.tostring(served, method="c14n", exclusive=True) == etree.tostring(
        original, method="c14n", exclusive=True
    )


def test_a_whole_response_has_its_length_and_a_big_one_is_handed_on_in_pieces(
    clashing: Path, tmp_path: Path
) -> None:
    from wsgiref.util import setup_testing_defaults

    from archiver.oai.app import oai_app

    collection, path = _big_mets(clashing, tmp_path, 20_000)
    app = oai_app(collection, base_url="http://repo.example.org/oai", refresh_seconds=None)

    def get(query: str) -> tuple[dict[str, str], list[bytes]]:
        environ: dict[str, object] = {"PATH_INFO": "/oai", "QUERY_STRING": query}
        setup_testing_defaults(environ)
        headers: dict[str, str] = {}
        body = app(environ, lambda _status, given: headers.update(given))
        try:
            return headers, list(body)
        finally:
            getattr(body, "close", lambda: None)()

    try:
        small, [body] = get(
            "verb=GetRecord&identifier=oai:archiver.local:a_file&metadataPrefix=mets"
        )
        assert small["Content-Length"] == str(len(body))
        big, pieces = get("verb=GetRecord&identifier=oai:archiver.local:a&metadataPrefix=mets")
    finally:
        app.close()
    assert "Content-Length" not in big and len(pieces) > 10
    assert max(len(piece) for piece in pieces) < path.stat().st_size / 10
    validate(b"".join(pieces))
