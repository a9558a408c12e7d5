"""Guards on the shape of the code: catalogue and usage in step, validators apart from writers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import archiver
from archiver.codes import CATALOGUE

PACKAGE = Path(archiver.__file__).resolve().parent
WRITERS = {
    "archiver.packing",
    "archiver.staging",
    "archiver.sources",
    "archiver.xml.dc",
    "archiver.xml.mets",
    "archiver.xml.premis",
    "archiver.xml.writing",
    "archiver.demo",
}


_HEADS = {code.split(".", 1)[0] for code in CATALOGUE}


def _codes_used() -> dict[str, set[str]]:
    """Finding codes passed as string literals anywhere but the catalogue, by module."""
    used: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                head = node.value.split(".", 1)[0]
                if head in _HEADS and node.value.count(".") >= 1 and " " not in node.value:
                    used.setdefault(node.value, set()).add(path.name)
    return used


def test_every_code_used_is_in_the_catalogue() -> None:
    unknown = {code: where for code, where in _codes_used().items() if code not in CATALOGUE}
    assert unknown == {}


def test_every_catalogue_code_is_used_by_a_validator() -> None:
    assert sorted(set(CATALOGUE) - set(_codes_used())) == []


def test_every_catalogue_entry_names_its_rule_and_severity() -> None:
    for code, entry in CATALOGUE.items():
        assert entry.code == code
        assert entry.rule and entry.summary
        assert str(entry.severity) in {"error", "warning", "info"}


def test_the_validators_do_not_import_any_writer() -> None:
    probe = (
        "import sys, archiver.validation, archiver.check.bag, archiver.check.metadata;"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert "archiver.validation" in loaded
    assert loaded & WRITERS == set()


def test_the_public_api_is_complete_and_resolves() -> None:
    for name in archiver.__all__:
        assert getattr(archiver, name) is not None, name
    for name in (
        "make_bag",
        "validate_bag",
        "validate_bags",
        "load_record",
        "Clock",
        "ArchiverError",
        "Report",
    ):
        assert name in archiver.__all__


def test_every_archiver_error_is_an_archiver_error() -> None:
    from archiver import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert {c.__name__ for c in classes} >= {
        "UsageError",
        "SourceError",
        "MetadataError",
        "BagExistsError",
        "BagWriteError",
        "SchemaError",
        "ClockError",
    }
    assert all(issubclass(c, errors.ArchiverError) for c in classes)


def test_every_xml_parser_comes_from_the_hardened_factory() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "xml" / "parsing.py":
            continue
        source = path.read_text(encoding="utf-8")
        for call in ("etree.XMLParser(", "etree.fromstring(", "etree.parse(", "etree.XML("):
            if call in source:
                offenders.append(f"{path.name}: {call}")
    assert offenders == []
