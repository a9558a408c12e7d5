"""The reference in docs/ keeps up with the code."""

from __future__ import annotations

from archiver.codes import findings_document
from tests.conftest import REPO

DOCS = REPO / "docs"


def test_the_findings_reference_is_what_the_catalogue_generates() -> None:
    assert (DOCS / "findings.md").read_text(encoding="utf-8") == findings_document()
