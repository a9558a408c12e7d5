"""Benchmark: `archiver batch` of a sheet of small texts, one job against two, and against a
shell loop of `archiver bag` (issue 14).

What it measures
    ``--rows`` small texts (a few hundred bytes each) and a sheet describing them (source,
    id, dc.title, dc.date, dc.subject) are made once. Then, ``--repeat`` times, interleaved
    and each after an untimed ``sync``: `archiver batch SHEET --out NEW --jobs 1`, the same
    with ``--jobs 2``, and the shell loop a person would write without batch -- one
    `archiver bag SOURCE --out NEW --id ID --metadata ROW.json` per row (the rows' JSON
    records written beforehand, untimed), in one `sh` process (``--loop-repeat`` times: it
    takes minutes). Each run writes a new collection (removing one between runs slowed the
    next by a varying amount); all are removed after the last run. The runs begin 6 minutes
    after the last removal, once the disk is quiet (common.fresh_work): new files are slow
    to make where thousands were just removed. Targets:
    --jobs 2 at least 1.6x faster than --jobs 1, and faster than the loop.

How to read the numbers
    A row is a small bag (a text, its Dublin Core, METS and PREMIS): the work is mostly
    Python per bag, not hashing, so two jobs can come close to twice one. The loop pays
    the interpreter's and archiver's start-up once per row.

Usage: python benchmarks/bench_batch.py [--rows 1000] [--repeat 7] [--loop-repeat 1]
                                       [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from common import (
    BenchError,
    Sample,
    fresh_work,
    machine_lines,
    met,
    positive,
    progress,
    remove_tree,
    run_child,
    settle,
    table,
)

HERE = Path(__file__).resolve().parent
SPEEDUP = 1.6  # --jobs 2 against --jobs 1, at least
WORDS = [
    "the",
    "archive",
    "keeps",
    "every",
    "text",
    "readable",
    "and",
    "provably",
    "unaltered",
    "for",
    "decades",
]


def make_sheet(work: Path, rows: int) -> tuple[Path, Path]:
    """The texts, the sheet, and the shell loop that bags the same rows one by one."""
    texts = work / "sheet" / "texts"
    records = work / "records"
    texts.mkdir(parents=True)
    records.mkdir()
    header = ["source", "id", "dc.title", "dc.date", "dc.subject"]
    lines = [header]
    loop = ["set -e"]
    python = shlex.quote(sys.executable)
    for index in range(rows):
        words = " ".join(WORDS[(index + k) % len(WORDS)] for k in range(40))
        name = f"text-{index:05d}.txt"
        (texts / name).write_text(f"Text {index}\n\n{words}.\n", encoding="utf-8")
        title, date, subject = f"Text number {index}", f"{1990 + index % 30}", "Editorials"
        lines.append([f"texts/{name}", f"row-{index:05d}", title, date, subject])
        record = records / f"{index:05d}.json"
        record.write_text(json.dumps({"title": title, "date": date, "subject": subject}))
        loop.append(
            f'{python} -m archiver bag {shlex.quote(str(texts / name))} --out "$1" '
            f"--id row-{index:05d} --metadata {shlex.quote(str(record))} --processes 1 "
            "> /dev/null"
        )
    sheet = work / "sheet" / "records.csv"
    with open(sheet, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(lines)
    script = work / "loop.sh"
    script.write_text("\n".join(loop) + "\n", encoding="utf-8")
    return sheet, script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=positive, default=1000)
    parser.add_argument("--repeat", type=positive, default=7)
    parser.add_argument("--loop-repeat", type=positive, default=1)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "batch")
    args = parser.parse_args()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1795737600"}
    try:
        log = fresh_work(args.work)
        sheet, script = make_sheet(args.work, args.rows)
        batch = [sys.executable, "-m", "archiver", "batch", str(sheet), "--out"]
        forms: dict[str, Callable[[Path], list[str]]] = {
            "batch --jobs 1": lambda out: [*batch, str(out), "--jobs", "1"],
            "batch --jobs 2": lambda out: [*batch, str(out), "--jobs", "2"],
            "shell loop of bag": lambda out: ["sh", str(script), str(out)],
        }
        samples: dict[str, list[Sample]] = {name: [] for name in forms}
        for attempt in range(args.repeat):
            for name, argv in forms.items():
                if name == "shell loop of bag" and attempt >= args.loop_repeat:
                    continue  # ~4 minutes a run, and 40 times the others: once is plenty
                # Each run writes a collection of its own, all removed only at the end:
                # removing 1,000 bags between runs made the next runs' file-system work
                # 1.5-3x slower on this VM (ext4 mounted with discard), and by a different
                # amount each time.
                out = args.work / "out" / f"{attempt}-{name.replace(' ', '')}"
                settle()
                progress(f"{name} {attempt + 1}")
                samples[name].append(run_child(argv(out), log, env))
                made = sum(1 for p in out.iterdir() if not p.name.startswith("."))
                if made != args.rows:
                    raise BenchError(f"{name} made {made} bags of {args.rows}")
        print("## `archiver batch` of a sheet of small texts\n")
        print("\n".join(machine_lines()))
        print(
            f"- {args.rows} rows, {args.repeat} runs of each batch form ({args.loop_repeat} of "
            "the loop), interleaved, each after `sync`\n"
        )
        rows = []
        for name, found in samples.items():
            middle = statistics.median(s.seconds for s in found)
            rows.append(
                [
                    name,
                    f"{middle:.2f}",
                    f"{min(s.seconds for s in found):.2f}",
                    f"{args.rows / middle:.0f} rows/s",
                    f"{max(s.peak_kib for s in found) / 1024:.0f}",
                    ", ".join(f"{s.seconds:.2f}" for s in found),
                ]
            )
        print(table(["form", "median s", "min s", "rows/s", "peak RSS MiB", "runs s"], rows))
        one, two, loop = (statistics.median(s.seconds for s in samples[n]) for n in forms)
        print()
        print(
            table(
                ["comparison", "ratio", "target", "met"],
                [
                    [
                        "--jobs 2 speed-up over --jobs 1",
                        f"{one / two:.2f}x",
                        f"≥ {SPEEDUP:.2f}x",
                        met(one / two >= SPEEDUP),
                    ],
                    [
                        "--jobs 2 time against the shell loop",
                        f"{two / loop:.2f}x",
                        "< 1.00x",
                        met(two < loop),
                    ],
                ],
            )
        )
    except BenchError as exc:
        print(f"bench_batch: {exc}", file=sys.stderr)
        return 1
    finally:
        remove_tree(args.work / "out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
