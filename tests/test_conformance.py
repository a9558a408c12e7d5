"""The LoC BagIt conformance suite, judged as its JUDGING.md says, on a byte-for-byte copy."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import archiver
from tests.conftest import REPO, CliRunner, watch_opens

SUITE = REPO / "tests" / "data" / "bagit-conformance-suite"
BAGS = sorted(p.relative_to(SUITE).as_posix() for p in SUITE.glob("v*/*/*") if p.is_dir())
# JUDGING.md: git never stored this bag's data/.DS_Store, which its manifest lists, so the
# copy really is incomplete. Judged as what it is: invalid, for exactly that reason.
INCOMPLETE_HERE = "v0.97/warning/special-system-files"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("suite") / "bagit-conformance-suite"
    shutil.copytree(SUITE, copy)
    return copy


def test_the_copy_of_the_suite_is_complete() -> None:
    assert len(BAGS) == 60


def _judge(cli: CliRunner, bag: Path) -> tuple[int, list[dict[str, object]]]:
    run = cli("validate", "--json", bag)
    report = json.loads(run.out)
    return run.code, report["bags"][0]["findings"]


@pytest.mark.parametrize("name", BAGS)
def test_each_conformance_bag_is_judged_as_the_suite_expects(
    suite: Path, cli: CliRunner, name: str
) -> None:
    code, findings = _judge(cli, suite / name)
    kind = name.split("/")[1]
    severities = {f["severity"] for f in findings}
    if name == INCOMPLETE_HERE:
        assert code == 1
        errors = {(f["code"], f["path"]) for f in findings if f["severity"] == "error"}
        assert ("bag.payload.file-missing", "data/.DS_Store") in errors
        assert {c for c, _ in errors} == {"bag.payload.file-missing", "bag.bag-info.oxum-mismatch"}
    elif kind == "valid":
        assert code == 0, findings
        assert "error" not in severities
    elif kind in {"invalid", "linux-only"}:
        assert code == 1, findings
    elif kind == "warning":
        assert code == 0, findings
        assert "warning" in severities, findings
    elif kind == "windows-only":
        assert severities & {"warning", "error"}, findings
    else:
        raise AssertionError(f"unknown category {kind}")


# Where code and schemas are loaded from: opening those is not reading the bag's surroundings.
_RUNTIME = [Path(p).resolve() for p in {sys.prefix, sys.base_prefix}] + [
    Path(archiver.__file__).resolve().parent,
    REPO / "schemas",
]


def test_validation_never_opens_anything_outside_the_bag(suite: Path, cli: CliRunner) -> None:
    # The suite's traversal bags point at ../../../README.md, /tmp/foo, ~root/foo...: the
    # interpreter's own audit events show every file the validator opens.
    for name in BAGS:
        if "out-of-scope" not in name:
            continue
        bag = (suite / name).resolve()
        with watch_opens() as opened:
            code, _ = _judge(cli, bag)
        assert code == 1, name
        assert opened, "the audit hook saw nothing: the test would prove nothing"
        outside = [
            p
            for p in opened
            if not any(Path(p).resolve().is_relative_to(base) for base in [bag, *_RUNTIME])
        ]
        assert outside == [], name
