"""OAI-PMH 2.0, the protocol: a request's arguments -> the response document (pure but for
reading the catalog and the bags' metadata files).

Follows the OAI-PMH checklist point by point: six verbs; every error with HTTP 200 (the
transport is app.py's); ``request`` attributes echoed only for arguments that passed their
checks, and none at all on badVerb/badArgument; repeated arguments are badArgument; UTC
``responseDate`` to the second; inclusive from/until with granularity checks; stateless,
signed resumption tokens with ``cursor`` counting items, ``completeListSize`` and
``expirationDate``, an empty token on the last page and none for single-page lists; sets
with their descendants; deleted records reported persistently; an oai-identifier
description in Identify.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from lxml import etree

from archiver.bagit.files import Kind
from archiver.bagit.reader import Bag
from archiver.clock import w3cdtf
from archiver.collection.catalog import Catalog, Item
from archiver.oai import records, tokens
from archiver.oai.records import FORMATS, Format
from archiver.record import record_from_bag_info
from archiver.xml import dc, writing
from archiver.xml.characters import xml_problem, xml_safe

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_XSD = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_ID_XSD = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"


@dataclass(frozen=True)
class Config:
    base_url: str
    repository_name: str
    admin_emails: tuple[str, ...]
    repository_identifier: str
    page_size: int = 100
    token_lifetime: int = 24 * 3600  # OVAL recommends at least 23 hours
    # The metadata formats served (their prefixes); None: every format archiver offers.
    formats: tuple[str, ...] | None = None


# -- errors: the eight codes of §3.6, each a class, in one explicit table ------------------


class OAIError(Exception):
    """An OAI-PMH error condition; ``code`` is its §3.6 code."""

    code = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadArgumentError(OAIError):
    code = "badArgument"


class BadResumptionTokenError(OAIError):
    code = "badResumptionToken"


class BadVerbError(OAIError):
    code = "badVerb"


class CannotDisseminateFormatError(OAIError):
    code = "cannotDisseminateFormat"


class IdDoesNotExistError(OAIError):
    code = "idDoesNotExist"


class NoRecordsMatchError(OAIError):
    code = "noRecordsMatch"


class NoMetadataFormatsError(OAIError):
    code = "noMetadataFormats"


class NoSetHierarchyError(OAIError):
    code = "noSetHierarchy"


ERRORS: dict[str, type[OAIError]] = {
    cls.code: cls
    for cls in (
        BadArgumentError,
        BadResumptionTokenError,
        BadVerbError,
        CannotDisseminateFormatError,
        IdDoesNotExistError,
        NoRecordsMatchError,
        NoMetadataFormatsError,
        NoSetHierarchyError,
    )
}

# verb -> (required, optional, exclusive)
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
}
# Matched with fullmatch (no "$" before a trailing newline) and ASCII digits only.
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_SECOND = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
# OAI-PMH.xsd's patterns for what the request element echoes.
_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SETSPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")


def _sub(
    parent: etree._Element,
    local: str,
    text: str | None = None,
    attrib: dict[str, str] | None = None,
) -> etree._Element:
    """A child element in the OAI-PMH namespace."""
    return writing.sub(parent, f"{{{OAI}}}{local}", text, attrib)


def _element(local: str, attrib: dict[str, str] | None = None) -> etree._Element:
    return etree.Element(f"{{{OAI}}}{local}", attrib)


class Provider:
    """One repository: its configuration, its catalog, the bags behind it."""

    def __init__(self, catalog: Catalog, config: Config) -> None:
        self.catalog = catalog
        self.config = config
        self.collection = catalog.collection
        self.prefix = f"oai:{config.repository_identifier}:"
        self.formats = {
            prefix: fmt
            for prefix, fmt in FORMATS.items()
            if config.formats is None or prefix in config.formats
        }

    # -- the envelope ------------------------------------------------------------------

    def respond(self, pairs: Sequence[tuple[str, str]], now: datetime) -> bytes:
        """The response to one request's (name, value) pairs, in the order given."""
        return b"".join(self.stream(pairs, now))

    def stream(
        self, pairs: Sequence[tuple[str, str]], now: datetime
    ) -> Generator[bytes, None, None]:
        """The response to one request, a piece at a time: records are read from their
        files as they are written, so memory stays flat whatever their size.

        Everything that decides what the response says (its errors; for GetRecord, whether
        the record can be served) is settled before the first piece, which therefore
        never fails on the request. A record's file that fails to read once the response
        has begun (it changed since it was checked) raises: the response can only end there.
        """
        with ExitStack() as opened:
            echo, body = self._answer(pairs, now, opened)
            yield from self._write(now, echo, body)

    def _answer(
        self, pairs: Sequence[tuple[str, str]], now: datetime, opened: ExitStack
    ) -> tuple[dict[str, str], _Body]:
        """What the response says: the arguments it echoes, and its body (or errors)."""
        echo: dict[str, str] = {}
        try:
            verb, arguments = _verb_and_arguments(pairs)
            echo = {"verb": verb}
            body = self._dispatch(verb, arguments, echo, now)
            if isinstance(body, _Records) and body.verb == "GetRecord":
                [item] = body.items
                if not item.deleted:
                    source = opened.enter_context(self._source(item, body.format))
                    if source is None:
                        raise CannotDisseminateFormatError(
                            f"the {body.format.prefix} record of this item cannot be read"
                        )
                    body.ready[item.id] = source
        except (BadVerbError, BadArgumentError) as error:
            return {}, _errors([error])
        except ExceptionGroup as group:  # several errors found at once: §3.6 reports them all
            found = [e for e in group.exceptions if isinstance(e, OAIError)]
            if any(isinstance(e, (BadVerbError, BadArgumentError)) for e in found):
                echo = {}
            return echo, _errors(found)
        except OAIError as error:
            return echo, _errors([error])
        return echo, body

    def _write(self, now: datetime, echo: dict[str, str], body: _Body) -> Iterator[bytes]:
        if not isinstance(body, _Records):
            yield self._envelope(now, echo, body if isinstance(body, list) else [body])
            return
        output = _Pieces()
        with (
            writing.stream(output) as stream,
            stream.element(_tag("OAI-PMH"), _SCHEMA_LOCATION, {None: OAI, "xsi": XSI}),
        ):
            stream.leaf(_tag("responseDate"), w3cdtf(now))
            stream.leaf(_tag("request"), self.config.base_url, dict(sorted(echo.items())))
            with stream.element(_tag(body.verb)):
                for item in body.items:
                    for _ in self._write_record(stream, item, body):
                        if output.size >= _PIECE:
                            yield output.take()
                for token in body.trailer:
                    attrib = {str(name): str(value) for name, value in token.attrib.items()}
                    stream.leaf(_tag("resumptionToken"), token.text or "", attrib)
        yield output.take()

    def _envelope(
        self, now: datetime, echo: dict[str, str], body: Sequence[etree._Element]
    ) -> bytes:
        """A response without records, whole."""
        root = etree.Element(_tag("OAI-PMH"), _SCHEMA_LOCATION, nsmap={None: OAI, "xsi": XSI})
        _sub(root, "responseDate", w3cdtf(now))
        _sub(root, "request", self.config.base_url, dict(sorted(echo.items())))
        root.extend(body)
        return writing.serialise(root)

    def _write_record(self, stream: writing.Stream, item: Item, body: _Records) -> Iterator[None]:
        """A <record>: its header only when deleted; nothing when its metadata cannot be
        read. Pauses while a document is copied, and once written, what it wrote flushed."""
        if item.deleted:
            with stream.element(_tag("record")):
                self._write_header(stream, item)
            yield
            return
        ready = body.ready.get(item.id)
        with nullcontext(ready) if ready is not None else self._source(item, body.format) as source:
            if source is None:
                return
            with stream.element(_tag("record")):
                self._write_header(stream, item)
                with stream.element(_tag("metadata")):
                    if isinstance(source, etree._Element):
                        stream.write(source)
                    else:
                        yield from records.copy(source, item.id, stream, OAI)
            stream.flush()
            yield

    def _dispatch(
        self, verb: str, arguments: dict[str, str], echo: dict[str, str], now: datetime
    ) -> etree._Element | _Records:
        required, optional, exclusive = VERBS[verb]
        problems: list[OAIError] = []
        for name in sorted(arguments):
            if name not in required | optional and name != exclusive:
                problems.append(BadArgumentError(f"{name!r} is not an argument of {verb}"))
        if exclusive and exclusive in arguments:
            if len(arguments) > 1:
                problems.append(
                    BadArgumentError(f"{exclusive} must be the only argument with the verb")
                )
        else:
            for name in sorted(required - set(arguments)):
                problems.append(BadArgumentError(f"{verb} requires the argument {name!r}"))
        for name, value in sorted(arguments.items()):
            if xml_problem(value) or not value:
                problems.append(BadArgumentError(f"the value of {name!r} is empty or not text"))
            elif name == "metadataPrefix" and not _PREFIX.fullmatch(value):
                problems.append(BadArgumentError("metadataPrefix has characters it cannot have"))
            elif name == "set" and not _SETSPEC.fullmatch(value):
                problems.append(BadArgumentError("set is not a setSpec (a:b, URI-safe)"))
        if problems:
            raise ExceptionGroup("OAI-PMH errors", problems)
        handlers: dict[str, _Handler] = {
            "Identify": self._identify,
            "ListMetadataFormats": self._list_metadata_formats,
            "ListSets": self._list_sets,
            "GetRecord": self._get_record,
            "ListIdentifiers": self._list_identifiers,
            "ListRecords": self._list_records,
        }
        return handlers[verb](arguments, echo, now)

    # -- the verbs -----------------------------------------------------------------------

    def _identify(
        self, _arguments: dict[str, str], _echo: dict[str, str], now: datetime
    ) -> etree._Element:
        identify = _element("Identify")
        _sub(identify, "repositoryName", self.config.repository_name)
        _sub(identify, "baseURL", self.config.base_url)
        _sub(identify, "protocolVersion", "2.0")
        for email in self.config.admin_emails:
            _sub(identify, "adminEmail", email)
        _sub(identify, "earliestDatestamp", self.catalog.earliest() or w3cdtf(now))
        _sub(identify, "deletedRecord", "persistent")
        _sub(identify, "granularity", GRANULARITY)
        description = etree.SubElement(
            _sub(identify, "description"),
            f"{{{OAI_ID}}}oai-identifier",
            {f"{{{XSI}}}schemaLocation": f"{OAI_ID} {OAI_ID_XSD}"},
            nsmap={None: OAI_ID, "xsi": XSI},
        )
        for local, value in (
            ("scheme", "oai"),
            ("repositoryIdentifier", self.config.repository_identifier),
            ("delimiter", ":"),
            ("sampleIdentifier", f"{self.prefix}{self._sample_id()}"),
        ):
            etree.SubElement(description, f"{{{OAI_ID}}}{local}").text = value
        return identify

    def _sample_id(self) -> str:
        rows = self.catalog.page(start="", end="~", spec=None, after=None, limit=1, prefix="oai_dc")
        return rows[0].id if rows else "bag-id"

    def _list_metadata_formats(
        self, arguments: dict[str, str], echo: dict[str, str], _now: datetime
    ) -> etree._Element:
        names: Iterable[str] = self.formats
        if "identifier" in arguments:
            item = self._item(arguments["identifier"], echo)
            names = [name for name in self.formats if name in item.formats]
            if not names:
                raise NoMetadataFormatsError(
                    f"no format is available for {arguments['identifier']}"
                )
        listed = _element("ListMetadataFormats")
        for name in names:
            entry = _sub(listed, "metadataFormat")
            _sub(entry, "metadataPrefix", self.formats[name].prefix)
            _sub(entry, "schema", self.formats[name].schema)
            _sub(entry, "metadataNamespace", self.formats[name].namespace)
        return listed

    def _list_sets(
        self, arguments: dict[str, str], echo: dict[str, str], now: datetime
    ) -> etree._Element:
        if "resumptionToken" in arguments:
            position = self._position(arguments["resumptionToken"], "ListSets", now)
            echo["resumptionToken"] = arguments["resumptionToken"]
        else:
            if not self.catalog.has_sets():
                raise NoSetHierarchyError("this repository has no sets")
            position = self._start("ListSets", "", "", "", None, self.catalog.count_sets(), now)
        found = self.catalog.sets(position.after_id, self.config.page_size + 1)
        if not found and position.cursor == 0:
            raise NoSetHierarchyError("this repository has no sets")
        more = len(found) > self.config.page_size
        found = found[: self.config.page_size]
        listed = _element("ListSets")
        for spec, name in found:
            entry = _sub(listed, "set")
            _sub(entry, "setSpec", spec)
            _sub(entry, "setName", name)
        last = ("", found[-1][0]) if found else ("", "")
        listed.extend(self._token(position, len(found), more, last, now))
        return listed

    def _get_record(
        self, arguments: dict[str, str], echo: dict[str, str], _now: datetime
    ) -> _Records:
        prefix = arguments["metadataPrefix"]
        echo["metadataPrefix"] = prefix
        item = self._item(arguments["identifier"], echo)
        if prefix not in self.formats:
            raise CannotDisseminateFormatError(f"{prefix!r} is not a format of this repository")
        if not item.deleted and prefix not in item.formats:
            raise CannotDisseminateFormatError(f"{prefix!r} is not available for this item")
        return _Records("GetRecord", self.formats[prefix], [item])

    def _list_identifiers(
        self, arguments: dict[str, str], echo: dict[str, str], now: datetime
    ) -> etree._Element:
        _prefix, items, token = self._list("ListIdentifiers", arguments, echo, now)
        listed = _element("ListIdentifiers")
        listed.extend(self._header(item) for item in items)
        listed.extend(token)
        return listed

    def _list_records(
        self, arguments: dict[str, str], echo: dict[str, str], now: datetime
    ) -> _Records:
        prefix, items, token = self._list("ListRecords", arguments, echo, now)
        return _Records("ListRecords", self.formats[prefix], items, token)

    # -- lists ---------------------------------------------------------------------------

    def _list(
        self, verb: str, arguments: dict[str, str], echo: dict[str, str], now: datetime
    ) -> tuple[str, list[Item], list[etree._Element]]:
        """A page of a list: its metadataPrefix, its items, its resumptionToken."""
        if "resumptionToken" in arguments:
            position = self._position(arguments["resumptionToken"], verb, now)
            echo["resumptionToken"] = arguments["resumptionToken"]
        else:
            position = self._first_position(verb, arguments, echo, now)
        limit = self.config.page_size
        after = (position.after_date, position.after_id) if position.after_id else None
        items = self.catalog.page(
            start=position.start,
            end=position.end,
            spec=position.spec,
            after=after,
            limit=limit + 1,
            prefix=position.prefix,
        )
        more = len(items) > limit
        items = items[:limit]
        if not items:
            if position.cursor == 0:
                raise NoRecordsMatchError("no record matches these arguments")
            # The list ended exactly at the last page boundary: the collection changed.
            raise BadResumptionTokenError(
                "the list changed since this token was issued; start again"
            )
        last = (items[-1].datestamp, items[-1].id)
        return position.prefix, items, self._token(position, len(items), more, last, now)

    def _first_position(
        self, verb: str, arguments: dict[str, str], echo: dict[str, str], now: datetime
    ) -> tokens.Position:
        start, end = "0000-01-01T00:00:00Z", w3cdtf(now)  # until, when not given, is frozen now
        granularity = None
        problems: list[OAIError] = []
        for name in ("from", "until"):
            if name in arguments:
                parsed = _datew3cdtf(arguments[name], name == "until")
                if parsed is None:
                    problems.append(
                        BadArgumentError(f"{name}={arguments[name]!r} is not a UTC date")
                    )
                    continue
                value, kind = parsed
                if granularity and kind != granularity:
                    problems.append(
                        BadArgumentError("from and until must have the same granularity")
                    )
                granularity = kind
                if name == "from":
                    start = value
                else:
                    end = value
        if not problems and "from" in arguments and "until" in arguments and start > end:
            problems.append(BadArgumentError("from is later than until"))
        if problems:
            raise ExceptionGroup("OAI-PMH errors", problems)
        for name in ("from", "until", "metadataPrefix", "set"):
            if name in arguments:
                echo[name] = arguments[name]
        prefix = arguments["metadataPrefix"]
        if prefix not in self.formats:
            raise CannotDisseminateFormatError(f"{prefix!r} is not a format of this repository")
        spec = arguments.get("set")
        if spec is not None and not self.catalog.has_sets():
            raise NoSetHierarchyError("this repository has no sets")
        size = self.catalog.count(start=start, end=end, spec=spec, prefix=prefix)
        if size == 0:
            raise NoRecordsMatchError("no record matches these arguments")
        return self._start(verb, prefix, start, end, spec, size, now)

    def _start(
        self,
        verb: str,
        prefix: str,
        start: str,
        end: str,
        spec: str | None,
        size: int,
        now: datetime,
    ) -> tokens.Position:
        expires = int((now + timedelta(seconds=self.config.token_lifetime)).timestamp())
        return tokens.Position(verb, prefix, start, end, spec, "", "", 0, size, expires)

    def _position(self, token: str, verb: str, now: datetime) -> tokens.Position:
        try:
            return tokens.read(token, self.catalog.secret(), verb, int(now.timestamp()))
        except tokens.TokenError as exc:
            raise BadResumptionTokenError(str(exc)) from exc

    def _token(
        self,
        position: tokens.Position,
        sent: int,
        more: bool,
        last: tuple[str, str],
        now: datetime,
    ) -> list[etree._Element]:
        """A page's resumptionToken: none for a one-page list, empty on the last page.

        Each token lives ``token_lifetime`` from when it is issued.
        """
        if not more and position.cursor == 0:
            return []
        size = max(position.size, position.cursor + sent)
        common = {"completeListSize": str(size), "cursor": str(position.cursor)}
        if not more:
            return [_element("resumptionToken", common)]
        expires = now + timedelta(seconds=self.config.token_lifetime)
        following = replace(
            position,
            after_date=last[0],
            after_id=last[1],
            cursor=position.cursor + sent,
            size=size,
            expires=int(expires.timestamp()),
        )
        token = _element("resumptionToken", {"expirationDate": w3cdtf(expires), **common})
        token.text = tokens.issue(following, self.catalog.secret())
        return [token]

    # -- items and records -------------------------------------------------------------

    def _item(self, identifier: str, echo: dict[str, str]) -> Item:
        if not _URI.fullmatch(identifier):
            raise BadArgumentError(f"{identifier!r} is not a URI")
        echo["identifier"] = identifier
        local = identifier[len(self.prefix) :] if identifier.startswith(self.prefix) else None
        item = self.catalog.item(local) if local else None
        if item is None:
            raise IdDoesNotExistError(f"{identifier} is not an item of this repository")
        return item

    def _write_header(self, stream: writing.Stream, item: Item) -> None:
        """``_header``, into a stream."""
        attrib, leaves = self._header_parts(item)
        stream.leaves(_tag("header"), attrib, [(_tag(tag), text, None) for tag, text in leaves])

    def _header(self, item: Item) -> etree._Element:
        attrib, leaves = self._header_parts(item)
        header = _element("header", attrib)
        for tag, text in leaves:
            _sub(header, tag, text)
        return header

    def _header_parts(self, item: Item) -> tuple[dict[str, str] | None, list[tuple[str, str]]]:
        """A record's header: its attributes, and its elements' (local name, text)."""
        leaves = [("identifier", self.prefix + item.id), ("datestamp", item.datestamp)]
        if item.setspec:
            leaves.append(("setSpec", item.setspec))
        return ({"status": "deleted"} if item.deleted else None), leaves

    @contextmanager
    def _source(self, item: Item, fmt: Format) -> Iterator[_Source]:
        """A live item's metadata while the record is written: its document, open, when it
        is the file the catalog found fit to serve or is found fit now (it changed since);
        else Dublin Core from bag-info (oai_dc) or None (it cannot be served).

        The document is opened straight away, through the hardened reader's file access;
        the bag itself is read only for Dublin Core from bag-info.
        """
        files = self.catalog.files(item.id)
        if files is None:
            yield None
            return
        entry = files.stat(fmt.source)  # a device, a FIFO or a link is not even opened
        try:
            if entry is None or entry.kind is not Kind.FILE:
                raise FileNotFoundError(fmt.source)
            handle = files.open(fmt.source)
        except OSError:
            yield self._fallback(item, fmt)
            return
        with handle:
            signature, span = records.read_checked(item.checked.get(fmt.source))
            try:
                fit = bool(signature) and records.signature(handle) == signature
                if not fit and records.check(handle, fmt) is None:
                    fit, span = True, records.verbatim(handle, item.id)
            except OSError:
                fit = False
            yield records.Document(handle, span) if fit else self._fallback(item, fmt)

    def _fallback(self, item: Item, fmt: Format) -> etree._Element | None:
        """oai_dc from what bag-info says, for a bag without a dc.xml fit to serve; None for
        other formats."""
        if fmt.prefix != "oai_dc":
            return None
        bag = self.catalog.read(item.id)
        return None if bag is None else _dc_from_bag_info(bag, item.id)


# A record's metadata: a checked document, open; an element made for it; None: not served.
_Source = records.Document | etree._Element | None
_PIECE = 1 << 16  # what a streamed response gathers before handing it on


@dataclass
class _Records:
    """A body of records (GetRecord, ListRecords), written as their files are read."""

    verb: str
    format: Format
    items: list[Item]
    trailer: list[etree._Element] = field(default_factory=list)  # the resumptionToken
    ready: dict[str, _Source] = field(default_factory=dict)  # opened before the response


_Body = etree._Element | _Records | list[etree._Element]
_Handler = Callable[[dict[str, str], dict[str, str], datetime], "etree._Element | _Records"]


class _Pieces:
    """Where a streamed response is written: bytes gathered until taken."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self._pieces.append(data)
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        taken = b"".join(self._pieces)
        self._pieces.clear()
        self.size = 0
        return taken


_SCHEMA_LOCATION = {f"{{{XSI}}}schemaLocation": f"{OAI} {OAI_XSD}"}


def _tag(local: str) -> str:
    return f"{{{OAI}}}{local}"


def _errors(errors: Sequence[OAIError]) -> list[etree._Element]:
    found = []
    for e in errors:
        error = _element("error", {"code": e.code})
        # Messages quote what the harvester sent: whatever XML cannot hold is replaced.
        error.text = xml_safe(e.message)
        found.append(error)
    return found


def _verb_and_arguments(pairs: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    verbs = [value for name, value in pairs if name == "verb"]
    if len(verbs) != 1 or verbs[0] not in VERBS:
        shown = "none" if not verbs else "repeated" if len(verbs) > 1 else f"{verbs[0]!r}"[:80]
        raise BadVerbError(f"the verb is missing, repeated or unknown ({shown})")
    arguments: dict[str, str] = {}
    repeated = []
    for name, value in pairs:
        if name == "verb":
            continue
        if name in arguments:
            repeated.append(name)
        arguments[name] = value
    if repeated:
        raise BadArgumentError(
            f"arguments may not be repeated: {', '.join(repr(n) for n in sorted(set(repeated)))}"[
                :200
            ]
        )
    return verbs[0], arguments


def _datew3cdtf(value: str, until: bool) -> tuple[str, str] | None:
    """A from/until value as an inclusive full datestamp and its granularity, or None."""
    day = _DAY.fullmatch(value)
    if day:
        try:
            date(int(day[1]), int(day[2]), int(day[3]))
        except ValueError:
            return None
        return f"{value}T23:59:59Z" if until else f"{value}T00:00:00Z", "day"
    second = _SECOND.fullmatch(value)
    if second:
        try:
            year, month, day_, hour, minute, sec = (int(g) for g in second.groups())
            datetime(year, month, day_, hour, minute, sec, tzinfo=UTC)
        except ValueError:
            return None
        return value, "second"
    return None


def _dc_from_bag_info(bag: Bag, bag_id: str) -> etree._Element:
    """oai_dc for a bag without metadata/dc.xml (a foreign bag): what bag-info says, as the
    bag reader decodes it (declared encoding, continuation lines folded)."""
    items = [(label, value) for label, value in bag.items() if not xml_problem(value)]
    record = record_from_bag_info(items, bag_id)
    known = record.values("identifier")
    if bag_id not in known:
        record = record.with_values("identifier", [bag_id, *known])
    return dc.oai_dc(record)
