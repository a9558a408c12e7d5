"""Benchmark: ``archiver validate`` on bags with hostile tag files, from one or more checkouts.

What it measures
    Issue 10, item 15: a single long manifest or fetch.txt line, and a manifest of a million
    lines. Each case is a small hand-made BagIt 1.0 bag (two payload files) with one tag
    file made hostile:

    - ``manifest line N MB``: manifest-sha256.txt ends with one line of N MB (a checksum,
      then a path of x's);
    - ``fetch.txt line N MB``: fetch.txt holds one line of N MB (a URL of x's);
    - ``1,000,000 missing``: the manifest lists a million files that are not in the bag;
    - ``1,000,000 malformed``: the manifest has a million lines that are not entries.

    Each checkout runs ``python -m archiver validate --processes 1 BAG`` with the checkout
    first on PYTHONPATH (so one venv can time the code before a change and after it), in
    turn, with ``os.sync()`` and a pause between runs. A run that passes ``--timeout``
    seconds is stopped and shown as such.

How to read the numbers
    Wall time, peak RSS of the validating process, and the bytes it printed (stdout and
    stderr: what a terminal or a log receives). Exit code 1 is expected: every case is an
    invalid bag.

Usage: python benchmarks/bench_hostile.py CHECKOUT [CHECKOUT...] [--sizes 20,100]
[--lines 1000000] [--timeout 600] [--work DIR]. The report (markdown) goes to stdout,
progress to stderr; the bags are removed at the end.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import MIB, machine_lines, progress, settle, table

PAYLOAD = {"data/a.txt": b"The first text.\n", "data/b.txt": b"The second text.\n"}
_BLOCK = b"x" * MIB


@dataclass(frozen=True)
class Outcome:
    seconds: float
    peak_kib: int
    printed: int
    code: int | None  # None: stopped at the timeout


def write_bag(root: Path) -> Path:
    """A valid BagIt 1.0 bag: two payload files, a SHA-256 manifest, bag-info.txt."""
    (root / "data").mkdir(parents=True)
    for rel, data in PAYLOAD.items():
        (root / rel).write_bytes(data)
    (root / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    lines = [f"{hashlib.sha256(data).hexdigest()}  {rel}\n" for rel, data in PAYLOAD.items()]
    (root / "manifest-sha256.txt").write_text("".join(lines), encoding="utf-8")
    oxum = f"{sum(map(len, PAYLOAD.values()))}.{len(PAYLOAD)}"
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {oxum}\n", encoding="utf-8")
    return root


def long_line(path: Path, head: bytes, mib: int, tail: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(head)
        for _ in range(mib):
            handle.write(_BLOCK)
        handle.write(tail)


def many_lines(path: Path, count: int, line: Callable[[int], str]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        step = 10_000
        for first in range(0, count, step):
            handle.write("".join(line(n) for n in range(first, min(first + step, count))))


def cases(sizes: Sequence[int], count: int) -> list[tuple[str, Callable[[Path], None]]]:
    made: list[tuple[str, Callable[[Path], None]]] = []
    for mib in sizes:
        made.append((f"manifest line {mib} MB", functools.partial(_long_manifest_line, mib=mib)))
        made.append((f"fetch.txt line {mib} MB", functools.partial(_long_fetch_line, mib=mib)))
    made.append((f"{count:,} missing", functools.partial(_missing, count=count)))
    made.append((f"{count:,} malformed", functools.partial(_malformed, count=count)))
    return made


def _long_manifest_line(bag: Path, mib: int) -> None:
    long_line(bag / "manifest-sha256.txt", b"0" * 64 + b"  data/", mib, b"\n")


def _long_fetch_line(bag: Path, mib: int) -> None:
    long_line(bag / "fetch.txt", b"https://example.org/", mib, b" 1 data/remote.txt\n")


def _missing(bag: Path, count: int) -> None:
    many_lines(bag / "manifest-sha256.txt", count, lambda n: f"{'0' * 64}  data/gone/{n:07d}\n")


def _malformed(bag: Path, count: int) -> None:
    many_lines(bag / "manifest-sha256.txt", count, lambda n: f"not-hex  data/{n:07d}\n")


def validate(checkout: Path, bag: Path, log: Path, timeout: float) -> Outcome:
    """One run of ``archiver validate`` from ``checkout``: time, peak RSS, bytes printed."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    argv = [sys.executable, "-m", "archiver", "validate", "--processes", "1", str(bag)]
    with open(log, "wb") as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=checkout)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.send_signal(signal.SIGKILL)
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = -9
                return Outcome(time.perf_counter() - start, usage.ru_maxrss, 0, None)
            time.sleep(0.05)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return Outcome(seconds, usage.ru_maxrss, log.stat().st_size, child.returncode)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+", type=Path, metavar="CHECKOUT")
    parser.add_argument("--sizes", default="20,100", help="MB of the long lines (default 20,100)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the long manifests")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run stops")
    parser.add_argument("--work", type=Path, help="where the bags are built (default: a temp dir)")
    args = parser.parse_args(argv)
    checkouts = [c.resolve() for c in args.checkouts]
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-", dir=args.work))
    rows = []
    try:
        for name, spoil in cases([int(s) for s in args.sizes.split(",")], args.lines):
            bag = write_bag(work / "bag")
            spoil(bag)
            for checkout in checkouts:
                settle()
                progress(f"{name}: {checkout}")
                got = validate(checkout, bag, work / "log", args.timeout)
                rows.append(
                    [
                        name,
                        checkout.name,
                        f"{got.seconds:.2f}" if got.code is not None else f"> {args.timeout:.0f}",
                        f"{got.peak_kib / 1024:.0f}",
                        f"{got.printed:,}" if got.code is not None else "(stopped)",
                        str(got.code) if got.code is not None else "-",
                    ]
                )
            shutil.rmtree(bag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(machine_lines()))
    print()
    headers = ["case", "checkout", "seconds", "peak RSS MiB", "bytes printed", "exit"]
    print(table(headers, rows, text=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
