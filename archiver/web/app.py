"""The web view: a collection's bags listed, searched and read, as server-rendered HTML.

    GET /                         the collection: bags by title, date or id, a page at a time
    GET /search?q=WORDS           full-text search over the metadata and the preserved texts
    GET /bags/ID                  a bag: its record, its files and digests, its documents
    GET /bags/ID/PATH             a file of the bag: a text as readable HTML, ?download as
                                  stored (ETag = its SHA-256, Range, Content-Disposition)
    a withdrawn bag               410, with the reason and the date (a tombstone page)

Flask, with Jinja2's autoescaping: every value from a bag is text in the page, never markup.
Everything the pages show comes from the catalog (collection/catalog.py: the view table and
its full-text index, kept current by the catalog's refresh) and from the bags themselves,
read through the hardened reader; a file is served only when the bag's inventory holds it
under exactly that path, so no request names a file outside a bag.
"""

from __future__ import annotations

import hmac
import logging
import mimetypes
import os
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from lxml import etree

from archiver import layout
from archiver.bagit import archives
from archiver.bagit.reader import Bag, read_bag
from archiver.clock import Clock
from archiver.collection import Collection, bags
from archiver.collection.bags import RECORDS_DIR
from archiver.collection.catalog import MARK_END, MARK_START, Catalog, Filters, Item
from archiver.collection.ledger import LEDGER_FILE, BagCheck, BagStatus, Ledger
from archiver.collection.report import history
from archiver.collection.withdrawal import Tombstone, tombstones, withdrawal_reason
from archiver.errors import ArchiverError, UsageError
from archiver.web import users
from archiver.web.users import User
from archiver.xml import dc, premis

_log = logging.getLogger("archiver.web")
PAGE_SIZE = 50
SEARCH_HITS = 50
# A text shown as HTML: at most this much of it (the whole file stays downloadable).
TEXT_SHOWN = 4 << 20
DOCUMENTS = (layout.DC_XML, layout.METS_XML, layout.PREMIS_XML)
_ORDERS = {"title": "title", "date": "date", "id": "identifier", "checked": "last check"}
_TEXT_SUFFIXES = re.compile(r"\.(txt|text|md|csv|tsv|xml|html?|json)$", re.IGNORECASE)


def view_app(
    catalog: Catalog,
    *,
    ledger: Path | None = None,
    oai_path: str = "/oai",
    access: str = "open",
    users: Path | None = None,
    secure_cookies: bool = False,
    clock: Clock | None = None,
    repository_identifier: str = "archiver.local",
    oai_formats: Sequence[str] | None = None,
) -> Flask:
    """The web view of the collection ``catalog`` indexes (a WSGI application); fixity
    from the collection's ledger (``ledger``: where it is, when not in .archiver/).

    ``access``: "open" (anyone reads everything), "metadata" (descriptions for anyone, the
    texts themselves for those logged in) or "closed" (nothing but the login page without
    logging in). ``users``: the users file (archiver.web.users) people log in with;
    ``secure_cookies`` when the view is reached over HTTPS. A bag page links to its
    OAI-PMH records: ``oai:REPOSITORY_IDENTIFIER:ID`` in ``oai_formats`` (None: all)."""
    if access not in ACCESS:
        raise UsageError(f"access is one of {', '.join(ACCESS)}, not {access!r}")
    app = Flask(__name__)
    fixity = Fixity(ledger or catalog.collection / RECORDS_DIR / LEDGER_FILE)
    people = People(users)
    clock = clock or Clock.from_environment()
    audits = Audits(catalog, fixity.path, clock)
    attempts = Attempts()
    app.secret_key = hmac.new(catalog.secret(), b"archiver web session", "sha256").digest()
    app.config.update(
        SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=SESSION_HOURS * 3600,
        MAX_CONTENT_LENGTH=64 << 10,  # a form here is a few fields
    )

    def user() -> User | None:
        name = session.get("user")
        return people.get(name) if isinstance(name, str) else None

    def reads_texts() -> bool:
        return access == "open" or user() is not None

    def csrf_token() -> str:
        token = session.get("csrf")
        if not isinstance(token, str):
            token = session["csrf"] = secrets.token_urlsafe(32)
        return token

    @app.before_request
    def _guard() -> Any:
        g.started = time.perf_counter()
        if request.method == "POST":
            sent = request.form.get("csrf", "")
            held = session.get("csrf")
            if not isinstance(held, str) or not hmac.compare_digest(
                sent.encode("utf-8", "surrogateescape"), held.encode()
            ):  # (as bytes: compare_digest refuses str that is not ASCII)
                abort(403, description="This form has expired or did not come from this site.")
        if access == "closed" and user() is None and request.endpoint not in _PUBLIC:
            return _to_login()
        return None

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = _local(request.values.get("next", ""))
        if request.method == "GET":
            return render_template("login.html", target=target, failed=False)
        name = request.form.get("name", "")[:64]
        client = request.remote_addr or ""
        wait = attempts.wait(client, name)
        if wait:
            response = render_template("login.html", target=target, failed=True, wait=wait)
            return response, 429, {"Retry-After": str(wait)}
        found = people.check(name, request.form.get("password", ""))
        if found is None:
            attempts.failed(client, name)
            return render_template("login.html", target=target, failed=True), 401
        session.clear()
        session.permanent = True
        session["user"] = found.name
        session["csrf"] = secrets.token_urlsafe(32)
        return redirect(target, 303)

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("collection"), 303)

    @app.post("/bags/<bag_id>/withdraw")
    def withdraw(bag_id: str) -> Any:
        _admin(user())
        try:  # the reason as the tombstone will keep it, or why it cannot be one
            reason = withdrawal_reason(request.form.get("reason", ""))
        except UsageError as exc:
            said = str(exc)
            abort(400, description=f"{said[:1].upper()}{said[1:]}.")
        if catalog.item(bag_id) is None:
            abort(404)
        try:
            Collection(catalog.collection).withdraw(bag_id, reason=reason, clock=clock)
        except ArchiverError as exc:
            abort(409, description=str(exc))
        catalog.refresh(clock.now())
        return redirect(url_for("bag", bag_id=bag_id), 303)

    @app.post("/bags/<bag_id>/audit")
    def audit_bag(bag_id: str) -> Any:
        """Check this bag now, on the server's audit thread; the bag page then shows a
        check running, and its timeline the result once it is recorded."""
        _admin(user())
        _live_item(catalog, bag_id)
        audits.start([bag_id])
        return redirect(url_for("bag", bag_id=bag_id), 303)

    @app.route("/audits", methods=["GET", "POST"])
    def audit_runs() -> Any:
        _admin(user())
        if request.method == "POST":
            audits.start()
            return redirect(url_for("audit_runs"), 303)
        runs = fixity.read(lambda ledger: history(ledger)["runs"]) or []
        return render_template(
            "audits.html", runs=list(reversed(runs)), running=audits.running, error=audits.error
        )

    @app.get("/audits/<int:run>")
    def audit_run(run: int) -> Any:
        _admin(user())
        checks = fixity.read(lambda ledger: ledger.run_checks(run))
        if not checks:
            abort(404)
        return render_template("audit-run.html", run=run, checks=checks)

    @app.context_processor
    def _site() -> dict[str, Any]:
        return {
            "oai_path": oai_path,
            "collection_name": catalog.collection.resolve().name,
            "user": user(),
            "csrf_token": csrf_token,
        }

    @app.get("/")
    def collection() -> Any:
        order = request.args.get("sort", "title")
        if order not in _ORDERS:
            order = "title"
        chosen = {name: request.args.get(name, "")[:200] for name in FACETS}
        only = Filters(
            set=chosen["set"] or None,
            type=chosen["type"] or None,
            language=chosen["language"] or None,
            year=chosen["year"] or None,
        )
        latest = fixity.latest()
        listed = catalog.listed_ids(only)
        statuses = Counter(_status(latest, bag_id) for bag_id in listed)
        if chosen["fixity"]:
            wanted = chosen["fixity"]
            only = replace(only, ids=tuple(b for b in listed if _status(latest, b) == wanted))
        chosen_ids = listed if only.ids is None else only.ids
        total = len(chosen_ids)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(_number(request.args.get("page"), 1), pages)
        if order == "checked":
            # The checks are in the ledger, not the catalog: the page's bags are chosen
            # here, never checked first, then the longest unchecked.
            shown = sorted(
                chosen_ids,
                key=lambda b: (b in latest, latest[b][1] if b in latest else "", b),
            )[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            place = {bag_id: index for index, bag_id in enumerate(shown)}
            rows = sorted(
                catalog.listing(
                    order="id", offset=0, limit=PAGE_SIZE, only=replace(only, ids=tuple(shown))
                ),
                key=lambda row: place[row["id"]],
            )
        else:
            rows = catalog.listing(
                order=order, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, only=only
            )
        facets = catalog.facets(only)
        facets["fixity"] = sorted(statuses.items(), key=lambda pair: (-pair[1], pair[0]))
        return render_template(
            "collection.html",
            rows=[(row, latest.get(row["id"])) for row in rows],
            total=total,
            page=page,
            pages=pages,
            order=order,
            orders=_ORDERS,
            facets=facets,
            facet_names=FACETS,
            chosen=chosen,
            query={k: v for k, v in chosen.items() if v},
        )

    @app.get("/search")
    def search() -> Any:
        words = request.args.get("q", "")[:500]
        texts = reads_texts()
        hits = catalog.search(words, SEARCH_HITS, texts=texts) if words.strip() else []
        return render_template(
            "search.html",
            words=words,
            texts=texts,
            hits=[(hit, _marked(hit.snippet)) for hit in hits],
        )

    @app.get("/bags/<bag_id>")
    def bag(bag_id: str) -> Any:
        item = _live_item(catalog, bag_id)
        found = _read(catalog, bag_id)
        record = _record(found)
        digests = {m.algorithm.lower(): m.entries for m in found.payload_manifests()}
        described = _premis(found)
        seen = described.files if described is not None else {}
        files = [
            {
                "path": path,
                "size": size,
                "sha256": digests.get("sha256", {}).get(path, ""),
                "sha512": digests.get("sha512", {}).get(path, ""),
                "text": bool(_TEXT_SUFFIXES.search(path)),
                "seen": seen.get(path),
            }
            for path, size in sorted(found.inventory.payload.items())
        ]
        identifier = f"oai:{repository_identifier}:{bag_id}"
        records = [
            (prefix, f"{oai_path}?" + urlencode(
                {"verb": "GetRecord", "metadataPrefix": prefix, "identifier": identifier}
            ))
            for prefix in item.formats
            if oai_formats is None or prefix in oai_formats
        ]  # fmt: skip
        return render_template(
            "one-bag.html",
            oai_identifier=identifier,
            oai_records=records,
            texts=reads_texts(),
            timeline=_timeline(found, described, fixity.checks(bag_id)),
            fixity=fixity.latest().get(bag_id),
            checking=audits.running and (audits.bag_ids is None or bag_id in audits.bag_ids),
            audit_error=audits.error if audits.bag_ids == [bag_id] else None,
            bag_id=bag_id,
            described=catalog.described(bag_id),
            record=record,
            bag_info=found.items(),
            files=files,
            documents=[d for d in DOCUMENTS if d in found.inventory.tags],
        )

    @app.get("/bags/<bag_id>.<any(zip, tar):kind>")
    def bag_archive(bag_id: str, kind: str) -> Any:
        """The whole bag as one .zip or .tar, made while it downloads (a bag kept as an
        archive of that kind is sent as it is kept)."""
        _live_item(catalog, bag_id)  # (the archive writer reads the bag itself)
        if not reads_texts():
            return _to_login()
        place = bags.locate(catalog.collection, bag_id)
        if place is None:
            abort(404)
        name = f"{bag_id}.{kind}"
        if place.archived:
            if place.path.name != name:
                abort(404, description=f"This bag is kept as {place.path.name}.")
            return send_file(place.path, as_attachment=True, download_name=name, conditional=True)
        body = archives.stream_archive(place.path, bag_id, kind)
        response = app.response_class(
            body, mimetype="application/zip" if kind == "zip" else "application/x-tar"
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @app.get("/bags/<bag_id>/<path:path>")
    def bag_file(bag_id: str, path: str) -> Any:
        found = _live_bag(catalog, bag_id)
        if path.startswith("data/") and not reads_texts():
            return _to_login()
        size = found.inventory.size_of(path)
        if size is None:
            abort(404)
        digest = next(
            (
                m.entries[path]
                for m in found.manifests
                if m.algorithm.lower() == "sha256" and path in m.entries
            ),
            None,
        )
        readable = path.startswith("data/") and _TEXT_SUFFIXES.search(path)
        if readable and "download" not in request.args:
            try:
                with found.open(path) as handle:
                    data = handle.read(TEXT_SHOWN)
            except OSError:
                abort(404)
            text = data.decode("utf-8", "replace")
            return render_template(
                "text.html",
                bag_id=bag_id,
                path=path,
                size=size,
                lines=text.splitlines() or [""],
                cut=size > TEXT_SHOWN,
                sha256=digest,
            )
        try:
            handle = found.open(path)
        except OSError:
            abort(404)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        response = send_file(
            handle,
            mimetype=kind,
            as_attachment=path.startswith("data/"),
            download_name=path.rsplit("/", 1)[-1],
            etag=False,
            conditional=False,
        )
        response.call_on_close(handle.close)  # a 304 or a Range answer drops the stream
        response.content_length = size  # a stream's length is the inventory's: Range works
        if digest:
            response.set_etag(digest)
        return response.make_conditional(request, accept_ranges=True, complete_length=size)

    @app.errorhandler(404)
    def not_found(_: Exception) -> Any:
        return render_template("error.html", code=404, message="Not found"), 404

    @app.errorhandler(410)
    def gone(error: Any) -> Any:
        stone = getattr(error, "description", None)
        return render_template("gone.html", stone=stone), 410

    @app.errorhandler(Exception)
    def failed(error: Exception) -> Any:
        code = getattr(error, "code", None)
        if isinstance(code, int) and 400 <= code < 500:
            message = getattr(error, "description", None) or "Refused"
            return render_template("error.html", code=code, message=message), code
        _log.exception("web view request failed")
        return render_template("error.html", code=500, message="Internal error"), 500

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        started = g.get("started")
        if started is not None:  # the time this process took (to the first byte, streamed)
            spent = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={spent:.1f}"
        return response

    return app


ACCESS = ("open", "metadata", "closed")
SESSION_HOURS = 8
# What a closed view shows without logging in.
_PUBLIC = frozenset({"login", "static"})


class People:
    """The users file, read again when it changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._users: dict[str, dict[str, object]] = {}
        if path is not None:
            users.load(path)  # a broken file: exit 2 before the server starts

    def _current(self) -> dict[str, dict[str, object]]:
        if self.path is None:
            return {}
        with self._lock:
            try:
                info = os.stat(self.path)
                signature = (info.st_mtime_ns, info.st_size)
            except OSError:
                return {}
            if signature != self._seen:
                try:
                    self._users = users.load(self.path)
                except UsageError:
                    _log.warning("cannot read the users file %s", self.path)
                    self._users = {}
                self._seen = signature
            return self._users

    def get(self, name: str) -> User | None:
        entry = self._current().get(name)
        return None if entry is None else User(name, entry.get("admin") is True)

    def check(self, name: str, password: str) -> User | None:
        return users.check_password(self._current(), name, password)


class Attempts:
    """Failed logins, by client address and by user name: after FAILURES within WINDOW
    seconds, either one waits until the oldest of them is that old."""

    FAILURES = 5
    WINDOW = 900.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed: dict[str, deque[float]] = {}

    def _keys(self, client: str, name: str) -> tuple[str, str]:
        return f"client:{client}", f"name:{name}"

    def wait(self, client: str, name: str) -> int:
        """Seconds either must wait before trying again; 0 when they may."""
        now = time.monotonic()
        longest = 0.0
        with self._lock:
            for key in self._keys(client, name):
                times = self._failed.get(key)
                if times is None:
                    continue
                while times and now - times[0] > self.WINDOW:
                    times.popleft()
                if not times:
                    del self._failed[key]
                elif len(times) >= self.FAILURES:
                    longest = max(longest, self.WINDOW - (now - times[0]))
        return int(longest) + 1 if longest else 0

    def failed(self, client: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failed) > 100_000:  # a flood of names: forget the oldest
                self._failed.pop(next(iter(self._failed)))
            for key in self._keys(client, name):
                times = self._failed.setdefault(key, deque(maxlen=self.FAILURES))
                times.append(now)


def _to_login() -> Any:
    """To the login page, and back to what was asked for once logged in."""
    return redirect(url_for("login", next=request.full_path.rstrip("?")), 303)


def _admin(found: User | None) -> None:
    if found is None or not found.admin:
        abort(403, description="Only an administrator may do this.")


def _local(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site's address."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


FACETS = {
    "set": "Set",
    "type": "Type",
    "language": "Language",
    "year": "Year",
    "fixity": "Last fixity check",
}
NEVER_CHECKED = "never checked"


class Fixity:
    """What the collection's fixity ledger says, kept until the ledger changes (a ledger is
    written only by audits; the view never creates one). One ledger stays open, and is
    opened again when the file at its path is another one (made by a first audit,
    restored from a backup)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ledger: Ledger | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) of the one open
        self._seen: int | None = None  # its generation when _latest was read
        self._latest: dict[str, tuple[BagStatus, str]] = {}

    def latest(self) -> dict[str, tuple[BagStatus, str]]:
        """Bag id -> (status, when) of its last finished check."""
        with self._lock:
            ledger = self._open()
            try:
                generation = None if ledger is None else ledger.store.generation()
            except ArchiverError:
                generation = None
            if generation is None or generation != self._seen:
                self._latest = self._read(ledger, lambda lg: lg.latest_checks()) or {}
                self._seen = generation
            return self._latest

    def checks(self, bag_id: str) -> list[BagCheck]:
        return self.read(lambda ledger: ledger.bag_checks(bag_id)) or []

    def read(self, what: Callable[[Ledger], Any]) -> Any:
        """What ``what`` reads of the ledger; None when there is none or it is unreadable."""
        with self._lock:
            return self._read(self._open(), what)

    def _read(self, ledger: Ledger | None, what: Callable[[Ledger], Any]) -> Any:
        if ledger is None:
            return None
        try:
            return what(ledger)
        except ArchiverError:
            _log.warning("cannot read the fixity ledger %s", self.path)
            return None

    def _open(self) -> Ledger | None:
        """The ledger at the path, open (under the lock); None when there is none, or it
        cannot be opened."""
        try:
            info = os.stat(self.path)
        except OSError:
            self._close()
            return None
        if self._ledger is not None and self._file == (info.st_dev, info.st_ino):
            return self._ledger
        self._close()
        try:
            self._ledger = Ledger(self.path)
        except ArchiverError:
            _log.warning("cannot read the fixity ledger %s", self.path)
            return None
        self._file = (info.st_dev, info.st_ino)
        return self._ledger

    def _close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
        self._ledger, self._file, self._seen = None, None, None


class Audits:
    """Audits an administrator starts from the view: one at a time, on a thread of the
    server, recorded in the ledger like any other (a CLI audit running meanwhile holds
    the ledger, and this one then says so)."""

    def __init__(self, catalog: Catalog, ledger: Path, clock: Clock) -> None:
        self.catalog = catalog
        self.ledger = ledger
        self.clock = clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.bag_ids: list[str] | None = None  # of the audit started last: None for all

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, bag_ids: list[str] | None = None) -> bool:
        """Start an audit of the collection, or of these bags; False when one started here
        is running."""
        with self._lock:
            if self.running:
                return False
            self.error = None
            self.bag_ids = bag_ids
            self._thread = threading.Thread(
                target=self._run, args=(bag_ids,), name="archiver-web-audit"
            )
            self._thread.start()
            return True

    def _run(self, bag_ids: list[str] | None) -> None:
        try:
            Collection(self.catalog.collection, ledger=self.ledger).audit(
                clock=self.clock, bag_ids=bag_ids
            )
        except ArchiverError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug: logged, and said on the page, never lost
            _log.exception("audit started from the web view failed")
            self.error = f"the audit failed: {type(exc).__name__}"


def _status(latest: dict[str, tuple[BagStatus, str]], bag_id: str) -> str:
    found = latest.get(bag_id)
    return str(found[0]) if found else NEVER_CHECKED


@dataclass(frozen=True)
class Moment:
    """One line of a bag's timeline."""

    when: str
    what: str
    outcome: str
    detail: str


def _premis(bag: Bag) -> premis.PremisSeen | None:
    """What the bag's premis.xml says (events, file objects); None when it has none, or
    when it cannot be read."""
    if layout.PREMIS_XML not in bag.inventory.tags:
        return None
    try:
        with bag.open(layout.PREMIS_XML) as handle:
            return premis.read_premis(handle)
    except (OSError, etree.XMLSyntaxError):
        return None


def _timeline(
    bag: Bag, described: premis.PremisSeen | None, checks: list[BagCheck]
) -> list[Moment]:
    """What happened to the bag, oldest first: its PREMIS events (creation, validation,
    ingest), then every fixity check the ledger holds."""
    moments: list[Moment] = []
    if described is not None:
        moments += [Moment(e.when, e.type, e.outcome, e.detail) for e in described.events]
    elif layout.PREMIS_XML in bag.inventory.tags:
        moments.append(Moment("", "PREMIS", "unreadable", "its premis.xml cannot be read"))
    for check in checks:
        detail = (
            f"{check.files} files, {check.bytes} bytes, run {check.run_id}"
            if check.files is not None
            else f"run {check.run_id}"
        )
        moments.append(
            Moment(check.finished_at or check.started_at, "fixity check", str(check.status), detail)
        )
    return sorted(moments, key=lambda m: m.when)


class Site:
    """One WSGI application for the server: OAI-PMH at /oai, the web view everywhere
    else."""

    def __init__(self, oai: Any, view: Any) -> None:
        self.oai = oai
        self.view = view

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "") == "/oai":
            return self.oai(environ, start_response)
        return self.view(environ, start_response)


def _number(value: str | None, default: int) -> int:
    if value is None or not value.isdigit() or len(value) > 9:
        return default
    return max(1, int(value))


def _marked(snippet: str) -> list[tuple[str, bool]]:
    """A search snippet as (text, whether it is a match) pieces, for the page to escape."""
    pieces: list[tuple[str, bool]] = []
    for index, part in enumerate(snippet.split(MARK_START)):
        matched, _, rest = part.partition(MARK_END) if index else ("", "", part)
        if matched:
            pieces.append((matched, True))
        if rest:
            pieces.append((rest, False))
    return pieces


def _live_item(catalog: Catalog, bag_id: str) -> Item:
    """The catalog's item of a bag in the collection; 410 with its tombstone when it was
    withdrawn, 404 when the collection has no such bag."""
    item = catalog.item(bag_id)
    if item is None:
        abort(404)
    if item.deleted:
        abort(410, description=_tombstone(catalog, bag_id))
    return item


def _live_bag(catalog: Catalog, bag_id: str) -> Bag:
    """The bag, read with its manifests and payload listing (_live_item's 404 and 410)."""
    _live_item(catalog, bag_id)
    return _read(catalog, bag_id)


def _read(catalog: Catalog, bag_id: str) -> Bag:
    """A bag of the collection, read with its manifests and payload listing; 404 when it
    cannot be."""
    files = catalog.files(bag_id)
    if files is None:
        abort(404)
    try:
        return read_bag(files, fetch_txt=False)
    except OSError:
        abort(404)


def _tombstone(catalog: Catalog, bag_id: str) -> Tombstone | None:
    found = [stone for stone in tombstones(catalog.collection) if stone.id == bag_id]
    return found[-1] if found else None


def _record(bag: Bag) -> list[tuple[str, tuple[str, ...]]]:
    """The bag's Dublin Core (its dc.xml), element by element; [] when it has none."""
    if layout.DC_XML not in bag.inventory.tags:
        return []
    try:
        with bag.open(layout.DC_XML) as handle:
            return list(dc.read_dc(handle).dc)
    except Exception:  # a damaged dc.xml: the page shows bag-info instead
        return []
