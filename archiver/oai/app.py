"""The OAI-PMH endpoint as a WSGI application, and the production server that runs it.

    GET|POST /oai      OAI-PMH 2.0 (POST: application/x-www-form-urlencoded)
    GET /              a redirect to Identify (the server mounts the web view there instead)

Every OAI-PMH answer, errors included, is HTTP 200 text/xml (checklist A.4). A browser
(its Accept header ranks text/html above the XML types it names and */*) gets the same
response rendered as HTML here, on the server, by oai.xsl: no response carries an
xml-stylesheet instruction (browsers are removing XSLT). The catalog is refreshed from the
collection by a background thread, never on a request's time.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import suppress
from importlib import resources as package_files
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from archiver.clock import Clock, common_log_time
from archiver.collection import Collection
from archiver.collection.catalog import Catalog
from archiver.errors import UsageError
from archiver.oai.protocol import Config, Provider
from archiver.oai.records import FORMATS
from archiver.xml import parsing
from archiver.xml.characters import xml_escaped, xml_problem

StartResponse = Callable[..., Any]  # (status, headers[, exc_info])
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# The longest request we read: OAI-PMH arguments (an identifier, a token) fit in a few KB.
MAX_BODY = 64 << 10
# What chunked transfer encoding adds around a body (chunk sizes, line breaks): waitress
# counts it against its limit.
_CHUNK_FRAMING = 4 << 10
_log = logging.getLogger("archiver.oai")


def _renderer() -> etree.XSLT:
    """oai.xsl, compiled: an OAI-PMH response as an HTML page. It may read and write
    nothing (no document(), no output files)."""
    data = package_files.files("archiver.oai").joinpath("oai.xsl").read_bytes()
    return etree.XSLT(parsing.parse_bytes(data), access_control=etree.XSLTAccessControl.DENY_ALL)


def prefers_html(accept: str) -> bool:
    """Whether an Accept header ranks text/html above application/xml, text/xml and */*,
    naming at least one of the XML types (browsers do; Java's default Accept names
    text/html and no XML type, and a harvester that names none wants the XML)."""
    ranks: dict[str, float] = {}
    for part in accept.split(",")[:64]:
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks.setdefault(media.lower(), quality)
    html = ranks.get("text/html", 0.0)
    named = [ranks[kind] for kind in ("application/xml", "text/xml") if kind in ranks]
    return bool(named) and html > max(named) and html > ranks.get("*/*", 0.0)


_DOMAIN = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")
_EMAIL = re.compile(r"\S+@(\S+\.)+\S+")
DEFAULT_IDENTIFIER = "archiver.local"


def _usable_base_url(url: str) -> bool:
    """Whether ``url`` can be Identify's baseURL: http(s), a host, a valid port, no query
    or fragment, nothing a URI cannot hold unescaped (whitespace, controls)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return False
    parts = urlsplit(url)
    try:
        port = parts.port  # ValueError when it is no number, or out of range
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and port != 0
        and not parts.query
        and not parts.fragment
    )


def configuration(
    collection: Collection,
    *,
    base_url: str,
    repository_name: str | None = None,
    admin_emails: Sequence[str] = (),
    repository_identifier: str = DEFAULT_IDENTIFIER,
    page_size: int = 100,
    formats: Sequence[str] | None = None,
) -> Config:
    """The repository's OAI-PMH configuration, checked: UsageError naming every problem.
    ``formats``: the metadata prefixes served (None: all); oai_dc is always one (§3.4)."""
    problems = []
    if formats is not None:
        unknown = [name for name in formats if name not in FORMATS]
        if unknown:
            problems.append(
                f"unknown metadata format {', '.join(map(repr, unknown))} "
                f"(archiver serves {', '.join(FORMATS)})"
            )
        if "oai_dc" not in formats:
            problems.append("oai_dc must be served: every OAI-PMH repository offers it")
    if not _usable_base_url(base_url):
        problems.append(
            f"the base URL {base_url!r} must be an http(s) URL with a host (and a port, if "
            "any, of 1 to 65535), without a query, a fragment, spaces or control characters"
        )
    if not _DOMAIN.fullmatch(repository_identifier):
        problems.append(
            f"the repository identifier {repository_identifier!r} must be a domain name with "
            "a dot (oai-identifier syntax), e.g. archive.example.org"
        )
    emails = tuple(admin_emails) or (f"oai-admin@{repository_identifier}",)
    problems += [
        f"{email!r} is not an e-mail address" for email in emails if not _EMAIL.fullmatch(email)
    ]
    if page_size < 1:
        problems.append(f"a page holds at least one record, not {page_size}")
    if repository_name is not None and (problem := xml_problem(repository_name)):
        problems.append(f"the repository name cannot be written in Identify: {problem}")
    if problems:
        raise UsageError("; ".join(problems))
    # A folder's name may hold what XML cannot (a control, a byte that is not UTF-8): escaped
    # as the command line shows it.
    name = repository_name or xml_escaped(f"archiver collection {collection.path.resolve().name}")
    return Config(
        base_url,
        name,
        emails,
        repository_identifier,
        page_size=page_size,
        formats=None if formats is None else tuple(formats),
    )


class OAIApp:
    """WSGI: routes requests to the provider; never lets an exception become a traceback."""

    def __init__(self, provider: Provider | None, clock: Clock) -> None:
        self.provider = provider  # set once the server knows its address
        self.clock = clock
        self.renderer = _renderer()
        self._rendering = threading.Lock()  # an XSLT object is not for two threads at once
        self._refresher: Refresher | None = None

    def close(self) -> None:
        """Stop refreshing the catalog (the app answers requests from what it has)."""
        if self._refresher is not None:
            self._refresher.stopped.set()
            self._refresher.join()
            self._refresher = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception:  # the protocol answers every request; this is a bug, logged
            _log.exception("OAI-PMH request failed")
            return _plain(start_response, "500 Internal Server Error", "internal error\n")

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/" and method in ("GET", "HEAD"):
            start_response(
                "302 Found", [("Location", "oai?verb=Identify"), ("Content-Length", "0")]
            )
            return [b""]
        if path != "/oai":
            return _plain(start_response, "404 Not Found", "not found: the endpoint is /oai\n")
        if method in ("GET", "HEAD"):
            query = environ.get("QUERY_STRING", "")
        elif method == "POST":
            kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
            if kind != "application/x-www-form-urlencoded":
                return _plain(
                    start_response,
                    "415 Unsupported Media Type",
                    "POST needs application/x-www-form-urlencoded\n",
                )
            body = _body(environ)
            if body is None:
                return _plain(start_response, "413 Content Too Large", "request too large\n")
            query = body.decode("utf-8", "replace")
        else:
            start_response(
                "405 Method Not Allowed", [("Allow", "GET, POST"), ("Content-Length", "0")]
            )
            return [b""]
        if len(query) > MAX_BODY:
            query = "verb=" + "x" * 16  # too long to be a real request: answered as badVerb
        pairs = parse_qsl(
            query[:MAX_BODY], keep_blank_values=True, encoding="utf-8", errors="replace"
        )
        if self.provider is None:
            return _plain(
                start_response, "503 Service Unavailable", "starting\n", [("Retry-After", "1")]
            )
        pieces = self.provider.stream(pairs, self.clock.now())
        if prefers_html(environ.get("HTTP_ACCEPT", "")):
            page = self._render(b"".join(pieces))
            start_response(
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(page))),
                    ("Vary", "Accept"),
                    ("Content-Security-Policy", _PAGE_POLICY),
                    ("X-Content-Type-Options", "nosniff"),
                ],
            )
            return [b""] if method == "HEAD" else [page]
        # The request is settled with the first piece: a failure up to here is still a 500.
        # Most responses are whole in it, and go out with their length, as before.
        begun = [next(pieces)]
        with suppress(StopIteration):
            begun.append(next(pieces))
        headers = [("Content-Type", "text/xml; charset=utf-8"), ("Vary", "Accept")]
        if len(begun) == 1:
            headers.append(("Content-Length", str(len(begun[0]))))
        start_response("200 OK", headers)
        if method == "HEAD":
            pieces.close()
            return [b""]
        return [begun[0]] if len(begun) == 1 else _Streamed(begun, pieces)

    def _render(self, response: bytes) -> bytes:
        """An OAI-PMH response as the HTML page oai.xsl makes of it."""
        document = parsing.parse_bytes(response)
        with self._rendering:
            page = self.renderer(document)
        return etree.tostring(page, method="html", encoding="UTF-8", doctype="<!doctype html>")


# The rendered pages style themselves (one <style> element) and run nothing.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class _Streamed:
    """A response body handed on as it is written (records are read as they are sent).

    The server closes it when the response ends or the client goes: the bags' files open
    for it are closed then. A record that fails to read once the response has begun (its
    file changed since it was checked) ends the response there, logged: the client sees a
    broken response, never a wrong one.
    """

    def __init__(self, begun: list[bytes], rest: Generator[bytes, None, None]) -> None:
        self._begun = begun
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        while self._begun:
            yield self._begun.pop(0)
        try:
            yield from self._rest
        except Exception:
            _log.exception("OAI-PMH response ended early")
            raise

    def close(self) -> None:
        self._rest.close()


class AccessLog:
    """WSGI middleware writing one Common Log Format line per request to ``stream``:
    ``HOST - - [TIME] "REQUEST LINE" STATUS SIZE``, SIZE being the body bytes sent ("-" for
    none). The line is written when the response ends (the server closes its body), so a
    streamed response is logged with the bytes that really went out."""

    def __init__(self, app: WSGIApp, stream: TextIO, clock: Clock) -> None:
        self.app = app
        self.stream = stream
        self.clock = clock
        self._lock = threading.Lock()  # one line at a time from the server's threads

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        received = self.clock.now()
        status = ["-"]

        def recorded(code: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, *rest)

        body = self.app(environ, recorded)

        def write(sent: int) -> None:
            line = (
                f"{environ.get('REMOTE_ADDR') or '-'} - - [{common_log_time(received)}] "
                f'"{_request_line(environ)}" {status[0]} {sent or "-"}\n'
            )
            with self._lock:
                self.stream.write(line)
                self.stream.flush()

        return _Counted(body, write)


class _Counted:
    """A response body passed on as it is, its bytes counted; ``done`` is told the count
    once, when the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done: Callable[[int], None] | None = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._body:
            self._sent += len(piece)
            yield piece

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done(self._sent)


# What a log line cannot hold as it is: quotes and backslashes (they delimit the request
# line), and anything not printable ASCII (a request line is read as Latin-1).
_LOG_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\"}


def _request_line(environ: dict[str, Any]) -> str:
    target = environ.get("REQUEST_URI") or (
        environ.get("PATH_INFO", "")
        + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
    )
    line = f"{environ.get('REQUEST_METHOD', '-')} {target} {environ.get('SERVER_PROTOCOL', '-')}"
    return "".join(
        _LOG_ESCAPES.get(ord(c), c) if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in line
    )


def _body(environ: dict[str, Any]) -> bytes | None:
    """A POST body of at most MAX_BODY bytes, or None when it is longer (or its declared
    length is not a number): never more than MAX_BODY + 1 bytes are read.

    Without a Content-Length (a chunked body, under a server that does not count it for
    us), the body is read only when the server says its input ends with the body
    (``wsgi.input_terminated``); otherwise, as PEP 3333 asks, it is taken to be empty.
    """
    stream = environ["wsgi.input"]
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared:
        length = int(declared) if declared.isdigit() else -1
        if not 0 <= length <= MAX_BODY:
            return None
        data = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        data = stream.read(MAX_BODY + 1)
    else:
        return b""
    return bytes(data) if len(data) <= MAX_BODY else None


def _plain(
    start_response: StartResponse,
    status: str,
    message: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    data = message.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    start_response(status, headers + (extra or []))
    return [data]


class Refresher(threading.Thread):
    """Keeps the catalog in step with the collection, every ``interval`` seconds."""

    def __init__(self, catalog: Catalog, clock: Clock, interval: float) -> None:
        super().__init__(name="archiver-catalog", daemon=True)
        self.catalog = catalog
        self.clock = clock
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.catalog.refresh(self.clock.now())
            except Exception:  # a bad moment on disk must not stop the server
                _log.exception("catalog refresh failed")


def oai_app(
    collection: Collection | str | os.PathLike[str],
    *,
    base_url: str,
    repository_name: str | None = None,
    admin_emails: Sequence[str] = (),
    repository_identifier: str = DEFAULT_IDENTIFIER,
    page_size: int = 100,
    refresh_seconds: float | None = 30.0,
    clock: Clock | None = None,
) -> OAIApp:
    """A WSGI application serving ``collection`` over OAI-PMH 2.0, for any WSGI server.

    ``base_url`` is the address harvesters use (the application answers at ``/oai`` below
    wherever it is mounted, with ``/oai.xsl`` and a redirect at ``/``). Records have
    identifiers ``oai:REPOSITORY_IDENTIFIER:BAG_ID``. The catalog is brought up to date
    now, then every ``refresh_seconds`` by a background thread (None: never again; call
    ``close()`` to stop it). Raises UsageError for a bad configuration.
    """
    col = collection if isinstance(collection, Collection) else Collection(collection)
    clock = clock or Clock.from_environment()
    config = configuration(
        col,
        base_url=base_url,
        repository_name=repository_name,
        admin_emails=admin_emails,
        repository_identifier=repository_identifier,
        page_size=page_size,
    )
    catalog = col.catalog()
    catalog.refresh(clock.now())
    app = OAIApp(Provider(catalog, config), clock)
    if refresh_seconds is not None:
        app._refresher = Refresher(catalog, clock, refresh_seconds)
        app._refresher.start()
    return app


# A connection with no request in progress is closed after this many seconds: unbounded,
# a hundred idle sockets locked every harvester out (waitress's default limit is 100
# connections, its default timeout two minutes).
IDLE_TIMEOUT = 15
# Open connections at once; past it, new ones wait in the listen backlog until one closes.
CONNECTION_LIMIT = 1000
# Descriptors kept for what is not a connection: the catalog, bags being read, the log.
_OTHER_FILES = 64


def _connections_allowed(wanted: int) -> int:
    """``wanted``, or fewer if this process may not open that many files: past its limit,
    waitress could accept nothing and would spin on the listening socket."""
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted + _OTHER_FILES <= soft:
        return wanted
    allowed = max(1, soft - _OTHER_FILES)
    _log.warning(
        "at most %d connections at once, not %d: this process may open only %d files",
        allowed,
        wanted,
        soft,
    )
    return allowed


# waitress warns "Task queue depth is N" for every request that finds no idle thread: under
# a burst of harvesting, a line per request (3,000 in the 30 s of the soak benchmark).
# One line a minute, counting the others, tells an operator as much.
QUEUE_WARNING_INTERVAL = 60.0


class QueueWarnings(logging.Filter):
    """Lets one of waitress's queue-depth warnings through per ``interval`` seconds; the
    next one let through says how many were held back and the deepest queue among them."""

    def __init__(self, interval: float, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.now = now
        self._lock = threading.Lock()  # waitress warns from the thread that queues
        self._last: float | None = None
        self._held = 0
        self._deepest = 0

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        depth = args[0] if len(args) == 1 and isinstance(args[0], int) else 0
        with self._lock:
            moment = self.now()
            if self._last is not None and moment - self._last < self.interval:
                self._held += 1
                self._deepest = max(self._deepest, depth)
                return False
            if self._held:
                record.msg = f"{record.msg} (and %d such warnings since the last, deepest %d)"
                record.args = (*args, self._held, max(self._deepest, depth))
            self._last, self._held, self._deepest = moment, 0, 0
            return True


def serve(
    catalog: Catalog,
    configure: Callable[[str, int], Config],
    *,
    host: str,
    port: int,
    clock: Clock,
    refresh_seconds: float = 30.0,
    threads: int = 8,
    idle_timeout: int = IDLE_TIMEOUT,
    connection_limit: int = CONNECTION_LIMIT,
    announce: Callable[[Config], None] | None = None,
    access_log: TextIO | None = None,
    trusted_proxy: str | None = None,
    view: dict[str, Any] | None = None,
) -> None:
    """Run the production server (waitress) until interrupted; each request is logged to
    ``access_log`` in Common Log Format when one is given.

    ``configure`` gets the address really bound (port 0 picks a free one) and returns the
    repository's configuration, whose base URL usually names that address. UsageError when
    the address cannot be listened on (in use, an unknown host): found before the catalog
    is read, which can take long.

    A connection with no request in progress is closed once idle for ``idle_timeout``
    seconds; at most ``connection_limit`` are open at once (fewer if the process may not
    open that many files), the others wait in the listen backlog. waitress's warning that
    requests are queueing is logged once a minute at most (QueueWarnings).

    ``trusted_proxy``: the address of the one proxy in front, whose X-Forwarded-For
    (its last address) waitress makes each request's REMOTE_ADDR: the client the access log
    names and the login limit counts. Without it, or from any other peer, the header is
    dropped (a client cannot name itself).

    Beside /oai the server answers the web view (archiver.web.app.view_app, given ``view``
    as its options: access, users, ledger, secure_cookies).
    """
    from waitress.server import create_server

    from archiver.web.app import Site, view_app

    app = OAIApp(None, clock)
    site = Site(app, view_app(catalog, clock=clock, **(view or {})))
    # waitress takes no "none" for these: given only with a proxy
    proxy: dict[str, Any] = (
        {
            "trusted_proxy": trusted_proxy,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for"},
        }
        if trusted_proxy
        else {}
    )
    try:
        server = create_server(
            site if access_log is None else AccessLog(site, access_log, clock),
            host=host,
            port=port,
            threads=threads,
            ident="archiver",
            clear_untrusted_proxy_headers=True,
            **proxy,
            # Idle connections are bounded in time, looked for every second; poll(), as
            # select() cannot watch a descriptor numbered 1024 or more.
            channel_timeout=idle_timeout,
            cleanup_interval=1,
            connection_limit=_connections_allowed(connection_limit),
            asyncore_use_poll=True,
            # Bodies over the limit are refused as they arrive, never spooled to disk first
            # (the app refuses them too, under any server).
            max_request_body_size=MAX_BODY + _CHUNK_FRAMING,
        )
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from exc
    try:
        catalog.refresh(clock.now())
        bound_host = str(getattr(server, "effective_host", host))
        bound_port = int(getattr(server, "effective_port", port))
        config = configure(bound_host, bound_port)
        app.provider = Provider(catalog, config)
        refresher = Refresher(catalog, clock, refresh_seconds)
        refresher.start()
        if announce is not None:
            announce(config)
        queue_log = logging.getLogger("waitress.queue")
        quieter = QueueWarnings(QUEUE_WARNING_INTERVAL)
        queue_log.addFilter(quieter)
        try:
            server.run()
        finally:
            queue_log.removeFilter(quieter)
            refresher.stopped.set()
    finally:
        server.close()
