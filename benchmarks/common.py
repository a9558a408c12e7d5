"""What the benchmark scripts share: running a child and measuring it, and printing tables.

Imported by the scripts beside it (``python benchmarks/bench_*.py`` puts this folder on the
import path).
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

MIB = 1 << 20
BAGIT_PY = Path(sys.executable).parent / "bagit.py"
SEED = 8493  # RFC 8493, BagIt


class BenchError(Exception):
    """A child process failed or the set-up is wrong: the benchmark cannot go on."""


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_kib: int  # ru_maxrss: KiB on Linux


def run_child(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Sample:
    """Run one child to its end; its time and peak RSS. Raises BenchError if it fails.

    os.wait4 reaps the child and hands back its rusage, which Popen.wait() would throw
    away; the exit status is set on the Popen by hand so that it does not wait again.
    Output goes to a log file, not a pipe: a pipe nobody reads would stall a chatty child.
    """
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise BenchError(
            f"`{' '.join(argv)}` exited with {proc.returncode}; its last lines:\n" + "\n".join(tail)
        )
    return Sample(seconds, usage.ru_maxrss)


def settle() -> None:
    """Let the disk catch up, so earlier writes are not paid for by the next run."""
    os.sync()
    time.sleep(1)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


ARCHIVER_DIR = Path(__file__).resolve().parent.parent / "archiver"
_compiled = False  # compile_archiver ran: machine_lines says so


def compile_archiver() -> None:
    """Byte-compile archiver's modules into their ``__pycache__`` folders, as pip does when
    it installs a package, before any run is timed.

    An installed archiver starts from its .pyc files. A checkout run with
    PYTHONDONTWRITEBYTECODE=1 (as on the project's machine) never writes them, so every
    child would compile archiver from source: ~45 ms a run that no installed copy pays.
    (bagit.py runs as pip installs it: a script, which Python compiles at every start.)
    """
    global _compiled
    if not compileall.compile_dir(ARCHIVER_DIR, quiet=1):
        raise BenchError(f"could not byte-compile {ARCHIVER_DIR}")
    _compiled = True


# When a benchmark last removed what it made. ext4 without a journal (this VM's) skips
# inodes freed in the last 6 minutes when it allocates new ones in their block group while
# their inode table is being written (ialloc.c, recently_deleted: 60 s, plus 300 s for a
# dirty block): 1,000 bags made where 19,000 had just been removed took 2.4-2.7 s with one
# job instead of 1.8 s, twice the system time. So a benchmark starts 6 minutes after.
REMOVED_MARK = Path(__file__).resolve().parent / "work" / ".last-removal"
_RECENTLY_DELETED = 361.0


def remove_tree(path: Path) -> None:
    """Remove what a run made, write the removal to disk, and note when (fresh_work waits
    for the file system to get over it)."""
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
        os.sync()
        REMOVED_MARK.parent.mkdir(parents=True, exist_ok=True)
        REMOVED_MARK.touch()


# The disk is quiet when no task waited on it over the last 10 s, bar this share of the time
# (/proc/pressure/io, "some avg10", in %).
_QUIET_IO = 1.0
_QUIET_LIMIT = 600.0  # seconds waited at most


def wait_for_quiet_disk() -> None:
    """Wait until nothing has waited on the disk for ten seconds (Linux's pressure stall
    information), ten minutes at most. Removing many files leaves this VM's disk (ext4
    mounted with ``discard``) busy for minutes: a run of 1,000 bags started 1-3 minutes
    after 20,000 were removed took 1.4 times as long as one started later."""
    start = time.monotonic()
    told = False
    while time.monotonic() - start < _QUIET_LIMIT:
        try:
            with open("/proc/pressure/io", encoding="ascii") as handle:
                some = handle.readline().split()
            busy = float(some[1].split("=", 1)[1])
        except (OSError, IndexError, ValueError):
            time.sleep(60)  # no pressure information here: a minute, as a guess
            return
        if busy <= _QUIET_IO:
            if told:
                progress(f"the disk is quiet after {time.monotonic() - start:.0f} s")
            return
        if not told:
            progress(f"waiting for the disk to be quiet ({busy:.1f}% of the time waited on)")
            told = True
        time.sleep(2)
    progress(f"the disk is still busy after {_QUIET_LIMIT:.0f} s: measuring anyway")


def fresh_work(work: Path) -> Path:
    """An empty work folder (what an earlier run left removed), archiver byte-compiled, no
    inode freed in the last 6 minutes, and a quiet disk; the log file the children write
    to."""
    remove_tree(work)
    work.mkdir(parents=True)
    compile_archiver()
    try:
        wait = REMOVED_MARK.stat().st_mtime + _RECENTLY_DELETED - time.time()
    except FileNotFoundError:
        wait = 0.0
    if wait > 0:
        progress(f"waiting {wait:.0f} s: files were removed less than 6 minutes ago")
        time.sleep(wait)
    wait_for_quiet_disk()
    return work / "children.log"


def machine_lines(*packages: str) -> list[str]:
    """Where and when the figures were measured: date, platform, CPU, Python and versions of
    archiver and ``packages``, as README list items."""
    versions = ", ".join(f"{name} {version(name)}" for name in ("archiver", *packages))
    lines = [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Platform: {platform.platform()}",
        f"- CPU: {cpu_model()}, {len(os.sched_getaffinity(0))} cores available",
        f"- Python {platform.python_version()}, {versions}",
    ]
    if _compiled:
        lines.append("- archiver's modules byte-compiled before the runs, as pip installs them")
    return lines


def rss_floor_line() -> str:
    """This script's own peak RSS, which every child it starts inherits in ru_maxrss."""
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"- Peak RSS floor (this script's own peak, counted into every child): {floor:.0f} MiB"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], text: int = 1) -> str:
    """A markdown table: the first ``text`` columns left-aligned, the others (numbers) right."""
    widths = [max(len(line[i]) for line in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i < text else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * w if i < text else "-" * (w - 1) + ":" for i, w in enumerate(widths)]
    return "\n".join([line(headers), "| " + " | ".join(rule) + " |", *map(line, rows)])


def median_seconds(samples: Sequence[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def throughput(files: int, size: int, seconds: float) -> str:
    """MiB/s for one big file, files/s for many."""
    if files == 1:
        return f"{size / MIB / seconds:.0f} MiB/s"
    return f"{files / seconds:.0f} files/s"


def timing_row(label: str, samples: Sequence[Sample], files: int, size: int) -> list[str]:
    """A table row: median and best seconds, throughput, largest peak RSS, every run."""
    middle = median_seconds(samples)
    return [
        label,
        f"{middle:.2f}",
        f"{min(s.seconds for s in samples):.2f}",
        throughput(files, size, middle),
        f"{max(s.peak_kib for s in samples) / 1024:.0f}",
        ", ".join(f"{s.seconds:.2f}" for s in samples),
    ]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


_SHA512 = (
    "import hashlib, os, sys\n"
    "for folder, _, names in os.walk(sys.argv[1]):\n"
    "    for name in names:\n"
    "        with open(os.path.join(folder, name), 'rb') as f:\n"
    "            h = hashlib.sha512()\n"
    "            while chunk := f.read(1 << 20):\n"
    "                h.update(chunk)\n"
)


def run_sha512(folder: Path, log: Path) -> Sample:
    """A floor for hashing: SHA-512 over every byte under ``folder``, on one core."""
    return run_child([sys.executable, "-c", _SHA512, str(folder)], log)


def run_startup(log: Path) -> Sample:
    """archiver's own start-up: the interpreter, the package, the command line."""
    return run_child([sys.executable, "-m", "archiver", "--version"], log)


def met(ok: bool) -> str:
    """Whether a target is met, as the reports say it (a miss stands out)."""
    return "yes" if ok else "**no**"


def ratio_row(what: str, ratio: float, target: float) -> list[str]:
    """A table row: what is compared, the ratio, the target (at most), whether it is met."""
    return [what, f"{ratio:.2f}x", f"≤ {target:.2f}x", met(ratio <= target)]
