"""Benchmark: ``archiver validate`` against ``bagit.py --validate`` on the same bags, same run.

What it measures
    Three bags are generated once into the work folder (seeded, and reused while their
    payload has the right file count and size), each made by LoC bagit-python with
    ``bagit.py --sha256 --sha512 DIR``, so both validators check the very same bag, with
    SHA-256 and SHA-512 manifests and no archiver metadata:

    - many: ``--files`` files of exactly 8 KiB of seeded random bytes in 100 subfolders:
      per-file overhead (opening, reading, hashing, manifest bookkeeping) is what counts;
    - big: one file of ``--size-mib`` MiB of seeded random bytes: hashing throughput
      (archiver hashes the two algorithms in parallel threads; hashlib releases the GIL);
    - huge-count: ``--many`` files of 16 to 200 bytes in 1000 subfolders: memory first.

    A fourth bag is made by ``python -m archiver bag`` from the huge-count payload (the
    bagit bag's ``data/`` folder): it carries METS and PREMIS with an object per file, so
    its validation also streams hundreds of megabytes of XML through the schema checks.

    A fifth bag is made by ``python -m archiver bag`` from the many payload (issue 12: an
    archiver bag validates, metadata checks included, in at most half bagit.py's time).

    many, big and that archiver bag are validated ``--repeat`` times by each tool, the runs
    interleaved (archiver, bagit, archiver, bagit...) so that a slow phase of the machine
    hits both:

    - ``python -m archiver validate BAG``: full validation with its defaults (RFC 8493
      structure, every manifest and tag manifest, all cores);
    - ``bagit.py --validate BAG``: bagit-python's full validation, one process (its
      default, as shipped).

    The huge-count bag and the archiver bag of it are validated ``--many-repeat`` times by
    each tool, interleaved likewise: the figures there are archiver's peak memory, against
    the target, and (archiver bag) its time against bagit.py's, which checks the manifests
    and tag manifests (so it hashes the XML) but does not parse METS or PREMIS.

    Every run is a child process: wall time is ``time.perf_counter`` around the child,
    peak memory is the child's ``ru_maxrss`` from ``os.wait4``. Both tools must exit 0
    (the bag is valid), or the benchmark stops. Before every run, ``os.sync()`` and a
    one-second pause; before the first run on a bag, every file of it is read once
    (untimed), so both tools find it in the page cache, whoever runs first.

How to read the numbers
    - "median s" is the figure to quote; "min s" is the best case, and the spread of the
      individual runs (listed) shows how noisy the machine was.
    - A ratio is archiver / bagit.py: below 1.0x archiver is faster (or leaner). The time
      targets (0.5x for many and for archiver's own bag of them, 0.7x for big) are judged
      on the ratio of the medians; the ratio of the minimums is printed beside it to show
      how much noise moves it.
    - The memory target (a bag of 100,000 small files validates in under 200 MB, i.e.
      200,000,000 bytes, 190.7 MiB) is judged on archiver's peak RSS, for both bags.
    - All bags are read from the page cache: the figures are hashing, parsing and
      per-file overhead, not disk speed.
    - Peak RSS is the largest single process (ru_maxrss is a maximum over the child and
      the descendants it reaped, not a sum).
    - Peak RSS has a floor: on exec the kernel folds the spawning process's high-water RSS
      into the child's ru_maxrss, so no child reads below this script's own peak (printed
      in the header).

Usage: python benchmarks/bench_validate.py [--work DIR] [--size-mib N] [--files N]
[--many N] [--repeat N] [--many-repeat N] [--keep]. The report (markdown) goes to stdout,
progress to stderr. The work folder is removed at the end, except the bags when --keep is given.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    BAGIT_PY,
    MIB,
    SEED,
    BenchError,
    Sample,
    compile_archiver,
    machine_lines,
    median_seconds,
    met,
    positive,
    progress,
    ratio_row,
    rss_floor_line,
    run_child,
    run_sha512,
    run_startup,
    settle,
    table,
    throughput,
    timing_row,
)

HERE = Path(__file__).resolve().parent
SOURCE_DATE_EPOCH = "1795737600"
ARCHIVER_BAG_ID = "many"

MANY_FOLDERS = 100
MANY_SIZE = 8 << 10
HUGE_FOLDERS = 1000
TINY_MIN, TINY_MAX = 16, 200

# Targets for archiver / bagit.py (time), and for archiver's peak RSS (bytes).
TARGET_MANY = 0.5
TARGET_BIG = 0.7  # issue 12: one 512 MiB file, both digests in parallel
TARGET_MEMORY = 200_000_000


# --- running children --------------------------------------------------------------------


def archiver_validate(bag: Path, log: Path) -> Sample:
    return run_child([sys.executable, "-m", "archiver", "validate", str(bag)], log)


def bagit_validate(bag: Path, log: Path) -> Sample:
    # Run by this interpreter: the same Python for both tools, whatever the shebang says.
    return run_child([sys.executable, str(BAGIT_PY), "--validate", str(bag)], log)


@dataclass(frozen=True)
class Tool:
    key: str
    label: str
    run: Callable[[Path, Path], Sample]


ARCHIVER = Tool("archiver", "`archiver validate`", archiver_validate)
BAGIT = Tool("bagit", "`bagit.py --validate`", bagit_validate)
TOOLS = (ARCHIVER, BAGIT)
# The floor of one big file, timed in the same runs: SHA-512 over its bytes on one core (the
# costlier digest; archiver runs SHA-256 beside it) and archiver's start-up.
SHA512 = Tool("sha512", "SHA-512 on one core", lambda bag, log: run_sha512(bag / "data", log))
STARTUP = Tool("startup", "`archiver --version` (start-up)", lambda _bag, log: run_startup(log))
FLOOR_TOOLS = (SHA512, STARTUP)
# archiver against that floor (issue 12: where a target sits below a floor, within 15% of it)
TARGET_FLOOR = 1.15


def warm(bag: Path) -> None:
    """Read every file of ``bag`` once (untimed), so no tool pays for a cold page cache."""
    buffer = bytearray(MIB)
    for base, _dirs, names in os.walk(bag):
        for name in names:
            with open(os.path.join(base, name), "rb", buffering=0) as handle:
                while handle.readinto(buffer):
                    pass


# --- data sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    key: str  # folder and log names
    title: str
    path: Path  # the bag both tools validate
    files: int  # payload files
    size: int  # payload bytes
    target: float  # archiver / bagit.py time, at most; 0.0: none (printed for scale)
    floor: bool = False  # also time the floor: SHA-512 on one core + archiver's start-up


def write_many(folder: Path, count: int) -> None:
    rng = random.Random(SEED)
    for index in range(MANY_FOLDERS):
        (folder / f"d{index:02d}").mkdir()
    for index in range(count):
        path = folder / f"d{index % MANY_FOLDERS:02d}" / f"f{index:05d}.bin"
        path.write_bytes(rng.randbytes(MANY_SIZE))


def write_big(path: Path, size: int) -> None:
    rng = random.Random(SEED)
    left = size
    with open(path, "wb") as handle:
        while left:
            piece = min(left, MIB)
            handle.write(rng.randbytes(piece))
            left -= piece


def write_tiny(folder: Path, count: int) -> None:
    rng = random.Random(SEED)
    for index in range(HUGE_FOLDERS):
        (folder / f"d{index:03d}").mkdir()
    for index in range(count):
        path = folder / f"d{index % HUGE_FOLDERS:03d}" / f"f{index:06d}.bin"
        path.write_bytes(rng.randbytes(rng.randint(TINY_MIN, TINY_MAX)))


def folder_stats(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``; (0, 0) when it does not exist."""
    files = size = 0
    for base, _dirs, names in os.walk(folder):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(base, name)).st_size
    return files, size


def tag_bytes(bag: Path) -> int:
    """Bytes of the tag files: everything in the bag outside ``data/``."""
    total = folder_stats(bag)[1]
    return total - folder_stats(bag / "data")[1]


def is_bagit_bag(bag: Path) -> bool:
    names = ("bagit.txt", "manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha512.txt")
    return all((bag / name).is_file() for name in names)


def ensure_bag(
    bag: Path, files: int, size: int | None, write: Callable[[Path], None], log: Path
) -> tuple[int, int]:
    """Reuse ``bag`` if its payload holds ``files`` files (of ``size`` bytes); else make it.

    The payload is written under a temporary name, bagged in place by ``bagit.py`` and then
    renamed, so a folder with the final name is always a complete bag, even after an
    interrupted run.
    """
    found = folder_stats(bag / "data")
    if is_bagit_bag(bag) and found[0] == files and (size is None or found[1] == size):
        progress(f"reusing {bag}")
        return found
    progress(f"generating {bag} ({files} payload files)")
    partial = bag.with_name(f".partial-{bag.name}")
    for stale in (bag, partial):
        shutil.rmtree(stale, ignore_errors=True)
    partial.mkdir(parents=True)
    start = time.perf_counter()
    write(partial)
    progress(f"payload written in {time.perf_counter() - start:.1f} s; bagit.py bagging it")
    made = run_child([sys.executable, str(BAGIT_PY), "--sha256", "--sha512", str(partial)], log)
    progress(f"bagged by bagit.py in {made.seconds:.1f} s")
    partial.rename(bag)
    return folder_stats(bag / "data")


def ensure_archiver_bag(out: Path, source: Path, files: int, log: Path) -> Path:
    """An archiver bag of ``source`` at ``out/many``, reused if it holds ``files`` files.

    ``archiver bag`` moves a bag into place only once it is complete; a bag from a run on
    other data (another file count) is replaced.
    """
    bag = out / ARCHIVER_BAG_ID
    if (bag / "bagit.txt").is_file() and folder_stats(bag / "data")[0] == files:
        progress(f"reusing {bag}")
        return bag
    progress(f"generating {bag} with archiver bag ({files} payload files)")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    argv = [sys.executable, "-m", "archiver", "bag", str(source), "--out", str(out)]
    made = run_child([*argv, "--id", ARCHIVER_BAG_ID], log, env)
    progress(f"bagged by archiver in {made.seconds:.1f} s")
    return bag


def prepare_data(
    data_dir: Path, logs: Path, size_mib: int, count: int, huge: int
) -> tuple[list[DataSet], list[DataSet]]:
    """(the timed data sets, the memory data sets)."""
    size = size_mib * MIB
    many = data_dir / "many"
    many_files, many_size = ensure_bag(
        many, count, count * MANY_SIZE, lambda f: write_many(f, count), logs / "make-many.log"
    )
    big = data_dir / "big"
    ensure_bag(big, 1, size, lambda f: write_big(f / "random.bin", size), logs / "make-big.log")
    tiny = data_dir / "huge-count"
    huge_files, huge_size = ensure_bag(
        tiny, huge, None, lambda f: write_tiny(f, huge), logs / "make-huge-count.log"
    )
    ours = ensure_archiver_bag(
        data_dir / "archiver", tiny / "data", huge_files, logs / "make-archiver.log"
    )
    # Issue 12: our own bags, metadata checks included, against bagit.py on the same bag.
    ours_many = ensure_archiver_bag(
        data_dir / "archiver-many", many / "data", many_files, logs / "make-archiver-many.log"
    )
    xml_mib = tag_bytes(ours) / MIB
    timed = [
        DataSet(
            "many",
            f"{many_files} files of 8 KiB ({many_size / MIB:.1f} MiB) in {MANY_FOLDERS} folders",
            many,
            many_files,
            many_size,
            TARGET_MANY,
        ),
        DataSet("big", f"One file of {size_mib} MiB", big, 1, size, TARGET_BIG, floor=True),
        DataSet(
            "archiver-many",
            f"archiver bag of the {many_files} files of 8 KiB (+ METS/PREMIS; tag files "
            f"{tag_bytes(ours_many) / MIB:.1f} MiB, all checked)",
            ours_many,
            many_files,
            many_size,
            TARGET_MANY,
        ),
    ]
    memory = [
        DataSet(
            "huge-count",
            f"bagit.py bag: {huge_files} files of {TINY_MIN}–{TINY_MAX} B "
            f"({huge_size / MIB:.1f} MiB) in {HUGE_FOLDERS} folders",
            tiny,
            huge_files,
            huge_size,
            0.0,
        ),
        DataSet(
            "archiver-bag",
            f"archiver bag of the same payload (+ METS/PREMIS; tag files {xml_mib:.0f} MiB)",
            ours,
            huge_files,
            huge_size,
            TARGET_MANY,
        ),
    ]
    return timed, memory


# --- runs --------------------------------------------------------------------------------


@dataclass
class Outcome:
    data: DataSet
    samples: dict[str, list[Sample]] = field(default_factory=dict)


def bench_dataset(data: DataSet, logs: Path, repeat: int) -> Outcome:
    """Each tool ``repeat`` times on ``data``, interleaved."""
    progress(f"warming the page cache with {data.path}")
    warm(data.path)
    tools = (*TOOLS, *FLOOR_TOOLS) if data.floor else TOOLS
    outcome = Outcome(data, {tool.key: [] for tool in tools})
    for number in range(1, repeat + 1):
        for tool in tools:
            settle()
            name = f"{data.key}-{tool.key}-{number}"
            progress(f"{name} ...")
            sample = tool.run(data.path, logs / f"{name}.log")
            progress(f"{name}: {sample.seconds:.2f} s, {sample.peak_kib / 1024:.0f} MiB")
            outcome.samples[tool.key].append(sample)
    return outcome


# --- report ------------------------------------------------------------------------------


def header(args: argparse.Namespace) -> str:
    return "\n".join(
        [
            "## `archiver validate` vs `bagit.py --validate`",
            "",
            *machine_lines("bagit"),
            "- Bags made by `bagit.py --sha256 --sha512` (no archiver metadata) unless stated; "
            "both tools validate the very same bag, read from the page cache",
            f"- {args.repeat} runs per tool, interleaved; `archiver validate` with its defaults "
            "(all cores), `bagit.py --validate` with its default of one process",
            rss_floor_line(),
        ]
    )


def min_seconds(samples: Sequence[Sample]) -> float:
    return min(s.seconds for s in samples)


def peak_kib(samples: Sequence[Sample]) -> int:
    # The largest peak over the runs: memory is a limit, so the worst run is what counts.
    return max(s.peak_kib for s in samples)


def tool_rows(outcome: Outcome) -> list[list[str]]:
    data = outcome.data
    return [
        timing_row(tool.label, outcome.samples[tool.key], data.files, data.size)
        for tool in (*TOOLS, *FLOOR_TOOLS)
        if tool.key in outcome.samples
    ]


def timed_section(outcome: Outcome) -> str:
    ours, theirs = outcome.samples[ARCHIVER.key], outcome.samples[BAGIT.key]
    target = outcome.data.target
    median_ratio = time_ratio(outcome)
    min_ratio = min_seconds(ours) / min_seconds(theirs)
    memory_ratio = peak_kib(ours) / peak_kib(theirs)
    return "\n".join(
        [
            f"### {outcome.data.title}",
            "",
            table(
                ["tool", "median s", "min s", "throughput", "peak RSS MiB", "runs s"],
                tool_rows(outcome),
            ),
            "",
            table(
                ["archiver / bagit.py", "ratio", "target", "met"],
                [
                    ratio_row("time (median)", median_ratio, target),
                    # The target is judged on the medians; the minimums show the noise.
                    ["time (min)", f"{min_ratio:.2f}x", "—", "—"],
                    ["peak memory", f"{memory_ratio:.2f}x", "—", "—"],
                ],
            ),
            *floor_lines(outcome),
        ]
    )


def floor_lines(outcome: Outcome) -> list[str]:
    """archiver against the floor timed in the same runs (per run: SHA-512 + start-up), and
    whether bagit.py's target sits below it."""
    if not outcome.data.floor:
        return []
    runs = outcome.samples
    floor = [
        Sample(sha.seconds + start.seconds, 0)
        for sha, start in zip(runs[SHA512.key], runs[STARTUP.key], strict=True)
    ]
    ours = median_seconds(runs[ARCHIVER.key])
    ratio = ours / median_seconds(floor)
    target_seconds = outcome.data.target * median_seconds(runs[BAGIT.key])
    below = target_seconds < median_seconds(floor)
    return [
        "",
        table(
            ["archiver against", "ratio", "target", "met"],
            [ratio_row("the floor: SHA-512 on one core + start-up (time)", ratio, TARGET_FLOOR)],
        ),
        "",
        f"The floor's median: {median_seconds(floor):.2f} s; bagit.py's target, "
        f"{outcome.data.target:.2f}x of its median, is {target_seconds:.2f} s: "
        + ("below the floor, so archiver is judged against the floor." if below else "above it."),
    ]


def time_ratio(outcome: Outcome) -> float:
    """archiver / bagit.py, median over median: what the time targets judge."""
    return median_seconds(outcome.samples[ARCHIVER.key]) / median_seconds(
        outcome.samples[BAGIT.key]
    )


def memory_row(bag: str, tool: Tool, outcome: Outcome) -> list[str]:
    judged = tool is ARCHIVER
    samples = outcome.samples[tool.key]
    peak = peak_kib(samples)
    seconds = median_seconds(samples)
    return [
        bag,
        tool.label,
        f"{seconds:.2f}",
        throughput(outcome.data.files, outcome.data.size, seconds),
        f"{peak / 1024:.0f}",
        "< 200 MB" if judged else "—",
        met(peak * 1024 < TARGET_MEMORY) if judged else "—",
    ]


def memory_section(outcomes: Sequence[Outcome], repeat: int) -> str:
    rows: list[list[str]] = []
    ratios = []
    for number, outcome in enumerate(outcomes, 1):
        rows.extend(memory_row(f"({number})", tool, outcome) for tool in TOOLS)
        ratio = time_ratio(outcome)
        target = outcome.data.target
        what = f"({number}) time (median)"
        ratios.append(
            ratio_row(what, ratio, target) if target else [what, f"{ratio:.2f}x", "—", "—"]
        )
    files = outcomes[0].data.files
    notes = [f"- ({number}) {outcome.data.title}" for number, outcome in enumerate(outcomes, 1)]
    return "\n".join(
        [
            f"### A bag of {files} small files ({repeat} runs per tool, interleaved)",
            "",
            *notes,
            "",
            table(
                ["bag", "tool", "median s", "throughput", "peak RSS MiB", "target", "met"],
                rows,
                text=2,
            ),
            "",
            table(["archiver / bagit.py", "ratio", "target", "met"], ratios),
            "",
            "The memory target is archiver's peak RSS (the largest of its runs) under 200 MB "
            "(200,000,000 bytes, 190.7 MiB). The time target (0.5x) is issue 12's for the "
            "archiver bag (2): `bagit.py --validate` checks its manifests and tag manifests "
            "(it hashes the METS/PREMIS files) but does not parse or check the metadata, "
            "which archiver does. On the bagit.py bag (1) the ratio is printed for scale.",
        ]
    )


# --- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "validate", metavar="DIR")
    parser.add_argument("--size-mib", type=positive, default=512, metavar="N")
    parser.add_argument("--files", type=positive, default=10000, metavar="N")
    parser.add_argument("--many", type=positive, default=100000, metavar="N")
    parser.add_argument("--repeat", type=positive, default=3, metavar="N")
    parser.add_argument("--many-repeat", type=positive, default=7, metavar="N")
    parser.add_argument("--keep", action="store_true", help="keep the bags for the next run")
    return parser.parse_args(argv)


def clean_up(work: Path, keep: bool, made_parent: bool) -> None:
    """Remove what this script made; the work folder itself only if that leaves it empty."""
    for name in ("logs",) if keep else ("logs", "data"):
        shutil.rmtree(work / name, ignore_errors=True)
    if keep:
        return
    try:
        work.rmdir()
        if made_parent:
            work.parent.rmdir()
    except OSError:
        progress(f"{work} or its parent is not empty; left in place")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work: Path = args.work.resolve()
    if not BAGIT_PY.is_file():
        print(f"bench_validate: {BAGIT_PY} not found (pip install bagit)", file=sys.stderr)
        return 2
    made_parent = not work.parent.exists()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        compile_archiver()
        timed, memory = prepare_data(work / "data", logs, args.size_mib, args.files, args.many)
        timed_outcomes = [bench_dataset(data, logs, args.repeat) for data in timed]
        memory_outcomes = [bench_dataset(data, logs, args.many_repeat) for data in memory]
    except BenchError as exc:
        print(f"bench_validate: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        clean_up(work, args.keep, made_parent)
    sections = [
        header(args),
        *map(timed_section, timed_outcomes),
        memory_section(memory_outcomes, args.many_repeat),
    ]
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
