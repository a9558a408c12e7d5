"""The command line: argparse subcommands -> library calls; exit codes; --json.

Exit codes: 0 fine (warnings allowed), 1 findings at error level, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from archiver.errors import ArchiverError
from archiver.version import AGENT

if TYPE_CHECKING:
    from archiver.findings import Report

EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CANNOT_RUN, f"archiver: error: {message} (see '{self.prog} --help')\n")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archiver", description="Preserve texts in BagIt 1.0 bags and prove their integrity."
    )
    parser.add_argument("--version", action="version", version=AGENT)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    bag = commands.add_parser(
        "bag", help="wrap source files in a BagIt bag with DC, METS and PREMIS"
    )
    bag.add_argument("sources", nargs="+", type=Path, metavar="SOURCE", help="file or folder")
    bag.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="the bag is written to DIR/ID"
    )
    bag.add_argument(
        "--metadata", type=Path, metavar="RECORD.json", help="Dublin Core and bag-info record"
    )
    bag.add_argument(
        "--id", dest="bag_id", metavar="ID", help="bag identifier (letters, digits, . _ -)"
    )
    bag.add_argument("--force", action="store_true", help="replace an existing DIR/ID atomically")
    bag.add_argument("--json", action="store_true", help="print a JSON summary")
    bag.add_argument(
        "--processes", type=_positive, metavar="N", help="hashing threads (default: all cores)"
    )

    dem = commands.add_parser("demo", help="bag and validate the bundled sample text")
    dem.add_argument("--out", type=Path, default=Path("demo-bags"), metavar="DIR")
    dem.add_argument("--force", action="store_true", help="replace an existing demo bag")
    dem.add_argument("--json", action="store_true", help="print a JSON summary")

    val = commands.add_parser("validate", help="check bags against RFC 8493 and their metadata")
    val.add_argument("bags", nargs="+", type=Path, metavar="BAG")
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    depth = val.add_mutually_exclusive_group()
    depth.add_argument("--fast", action="store_true", help="structure and Payload-Oxum only")
    depth.add_argument("--completeness-only", action="store_true", help="skip checksums")
    val.add_argument(
        "--processes", type=_positive, metavar="N", help="hashing threads (default: all cores)"
    )
    val.add_argument(
        "--reference",
        action="store_true",
        help="also run LoC bagit-python and report any disagreement as a finding",
    )
    val.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="also check every bag against this BagIt profile (BagIt Profiles 1.4 JSON)",
    )
    return parser


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def one_line(message: str) -> str:
    """A message made safe for one terminal line, whatever file names it quotes.

    Control characters are escaped; bytes of a name that is not UTF-8 (surrogate escapes
    from the file system) are shown as \\xNN.
    """
    raw = message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw.translate(_CONTROL)


def _on_terminate(_signum: int, _frame: FrameType | None) -> NoReturn:
    # SIGTERM unwinds like Ctrl-C, so a bag being built is removed, not left half-written.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_terminate)
    try:
        return _run(args)
    except ArchiverError as exc:
        print(f"archiver: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("archiver: interrupted; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    # Commands import what they need when they run: startup stays short.
    if args.command == "bag":
        from archiver.clock import Clock
        from archiver.packing import make_bag
        from archiver.record import load_record

        record = load_record(args.metadata) if args.metadata else None
        result = make_bag(
            args.sources,
            args.out,
            record=record,
            bag_id=args.bag_id,
            force=args.force,
            clock=Clock.from_environment(),
            workers=args.processes,
        )
        if args.json:
            _print_json(result.to_json())
        else:
            print(result.path)
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
            print_report(report, sys.stdout, sys.stderr)
        return EXIT_OK if report.valid else EXIT_FINDINGS
    raise AssertionError(args.command)  # pragma: no cover - argparse requires a command


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def print_report(report: Report, out: TextIO, err: TextIO) -> None:
    """Every finding grouped per bag; warnings and info on ``err``; a verdict line per bag."""
    from archiver.codes import Severity

    for bag in report.bags:
        ordered = sorted(bag.findings, key=lambda f: f.sort_key())
        for item in ordered:
            stream = out if item.severity is Severity.ERROR else err
            print(
                f"{bag.path}: {item.severity}: [{item.code}] {one_line(item.message)}", file=stream
            )
        errors = sum(1 for f in bag.findings if f.severity is Severity.ERROR)
        warnings = sum(1 for f in bag.findings if f.severity is Severity.WARNING)
        verdict = "valid" if bag.valid else "INVALID"
        print(f"{bag.path}: {verdict} ({errors} errors, {warnings} warnings)", file=out)
