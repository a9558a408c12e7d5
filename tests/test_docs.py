"""The reference in docs/ keeps up with the code."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from archiver import resources
from archiver.codes import findings_document
from archiver.record import record_from_data
from tests.conftest import REPO, SAMPLE_RECORD, SAMPLE_TEXT, CliRunner
from tests.test_packing import validator

DOCS = REPO / "docs"


def test_the_findings_reference_is_what_the_catalogue_generates() -> None:
    assert (DOCS / "findings.md").read_text(encoding="utf-8") == findings_document()


def _json_examples(document: str) -> list[tuple[str, object]]:
    """Each ```json block of a document, with the text before it."""
    text = (DOCS / document).read_text(encoding="utf-8")
    return [
        (text[: match.start()], json.loads(match.group(1)))
        for match in re.finditer(r"^```json\n(.*?)^```$", text, re.M | re.S)
    ]


def test_the_json_output_examples_are_what_the_commands_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner
) -> None:
    """docs/cli.md's three JSON examples, from the commands they show: bag (the sample as
    giant-step), validate (that bag, one letter of its text changed: same size, other
    digests) and export to OCFL (the sample as a-giant-step-for-peace, into a root the docs
    put at /srv/ocfl-root). Each printed document is valid by the schema its paragraph
    names, and is what the example shows."""
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(SAMPLE_TEXT, SAMPLE_TEXT.name)
    printed = []
    for bag_id in ("giant-step", "a-giant-step-for-peace"):
        made = cli("bag", SAMPLE_TEXT.name, "--out", "bags", "--metadata", SAMPLE_RECORD,
                   "--id", bag_id, "--json")  # fmt: skip
        assert made.code == 0, made.err
        printed.append(json.loads(made.out))
    text = Path("bags/giant-step/data") / SAMPLE_TEXT.name
    text.write_bytes(text.read_bytes().replace(b"peace", b"Peace", 1))
    checked = cli("validate", "--json", "bags/giant-step")
    assert checked.code == 1
    exported = cli("export", "bags/a-giant-step-for-peace", "--to", "ocfl", "--out", "ocfl-root",
                   "--json")  # fmt: skip
    assert exported.code == 0, exported.err
    export = json.loads(exported.out)
    export["path"] = f"/srv/{export['path']}"
    examples = _json_examples("cli.md")
    assert len(examples) == 3
    for (before, example), real in zip(
        examples, [printed[0], json.loads(checked.out), export], strict=True
    ):
        # "`archiver bag --json` ... (schema `schemas/bag-result.schema.json`):"
        name = re.findall(r"\(schema `schemas/([a-z-]+\.schema\.json)`\)", before)[-1]
        validator(resources.json_schema(name)).validate(real)
        _shown(example, real, name)


def _shown(example: object, printed: object, where: str = "") -> None:
    """``example`` is ``printed`` as the docs abbreviate it: a string ending in "…" is the
    start of the printed one; a key "..." stands for keys left out, an item "..." (or
    ["...", "..."]) for items left out, the others in the printed order."""
    if isinstance(example, dict):
        assert isinstance(printed, dict), where
        keys = [k for k in example if k != "..."]
        if "..." not in example:
            assert sorted(keys) == sorted(printed), where
        for key in keys:
            assert key in printed, f"{where}.{key}"
            _shown(example[key], printed[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(printed, list), where
        items = [i for i in example if i not in ("...", ["...", "..."])]
        if len(items) == len(example):
            assert len(items) == len(printed), where
            pairs = list(zip(items, printed, strict=True))
        else:  # some left out: those shown appear in order
            rest = iter(printed)
            pairs = [(item, next(p for p in rest if _is_shown(item, p))) for item in items]
        for number, (item, found) in enumerate(pairs):
            _shown(item, found, f"{where}[{number}]")
    elif isinstance(example, str) and example.endswith("…"):
        assert isinstance(printed, str) and printed.startswith(example[:-1]), (where, printed)
    else:
        assert example == printed, (where, printed)


def _is_shown(example: object, printed: object) -> bool:
    try:
        _shown(example, printed)
    except AssertionError:
        return False
    return True


def test_the_record_example_is_a_record_archiver_reads() -> None:
    [(_, example)] = _json_examples("record.md")
    assert isinstance(example, dict)
    record = record_from_data(example, "docs/record.md")
    assert record.values("title") == ("A giant step for peace",)
    assert ("Contact-Email", "archivist@example.org") in record.bag_info
