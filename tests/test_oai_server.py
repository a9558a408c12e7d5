"""``archiver serve`` for real: a subprocess on a free loopback port, harvested over HTTP by
Sickle (an OAI-PMH client from PyPI) and by hand, twenty harvesters at once, random query
strings from hypothesis, and ``archiver withdraw`` while it runs. Every OAI-PMH response,
errors included, is HTTP 200 text/xml and valid against OAI-PMH.xsd with what it embeds."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import quote, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sickle import Sickle
from sickle.iterator import OAIResponseIterator
from sickle.oaiexceptions import (
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    IdDoesNotExist,
    NoRecordsMatch,
)
from waitress.task import Task, ThreadedTaskDispatcher

from archiver.oai.app import OAIApp
from archiver.xml import parsing
from tests.oai_helpers import (
    ADMIN,
    ALL_SETS,
    BATTERY,
    ED1,
    FOREIGN,
    NS,
    PREFIX,
    REJECTS_ALL_ARGUMENTS,
    REPOSITORY,
    SPECS,
    Response,
    error_codes,
    header_ids,
    is_xml,
    live_ids,
    make_collection,
    moment,
    oai_get,
    oai_post,
    request_attributes,
    resumption,
    running_server,
    send,
    token_of,
    validate,
)

SPEC_BY_ID = {PREFIX + s.id: s for s in SPECS}
LI = "verb=ListIdentifiers&metadataPrefix=oai_dc"
LR = "verb=ListRecords&metadataPrefix=oai_dc"


@dataclass(frozen=True)
class Served:
    url: str
    collection: Path
    log: list[str] = field(default_factory=list)  # what the server wrote on stderr so far


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module, page size 2, over a collection no test changes."""
    collection = make_collection(tmp_path_factory.mktemp("oai-served"))
    with running_server(collection, page_size=2) as server:
        yield Served(server.url, collection)


def _ok(response: Response) -> etree._Element:
    """An OAI-PMH answer: HTTP 200, text/xml, schema-valid; its root."""
    assert response.status == 200, (response.status, response.body[:300])
    assert is_xml(response), response.content_type
    return validate(response.body)


def _get(served: Served, query: str) -> etree._Element:
    return _ok(oai_get(served.url, query))


def _harvest(url: str, query: str) -> list[etree._Element]:
    """Every page of a list by plain GET requests."""
    verb = re.search(r"verb=(\w+)", query)
    assert verb is not None
    pages = [_ok(oai_get(url, query))]
    while (element := resumption(pages[-1])) is not None and element.text:
        token = quote(element.text, safe="")
        pages.append(_ok(oai_get(url, f"verb={verb.group(1)}&resumptionToken={token}")))
    return pages


def _dc_title(collection: Path, bag_id: str) -> list[str]:
    dc_xml = collection / bag_id / "metadata" / "dc.xml"
    if not dc_xml.exists():  # a foreign bag: its oai_dc title is its identifier
        return [bag_id]
    tree = etree.parse(str(dc_xml), parsing.parser())
    return [str(t.text) for t in tree.iterfind(".//dc:title", NS)]


def _sickle(served: Served, method: str = "GET") -> Sickle:
    return Sickle(served.url, http_method=method, timeout=30)


# -- harvesting with Sickle -------------------------------------------------------------


def test_sickle_identifies_the_repository(served: Served) -> None:
    identify = _sickle(served).Identify()
    assert identify.baseURL == served.url
    assert identify.protocolVersion == "2.0"
    assert identify.adminEmail == ADMIN
    assert identify.earliestDatestamp == min(s.stamp for s in SPECS)
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.repositoryIdentifier == REPOSITORY
    assert identify.sampleIdentifier.startswith(PREFIX)


def test_sickle_lists_the_metadata_formats(served: Served) -> None:
    formats = {f.metadataPrefix: f for f in _sickle(served).ListMetadataFormats()}
    assert set(formats) == {"oai_dc", "mets", "premis"}
    assert formats["oai_dc"].schema == "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
    assert formats["oai_dc"].metadataNamespace == "http://www.openarchives.org/OAI/2.0/oai_dc/"
    assert formats["mets"].schema == "http://www.loc.gov/standards/mets/mets.xsd"
    assert formats["mets"].metadataNamespace == "http://www.loc.gov/METS/"
    foreign = [f.metadataPrefix for f in _sickle(served).ListMetadataFormats(identifier=FOREIGN)]
    assert foreign == ["oai_dc"]


def test_sickle_lists_every_set_over_several_pages(served: Served) -> None:
    sets = list(_sickle(served).ListSets())
    assert [s.setSpec for s in sets] == list(ALL_SETS)
    responses = list(Sickle(served.url, iterator=OAIResponseIterator, timeout=30).ListSets())
    assert len(responses) == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sickle_harvests_every_record_over_several_pages_and_they_equal_the_collection(
    served: Served, method: str
) -> None:
    records = list(_sickle(served, method).ListRecords(metadataPrefix="oai_dc"))
    assert [r.header.identifier for r in records] == live_ids()
    assert sorted(r.header.identifier.removeprefix(PREFIX) for r in records) == sorted(
        p.name for p in served.collection.iterdir() if not p.name.startswith(".")
    )
    for record in records:
        bag_id = record.header.identifier.removeprefix(PREFIX)
        assert not record.deleted
        assert record.header.datestamp == SPEC_BY_ID[record.header.identifier].stamp
        assert record.metadata["title"] == _dc_title(served.collection, bag_id)
        group = SPEC_BY_ID[record.header.identifier].group
        assert record.header.setSpecs == ([group] if group else [])
    pages = list(
        Sickle(
            served.url, http_method=method, iterator=OAIResponseIterator, timeout=30
        ).ListRecords(metadataPrefix="oai_dc")
    )
    assert len(pages) == 4  # seven records, two a page
    for page in pages:
        assert page.http_response.status_code == 200
        validate(page.http_response.content)


def test_sickle_lists_identifiers_by_set_and_by_date(served: Served) -> None:
    sickle = _sickle(served)

    def ids(**arguments: str) -> list[str]:
        return [h.identifier for h in sickle.ListIdentifiers(metadataPrefix="oai_dc", **arguments)]

    letters = [PREFIX + "let-1", PREFIX + "let-2", PREFIX + "let-3"]
    assert ids(set="letters") == letters
    assert ids(set="letters:1930s") == letters[2:]
    assert ids(**{"from": "2024-01-02", "until": "2024-01-04"}) == [PREFIX + "ed-2", *letters[:2]]
    assert ids(until="2024-01-02") == [PREFIX + "ed-1", PREFIX + "ed-2"]  # ed-2 at 23:59:59
    assert ids(**{"from": "2024-01-04T10:00:00Z", "set": "letters"}) == letters[1:]
    assert ids() == live_ids()
    with pytest.raises(NoRecordsMatch):
        ids(set="editorials", **{"from": "2024-01-03"})


def test_sickle_gets_a_record_in_oai_dc_and_in_mets(served: Served) -> None:
    sickle = _sickle(served)
    dc = sickle.GetRecord(identifier=ED1, metadataPrefix="oai_dc")
    assert dc.header.identifier == ED1
    assert dc.metadata["title"] == _dc_title(served.collection, "ed-1")
    mets = sickle.GetRecord(identifier=ED1, metadataPrefix="mets")
    root = mets.xml.find(".//mets:mets", NS)
    assert root is not None and root.get("OBJID") == "ed-1"
    assert mets.metadata["title"] == _dc_title(served.collection, "ed-1")  # its dmdSec
    with pytest.raises(CannotDisseminateFormat):
        sickle.GetRecord(identifier=FOREIGN, metadataPrefix="mets")
    with pytest.raises(IdDoesNotExist):
        sickle.GetRecord(identifier=PREFIX + "nope", metadataPrefix="oai_dc")


def test_sickle_sees_oai_errors_as_errors(served: Served) -> None:
    sickle = _sickle(served)
    with pytest.raises(BadArgument):
        sickle.GetRecord(identifier=ED1)
    with pytest.raises(BadArgument):
        sickle.ListMetadataFormats(identifier="junk")
    with pytest.raises(BadResumptionToken):
        sickle.ListRecords(resumptionToken="junk")
    with pytest.raises(BadVerb):
        OAIResponseIterator(sickle, {"verb": "GetMetadata"})


# -- HTTP transport ----------------------------------------------------------------------

TRANSPORT_QUERIES = (
    "verb=Identify",
    "verb=ListMetadataFormats",
    f"verb=ListMetadataFormats&identifier={ED1}",
    "verb=ListSets",
    f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai_dc",
    f"verb=GetRecord&identifier={ED1}&metadataPrefix=mets",
    LI,
    f"{LR}&set=letters&from=2024-01-01",
    "verb=junk",
    "verb=ListRecords",
    f"verb=GetRecord&identifier={PREFIX}nope&metadataPrefix=oai_dc",
    "verb=ListRecords&resumptionToken=junk",
)


def _comparable(body: bytes) -> bytes:
    """A response without what depends on the second it was made at."""
    body = re.sub(rb"<responseDate>[^<]*</responseDate>", b"", body)
    body = re.sub(rb' expirationDate="[^"]*"', b"", body)
    return re.sub(rb"(<resumptionToken[^>]*>)[^<]+(</resumptionToken>)", rb"\1T\2", body)


@pytest.mark.parametrize("query", TRANSPORT_QUERIES)
def test_get_and_post_give_the_same_answer_as_http_200_text_xml(served: Served, query: str) -> None:
    by_get = oai_get(served.url, query)
    by_post = oai_post(served.url, query)
    for response in (by_get, by_post):
        assert _ok(response).findtext("o:request", namespaces=NS) == served.url
    assert _comparable(by_get.body) == _comparable(by_post.body)
    assert "gzip" not in by_get.headers.get("content-encoding", "")  # identity when not asked


@pytest.mark.parametrize(("query", "codes"), BATTERY)
def test_each_malformed_request_gets_its_exact_error_codes_over_http(
    served: Served, query: str, codes: tuple[str, ...]
) -> None:
    for response in (oai_get(served.url, query), oai_post(served.url, query)):
        root = _ok(response)  # an OAI error is HTTP 200
        assert error_codes(root) == list(codes)
        if set(codes) & set(REJECTS_ALL_ARGUMENTS):
            assert request_attributes(root) == {}


def test_a_repeated_argument_named_with_a_control_character_is_an_oai_error_not_a_500(
    served: Served,
) -> None:
    for response in (
        oai_get(served.url, "verb=Identify&%01=a&%01=b"),
        oai_post(served.url, "verb=Identify&%01=a&%01=b"),
    ):
        assert error_codes(_ok(response)) == ["badArgument"]


def test_a_percent_encoded_identifier_is_decoded(served: Served) -> None:
    encoded = quote(ED1, safe="")
    assert encoded == "oai%3Aarchive.example.org%3Aed-1"
    for response in (
        oai_get(served.url, f"verb=GetRecord&identifier={encoded}&metadataPrefix=oai_dc"),
        oai_post(served.url, f"verb=GetRecord&identifier={encoded}&metadataPrefix=oai_dc"),
    ):
        root = _ok(response)
        assert header_ids(root) == [ED1]
        assert request_attributes(root)["identifier"] == ED1


def test_tokens_survive_percent_encoding_in_get_and_post(served: Served) -> None:
    token = token_of(_get(served, LI))
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", token)  # nothing a URL would change
    expected = header_ids(_get(served, f"verb=ListIdentifiers&resumptionToken={token}"))
    assert expected == live_ids()[2:4]
    every_byte = "".join(f"%{b:02X}" for b in token.encode())
    for encoded in (quote(token, safe=""), every_byte):
        query = f"verb=ListIdentifiers&resumptionToken={encoded}"
        for response in (oai_get(served.url, query), oai_post(served.url, query)):
            root = _ok(response)
            assert header_ids(root) == expected
            assert request_attributes(root)["resumptionToken"] == token


# What browsers and Java send (Chromium 156, Firefox, and java.net.HttpURLConnection's default).
CHROMIUM = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
JAVA = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"


def test_a_browser_gets_the_response_as_html_rendered_on_the_server(served: Served) -> None:
    """No xml-stylesheet instruction anywhere (browsers are removing XSLT): a browser gets
    the same response rendered as HTML by the server; harvesters, Java's default Accept
    and curl get the XML."""
    query = f"{LI}&set=letters"
    xml = oai_get(served.url, query)
    assert is_xml(xml) and b"xml-stylesheet" not in xml.body
    shown = header_ids(_ok(xml))
    assert shown == [PREFIX + "let-1", PREFIX + "let-2"]  # the first page of the set
    for accept in (CHROMIUM, FIREFOX):
        page = send(served.url, f"/oai?{query}", headers={"Accept": accept})
        assert page.status == 200
        assert page.content_type == "text/html; charset=utf-8"
        assert page.headers["vary"] == "Accept"
        html = page.body.decode("utf-8")
        assert html.startswith("<!doctype html>") and "xml-stylesheet" not in html
        for identifier in shown:
            assert identifier in html
        assert PREFIX + "ed-1" not in html
    for accept in (JAVA, "*/*", "application/xml", "text/xml, text/html;q=0.5"):
        answer = send(served.url, f"/oai?{query}", headers={"Accept": accept})
        assert is_xml(answer), accept
        assert header_ids(_ok(answer)) == shown
    error_page = send(served.url, "/oai?verb=junk", headers={"Accept": CHROMIUM})
    assert "badVerb" in error_page.body.decode("utf-8")
    assert send(served.url, "/oai.xsl").status == 404


def test_the_root_is_the_collection_page_linking_to_identify(served: Served) -> None:
    """The same server answers /oai and, beside it, the web view (archiver.web)."""
    response = send(served.url, "/")
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.body.decode("utf-8")
    assert 'href="/bags/let-1"' in page
    link = re.search(r'href="([^"]*verb=Identify)"', page)
    assert link is not None
    target = urljoin(urljoin(served.url, "/"), link.group(1).replace("&amp;", "&"))
    assert target == f"{served.url}?verb=Identify"
    identify = _ok(send(served.url, urlsplit(target).path + "?" + urlsplit(target).query))
    assert identify.find("o:Identify", NS) is not None


def test_twenty_harvesters_at_once_get_the_same_complete_list(served: Served) -> None:
    start = threading.Barrier(20)

    def harvest(_: int) -> list[tuple[str, str]]:
        start.wait(timeout=30)
        return [
            (
                str(h.findtext("o:identifier", namespaces=NS)),
                str(h.findtext("o:datestamp", namespaces=NS)),
            )
            for page in _harvest(served.url, LI)
            for h in page.iterfind(".//o:header", NS)
        ]  # fmt: skip

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(harvest, range(20)))
    assert [i for i, _ in results[0]] == live_ids()
    assert all(result == results[0] for result in results)


# -- random requests ---------------------------------------------------------------------

ARGUMENTS = ["verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken"]
VERBS = [
    "Identify",
    "ListMetadataFormats",
    "ListSets",
    "GetRecord",
    "ListIdentifiers",
    "ListRecords",
]
GOOD_VALUES = [
    *VERBS,
    "oai_dc",
    "mets",
    "premis",
    "all",
    ED1,
    FOREIGN,
    "2024-01-02",
    "2024-01-02T23:59:59Z",
    "letters",
    "letters:1920s",
    "junk",
    "",
]
RAW = ["%", "%zz", "%C3", "%FF%FE", "%ED%A0%80", "%00", "%0A", "&", "&&", "=", "==", ";", "+"]


@dataclass(frozen=True)
class Long:
    """A very long value, shown briefly when hypothesis reports it."""

    unit: str
    count: int

    def __str__(self) -> str:
        return self.unit * self.count

    def __repr__(self) -> str:
        return f"Long({self.unit!r} * {self.count})"


Part = str | tuple[str, str | Long]


def _render(parts: list[Part]) -> str:
    """The query string: pairs percent-encoded (UTF-8), raw fragments as they are."""
    rendered = []
    for part in parts:
        if isinstance(part, str):
            rendered.append(part)
        else:
            name, value = part
            rendered.append(f"{quote(name, safe='')}={quote(str(value), safe='')}")
    return "&".join(rendered)


# At most 4000 characters of at most 4 UTF-8 bytes, percent-encoded: under 48 KiB.
long_value = st.text(min_size=1, max_size=4).flatmap(
    lambda unit: st.builds(Long, st.just(unit), st.integers(500 // len(unit), 4000 // len(unit)))
)
short_values = st.one_of(st.sampled_from(GOOD_VALUES), st.text(max_size=40))
names = st.one_of(st.sampled_from(ARGUMENTS), st.text(max_size=12))
# Anything at all: random names and values, and raw fragments a URL may carry.
loose: st.SearchStrategy[list[Part]] = st.lists(
    st.one_of(st.tuples(names, short_values), st.sampled_from(RAW)), max_size=8
)


# A real verb and distinct argument names, each with a good or a random value: deeper.
@st.composite
def shaped(draw: st.DrawFn) -> list[Part]:
    verb = draw(st.sampled_from(VERBS))
    chosen = draw(st.lists(st.sampled_from(ARGUMENTS[1:]), unique=True, max_size=4))
    return [("verb", verb), *((name, draw(short_values)) for name in chosen)]


def _joined(lists: tuple[list[Part], list[Part]]) -> list[Part]:
    return lists[0] + lists[1]


@st.composite
def queries(draw: st.DrawFn) -> list[Part]:
    parts: list[Part] = draw(st.one_of(loose, shaped(), st.tuples(shaped(), loose).map(_joined)))
    if draw(st.booleans()):  # one very long value somewhere
        at = draw(st.integers(0, len(parts)))
        parts.insert(at, (draw(names), draw(long_value)))
    return parts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=queries(), post=st.booleans(), tail=st.binary(max_size=16))
def test_random_query_strings_always_get_a_valid_oai_response(
    served: Served, parts: list[Part], post: bool, tail: bytes
) -> None:
    query = _render(parts)
    assert len(query) < 60_000
    if post:
        path = urlsplit(served.url).path
        response = send(served.url, path, method="POST", body=query.encode() + tail)
    else:
        response = oai_get(served.url, query)
    assert response.status < 500
    assert response.status == 200  # every GET or POST to /oai is an OAI-PMH request
    assert is_xml(response)
    validate(response.body)


def test_a_post_body_over_64_kib_is_refused_at_the_transport_level(served: Served) -> None:
    response = oai_post(served.url, "verb=Identify&x=" + "a" * (65 << 10))
    assert 400 <= response.status < 500 and response.status != 404
    small = oai_post(served.url, "verb=Identify")
    assert error_codes(_ok(small)) == []


# -- withdrawal and removal while serving -------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Served]:
    collection = make_collection(tmp_path)
    with running_server(collection, page_size=3, refresh=1) as server:
        yield Served(server.url, collection, server.log)


def _status_of(url: str, identifier: str) -> tuple[str | None, str]:
    """The record's header status and datestamp; ("unreadable", "") when its bag is gone
    but the catalog has not noticed yet (its record cannot be read: never made up)."""
    root = _ok(oai_get(url, f"verb=GetRecord&identifier={identifier}&metadataPrefix=oai_dc"))
    if error_codes(root) == ["cannotDisseminateFormat"]:
        return "unreadable", ""
    header = root.find("o:GetRecord/o:record/o:header", NS)
    assert header is not None
    return header.get("status"), str(header.findtext("o:datestamp", namespaces=NS))


def _wait_deleted(url: str, identifier: str, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while True:
        status, datestamp = _status_of(url, identifier)
        if status == "deleted" or time.monotonic() > deadline:
            assert status == "deleted", f"{identifier} still served after {seconds} s"
            return datestamp
        time.sleep(0.2)


def test_withdrawing_a_bag_while_serving_reports_it_deleted(own_server: Served) -> None:
    identifier = PREFIX + "let-2"
    assert _status_of(own_server.url, identifier) == (None, "2024-01-04T10:00:00Z")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    done = subprocess.run(
        [
            sys.executable, "-m", "archiver", "withdraw", str(own_server.collection), "let-2",
            "--reason", "withdrawn at the rights holder's request",
        ],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    home = Path(done.stdout.strip())
    assert (home / "bagit.txt").is_file() and (home / "metadata" / "dc.xml").is_file()
    stone = json.loads((home.parent / "tombstone.json").read_text(encoding="utf-8"))
    datestamp = _wait_deleted(own_server.url, identifier)
    assert datestamp == stone["withdrawn_at"]
    root = _ok(oai_get(own_server.url, f"{LI}&set=letters:1920s&from={datestamp[:10]}"))
    assert header_ids(root) == [identifier]
    assert [h.get("status") for h in root.iterfind(".//o:header", NS)] == ["deleted"]
    sickle = Sickle(own_server.url, timeout=30)
    kept = [
        r.header.identifier
        for r in sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=True)
    ]
    assert identifier not in kept and len(kept) == len(SPECS) - 1


def test_a_bag_removed_by_hand_while_serving_is_deleted_after_the_next_refresh(
    own_server: Served,
) -> None:
    identifier = PREFIX + "misc"
    assert _status_of(own_server.url, identifier)[0] is None
    shutil.rmtree(own_server.collection / "misc")
    datestamp = _wait_deleted(own_server.url, identifier)
    assert datestamp > "2024-01-06T10:00:00Z"
    with pytest.raises(NoRecordsMatch):
        list(
            Sickle(own_server.url, timeout=30).ListIdentifiers(
                metadataPrefix="oai_dc", until="2023-01-01"
            )
        )


def test_oai_app_is_a_wsgi_application_any_server_can_mount(tmp_path: Path) -> None:
    from wsgiref.util import setup_testing_defaults

    from archiver.oai.app import oai_app

    collection = make_collection(tmp_path)
    app = oai_app(
        str(collection),
        base_url="https://repo.example.org/oai",
        repository_identifier="repo.example.org",
        refresh_seconds=0.2,
    )
    try:
        environ: dict[str, object] = {"PATH_INFO": "/oai", "QUERY_STRING": "verb=Identify"}
        setup_testing_defaults(environ)
        status: list[str] = []
        body = b"".join(app(environ, lambda code, _headers: status.append(code)))
        assert status == ["200 OK"]
        root = validate(body)
        assert root.findtext("o:Identify/o:baseURL", namespaces=NS) == (
            "https://repo.example.org/oai"
        )
        assert app._refresher is not None and app._refresher.is_alive()
    finally:
        app.close()
    assert app._refresher is None


def test_oai_app_names_every_problem_of_its_configuration(tmp_path: Path) -> None:
    from archiver.errors import UsageError
    from archiver.oai.app import oai_app

    collection = make_collection(tmp_path)
    with pytest.raises(UsageError) as caught:
        oai_app(
            collection,
            base_url="ftp://nowhere",
            repository_identifier="localhost",
            admin_emails=["nobody"],
            page_size=0,
        )
    message = str(caught.value)
    for part in ("base URL", "repository identifier", "'nobody'", "at least one record"):
        assert part in message
    assert "--" not in message  # a library message never names a command-line option


@pytest.mark.parametrize(
    "url",
    [
        "http://a\x01b/oai",
        "http://exa mple.org/oai",
        "http://repo.example.org:99999/oai",
        "http://repo.example.org:0/oai",
        "https://repo.example.org/oai#top",
        "https:///oai",
    ],
    ids=["control", "space", "port-too-big", "port-0", "fragment", "no-host"],
)
def test_a_base_url_identify_could_not_give_is_refused(tmp_path: Path, url: str) -> None:
    """A control character made every Identify an internal error; a space or a bad port
    was given to harvesters as the base URL."""
    from archiver.errors import UsageError
    from archiver.oai.app import oai_app

    with pytest.raises(UsageError, match=r"the base URL .* must be an http"):
        oai_app(make_collection(tmp_path), base_url=url, refresh_seconds=None)


def test_serving_on_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import socket

    collection = make_collection(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
        done = subprocess.run(
            [sys.executable, "-m", "archiver", "serve", str(collection), "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "in use" in done.stderr


def test_behind_a_proxy_it_gives_the_public_address_and_says_where_it_listens(
    tmp_path: Path,
) -> None:
    collection = make_collection(tmp_path)
    public = "https://repo.example.org/oai"
    with running_server(collection, options=["--base-url", public]) as server:
        identify = validate(oai_get(server.url, "verb=Identify").body)
        announced = server.log[0]
    # the proxy is pointed at the address it listens on; harvesters are given the public one
    assert announced == f"archiver: serving {collection} at {public}, listening on {server.url}\n"
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/oai", server.url)
    assert identify.findtext("o:Identify/o:baseURL", namespaces=NS) == public


def test_an_ipv6_address_to_listen_on_is_written_in_brackets() -> None:
    from archiver.cli import _listening_url

    assert _listening_url("::1", 8080) == "http://[::1]:8080/oai"
    assert _listening_url("127.0.0.1", 0) == "http://127.0.0.1:0/oai"


def _chunked_post_until_refused(url: str, limit: int) -> tuple[int, bytes]:
    """POST /oai with a chunked body of up to ``limit`` bytes, sent 64 KiB at a time until
    the server answers or closes: (bytes of body sent, what the server answered)."""
    import select
    import socket

    parts = urlsplit(url)
    chunk = b"x" * (64 << 10)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\n\r\n10\r\nverb=Identify&x=\r\n".encode()
        )
        try:
            while sent < limit and not select.select([conn], [], [], 0)[0]:
                conn.sendall(framed)
                sent += len(chunk)
            if sent >= limit:
                conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while len(answer) < 4096 and (data := conn.recv(4096)):
                answer += data
        except ConnectionResetError:
            pass
    return sent, answer


def test_a_chunked_post_body_is_refused_after_tens_of_kilobytes_not_spooled_whole(
    served: Served,
) -> None:
    limit = 64 << 20
    sent, answer = _chunked_post_until_refused(served.url, limit)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # The server stopped reading long before the end: what was sent beyond its limit sat in
    # the kernel's socket buffers, a few megabytes at most.
    assert sent < limit // 2


class _Endless:
    """A request body that never ends, counting what is read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "the whole of an endless body was asked for"
        self.read_bytes += size
        return b"v" * size


def _wsgi_post(app: OAIApp, environ_extra: dict[str, object]) -> tuple[str, bytes]:
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, object] = {
        "PATH_INFO": "/oai",
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        **environ_extra,
    }
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda code, _headers: status.append(code)))
    return status[0], body


def test_the_app_reads_at_most_64_kib_of_a_body_without_a_length(tmp_path: Path) -> None:
    import io

    from archiver.oai.app import MAX_BODY, oai_app

    collection = make_collection(tmp_path)
    app = oai_app(collection, base_url="http://repo.example.org/oai", refresh_seconds=None)
    try:
        endless = _Endless()
        status, _ = _wsgi_post(app, {"wsgi.input": endless, "wsgi.input_terminated": True})
        assert status.startswith("413")
        assert endless.read_bytes <= MAX_BODY + 1
        # A chunked body the server ends for us is read, not taken to be empty.
        small = io.BytesIO(b"verb=Identify")
        status, body = _wsgi_post(app, {"wsgi.input": small, "wsgi.input_terminated": True})
        assert status == "200 OK" and error_codes(validate(body)) == []
        status, _ = _wsgi_post(app, {"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "12x"})
        assert status.startswith("413")
    finally:
        app.close()


# -- idle connections -----------------------------------------------------------------------


def _is_open(conn: socket.socket) -> bool:
    """Whether the server still holds this connection (nothing to read, not closed)."""
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


def test_an_idle_connection_is_closed_after_the_configured_timeout(tmp_path: Path) -> None:
    collection = make_collection(tmp_path)
    with running_server(collection, options=["--idle-timeout", "1"]) as server:
        parts = urlsplit(server.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=60) as idle:
            started = time.monotonic()
            assert idle.recv(1) == b""  # blocks until the server closes it
            # One second of idleness, found by a check made every second: a generous bound.
            assert time.monotonic() - started < 30
        with socket.create_connection((parts.hostname, parts.port), timeout=60) as busy:
            busy.sendall(f"GET {parts.path}?verb=Identify HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert busy.recv(12).startswith(b"HTTP/1.1 200")


def test_a_request_is_answered_while_500_idle_connections_are_held(tmp_path: Path) -> None:
    collection = make_collection(tmp_path)
    with running_server(collection, options=["--idle-timeout", "600"]) as server:
        parts = urlsplit(server.url)
        address = (parts.hostname, parts.port)
        idle = [socket.create_connection(address, timeout=30) for _ in range(500)]
        try:
            response = oai_get(server.url, "verb=Identify")  # 30 s client timeout
            assert response.status == 200 and error_codes(validate(response.body)) == []
            # They were held, not dropped to make room: every one is still open.
            assert all(_is_open(conn) for conn in idle)
        finally:
            for conn in idle:
                conn.close()


def test_the_command_line_defaults_for_connections_are_the_servers() -> None:
    from archiver.cli import build_parser
    from archiver.oai.app import CONNECTION_LIMIT, IDLE_TIMEOUT

    args = build_parser().parse_args(["serve", "bags"])
    assert (args.idle_timeout, args.max_connections) == (IDLE_TIMEOUT, CONNECTION_LIMIT)


def test_the_connection_limit_stays_below_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import resource

    from archiver.oai import app

    monkeypatch.setattr(resource, "getrlimit", lambda _which: (1024, 1024))
    assert app._connections_allowed(500) == 500
    assert app._connections_allowed(1000) == 1024 - app._OTHER_FILES


# -- the server's log ------------------------------------------------------------------------


def _queue_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "waitress.queue"]


def _queue(dispatcher: ThreadedTaskDispatcher, count: int) -> None:
    """Queue ``count`` stand-in tasks; the dispatcher has no thread to take them."""
    for _ in range(count):
        dispatcher.add_task(cast(Task, object()))


def test_waitress_queue_warnings_pass_once_a_minute_counting_those_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from archiver.oai.app import QueueWarnings

    now = [100.0]
    quieter = QueueWarnings(60, now=lambda: now[0])
    queue_log = logging.getLogger("waitress.queue")
    queue_log.addFilter(quieter)
    try:
        dispatcher = ThreadedTaskDispatcher()  # no threads: every task queued is warned of
        with caplog.at_level(logging.WARNING, logger="waitress.queue"):
            _queue(dispatcher, 50)
            now[0] += 59
            _queue(dispatcher, 1)
            now[0] += 2
            _queue(dispatcher, 1)
    finally:
        queue_log.removeFilter(quieter)
    assert _queue_warnings(caplog) == [
        "Task queue depth is 1",
        "Task queue depth is 52 (and 50 such warnings since the last, deepest 52)",
    ]


def test_serve_lets_through_one_queue_warning_of_a_burst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A burst of requests queueing for a thread is one line in the log, not one a request
    (3,000 lines in the 30 s of benchmarks/bench_oai_soak.py)."""
    import waitress.server

    from archiver.clock import Clock
    from archiver.collection import Collection
    from archiver.oai.app import configuration, serve

    class Burst:
        """Stands in for waitress's server: running it queues 100 requests, then returns."""

        effective_host, effective_port = "127.0.0.1", 8080

        def run(self) -> None:
            _queue(ThreadedTaskDispatcher(), 100)

        def close(self) -> None:
            pass

    monkeypatch.setattr(waitress.server, "create_server", lambda *_a, **_k: Burst())
    collection = Collection(make_collection(tmp_path))
    with caplog.at_level(logging.WARNING, logger="waitress.queue"):
        serve(
            collection.catalog(),
            lambda host, port: configuration(collection, base_url=f"http://{host}:{port}/oai"),
            host="127.0.0.1",
            port=0,
            clock=Clock(),
            refresh_seconds=3600,
        )
    collection.close()
    assert _queue_warnings(caplog) == ["Task queue depth is 1"]
    assert logging.getLogger("waitress.queue").filters == []  # removed when serving ends


# -- the access log --------------------------------------------------------------------------

CLF = re.compile(
    r"^(?P<host>\S+) - - \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<size>\d+|-)$'
)


def test_each_request_is_logged_in_common_log_format_with_its_status_and_size() -> None:
    # serve answered requests and said nothing: no access log at all.
    import io
    from wsgiref.util import setup_testing_defaults

    from archiver.clock import Clock
    from archiver.oai.app import AccessLog

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        if environ["PATH_INFO"] == "/gone":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b""]
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<a>", b"", b"</a>\n"]

    stream = io.StringIO()
    logged = AccessLog(app, stream, Clock.from_epoch(1795737600 + 3661))
    for path, query in (("/oai", 'verb=Identify&x="q"'), ("/gone", "")):
        environ: dict[str, object] = {
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": "192.0.2.7",
        }
        setup_testing_defaults(environ)
        body = logged(environ, lambda *_: None)
        assert b"".join(body) == (b"<a></a>\n" if path == "/oai" else b"")
        assert stream.getvalue().count("\n") == (0 if path == "/oai" else 1)  # on close
        body.close()  # type: ignore[attr-defined]
    assert stream.getvalue().splitlines() == [
        '192.0.2.7 - - [27/Nov/2026:01:01:01 +0000] "GET /oai?verb=Identify&x=\\"q\\" HTTP/1.0"'
        " 200 8",
        '192.0.2.7 - - [27/Nov/2026:01:01:01 +0000] "GET /gone HTTP/1.0" 404 -',
    ]


def test_archiver_serve_writes_its_access_log_to_stderr(own_server: Served) -> None:
    # own_server's log is what `archiver serve` wrote on stderr
    response = oai_get(own_server.url, "verb=ListIdentifiers&metadataPrefix=oai_dc")
    assert response.status == 200
    nowhere = send(own_server.url, "/nowhere")
    assert nowhere.status == 404
    deadline = time.monotonic() + 30  # a line is written when its response ends
    while time.monotonic() < deadline:
        found = [m for m in map(CLF.match, own_server.log) if m]
        if len(found) >= 2:
            break
        time.sleep(0.1)
    # written as each response ends: the server may close the first after the second
    logged = {m["request"]: (m["host"], m["status"], m["size"]) for m in found}
    assert logged == {
        "GET /oai?verb=ListIdentifiers&metadataPrefix=oai_dc HTTP/1.1": (
            "127.0.0.1",
            "200",
            str(len(response.body)),
        ),
        "GET /nowhere HTTP/1.1": ("127.0.0.1", "404", str(len(nowhere.body))),
    }


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (CHROMIUM, True),
        (FIREFOX, True),
        ("text/html, application/xml;q=0.9", True),
        (JAVA, False),  # names text/html first, but no XML type: a Java harvester
        ("*/*", False),
        ("", False),
        ("text/html", False),  # no XML type named
        ("application/xml, text/html", False),  # equal: XML
        ("text/html;q=0, application/xml;q=0.1", False),
        ("text/html;q=abc, application/xml;q=0.5", False),  # a broken weight counts as 0
        ("TEXT/HTML, Application/XML;q=0.9", True),  # media types ignore case
        ("text/html, application/xml;q=0.9, */*;q=1", False),  # */* ranked as high
        ("," * 10_000, False),
    ],
)
def test_html_is_for_an_accept_header_ranking_it_above_xml(accept: str, html: bool) -> None:
    from archiver.oai.app import prefers_html

    assert prefers_html(accept) is html


@pytest.mark.parametrize("odd", ["\x01", "\udcff"], ids=["control", "not-utf-8-byte"])
def test_a_collection_folder_named_with_what_xml_cannot_hold_is_named_escaped(
    tmp_path: Path, odd: str
) -> None:
    """Identify's default repositoryName is the folder's name: a control character, or a
    byte that is not UTF-8, is written as the command line shows it, and Identify stays
    valid XML (it was an internal error)."""
    from archiver.collection import Collection
    from archiver.oai.app import configuration
    from archiver.oai.protocol import Provider

    folder = tmp_path / f"col{odd}x"
    folder.mkdir()
    collection = Collection(folder)
    config = configuration(collection, base_url="http://archive.example.org/oai")
    catalog = collection.catalog()
    catalog.refresh(moment("2026-11-27T00:00:00Z"))
    try:
        answer = validate(
            Provider(catalog, config).respond(
                [("verb", "Identify")], moment("2026-11-27T00:00:00Z")
            )
        )
    finally:
        collection.close()
    named = answer.findtext("o:Identify/o:repositoryName", namespaces=NS)
    assert named == f"archiver collection col\\x{ord(odd) & 0xFF:02x}x"


def test_a_repository_name_xml_cannot_hold_is_exit_2(tmp_path: Path) -> None:
    collection = make_collection(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    done = subprocess.run(
        [sys.executable, "-m", "archiver", "serve", str(collection), "--port", "0",
         "--repository-name", "A\x01B"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "archiver: error: the repository name cannot be written in Identify: U+0001 cannot "
        "appear in an XML 1.0 document\n"
    )
