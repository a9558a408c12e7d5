"""An installed wheel carries what a checkout has beside the package: schemas/ and the sample."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import BAGS_EPOCH, REPO


def test_the_wheel_runs_demo_with_its_own_schemas_and_sample(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("archiver-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "archiver/schemas/xsd/mets.xsd",
        "archiver/schemas/xsd/premis.xsd",
        "archiver/schemas/metadata-record.schema.json",
        "archiver/samples/a-giant-step-for-peace.txt",
        "archiver/py.typed",
    ):
        assert required in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # Run from a folder with no schemas/ beside it: only the wheel's own copy can serve.
    env = dict(os.environ, PYTHONPATH=str(unpacked), SOURCE_DATE_EPOCH=str(BAGS_EPOCH))
    probe = subprocess.run(
        [sys.executable, "-c", "import archiver.resources as r; print(r.schemas_dir())"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert Path(probe.stdout.strip()) == unpacked / "archiver" / "schemas"
    demo = subprocess.run(
        [sys.executable, "-m", "archiver", "demo", "--out", str(tmp_path / "bags")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert demo.returncode == 0, demo.stderr
    assert "Validation: valid (0 findings)" in demo.stdout
