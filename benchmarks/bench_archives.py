"""Benchmark: `archiver validate` of a serialized bag (.tar, .tar.gz, .zip) against the same
bag as a folder (issue 13).

What it measures
    Two archiver bags are made with `archiver bag` (byte-compiled first, as pip installs
    it): one of a single file of ``--size-mib`` MiB of random bytes, one of ``--files``
    random 8 KiB files in 100 folders. Each is written as a folder and, with `archiver bag
    --serialize`, as .tar, .tar.gz and .zip. Every form is validated ``--repeat`` times, the
    forms of one bag interleaved, each run after an untimed ``sync``; the report gives
    median and best wall times, the largest peak RSS, and each archive's ratio to the
    folder (targets: .tar of one big file <= 1.1x, .tar of many small files <= 1.5x; the
    compressed forms are printed for information: their decompression is work a folder
    never does).

    ``--members N`` (issue 13: 100,000, memory <= 200 MB) adds a bag of N files of 100
    bytes, written as a folder and as .tar and .tar.gz: each validated ``--repeat`` times,
    its peak RSS against 200 MB (190.7 MiB).

How to read the numbers
    Everything is read from the page cache (just written), so the figures are about
    parsing, hashing and scheduling. A folder and a .tar are hashed on both cores (a
    .tar's members located by its index and read where they lie); a .tar.gz or a .zip is
    read in one pass, in stored order, in one process.

Usage: python benchmarks/bench_archives.py [--size-mib 512] [--files 10000] [--repeat 7]
                                          [--members 0] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from pathlib import Path

from common import (
    BenchError,
    Sample,
    fresh_work,
    machine_lines,
    met,
    positive,
    progress,
    ratio_row,
    run_child,
    settle,
    table,
    timing_row,
)

HERE = Path(__file__).resolve().parent
FORMS = ("folder", "tar", "tgz", "zip")
SUFFIX = {"folder": "", "tar": ".tar", "tgz": ".tar.gz", "zip": ".zip"}
TARGET = {"big": 1.1, "many": 1.5}  # .tar against the folder, at most
MEMORY_MIB = 200e6 / (1 << 20)  # 200 MB, at most, at 100,000 members


def make_members(work: Path, count: int) -> Path:
    """``count`` files of 100 bytes in 100 folders: a bag whose size is its member count."""
    rng = random.Random(100)
    source = work / "src-members" / "members"
    for index in range(count):
        folder = source / f"d{index % 100:02}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:06}.txt").write_bytes(rng.randbytes(100))
    return source


def make_sources(work: Path, size_mib: int, files: int) -> dict[str, Path]:
    rng = random.Random(13)
    big = work / "src-big" / "big.bin"
    big.parent.mkdir(parents=True)
    with big.open("wb") as out:
        for _ in range(size_mib):
            out.write(rng.randbytes(1 << 20))
    many = work / "src-many" / "letters"
    for index in range(files):
        folder = many / f"d{index % 100:02}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:05}.txt").write_bytes(rng.randbytes(8192))
    return {"big": big, "many": many}


def make_bags(
    work: Path, sources: dict[str, Path], log: Path, forms: tuple[str, ...] = FORMS
) -> dict[str, dict[str, Path]]:
    bags: dict[str, dict[str, Path]] = {}
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    for name, source in sources.items():
        bags[name] = {}
        for form in forms:
            out = work / "bags" / form
            argv = [sys.executable, "-m", "archiver", "bag", str(source), "--out", str(out)]
            argv += ["--id", name]
            if form != "folder":
                argv += ["--serialize", form]
            progress(f"bagging {name} as {form}")
            run_child(argv, log, env)
            bags[name][form] = out / f"{name}{SUFFIX[form]}"
    return bags


def validate(bag: Path, log: Path) -> Sample:
    settle()
    return run_child([sys.executable, "-m", "archiver", "validate", str(bag)], log)


def report_members(work: Path, count: int, repeat: int, log: Path) -> None:
    forms = ("folder", "tar", "tgz")
    bags = make_bags(work, {"members": make_members(work, count)}, log, forms)["members"]
    samples: dict[str, list[Sample]] = {form: [] for form in forms}
    for attempt in range(repeat):
        for form in forms:
            progress(f"members-{form}-{attempt + 1}")
            samples[form].append(validate(bags[form], log))
    print(f"### {count} files of 100 bytes: peak memory\n")
    rows = []
    for form in forms:
        peak = max(s.peak_kib for s in samples[form]) / 1024
        middle = statistics.median(s.seconds for s in samples[form])
        rows.append(
            [form, f"{middle:.2f}", f"{peak:.0f}", f"≤ {MEMORY_MIB:.1f}", met(peak <= MEMORY_MIB)]
        )
    print(table(["form", "median s", "peak RSS MiB", "target", "met"], rows), "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=positive, default=512)
    parser.add_argument("--files", type=positive, default=10_000)
    parser.add_argument("--repeat", type=positive, default=7)
    parser.add_argument("--members", type=int, default=0)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "archives")
    args = parser.parse_args()
    try:
        log = fresh_work(args.work)
        bags = make_bags(args.work, make_sources(args.work, args.size_mib, args.files), log)
        print("## `archiver validate` of serialized bags against the same bag as a folder\n")
        print("\n".join(machine_lines("bagit")))
        print(f"- {args.repeat} runs per form, interleaved, each after an untimed `sync`\n")
        for name, forms in bags.items():
            samples: dict[str, list[Sample]] = {form: [] for form in FORMS}
            for attempt in range(args.repeat):
                for form in FORMS:
                    progress(f"{name}-{form}-{attempt + 1}")
                    samples[form].append(validate(forms[form], log))
            what = (
                f"One file of {args.size_mib} MiB"
                if name == "big"
                else f"{args.files} files of 8 KiB in 100 folders"
            )
            size = sum(p.stat().st_size for p in forms["tar"].parent.glob(f"{name}.tar"))
            print(f"### {what}\n")
            headers = ["form", "median s", "min s", "throughput", "peak RSS MiB", "runs s"]
            count = 1 if name == "big" else args.files
            rows = [timing_row(form, samples[form], count, size) for form in FORMS]
            print(table(headers, rows), "\n")
            folder = statistics.median(s.seconds for s in samples["folder"])
            ratios = []
            for form in FORMS[1:]:
                ratio = statistics.median(s.seconds for s in samples[form]) / folder
                row = ratio_row(f"{form} against the folder (time)", ratio, TARGET[name])
                if form != "tar":
                    row[2:] = ["—", "—"]  # printed for information
                ratios.append(row)
            print(table(["archive", "ratio", "target", "met"], ratios), "\n")
        if args.members:
            report_members(args.work, args.members, args.repeat, log)
    except BenchError as exc:
        print(f"bench_archives: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
