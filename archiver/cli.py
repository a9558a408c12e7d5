"""The command line: argparse subcommands -> library calls; exit codes; --json.

Exit codes: 0 fine (warnings allowed), 1 findings at error level, 2 could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from archiver.errors import ArchiverError, UsageError
from archiver.version import AGENT

if TYPE_CHECKING:
    from archiver.export.base import ExportResult
    from archiver.findings import BagReport, Report
    from archiver.packing import BagResult

EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CANNOT_RUN, f"archiver: error: {message} (see '{self.prog} --help')\n")


def _path(text: str) -> Path:
    """A path argument; an empty one (an unset shell variable, "$DIR") is refused, where
    Path("") would quietly be the current folder."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# Help texts more than one command shares: the same words wherever the option means the same.
_HASH_PROCESSES = "hash on N worker processes (default: all cores; at most 8 a core)"
_COLLECTION = "a folder of bags: folders, and .tar, .tar.gz, .tgz or .zip files"
_LEDGER = "the fixity ledger (default: COLLECTION/.archiver/ledger.sqlite)"
_RECORD = "a JSON record: Dublin Core and bag-info values"
_JSON_SUMMARY = "print a JSON summary instead of the bag's path"
_PROFILE_FORMATS = "BagIt Profiles 1.4, or APTrust DART's profile format"
_EXPORT_TARGETS = ["dspace-saf", "archivematica", "ocfl", "aptrust"]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archiver", description="Preserve texts in BagIt 1.0 bags and prove their integrity."
    )
    parser.add_argument("--version", action="version", version=AGENT)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    bag = commands.add_parser(
        "bag", help="wrap source files in a BagIt bag with DC, METS and PREMIS"
    )
    bag.add_argument(
        "sources",
        nargs="+",
        type=_path,
        metavar="SOURCE",
        help="a file, or a folder whose files are bagged with their paths in it",
    )
    bag.add_argument(
        "--out", required=True, type=_path, metavar="DIR", help="the bag is written to DIR/ID"
    )
    bag.add_argument(
        "--metadata",
        type=_path,
        metavar="RECORD.json",
        help=f"{_RECORD} (default: title, type and format taken from the files)",
    )
    bag.add_argument(
        "--id",
        dest="bag_id",
        metavar="ID",
        help="the bag's identifier: 1 to 128 letters, digits, '.', '_' or '-', starting with a "
        "letter or digit (default: derived from the title and the payload)",
    )
    bag.add_argument("--force", action="store_true", help="replace an existing DIR/ID atomically")
    bag.add_argument(
        "--serialize",
        choices=("tar", "tgz", "zip"),
        metavar="KIND",
        help="write the bag as one archive, KIND tar, tgz or zip: DIR/ID.tar (.tar.gz, .zip), "
        "reproducible byte for byte, tag files before the payload",
    )
    bag.add_argument("--json", action="store_true", help=_JSON_SUMMARY)
    bag.add_argument("--processes", type=_positive, metavar="N", help=_HASH_PROCESSES)
    _profile_options(bag, tag=True)

    dem = commands.add_parser("demo", help="bag and validate the bundled sample text")
    dem.add_argument(
        "--out",
        type=_path,
        default=Path("demo-bags"),
        metavar="DIR",
        help="the bag is written to DIR/a-giant-step-for-peace (default: %(default)s)",
    )
    dem.add_argument("--force", action="store_true", help="replace an existing demo bag")
    dem.add_argument(
        "--json", action="store_true", help="print the bag's JSON summary and its validation"
    )

    val = commands.add_parser("validate", help="check bags against RFC 8493 and their metadata")
    val.add_argument(
        "bags",
        nargs="+",
        type=_path,
        metavar="BAG",
        help="a bag folder, anyone's, or a serialized bag (.tar, .tar.gz/.tgz, .zip), read in "
        "place, never extracted",
    )
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    depth = val.add_mutually_exclusive_group()
    depth.add_argument(
        "--fast",
        action="store_true",
        help="structure and Payload-Oxum only: no checksums, no metadata",
    )
    depth.add_argument("--completeness-only", action="store_true", help="everything but checksums")
    val.add_argument("--processes", type=_positive, metavar="N", help=_HASH_PROCESSES)
    val.add_argument(
        "--reference",
        action="store_true",
        help="also run LoC bagit-python; a disagreement is a warning (reference.disagrees)",
    )
    val.add_argument(
        "--profile",
        type=_path,
        metavar="FILE",
        help=f"also judge every bag by this BagIt profile ({_PROFILE_FORMATS})",
    )
    aud = commands.add_parser(
        "audit",
        help="verify every bag of a collection and record it in the fixity ledger "
        "(also: audit history, audit premis)",
    )
    aud.add_argument("collection", type=_path, metavar="COLLECTION", help=_COLLECTION)
    aud.add_argument("--ledger", type=_path, metavar="FILE", help=_LEDGER)
    aud.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="only bags not verified intact in the last DAYS days",
    )
    aud.add_argument(
        "--bag",
        action="append",
        metavar="BAG_ID",
        help="check only this bag (repeat for more); the others are not reported on",
    )
    aud.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="hash on N threads (default: all cores; at most 8 a core)",
    )
    aud.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="hash on the Dask cluster of this scheduler instead: tcp://HOST:PORT",
    )
    aud.add_argument("--json", action="store_true", help="print the run report as JSON")
    aud.add_argument(
        "--report", type=_path, metavar="FILE.html", help="also write the run report as HTML"
    )

    hist = commands.add_parser("audit-history", help="(or 'audit history') what the ledger holds")
    hist.add_argument("collection", type=_path, metavar="COLLECTION", help=_COLLECTION)
    hist.add_argument(
        "bag_id", nargs="?", metavar="BAG_ID", help="this bag's checks (default: every run)"
    )
    hist.add_argument("--ledger", type=_path, metavar="FILE", help=_LEDGER)
    hist.add_argument("--json", action="store_true", help="print the history as JSON")

    prem = commands.add_parser(
        "audit-premis", help="(or 'audit premis') a bag's fixity checks as PREMIS 3 events"
    )
    prem.add_argument("collection", type=_path, metavar="COLLECTION", help=_COLLECTION)
    prem.add_argument("bag_id", metavar="BAG_ID", help="the bag whose checks are printed")
    prem.add_argument("--ledger", type=_path, metavar="FILE", help=_LEDGER)

    srv = commands.add_parser("serve", help="serve the collection's metadata over OAI-PMH 2.0")
    srv.add_argument("collection", type=_path, metavar="COLLECTION", help=_COLLECTION)
    srv.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)"
    )
    srv.add_argument(
        "--port",
        type=_port,
        default=8080,
        help="the TCP port to listen on, 0 for any free one (default: %(default)s)",
    )
    srv.add_argument(
        "--base-url",
        metavar="URL",
        help="the base URL harvesters are given (default: http://HOST:PORT/oai)",
    )
    srv.add_argument(
        "--trusted-proxy",
        type=_ip_address,
        metavar="ADDR",
        help="the address of a proxy in front, whose X-Forwarded-For names each client in the "
        "access log and to the login limit (default: none; the connecting address is the client)",
    )
    srv.add_argument(
        "--repository-name",
        metavar="NAME",
        help="Identify's repositoryName (default: 'archiver collection' and the folder's name)",
    )
    srv.add_argument(
        "--admin-email",
        action="append",
        metavar="ADDR",
        help="Identify's adminEmail, repeatable (default: oai-admin@DOMAIN)",
    )
    srv.add_argument(
        "--repository-identifier",
        metavar="DOMAIN",
        help="the domain of oai:DOMAIN:BAG_ID identifiers (default: archiver.local)",
    )
    srv.add_argument(
        "--page-size",
        type=_positive,
        default=100,
        metavar="N",
        help="records or headers per response before a resumption token (default: %(default)s)",
    )
    srv.add_argument(
        "--refresh",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how often the catalog catches up with the collection (default: %(default)s)",
    )
    srv.add_argument(
        "--idle-timeout",
        type=_positive,
        default=15,
        metavar="SECONDS",
        help="close a connection idle this long, with no request in progress "
        "(default: %(default)s)",
    )
    srv.add_argument(
        "--max-connections",
        type=_positive,
        default=1000,
        metavar="N",
        help="connections open at once; more wait until one closes (default: %(default)s)",
    )
    srv.add_argument(
        "--access",
        choices=("open", "metadata", "closed"),
        default="open",
        metavar="ACCESS",
        help="who reads what in the web view: everything for anyone (open), descriptions for "
        "anyone and the texts after logging in (metadata), nothing but /oai and the login "
        "page without logging in (closed) (default: %(default)s)",
    )
    srv.add_argument(
        "--users", type=_path, metavar="FILE", help="the users file people log in with"
    )
    srv.add_argument(
        "--oai-formats",
        metavar="LIST",
        help="the OAI-PMH metadata formats served, comma-separated (default: all; with "
        "--access closed: oai_dc)",
    )

    add = commands.add_parser(
        "users-add",
        help="(or 'users add') add a person who may log in to the web view, or a new password",
    )
    add.add_argument(
        "name", metavar="NAME", help="the user's name: 1-64 letters, digits, '.', '_' or '-'"
    )
    add.add_argument("--admin", action="store_true", help="an administrator, who may withdraw bags")
    add.add_argument(
        "--users", type=_path, required=True, metavar="FILE", help="the users file to write"
    )

    wd = commands.add_parser(
        "withdraw", help="move a bag out of the collection, leaving a tombstone for harvesters"
    )
    wd.add_argument("collection", type=_path, metavar="COLLECTION", help=_COLLECTION)
    wd.add_argument("bag_id", metavar="BAG_ID", help="the bag to withdraw")
    wd.add_argument(
        "--reason",
        required=True,
        metavar="TEXT",
        help="why it is withdrawn (kept in its tombstone)",
    )

    exp = commands.add_parser("export", help="make the package a repository ingests from a bag")
    exp.add_argument(
        "bag",
        type=_path,
        metavar="BAG",
        help="the bag to export, a folder or an archive (it must be valid)",
    )
    exp.add_argument(
        "--to",
        required=True,
        choices=_EXPORT_TARGETS,
        metavar="TARGET",
        help=f"the package to make: {', '.join(_EXPORT_TARGETS[:-1])} or {_EXPORT_TARGETS[-1]}",
    )
    exp.add_argument(
        "--out",
        required=True,
        type=_path,
        metavar="DEST",
        help="the new package, which must not exist; for ocfl, a storage root, new or existing",
    )
    exp.add_argument(
        "--profile",
        type=_path,
        metavar="FILE",
        help=f"a BagIt profile the package must meet too ({_PROFILE_FORMATS}; not for dspace-saf)",
    )
    exp.add_argument("--json", action="store_true", help="print the result as JSON")

    ing = commands.add_parser("ingest", help="bring a bag made elsewhere into a collection")
    ing.add_argument(
        "foreign",
        type=_path,
        metavar="FOREIGN_BAG",
        help="a valid bag made elsewhere (BagIt 0.93 to 1.0), a folder or an archive; only read",
    )
    ing.add_argument(
        "--out",
        required=True,
        type=_path,
        metavar="COLLECTION",
        help="the bag is written to COLLECTION/ID",
    )
    ing.add_argument(
        "--metadata",
        type=_path,
        metavar="RECORD.json",
        help=f"{_RECORD} (default: the foreign bag's dc.xml, else its bag-info)",
    )
    ing.add_argument(
        "--id",
        dest="bag_id",
        metavar="ID",
        help="the new bag's identifier (default: the foreign External-Identifier or folder "
        "name, when valid as one; else derived as for bag)",
    )
    ing.add_argument("--json", action="store_true", help=_JSON_SUMMARY)
    ing.add_argument("--processes", type=_positive, metavar="N", help=_HASH_PROCESSES)

    bat = commands.add_parser("batch", help="make a bag of each row of a spreadsheet")
    bat.add_argument(
        "sheet",
        type=_path,
        metavar="SHEET.csv",
        help="a CSV sheet: archiver's, Archivematica's metadata.csv or DART's batch CSV",
    )
    bat.add_argument(
        "--out",
        required=True,
        type=_path,
        metavar="COLLECTION",
        help="the bags are written to COLLECTION/ID",
    )
    bat.add_argument(
        "--dry-run", action="store_true", help="check every row, list every problem, write nothing"
    )
    bat.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="rows bagged at once (default: all cores; at most 8 a core)",
    )
    bat.add_argument(
        "--root",
        type=_path,
        metavar="DIR",
        help="where the sources may be (default: the sheet's folder)",
    )
    bat.add_argument("--json", action="store_true", help="print the result as JSON")
    _profile_options(bat, tag=False)
    return parser


def _profile_options(command: argparse.ArgumentParser, *, tag: bool) -> None:
    """--profile, --algorithm (and for bag --tag): bags built to a BagIt profile."""
    command.add_argument(
        "--profile",
        type=_path,
        metavar="FILE",
        help=f"build the bags to this BagIt profile ({_PROFILE_FORMATS})",
    )
    command.add_argument(
        "--algorithm",
        type=_algorithm_list,
        metavar="LIST",
        help="the manifests' algorithms, e.g. md5,sha256 (default: those the profile "
        "requires, and SHA-512 and SHA-256 where it allows them)",
    )
    if tag:
        command.add_argument(
            "--tag",
            action="append",
            type=_tag_value,
            metavar="FILE/LABEL=VALUE",
            help="a tag's value, e.g. aptrust-info.txt/Access=Institution (repeatable)",
        )


def _algorithm_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("name one algorithm at least")
    return names


def _tag_value(text: str) -> tuple[str, str, str]:
    where, equals, value = text.partition("=")
    tag_file, slash, label = where.rpartition("/")
    if not equals or not slash or not tag_file or not label.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not FILE/LABEL=VALUE")
    return tag_file, label.strip(), value


def _tags(given: Sequence[tuple[str, str, str]] | None) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for tag_file, label, value in given or ():
        found.setdefault((tag_file, label), []).append(value)
    return found


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from exc
    if value < 0.1:
        raise argparse.ArgumentTypeError("must be at least 0.1 seconds")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a TCP port is 0 to 65535")
    return value


def _ip_address(text: str) -> str:
    """An IP address as waitress compares it with a connecting peer's (a host name never
    matches one)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from exc


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


_AUDIT_VIEWS = {"history": "audit-history", "premis": "audit-premis"}


def _normalise(argv: Sequence[str]) -> list[str]:
    """'audit history ...' and 'audit premis ...' are the audit-history/-premis commands;
    'users add ...' is users-add."""
    args = list(argv)
    if len(args) >= 2 and args[0] == "audit" and args[1] in _AUDIT_VIEWS:
        return [_AUDIT_VIEWS[args[1]], *args[2:]]
    if len(args) >= 2 and args[0] == "users" and args[1] == "add":
        return ["users-add", *args[2:]]
    return args


# C0, DEL and C1 (U+0080-U+009F: 8-bit terminals take U+009B for CSI)
_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_CONTROL.update({0x2028: "\\u2028", 0x2029: "\\u2029"})  # line and paragraph separators


def one_line(message: str) -> str:
    """A message made safe for one terminal line, whatever file names it quotes.

    Control characters and Unicode line breaks are escaped; bytes of a name that is not
    UTF-8 (surrogate escapes from the file system) are shown as \\xNN.
    """
    raw = message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw.translate(_CONTROL)


def _on_terminate(_signum: int, _frame: FrameType | None) -> NoReturn:
    # SIGTERM unwinds like Ctrl-C, so a bag being built is removed, not left half-written.
    raise KeyboardInterrupt


class _OutputError(Exception):
    """Standard output could not be written (a full disk, an I/O error): the reason."""


class _Output:
    """Standard output, whose write errors other than a reader gone away (EPIPE) become
    _OutputError: one line and exit 2, not a traceback."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc.strerror or str(exc)) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc.strerror or str(exc)) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _drop_output() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what could not be
    written does not complain."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_normalise(sys.argv[1:] if argv is None else argv))
    previous = signal.signal(signal.SIGTERM, _on_terminate)
    stdout = sys.stdout
    sys.stdout = cast(TextIO, _Output(stdout))
    try:
        code = _run(args)
        sys.stdout.flush()  # here, not at exit, where a failure could no longer be told
        return code
    except _OutputError as exc:
        print(f"archiver: error: cannot write the output: {exc}", file=sys.stderr)
        sys.stdout = stdout
        _drop_output()
        return EXIT_CANNOT_RUN
    except ArchiverError as exc:
        print(f"archiver: error: {one_line(str(exc))}{_hint(args, exc)}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("archiver: interrupted; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): the output is not wanted, and that is no error.
        sys.stdout = stdout
        _drop_output()
        return EXIT_OK
    finally:
        sys.stdout = stdout
        signal.signal(signal.SIGTERM, previous)


def _hint(args: argparse.Namespace, exc: ArchiverError) -> str:
    """What the command line can add to a library error: the option that would help."""
    from archiver.errors import BagExistsError

    if isinstance(exc, BagExistsError) and args.command in ("bag", "demo"):
        return " (use --force to replace it)"
    if "invalid bag identifier" in str(exc) and args.command in ("bag", "ingest"):
        return " (--id)"
    if args.command == "audit" and args.ledger is None and _read_only(exc.__cause__):
        return " (a read-only collection is audited with its ledger elsewhere: --ledger FILE)"
    return ""


def _read_only(cause: BaseException | None) -> bool:
    import errno

    return isinstance(cause, OSError) and cause.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def _run(args: argparse.Namespace) -> int:
    # Commands import what they need when they run: startup stays short.
    if args.command == "bag":
        from archiver.clock import Clock
        from archiver.packing import make_bag
        from archiver.record import load_record

        record = load_record(args.metadata) if args.metadata else None
        with _progress("bagging"):
            result = make_bag(
                args.sources,
                args.out,
                record=record,
                bag_id=args.bag_id,
                force=args.force,
                clock=Clock.from_environment(),
                workers=args.processes,
                serialize=args.serialize,
                profile=args.profile,
                algorithms_=args.algorithm,
                tags=_tags(args.tag),
            )
        _print_bag(result, as_json=args.json)
        return EXIT_OK
    if args.command == "demo":
        from archiver import demo

        return demo.run(args.out, force=args.force, as_json=args.json)
    if args.command == "validate":
        from archiver.check.bag import Mode
        from archiver.check.profile import load_profile
        from archiver.validation import validate_bags

        mode = (
            Mode.FAST if args.fast else Mode.COMPLETENESS if args.completeness_only else Mode.FULL
        )
        profile = load_profile(args.profile) if args.profile else None  # once, for every bag
        with _progress("validating"):
            report = validate_bags(
                args.bags,
                mode=mode,
                workers=args.processes,
                reference=args.reference,
                profile=profile,
            )
        if args.json:
            _print_json(report.to_json())
        else:
            print_report(report, sys.stdout)
        return EXIT_OK if report.valid else EXIT_FINDINGS
    if args.command == "audit":
        return _audit(args)
    if args.command in ("audit-history", "audit-premis"):
        return _audit_view(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "withdraw":
        return _withdraw(args)
    if args.command == "users-add":
        return _users(args)
    if args.command == "export":
        return _export(args)
    if args.command == "ingest":
        return _ingest(args)
    if args.command == "batch":
        return _batch(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse requires a command


def _audit(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from archiver.clock import Clock
    from archiver.collection import Collection
    from archiver.collection.report import render_html, run_text

    collection = Collection(args.collection, ledger=args.ledger)
    if args.report:
        collection.check_outside_bags(args.report, "the report")
    with _progress("auditing", unit="bag") as bar:
        report = collection.audit(
            older_than=None if args.older_than is None else timedelta(days=args.older_than),
            workers=args.workers,
            scheduler=args.scheduler,
            clock=Clock.from_environment(),
            progress=None if bar is None else bar.bags,
            bag_ids=args.bag,
        )
    if args.report:
        try:
            titles = collection.titles(bag.id for bag in report.bags)
            args.report.write_text(render_html(report, titles), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the report {args.report}: {exc.strerror}") from exc
    if args.json:
        _print_json(report.to_json())
    else:
        for line in run_text(report):
            print(one_line(line))
    return EXIT_OK if report.intact else EXIT_FINDINGS


def _audit_view(args: argparse.Namespace) -> int:
    from archiver.collection import Collection
    from archiver.collection.report import history_text

    collection = Collection(args.collection, ledger=args.ledger)
    if not collection.ledger_path.exists():
        raise UsageError(
            f"no ledger at {collection.ledger_path}: run 'archiver audit {args.collection}' first"
        )
    if args.command == "audit-premis":
        sys.stdout.write(collection.premis_events(args.bag_id))
        return EXIT_OK
    data = collection.history(args.bag_id)
    if args.json:
        _print_json(data)
    else:
        print("\n".join(map(one_line, history_text(data).splitlines())))
    return EXIT_OK


def _listening_url(host: str, port: int) -> str:
    """Where ``archiver serve`` answers harvesters on ``host:port``: an IPv6 address is
    written in brackets, as a URL must write it."""
    return f"http://[{host}]:{port}/oai" if ":" in host else f"http://{host}:{port}/oai"


def _serve(args: argparse.Namespace) -> int:
    from archiver.clock import Clock
    from archiver.collection import Collection
    from archiver.oai.app import DEFAULT_IDENTIFIER, configuration, serve
    from archiver.oai.protocol import Config

    collection = Collection(args.collection)  # a folder, or exit 2 now
    formats = (
        [name.strip() for name in args.oai_formats.split(",") if name.strip()]
        if args.oai_formats
        else (["oai_dc"] if args.access == "closed" else None)
    )
    options = {
        "repository_name": args.repository_name,
        "admin_emails": args.admin_email or (),
        "repository_identifier": args.repository_identifier or DEFAULT_IDENTIFIER,
        "page_size": args.page_size,
        "formats": formats,
    }
    if args.access != "open" and args.users is None:
        raise UsageError(f"--access {args.access} needs --users FILE: who may log in")
    if args.users is not None:
        from archiver.web.users import load

        load(args.users)  # a broken users file: exit 2 now
    configuration(collection, base_url="http://localhost/oai", **options)  # exit 2 now

    listening: list[str] = []  # where the server answers: http://HOST:PORT/oai

    def configure(host: str, port: int) -> Config:
        listening[:] = [_listening_url(host, port)]
        return configuration(collection, base_url=args.base_url or listening[0], **options)

    def announce(config: Config) -> None:
        # Behind a proxy, the public base URL and, for the proxy, where the server listens.
        where = "" if config.base_url in listening else f", listening on {listening[0]}"
        print(
            f"archiver: serving {args.collection} at {config.base_url}{where}",
            file=sys.stderr,
            flush=True,
        )

    _open_files_allowed(args.max_connections)
    serve(
        collection.catalog(),
        configure,
        host=args.host,
        port=args.port,
        clock=Clock.from_environment(),
        refresh_seconds=args.refresh,
        idle_timeout=args.idle_timeout,
        connection_limit=args.max_connections,
        announce=announce,
        access_log=sys.stderr,
        trusted_proxy=args.trusted_proxy,
        view={
            "access": args.access,
            "users": args.users,
            "ledger": collection.ledger_path,
            "secure_cookies": bool(args.base_url and args.base_url.startswith("https:")),
            "repository_identifier": options["repository_identifier"],
            "oai_formats": formats,
        },
    )
    return EXIT_OK


def _open_files_allowed(connections: int) -> None:
    """Let this process open a descriptor per connection, as far as its hard limit allows
    (a server's process, the command's own: a library call would not change it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ceiling), hard))


def _export(args: argparse.Namespace) -> int:
    from archiver.clock import Clock
    from archiver.errors import InvalidBagError, PackageCheckError
    from archiver.export.base import ExportResult, export_bag

    try:
        with _progress("exporting"):
            result = export_bag(
                args.bag,
                to=args.to,
                out=args.out,
                profile=args.profile,
                clock=Clock.from_environment(),
            )
    except InvalidBagError as exc:
        return _refused(exc, exc.report, as_json=args.json)
    except PackageCheckError as exc:
        # Nothing moved into place: the findings say why, then the one-line error.
        failed = ExportResult(args.to, args.out, exc.checks, exc.findings)
        _print_export(failed, as_json=args.json)
        print(f"archiver: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_FINDINGS
    _print_export(result, as_json=args.json)
    return EXIT_OK


def _print_export(result: ExportResult, *, as_json: bool) -> None:
    """The package's path, then each rule that held (by code), each finding as validate
    prints them, in order, and the notes."""
    from archiver.codes import CATALOGUE
    from archiver.findings import Finding

    if as_json:
        _print_json(result.to_json())
        return
    if result.valid:
        print(result.path)
    for code in sorted(set(result.checks)):
        print(f"  checked: {code} ({CATALOGUE[code].rule})")
    for item in sorted(result.findings, key=Finding.sort_key):
        print(f"  {item.severity}: [{item.code}] {one_line(item.describe())}")
    for line in result.notes:
        print(f"  note: {line}")


def _refused(exc: Exception, report: BagReport, *, as_json: bool) -> int:
    """A bag refused because it is invalid: its report (as JSON or text), then the error."""
    from archiver.findings import Report

    if as_json:
        _print_json(Report([report]).to_json())
    else:
        print_report(Report([report]), sys.stdout)
    print(f"archiver: error: {one_line(str(exc))}", file=sys.stderr)
    return EXIT_FINDINGS


def _ingest(args: argparse.Namespace) -> int:
    from archiver.clock import Clock
    from archiver.errors import InvalidBagError
    from archiver.ingest import ingest_bag
    from archiver.record import load_record

    record = load_record(args.metadata) if args.metadata else None
    try:
        with _progress("ingesting"):
            result = ingest_bag(
                args.foreign,
                args.out,
                record=record,
                bag_id=args.bag_id,
                clock=Clock.from_environment(),
                workers=args.processes,
            )
    except InvalidBagError as exc:
        return _refused(exc, exc.report, as_json=args.json)
    _print_bag(result, as_json=args.json)
    return EXIT_OK


def _batch(args: argparse.Namespace) -> int:
    from archiver.batch import run_batch
    from archiver.clock import Clock

    with _progress("bagging rows", unit="bag") as bar:
        result = run_batch(
            args.sheet,
            args.out,
            root=args.root,
            jobs=args.jobs,
            dry_run=args.dry_run,
            profile=args.profile,
            algorithms_=args.algorithm,
            clock=Clock.from_environment(),
            progress=None if bar is None else bar.rows,
            fork=True,  # this process holds no lock or file a worker must not share
        )
    if args.json:
        _print_json(result.to_json())
    else:
        summary = result.to_json()
        for line in result.sheet.warnings:
            print(f"warning: {one_line(line)}", file=sys.stderr)
        for problem in result.failures:
            print(f"{result.sheet.path}: {one_line(str(problem))}")
        if args.dry_run:
            print(
                f"{summary['rows']} rows: {summary['to_bag'] - summary['journalled']} ready "
                f"to bag, {summary['journalled']} bagged before, {summary['failed']} with "
                "problems (dry run: nothing written)"
            )
        else:
            print(
                f"{summary['rows']} rows: {summary['bagged']} bagged, {summary['adopted']} "
                f"adopted, {summary['journalled']} bagged before, {summary['failed']} failed"
            )
            if result.errors_sheet is not None:
                print(f"the failed rows, with why: {result.errors_sheet}")
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _print_bag(result: BagResult, *, as_json: bool) -> None:
    """The bag's path (or its JSON summary) on stdout; its notes and warnings on stderr."""
    if as_json:
        _print_json(result.to_json())
    else:
        print(result.path)
    for note in result.notes:
        print(f"  note: {one_line(note)}", file=sys.stderr)
    for warning in result.warnings:
        print(f"  warning: {one_line(warning)}", file=sys.stderr)


def _users(args: argparse.Namespace) -> int:
    """archiver users add: the password is asked twice on a terminal, else read from the
    first line of stdin (never from the command line, where ps would show it)."""
    import getpass

    from archiver.web.users import MAX_PASSWORD, add_user

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        # A line longer than a password can be is read no further (add_user refuses it):
        # stdin may be a file or a device with no line end at all.
        try:
            password = sys.stdin.readline(MAX_PASSWORD + 2).rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise UsageError("a password is text: what was given is not UTF-8") from exc
    add_user(args.users, args.name, password, admin=args.admin)
    role = "an administrator" if args.admin else "a reader"
    print(f"archiver: {args.name} is {role} in {args.users}", file=sys.stderr)
    return EXIT_OK


def _withdraw(args: argparse.Namespace) -> int:
    from archiver.clock import Clock
    from archiver.collection import Collection

    if not args.reason.strip():
        raise UsageError("--reason must say why the bag is withdrawn")
    with Collection(args.collection) as collection:
        home = collection.withdraw(args.bag_id, reason=args.reason, clock=Clock.from_environment())
    print(home)
    return EXIT_OK


class _Bar:
    """A progress bar on stderr (tqdm): for the library's progress (archiver.progress), the
    bytes read of those announced so far; for the audit's, bags done, with the bytes hashed."""

    def __init__(self, label: str, unit: str) -> None:
        from tqdm import tqdm

        # No monitor thread: the validator checks a big PREMIS document in a forked child
        # only when the process runs no other thread.
        tqdm.monitor_interval = 0
        try:
            width = os.get_terminal_size(sys.stderr.fileno()).columns
        except OSError:
            width = 0
        self._bar = tqdm(
            total=0,
            desc=label,
            unit=unit if unit != "bag" else " bags",
            unit_scale=unit == "B",
            unit_divisor=1024,
            file=sys.stderr,
            leave=False,
            # a terminal that tells no size (a bare pseudo-terminal) is taken for 80 x 24;
            # tqdm would draw nothing on 0 rows
            ncols=None if width else 80,
            nrows=None if width else 24,
            dynamic_ncols=bool(width),
        )

    def begin(self, total: int) -> None:
        self._bar.total = (self._bar.total or 0) + total
        self._bar.refresh()

    def advance(self, done: int) -> None:
        self._bar.update(done)

    def bags(self, done: int, total: int, hashed: int) -> None:
        from archiver.collection.report import human_size

        self._bar.total = total
        self._bar.n = done
        self._bar.set_postfix_str(human_size(hashed), refresh=False)
        self._bar.refresh()

    def rows(self, done: int, total: int) -> None:
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


@contextlib.contextmanager
def _progress(label: str, unit: str = "B") -> Iterator[_Bar | None]:
    """A progress bar on stderr while the block runs, when stderr is a terminal (never in a
    pipe or a file: what is read there is the output, not the drawing); gone when it ends."""
    if not sys.stderr.isatty():
        yield None
        return
    from archiver import progress

    bar = _Bar(label, unit)
    try:
        with progress.reporting(bar):
            yield bar
    finally:
        bar.close()


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def print_report(report: Report, out: TextIO) -> None:
    """Each bag's findings in order (errors first), then its verdict line (counting the
    findings a summary stands for); then one line for all the bags. All on ``out``: a bag's
    findings are never split between two streams."""
    from archiver.codes import Severity
    from archiver.findings import counted

    totals = {Severity.ERROR: 0, Severity.WARNING: 0}
    for bag in report.bags:
        for item in sorted(bag.findings, key=lambda f: f.sort_key()):
            line = f"{bag.path}: {item.severity}: [{item.code}] {item.describe()}"
            print(one_line(line), file=out)
        counts = {
            severity: sum(counted(f) for f in bag.findings if f.severity is severity)
            for severity in totals
        }
        for severity, count in counts.items():
            totals[severity] += count
        verdict = "valid" if bag.valid else "INVALID"
        errors, warnings = counts[Severity.ERROR], counts[Severity.WARNING]
        print(f"{bag.path}: {verdict} ({errors} errors, {warnings} warnings)", file=out)
    if len(report.bags) > 1:
        valid = sum(bag.valid for bag in report.bags)
        print(
            f"{len(report.bags)} bags: {valid} valid, {len(report.bags) - valid} invalid "
            f"({totals[Severity.ERROR]} errors, {totals[Severity.WARNING]} warnings)",
            file=out,
        )
