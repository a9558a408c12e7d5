"""Benchmark: the web view over 20,000 bags of texts (issue 15).

What it measures
    ``--bags`` bags (default 20,000), each one text of 1-20 KB of generated words (fixed
    seed), with a title, a year, a language and a set, are made once with `archiver
    batch` (kept in ``--work`` between runs: making them takes minutes). Then `archiver
    serve` starts; the time to its first answer is the catalog's first indexing of every
    bag (the view's list and full-text index). Then, ``--repeat`` times each (after 5
    untimed), interleaved: the collection page, one facet, a search for a word in ~1% of
    the texts, one in ~50%, and a two-word phrase. The server time of each answer is its
    Server-Timing header (the time the view took in the server process); the client's
    time on loopback is shown beside it. Target: every median at most 100 ms.

Usage: python benchmarks/bench_web.py [--bags 20000] [--repeat 100] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import BenchError, machine_lines, positive, progress, table

HERE = Path(__file__).resolve().parent
TARGET_MS = 100.0
RARE, COMMON, PHRASE = "quasar", "harbour", "silver lining"
QUERIES = {
    "collection page": "/",
    "a facet (year 2001)": "/?year=2001",
    f"search: a word in ~1% ({RARE})": f"/search?q={RARE}",
    f"search: a word in ~50% ({COMMON})": f"/search?q={COMMON}",
    f'search: a phrase ("{PHRASE}")': "/search?q=%22silver+lining%22",
}
_ANNOUNCE = re.compile(r"serving .* at (http://[^/\s]+)/oai")


def make_collection(work: Path, bags: int) -> Path:
    """The bags, made with `archiver batch` from a generated sheet; kept when complete."""
    collection = work / f"collection-{bags}"
    done = collection / ".archiver" / "bench-complete"
    if done.exists():
        return collection
    shutil.rmtree(work, ignore_errors=True)
    texts = work / "sheet" / "texts"
    texts.mkdir(parents=True)
    rng = random.Random(20261207)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(5000)
    ]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf-like
    rows = [["source", "id", "dc.title", "dc.date", "dc.language", "bag-info/Bag-Group-Identifier"]]
    for index in range(bags):
        size = rng.randint(1024, 20 * 1024)
        words: list[str] = []
        length = 0
        while length < size:
            chosen = rng.choices(vocabulary, weights, k=64)
            words += chosen
            length += sum(len(w) + 1 for w in chosen)
        if index % 100 == 7:
            words.insert(rng.randrange(len(words)), RARE)
        if index % 2 == 0:
            words.insert(rng.randrange(len(words)), COMMON)
        if index % 20 == 3:
            words.insert(rng.randrange(len(words)), PHRASE)
        name = f"report-{index:05d}.txt"
        (texts / name).write_text(" ".join(words)[: size + 40] + "\n", encoding="utf-8")
        year = 1950 + index % 71
        rows.append(
            [
                f"texts/{name}",
                f"report-{index:05d}",
                f"Report {index}: {' '.join(words[:4])}",
                str(year),
                ("en", "fr", "de")[index % 3],
                f"reports:{year // 10 * 10}s",
            ]
        )
    sheet = work / "sheet" / "reports.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    progress(f"making {bags} bags with archiver batch")
    made = subprocess.run(
        [sys.executable, "-m", "archiver", "batch", str(sheet), "--out", str(collection)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise BenchError(f"archiver batch failed: {made.stderr.strip()[-500:]}")
    done.touch()
    return collection


def start_server(collection: Path) -> tuple[subprocess.Popen[str], str, float]:
    """`archiver serve` on a free port; its address and how long it took to answer."""
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "archiver", "serve", str(collection), "--port", "0",
         "--refresh", "3600"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stderr is not None
    for line in server.stderr:
        found = _ANNOUNCE.search(line)
        if found:
            return server, found.group(1), time.perf_counter() - started
    raise BenchError("archiver serve ended before it served")


def ask(address: str, path: str) -> tuple[float, float]:
    """(server ms from Server-Timing, client ms) of one GET."""
    host, port = address.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        began = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        client = (time.perf_counter() - began) * 1000
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"GET {path}: HTTP {response.status}")
    timing = re.search(r"dur=([0-9.]+)", response.getheader("Server-Timing") or "")
    if timing is None:
        raise BenchError(f"GET {path}: no Server-Timing header")
    return float(timing.group(1)), client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=positive, default=20000)
    parser.add_argument("--repeat", type=positive, default=100)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "web")
    args = parser.parse_args()
    try:
        collection = make_collection(args.work, args.bags)
        for stale in (collection / ".archiver").glob("catalog.sqlite*"):
            stale.unlink()  # the first indexing is measured too
        progress("serving (the catalog indexes every bag first)")
        server, address, indexing = start_server(collection)
        try:
            for path in QUERIES.values():
                for _ in range(5):
                    ask(address, path)
            server_ms: dict[str, list[float]] = {name: [] for name in QUERIES}
            client_ms: dict[str, list[float]] = {name: [] for name in QUERIES}
            progress(f"{args.repeat} requests of each kind")
            for _ in range(args.repeat):
                for name, path in QUERIES.items():
                    spent, waited = ask(address, path)
                    server_ms[name].append(spent)
                    client_ms[name].append(waited)
        finally:
            server.terminate()
            server.wait(timeout=60)
        print("## The web view over many bags\n")
        print("\n".join(machine_lines()))
        print(
            f"- {args.bags} bags of one text of 1-20 KB each; {args.repeat} requests of each "
            "kind, interleaved, after 5 untimed; one client on loopback\n"
        )
        print(f"The catalog's first indexing of every bag (serve's start): {indexing:.1f} s\n")
        rows = []
        for name in QUERIES:
            middle = statistics.median(server_ms[name])
            high = sorted(server_ms[name])[int(len(server_ms[name]) * 0.95) - 1]
            rows.append(
                [
                    name,
                    f"{middle:.1f}",
                    f"{high:.1f}",
                    f"{statistics.median(client_ms[name]):.1f}",
                    f"≤ {TARGET_MS:.0f}",
                    "yes" if middle <= TARGET_MS else "**no**",
                ]
            )
        print(
            table(
                ["request", "server ms (median)", "server ms (p95)", "client ms (median)",
                 "target", "met"],
                rows,
            )
        )  # fmt: skip
    except BenchError as exc:
        print(f"bench_web: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1795737600")
    sys.exit(main())
