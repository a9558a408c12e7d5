"""Guards on the shape of the code: catalogue and usage in step, validators apart from writers."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_every_export_code_is_used_by_the_exporter_of_its_target() -> None:
    modules = {
        "dspace": {"dspace.py"},
        "archivematica": {"archivematica.py"},
        "aptrust": {"aptrust.py"},
        "ocfl": {"ocfl.py"},
        # the package agreeing with its source bag (some of it checked in base.py for all),
        # a profile given: every exporter's
        "source": {"base.py", "dspace.py", "archivematica.py", "aptrust.py", "ocfl.py"},
        "profile": {"archivematica.py", "aptrust.py", "ocfl.py"},
    }
    used = _codes_used()
    for code in CATALOGUE:
        if code.startswith("export."):
            family = code.split(".")[1]
            assert used[code] <= modules[family], code


def test_every_catalogue_entry_names_its_rule_and_severity() -> None:
    for code, entry in CATALOGUE.items():
        assert entry.code == code
        assert entry.rule and entry.summary
        assert str(entry.severity) in {"error", "warning", "info"}


def test_the_validators_do_not_import_any_writer() -> None:
    loaded = _modules_after(
        "import archiver.validation, archiver.check.bag, archiver.check.metadata"
    )
    assert "archiver.validation" in loaded
    assert loaded & WRITERS == set()


def _modules_after(statement: str) -> set[str]:
    probe = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    return set(
        subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True
        ).stdout.split()
    )


def test_a_batch_does_not_import_the_audit_the_catalog_the_reader_or_the_profile_engine() -> None:
    # The batch's parent and its workers' fork server both import archiver.batch before
    # the first row is bagged: what it pulls in is start-up that two jobs cannot share.
    loaded = _modules_after("import archiver.batch")
    assert {"archiver.batch", "archiver.collection.journal", "archiver.sheet"} <= loaded
    assert (
        loaded
        & {
            "archiver.collection.audit",
            "archiver.collection.catalog",
            "archiver.collection.report",
            "archiver.collection.withdrawal",
            "archiver.bagit.reader",
            "archiver.check.profile",
            "concurrent.futures.process",
        }
        == set()
    )


def test_the_collection_package_still_gives_its_names() -> None:
    import archiver.collection as package
    from archiver.collection.catalog import Catalog
    from archiver.collection.report import AuditReport

    assert package.Catalog is Catalog and package.AuditReport is AuditReport
    assert set(package.__all__) <= set(dir(package)) | set(package._LAZY)
    with pytest.raises(AttributeError):
        _ = package.NoSuchThing


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
        "export_bag",
        "ExportResult",
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


# -- one reader, one writer ----------------------------------------------------------------

ENGINE = PACKAGE / "bagit"
TAG_FILE_NAMES = {"bagit.txt", "bag-info.txt", "package-info.txt", "fetch.txt"}
# The functions that parse tag files: only the reader calls them.
PARSERS = {
    "parse_bag_info",
    "parse_manifest",
    "parse_fetch",
    "split_lines",
    "byte_lines",
    "decoded_lines",
    "stream_lines",
}
# The functions that make a bag's own files: only the writer calls them.
MAKERS = {"format_manifest"}


def _modules() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))
    }


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute):
                names.add(function.attr)
            elif isinstance(function, ast.Name):
                names.add(function.id)
    return names


def _defined(tree: ast.AST) -> set[str]:
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_only_the_reader_parses_tag_files() -> None:
    offenders = {
        path.relative_to(PACKAGE).as_posix(): sorted(found)
        for path, tree in _modules().items()
        if path != ENGINE / "reader.py" and (found := (_calls(tree) & PARSERS) - _defined(tree))
    }
    assert offenders == {}


def test_only_the_writer_makes_manifests() -> None:
    allowed = {ENGINE / "writer.py", ENGINE / "manifest.py"}
    offenders = {
        path.relative_to(PACKAGE).as_posix(): sorted(found)
        for path, tree in _modules().items()
        if path not in allowed and (found := _calls(tree) & MAKERS)
    }
    assert offenders == {}


def test_tag_files_are_named_only_inside_the_bagit_engine() -> None:
    """A tag file's name as a string literal (or a manifest's, built in an f-string) appears
    only in the engine's names, reader, writer and manifest grammar: everyone else asks
    them."""
    allowed = {ENGINE / n for n in ("names.py", "reader.py", "writer.py", "manifest.py")}
    offenders = []
    for path, tree in _modules().items():
        if path in allowed:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in TAG_FILE_NAMES:
                offenders.append(f"{path.name}:{node.lineno}: {node.value}")
            if isinstance(node, ast.JoinedStr):
                pieces = [v.value for v in node.values if isinstance(v, ast.Constant)]
                if any(str(p).endswith(("manifest-", "tagmanifest-")) for p in pieces):
                    offenders.append(f"{path.name}:{node.lineno}: a manifest name")
    assert offenders == []


def test_only_the_writer_writes_a_bag_declaration() -> None:
    found = [
        path.relative_to(PACKAGE).as_posix()
        for path, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, bytes | str)
        and "BagIt-Version: 1.0\n"
        in (node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value)
    ]
    assert found == ["bagit/writer.py"]


def _modules_containing(*needles: str) -> set[str]:
    return {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(needle in path.read_text(encoding="utf-8") for needle in needles)
    }


def test_only_the_collection_store_opens_sqlite_databases() -> None:
    assert _modules_containing("sqlite3.connect") == {"collection/store.py"}


def test_timestamps_are_written_and_read_only_by_the_clock() -> None:
    assert _modules_containing("strftime(", "strptime(", "%H:%M:%S") == {"clock.py"}


# -- one profile engine; no fork; library messages without command-line options ------------


def _string_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, value) of the string constants that are not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_one_profile_engine_reads_every_profile_format() -> None:
    """Only check/profile.py knows what a profile document holds (BagIt Profiles 1.4 keys,
    DART's keys) or defines a profile model; codes.py only names the rules."""
    keys = {"Accept-BagIt-Version", "BagIt-Profile-Info", "acceptBagItVersion", "bagItProfileInfo"}
    knowing = set()
    models = set()
    for path, tree in _modules().items():
        name = path.relative_to(PACKAGE).as_posix()
        if any(value in keys for _, value in _string_literals(tree)):
            knowing.add(name)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and "Profile" in node.name:
                models.add(name)
    assert knowing == {"check/profile.py"}
    assert models == {"check/profile.py"}


def test_library_code_forks_the_calling_process_only_where_the_cli_asks() -> None:
    """One place may fork the calling process: hashing.process_pool(fork=True), which a
    batch asks for only when its caller allows it, and only the CLI allows it (a library
    caller may hold locks and files its workers must not share)."""
    offenders, forks, asked = [], [], []
    for path, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"fork", "forkpty"}:
                offenders.append(f"{path.name}:{node.lineno}: os.{node.attr}")
            if isinstance(node, ast.keyword) and node.arg == "fork":
                asked.append(f"{path.name}: {ast.unparse(node.value)}")
        for _line, value in _string_literals(tree):
            if value == "fork":  # multiprocessing.get_context("fork")
                forks.append(path.name)
    assert offenders == []
    assert forks == ["hashing.py"]
    assert sorted(asked) == ["batch.py: True", "cli.py: True"]


def test_no_cached_property_serialises_threads() -> None:
    """functools.cached_property in Python 3.11 takes one lock for all instances of a
    class: the OAI server's threads queued on FolderFiles'."""
    offenders = [
        f"{path.name}:{node.lineno}"
        for path, tree in _modules().items()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == "cached_property")
        or (isinstance(node, ast.Name) and node.id == "cached_property")
    ]
    assert offenders == []


def test_library_messages_never_name_a_command_line_option() -> None:
    """Only the CLI speaks of --options: a library caller has none."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}: {value[:60]!r}"
        for path, tree in _modules().items()
        if path.name != "cli.py"
        for line, value in _string_literals(tree)
        if re.search(r"(?<![\w-])--[a-z]", value)
    ]
    assert offenders == []
