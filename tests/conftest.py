"""Shared test helpers: running the CLI in-process, sample paths, tree snapshots."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import settings

from archiver import resources
from archiver.cli import main

# Property tests draw the same examples on every run, so a run is repeatable and CI fails
# only on a change (the failing example is printed). HYPOTHESIS_PROFILE=explore draws new
# ones from a random seed, to look for what the fixed ones miss.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

SAMPLE_TEXT = resources.sample_file("a-giant-step-for-peace.txt")
SAMPLE_RECORD = resources.sample_file("a-giant-step-for-peace.json")
REPO = Path(__file__).resolve().parent.parent
# The fixed moment the committed sample bag in bags/ was made at (2026-11-27T00:00:00Z).
BAGS_EPOCH = 1795737600


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


CliRunner = Callable[..., Run]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Run ``archiver ARGS`` in this process; returns exit code, stdout and stderr."""

    def run(*args: str | os.PathLike[str], epoch: int | None = BAGS_EPOCH) -> Run:
        if epoch is None:
            monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
        else:
            monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
        capsys.readouterr()
        code = main([os.fspath(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (bag-relative path -> bytes), symlinks as their target."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = b"-> " + os.fsencode(os.readlink(path))
        elif path.is_file():
            found[rel] = path.read_bytes()
    return found


def listing(root: Path) -> list[str]:
    """Everything under ``root``, hidden entries included, as sorted relative paths."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """The sample text copied into its own folder (tests must never touch the packaged one)."""
    folder = tmp_path / "src"
    folder.mkdir()
    target = folder / SAMPLE_TEXT.name
    shutil.copy2(SAMPLE_TEXT, target)
    return target


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``; return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def make_source_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    return write_tree(root, files)


def small_collection(root: Path, bags: int = 3, files: int = 3) -> Path:
    """``root/collection``: ``bags`` archiver bags b0, b1... of ``files`` small texts each
    (f000.txt, f001.txt...), dated BAGS_EPOCH."""
    from archiver.clock import Clock
    from archiver.packing import make_bag

    collection = root / "collection"
    for number in range(bags):
        source = make_source_tree(
            root / "sources" / f"b{number}",
            {f"f{i:03d}.txt": f"file {i} of bag {number}\n" for i in range(files)},
        )
        make_bag(
            [source], collection, bag_id=f"b{number}", clock=Clock.from_epoch(BAGS_EPOCH), workers=1
        )
    return collection


@pytest.fixture
def make_source(tmp_path: Path) -> Callable[[dict[str, bytes | str]], Path]:
    """A source folder with the given files."""
    counter = iter(range(1000))

    def make(files: dict[str, bytes | str]) -> Path:
        return write_tree(tmp_path / f"source{next(counter)}", files)

    return make


def iter_findings(report: dict[str, object]) -> Iterator[dict[str, object]]:
    bags = report["bags"]
    assert isinstance(bags, list)
    for bag in bags:
        yield from bag["findings"]


def codes_of(report: dict[str, object]) -> Sequence[str]:
    return sorted({str(f["code"]) for f in iter_findings(report)})


_OPEN_LOG: list[str] | None = None
_READ_LOG: list[tuple[str, str]] | None = None
_PACKAGE = str(Path(resources.__file__).resolve().parent) + os.sep


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _READ_LOG is not None and event == "open" and args:
        _log_read(args)
    if _OPEN_LOG is None or event not in {"open", "os.scandir", "os.listdir"} or not args:
        return
    target = args[0]
    if isinstance(target, (str, bytes, os.PathLike)):
        _OPEN_LOG.append(os.fsdecode(target))


def _log_read(args: tuple[object, ...]) -> None:
    target, mode, flags = (*args, None, None)[:3]
    if not isinstance(target, (str, bytes, os.PathLike)):
        return
    reading = (
        ("r" in mode and "+" not in mode)
        if isinstance(mode, str)
        else isinstance(flags, int) and flags & os.O_ACCMODE == os.O_RDONLY
    )
    if not reading:
        return
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and not frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    opener = frame.f_code.co_filename[len(_PACKAGE) :] if frame is not None else "(not archiver)"
    assert _READ_LOG is not None
    _READ_LOG.append((os.fsdecode(target), opener.replace(os.sep, "/")))


# One hook for the whole run (audit hooks cannot be removed); it records only inside watch_opens.
sys.addaudithook(_audit)


@contextmanager
def watch_opens() -> Iterator[list[str]]:
    """Every path this process opens or lists meanwhile, from the interpreter's audit events."""
    global _OPEN_LOG
    log: list[str] = []
    _OPEN_LOG = log
    try:
        yield log
    finally:
        _OPEN_LOG = None


@contextmanager
def watch_reads() -> Iterator[list[tuple[str, str]]]:
    """Every file this process opens for reading meanwhile, with the archiver module (path
    inside the package) whose code opened it."""
    global _READ_LOG
    log: list[tuple[str, str]] = []
    _READ_LOG = log
    try:
        yield log
    finally:
        _READ_LOG = None
