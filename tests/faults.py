"""Fault injection: run archiver in a child killed at a named point (archiver.faults)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def _environ_of(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _alive(pid: str) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def processes_of(mark: Path) -> list[int]:
    """Live processes started for the run marked ``mark`` (they carry it in their environ)."""
    needle = f"ARCHIVER_FAULT_MARK={mark}".encode()
    return [
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit() and needle in _environ_of(pid) and _alive(pid)
    ]


def kill_at(
    point: str, *args: str | os.PathLike[str], tmp: Path, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run ``archiver ARGS`` until it reaches ``point`` and dies there as by kill -9.

    Asserts the point was reached (the child wrote its name, and died of SIGKILL), then that
    no process of that run is left after a few seconds (workers die with their caller).
    """
    mark = tmp / f"fault-{point}-{time.monotonic_ns()}"
    env = {**os.environ, "ARCHIVER_FAULT": point, "ARCHIVER_FAULT_MARK": str(mark)}
    run = subprocess.run(
        [sys.executable, "-m", "archiver", *(os.fspath(arg) for arg in args)],
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert run.returncode == -9, (point, run.returncode, run.stderr.decode(errors="replace"))
    assert mark.read_text(encoding="utf-8") == point.split(":", 1)[0]
    deadline = time.monotonic() + 15
    while processes_of(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_of(mark) == [], f"processes outlived the run killed at {point}"
    return run
