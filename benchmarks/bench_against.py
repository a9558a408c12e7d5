"""Benchmark: ``archiver bag`` from two checkouts of archiver, on the same many-files data set.

What it measures
    For a change that should not slow bagging down: the old code and the new, side by side.
    Each checkout runs ``CHECKOUT/.venv/bin/python -m archiver bag SRC --out DIR --id bench``
    (create each venv with ``python3.11 -m venv .venv && .venv/bin/pip install -e .``).
    The data set is bench_bag.py's "many" one: ``--files`` small files (512 B to 8 KiB) in
    100 subfolders, generated once into the work folder and reused.

    The two run alternately, the order swapped every round (old new, new old, ...) so that
    neither always follows the other; before each run the previous bag is deleted, then
    ``os.sync()`` and a one-second pause. Wall time and peak RSS are measured as in
    bench_bag.py (common.run_child). Children run in the work folder, not in a checkout,
    so ``-m archiver`` imports the package each venv installed (printed in the header).

How to read the numbers
    "median s" is the figure to quote; the individual runs show how noisy the machine was.
    "CPU s" is what each run cost in user and system time, its worker processes included
    (RUSAGE_CHILDREN around each run): on a busy machine it moves far less than wall time,
    but it does not show what running on two cores at once saves. The ratios are new / old
    medians: below 1.00x the new code is faster or cheaper.

Usage: python benchmarks/bench_against.py OLD [NEW] [--files N] [--runs N] [--work DIR]
[--keep]. NEW defaults to the checkout this script is in. The report (markdown) goes to
stdout, progress to stderr. The data set is removed at the end unless --keep is given
(bench_bag.py reuses it, and keeps its other data sets).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench_bag import BAG_ID, SOURCE_DATE_EPOCH, SUBFOLDERS, ensure_folder, write_many_files
from common import (
    BenchError,
    Sample,
    machine_lines,
    median_seconds,
    positive,
    progress,
    rss_floor_line,
    run_child,
    settle,
    table,
    timing_row,
)

HERE = Path(__file__).resolve().parent


def interpreter(checkout: Path) -> Path:
    python = checkout / ".venv" / "bin" / "python"
    if not python.is_file():
        raise BenchError(f"{python} not found: create the checkout's venv first")
    return python


def imported_from(python: Path, cwd: Path) -> str:
    """Where ``python -m archiver`` would take the package from, run in ``cwd``."""
    return subprocess.run(
        [str(python), "-c", "import archiver; print(archiver.__file__)"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def bag(python: Path, src: Path, out: Path, log: Path) -> tuple[Sample, float]:
    """One run: its wall time and peak RSS, and the CPU seconds (user + system) it used."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    argv = [str(python), "-m", "archiver", "bag", str(src), "--out", str(out), "--id", BAG_ID]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sample = run_child(argv, log, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return sample, cpu


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("old", type=Path, help="the checkout to compare against")
    parser.add_argument("new", type=Path, nargs="?", default=HERE.parent)
    parser.add_argument("--files", type=positive, default=10000, metavar="N")
    parser.add_argument("--runs", type=positive, default=7, metavar="N")
    parser.add_argument("--work", type=Path, default=HERE / "work", metavar="DIR")
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated data set for the next run"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work: Path = args.work.resolve()
    runs, logs, data = work / "against-runs", work / "against-logs", work / "data" / "many"
    try:
        sides = {"old": interpreter(args.old.resolve()), "new": interpreter(args.new.resolve())}
        files, size = ensure_folder(
            data, args.files, None, lambda folder: write_many_files(folder, args.files)
        )
        logs.mkdir(parents=True, exist_ok=True)
        origins = {side: imported_from(python, work) for side, python in sides.items()}
        samples: dict[str, list[Sample]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        for number in range(1, args.runs + 1):
            order = ("old", "new") if number % 2 else ("new", "old")
            for side in order:
                shutil.rmtree(runs, ignore_errors=True)
                runs.mkdir(parents=True)
                settle()
                sample, used = bag(sides[side], data, runs, logs / f"{side}-{number}.log")
                progress(f"{side} {number}: {sample.seconds:.2f} s, {used:.2f} s CPU")
                samples[side].append(sample)
                cpu[side].append(used)
    except BenchError as exc:
        print(f"bench_against: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    ratio = median_seconds(samples["new"]) / median_seconds(samples["old"])
    print(
        "\n".join(
            [
                "## `archiver bag`: old checkout vs new",
                "",
                *machine_lines(),
                f"- {files} files ({size / (1 << 20):.1f} MiB) in {SUBFOLDERS} folders; "
                f"{args.runs} runs per side, alternating",
                *(f"- {side}: {origins[side]}" for side in sides),
                rss_floor_line(),
                "",
                table(
                    ["side", "median s", "min s", "throughput", "peak RSS MiB", "runs s"],
                    [timing_row(side, samples[side], files, size) for side in sides],
                ),
                "",
                table(
                    ["side", "median CPU s", "runs CPU s"],
                    [
                        [
                            side,
                            f"{statistics.median(cpu[side]):.2f}",
                            ", ".join(f"{c:.2f}" for c in cpu[side]),
                        ]
                        for side in sides
                    ],
                ),
                "",
                f"new / old (median): {ratio:.2f}x wall, "
                f"{statistics.median(cpu['new']) / statistics.median(cpu['old']):.2f}x CPU",
            ]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
