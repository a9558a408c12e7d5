"""OAI-PMH 2.0, the protocol, point by point (the checklist's sections B to K): the Provider
driven directly, without HTTP, over a collection whose datestamps and sets are known, at a
fixed ``now``. Every response, errors included, is validated against OAI-PMH.xsd with the
embedded oai_dc, METS, PREMIS and oai-identifier validated strictly."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from lxml import etree

from archiver.clock import Clock, w3cdtf
from archiver.collection.catalog import CATALOG_FILE
from archiver.oai import tokens
from archiver.xml import parsing
from tests.conftest import snapshot
from tests.oai_helpers import (
    ALL_SETS,
    BATTERY,
    DATESTAMP,
    ED1,
    FLAT_SPECS,
    FOREIGN,
    FOREIGN_INFO,
    NS,
    OAI,
    PREFIX,
    REJECTS_ALL_ARGUMENTS,
    REPOSITORY,
    RESPONSE_DATE,
    SPECS,
    XSI_LOCATION,
    Repo,
    epoch,
    error_codes,
    header_ids,
    headers,
    live_ids,
    make_collection,
    moment,
    request_attributes,
    resumption,
    set_times,
    strip_response_date,
    title_of,
    token_of,
)

NOW = moment("2024-03-01T00:00:00Z")
BASE_URL = "http://archive.example.org/oai"
LI = "verb=ListIdentifiers&metadataPrefix=oai_dc"
LR = "verb=ListRecords&metadataPrefix=oai_dc"
FORMATS = {
    "oai_dc": (
        "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
        "http://www.openarchives.org/OAI/2.0/oai_dc/",
    ),
    "mets": ("http://www.loc.gov/standards/mets/mets.xsd", "http://www.loc.gov/METS/"),
    "premis": (
        "http://www.loc.gov/standards/premis/v3/premis.xsd",
        "http://www.loc.gov/premis/v3",
    ),
}
SPEC_BY_ID = {PREFIX + s.id: s for s in SPECS}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection as built, never served: tests copy it."""
    return make_collection(tmp_path_factory.mktemp("oai-template"))


def _copy(template: Path, target: Path) -> Path:
    return Path(shutil.copytree(template, target, symlinks=True))


@pytest.fixture(scope="module")
def repo(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """The collection served read-only, page size 2 (shared: tests must not change it)."""
    served = Repo(_copy(template, tmp_path_factory.mktemp("oai-shared") / "c"), NOW)
    yield served
    served.close()


@pytest.fixture
def fresh(template: Path, tmp_path: Path) -> Iterator[Repo]:
    """A collection of one's own, to withdraw, remove or edit bags in."""
    served = Repo(_copy(template, tmp_path / "c"), NOW)
    yield served
    served.close()


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """A repository without sets."""
    served = Repo(make_collection(tmp_path_factory.mktemp("oai-flat"), FLAT_SPECS), NOW)
    yield served
    served.close()


def _list_entries(repo: Repo, query: str) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """(identifier, datestamp, status, setSpecs) of every header of a whole list."""
    return [
        (
            str(h.findtext("o:identifier", namespaces=NS)),
            str(h.findtext("o:datestamp", namespaces=NS)),
            h.get("status"),
            tuple(str(s.text) for s in h.findall("o:setSpec", NS)),
        )
        for page in repo.pages(query)
        for h in headers(page)
    ]


def _ids(repo: Repo, query: str) -> list[str]:
    return [entry[0] for entry in _list_entries(repo, query)]


def _record(root: etree._Element) -> etree._Element:
    record = root.find("o:GetRecord/o:record", NS)
    assert record is not None, etree.tostring(root)
    return record


def _schema_locations(element: etree._Element) -> dict[str, str]:
    words = (element.get(XSI_LOCATION) or "").split()
    return dict(zip(words[::2], words[1::2], strict=True))


def _shape(element: etree._Element) -> object:
    """An element's tree as plain values: tag, attributes, trimmed text, children."""
    return (
        str(element.tag),
        sorted((str(k), str(v)) for k, v in element.attrib.items()),
        (element.text or "").strip(),
        [_shape(child) for child in element],
    )


# -- B. the envelope ------------------------------------------------------------------

ENVELOPE_QUERIES = (
    "verb=Identify",
    "verb=ListMetadataFormats",
    "verb=ListSets",
    f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai_dc",
    f"verb=GetRecord&identifier={ED1}&metadataPrefix=mets",
    f"verb=GetRecord&identifier={ED1}&metadataPrefix=premis",
    LI,
    LR,
    "verb=junk",
    "verb=ListRecords",
    "verb=ListRecords&metadataPrefix=marc21",
    f"verb=GetRecord&identifier={PREFIX}nope&metadataPrefix=oai_dc",
    f"{LI}&until=2023-01-01",
    "verb=ListRecords&resumptionToken=junk",
)


@pytest.mark.parametrize("query", ENVELOPE_QUERIES)
def test_every_response_is_an_oai_pmh_document_with_its_schema_location(
    repo: Repo, query: str
) -> None:
    body = repo.raw(query)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert b"<!DOCTYPE" not in body and b"<!ENTITY" not in body
    root = repo.ask(query)  # validates
    assert root.tag == f"{{{OAI}}}OAI-PMH"
    assert root.nsmap.get("xsi") == NS["xsi"]
    assert root.get(XSI_LOCATION) == f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"


@pytest.mark.parametrize("query", ENVELOPE_QUERIES)
def test_the_response_date_comes_first_then_the_request_then_errors_or_the_verb(
    repo: Repo, query: str
) -> None:
    root = repo.ask(query)
    names = [etree.QName(child).localname for child in root]
    assert names[:2] == ["responseDate", "request"]
    response_date = str(root.findtext("o:responseDate", namespaces=NS))
    assert RESPONSE_DATE.match(response_date)
    assert response_date == "2024-03-01T00:00:00Z"  # the time the request was answered
    rest = names[2:]
    verb = dict(parse_qsl(query)).get("verb", "")
    assert rest == [verb] or (rest and set(rest) == {"error"}), rest


# -- C. the request element -----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "verb=Identify",
        "verb=ListMetadataFormats",
        f"verb=ListMetadataFormats&identifier={ED1}",
        "verb=ListSets",
        f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai_dc",
        LI,
        f"{LR}&from=2024-01-01&until=2024-01-31&set=letters",
        "verb=ListRecords&metadataPrefix=mets&from=2024-01-01T00:00:00Z",
    ],
)
def test_the_request_element_holds_the_base_url_and_exactly_the_arguments_given(
    repo: Repo, query: str
) -> None:
    root = repo.ask(query)
    assert error_codes(root) == []
    assert root.findtext("o:request", namespaces=NS) == BASE_URL
    assert request_attributes(root) == dict(parse_qsl(query))


def test_the_request_element_echoes_a_resumption_token_and_the_verb_only(repo: Repo) -> None:
    token = token_of(repo.ask(LI))
    root = repo.ask(f"verb=ListIdentifiers&resumptionToken={token}")
    assert request_attributes(root) == {"verb": "ListIdentifiers", "resumptionToken": token}


def test_the_request_element_names_the_identify_base_url(repo: Repo) -> None:
    root = repo.ask("verb=Identify")
    assert root.findtext("o:Identify/o:baseURL", namespaces=NS) == root.findtext(
        "o:request", namespaces=NS
    )


# -- D. errors --------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "codes"), BATTERY)
def test_each_malformed_or_unanswerable_request_gets_its_exact_error_codes(
    repo: Repo, query: str, codes: tuple[str, ...]
) -> None:
    root = repo.ask(query)
    assert error_codes(root) == list(codes)
    assert [etree.QName(c).localname for c in root][2:] == ["error"] * len(codes)
    echoed = request_attributes(root)
    if set(codes) & set(REJECTS_ALL_ARGUMENTS):
        assert echoed == {}  # badVerb and badArgument: no attributes at all
    else:  # other errors echo only valid arguments, as given
        given = parse_qsl(query, keep_blank_values=True)
        assert echoed["verb"] == dict(given)["verb"]
        assert set(echoed.items()) <= set(given)


def test_error_codes_are_the_eight_of_the_specification(repo: Repo) -> None:
    codes = {code for _, expected in BATTERY for code in expected}
    assert codes <= {
        "badArgument",
        "badResumptionToken",
        "badVerb",
        "cannotDisseminateFormat",
        "idDoesNotExist",
        "noRecordsMatch",
        "noMetadataFormats",
        "noSetHierarchy",
    }


@pytest.mark.parametrize(
    "query",
    [
        "verb=Identify&%01=a&%01=b",
        "verb=ListSets&%0B=a&%0B=a",
        "verb=Identify&%EF%BF%BE=a&%EF%BF%BE=b",  # U+FFFE, not a character of XML
    ],
)
def test_a_repeated_argument_named_with_a_character_xml_cannot_hold_is_a_bad_argument(
    repo: Repo, query: str
) -> None:
    root = repo.ask(query)
    assert error_codes(root) == ["badArgument"]
    assert request_attributes(root) == {}


@pytest.mark.parametrize(
    "query",
    [
        f"{LI}&from=2024-01-01%0A",
        f"{LI}&until=2024-01-05T10:00:00Z%0A",
        f"{LI}&from=%D9%A2%D9%A0%D9%A2%D9%A4-01-01",  # 2024 in Arabic-Indic digits
        f"{LI}&from=2024-%D9%A0%D9%A1-01",
        f"verb=GetRecord&identifier={ED1}%0A&metadataPrefix=oai_dc",
        f"verb=ListMetadataFormats&identifier={ED1}%0A",
    ],
)
def test_dates_and_identifiers_with_a_trailing_newline_or_non_ascii_digits_are_bad_arguments(
    repo: Repo, query: str
) -> None:
    root = repo.ask(query)
    assert error_codes(root) == ["badArgument"]
    assert request_attributes(root) == {}


@pytest.mark.parametrize(
    ("query", "acceptable"),
    [
        ("verb=ListIdentifiers&metadataPrefix=a%20b", {"badArgument", "cannotDisseminateFormat"}),
        ("verb=ListRecords&metadataPrefix=%C3%A9", {"badArgument", "cannotDisseminateFormat"}),
        (
            f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai%2Fdc",
            {"badArgument", "cannotDisseminateFormat"},
        ),
        (f"{LI}&set=bad%20set!", {"badArgument", "noRecordsMatch"}),
        (f"{LI}&set=letters:", {"badArgument", "noRecordsMatch"}),
        (f"{LI}&set=%C3%A9crits", {"badArgument", "noRecordsMatch"}),
    ],
)
def test_a_prefix_or_set_outside_the_schemas_syntax_still_gets_a_schema_valid_error(
    repo: Repo, query: str, acceptable: set[str]
) -> None:
    """The request element's metadataPrefix and set attributes are typed in OAI-PMH.xsd:
    echoing a value outside their pattern makes the whole response invalid."""
    root = repo.ask(query)  # validates
    codes = error_codes(root)
    assert len(codes) == 1 and codes[0] in acceptable


def test_until_a_year_before_the_earliest_datestamp_matches_no_records(repo: Repo) -> None:
    earliest = str(repo.ask("verb=Identify").findtext(".//o:earliestDatestamp", namespaces=NS))
    year_before = f"{int(earliest[:4]) - 1}{earliest[4:10]}"
    for verb in ("ListIdentifiers", "ListRecords"):
        root = repo.ask(f"verb={verb}&metadataPrefix=oai_dc&until={year_before}")
        assert error_codes(root) == ["noRecordsMatch"]


def test_an_unknown_set_matches_no_records_and_a_set_without_items_in_range_neither(
    repo: Repo,
) -> None:
    assert error_codes(repo.ask(f"{LI}&set=nosuchset")) == ["noRecordsMatch"]
    assert error_codes(repo.ask(f"{LR}&set=editorials&from=2024-01-03")) == ["noRecordsMatch"]


def test_a_repository_without_sets_answers_no_set_hierarchy(flat: Repo) -> None:
    for query in ("verb=ListSets", f"{LI}&set=editorials", f"{LR}&set=editorials"):
        assert error_codes(flat.ask(query)) == ["noSetHierarchy"], query
    assert error_codes(flat.ask("verb=ListSets&resumptionToken=junk")) == ["badResumptionToken"]
    listed = flat.ask(LI)
    assert header_ids(listed) == live_ids(FLAT_SPECS)
    assert listed.findall(".//o:setSpec", NS) == []  # no set membership where there are no sets


def test_no_metadata_formats_cannot_arise_because_every_item_offers_oai_dc(repo: Repo) -> None:
    """noMetadataFormats (checklist 23) is unreachable here: every item, a foreign bag
    without dc.xml included, is disseminated as oai_dc. So: every item lists oai_dc."""
    for identifier in live_ids():
        root = repo.ask(f"verb=ListMetadataFormats&identifier={identifier}")
        assert error_codes(root) == []
        prefixes = root.xpath("//o:metadataPrefix/text()", namespaces=NS)
        assert "oai_dc" in prefixes, identifier


def test_all_detected_errors_are_reported_at_once(repo: Repo) -> None:
    root = repo.ask("verb=GetRecord")
    assert error_codes(root) == ["badArgument", "badArgument"]
    messages = " ".join(e.text or "" for e in root.findall("o:error", NS))
    assert "identifier" in messages and "metadataPrefix" in messages


# -- E/F. verbs, datestamps, from/until ---------------------------------------------------


def test_a_day_granularity_until_includes_a_record_stamped_23_59_59_that_day(repo: Repo) -> None:
    assert SPEC_BY_ID[PREFIX + "ed-2"].stamp == "2024-01-02T23:59:59Z"
    assert _ids(repo, f"{LI}&until=2024-01-02") == [PREFIX + "ed-1", PREFIX + "ed-2"]
    assert _ids(repo, f"{LI}&from=2024-01-02&until=2024-01-02") == [PREFIX + "ed-2"]
    assert PREFIX + "ed-2" not in _ids(repo, f"{LI}&from=2024-01-03")


def test_second_granularity_bounds_are_inclusive(repo: Repo) -> None:
    letters = [PREFIX + "let-1", PREFIX + "let-2", PREFIX + "let-3"]
    exact = f"{LI}&from=2024-01-03T10:00:00Z&until=2024-01-05T10:00:00Z"
    assert _ids(repo, exact) == letters
    assert _ids(repo, f"{LI}&from=2024-01-03T10:00:01Z&until=2024-01-05T10:00:00Z") == letters[1:]
    assert _ids(repo, f"{LI}&from=2024-01-03T10:00:00Z&until=2024-01-05T09:59:59Z") == letters[:2]
    assert _ids(repo, f"{LI}&from=2024-01-02T23:59:59Z&until=2024-01-02T23:59:59Z") == [
        PREFIX + "ed-2"
    ]


def test_a_missing_from_or_until_means_from_the_earliest_or_up_to_the_latest(repo: Repo) -> None:
    everything = live_ids()
    assert _ids(repo, LI) == everything
    assert _ids(repo, f"{LI}&from=2024-01-05") == everything[4:]
    assert _ids(repo, f"{LI}&until=2024-01-04") == everything[:4]
    assert _ids(repo, f"{LI}&from=2024-01-01T10:00:00Z") == everything
    assert _ids(repo, f"{LI}&until=2024-01-07T10:00:00Z") == everything


def test_headers_carry_utc_datestamps_never_earlier_than_the_earliest_datestamp(
    repo: Repo,
) -> None:
    identify = repo.ask("verb=Identify")
    earliest = str(identify.findtext(".//o:earliestDatestamp", namespaces=NS))
    assert DATESTAMP.match(earliest) and earliest == min(s.stamp for s in SPECS)
    for identifier, datestamp, _, _ in _list_entries(repo, LI):
        assert DATESTAMP.match(datestamp)
        assert datestamp >= earliest
        assert datestamp == SPEC_BY_ID[identifier].stamp  # when its files last changed


def test_an_unknown_metadata_prefix_cannot_be_disseminated(repo: Repo) -> None:
    for query in (
        "verb=ListRecords&metadataPrefix=marc21",
        "verb=ListIdentifiers&metadataPrefix=marc21",
        f"verb=GetRecord&identifier={ED1}&metadataPrefix=marc21",
    ):
        root = repo.ask(query)
        assert error_codes(root) == ["cannotDisseminateFormat"]
        assert request_attributes(root)["metadataPrefix"] == "marc21"


def test_the_reserved_prefix_all_is_not_a_format(repo: Repo) -> None:
    formats = repo.ask("verb=ListMetadataFormats").xpath("//o:metadataPrefix/text()", namespaces=NS)
    assert "all" not in formats
    assert error_codes(repo.ask("verb=ListIdentifiers&metadataPrefix=all")) == [
        "cannotDisseminateFormat"
    ]


def test_get_record_of_a_format_the_item_lacks_cannot_be_disseminated(repo: Repo) -> None:
    for prefix in ("mets", "premis"):
        root = repo.ask(f"verb=GetRecord&identifier={FOREIGN}&metadataPrefix={prefix}")
        assert error_codes(root) == ["cannotDisseminateFormat"]
    lists = repo.ask(f"verb=ListMetadataFormats&identifier={FOREIGN}")
    assert lists.xpath("//o:metadataPrefix/text()", namespaces=NS) == ["oai_dc"]
    assert FOREIGN not in _ids(repo, "verb=ListIdentifiers&metadataPrefix=mets")
    assert FOREIGN in _ids(repo, LI)


def test_a_foreign_bag_without_dc_xml_is_disseminated_as_oai_dc_from_its_bag_info(
    repo: Repo,
) -> None:
    record = _record(repo.ask(f"verb=GetRecord&identifier={FOREIGN}&metadataPrefix=oai_dc"))
    dc = record.find("o:metadata/oai_dc:dc", NS)
    assert dc is not None
    values = {
        etree.QName(child).localname: [v.text for v in dc if v.tag == child.tag] for child in dc
    }
    assert values["title"] == ["foreign"]
    assert "foreign" in values["identifier"]
    assert values["description"] == [FOREIGN_INFO["External-Description"]]
    assert values["publisher"] == [FOREIGN_INFO["Source-Organization"]]
    assert "date" not in values  # its Bagging-Date is when it was packed, not its work's date
    assert _schema_locations(dc) == {FORMATS["oai_dc"][1]: FORMATS["oai_dc"][0]}


def test_an_unknown_identifier_does_not_exist(repo: Repo) -> None:
    for query in (
        f"verb=GetRecord&identifier={PREFIX}nope&metadataPrefix=oai_dc",
        f"verb=ListMetadataFormats&identifier={PREFIX}nope",
        "verb=GetRecord&identifier=oai:other.example.org:ed-1&metadataPrefix=oai_dc",
    ):
        root = repo.ask(query)
        assert error_codes(root) == ["idDoesNotExist"]
        assert "identifier" in request_attributes(root)


def test_identifiers_follow_the_oai_identifier_syntax_of_this_repository(repo: Repo) -> None:
    local = re.compile(r"^oai:archive\.example\.org:[a-zA-Z0-9\-_.!~*'();/?:@&=+$,%]+$")
    for identifier in _ids(repo, LI):
        assert local.match(identifier), identifier


# -- I. sets ---------------------------------------------------------------------------


def test_list_sets_names_every_set_and_its_ancestors_over_pages(repo: Repo) -> None:
    pages = repo.pages("verb=ListSets")
    found = [
        (str(s.findtext("o:setSpec", namespaces=NS)), str(s.findtext("o:setName", namespaces=NS)))
        for page in pages
        for s in page.iterfind("o:ListSets/o:set", NS)
    ]
    assert [spec for spec, _ in found] == list(ALL_SETS)
    assert all(name for _, name in found)
    assert len(pages) == 2  # page size 2, four sets
    first, last = (resumption(page) for page in pages)
    assert first is not None and first.get("cursor") == "0" and first.text
    assert first.get("completeListSize") == "4"
    assert last is not None and last.get("cursor") == "2" and not last.text


def test_a_set_returns_its_items_and_those_of_its_descendants(repo: Repo) -> None:
    letters = [PREFIX + "let-1", PREFIX + "let-2", PREFIX + "let-3"]
    assert _ids(repo, f"{LI}&set=letters") == letters
    assert _ids(repo, f"{LR}&set=letters") == letters
    assert _ids(repo, f"{LI}&set=letters:1920s") == letters[:2]
    assert _ids(repo, f"{LI}&set=letters:1930s") == letters[2:]
    assert _ids(repo, f"{LI}&set=editorials") == [PREFIX + "ed-1", PREFIX + "ed-2"]
    assert _ids(repo, f"{LI}&set=letters&from=2024-01-04") == letters[1:]


def test_headers_carry_the_minimal_set_spec_membership(repo: Repo) -> None:
    pages = [*repo.pages(LI), *repo.pages(LR)]
    pages += [repo.ask(f"verb=GetRecord&identifier={i}&metadataPrefix=oai_dc") for i in live_ids()]
    checked = 0
    for page in pages:
        for header in headers(page):
            identifier = str(header.findtext("o:identifier", namespaces=NS))
            specs = [s.text for s in header.findall("o:setSpec", NS)]
            group = SPEC_BY_ID[identifier].group
            assert specs == ([group] if group else []), identifier  # letters:1920s, no letters
            checked += 1
    assert checked == 3 * len(SPECS)


# -- G. flow control -------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["ListIdentifiers", "ListRecords"])
def test_a_paged_list_counts_items_in_cursor_and_keeps_its_complete_list_size(
    repo: Repo, verb: str
) -> None:
    pages = repo.pages(f"verb={verb}&metadataPrefix=oai_dc")
    elements = [resumption(page) for page in pages]
    assert all(e is not None for e in elements)
    cursors = [int(str(e.get("cursor"))) for e in elements if e is not None]
    assert cursors == [0, 2, 4, 6]  # items sent before each page, not page numbers
    sizes = {e.get("completeListSize") for e in elements if e is not None}
    assert sizes == {"7"}
    for element in elements[:-1]:
        assert element is not None and element.text  # non-empty until the last page
        assert element.get("expirationDate") == "2024-03-02T00:00:00Z"  # UTC, 24 h on
    last = elements[-1]
    assert last is not None and not last.text and last.get("expirationDate") is None
    for page, element in zip(pages, elements, strict=True):
        listed = page.find(f"o:{verb}", NS)
        assert listed is not None and listed[-1] is element  # the list's last child
    identifiers = [i for page in pages for i in header_ids(page)]
    assert identifiers == live_ids()  # every item once, complete entities only


def test_a_list_that_fits_in_one_page_has_no_resumption_token(repo: Repo) -> None:
    for query in (
        f"{LI}&set=letters:1920s",  # exactly one page: two items, page size two
        f"{LR}&set=editorials",
        f"{LI}&from=2024-01-07",
        "verb=ListMetadataFormats",
    ):
        root = repo.ask(query)
        assert error_codes(root) == []
        assert resumption(root) is None, query
        assert root.find(".//o:resumptionToken", NS) is None


def test_a_set_filtered_list_pages_with_its_own_size(repo: Repo) -> None:
    pages = repo.pages(f"{LR}&set=letters")
    marks = [resumption(p) for p in pages]
    assert [(m.get("cursor"), m.get("completeListSize")) for m in marks if m is not None] == [
        ("0", "3"),
        ("2", "3"),
    ]


def test_reissuing_a_token_returns_the_same_page_and_the_previous_token_still_works(
    repo: Repo,
) -> None:
    first = repo.ask(LR)
    second_token = token_of(first)
    query = f"verb=ListRecords&resumptionToken={second_token}"
    second = repo.raw(query)
    second_page = repo.ask(query)
    assert header_ids(second_page) == live_ids()[2:4]
    third_token = token_of(second_page)
    repo.ask(f"verb=ListRecords&resumptionToken={third_token}")
    assert repo.raw(query) == second  # the same page, byte for byte
    # Later, the same records again; only the next token is new: each token lives 24 hours
    # from when it is issued, so a slow harvester is never cut off half-way.
    later = repo.raw(query, NOW + timedelta(hours=3))
    assert _without_token(strip_response_date(later)) == _without_token(strip_response_date(second))
    later_mark, first_mark = (
        resumption(repo.ask(query, NOW + timedelta(hours=3))),
        resumption(second_page),
    )
    assert later_mark is not None and first_mark is not None
    assert (later_mark.get("cursor"), later_mark.get("completeListSize")) == (
        first_mark.get("cursor"),
        first_mark.get("completeListSize"),
    )
    assert later_mark.get("expirationDate", "") > first_mark.get("expirationDate", "")


def _without_token(body: bytes) -> bytes:
    return re.sub(rb"<resumptionToken[^>]*>[^<]*</resumptionToken>", b"", body)


def test_a_list_keeps_the_until_of_its_first_request(fresh: Repo) -> None:
    """Items that appear after a list began are not slipped into its later pages
    (Guidelines §5.1: a stateless token freezes an omitted until at the first request)."""
    first = fresh.ask(LI)
    late = fresh.collection / "late"
    shutil.copytree(fresh.collection / "misc", late, symlinks=True)
    set_times(late, int((NOW + timedelta(hours=1)).timestamp()))
    fresh.refresh(w3cdtf(NOW + timedelta(hours=1)))
    later = NOW + timedelta(hours=2)
    identifiers = header_ids(first)
    token = token_of(first)
    while token:
        page = fresh.ask([("verb", "ListIdentifiers"), ("resumptionToken", token)], later)
        identifiers += header_ids(page)
        element = resumption(page)
        token = element.text if element is not None and element.text else ""
    assert identifiers == live_ids()  # the list as it stood when it began
    assert header_ids(fresh.ask(f"{LI}&from=2024-03-01", later)) == [PREFIX + "late"]


def _flip(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def test_a_token_with_a_changed_character_is_a_bad_resumption_token(repo: Repo) -> None:
    token = token_of(repo.ask(LI))
    dot = token.index(".")
    positions = [0, 1, dot // 2, dot - 2, dot + 1, len(token) // 2 + dot // 2, len(token) - 1]
    for index in positions:
        forged = _flip(token, index)
        assert forged != token
        root = repo.ask([("verb", "ListIdentifiers"), ("resumptionToken", forged)])
        assert error_codes(root) == ["badResumptionToken"], index
    for damaged in (token[:-1], token[: dot + 1], token.replace(".", ""), token[dot:]):
        root = repo.ask([("verb", "ListIdentifiers"), ("resumptionToken", damaged)])
        assert error_codes(root) == ["badResumptionToken"]


def test_a_token_signed_with_another_key_is_a_bad_resumption_token(repo: Repo) -> None:
    position = tokens.Position(
        "ListIdentifiers", "oai_dc", "0000-01-01T00:00:00Z", "2024-03-01T00:00:00Z", None,
        "2024-01-02T23:59:59Z", "ed-2", 2, 7, epoch("2024-03-02T00:00:00Z"),
    )  # fmt: skip
    forged = tokens.issue(position, b"not the repository's secret")
    root = repo.ask([("verb", "ListIdentifiers"), ("resumptionToken", forged)])
    assert error_codes(root) == ["badResumptionToken"]
    genuine = tokens.issue(position, repo.catalog.secret())  # the same, signed rightly
    assert (
        header_ids(repo.ask([("verb", "ListIdentifiers"), ("resumptionToken", genuine)]))
        == (live_ids()[2:4])
    )


def test_a_token_is_tied_to_its_verb(repo: Repo) -> None:
    identifiers_token = token_of(repo.ask(LI))
    records_token = token_of(repo.ask(LR))
    sets_token = token_of(repo.ask("verb=ListSets"))
    for verb, token in (
        ("ListRecords", identifiers_token),
        ("ListSets", identifiers_token),
        ("ListIdentifiers", records_token),
        ("ListIdentifiers", sets_token),
        ("ListRecords", sets_token),
    ):
        root = repo.ask([("verb", verb), ("resumptionToken", token)])
        assert error_codes(root) == ["badResumptionToken"], verb
        echoed = request_attributes(root)
        assert echoed["verb"] == verb
        assert set(echoed.items()) <= {("verb", verb), ("resumptionToken", token)}


def test_a_token_expires_24_hours_after_it_was_issued(repo: Repo) -> None:
    issued = NOW - timedelta(days=2)
    token = token_of(repo.ask(LI, issued))
    query = [("verb", "ListIdentifiers"), ("resumptionToken", token)]
    still = repo.ask(query, issued + timedelta(hours=23, minutes=59))  # at least 23 hours
    assert header_ids(still) == live_ids()[2:4]
    assert error_codes(repo.ask(query, issued + timedelta(hours=24, seconds=1))) == [
        "badResumptionToken"
    ]
    assert error_codes(repo.ask(query, NOW)) == ["badResumptionToken"]


def test_tokens_are_made_of_url_safe_characters_only(repo: Repo) -> None:
    found = [
        str(element.text)
        for query in (LI, LR, "verb=ListSets", f"{LR}&set=letters", f"{LI}&from=2024-01-02")
        for page in repo.pages(query)
        if (element := resumption(page)) is not None and element.text
    ]
    assert len(found) >= 8
    for token in found:
        assert re.fullmatch(r"[A-Za-z0-9_.\-~]+", token), token


# -- J. Identify -------------------------------------------------------------------------


def test_identify_gives_its_fields_in_schema_order_with_an_oai_identifier_description(
    repo: Repo,
) -> None:
    identify = repo.ask("verb=Identify").find("o:Identify", NS)
    assert identify is not None
    names = [etree.QName(child).localname for child in identify]
    assert names == [
        "repositoryName",
        "baseURL",
        "protocolVersion",
        "adminEmail",
        "earliestDatestamp",
        "deletedRecord",
        "granularity",
        "description",
    ]
    field = {name: identify.findtext(f"o:{name}", namespaces=NS) for name in names}
    assert field["repositoryName"]
    assert field["baseURL"] == BASE_URL
    assert field["protocolVersion"] == "2.0"
    assert re.fullmatch(r"\S+@(\S+\.)+\S+", str(field["adminEmail"]))
    assert field["earliestDatestamp"] == "2024-01-01T10:00:00Z"
    assert field["deletedRecord"] == "persistent"
    assert field["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
    description = identify.find("o:description/id:oai-identifier", NS)
    assert description is not None
    assert _schema_locations(description) == {
        NS["id"]: "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
    }
    part = {etree.QName(child).localname: child.text for child in description}
    assert part["scheme"] == "oai"
    assert part["delimiter"] == ":"
    assert part["repositoryIdentifier"] == REPOSITORY
    assert re.fullmatch(
        r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+", str(part["repositoryIdentifier"])
    )
    sample = str(part["sampleIdentifier"])
    assert sample.startswith(f"oai:{REPOSITORY}:") and len(sample) > len(PREFIX)
    assert error_codes(repo.ask(f"verb=GetRecord&identifier={sample}&metadataPrefix=oai_dc")) == []


# -- K. formats and records ---------------------------------------------------------------


def test_list_metadata_formats_names_oai_dc_and_mets_with_their_schemas_and_namespaces(
    repo: Repo,
) -> None:
    for query in ("verb=ListMetadataFormats", f"verb=ListMetadataFormats&identifier={ED1}"):
        root = repo.ask(query)
        found = {
            str(f.findtext("o:metadataPrefix", namespaces=NS)): (
                f.findtext("o:schema", namespaces=NS),
                f.findtext("o:metadataNamespace", namespaces=NS),
            )
            for f in root.iterfind("o:ListMetadataFormats/o:metadataFormat", NS)
        }
        assert found == FORMATS


@pytest.mark.parametrize("prefix", ["oai_dc", "mets", "premis"])
def test_each_metadata_root_declares_the_schema_listed_by_list_metadata_formats(
    repo: Repo, prefix: str
) -> None:
    schema, namespace = FORMATS[prefix]
    for page in repo.pages(f"verb=ListRecords&metadataPrefix={prefix}"):
        for metadata in page.iterfind(".//o:metadata", NS):
            roots = list(metadata)
            assert len(roots) == 1
            root = roots[0]
            assert etree.QName(root).namespace == namespace
            assert root.nsmap.get(root.prefix) == namespace
            assert root.nsmap.get("xsi") == NS["xsi"]
            assert _schema_locations(root).get(namespace) == schema


def test_oai_dc_records_equal_the_bags_dc_xml(repo: Repo) -> None:
    compared = 0
    for page in repo.pages(LR):
        for record in page.iterfind(".//o:record", NS):
            identifier = str(record.findtext("o:header/o:identifier", namespaces=NS))
            spec = SPEC_BY_ID[identifier]
            dc = record.find("o:metadata/oai_dc:dc", NS)
            assert dc is not None
            if spec.foreign:
                continue
            on_disk = etree.parse(str(repo.collection / spec.id / "metadata" / "dc.xml"))
            assert _shape(dc) == _shape(on_disk.getroot())
            assert title_of(record) == [spec.title]
            compared += 1
    assert compared == len(SPECS) - 1


@pytest.mark.parametrize("prefix", ["mets", "premis"])
def test_a_page_of_several_mets_or_premis_documents_is_valid_with_unique_ids(
    repo: Repo, prefix: str
) -> None:
    wide = Repo(repo.collection, NOW, page_size=50)
    try:
        root = wide.ask(f"verb=ListRecords&metadataPrefix={prefix}")  # validates strictly
    finally:
        wide.close()
    records = root.findall(".//o:record", NS)
    assert [r.findtext("o:header/o:identifier", namespaces=NS) for r in records] == [
        i for i in live_ids() if i != FOREIGN
    ]
    ids = [str(v) for v in root.xpath("//@ID | //@xmlID")]
    assert len(ids) == len(set(ids))  # xs:ID values are unique in the whole response
    if prefix == "mets":
        assert len(ids) > len(records)
        assert [m.get("OBJID") for m in root.iterfind(".//mets:mets", NS)] == [
            i.removeprefix(PREFIX) for i in live_ids() if i != FOREIGN
        ]


def test_a_get_record_in_each_format_carries_one_record_with_header_and_metadata(
    repo: Repo,
) -> None:
    for prefix in FORMATS:
        record = _record(repo.ask(f"verb=GetRecord&identifier={ED1}&metadataPrefix={prefix}"))
        assert [etree.QName(c).localname for c in record] == ["header", "metadata"]
        header = record.find("o:header", NS)
        assert header is not None and header.get("status") is None
        assert header.findtext("o:identifier", namespaces=NS) == ED1
        assert header.findtext("o:datestamp", namespaces=NS) == "2024-01-01T10:00:00Z"


# -- H. deleted records ------------------------------------------------------------------

WITHDRAWN_AT = "2024-02-10T12:00:00Z"
LET2 = PREFIX + "let-2"


def _withdraw(repo: Repo, bag_id: str, when: str = WITHDRAWN_AT) -> Path:
    home = repo.owner.withdraw(
        bag_id, reason="the rights holder asked", clock=Clock(fixed=moment(when))
    )
    repo.refresh(when)  # nothing left to do: withdraw refreshed the catalog
    return home


def _assert_deleted(repo: Repo, identifier: str, datestamp: str, sets: list[str]) -> None:
    for prefix in FORMATS:
        root = repo.ask(f"verb=GetRecord&identifier={identifier}&metadataPrefix={prefix}")
        assert error_codes(root) == []
        record = _record(root)
        assert [etree.QName(c).localname for c in record] == ["header"]  # no metadata, no about
        header = record[0]
        assert header.get("status") == "deleted"
        assert header.findtext("o:datestamp", namespaces=NS) == datestamp
        assert [s.text for s in header.findall("o:setSpec", NS)] == sets


def test_a_withdrawn_bag_is_kept_beside_its_tombstone_and_reported_deleted(fresh: Repo) -> None:
    before = snapshot(fresh.collection / "let-2")
    home = _withdraw(fresh, "let-2")
    assert not (fresh.collection / "let-2").exists()
    assert home == (fresh.collection / ".archiver" / "withdrawn" / "let-2.20240210T120000Z" / "bag")
    assert snapshot(home) == before  # moved, never deleted nor changed
    stone = json.loads((home.parent / "tombstone.json").read_text(encoding="utf-8"))
    assert stone["id"] == "let-2"
    assert stone["withdrawn_at"] == WITHDRAWN_AT
    assert stone["reason"] == "the rights holder asked"
    assert ["Bag-Group-Identifier", "letters:1920s"] in stone["bag_info"]
    _assert_deleted(fresh, LET2, WITHDRAWN_AT, ["letters:1920s"])
    assert "let-2" not in fresh.owner.bag_ids()


def test_list_identifiers_reports_a_deleted_record_within_its_date_range_and_set(
    fresh: Repo,
) -> None:
    _withdraw(fresh, "let-2")
    deleted = (LET2, WITHDRAWN_AT, "deleted", ("letters:1920s",))
    for prefix in FORMATS:
        query = f"verb=ListIdentifiers&metadataPrefix={prefix}"
        assert _list_entries(fresh, f"{query}&from=2024-02-10") == [deleted]
        assert _list_entries(fresh, f"{query}&from={WITHDRAWN_AT}&until={WITHDRAWN_AT}") == [
            deleted
        ]
        assert deleted in _list_entries(fresh, f"{query}&set=letters")
        assert deleted in _list_entries(fresh, f"{query}&set=letters:1920s")
        assert deleted in _list_entries(fresh, query)
    assert LET2 not in _ids(fresh, f"{LI}&until=2024-02-09")
    assert LET2 not in _ids(fresh, f"{LI}&set=editorials")
    records = fresh.ask(f"{LR}&from=2024-02-10").findall(".//o:record", NS)
    assert len(records) == 1 and [etree.QName(c).localname for c in records[0]] == ["header"]
    assert records[0][0].get("status") == "deleted"


def test_deleted_records_are_reported_persistently(fresh: Repo) -> None:
    _withdraw(fresh, "let-2")
    for later in ("2024-02-11T00:00:00Z", "2024-02-20T00:00:00Z"):
        fresh.refresh(later)
        _assert_deleted(fresh, LET2, WITHDRAWN_AT, ["letters:1920s"])
    identify = fresh.ask("verb=Identify")
    assert identify.findtext(".//o:deletedRecord", namespaces=NS) == "persistent"
    earliest = str(identify.findtext(".//o:earliestDatestamp", namespaces=NS))
    assert all(datestamp >= earliest for _, datestamp, _, _ in _list_entries(fresh, LI))


def test_a_bag_that_vanished_without_withdraw_is_deleted_from_the_refresh_that_saw_it_go(
    fresh: Repo,
) -> None:
    shutil.rmtree(fresh.collection / "misc")
    fresh.refresh("2024-02-20T00:00:00Z")
    _assert_deleted(fresh, PREFIX + "misc", "2024-02-20T00:00:00Z", [])
    assert _list_entries(fresh, f"{LI}&from=2024-02-01") == [
        (PREFIX + "misc", "2024-02-20T00:00:00Z", "deleted", ())
    ]


def _answers(repo: Repo) -> dict[str, object]:
    """What a harvester can learn from the repository, tokens and times aside."""
    found: dict[str, object] = {
        "identify": strip_response_date(repo.raw("verb=Identify")),
        "sets": [
            etree.tostring(s)
            for p in repo.pages("verb=ListSets")
            for s in p.iterfind(".//o:set", NS)
        ],
    }
    ids = _ids(repo, LI)
    for prefix in FORMATS:
        found[prefix] = _list_entries(repo, f"verb=ListIdentifiers&metadataPrefix={prefix}")
        for identifier in ids:
            query = f"verb=GetRecord&identifier={identifier}&metadataPrefix={prefix}"
            found[query] = strip_response_date(repo.raw(query))
    for identifier in ids:
        query = f"verb=ListMetadataFormats&identifier={identifier}"
        found[query] = strip_response_date(repo.raw(query))
    return found


def test_a_catalog_rebuilt_from_scratch_gives_the_same_records_and_deletions(
    fresh: Repo,
) -> None:
    _withdraw(fresh, "let-2")
    _withdraw(fresh, "foreign", "2024-02-12T08:30:00Z")
    before = _answers(fresh)
    fresh.close()
    catalog = fresh.collection / ".archiver" / CATALOG_FILE
    for path in catalog.parent.glob(f"{CATALOG_FILE}*"):
        path.unlink()
    rebuilt = Repo(fresh.collection, NOW)
    try:
        after = _answers(rebuilt)
    finally:
        rebuilt.close()
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key


def test_a_changed_dc_xml_moves_that_records_datestamp_and_no_other(fresh: Repo) -> None:
    before = {i: d for i, d, _, _ in _list_entries(fresh, LI)}
    dc_xml = fresh.collection / "ed-1" / "metadata" / "dc.xml"
    dc_xml.write_text(
        dc_xml.read_text(encoding="utf-8").replace(
            "A giant step for peace", "A giant step for peace (revised)"
        ),
        encoding="utf-8",
    )
    changed = epoch("2024-02-15T08:00:00Z")
    os.utime(dc_xml, (changed, changed))
    fresh.refresh("2024-02-15T09:00:00Z")
    after = {i: d for i, d, _, _ in _list_entries(fresh, LI)}
    assert after[ED1] == "2024-02-15T08:00:00Z"
    assert {i: d for i, d in after.items() if i != ED1} == {
        i: d for i, d in before.items() if i != ED1
    }
    assert _ids(fresh, f"{LI}&from=2024-02-15") == [ED1]
    record = _record(fresh.ask(f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai_dc"))
    assert title_of(record) == ["A giant step for peace (revised)"]


def test_a_changed_bag_group_moves_the_item_to_its_new_set(fresh: Repo) -> None:
    info = fresh.collection / "let-3" / "bag-info.txt"
    info.write_text(
        info.read_text(encoding="utf-8").replace("letters:1930s", "letters:1920s"),
        encoding="utf-8",
    )
    changed = epoch("2024-02-16T08:00:00Z")
    os.utime(info, (changed, changed))
    fresh.refresh("2024-02-16T09:00:00Z")
    assert _list_entries(fresh, f"{LI}&set=letters:1920s")[-1] == (
        PREFIX + "let-3",
        "2024-02-16T08:00:00Z",
        None,
        ("letters:1920s",),
    )
    assert error_codes(fresh.ask(f"{LI}&set=letters:1930s")) == ["noRecordsMatch"]


def _add_to_bag_info(fresh: Repo, bag: str, line: str) -> None:
    """A bag-info line added to ``bag``, changed at 08:00 and seen by the 09:00 refresh."""
    info = fresh.collection / bag / "bag-info.txt"
    with info.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    changed = epoch("2024-02-17T08:00:00Z")
    os.utime(info, (changed, changed))
    fresh.refresh("2024-02-17T09:00:00Z")


def _set_names(fresh: Repo) -> dict[str, str]:
    """setSpec -> setName, over every page of ListSets."""
    return {
        str(s.findtext("o:setSpec", namespaces=NS)): str(s.findtext("o:setName", namespaces=NS))
        for page in fresh.pages("verb=ListSets")
        for s in page.iterfind(".//o:set", NS)
    }


def test_a_set_is_named_by_its_groups_description_when_a_bag_gives_one(fresh: Repo) -> None:
    # setName repeated the setSpec ("editorials"), whatever the bags said of their group.
    _add_to_bag_info(fresh, "ed-2", "Bag-Group-Description: Editorials of the Gazette, 1990-2018")
    assert _set_names(fresh) == {
        "editorials": "Editorials of the Gazette, 1990-2018",
        "letters": "letters",  # no bag describes these: their group is their name
        "letters:1920s": "letters:1920s",
        "letters:1930s": "letters:1930s",
    }


def test_a_bag_group_with_characters_a_set_spec_cannot_hold_becomes_a_valid_set(
    fresh: Repo,
) -> None:
    _add_to_bag_info(fresh, "misc", "Bag-Group-Identifier: Letters & Diaries: 1920s/30s")
    found = _set_names(fresh)  # the pages validated: every setSpec matches the XSD pattern
    new = sorted(spec for spec in found if spec not in ALL_SETS)
    assert len(new) == 2 and new[1].startswith(new[0] + ":")
    assert all(re.fullmatch(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*", s) for s in new)
    assert "Letters & Diaries" in found[new[0]]
    for spec in new:
        assert _ids(fresh, f"{LI}&set={spec}") == [PREFIX + "misc"]
    header = headers(fresh.ask(f"verb=GetRecord&identifier={PREFIX}misc&metadataPrefix=oai_dc"))[0]
    assert [s.text for s in header.findall("o:setSpec", NS)] == [new[1]]


def test_a_catalog_indexed_under_an_older_crosswalk_moves_every_datestamp_on_refresh(
    fresh: Repo,
) -> None:
    """What is served for an unchanged bag changes with the crosswalk: the datestamps must
    move so that harvesters fetch the records again (checklist 31, catalog.CROSSWALK_VERSION).
    The catalog is put in the state an earlier version of archiver left it in."""
    before = {i: d for i, d, _, _ in _list_entries(fresh, LI)}
    with fresh.catalog.store.transaction() as db:
        db.execute(
            "UPDATE records SET fingerprint = '0' || substr(fingerprint, instr(fingerprint, '|'))"
        )
    assert fresh.refresh("2024-02-20T00:00:00Z") == len(SPECS)  # every bag read again
    after = {i: d for i, d, _, _ in _list_entries(fresh, LI)}
    assert after.keys() == before.keys()
    for identifier in before:
        assert after[identifier] > before[identifier], identifier


def test_a_bag_whose_mets_file_is_not_mets_is_treated_alike_by_every_verb(fresh: Repo) -> None:
    """ListIdentifiers is the abbreviated form of ListRecords: both list the same items, and
    an item listed for a format can be got in it. A list is never an empty element."""
    mets_xml = fresh.collection / "misc" / "metadata" / "mets.xml"
    mets_xml.write_text('<?xml version="1.0"?>\n<other xmlns="urn:example:other"/>\n')
    changed = epoch("2024-02-01T00:00:00Z")
    os.utime(mets_xml, (changed, changed))
    fresh.refresh()
    mets = "verb=ListIdentifiers&metadataPrefix=mets"
    assert _ids(fresh, mets.replace("ListIdentifiers", "ListRecords")) == _ids(fresh, mets)
    only = fresh.ask("verb=ListRecords&metadataPrefix=mets&from=2024-02-01")  # validates
    assert len(only.findall(".//o:record", NS)) == 1 or error_codes(only) == ["noRecordsMatch"]
    listed = fresh.ask(f"verb=ListMetadataFormats&identifier={PREFIX}misc")
    offers_mets = "mets" in listed.xpath("//o:metadataPrefix/text()", namespaces=NS)
    got = fresh.ask(f"verb=GetRecord&identifier={PREFIX}misc&metadataPrefix=mets")
    assert offers_mets == (error_codes(got) == [])


def test_the_schema_rejects_what_the_tests_rely_on_it_to_reject(repo: Repo) -> None:
    """The validation above has teeth: an undeclared element inside oai_dc, or a bad
    attribute on request, fails it."""
    body = repo.raw(f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai_dc")
    tree = parsing.parse_bytes(body.replace(b"<dc:title>", b"<dc:titel>").replace(
        b"</dc:title>", b"</dc:titel>"
    ))  # fmt: skip
    assert parsing.schema_errors(parsing.oai_schema(), tree)
    tree = parsing.parse_bytes(body.replace(b'verb="GetRecord"', b'verb="GetRecord" from="x"'))
    assert parsing.schema_errors(parsing.oai_schema(), tree)
