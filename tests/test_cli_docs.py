"""--help and docs/cli.md say the same: every option of every command has a help text, and
its command's section of the reference repeats it word for word, as ``- `OPTION`: HELP``."""

from __future__ import annotations

import argparse
import re

import pytest

from archiver.cli import build_parser
from tests.conftest import REPO

CLI_DOC = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
# "## `archiver audit history COLLECTION ...`": the command's words, then its synopsis.
_HEADING = re.compile(r"^## `archiver ((?:[a-z]+ )+)(.*)`$", re.M)
# "- `--out DIR`: the bag is written to DIR/ID", continued on indented lines.
_OPTION_ITEM = re.compile(r"^- `([^`]+)`: (.*(?:\n  .*)*)", re.M)


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    found = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(found.choices)


COMMANDS = _commands()


def _arguments(command: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in command._actions if not isinstance(a, argparse._HelpAction)]


def _name(action: argparse.Action) -> str:
    """The argument as --help shows it: SOURCE, --force, --out DIR."""
    if not action.option_strings:
        return str(action.metavar or action.dest)
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return flag
    return f"{flag} {action.metavar or action.dest.upper()}"


def _help(command: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as --help prints it (%(default)s expanded), on one line."""
    return " ".join(command._get_formatter()._expand_help(action).split())


def _sections() -> dict[str, tuple[str, str]]:
    """Command name ("audit-history") -> (its heading's synopsis, its section's text)."""
    headings = list(_HEADING.finditer(CLI_DOC))
    sections = {}
    for heading in headings:
        following = re.search(r"^## ", CLI_DOC[heading.end() :], re.M)
        end = heading.end() + following.start() if following else len(CLI_DOC)
        name = "-".join(heading.group(1).split())
        sections[name] = (heading.group(2), CLI_DOC[heading.end() : end])
    return sections


SECTIONS = _sections()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_a_help_text(name: str) -> None:
    command = COMMANDS[name]
    for action in _arguments(command):
        text = action.help
        assert text and text != argparse.SUPPRESS and _help(command, action), (name, action.dest)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_reference_lists_every_option_in_the_words_of_help(name: str) -> None:
    command = COMMANDS[name]
    assert name in SECTIONS, f"docs/cli.md has no section for {name}"
    _, section = SECTIONS[name]
    listed = {option: " ".join(text.split()) for option, text in _OPTION_ITEM.findall(section)}
    wanted = {_name(action): _help(command, action) for action in _arguments(command)}
    assert listed == wanted


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_in_its_sections_heading(name: str) -> None:
    synopsis, _ = SECTIONS[name]
    for action in _arguments(COMMANDS[name]):
        flag = max(action.option_strings, key=len) if action.option_strings else _name(action)
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", synopsis), (name, flag)


def test_defaults_the_help_states_for_the_library_are_the_librarys() -> None:
    from archiver.collection.bags import RECORDS_DIR
    from archiver.collection.ledger import LEDGER_FILE
    from archiver.demo import SAMPLE_ID
    from archiver.oai.app import DEFAULT_IDENTIFIER

    def help_of(command: str, option: str) -> str:
        found = COMMANDS[command]
        action = next(a for a in _arguments(found) if option in a.option_strings)
        return _help(found, action)

    assert f"(default: {DEFAULT_IDENTIFIER})" in help_of("serve", "--repository-identifier")
    assert f"COLLECTION/{RECORDS_DIR}/{LEDGER_FILE}" in help_of("audit", "--ledger")
    assert f"DIR/{SAMPLE_ID}" in help_of("demo", "--out")


def test_export_offers_exactly_the_exporters_targets() -> None:
    # cli.py spells the targets out (importing the exporters would slow every command's start)
    from archiver.export.base import TARGETS

    action = next(a for a in _arguments(COMMANDS["export"]) if "--to" in a.option_strings)
    assert list(action.choices or ()) == list(TARGETS)
