"""Benchmark: `archiver audit` of a 200-bag collection with 1 worker and with 2.

What it measures
    A collection of ``--bags`` BagIt bags (``--files`` files of ``--kib`` KiB each, seeded
    random bytes, SHA-256 and SHA-512 manifests, written by this script) is audited with
    ``--workers 1`` and ``--workers 2``, ``--repeat`` times each, interleaved, each run with
    a fresh ledger (so every bag is checked every time). It prints the median and best wall
    times, the peak memory of the audit process (``ru_maxrss``: its largest process), and
    the speed-up of 2 workers over 1 against the target of 1.7x.

How to read the numbers
    The files are read from the page cache (they were just written), so the figures are
    about hashing, recording in the ledger and scheduling, not the disk. With 2 workers the
    coordinator (this machine's only other core) also prepares bags and writes the ledger,
    so 2.0x is the ceiling.

Usage: python benchmarks/bench_audit.py [--bags N] [--files N] [--kib N] [--repeat N] [--work DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import machine_lines

HERE = Path(__file__).resolve().parent
TARGET = 1.7


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


def run_audit(collection: Path, ledger: Path, workers: int) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `archiver audit` child process."""
    ledger.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "archiver",
        "audit",
        str(collection),
        "--ledger",
        str(ledger),
        "--workers",
        str(workers),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"audit failed ({process.returncode}): {process.stderr.read()!r}")
    return seconds, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=200)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--kib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "audit")
    args = parser.parse_args()
    collection = args.work / "collection"
    shutil.rmtree(args.work, ignore_errors=True)
    rng = random.Random(8493)
    print(f"[bench] writing {args.bags} bags ...", file=sys.stderr)
    for number in range(args.bags):
        make_bag(collection / f"bag{number:04d}", rng, args.files, args.kib << 10)
    os.sync()
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
    met = "yes" if speedup >= TARGET else "**no**"
    print(
        f"\nSpeed-up of 2 workers over 1 (medians): **{speedup:.2f}x** (target ≥ {TARGET}x: {met})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
