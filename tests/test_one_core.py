"""One core: every job reads bags through the one reader and sees the same bag-info."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from archiver.bagit.reader import read_bag
from tests.conftest import CliRunner, watch_reads
from tests.foreign import LATIN1_ELEMENTS, make_latin1_bag
from tests.oai_helpers import REPOSITORY, Repo

TAG_FILE = re.compile(
    r"(^|/)(bagit\.txt|bag-info\.txt|package-info\.txt|fetch\.txt|(tag)?manifest-[^/]+\.txt)$"
)
DC = "{http://purl.org/dc/elements/1.1/}"


def _collection(tmp_path: Path, cli: CliRunner) -> tuple[Path, Path]:
    """A collection holding archiver's sample bag and, as it came, a foreign Latin-1 bag."""
    collection = tmp_path / "collection"
    assert cli("demo", "--out", collection).code == 0
    foreign = make_latin1_bag(tmp_path / "rapport")
    shutil.copytree(foreign, collection / "rapport")
    return collection, foreign


def test_bag_info_reads_the_same_in_validate_json_and_in_oai_dc(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection, _ = _collection(tmp_path, cli)
    bag = collection / "rapport"
    expected = read_bag(bag).items()
    assert expected[:-1] == LATIN1_ELEMENTS
    run = cli("validate", "--json", bag)
    assert [tuple(pair) for pair in json.loads(run.out)["bags"][0]["bag_info"]] == expected
    repo = Repo(collection, datetime(2026, 12, 1, tzinfo=UTC))
    try:
        record = repo.ask(
            f"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPOSITORY}:rapport"
        )
    finally:
        repo.close()
    dc = {
        etree.QName(e).localname: [x.text for x in record.iter(e.tag)]
        for e in record.iter()
        if isinstance(e.tag, str) and e.tag.startswith(DC)
    }
    values = dict(LATIN1_ELEMENTS)
    assert dc["description"] == [values["External-Description"]]  # its line breaks kept
    assert dc["publisher"] == [values["Source-Organization"]]
    assert dc["contributor"] == ["Zoë Müller", "François Lefèvre"]
    assert dc["title"] == ["Rapport annuel 1998"]


def test_tag_files_are_read_only_through_the_readers_file_access(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection, foreign = _collection(tmp_path, cli)
    sample = collection / "a-giant-step-for-peace"
    with watch_reads() as reads:
        assert cli("validate", sample, foreign).code == 0
        assert cli("validate", "--fast", sample).code == 0
        assert cli("ingest", foreign, "--out", collection, "--id", "ingested").code == 0
        assert cli("audit", collection).code == 0
        assert cli("audit", "history", collection).code == 0
        repo = Repo(collection, datetime(2026, 12, 1, tzinfo=UTC))
        try:
            repo.ask("verb=ListRecords&metadataPrefix=oai_dc")
            repo.ask("verb=ListRecords&metadataPrefix=mets")
        finally:
            repo.close()
        assert cli("withdraw", collection, "ingested", "--reason", "a test").code == 0
    tag_reads = [(path, opener) for path, opener in reads if TAG_FILE.search(path)]
    assert {opener for _, opener in tag_reads} == {"bagit/files.py"}
    names = {Path(path).name for path, _ in tag_reads}
    assert {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha512.txt"} <= names
