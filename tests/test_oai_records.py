"""What the OAI-PMH provider serves as a record (issue 10, items 10 and 12): only documents
that are valid, with xs:IDs no other bag's record shares."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from lxml import etree

from archiver.collection.catalog import Item
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
    assert logged.startswith("bag a: [metadata.xml.schema-invalid] metadata/dc.xml line ")
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
    collection = Path(shutil.copytree(clashing, tmp_path / "c", symlinks=True))
    path = collection / "a" / "metadata" / name
    _edit(path, *change)
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
