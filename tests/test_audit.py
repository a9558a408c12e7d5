"""archiver audit: fixity runs over a collection of real bags, the SQLite ledger behind them,
and what they say (JSON, text, HTML, history, PREMIS events)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree
from lxml import html as lxml_html
from referencing import Registry, Resource

from archiver import resources
from archiver.clock import Clock, w3cdtf
from archiver.collection import Collection
from archiver.collection.ledger import SCHEMA_VERSION
from archiver.collection.report import human_size
from archiver.errors import CollectionError
from archiver.packing import make_bag
from archiver.version import AGENT, VERSION
from archiver.xml import parsing
from tests.conftest import BAGS_EPOCH, CliRunner, listing, make_source_tree, snapshot
from tests.corrupt import delete, flip_byte, replace_file, replace_in, truncate
from tests.helpers_xml import LOC, NS, manifest

DAY = 86_400
WHEN = w3cdtf(Clock.from_epoch(BAGS_EPOCH).now())
ALGORITHMS = ("sha256", "sha512")

Report = dict[str, Any]


# -- helpers ----------------------------------------------------------------------------------


def audit_validator() -> jsonschema.Draft202012Validator:
    """The audit report schema, with the validation report schema its findings refer to."""
    schemas = [
        resources.json_schema(name)
        for name in ("validation-report.schema.json", "audit-report.schema.json")
    ]
    registry: Registry[Any] = Registry().with_resources(
        (str(schema["$id"]), Resource.from_contents(schema)) for schema in schemas
    )
    return jsonschema.Draft202012Validator(schemas[1], registry=registry)


def source_files(name: str) -> dict[str, bytes | str]:
    """Two payload files whose contents differ from bag to bag."""
    return {
        "a.txt": f"The first text of {name}.\n",
        "sub/b.txt": f"The second text of {name}.\n" * 40,
    }


def payload_size(name: str) -> int:
    return sum(len(str(content).encode()) for content in source_files(name).values())


def add_bag(
    cli: CliRunner, collection: Path, name: str, files: dict[str, bytes | str] | None = None
) -> Path:
    """A real bag made by ``archiver bag`` into the collection, under its own name."""
    source = make_source_tree(collection.parent / "sources" / name, files or source_files(name))
    run = cli("bag", source, "--out", collection, "--id", name, "--processes", "1")
    assert run.code == 0, run.err
    return collection / name


def make_collection(cli: CliRunner, root: Path, names: tuple[str, ...]) -> Path:
    collection = root / "collection"
    collection.mkdir()
    for name in names:
        add_bag(cli, collection, name)
    return collection


def audit(cli: CliRunner, collection: Path, *args: str | os.PathLike[str]) -> tuple[int, Report]:
    """``archiver audit --json``: the exit code and the report, checked against its schema."""
    run = cli("audit", collection, "--json", *args)
    assert run.code in (0, 1), run.err
    report: Report = json.loads(run.out)
    audit_validator().validate(report)
    return run.code, report


def bags_of(report: Report) -> dict[str, dict[str, Any]]:
    return {bag["id"]: bag for bag in report["bags"]}


def statuses(report: Report) -> dict[str, str]:
    return {bag["id"]: bag["status"] for bag in report["bags"]}


def errors(bag: dict[str, Any]) -> list[tuple[str, str]]:
    """A bag's error findings as sorted (code, path) pairs, one per finding."""
    return sorted((f["code"], f["path"]) for f in bag["findings"] if f["severity"] == "error")


def assert_digests_are_real(bag: Path, findings: list[dict[str, Any]]) -> None:
    """Every checksum mismatch names the manifest's digest and the file's real one."""
    for item in findings:
        if not item["code"].endswith("checksum-mismatch"):
            continue
        params = item["params"]
        listed = manifest(bag / params["manifest"])
        assert params["expected"] == listed[item["path"]]
        real = hashlib.new(params["algorithm"], (bag / item["path"]).read_bytes()).hexdigest()
        assert params["found"] == real
        assert params["expected"] != params["found"]


def ledger_rows(path: Path, query: str, *args: object) -> list[sqlite3.Row]:
    """Rows read with sqlite3 itself, not through archiver."""
    with closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(query, args))


def default_ledger(collection: Path) -> Path:
    return collection / ".archiver" / "ledger.sqlite"


# -- one collection damaged in several ways at once ------------------------------------------------

MANY_FILES = {f"part-{index:02d}.txt": f"part {index} of many\n" for index in range(70)}


def damaged_collection(cli: CliRunner, root: Path) -> tuple[Path, dict[str, str]]:
    """Seven bags audited once, then damaged in different ways; the statuses to expect."""
    collection = make_collection(
        cli, root, ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
    )
    add_bag(cli, collection, "golf", dict(MANY_FILES))  # more files than one hashing batch
    assert audit(cli, collection)[0] == 0
    flip_byte(collection / "alpha" / "data" / "a.txt")
    replace_file(collection / "bravo" / "data" / "extra.txt", b"not in any manifest\n")
    delete(collection / "delta")
    replace_in(collection / "echo" / "metadata" / "mets.xml", b'CHECKSUM="', b'CHECKSUM="0')
    truncate(collection / "foxtrot" / "data" / "sub" / "b.txt")
    flip_byte(collection / "foxtrot" / "data" / "a.txt", 3)
    flip_byte(collection / "golf" / "data" / "part-66.txt", 2)
    expected = {
        "alpha": "damaged",
        "bravo": "damaged",
        "charlie": "intact",
        "delta": "missing",
        "echo": "damaged",
        "foxtrot": "damaged",
        "golf": "damaged",
    }
    return collection, expected


# -- a scheduler nobody listens on: started in the background, so its wait costs no test time --


@dataclass(frozen=True)
class RefusedScheduler:
    collection: Path
    process: subprocess.Popen[str]


_TIMED_AUDIT = (
    "import sys, time\n"
    "from archiver.cli import main\n"
    "started = time.monotonic()\n"
    "code = main(sys.argv[1:])\n"
    "print(f'elapsed {time.monotonic() - started:.1f}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


@pytest.fixture(scope="module", autouse=True)
def refused_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefusedScheduler]:
    """``audit --scheduler tcp://127.0.0.1:1`` on a collection that has lost a bag since its
    first audit, running while the other tests run."""
    root = tmp_path_factory.mktemp("scheduler")
    collection = root / "collection"
    clock = Clock.from_epoch(BAGS_EPOCH)
    for name in ("kept", "gone"):
        source = make_source_tree(root / "sources" / name, source_files(name))
        make_bag([source], collection, bag_id=name, clock=clock, workers=1)
    assert Collection(collection).audit(workers=1, clock=clock).intact
    delete(collection / "gone")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}
    command = [sys.executable, "-c", _TIMED_AUDIT, "audit", os.fspath(collection)]
    process = subprocess.Popen(
        [*command, "--scheduler", "tcp://127.0.0.1:1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield RefusedScheduler(collection, process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


# -- 1. an intact collection -------------------------------------------------------------------

NAMES = ("alpha", "bravo", "charlie")


def test_an_intact_collection_is_new_then_intact_and_exits_0(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    size = sum(payload_size(name) for name in NAMES)

    code, first = audit(cli, collection)
    assert code == 0
    assert statuses(first) == dict.fromkeys(NAMES, "new")
    assert [bag["id"] for bag in first["bags"]] == list(NAMES)
    assert {k: first[k] for k in ("run", "resumed", "checked", "skipped", "damaged")} == {
        "run": 1,
        "resumed": False,
        "checked": 3,
        "skipped": 0,
        "damaged": 0,
    }
    assert (first["missing"], first["new"], first["files"], first["bytes"]) == (0, 3, 6, size)
    assert first["started"] == first["finished"] == WHEN
    assert first["collection"] == str(collection)
    assert first["ledger"] == str(default_ledger(collection))
    for name, bag in bags_of(first).items():
        assert (bag["files"], bag["bytes"]) == (2, payload_size(name))
        assert errors(bag) == []

    code, second = audit(cli, collection)
    assert code == 0
    assert statuses(second) == dict.fromkeys(NAMES, "intact")
    assert (second["run"], second["checked"], second["skipped"], second["damaged"]) == (2, 3, 0, 0)
    assert (second["missing"], second["new"], second["files"], second["bytes"]) == (0, 0, 6, size)
    assert all(bag["findings"] == [] for bag in second["bags"])


def test_the_text_summary_of_an_intact_run_counts_bags_files_and_bytes(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert cli("audit", collection).code == 0
    run = cli("audit", collection)
    assert run.code == 0
    size = sum(payload_size(name) for name in NAMES)
    assert run.out.splitlines() == [
        "run 2: 3 bags checked, 0 skipped, 0 damaged or missing, 0 new; "
        f"6 files, {human_size(size)}"
    ]


def test_a_first_audit_says_so_in_one_line_not_a_line_per_new_bag(
    tmp_path: Path, cli: CliRunner
) -> None:
    # Each bag of a first audit got two lines ("alpha: new", "info: ... is new to the ledger").
    collection = make_collection(cli, tmp_path, NAMES)
    add_bag(cli, collection, "big", {"big.bin": "x" * 3000, "huge.txt": "y" * (3 << 20)})
    run = cli("audit", collection)
    assert run.code == 0
    assert run.out.splitlines() == [
        "run 1: 4 bags checked, 0 skipped, 0 damaged or missing, 4 new; 8 files, 3.0 MiB"
    ]
    add_bag(cli, collection, "late")
    (collection / "late" / "notes.txt").write_text("not in the tag manifests\n")
    lines = cli("audit", collection).out.splitlines()
    # a new bag with something to say is listed, without the notice its status already gives
    assert lines[0] == "late: new"
    assert all("audit.bag.new" not in line for line in lines)
    assert lines[-1].endswith("1 new; 10 files, 3.0 MiB")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (3 << 20, "3.0 MiB"),
        (5 << 40, "5.0 TiB"),
        (7 << 60, "7168.0 PiB"),
    ],
)
def test_sizes_read_as_a_person_reads_them(size: int, text: str) -> None:
    assert human_size(size) == text


def test_a_bag_new_to_the_ledger_carries_the_audit_bag_new_notice(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    code, first = audit(cli, collection)
    assert code == 0
    add_bag(cli, collection, "bravo")
    code, second = audit(cli, collection)
    assert code == 0
    assert statuses(second) == {"alpha": "intact", "bravo": "new"}
    recorded = ledger_rows(
        default_ledger(collection), "SELECT findings FROM bag_checks WHERE bag_id = 'bravo'"
    )
    assert [f["code"] for f in json.loads(recorded[0]["findings"])] == ["audit.bag.new"]
    for report, bag_id in ((first, "alpha"), (second, "bravo")):
        codes = [(f["code"], f["severity"]) for f in bags_of(report)[bag_id]["findings"]]
        assert codes == [("audit.bag.new", "info")]
    assert bags_of(second)["alpha"]["findings"] == []


# -- 2. each kind of damage ---------------------------------------------------------------------


@dataclass(frozen=True)
class Damage:
    apply: Callable[[Path, CliRunner], object]  # on the collection, after a first audit
    bag: str
    status: str
    errors: list[tuple[str, str]]
    exit: int = 1


def _in_bravo(corrupt: Callable[[Path], object]) -> Callable[[Path, CliRunner], object]:
    return lambda collection, _cli: corrupt(collection / "bravo")


CHECKSUM = "bag.payload.checksum-mismatch"
TAG_CHECKSUM = "bag.tag.checksum-mismatch"
OXUM = ("bag.bag-info.oxum-mismatch", "bag-info.txt")

DAMAGE: dict[str, Damage] = {
    "flip-a-byte": Damage(
        _in_bravo(lambda bag: flip_byte(bag / "data" / "a.txt")),
        "bravo",
        "damaged",
        [(CHECKSUM, "data/a.txt")] * 2,
    ),
    "truncate-a-file": Damage(
        _in_bravo(lambda bag: truncate(bag / "data" / "sub" / "b.txt")),
        "bravo",
        "damaged",
        sorted([OXUM, *[(CHECKSUM, "data/sub/b.txt")] * 2]),
    ),
    "delete-a-file": Damage(
        _in_bravo(lambda bag: delete(bag / "data" / "a.txt")),
        "bravo",
        "damaged",
        sorted([OXUM, *[("bag.payload.file-missing", "data/a.txt")] * 2]),
    ),
    "add-an-unlisted-file": Damage(
        _in_bravo(lambda bag: replace_file(bag / "data" / "extra.txt", b"unlisted\n")),
        "bravo",
        "damaged",
        sorted([OXUM, *[("bag.manifest.file-unlisted", "data/extra.txt")] * 2]),
    ),
    "edit-bag-info": Damage(
        _in_bravo(
            lambda bag: replace_in(
                bag / "bag-info.txt", b"Bagging-Date: 2026", b"Bagging-Date: 2025"
            )
        ),
        "bravo",
        "damaged",
        [(TAG_CHECKSUM, "bag-info.txt")] * 2,
    ),
    "edit-mets": Damage(
        _in_bravo(
            lambda bag: replace_in(bag / "metadata" / "mets.xml", b'CHECKSUM="', b'CHECKSUM="0')
        ),
        "bravo",
        "damaged",
        [(TAG_CHECKSUM, "metadata/mets.xml")] * 2,
    ),
    "delete-a-whole-bag": Damage(
        _in_bravo(delete), "bravo", "missing", [("audit.bag.missing", "")]
    ),
    "add-a-new-bag": Damage(
        lambda collection, cli: add_bag(cli, collection, "delta"), "delta", "new", [], exit=0
    ),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_each_kind_of_damage_is_reported_exactly_on_its_bag(
    tmp_path: Path, cli: CliRunner, kind: str
) -> None:
    damage = DAMAGE[kind]
    collection = make_collection(cli, tmp_path, NAMES)
    assert audit(cli, collection)[0] == 0
    damage.apply(collection, cli)

    code, report = audit(cli, collection)
    assert code == damage.exit
    bags = bags_of(report)
    target = bags[damage.bag]
    assert target["status"] == damage.status
    assert errors(target) == damage.errors
    assert_digests_are_real(collection / damage.bag, target["findings"])
    others = {name: bag["status"] for name, bag in bags.items() if name != damage.bag}
    assert others == {name: "intact" for name in NAMES if name != damage.bag}
    assert all(errors(bags[name]) == [] for name in others)
    assert report["damaged"] == (1 if damage.exit else 0)
    assert report["missing"] == (1 if damage.status == "missing" else 0)
    assert report["new"] == (1 if damage.status == "new" else 0)
    assert report["checked"] == len(NAMES) - (1 if damage.status == "missing" else 0) + (
        1 if damage.status == "new" else 0
    )


def test_with_a_payload_oxum_mismatch_every_file_is_still_checked_and_listed(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    bag = collection / "alpha"
    truncate(bag / "data" / "sub" / "b.txt")
    flip_byte(bag / "data" / "a.txt")
    code, report = audit(cli, collection)
    assert code == 1
    findings = bags_of(report)["alpha"]["findings"]
    assert errors(bags_of(report)["alpha"]) == sorted(
        [OXUM, *[(CHECKSUM, "data/a.txt")] * 2, *[(CHECKSUM, "data/sub/b.txt")] * 2]
    )
    assert {(f["path"], f["params"]["algorithm"]) for f in findings if f["code"] == CHECKSUM} == {
        (p, a) for p in ("data/a.txt", "data/sub/b.txt") for a in ALGORITHMS
    }
    assert_digests_are_real(bag, findings)


def test_the_text_output_names_the_damaged_bag_and_its_findings(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert cli("audit", collection).code == 0
    flip_byte(collection / "bravo" / "data" / "a.txt")
    run = cli("audit", collection)
    assert run.code == 1
    lines = run.out.splitlines()
    assert lines[0] == "bravo: damaged"
    assert sum(f"[{CHECKSUM}]" in line and "data/a.txt" in line for line in lines) == 2
    assert not any(line.startswith(("alpha", "charlie")) for line in lines)
    assert "1 damaged or missing" in lines[-1]


# -- 3. several bags damaged at once ------------------------------------------------------------


def test_every_damaged_bag_and_only_those_are_reported(tmp_path: Path, cli: CliRunner) -> None:
    collection, expected = damaged_collection(cli, tmp_path)
    code, report = audit(cli, collection)
    assert code == 1
    assert statuses(report) == expected
    bags = bags_of(report)
    assert errors(bags["alpha"]) == [(CHECKSUM, "data/a.txt")] * 2
    assert errors(bags["bravo"]) == sorted(
        [OXUM, *[("bag.manifest.file-unlisted", "data/extra.txt")] * 2]
    )
    assert errors(bags["charlie"]) == []
    assert errors(bags["delta"]) == [("audit.bag.missing", "")]
    assert errors(bags["echo"]) == [(TAG_CHECKSUM, "metadata/mets.xml")] * 2
    assert errors(bags["foxtrot"]) == sorted(
        [OXUM, *[(CHECKSUM, "data/a.txt")] * 2, *[(CHECKSUM, "data/sub/b.txt")] * 2]
    )
    assert errors(bags["golf"]) == [(CHECKSUM, "data/part-66.txt")] * 2
    for name in ("alpha", "echo", "foxtrot", "golf"):
        assert_digests_are_real(collection / name, bags[name]["findings"])
    # "damaged" counts the damaged and the missing bags
    assert (report["checked"], report["damaged"], report["missing"], report["new"]) == (6, 6, 1, 0)


# -- 4. --older-than --------------------------------------------------------------------------


def test_older_than_1_right_after_a_run_checks_nothing(tmp_path: Path, cli: CliRunner) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert audit(cli, collection)[0] == 0
    code, report = audit(cli, collection, "--older-than", "1")
    assert code == 0
    assert (report["checked"], report["skipped"], report["damaged"]) == (0, 3, 0)
    assert (report["files"], report["bytes"], report["bags"]) == (0, 0, [])
    assert report["run"] == 2


def _checked_in_order(ledger: Path, run: int) -> list[str]:
    """The bags a run checked, in the order it began them (insertion order in the ledger)."""
    rows = ledger_rows(ledger, "SELECT bag_id FROM bag_checks WHERE run_id = ? ORDER BY rowid", run)
    return [row["bag_id"] for row in rows]


def test_older_than_checks_the_stale_and_never_checked_bags_stalest_first(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "charlie"))
    ledger = default_ledger(collection)

    def at(days: float, older_than: float | None) -> dict[str, str]:
        clock = Clock.from_epoch(BAGS_EPOCH + int(days * DAY))
        limit = None if older_than is None else timedelta(days=older_than)
        report = Collection(collection).audit(older_than=limit, workers=1, clock=clock)
        assert report.intact
        return {bag.id: bag.status for bag in report.bags}

    assert at(0, 1) == {"alpha": "new", "charlie": "new"}  # never checked: always due
    assert at(0.5, 1) == {}
    add_bag(cli, collection, "bravo")
    assert at(1, 1000) == {"bravo": "new"}  # only the never-checked one
    add_bag(cli, collection, "zulu")
    assert at(1.5, 1) == {"alpha": "intact", "charlie": "intact", "zulu": "new"}
    assert _checked_in_order(ledger, 4) == ["zulu", "alpha", "charlie"]
    # last verified: bravo at day 1, the others at day 1.5
    assert at(2.2, 1) == {"bravo": "intact"}
    # last verified: alpha, charlie and zulu at day 1.5, bravo at day 2.2
    assert at(4, 1) == dict.fromkeys(("alpha", "bravo", "charlie", "zulu"), "intact")
    assert _checked_in_order(ledger, 6) == ["alpha", "charlie", "zulu", "bravo"]
    runs = ledger_rows(ledger, "SELECT id FROM runs")
    assert len(runs) == 6


def test_a_damaged_bag_is_not_a_successful_verification_for_older_than(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    clock = Clock.from_epoch(BAGS_EPOCH)
    assert Collection(collection).audit(workers=1, clock=clock).intact
    flip_byte(collection / "bravo" / "data" / "a.txt")
    later = Clock.from_epoch(BAGS_EPOCH + 2 * DAY)
    report = Collection(collection).audit(workers=1, clock=later)
    assert {bag.id: bag.status for bag in report.bags} == {"alpha": "intact", "bravo": "damaged"}
    # alpha was verified at day 2; bravo's last success is still day 0
    again = Clock.from_epoch(BAGS_EPOCH + int(2.5 * DAY))
    report = Collection(collection).audit(older_than=timedelta(days=1), workers=1, clock=again)
    assert {bag.id: bag.status for bag in report.bags} == {"bravo": "damaged"}
    assert report.skipped == 1


# -- 5. the ledger ------------------------------------------------------------------------------


def _listed_files(bag: Path) -> set[tuple[str, str, str]]:
    """(path, algorithm, digest) for every file the bag's manifests and tag manifests list."""
    found = set()
    for kind in ("manifest", "tagmanifest"):
        for algorithm in ALGORITHMS:
            for path, digest in manifest(bag / f"{kind}-{algorithm}.txt").items():
                found.add((path, algorithm, digest))
    return found


def test_the_ledger_records_runs_and_every_file_check(tmp_path: Path, cli: CliRunner) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    assert audit(cli, collection)[0] == 0
    bravo = collection / "bravo"
    listed = _listed_files(bravo)
    flipped = hashlib.new("sha256")
    flip_byte(bravo / "data" / "a.txt")
    flipped.update((bravo / "data" / "a.txt").read_bytes())
    delete(bravo / "data" / "sub" / "b.txt")
    replace_file(bravo / "data" / "extra.txt", b"an extra file\n")
    assert audit(cli, collection)[0] == 1

    ledger = default_ledger(collection)
    assert ledger_rows(ledger, "PRAGMA journal_mode")[0][0] == "wal"
    assert ledger_rows(ledger, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
    runs = ledger_rows(ledger, "SELECT * FROM runs ORDER BY id")
    assert [(r["id"], r["started_at"], r["finished_at"], r["software"]) for r in runs] == [
        (1, WHEN, WHEN, f"archiver {VERSION}"),
        (2, WHEN, WHEN, f"archiver {VERSION}"),
    ]

    # run 1: one row per listed file and algorithm, all ok, each timed, by this software
    for name in ("alpha", "bravo"):
        rows = ledger_rows(
            ledger, "SELECT * FROM file_checks WHERE run_id = 1 AND bag_id = ?", name
        )
        expected = listed if name == "bravo" else _listed_files(collection / name)
        assert {(r["path"], r["algorithm"], r["expected"]) for r in rows} == expected
        assert len(rows) == len(expected)
        for row in rows:
            assert (row["outcome"], row["found"], row["software"]) == (
                "ok",
                row["expected"],
                AGENT,
            )
            assert row["seconds"] is not None and row["seconds"] >= 0
            assert row["checked_at"] == WHEN

    # run 2: bravo's changed, missing and unlisted files, with their digests
    by_file = {
        (r["path"], r["algorithm"]): r
        for r in ledger_rows(
            ledger, "SELECT * FROM file_checks WHERE run_id = 2 AND bag_id = 'bravo'"
        )
    }
    assert set(by_file) == {(p, a) for p, a, _ in listed} | {
        ("data/extra.txt", a) for a in ALGORITHMS
    }
    digests = {(p, a): d for p, a, d in listed}
    changed = by_file[("data/a.txt", "sha256")]
    assert (changed["outcome"], changed["expected"], changed["found"]) == (
        "changed",
        digests[("data/a.txt", "sha256")],
        flipped.hexdigest(),
    )
    assert by_file[("data/a.txt", "sha512")]["outcome"] == "changed"
    for algorithm in ALGORITHMS:
        missing = by_file[("data/sub/b.txt", algorithm)]
        assert (missing["outcome"], missing["expected"], missing["found"]) == (
            "missing",
            digests[("data/sub/b.txt", algorithm)],
            None,
        )
        unlisted = by_file[("data/extra.txt", algorithm)]
        assert (unlisted["outcome"], unlisted["expected"], unlisted["found"]) == (
            "unlisted",
            None,
            hashlib.new(algorithm, b"an extra file\n").hexdigest(),
        )
    outcomes = Counter(r["outcome"] for r in by_file.values())
    assert outcomes == {"ok": len(by_file) - 6, "changed": 2, "missing": 2, "unlisted": 2}

    checks = ledger_rows(ledger, "SELECT * FROM bag_checks ORDER BY run_id, bag_id")
    assert [(r["run_id"], r["bag_id"], r["status"]) for r in checks] == [
        (1, "alpha", "new"),
        (1, "bravo", "new"),
        (2, "alpha", "intact"),
        (2, "bravo", "damaged"),
    ]
    assert all(r["started_at"] == r["finished_at"] == WHEN for r in checks)


def test_a_database_that_is_not_a_ledger_is_refused_with_exit_2(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    ledger = default_ledger(collection)
    ledger.parent.mkdir()
    with closing(sqlite3.connect(ledger)) as db:
        db.execute("CREATE TABLE recipes (name TEXT)")
        db.commit()
    run = cli("audit", collection)
    assert run.code == 2
    assert run.out == ""
    assert "not an archiver ledger" in run.err
    assert str(ledger) in run.err
    assert ledger_rows(ledger, "SELECT name FROM sqlite_master")[0][0] == "recipes"


def test_a_database_that_is_not_a_ledger_is_left_as_it_was(tmp_path: Path, cli: CliRunner) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    other = tmp_path / "recipes.sqlite"
    with closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE recipes (name TEXT)")
        db.commit()
    before = other.read_bytes()
    assert cli("audit", collection, "--ledger", other).code == 2
    assert ledger_rows(other, "PRAGMA journal_mode")[0][0] == "delete"
    assert other.read_bytes() == before


def test_a_ledger_from_a_newer_archiver_is_refused_with_exit_2(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    assert audit(cli, collection)[0] == 0
    ledger = default_ledger(collection)
    with closing(sqlite3.connect(ledger)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    run = cli("audit", collection)
    assert (run.code, run.out) == (2, "")
    assert f"schema {SCHEMA_VERSION + 1}" in run.err
    assert len(ledger_rows(ledger, "SELECT * FROM runs")) == 1


def test_a_file_that_is_not_a_database_is_refused_with_exit_2(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    garbage = tmp_path / "notes.sqlite"
    garbage.write_bytes(b"these are notes, not a database\n" * 100)
    run = cli("audit", collection, "--ledger", garbage)
    assert run.code == 2
    assert str(garbage) in run.err


def test_a_ledger_at_a_custom_path_is_used_and_nothing_is_written_in_the_collection(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    ledger = tmp_path / "records" / "fixity.sqlite"
    code, first = audit(cli, collection, "--ledger", ledger)
    assert code == 0
    assert first["ledger"] == str(ledger)
    assert ledger.is_file()
    assert not (collection / ".archiver").exists()
    code, second = audit(cli, collection, "--ledger", ledger)
    assert (code, second["run"]) == (0, 2)
    assert statuses(second) == dict.fromkeys(NAMES, "intact")
    assert ledger_rows(ledger, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
    history = cli("audit", "history", collection, "--ledger", ledger, "--json")
    assert history.code == 0
    assert [run["run"] for run in json.loads(history.out)["runs"]] == [1, 2]


# -- 6. nothing inside a bag is modified ----------------------------------------------------------


def _state(collection: Path) -> dict[str, tuple[dict[str, bytes], list[str], dict[str, int]]]:
    """Per bag: every file's bytes, every entry's name, every entry's mtime."""
    state = {}
    for bag in sorted(p for p in collection.iterdir() if not p.name.startswith(".")):
        mtimes = {rel: (bag / rel).lstat().st_mtime_ns for rel in listing(bag)}
        state[bag.name] = (snapshot(bag), listing(bag), mtimes)
    return state


def test_an_audit_modifies_nothing_inside_any_bag(tmp_path: Path, cli: CliRunner) -> None:
    collection, _ = damaged_collection(cli, tmp_path)
    before = _state(collection)
    entries = sorted(p.name for p in collection.iterdir())
    assert audit(cli, collection)[0] == 1
    assert audit(cli, collection, "--workers", "2")[0] == 1
    assert _state(collection) == before
    assert sorted(p.name for p in collection.iterdir()) == entries


# -- 7. history -------------------------------------------------------------------------------


def test_history_shows_the_runs_and_a_bags_checks_with_its_changed_files(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    assert audit(cli, collection)[0] == 0
    bravo = collection / "bravo"
    flip_byte(bravo / "data" / "a.txt")
    assert audit(cli, collection)[0] == 1
    digests = {a: manifest(bravo / f"manifest-{a}.txt")["data/a.txt"] for a in ALGORITHMS}
    found = {
        a: hashlib.new(a, (bravo / "data" / "a.txt").read_bytes()).hexdigest() for a in ALGORITHMS
    }

    run = cli("audit", "history", collection, "--json")
    assert run.code == 0
    runs = json.loads(run.out)["runs"]
    assert [(r["run"], r["started"], r["finished"], r["software"], r["bags"]) for r in runs] == [
        (1, WHEN, WHEN, AGENT, {"new": 2}),
        (2, WHEN, WHEN, AGENT, {"damaged": 1, "intact": 1}),
    ]
    text = cli("audit", "history", collection)
    assert text.code == 0
    lines = text.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"run 1  {WHEN} -> {WHEN}  2 new")
    assert lines[1].startswith(f"run 2  {WHEN} -> {WHEN}  1 damaged, 1 intact")
    assert all(AGENT in line for line in lines)

    run = cli("audit", "history", collection, "bravo", "--json")
    assert run.code == 0
    data = json.loads(run.out)
    assert data["bag"] == "bravo"
    checks = data["checks"]
    assert [(c["run"], c["status"], c["files"], c["bytes"]) for c in checks] == [
        (1, "new", 2, payload_size("bravo")),
        (2, "damaged", 2, payload_size("bravo")),
    ]
    assert checks[0]["problems"] == []
    assert checks[1]["problems"] == [
        {
            "path": "data/a.txt",
            "algorithm": a,
            "outcome": "changed",
            "expected": digests[a],
            "found": found[a],
        }
        for a in ALGORITHMS
    ]
    text = cli("audit", "history", collection, "bravo")
    assert text.code == 0
    assert text.out.splitlines() == [
        f"run 1  {WHEN}  new  2 files, {human_size(payload_size('bravo'))}",
        f"run 2  {WHEN}  damaged  2 files, {human_size(payload_size('bravo'))}",
        "    changed: data/a.txt (sha256)",
        "    changed: data/a.txt (sha512)",
    ]


def test_history_of_an_unknown_bag_or_without_a_ledger_is_exit_2(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    for command in ("history", "premis"):
        run = cli("audit", command, collection, "alpha")
        assert run.code == 2
        assert "no ledger" in run.err
    run = cli("audit", "history", collection)
    assert (run.code, run.out) == (2, "")
    assert "no ledger" in run.err
    assert not default_ledger(collection).exists()

    assert audit(cli, collection)[0] == 0
    for command in ("history", "premis"):
        run = cli("audit", command, collection, "nobody")
        assert (run.code, run.out) == (2, "")
        assert "'nobody'" in run.err
    run = cli("audit", "history", tmp_path / "no-such-collection")
    assert run.code == 2
    assert "not a directory" in run.err


# -- 8. PREMIS --------------------------------------------------------------------------------


def test_premis_has_one_fix_event_per_finished_check_and_validates(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    assert audit(cli, collection)[0] == 0
    assert audit(cli, collection)[0] == 0
    assert audit(cli, collection, "--older-than", "1")[1]["checked"] == 0  # no check, no event
    flip_byte(collection / "bravo" / "data" / "a.txt")
    assert audit(cli, collection)[0] == 1

    run = cli("audit", "premis", collection, "bravo")
    assert run.code == 0
    assert run.err == ""
    root = etree.fromstring(run.out.encode(), etree.XMLParser(resolve_entities=False))
    parsing.preservation_schema().assertValid(root)

    finished = ledger_rows(
        default_ledger(collection),
        "SELECT run_id FROM bag_checks WHERE bag_id = 'bravo' AND finished_at IS NOT NULL",
    )
    assert [row["run_id"] for row in finished] == [1, 2, 4]
    events = root.findall("premis:event", NS)
    assert len(events) == len(finished)
    for event in events:
        kind = event.find("premis:eventType", NS)
        assert kind is not None
        assert kind.get("valueURI") == f"{LOC}eventType/fix"
        assert kind.text == "fixity check"
        assert event.findtext("premis:eventDateTime", namespaces=NS) == WHEN
        assert event.findtext(".//premis:linkingObjectIdentifierValue", namespaces=NS) == "bravo"
    outcomes = [e.findtext(".//premis:eventOutcome", namespaces=NS) for e in events]
    assert outcomes == ["success", "success", "failure"]
    note = events[2].findtext(".//premis:eventOutcomeDetailNote", namespaces=NS) or ""
    assert "data/a.txt" in note
    assert "bag.payload.checksum-mismatch" in note
    assert len({e.findtext(".//premis:eventIdentifierValue", namespaces=NS) for e in events}) == 3

    agents = root.findall("premis:agent", NS)
    assert len(agents) == 1
    agent = agents[0]
    agent_type = agent.find("premis:agentType", NS)
    assert agent_type is not None
    assert agent_type.get("valueURI") == f"{LOC}agentType/sof"
    assert agent_type.text == "software"
    assert agent.findtext("premis:agentName", namespaces=NS) == "archiver"
    assert agent.findtext("premis:agentVersion", namespaces=NS) == VERSION
    agent_id = agent.findtext(".//premis:agentIdentifierValue", namespaces=NS)
    for event in events:
        link = event.find("premis:linkingAgentIdentifier", NS)
        assert link is not None
        assert link.findtext("premis:linkingAgentIdentifierValue", namespaces=NS) == agent_id
        role = link.find("premis:linkingAgentRole", NS)
        assert role is not None
        assert role.get("valueURI") == f"{LOC}eventRelatedAgentRole/exe"


def test_premis_of_a_bag_that_disappeared_ends_with_a_failure(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    assert audit(cli, collection)[0] == 0
    delete(collection / "bravo")
    assert audit(cli, collection)[0] == 1
    run = cli("audit", "premis", collection, "bravo")
    assert run.code == 0
    root = etree.fromstring(run.out.encode(), etree.XMLParser(resolve_entities=False))
    parsing.preservation_schema().assertValid(root)
    outcomes = [
        e.findtext(".//premis:eventOutcome", namespaces=NS)
        for e in root.iter(f"{{{NS['premis']}}}event")
    ]
    assert outcomes == ["success", "failure"]
    assert "audit.bag.missing" in run.out


# -- 9. the HTML report -------------------------------------------------------------------------


def test_the_html_report_is_self_contained_and_names_every_damaged_or_missing_bag(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection, expected = damaged_collection(cli, tmp_path)
    page = tmp_path / "report.html"
    code, report = audit(cli, collection, "--report", page)
    assert code == 1
    text = page.read_text(encoding="utf-8")
    lowered = text.lower()
    for external in (
        "<script",
        "<link",
        "<iframe",
        "<img",
        "@import",
        "url(",
        "http://",
        "https://",
    ):
        assert external not in lowered
    assert not re.search(r"\b(src|href|action|srcset)\s*=", lowered)

    document = lxml_html.fromstring(text)
    bad = {name for name, status in expected.items() if status in ("damaged", "missing")}
    sections = {str(h.get("id")): h.text_content() for h in document.iter("h3")}
    assert set(sections) == bad
    for name, heading in sections.items():
        assert name in heading
        assert expected[name] in heading
    intact_rows = [
        [cell.text_content() for cell in row.iter("td")]
        for row in document.iter("tr")
        if any(cell.get("class") in ("intact", "new") for cell in row.iter("td"))
    ]
    charlie = ["charlie", title_of(collection, "charlie"), "intact"]
    assert [row[:3] for row in intact_rows] == [charlie]
    assert f"run {report['run']}" in text
    # every changed file is named in its bag's section
    for path in ("data/a.txt", "data/extra.txt", "metadata/mets.xml", "data/part-66.txt"):
        assert path in text


def test_the_html_report_of_an_intact_run_says_so(tmp_path: Path, cli: CliRunner) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    page = tmp_path / "report.html"
    assert cli("audit", collection, "--report", page).code == 0
    text = page.read_text(encoding="utf-8")
    assert "Everything checked is intact." in text
    document = lxml_html.fromstring(text)
    assert list(document.iter("h3")) == []
    assert all(name in text for name in NAMES)


def title_of(collection: Path, bag_id: str) -> str:
    dc = parsing.parse_bytes((collection / bag_id / "metadata" / "dc.xml").read_bytes())
    return str(dc.getroot().findtext("{http://purl.org/dc/elements/1.1/}title"))


def test_the_html_report_shows_each_bags_title_beside_its_id(
    tmp_path: Path, cli: CliRunner
) -> None:
    # The report named bags by id only: "bag-c1426ba9" says nothing to a manager.
    collection = make_collection(cli, tmp_path, NAMES)
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"title": "Minutes of the <board>, 1998"}), encoding="utf-8")
    source = make_source_tree(tmp_path / "sources" / "minutes", source_files("minutes"))
    assert cli("bag", source, "--out", collection, "--id", "m", "--metadata", record).code == 0
    flip_byte(collection / "alpha" / "data" / "a.txt")
    page = tmp_path / "report.html"
    assert cli("audit", collection, "--report", page).code == 1
    document = lxml_html.fromstring(page.read_text(encoding="utf-8"))
    rows = {
        cells[0]: cells[1]
        for row in document.iter("tr")
        if len(cells := [cell.text_content() for cell in row.iter("td")]) == 5
    }
    assert rows == {
        "bravo": title_of(collection, "bravo"),
        "charlie": title_of(collection, "charlie"),
        "m": "Minutes of the <board>, 1998",
    }
    [heading] = [h.text_content() for h in document.iter("h3")]
    assert heading == f"alpha: {title_of(collection, 'alpha')} — damaged"


# -- 10. could not run --------------------------------------------------------------------------


def test_a_collection_that_is_not_a_directory_is_exit_2(tmp_path: Path, cli: CliRunner) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("not a collection")
    for target in (tmp_path / "nothing-here", afile):
        run = cli("audit", target)
        assert run.code == 2
        assert run.out == ""
        assert "not a directory" in run.err
    assert not (tmp_path / "nothing-here").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--workers", "0"],
        ["--workers", "two"],
        ["--older-than", "-1"],
        ["--older-than", "soon"],
    ],
    ids=["workers-0", "workers-not-a-number", "older-than-negative", "older-than-not-a-number"],
)
def test_bad_options_are_exit_2(tmp_path: Path, cli: CliRunner, args: list[str]) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    with pytest.raises(SystemExit) as exit_info:
        cli("audit", collection, *args)
    assert exit_info.value.code == 2
    assert not (collection / ".archiver").exists()


_HOLD_LOCK = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n"
    "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_a_second_audit_while_the_ledger_is_locked_is_exit_2(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha",))
    ledger = default_ledger(collection)
    ledger.parent.mkdir()
    lock = ledger.with_name(ledger.name + ".lock")
    holder = subprocess.Popen(  # another process holds the lock, as another audit would
        [sys.executable, "-c", _HOLD_LOCK, lock],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        run = cli("audit", collection)
        assert run.code == 2
        assert run.out == ""
        assert "another audit is running" in run.err
        assert not ledger.exists()
    finally:
        holder.communicate("")
    code, report = audit(cli, collection)
    assert (code, report["run"]) == (0, 1)


def test_two_audits_of_one_ledger_in_one_process_are_kept_apart(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo"))
    clock = Clock.from_epoch(BAGS_EPOCH)
    refused: list[str] = []

    def second(_done: int, _total: int, _hashed: int) -> None:
        if refused:
            return
        with pytest.raises(CollectionError, match="another audit is running") as caught:
            Collection(collection).audit(workers=1, clock=clock)
        refused.append(str(caught.value))

    assert Collection(collection).audit(workers=1, clock=clock, progress=second).intact
    assert len(refused) == 1
    assert Collection(collection).audit(workers=1, clock=clock).intact  # released at the end


def test_a_scheduler_that_cannot_be_reached_is_exit_2_within_40_seconds(
    refused_scheduler: RefusedScheduler,
) -> None:
    out, err = refused_scheduler.process.communicate(timeout=120)
    assert refused_scheduler.process.returncode == 2
    assert out == ""
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in err
    elapsed = re.search(r"^elapsed (\d+\.\d)$", err, flags=re.MULTILINE)
    assert elapsed is not None
    assert float(elapsed.group(1)) < 40


def test_a_run_that_could_not_reach_its_scheduler_does_not_hide_a_missing_bag(
    refused_scheduler: RefusedScheduler,
) -> None:
    refused_scheduler.process.communicate(timeout=120)
    assert refused_scheduler.process.returncode == 2
    report = Collection(refused_scheduler.collection).audit(
        workers=1, clock=Clock.from_epoch(BAGS_EPOCH)
    )
    assert {bag.id: bag.status for bag in report.bags} == {"gone": "missing", "kept": "intact"}
    assert not report.intact


class _StopRunError(Exception):
    """Raised from the progress callback: the run stops as if it had been killed."""


def test_a_missing_bag_found_by_an_interrupted_run_is_reported_when_it_resumes(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, ("alpha", "bravo", "charlie"))
    clock = Clock.from_epoch(BAGS_EPOCH)
    assert Collection(collection).audit(workers=1, clock=clock).intact
    delete(collection / "bravo")

    def stop(_done: int, _total: int, _hashed: int) -> None:
        raise _StopRunError

    with pytest.raises(_StopRunError):
        Collection(collection).audit(workers=1, clock=clock, progress=stop)
    report = Collection(collection).audit(workers=1, clock=clock)
    assert report.resumed
    assert {bag.id: bag.status for bag in report.bags} == {
        "alpha": "intact",
        "bravo": "missing",
        "charlie": "intact",
    }
    assert not report.intact


# -- 11. workers ----------------------------------------------------------------------------------


def _verdicts(report: Report) -> list[dict[str, Any]]:
    return [{k: v for k, v in bag.items() if k != "seconds"} for bag in report["bags"]]


def test_one_or_two_workers_give_the_same_verdicts(tmp_path: Path, cli: CliRunner) -> None:
    collection, expected = damaged_collection(cli, tmp_path)
    twin = tmp_path / "twin"
    shutil.copytree(collection, twin, symlinks=True)
    code_one, one = audit(cli, collection, "--workers", "1")
    code_two, two = audit(cli, twin, "--workers", "2")
    assert code_one == code_two == 1
    assert statuses(one) == statuses(two) == expected
    assert _verdicts(one) == _verdicts(two)
    summary = ("checked", "skipped", "damaged", "missing", "new", "files", "bytes")
    assert {k: one[k] for k in summary} == {k: two[k] for k in summary}
    options = [
        json.loads(row["options"])["workers"]
        for ledger in (default_ledger(collection), default_ledger(twin))
        for row in ledger_rows(ledger, "SELECT options FROM runs WHERE id = 2")
    ]
    assert options == [1, 2]


# -- 12. a few bags -------------------------------------------------------------------------------


def test_an_audit_of_named_bags_checks_those_only_and_is_recorded_as_a_run(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    replace_in(collection / "charlie" / "data" / "a.txt", b"charlie", b"CHARLIE")
    delete(collection / "alpha")  # gone: a run of bravo alone says nothing of it
    code, report = audit(cli, collection, "--bag", "bravo")
    assert code == 0
    assert [(bag["id"], bag["status"]) for bag in report["bags"]] == [("bravo", "new")]
    ledger = default_ledger(collection)
    options = ledger_rows(ledger, "SELECT options FROM runs WHERE id = ?", report["run"])
    assert json.loads(options[0]["options"])["bags"] == ["bravo"]
    assert _checked_in_order(ledger, report["run"]) == ["bravo"]
    code, report = audit(cli, collection, "--bag", "charlie", "--bag", "bravo")
    assert code == 1
    assert {bag["id"]: bag["status"] for bag in report["bags"]} == {
        "bravo": "intact",
        "charlie": "damaged",
    }
    refused = cli("audit", collection, "--bag", "alpha")
    assert refused.code == 2 and "not a bag of the collection" in refused.err
    assert "alpha" in refused.err


def test_an_audit_of_one_bag_does_not_finish_an_interrupted_run(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    clock = Clock.from_epoch(BAGS_EPOCH)

    def stop(_done: int, _total: int, _hashed: int) -> None:
        raise _StopRunError

    with pytest.raises(_StopRunError):
        Collection(collection).audit(workers=1, clock=clock, progress=stop)
    with pytest.raises(CollectionError, match="interrupted"):
        Collection(collection).audit(workers=1, clock=clock, bag_ids=["bravo"])
    report = Collection(collection).audit(workers=1, clock=clock)
    assert report.resumed and {bag.id for bag in report.bags} == set(NAMES)


@pytest.mark.parametrize(
    ("option", "where"),
    [
        ("--report", "b1/data/report.html"),
        ("--report", "b1/report.html"),
        ("--report", "b2"),
        ("--ledger", "b1/ledger.sqlite"),
    ],
)
def test_a_report_or_ledger_is_never_written_into_a_bag_it_audits(
    tmp_path: Path, cli: CliRunner, option: str, where: str
) -> None:
    """Written there, the file would be one the bag's manifests do not list: the audit
    would damage what it checks. Exit 2 before anything is read; the bags as they were."""
    collection = make_collection(cli, tmp_path, ("b1", "b2"))
    before = snapshot(collection)
    run = cli("audit", collection, option, collection / where)
    assert run.code == 2, run.err
    assert "cannot be written over or inside the collection's bag" in run.err
    assert snapshot(collection) == before
    beside = cli("audit", collection, "--report", collection / "report.html")
    assert beside.code == 0, beside.err  # at the collection's top, beside its bags: allowed
    assert (collection / "report.html").is_file()


@pytest.mark.parametrize("address", ["not a url", "tcp://host:notaport", "zz://host:1"])
def test_a_scheduler_address_dask_cannot_read_is_one_line_and_exit_2(
    tmp_path: Path, cli: CliRunner, address: str
) -> None:
    collection = make_collection(cli, tmp_path, ("b1",))
    run = cli("audit", collection, "--scheduler", address)
    assert run.code == 2
    assert run.err.startswith(f"archiver: error: {address!r} is not a Dask scheduler's address")
    assert len(run.err.splitlines()) == 1
    code, report = audit(cli, collection)  # nothing of that attempt left to resume
    assert code == 0 and not report["resumed"]
