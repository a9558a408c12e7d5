"""Benchmark: `archiver serve` under harvesting load.

What it measures
    A collection of ``--records`` small bags (a text, bag-info with a Bag-Group-Identifier,
    a Dublin Core record; written by this script, no METS) is served by ``archiver serve``
    with ``--page-size`` records per page, on loopback. Then:

    - the first ListRecords page against a page deep in the list (cursor ``records - page``),
      each requested ``--repeat`` times by re-issuing the same resumption token (idempotent):
      tokens seek on an index, so the deep page should cost no more than 1.5x the first;
    - a full harvest with Sickle (a real OAI-PMH client): records per second;
    - ``--harvesters`` concurrent Sickle harvests of ListIdentifiers: all must finish, with
      no error and identical results.

Usage: python benchmarks/bench_oai.py [--records N] [--page-size N] [--repeat N]
       [--harvesters N] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from common import machine_lines, met, positive, progress

HERE = Path(__file__).resolve().parent
TARGET_DEEP = 1.5
REPOSITORY = "bench.example.org"  # the oai-identifier domain the server is given
_DC = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai_dc/ '
    'http://www.openarchives.org/OAI/2.0/oai_dc.xsd">\n'
    "  <dc:title>{title}</dc:title>\n  <dc:identifier>{id}</dc:identifier>\n"
    "  <dc:type>Text</dc:type>\n</oai_dc:dc>\n"
)


def write_collection(root: Path, count: int) -> None:
    """``count`` minimal bags with distinct modification times (distinct datestamps)."""
    base = 1_700_000_000
    for number in range(count):
        bag = root / f"record-{number:06d}"
        (bag / "data").mkdir(parents=True)
        (bag / "metadata").mkdir()
        (bag / "data" / "text.txt").write_text(f"Text number {number}.\n")
        (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        group = f"series-{number % 20}:part-{number % 3}"
        (bag / "bag-info.txt").write_text(f"Bag-Group-Identifier: {group}\n")
        (bag / "metadata" / "dc.xml").write_text(
            _DC.format(title=f"Text number {number}", id=bag.name)
        )
        stamp = base + number * 60
        for path in (bag / "bag-info.txt", bag / "metadata" / "dc.xml", bag):
            os.utime(path, (stamp, stamp))


@contextmanager
def server(
    collection: Path,
    page_size: int,
    options: Sequence[str] = (),
    log: list[str] | None = None,
) -> Iterator[str]:
    """``archiver serve`` on a free loopback port, with ``options``: its URL; stopped at the
    end. What it writes on stderr after announcing itself is read as it comes (a pipe nobody
    reads would stall a chatty server) and kept in ``log``."""
    command = [
        sys.executable,
        "-m",
        "archiver",
        "serve",
        str(collection),
        "--port",
        "0",
        "--repository-identifier",
        REPOSITORY,
        "--page-size",
        str(page_size),
        *options,
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    kept = log if log is not None else []
    assert process.stderr is not None
    stderr = process.stderr
    reader = threading.Thread(target=lambda: kept.extend(stderr), daemon=True)
    try:
        line = stderr.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise SystemExit(f"the server did not start: {line!r}")
        reader.start()
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if reader.is_alive():
            reader.join(timeout=30)
        stderr.close()


def fetch(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:  # our loopback server
        body = response.read()
    return time.perf_counter() - started, body


def token_of(body: bytes) -> str:
    match = re.search(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>", body)
    return match.group(1).decode() if match else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=positive, default=20000)
    parser.add_argument("--page-size", type=positive, default=100)
    parser.add_argument("--repeat", type=positive, default=20)
    parser.add_argument("--harvesters", type=positive, default=20)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "oai")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    collection = args.work / "collection"
    progress(f"writing {args.records} bags ...")
    write_collection(collection, args.records)
    try:
        return report(args, collection)
    finally:
        shutil.rmtree(args.work, ignore_errors=True)


def report(args: argparse.Namespace, collection: Path) -> int:
    from sickle import Sickle

    started = time.perf_counter()
    with server(collection, args.page_size) as url:
        ready = time.perf_counter() - started
        first_url = f"{url}?verb=ListRecords&metadataPrefix=oai_dc"
        progress("walking the list to the last page ...")
        _, body = fetch(first_url)
        token, pages = token_of(body), 1
        deep = ""
        while token:
            deep = token
            _, body = fetch(f"{url}?verb=ListRecords&resumptionToken={quote(token)}")
            pages += 1
            token = token_of(body)
        deep_url = f"{url}?verb=ListRecords&resumptionToken={quote(deep)}"
        first = [fetch(first_url)[0] for _ in range(args.repeat)]
        last = [fetch(deep_url)[0] for _ in range(args.repeat)]
        progress("harvesting with Sickle ...")
        harvest_started = time.perf_counter()
        records = sum(1 for _ in Sickle(url).ListRecords(metadataPrefix="oai_dc"))
        harvest = time.perf_counter() - harvest_started
        progress(f"{args.harvesters} concurrent harvesters ...")
        results: list[list[str] | BaseException] = []
        lock = threading.Lock()

        def harvester() -> None:
            try:
                found = [h.identifier for h in Sickle(url).ListIdentifiers(metadataPrefix="oai_dc")]
            except BaseException as exc:  # reported, not raised in a thread
                found_or_error: list[str] | BaseException = exc
            else:
                found_or_error = found
            with lock:
                results.append(found_or_error)

        concurrent_started = time.perf_counter()
        threads = [threading.Thread(target=harvester) for _ in range(args.harvesters)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        concurrent = time.perf_counter() - concurrent_started
    errors = [r for r in results if isinstance(r, BaseException)]
    lists = [r for r in results if not isinstance(r, BaseException)]
    identical = (
        all(r == lists[0] for r in lists) and len(lists[0]) == args.records if lists else False
    )
    ratio = statistics.median(last) / statistics.median(first)
    print("## `archiver serve` under harvesting load\n")
    print("\n".join(machine_lines("sickle")))
    print(
        f"- {args.records} records, page size {args.page_size}, loopback; server ready "
        f"(catalog built from the bags) in {ready:.1f} s\n"
    )
    print("| request | median ms | best ms |")
    print("|---|---:|---:|")
    print(
        f"| first ListRecords page (cursor 0) | {statistics.median(first) * 1000:.1f} | "
        f"{min(first) * 1000:.1f} |"
    )
    print(
        f"| deep page (cursor {(pages - 1) * args.page_size}) | "
        f"{statistics.median(last) * 1000:.1f} | {min(last) * 1000:.1f} |"
    )
    print(
        f"\nDeep page / first page: **{ratio:.2f}x** "
        f"(target ≤ {TARGET_DEEP}x: {met(ratio <= TARGET_DEEP)})\n"
    )
    print(
        f"- Full Sickle harvest (ListRecords, oai_dc): {records} records in {harvest:.1f} s, "
        f"**{records / harvest:,.0f} records/s**"
    )
    print(
        f"- {args.harvesters} concurrent Sickle harvests (ListIdentifiers): finished in "
        f"{concurrent:.1f} s, {len(errors)} errors, identical complete results: "
        f"{'yes' if identical and not errors else '**no**'}"
    )
    return 0 if not errors and identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
