"""Progress: the library tells how many bytes it is about to read and has read; the command
line draws it on stderr when stderr is a terminal (a pseudo-terminal here), never otherwise."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archiver import progress
from archiver.packing import make_bag
from archiver.validation import validate_bag
from tests.conftest import BAGS_EPOCH, REPO, make_source_tree

FILES: dict[str, bytes | str] = {
    "a.txt": "The first text.\n",
    "sub/b.txt": "The second text.\n" * 400,
}
SIZE = sum(len(str(text).encode()) for text in FILES.values())


@dataclass
class Told:
    totals: list[int] = field(default_factory=list)
    done: int = 0

    def begin(self, total: int) -> None:
        self.totals.append(total)

    def advance(self, done: int) -> None:
        self.done += done


@pytest.mark.parametrize("workers", [1, 2])
def test_bagging_and_validating_tell_every_byte_they_read(tmp_path: Path, workers: int) -> None:
    source = make_source_tree(tmp_path / "src", FILES)
    bagging = Told()
    with progress.reporting(bagging):
        made = make_bag([source], tmp_path / "bags", bag_id="b", workers=workers)
    assert bagging.totals == [SIZE] and bagging.done == SIZE
    validating = Told()
    with progress.reporting(validating):
        assert validate_bag(made.path, workers=workers).valid
    assert sum(validating.totals) == validating.done >= SIZE
    told = (list(validating.totals), validating.done)
    assert validate_bag(made.path, workers=workers).valid  # outside the block: nothing told
    assert (validating.totals, validating.done) == told


# -- on a terminal ------------------------------------------------------------------------------


def _run(args: list[str], *, terminal: bool) -> tuple[int, str, str]:
    """``archiver ARGS`` with stdout a pipe and stderr a pseudo-terminal (or a pipe)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}
    command = [sys.executable, "-m", "archiver", *args]
    if not terminal:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    # 24 rows of 100 columns, as a terminal has (a bare pseudo-terminal tells none: the
    # audit's test in test_audit_scale draws on one)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL
        )
        os.close(follower)
        drawn = b""
        while True:  # read until the child closes its end of the terminal
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: no one holds the terminal any more
                break
            if not chunk:
                break
            drawn += chunk
        assert child.stdout is not None
        out = child.stdout.read().decode()
        child.stdout.close()
        return child.wait(timeout=120), out, drawn.decode(errors="replace")
    finally:
        os.close(leader)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    make_source_tree(root / "src", FILES)
    code, _, err = _run(
        ["bag", str(root / "src"), "--out", str(root / "bags"), "--id", "b"], terminal=False
    )
    assert code == 0, err
    return root


def _commands(root: Path) -> dict[str, list[str]]:
    return {
        "bagging": ["bag", str(root / "src"), "--out", str(root / "new"), "--id", "n"],
        "validating": ["validate", str(root / "bags" / "b")],
        "ingesting": ["ingest", str(root / "bags" / "b"), "--out", str(root / "in"), "--id", "i"],
        "exporting": [
            "export", str(root / "bags" / "b"), "--to", "dspace-saf", "--out", str(root / "saf")
        ],
        "auditing": ["audit", str(root / "bags")],
    }  # fmt: skip


@pytest.mark.parametrize("label", ["bagging", "validating", "ingesting", "exporting", "auditing"])
def test_each_long_command_draws_progress_on_a_terminal_and_only_there(
    world: Path, label: str
) -> None:
    # Only the audit drew progress; bag, validate, ingest and export said nothing until done.
    for terminal in (True, False):
        args = _commands(world)[label]
        for made in ("new", "in", "saf"):  # each command makes its output afresh
            subprocess.run(["rm", "-rf", str(world / made)], check=True)
        code, out, err = _run(args, terminal=terminal)
        assert code == 0, err
        assert out  # the command's own output, on stdout, either way
        if terminal:
            assert f"{label}:" in err and "|" in err, err
        else:  # nothing but the command's notes (a derived title), no bar
            assert all(line.startswith("  note: ") for line in err.splitlines()), err
