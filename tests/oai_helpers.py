"""Shared helpers for the OAI-PMH tests: a collection with known datestamps and sets, a
schema check for every response, and a real ``archiver serve`` in a subprocess."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from archiver.clock import Clock, from_w3cdtf
from archiver.collection import Catalog, Collection
from archiver.oai.protocol import Config, Provider
from archiver.packing import make_bag
from archiver.record import record_from_data
from archiver.xml import parsing

OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {
    "o": OAI,
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "mets": "http://www.loc.gov/METS/",
    "premis": "http://www.loc.gov/premis/v3",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "id": "http://www.openarchives.org/OAI/2.0/oai-identifier",
}
XSI_LOCATION = f"{{{NS['xsi']}}}schemaLocation"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
REPOSITORY = "archive.example.org"
ADMIN = "oai@example.org"
PREFIX = f"oai:{REPOSITORY}:"
RESPONSE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATESTAMP = RESPONSE_DATE


def epoch(stamp: str) -> int:
    """A ``YYYY-MM-DDThh:mm:ssZ`` datestamp as UTC epoch seconds."""
    return int(from_w3cdtf(stamp).timestamp())


def moment(stamp: str) -> datetime:
    return from_w3cdtf(stamp)


# -- the collection ----------------------------------------------------------------------


@dataclass(frozen=True)
class BagSpec:
    id: str
    title: str
    group: str | None  # Bag-Group-Identifier: the set
    stamp: str  # the datestamp its files are given
    foreign: bool = False  # a plain BagIt bag made by hand: no metadata/ at all


# Seven items, one per day, one of them at 23:59:59; three sets under two roots.
SPECS: tuple[BagSpec, ...] = (
    BagSpec("ed-1", "A giant step for peace", "editorials", "2024-01-01T10:00:00Z"),
    BagSpec("ed-2", "The long night", "editorials", "2024-01-02T23:59:59Z"),
    BagSpec("let-1", "Lettre à Émile", "letters:1920s", "2024-01-03T10:00:00Z"),
    BagSpec("let-2", "A letter from Ghent", "letters:1920s", "2024-01-04T10:00:00Z"),
    BagSpec("let-3", "Dear Margaret", "letters:1930s", "2024-01-05T10:00:00Z"),
    BagSpec("misc", "Miscellany", None, "2024-01-06T10:00:00Z"),
    BagSpec("foreign", "foreign", None, "2024-01-07T10:00:00Z", foreign=True),
)
ALL_SETS = ("editorials", "letters", "letters:1920s", "letters:1930s")
# A collection without any set.
FLAT_SPECS: tuple[BagSpec, ...] = (
    BagSpec("flat-1", "First", None, "2024-02-01T10:00:00Z"),
    BagSpec("flat-2", "Second", None, "2024-02-02T10:00:00Z"),
)
FOREIGN_INFO = {
    "Source-Organization": "Example Press",
    "External-Description": "A letter from elsewhere",
    "Bagging-Date": "2024-01-07",
}


def set_times(root: Path, seconds: int) -> None:
    """Give every file and folder of ``root`` (itself included) the modification time."""
    for folder, dirnames, filenames in os.walk(root):
        for name in [*filenames, *dirnames]:
            os.utime(Path(folder) / name, (seconds, seconds), follow_symlinks=False)
    os.utime(root, (seconds, seconds))


def make_foreign_bag(bag: Path) -> Path:
    """A plain BagIt 1.0 bag, as another tool would make it: no dc.xml, METS or PREMIS."""
    import hashlib

    payload = b"A letter from elsewhere.\n"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "letter.txt").write_bytes(payload)
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    info = "".join(f"{label}: {value}\n" for label, value in FOREIGN_INFO.items())
    (bag / "bag-info.txt").write_text(info + f"Payload-Oxum: {len(payload)}.1\n")
    digest = hashlib.sha256(payload).hexdigest()
    (bag / "manifest-sha256.txt").write_text(f"{digest}  data/letter.txt\n")
    return bag


def make_collection(workdir: Path, specs: Sequence[BagSpec] = SPECS) -> Path:
    """``workdir/collection`` with one bag per spec, each dated by its files' times."""
    collection = workdir / "collection"
    collection.mkdir(parents=True)
    for spec in specs:
        seconds = epoch(spec.stamp)
        bag = collection / spec.id
        if spec.foreign:
            make_foreign_bag(bag)
        else:
            source = workdir / "sources" / spec.id
            source.mkdir(parents=True)
            text = source / f"{spec.id}.txt"
            text.write_text(f"{spec.title}\n\nA short text for {spec.id}.\n", encoding="utf-8")
            data: dict[str, object] = {"title": spec.title, "language": "en"}
            if spec.group:
                data["bag-info"] = {"Bag-Group-Identifier": spec.group}
            record = record_from_data(data, spec.id)
            make_bag(
                [text],
                collection,
                record=record,
                bag_id=spec.id,
                clock=Clock.from_epoch(seconds),
                workers=1,
            )
        set_times(bag, seconds)
    return collection


def live_ids(specs: Sequence[BagSpec] = SPECS) -> list[str]:
    """Identifiers in list order (datestamp, then id)."""
    return [PREFIX + s.id for s in sorted(specs, key=lambda s: (s.stamp, s.id))]


ED1 = PREFIX + "ed-1"
FOREIGN = PREFIX + "foreign"
_LI = "verb=ListIdentifiers&metadataPrefix=oai_dc"
_LR = "verb=ListRecords&metadataPrefix=oai_dc"

# Malformed or unanswerable requests and the exact error codes they must get, in order.
BATTERY: tuple[tuple[str, tuple[str, ...]], ...] = (
    # badVerb: missing, unknown, repeated, non-standard, wrong case
    ("", ("badVerb",)),
    ("junk", ("badVerb",)),
    ("verb=junk", ("badVerb",)),
    ("verb=", ("badVerb",)),
    ("verb=Identify&verb=Identify", ("badVerb",)),
    ("verb=Identify&verb=ListSets", ("badVerb",)),
    ("verb=GetMetadata", ("badVerb",)),
    ("verb=identify", ("badVerb",)),
    ("metadataPrefix=oai_dc", ("badVerb",)),
    # badArgument: unknown, missing, repeated, illegal syntax, token with company
    ("verb=Identify&foo=bar", ("badArgument",)),
    (f"verb=Identify&identifier={ED1}", ("badArgument",)),
    ("verb=Identify&foo", ("badArgument", "badArgument")),  # unknown, and empty
    ("verb=ListMetadataFormats&metadataPrefix=oai_dc", ("badArgument",)),
    ("verb=ListSets&set=editorials", ("badArgument",)),
    ("verb=ListRecords", ("badArgument",)),
    ("verb=ListIdentifiers", ("badArgument",)),
    ("verb=ListIdentifiers&set=editorials", ("badArgument",)),
    ("verb=GetRecord", ("badArgument", "badArgument")),
    ("verb=GetRecord&metadataPrefix=oai_dc", ("badArgument",)),
    (f"verb=GetRecord&identifier={ED1}", ("badArgument",)),
    (f"verb=GetRecord&identifier={ED1}&metadataPrefix=oai_dc&from=2024-01-01", ("badArgument",)),
    (f"{_LR}&metadataPrefix=oai_dc", ("badArgument",)),
    (f"{_LI}&metadataPrefix=mets", ("badArgument",)),
    (f"verb=GetRecord&identifier={ED1}&identifier={ED1}&metadataPrefix=oai_dc", ("badArgument",)),
    (f"{_LI}&set=editorials&set=editorials", ("badArgument",)),
    ("verb=ListIdentifiers&metadataPrefix=", ("badArgument",)),
    (f"{_LI}&from=junk", ("badArgument",)),
    (f"{_LI}&until=junk", ("badArgument",)),
    (f"{_LR}&from=junk", ("badArgument",)),
    (f"{_LR}&until=junk", ("badArgument",)),
    (f"{_LI}&from=junk&until=junk", ("badArgument", "badArgument")),
    (f"{_LI}&from=2024-02-30", ("badArgument",)),
    (f"{_LI}&from=2024-1-1", ("badArgument",)),
    (f"{_LI}&from=2024-01", ("badArgument",)),
    (f"{_LI}&from=2024-01-01T10:00Z", ("badArgument",)),
    (f"{_LI}&from=2024-01-01T10:00:00", ("badArgument",)),
    (f"{_LI}&from=2024-01-01T10:00:00.5Z", ("badArgument",)),
    (f"{_LI}&from=2024-01-01T10:00:00%2B01:00", ("badArgument",)),
    (f"{_LI}&from=2024-01-01T24:00:00Z", ("badArgument",)),
    (f"{_LI}&from=2024-01-01&until=2024-01-05T00:00:00Z", ("badArgument",)),  # mixed
    (f"{_LI}&from=2024-01-01T00:00:00Z&until=2024-01-05", ("badArgument",)),  # mixed
    (f"{_LR}&from=2024-01-05&until=2024-01-01", ("badArgument",)),  # from > until
    (f"{_LR}&from=2024-01-05T00:00:01Z&until=2024-01-05T00:00:00Z", ("badArgument",)),
    ("verb=GetRecord&identifier=ed-1&metadataPrefix=oai_dc", ("badArgument",)),  # not a URI
    ("verb=GetRecord&identifier=not%20a%20uri&metadataPrefix=oai_dc", ("badArgument",)),
    ("verb=ListMetadataFormats&identifier=junk", ("badArgument",)),
    ("verb=ListIdentifiers&resumptionToken=junk&until=2024-01-01", ("badArgument",)),
    ("verb=ListRecords&resumptionToken=junk&metadataPrefix=oai_dc", ("badArgument",)),
    ("verb=ListSets&resumptionToken=junk&foo=bar", ("badArgument", "badArgument")),
    # badResumptionToken: garbage, or not ours
    ("verb=ListRecords&resumptionToken=junk", ("badResumptionToken",)),
    ("verb=ListIdentifiers&resumptionToken=junk", ("badResumptionToken",)),
    ("verb=ListSets&resumptionToken=junk", ("badResumptionToken",)),
    ("verb=ListRecords&resumptionToken=a.b", ("badResumptionToken",)),
    ("verb=ListRecords&resumptionToken=e30.AAAAAAAAAAAAAAAAAAAAAAAA", ("badResumptionToken",)),
    # cannotDisseminateFormat: unknown to the repository, or not available for the item
    ("verb=ListRecords&metadataPrefix=marc21", ("cannotDisseminateFormat",)),
    ("verb=ListIdentifiers&metadataPrefix=marc21", ("cannotDisseminateFormat",)),
    ("verb=ListRecords&metadataPrefix=all", ("cannotDisseminateFormat",)),
    (f"verb=GetRecord&identifier={ED1}&metadataPrefix=marc21", ("cannotDisseminateFormat",)),
    (f"verb=GetRecord&identifier={FOREIGN}&metadataPrefix=mets", ("cannotDisseminateFormat",)),
    (f"verb=GetRecord&identifier={FOREIGN}&metadataPrefix=premis", ("cannotDisseminateFormat",)),
    # idDoesNotExist
    (f"verb=GetRecord&identifier={PREFIX}nope&metadataPrefix=oai_dc", ("idDoesNotExist",)),
    (
        "verb=GetRecord&identifier=oai:other.example.org:ed-1&metadataPrefix=oai_dc",
        ("idDoesNotExist",),
    ),
    (f"verb=GetRecord&identifier={PREFIX}&metadataPrefix=oai_dc", ("idDoesNotExist",)),
    (f"verb=ListMetadataFormats&identifier={PREFIX}nope", ("idDoesNotExist",)),
    ("verb=ListMetadataFormats&identifier=http://example.org/ed-1", ("idDoesNotExist",)),
    # noRecordsMatch: a year before earliestDatestamp, after the latest, an unknown set,
    # a range whose only item lacks the format
    (f"{_LI}&until=2023-01-01", ("noRecordsMatch",)),
    (f"{_LR}&until=2023-01-01T10:00:00Z", ("noRecordsMatch",)),
    (f"{_LR}&from=2025-01-01", ("noRecordsMatch",)),
    (f"{_LI}&set=nosuchset", ("noRecordsMatch",)),
    (f"{_LI}&set=letters:1940s", ("noRecordsMatch",)),
    ("verb=ListRecords&metadataPrefix=mets&from=2024-01-07&until=2024-01-07", ("noRecordsMatch",)),
)
REJECTS_ALL_ARGUMENTS = ("badVerb", "badArgument")


# -- responses ---------------------------------------------------------------------------


def validate(body: bytes) -> etree._Element:
    """The response's root, once it is shown to be UTF-8 XML with the declaration and valid
    against OAI-PMH.xsd with oai_dc, METS, PREMIS and oai-identifier validated strictly."""
    assert body.startswith(DECLARATION), body[:120]
    body.decode("utf-8")  # strictly UTF-8
    tree = parsing.parse_bytes(body)
    problems = parsing.schema_errors(parsing.oai_schema(), tree)
    assert problems == [], f"{problems}\n{body.decode('utf-8', 'replace')[:4000]}"
    root = tree.getroot()
    assert root.tag == f"{{{OAI}}}OAI-PMH"
    return root


def error_codes(root: etree._Element) -> list[str]:
    return [str(e.get("code")) for e in root.findall("o:error", NS)]


def request_attributes(root: etree._Element) -> dict[str, str]:
    request = root.find("o:request", NS)
    assert request is not None
    return {str(k): str(v) for k, v in request.attrib.items()}


def headers(root: etree._Element) -> list[etree._Element]:
    return list(root.iterfind(".//o:header", NS))


def header_ids(root: etree._Element) -> list[str]:
    return [str(h.findtext("o:identifier", namespaces=NS)) for h in headers(root)]


def resumption(root: etree._Element) -> etree._Element | None:
    return root.find("o:*/o:resumptionToken", NS)


def token_of(root: etree._Element) -> str:
    element = resumption(root)
    assert element is not None and element.text, "no resumption token on this page"
    return element.text


def title_of(record: etree._Element) -> list[str]:
    return [str(t.text) for t in record.iterfind(".//oai_dc:dc/dc:title", NS)]


def strip_response_date(body: bytes) -> bytes:
    return re.sub(rb"<responseDate>[^<]*</responseDate>", b"", body)


# -- the provider, driven directly ---------------------------------------------------------


@dataclass
class Repo:
    """A Provider over a catalog, asked with query strings, every answer validated."""

    collection: Path
    now: datetime
    page_size: int = 2
    owner: Collection = field(init=False)
    catalog: Catalog = field(init=False)
    provider: Provider = field(init=False)

    def __post_init__(self) -> None:
        self.owner = Collection(self.collection)
        self.catalog = self.owner.catalog()
        self.catalog.refresh(self.now)
        self.provider = Provider(self.catalog, self.config())

    def config(self) -> Config:
        return Config(
            "http://archive.example.org/oai",
            "Test archive",
            (ADMIN,),
            REPOSITORY,
            page_size=self.page_size,
        )

    def raw(self, query: str | Sequence[tuple[str, str]], now: datetime | None = None) -> bytes:
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
        return self.provider.respond(list(pairs), now or self.now)

    def ask(
        self, query: str | Sequence[tuple[str, str]], now: datetime | None = None
    ) -> etree._Element:
        return validate(self.raw(query, now))

    def pages(self, query: str, now: datetime | None = None) -> list[etree._Element]:
        """Every page of a list, following its tokens."""
        verb = dict(parse_qsl(query))["verb"]
        found = [self.ask(query, now)]
        while (element := resumption(found[-1])) is not None and element.text:
            found.append(self.ask([("verb", verb), ("resumptionToken", element.text)], now))
            assert len(found) < 100
        return found

    def refresh(self, stamp: str | None = None) -> int:
        return self.catalog.refresh(from_w3cdtf(stamp) if stamp else self.now)

    def close(self) -> None:
        self.owner.close()


# -- HTTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def send(
    base_url: str,
    target: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str = "application/x-www-form-urlencoded",
    headers: dict[str, str] | None = None,
) -> Response:
    """One raw HTTP request; ``target`` is the path and query, sent as given."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        extra = {"Content-Type": content_type} if body is not None else {}
        extra.update(headers or {})
        connection.request(method, target, body=body, headers=extra)
        answer = connection.getresponse()
        data = answer.read()
        found = {k.lower(): v for k, v in answer.getheaders()}
        return Response(answer.status, found, data)
    finally:
        connection.close()


def oai_get(base_url: str, query: str) -> Response:
    return send(base_url, f"{urlsplit(base_url).path}?{query}")


def oai_post(base_url: str, query: str) -> Response:
    return send(base_url, urlsplit(base_url).path, method="POST", body=query.encode("utf-8"))


def is_xml(response: Response) -> bool:
    return response.content_type.split(";")[0].strip() == "text/xml"


# -- the server --------------------------------------------------------------------------

# "serving bags at URL", or "serving bags at PUBLIC-URL, listening on URL": where it answers
_ANNOUNCE = re.compile(r"serving .* at (?:\S+, listening on )?(http://\S+)\s*$")


@dataclass
class Server:
    url: str  # the base URL, http://127.0.0.1:PORT/oai
    log: list[str]  # what the server wrote on stderr so far


@contextmanager
def running_server(
    collection: Path,
    *,
    page_size: int = 2,
    refresh: float = 1.0,
    timeout: float = 30.0,
    options: Sequence[str] = (),
) -> Iterator[Server]:
    """``archiver serve COLLECTION --port 0 ... OPTIONS`` in a subprocess, stopped at the
    end."""
    arguments = [
        str(collection),
        "--repository-identifier",
        REPOSITORY,
        "--admin-email",
        ADMIN,
        "--page-size",
        str(page_size),
        "--refresh",
        str(refresh),
        *options,
    ]
    with serve_process(arguments, timeout=timeout) as server:
        yield server


@contextmanager
def serve_process(
    arguments: Sequence[str], *, cwd: Path | None = None, timeout: float = 30.0
) -> Iterator[Server]:
    """``archiver serve ARGUMENTS --port 0`` in a subprocess (in ``cwd``), stopped at the
    end: the server once it has announced its URL."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    command = [sys.executable, "-m", "archiver", "serve", *arguments, "--port", "0"]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stderr is not None
    stderr = process.stderr
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # reads stderr to the end, so the pipe never fills
        for line in stderr:
            lines.append(line)
            match = _ANNOUNCE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, name="serve-stderr", daemon=True)
    reader.start()
    try:
        ready.wait(timeout)
        assert found, f"archiver serve did not announce its URL: {''.join(lines)}"
        yield Server(found[0], lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        reader.join(timeout=15)
        stderr.close()
