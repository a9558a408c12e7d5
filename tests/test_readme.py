"""The README is the user manual: it must keep up with the code."""

from __future__ import annotations

import re

from archiver.cli import build_parser
from archiver.codes import CATALOGUE
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_readme_lists_every_finding_code_with_its_severity() -> None:
    rows = dict(re.findall(r"^\| `([a-z.0-9-]+)` \| (error|warning|info) \|", README, re.M))
    assert rows == {code: str(entry.severity) for code, entry in CATALOGUE.items()}


def test_the_readme_documents_every_subcommand() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    for name in commands:
        # "audit-history" is how the parser spells the "audit history" command
        assert f"### `archiver {name.replace('-', ' ')}" in README, name


def test_the_ci_script_runs_the_readmes_test_command() -> None:
    command = ".venv/bin/python -m pytest"
    setup = re.search(r"^    (python3\.11 -m venv .*-m pytest)$", README, re.M)
    assert setup is not None
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert setup.group(1) in ci
    assert command in setup.group(1)
    for check in ("ruff check", "ruff format --check", "mypy"):
        assert check in ci
