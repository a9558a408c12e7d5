"""The Python API: one documented call per job, str paths welcome, every name exported."""

from __future__ import annotations

import ast
import inspect
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import archiver
from archiver import errors
from archiver.oai.app import OAIApp
from tests.conftest import REPO, SAMPLE_TEXT
from tests.foreign import make_latin1_bag

API_DOC = REPO / "docs" / "api.md"
APTRUST_PROFILE = REPO / "schemas" / "bagit-profiles" / "aptrust-v2.3.dart-format.json"


def _code_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(encoding="utf-8"), re.M | re.S)


@pytest.fixture
def workplace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder as the docs' examples expect it: essay.txt, essay.json,
    aptrust.json and a foreign bag in incoming/."""
    shutil.copy(SAMPLE_TEXT, tmp_path / "essay.txt")
    (tmp_path / "essay.json").write_text(
        '{"title": "A giant step for peace", "date": "June 2018", "language": "en"}',
        encoding="utf-8",
    )
    shutil.copy(APTRUST_PROFILE, tmp_path / "aptrust.json")
    make_latin1_bag(tmp_path / "incoming" / "foreign-bag")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795737600")
    return tmp_path


def test_the_api_example_of_the_docs_runs_with_str_paths(workplace: Path) -> None:
    [example, *_] = _code_blocks(API_DOC)
    names: dict[str, object] = {}
    exec(compile(example, str(API_DOC), "exec"), names)
    bag, report, run, col, app = (names[n] for n in ("bag", "report", "run", "col", "app"))
    assert isinstance(bag, archiver.BagResult) and bag.path == Path("bags/essay")
    assert isinstance(report, archiver.BagReport)
    assert "profile.tag.required" in {f.code for f in report.findings}  # no aptrust-info.txt
    assert isinstance(run, archiver.AuditReport) and run.intact
    assert isinstance(col, archiver.Collection)
    assert isinstance(app, OAIApp)
    app.close()
    # "essay" was withdrawn, the foreign bag came in; "essay-2" lies there as bags/essay-2.tar
    assert col.bag_ids() == ["essay-2", "foreign-bag"]
    assert any((workplace / "ocfl-root").iterdir())


def test_every_python_example_in_the_docs_and_readme_runs(workplace: Path) -> None:
    ran = 0
    for document in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        namespace: dict[str, object] = {}  # a document's examples run in order, as read
        for number, block in enumerate(_code_blocks(document), start=1):
            exec(compile(block, f"{document.name} example {number}", "exec"), namespace)
            ran += 1
        for value in namespace.values():
            if isinstance(value, OAIApp):
                value.close()
        shutil.rmtree(workplace / "bags", ignore_errors=True)
        shutil.rmtree(workplace / "ocfl-root", ignore_errors=True)
    assert ran >= 2  # the README's tour and the API reference at least


def _public(module: object) -> set[str]:
    return {name for name in dir(module) if not name.startswith("_")} - {"annotations"}


def test_all_is_exactly_the_public_names() -> None:
    tree = ast.parse((REPO / "archiver" / "__init__.py").read_text(encoding="utf-8"))
    lazy = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "_LOCATIONS" for t in node.targets)
    )
    assert isinstance(lazy.value, ast.Dict)
    located = {k.value for k in lazy.value.keys if isinstance(k, ast.Constant)}
    assert set(archiver.__all__) == located | {"__version__"}
    assert len(archiver.__all__) == len(set(archiver.__all__))
    for name in archiver.__all__:
        assert getattr(archiver, name) is not None, name


def test_every_exception_is_exported_and_an_archiver_error() -> None:
    raised = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert raised <= set(archiver.__all__)
    assert all(issubclass(getattr(errors, name), archiver.ArchiverError) for name in raised)


def test_every_public_name_is_documented_in_the_api_reference() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    missing = [name for name in archiver.__all__ if f"`{name}" not in text]
    assert missing == []


def test_every_public_name_has_a_docstring() -> None:
    for name in archiver.__all__:
        value = getattr(archiver, name)
        if callable(value) and not name.startswith("_"):
            assert inspect.getdoc(value), name


def test_an_empty_path_is_refused_by_the_library_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Path("") is the current folder: a caller's unset setting would make a bag, a
    collection's records or a package there."""
    text = tmp_path / "text.txt"
    text.write_text("A text\n", encoding="utf-8")
    bag = archiver.make_bag([text], tmp_path / "bags", bag_id="b").path
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("source,dc.title\ntext.txt,A text\n", encoding="utf-8")
    calls: list[Callable[[], object]] = [
        lambda: archiver.make_bag([text], ""),
        lambda: archiver.ingest_bag(bag, ""),
        lambda: archiver.export_bag(bag, to="ocfl", out=""),
        lambda: archiver.export_bag("", to="ocfl", out=tmp_path / "root"),
        lambda: archiver.Collection(""),
        lambda: archiver.run_batch(sheet, ""),
    ]
    for call in calls:
        with pytest.raises(archiver.UsageError, match="an empty path"):
            call()
    assert list(here.iterdir()) == []
