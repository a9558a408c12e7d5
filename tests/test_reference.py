"""validate --reference: LoC bagit-python as a second opinion, reported as findings."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.conftest import REPO, CliRunner

SUITE = REPO / "tests" / "data" / "bagit-conformance-suite"


def _findings(cli: CliRunner, *args: str | Path) -> tuple[int, list[dict[str, object]]]:
    run = cli("validate", "--json", "--reference", *args)
    return run.code, json.loads(run.out)["bags"][0]["findings"]


def test_when_both_agree_there_is_nothing_to_report(cli: CliRunner) -> None:
    code, findings = _findings(cli, REPO / "bags" / "a-giant-step-for-peace")
    assert code == 0
    assert findings == []


def test_a_disagreement_is_a_warning_naming_both_verdicts(tmp_path: Path, cli: CliRunner) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(SUITE / "v1.0" / "invalid" / "bagit-with-invalid-whitespace", bag)
    code, findings = _findings(cli, bag)
    assert code == 1  # our verdict stands
    (disagreement,) = [f for f in findings if f["code"] == "reference.disagrees"]
    assert disagreement["severity"] == "warning"
    assert disagreement["params"] == {"ours": "invalid", "theirs": "valid"}
    assert "whitespace" in str(disagreement["message"])


def test_bagit_python_is_not_run_on_a_bag_that_reaches_outside_itself(
    tmp_path: Path, cli: CliRunner
) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(REPO / "bags" / "a-giant-step-for-peace", bag)
    payload = bag / "data" / "a-giant-step-for-peace.txt"
    payload.unlink()
    os.symlink("/etc/hostname", payload)
    code, findings = _findings(cli, bag)
    assert code == 1
    codes = {f["code"] for f in findings}
    assert "reference.skipped" in codes
    assert "reference.disagrees" not in codes
