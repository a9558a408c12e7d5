"""The README is the front door: short, current, and every link in it leads somewhere."""

from __future__ import annotations

import os
import re

from archiver.cli import build_parser
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CLI_DOC = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


def test_the_readme_stays_a_front_door() -> None:
    assert len(README.encode("utf-8")) <= 12 * 1024


def test_every_link_of_the_readme_leads_to_a_file() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links
    for link in links:
        assert (REPO / link).is_file(), link


def test_every_reference_document_is_linked_from_the_readme() -> None:
    for document in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{document.name})" in README, document.name


def test_the_cli_reference_documents_every_subcommand() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    for name in commands:
        # "audit-history" is how the parser spells the "audit history" command
        assert f"## `archiver {name.replace('-', ' ')}" in CLI_DOC, name


def test_the_ci_script_runs_the_readmes_test_command() -> None:
    command = ".venv/bin/python -m pytest"
    setup = re.search(r"^    (python3\.11 -m venv .*-m pytest)$", README, re.M)
    assert setup is not None
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert setup.group(1) in ci
    assert command in setup.group(1)
    for check in ("ruff check", "ruff format --check", "mypy"):
        assert check in ci


def test_property_tests_are_repeatable_unless_asked_to_explore_as_the_readme_says() -> None:
    from hypothesis import settings

    assert settings.get_profile("repeatable").derandomize is True
    assert settings.get_profile("explore").derandomize is False
    chosen = os.environ.get("HYPOTHESIS_PROFILE", "repeatable")
    assert settings.default is not None
    assert settings.default.derandomize is (chosen == "repeatable")
    assert "HYPOTHESIS_PROFILE=explore" in README
