"""Benchmark: `archiver audit` of a 200-bag collection with 1 worker and with 2; or, with
``--against-bagit``, `archiver audit` against running `bagit.py --validate` on each bag.

What it measures
    A collection of ``--bags`` BagIt bags (``--files`` files of ``--kib`` KiB each, seeded
    random bytes, SHA-256 and SHA-512 manifests, written by this script) is audited with
    ``--workers 1`` and ``--workers 2``, ``--repeat`` times each, interleaved, each run with
    a fresh ledger (so every bag is checked every time). It prints the median and best wall
    times, the peak memory of the audit process (``ru_maxrss``: its largest process), and
    the speed-up of 2 workers over 1 against the target of 1.7x.

    ``--against-bagit`` (issue 12: 40 bags x 32 MiB, target <= 0.35x): each attempt runs,
    in alternation and each after an untimed ``sync``, one `archiver audit` (all cores,
    fresh ledger) and `bagit.py --validate` on every bag in turn (LoC bagit-python, one
    process per bag, as a fixity run with it would), and prints the ratio of the medians.

How to read the numbers
    The files are read from the page cache (they were just written), so the figures are
    about hashing, recording in the ledger and scheduling, not the disk. With 2 workers the
    coordinator (this machine's only other core) also prepares bags and writes the ledger,
    so 2.0x is the ceiling.

Usage: python benchmarks/bench_audit.py [--bags N] [--files N] [--kib N] [--repeat N] [--work DIR]
       python benchmarks/bench_audit.py --against-bagit [--bags 40 --files 4 --kib 8192 --repeat 7]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import sys
from pathlib import Path

from common import BAGIT_PY, BenchError, compile_archiver, machine_lines, met, run_child

HERE = Path(__file__).resolve().parent
TARGET = 1.7
TARGET_AGAINST_BAGIT = 0.35


def make_bag(root: Path, rng: random.Random, files: int, size: int) -> None:
    (root / "data").mkdir(parents=True)
    manifests: dict[str, list[str]] = {"sha256": [], "sha512": []}
    for index in range(files):
        content = rng.randbytes(size)
        name = f"data/part-{index:03d}.bin"
        (root / name).write_bytes(content)
        for algorithm, lines in manifests.items():
            lines.append(f"{hashlib.new(algorithm, content).hexdigest()}  {name}\n")
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {files * size}.{files}\n")
    for algorithm, lines in manifests.items():
        (root / f"manifest-{algorithm}.txt").write_text("".join(lines))
    tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
    for algorithm in manifests:
        (root / f"tagmanifest-{algorithm}.txt").write_text(
            "".join(
                f"{hashlib.new(algorithm, (root / t).read_bytes()).hexdigest()}  {t}\n"
                for t in tags
            )
        )


def run_audit(collection: Path, ledger: Path, workers: int | None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `archiver audit` child process (``workers``
    None: its default, every core)."""
    ledger.unlink(missing_ok=True)
    command = [sys.executable, "-m", "archiver", "audit", str(collection), "--ledger", str(ledger)]
    if workers is not None:
        command += ["--workers", str(workers)]
    return timed(command, ledger.with_name("audit.log"))


def timed(command: list[str], log: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process, which must succeed."""
    try:
        sample = run_child(command, log)
    except BenchError as exc:
        raise SystemExit(str(exc)) from exc
    return sample.seconds, sample.peak_kib


def against_bagit(args: argparse.Namespace, collection: Path) -> None:
    """`archiver audit` against `bagit.py --validate` on each bag, alternating, synced."""
    bagit_py = BAGIT_PY
    bags = sorted(collection.iterdir())
    times: dict[str, list[float]] = {"archiver": [], "bagit": []}
    peaks = {"archiver": 0, "bagit": 0}
    for attempt in range(args.repeat):
        os.sync()
        seconds, peak = run_audit(collection, args.work / "ledger.sqlite", None)
        times["archiver"].append(seconds)
        peaks["archiver"] = max(peaks["archiver"], peak)
        os.sync()
        total = 0.0
        for bag in bags:
            seconds, peak = timed(
                [sys.executable, str(bagit_py), "--validate", str(bag)], args.work / "bagit.log"
            )
            total += seconds
            peaks["bagit"] = max(peaks["bagit"], peak)
        times["bagit"].append(total)
        print(
            f"[bench] pair {attempt + 1}: archiver {times['archiver'][-1]:.2f} s, "
            f"bagit.py {total:.2f} s",
            file=sys.stderr,
        )
    size = args.bags * args.files * (args.kib << 10)
    ratio = statistics.median(times["archiver"]) / statistics.median(times["bagit"])
    print("## `archiver audit` against `bagit.py --validate` on each bag\n")
    print("\n".join(machine_lines()))
    print(
        f"- Collection: {args.bags} bags x {args.files} files x {args.kib} KiB = "
        f"{size / 2**20:.0f} MiB, SHA-256 + SHA-512; {args.repeat} alternating pairs, "
        "each run after an untimed sync\n"
    )
    print("| tool | median s | best s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for tool, label in (("archiver", "archiver audit"), ("bagit", "bagit.py --validate, each bag")):
        print(
            f"| {label} | {statistics.median(times[tool]):.2f} | {min(times[tool]):.2f} | "
            f"{peaks[tool] / 1024:.0f} |"
        )
    print(
        f"\nRatio (medians): **{ratio:.2f}x** "
        f"(target ≤ {TARGET_AGAINST_BAGIT}x: {met(ratio <= TARGET_AGAINST_BAGIT)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=200)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--kib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "audit")
    parser.add_argument(
        "--against-bagit", action="store_true", help="time bagit.py --validate on each bag too"
    )
    args = parser.parse_args()
    compile_archiver()
    collection = args.work / "collection"
    shutil.rmtree(args.work, ignore_errors=True)
    rng = random.Random(8493)
    print(f"[bench] writing {args.bags} bags ...", file=sys.stderr)
    for number in range(args.bags):
        make_bag(collection / f"bag{number:04d}", rng, args.files, args.kib << 10)
    os.sync()
    if args.against_bagit:
        try:
            against_bagit(args, collection)
        finally:
            shutil.rmtree(args.work, ignore_errors=True)
        return 0
    times: dict[int, list[float]] = {1: [], 2: []}
    peaks: dict[int, int] = {1: 0, 2: 0}
    try:
        for attempt in range(args.repeat):
            for workers in (1, 2):
                seconds, peak = run_audit(collection, args.work / "ledger.sqlite", workers)
                times[workers].append(seconds)
                peaks[workers] = max(peaks[workers], peak)
                print(
                    f"[bench] run {attempt + 1}, {workers} worker(s): {seconds:.2f} s",
                    file=sys.stderr,
                )
    finally:
        shutil.rmtree(args.work, ignore_errors=True)
    total = args.bags * args.files * (args.kib << 10)
    speedup = statistics.median(times[1]) / statistics.median(times[2])
    print("## `archiver audit`: 1 worker against 2\n")
    print("\n".join(machine_lines()))
    print(
        f"- Collection: {args.bags} bags x {args.files} files x {args.kib} KiB = "
        f"{total / 2**20:.0f} MiB, SHA-256 + SHA-512; {args.repeat} runs each, interleaved\n"
    )
    print("| workers | median s | best s | MiB/s (median) | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|")
    for workers in (1, 2):
        median = statistics.median(times[workers])
        print(
            f"| {workers} | {median:.2f} | {min(times[workers]):.2f} | "
            f"{total / 2**20 / median:.0f} | {peaks[workers] / 1024:.0f} |"
        )
    print(
        f"\nSpeed-up of 2 workers over 1 (medians): **{speedup:.2f}x** "
        f"(target ≥ {TARGET}x: {met(speedup >= TARGET)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
