"""``archiver demo``: bag the bundled editorial with its metadata record, then validate it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archiver import resources
from archiver.clock import Clock
from archiver.packing import make_bag
from archiver.record import load_record
from archiver.validation import validate_bag

SAMPLE_TEXT = "a-giant-step-for-peace.txt"
SAMPLE_RECORD = "a-giant-step-for-peace.json"
SAMPLE_ID = "a-giant-step-for-peace"


def run(out_dir: Path, *, force: bool = False, as_json: bool = False) -> int:
    record = load_record(resources.sample_file(SAMPLE_RECORD))
    result = make_bag(
        [resources.sample_file(SAMPLE_TEXT)],
        out_dir,
        record=record,
        bag_id=SAMPLE_ID,
        force=force,
        clock=Clock.from_environment(),
    )
    report = validate_bag(result.path)
    if as_json:
        summary = result.to_json()
        summary["validation"] = report.to_json()
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0 if report.valid else 1
    print(f"Bagged the sample text into {result.path}")
    print(f"  identifier   {result.bag_id}")
    print(f"  title        {result.record.values('title')[0]}")
    print(f"  bagged on    {result.bagging_date}  (Payload-Oxum {result.payload_oxum})")
    for obj in result.provenance.files:
        fmt = f"{obj.format.puid} {obj.format.name}" if obj.format.puid else obj.format.name
        print(f"  {obj.path}  {obj.size} bytes  {fmt}")
        print(f"    sha256 {obj.digests['sha256']}")
        if obj.text is not None:
            t = obj.text
            print(f"    {t.encoding}, {t.characters} characters, {t.line_endings} line endings")
    for name in sorted(
        p.relative_to(result.path).as_posix() for p in result.path.rglob("*") if p.is_file()
    ):
        if not name.startswith("data/"):
            print(f"  {name}")
    verdict = "valid" if report.valid else "INVALID"
    print(f"Validation: {verdict} ({len(report.findings)} findings)")
    for item in report.findings:
        print(f"  {item.severity}: [{item.code}] {item.message}")
    return 0 if report.valid else 1
