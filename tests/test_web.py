"""The web view (archiver.web): pages from a real collection, as a browser gets them from
the WSGI application; hostile metadata shown inert; no path leads outside a bag."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from archiver.clock import Clock
from archiver.collection import Collection
from archiver.collection import catalog as catalog_module
from archiver.packing import make_bag
from archiver.web.app import view_app
from tests.conftest import BAGS_EPOCH, SAMPLE_RECORD, SAMPLE_TEXT

HOSTILE = '"><img src=x onerror=alert(1)>'


def _clock() -> Clock:
    return Clock.from_environment({"SOURCE_DATE_EPOCH": str(BAGS_EPOCH)})


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    """A collection of three bags (the sample, a hostile one, one to withdraw) and the
    view's test client."""
    col = tmp_path / "collection"
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "evil <script>.txt").write_text(
        "Les archives gardent <script>alert(1)</script> chaque texte.\nA second line.\n",
        encoding="utf-8",
    )
    (texts / "plain.txt").write_text("Nothing remarkable here.\n", encoding="utf-8")
    clock = _clock()
    make_bag([SAMPLE_TEXT], col, record=SAMPLE_RECORD, bag_id="sample", clock=clock)
    make_bag(
        [texts / "evil <script>.txt"],
        col,
        record={"title": HOSTILE, "creator": "javascript:alert(1)", "date": "1999"},
        bag_id="hostile",
        clock=clock,
    )
    make_bag(
        [texts / "plain.txt"], col, record={"title": "Going away"}, bag_id="leaving", clock=clock
    )
    collection = Collection(col)
    collection.withdraw("leaving", reason="Deposited twice <b>by mistake</b>", clock=clock)
    catalog = collection.catalog()
    catalog.refresh(clock.now())
    return {"client": view_app(catalog).test_client(), "catalog": catalog, "path": col}


def _get(site: dict[str, Any], url: str, **headers: str) -> tuple[int, str, Any]:
    """Status, body and response of GET ``url``, closed as a WSGI server closes it."""
    response = site["client"].get(url, headers=headers)
    body = response.get_data(as_text=True)
    response.close()
    return response.status_code, body, response


def test_the_collection_page_lists_the_live_bags(site: dict[str, Any]) -> None:
    code, body, response = _get(site, "/")
    assert code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "2 bags" in body
    assert 'href="/bags/sample"' in body and 'href="/bags/hostile"' in body
    assert "/bags/leaving" not in body  # withdrawn
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_metadata_and_texts_are_shown_inert(site: dict[str, Any]) -> None:
    for url in (
        "/",
        "/bags/hostile",
        "/search?q=archives",
        "/bags/hostile/data/evil%20%3Cscript%3E.txt",
    ):
        code, body, _ = _get(site, url)
        assert code == 200, url
        assert "<img" not in body and "<script>" not in body, url
    _, body, _ = _get(site, "/bags/hostile")
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in body
    assert 'href="javascript:' not in body


def test_search_finds_words_in_the_texts_and_phrases_with_their_snippet(
    site: dict[str, Any],
) -> None:
    code, body, _ = _get(site, "/search?q=archives")  # diacritics and case folded too
    assert code == 200
    assert "1 bag found" in body
    assert "<mark>archives</mark>" in body
    assert "evil &lt;script&gt;.txt" in body
    _, body, _ = _get(site, '/search?q="second line"')
    assert "1 bag found" in body
    _, body, _ = _get(site, '/search?q="line second"')
    assert "0 bags found" in body
    _, body, _ = _get(site, "/search?q=Going")
    assert "0 bags found" in body  # the withdrawn bag is not searched


@pytest.mark.parametrize("words", ['"', "AND OR NOT (", "*", "a:b", "NEAR(x y)", "\x00", "é" * 600])
def test_any_search_words_give_a_page(site: dict[str, Any], words: str) -> None:
    code, body, _ = _get(site, "/search?q=" + words)
    assert code == 200, body


def test_a_bag_page_shows_its_record_files_and_digests(site: dict[str, Any]) -> None:
    code, body, _ = _get(site, "/bags/sample")
    assert code == 200
    assert "A giant step for peace" in body or "giant" in body.lower()
    assert re.search(r"<code class=\"digest\">[0-9a-f]{64}</code>", body)
    assert re.search(r"<code class=\"digest\">[0-9a-f]{128}</code>", body)
    assert 'href="/bags/sample/metadata/dc.xml"' in body


def test_a_bag_page_gives_each_files_format_encoding_characters_and_line_endings(
    tmp_path: Path,
) -> None:
    """From the bag's premis.xml (xml.premis.read_premis): a UTF-8 text with a byte order
    mark and CRLF line endings, and a text in Latin-1 that is not UTF-8."""
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "crlf.txt").write_bytes("\ufeffOne line\r\nAnd one more, été\r\n".encode())
    (texts / "latin.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    col = tmp_path / "c"
    make_bag([texts], col, record={"title": "Two texts"}, bag_id="two", clock=_clock())
    from archiver.xml.premis import read_premis

    with open(col / "two" / "metadata" / "premis.xml", "rb") as handle:
        seen = read_premis(handle)
    assert sorted(seen.files) == ["data/crlf.txt", "data/latin.txt"]
    crlf = seen.files["data/crlf.txt"]
    assert crlf.format == "Plain Text File" and crlf.registry_key == "x-fmt/111"
    assert crlf.properties == {
        "character encoding": "UTF-8",
        "byte order mark": "present",
        "line endings": "CRLF",
        "character count": str(len("One line\r\nAnd one more, été\r\n")),
    }
    assert seen.files["data/latin.txt"].properties == {}  # not a UTF-8 text: none claimed
    assert list(dict.fromkeys(e.type for e in seen.events)) == [
        "message digest calculation",
        "format identification",
        "validation",
        "packing",
    ]
    catalog = Collection(col).catalog()
    catalog.refresh(_clock().now())
    client = view_app(catalog).test_client()
    body = client.get("/bags/two").get_data(as_text=True)
    row = re.search(r"<tr>\s*<td><a href=\"/bags/two/data/crlf.txt\">.*?</tr>", body, re.S)
    assert row is not None
    cells = [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[0], re.S)
    ]
    assert cells[2:6] == [
        "Plain Text File (x-fmt/111)",
        "UTF-8 with BOM",
        crlf.properties["character count"],
        "CRLF",
    ]


def test_a_text_reads_as_html_and_downloads_as_stored(site: dict[str, Any]) -> None:
    path = "/bags/hostile/data/evil%20%3Cscript%3E.txt"
    code, body, _ = _get(site, path)
    assert code == 200
    assert "<li><code>A second line.</code></li>" in body
    code, _, response = _get(site, path + "?download")
    stored = (site["path"] / "hostile" / "data" / "evil <script>.txt").read_bytes()
    assert code == 200 and response.get_data() == stored
    assert response.headers["Content-Disposition"].startswith("attachment")
    etag = response.headers["ETag"].strip('"')
    assert re.fullmatch(r"[0-9a-f]{64}", etag)
    code, _, _ = _get(site, path + "?download", **{"If-None-Match": f'"{etag}"'})
    assert code == 304
    code, _, part = _get(site, path + "?download", Range="bytes=0-3")
    assert code == 206 and part.get_data() == stored[:4]


@pytest.mark.parametrize(
    "url",
    [
        "/bags/sample/../hostile/bagit.txt",
        "/bags/sample/data/%2e%2e/bagit.txt",
        "/bags/sample/data/..%2f..%2fbagit.txt",
        "/bags/sample/%2e%2e/%2e%2e/etc/passwd",
        "/bags/sample/data/x%00.txt",
        "/bags/..%2f.archiver/catalog.sqlite",
        "/bags/.archiver/catalog.sqlite",
        "/bags/sample/data",
        "/bags/nothing-here",
    ],
)
def test_no_path_leads_outside_a_bag(site: dict[str, Any], url: str) -> None:
    code, body, _ = _get(site, url)
    assert code == 404, (url, body[:200])


def test_a_withdrawn_bag_is_a_tombstone_and_its_files_are_not_served(
    site: dict[str, Any],
) -> None:
    code, body, _ = _get(site, "/bags/leaving")
    assert code == 410
    assert "Deposited twice &lt;b&gt;by mistake&lt;/b&gt;" in body
    code, _, _ = _get(site, "/bags/leaving/data/plain.txt?download")
    assert code == 410


def test_an_older_catalog_is_filled_for_the_view_without_moving_any_datestamp(
    tmp_path: Path,
) -> None:
    """A catalog made before the view existed (schema 3) is migrated: every live bag is
    read again for the view, and no OAI-PMH datestamp changes (harvesters fetch nothing
    again)."""
    col = tmp_path / "collection"
    for name in ("one", "two"):
        make_bag([SAMPLE_TEXT], col, record=SAMPLE_RECORD, bag_id=name, clock=_clock())
    path = col / ".archiver" / catalog_module.CATALOG_FILE
    made = catalog_module.Catalog(col, path)
    made.refresh(_clock().now())
    made.close()
    # As schema 3 left it: the same records and fingerprints, no view.
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE view; DROP TABLE search; PRAGMA user_version = 3;")
    before = dict(db.execute("SELECT id, datestamp FROM records").fetchall())
    db.close()
    assert len(before) == 2
    catalog = catalog_module.Catalog(col, path)  # opened at the new version: migrated
    assert len(catalog.listed_ids()) == 0
    catalog.refresh(_clock().now())
    assert len(catalog.listed_ids()) == 2
    assert {
        r["id"]: r["datestamp"] for r in catalog.store.rows("SELECT id, datestamp FROM records")
    } == before
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT count(*) FROM search WHERE id = 'one'").fetchone()[0] == 2
    finally:
        db.close()


def test_facets_narrow_the_list_and_count_what_is_left(site: dict[str, Any]) -> None:
    _, body, _ = _get(site, "/")
    assert 'href="/?sort=title&amp;year=2018"' in body  # the sample's date is 2018-06
    assert 'href="/?sort=title&amp;year=1999"' in body
    code, body, _ = _get(site, "/?year=1999")
    assert code == 200 and "1 bag." in body
    assert 'href="/bags/hostile"' in body and 'href="/bags/sample"' not in body
    _, body, _ = _get(site, "/?year=1999&set=editorials")
    assert "0 bags." in body
    code, body, _ = _get(site, "/?set=%3Cscript%3E&type=%22%3E%3Cimg%3E&page=99999999999")
    assert code == 200 and "0 bags." in body and "<script>" not in body and "<img>" not in body


def test_fixity_results_are_listed_faceted_and_on_the_bag_timeline(
    site: dict[str, Any],
) -> None:
    _, body, _ = _get(site, "/")
    assert "never checked" in body
    collection = Collection(site["path"])
    collection.audit(clock=_clock(), workers=1)
    damaged = site["path"] / "hostile" / "data" / "evil <script>.txt"
    damaged.write_text("changed\n", encoding="utf-8")
    collection.audit(clock=_clock(), workers=1)
    _, body, _ = _get(site, "/")
    assert '<span class="status-damaged">damaged</span>' in body
    assert '<span class="status-intact">intact</span>' in body
    code, body, _ = _get(site, "/?fixity=damaged")
    assert code == 200 and "1 bag." in body and 'href="/bags/hostile"' in body
    _, body, _ = _get(site, "/bags/hostile")
    timeline = body[body.index('<ol class="timeline">') :]
    assert timeline.index("<strong>packing</strong>") < timeline.index("fixity check")
    assert timeline.count("<strong>fixity check</strong>") == 2
    assert "<strong>fixity check</strong>: damaged" in timeline


def test_the_whole_bag_downloads_as_a_zip_or_tar_made_on_the_fly(
    site: dict[str, Any], tmp_path: Path
) -> None:
    import io
    import zipfile

    from archiver.validation import validate_bag

    client = site["client"]
    response = client.get("/bags/sample.zip")
    data = response.get_data()
    response.close()
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="sample.zip"'
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names[:2] == ["sample/", "sample/bagit.txt"]
        stored = site["path"] / "sample" / "data" / "a-giant-step-for-peace.txt"
        assert archive.read("sample/data/a-giant-step-for-peace.txt") == stored.read_bytes()
    response = client.get("/bags/sample.tar")
    (tmp_path / "sample.tar").write_bytes(response.get_data())
    response.close()
    assert validate_bag(tmp_path / "sample.tar").valid
    code, _, _ = _get(site, "/bags/leaving.zip")
    assert code == 410
    code, _, _ = _get(site, "/bags/nothing.tar")
    assert code == 404


def test_a_bag_indexed_again_replaces_its_rows_of_the_index(site: dict[str, Any]) -> None:
    """A changed bag is read again: its description and texts replace the old ones in the
    full-text index (found by rowid range), never added beside them."""
    catalog = site["catalog"]
    dc_xml = site["path"] / "sample" / "metadata" / "dc.xml"

    def rows(word: str) -> int:
        found = catalog.store.rows(
            "SELECT count(*) AS n FROM search WHERE id = 'sample' AND search MATCH ?", (word,)
        )
        return int(found[0]["n"])

    before = catalog.store.rows("SELECT count(*) AS n FROM search WHERE id = 'sample'")[0]["n"]
    dc_xml.write_text(dc_xml.read_text().replace("A giant step", "A giant stride"))
    assert catalog.refresh(_clock().now()) == 1
    after = catalog.store.rows("SELECT count(*) AS n FROM search WHERE id = 'sample'")[0]["n"]
    assert after == before == 2
    assert rows("stride") == 1
    _, body, _ = _get(site, "/search?q=stride")
    assert "1 bag found" in body


def test_a_bag_page_links_to_its_oai_records(site: dict[str, Any]) -> None:
    _, body, _ = _get(site, "/bags/sample")
    assert "<code>oai:archiver.local:sample</code>" in body
    links = re.findall(r'href="(/oai\?verb=GetRecord[^"]*)"', body)
    assert (
        "/oai?verb=GetRecord&amp;metadataPrefix=oai_dc&amp;identifier=oai%3Aarchiver.local%3Asample"
        in links
    )
    assert len(links) == 3  # oai_dc, mets, premis: every format the bag offers
    only_dc = view_app(site["catalog"], oai_formats=["oai_dc"]).test_client()
    page = only_dc.get("/bags/sample").get_data(as_text=True)
    assert len(re.findall(r'href="/oai\?verb=GetRecord', page)) == 1


def test_a_text_that_is_not_utf8_is_left_out_of_the_index_not_a_failed_refresh(
    tmp_path: Path,
) -> None:
    """A payload file in Latin-1, or cut in the middle of a character by the index's
    per-bag budget, never stops the catalog's refresh: the first is not indexed, the
    second is, up to the cut."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (source / "long.txt").write_bytes(b"x" + "é".encode() * (catalog_module.TEXT_LIMIT // 2))
    col = tmp_path / "collection"
    make_bag([source], col, record={"title": "Mixed"}, bag_id="mixed", clock=_clock())
    catalog = Collection(col).catalog()
    catalog.refresh(_clock().now())
    parts = {
        row["part"]: row["body"]
        for row in catalog.store.rows("SELECT part, body FROM search WHERE id = 'mixed'")
    }
    assert sorted(parts) == ["", "data/long.txt"]
    assert parts["data/long.txt"] == "x" + "é" * (catalog_module.TEXT_LIMIT // 2 - 1)


def test_the_catalogs_ids_and_facets_are_kept_until_anyone_commits(
    site: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collection page asks for the live ids and facet counts on every request; the
    catalog keeps them until a commit to it, by this process (another thread's connection)
    or another one."""
    import threading

    from archiver.collection.catalog import Catalog

    catalog = site["catalog"]
    asked: list[str] = []
    real_rows = catalog.store.rows

    def counted(sql: str, parameters: Any = ()) -> Any:
        asked.append(sql)
        return real_rows(sql, parameters)

    monkeypatch.setattr(catalog.store, "rows", counted)
    first = (catalog.listed_ids(), catalog.facets())
    queries = len(asked)
    assert queries > 0
    assert (catalog.listed_ids(), catalog.facets()) == first
    assert len(asked) == queries  # kept: no query
    facets = catalog.facets()
    facets["type"].append(("changed by a caller", 1))
    assert catalog.facets() == first[1]  # callers get copies
    # a commit from another thread's connection: a new bag, indexed
    (tmp_path / "new.txt").write_text("Fresh words.\n", encoding="utf-8")
    make_bag(
        [tmp_path / "new.txt"], site["path"], record={"title": "New"}, bag_id="new", clock=_clock()
    )
    worker = threading.Thread(target=catalog.refresh, args=(_clock().now(),))
    worker.start()
    worker.join()
    assert "new" in catalog.listed_ids() and len(asked) > queries
    # a commit from another process's connection (here: another Catalog of the same file)
    Collection(site["path"]).withdraw("new", reason="only for the test", clock=_clock())
    assert "new" not in catalog.listed_ids()
    other = Catalog(site["path"], catalog.path)
    try:
        assert other.store.generation() == other.store.generation()
    finally:
        other.close()
