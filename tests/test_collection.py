"""archiver.Collection, the public face of a folder of bags: called as a library would call it
(paths as plain strings), and the SQLite store under it."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import archiver
from archiver import BagStatus, Clock, Collection, CollectionError, StoreError, UsageError
from archiver.collection.catalog import SCHEMA as CATALOG_SCHEMA
from archiver.collection.store import Schema, Store, statements
from archiver.oai.protocol import Config, Provider
from archiver.packing import make_bag
from archiver.record import Record
from tests.conftest import write_tree
from tests.corrupt import flip_byte
from tests.oai_helpers import (
    ADMIN,
    FLAT_SPECS,
    NS,
    PREFIX,
    REPOSITORY,
    make_collection,
    moment,
    validate,
)

T0 = moment("2024-03-01T00:00:00Z")
LATER = moment("2024-03-02T06:00:00Z")
PREMIS_NS = {"premis": "http://www.loc.gov/premis/v3"}


@pytest.fixture
def folder(tmp_path: Path) -> str:
    """A collection of two bags, as the string a library caller would pass."""
    return str(make_collection(tmp_path, FLAT_SPECS))


def _statuses(report: archiver.AuditReport) -> dict[str, BagStatus]:
    return {bag.id: bag.status for bag in report.bags}


# -- auditing --------------------------------------------------------------------------


def test_a_collection_named_by_a_str_is_audited_into_its_own_ledger(folder: str) -> None:
    collection = Collection(folder)
    assert collection.bag_ids() == ["flat-1", "flat-2"]
    first = collection.audit(workers=1, clock=Clock(fixed=T0))
    assert _statuses(first) == {"flat-1": BagStatus.NEW, "flat-2": BagStatus.NEW}
    assert first.intact and first.run == 1
    assert first.ledger == str(Path(folder) / ".archiver" / "ledger.sqlite")
    assert [bag["status"] for bag in first.to_json()["bags"]] == ["new", "new"]
    second = collection.audit(workers=1, clock=Clock(fixed=LATER))
    assert _statuses(second) == {"flat-1": BagStatus.INTACT, "flat-2": BagStatus.INTACT}


def test_older_than_is_a_timedelta_and_skips_bags_verified_since(folder: str) -> None:
    collection = Collection(folder)
    collection.audit(workers=1, clock=Clock(fixed=T0))
    report = collection.audit(older_than=timedelta(days=1), workers=1, clock=Clock(fixed=T0))
    assert (report.bags, report.skipped) == ([], 2)
    report = collection.audit(older_than=timedelta(hours=12), workers=1, clock=Clock(fixed=LATER))
    assert sorted(_statuses(report)) == ["flat-1", "flat-2"]


def test_a_damaged_bag_is_damaged_in_the_report_and_in_the_ledger(folder: str) -> None:
    collection = Collection(folder)
    collection.audit(workers=1, clock=Clock(fixed=T0))
    flip_byte(Path(folder) / "flat-2" / "data" / "flat-2.txt")
    report = collection.audit(workers=1, clock=Clock(fixed=LATER))
    assert _statuses(report) == {"flat-1": BagStatus.INTACT, "flat-2": BagStatus.DAMAGED}
    assert not report.intact
    history = collection.history("flat-2")
    assert [check["status"] for check in history["checks"]] == ["new", "damaged"]
    assert {p["outcome"] for p in history["checks"][1]["problems"]} == {"changed"}


def test_a_ledger_elsewhere_is_named_by_a_str_and_nothing_is_written_in_the_folder(
    folder: str, tmp_path: Path
) -> None:
    ledger = str(tmp_path / "records" / "fixity.sqlite")
    report = Collection(folder, ledger=ledger).audit(workers=1, clock=Clock(fixed=T0))
    assert report.ledger == ledger
    assert Path(ledger).is_file()
    assert not (Path(folder) / ".archiver").exists()
    assert Collection(folder, ledger=ledger).history()["runs"][0]["bags"] == {"new": 2}


def test_bad_audit_options_are_refused_before_anything_is_written(folder: str) -> None:
    with pytest.raises(UsageError, match="at least 1 worker") as caught:
        Collection(folder).audit(workers=0)
    assert "--" not in str(caught.value)
    assert not (Path(folder) / ".archiver").exists()


# -- history and PREMIS ----------------------------------------------------------------


def test_history_lists_every_run_with_its_counts(folder: str) -> None:
    collection = Collection(folder)
    collection.audit(workers=1, clock=Clock(fixed=T0))
    collection.audit(workers=1, clock=Clock(fixed=LATER))
    runs = collection.history()["runs"]
    assert [(r["run"], r["started"], r["finished"], r["bags"]) for r in runs] == [
        (1, "2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z", {"new": 2}),
        (2, "2024-03-02T06:00:00Z", "2024-03-02T06:00:00Z", {"intact": 2}),
    ]
    json.dumps(runs)  # JSON-ready as it is


def test_premis_events_has_one_fix_event_per_finished_check(folder: str) -> None:
    collection = Collection(folder)
    collection.audit(workers=1, clock=Clock(fixed=T0))
    collection.audit(workers=1, clock=Clock(fixed=LATER))
    document = etree.fromstring(collection.premis_events("flat-1").encode())
    events = document.findall("premis:event", PREMIS_NS)
    kinds = [e.findtext("premis:eventType", namespaces=PREMIS_NS) for e in events]
    assert kinds == ["fixity check"] * 2
    assert [e.findtext("premis:eventDateTime", namespaces=PREMIS_NS) for e in events] == [
        "2024-03-01T00:00:00Z",
        "2024-03-02T06:00:00Z",
    ]
    outcomes = document.xpath("//premis:eventOutcome/text()", namespaces=PREMIS_NS)
    assert outcomes == ["success", "success"]


def test_history_of_a_collection_never_audited_raises_and_creates_no_ledger(folder: str) -> None:
    collection = Collection(folder)
    for ask in (collection.history, lambda: collection.premis_events("flat-1")):
        with pytest.raises(CollectionError, match="not been audited") as caught:
            ask()
        assert "--" not in str(caught.value) and "archiver audit" not in str(caught.value)
    assert not collection.ledger_path.exists()


def test_history_of_a_bag_the_ledger_does_not_know_raises(folder: str) -> None:
    collection = Collection(folder)
    collection.audit(workers=1, clock=Clock(fixed=T0))
    with pytest.raises(CollectionError, match="'nobody'"):
        collection.history("nobody")
    with pytest.raises(CollectionError, match="'nobody'"):
        collection.premis_events("nobody")


# -- the catalog's dates -------------------------------------------------------------


def _dated_collection(tmp_path: Path) -> Path:
    """Bags dated by the record (converted to EDTF), by EDTF, by nothing readable, not at all."""
    root = tmp_path / "dated"
    text = write_tree(tmp_path / "src", {"t.txt": "A text.\n"}) / "t.txt"
    given: dict[str, Record | dict[str, object]] = {
        "spring": {"title": "Spring", "date": "Spring 2020"},
        "open": {"title": "Open", "date": ["../1990", "2000"]},  # the first date counts
        "read-second": Record()
        .with_values("title", ["W"])
        .with_values(
            "date",
            ["the nineties", "199X"],  # built in code: no reading, written as given
        ),
        "undated": {"title": "Undated"},
    }
    for bag_id, record in given.items():
        make_bag([text], root, record=record, bag_id=bag_id, clock=Clock(fixed=T0), workers=1)
    return root


def test_the_catalog_keeps_the_first_and_last_day_of_each_bags_date(tmp_path: Path) -> None:
    with Collection(_dated_collection(tmp_path)) as collection:
        collection.refresh_catalog(clock=Clock(fixed=T0))
        catalog = collection.catalog()
        days = {}
        for bag_id in collection.bag_ids():
            item = catalog.item(bag_id)
            assert item is not None
            days[bag_id] = (item.date_earliest, item.date_latest)
    assert days == {
        "open": (None, "1990-12-31"),
        "read-second": ("1990-01-01", "1999-12-31"),
        "spring": ("2020-03-01", "2020-05-31"),
        "undated": (None, None),
    }


def test_a_catalog_of_the_schema_before_dates_is_migrated_and_filled_on_refresh(
    tmp_path: Path,
) -> None:
    root = _dated_collection(tmp_path)
    before = Schema("catalog", CATALOG_SCHEMA.migrations[:2])
    Store(root / ".archiver" / "catalog.sqlite", before).close()
    with Collection(root) as collection:
        assert collection.refresh_catalog(clock=Clock(fixed=T0)) == 4
        item = collection.catalog().item("spring")
        assert item is not None and (item.date_earliest, item.date_latest) == (
            "2020-03-01",
            "2020-05-31",
        )
    assert _pragma(root / ".archiver" / "catalog.sqlite", "user_version") == CATALOG_SCHEMA.version


# -- withdrawal and the catalog --------------------------------------------------------


def _provider(collection: Collection) -> Provider:
    config = Config("http://archive.example.org/oai", "Test", (ADMIN,), REPOSITORY)
    return Provider(collection.catalog(), config)


def _header(collection: Collection, bag_id: str) -> etree._Element:
    query = [("verb", "GetRecord"), ("identifier", PREFIX + bag_id), ("metadataPrefix", "oai_dc")]
    root = validate(_provider(collection).respond(query, LATER))
    header = root.find("o:GetRecord/o:record/o:header", NS)
    assert header is not None
    return header


def test_withdraw_moves_the_bag_and_the_provider_reports_it_deleted_at_once(
    folder: str,
) -> None:
    collection = Collection(folder)
    assert collection.refresh_catalog(clock=Clock(fixed=T0)) == 2
    assert _header(collection, "flat-2").get("status") is None
    home = collection.withdraw(
        "flat-2", reason="  asked by the rights holder ", clock=Clock(fixed=LATER)
    )
    assert home == Path(folder) / ".archiver" / "withdrawn" / "flat-2.20240302T060000Z" / "bag"
    assert (home / "bagit.txt").is_file()
    assert collection.bag_ids() == ["flat-1"]
    header = _header(collection, "flat-2")  # no refresh asked for: withdraw did it
    assert header.get("status") == "deleted"
    assert header.findtext("o:datestamp", namespaces=NS) == "2024-03-02T06:00:00Z"
    [stone] = collection.tombstones()
    assert (stone.id, stone.withdrawn_at, stone.reason) == (
        "flat-2",
        "2024-03-02T06:00:00Z",
        "asked by the rights holder",
    )
    assert stone.value("payload-oxum") is not None
    collection.close()


def test_a_catalog_built_after_a_withdrawal_learns_it_from_the_tombstone(folder: str) -> None:
    with Collection(folder) as collection:
        collection.withdraw("flat-1", reason="duplicate", clock=Clock(fixed=T0))
    for path in (Path(folder) / ".archiver").glob("catalog.sqlite*"):
        path.unlink()
    with Collection(folder) as rebuilt:
        assert rebuilt.refresh_catalog(clock=Clock(fixed=LATER)) == 2
        assert _header(rebuilt, "flat-1").get("status") == "deleted"
        assert _header(rebuilt, "flat-1").findtext("o:datestamp", namespaces=NS) == (
            "2024-03-01T00:00:00Z"
        )


def test_a_withdrawal_without_a_reason_is_refused_in_the_librarys_words(folder: str) -> None:
    collection = Collection(folder)
    with pytest.raises(UsageError) as caught:
        collection.withdraw("flat-1", reason=" \n")
    assert str(caught.value) == "a withdrawal needs a reason"
    assert collection.bag_ids() == ["flat-1", "flat-2"]
    assert collection.tombstones() == []


def test_withdrawing_a_bag_not_in_the_collection_is_refused(folder: str) -> None:
    with pytest.raises(CollectionError, match="no such bag"):
        Collection(folder).withdraw("flat-9", reason="gone")


def test_a_tombstone_that_is_not_one_is_ignored(folder: str) -> None:
    collection = Collection(folder)
    collection.withdraw("flat-1", reason="duplicate", clock=Clock(fixed=T0))
    broken = Path(folder) / ".archiver" / "withdrawn" / "other.x"
    broken.mkdir()
    (broken / "tombstone.json").write_text('{"id": "other", "withdrawn_at": "yesterday"}')
    assert [stone.id for stone in collection.tombstones()] == ["flat-1"]


def test_a_path_that_is_not_a_folder_is_not_a_collection(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a collection")
    for path in (tmp_path / "a-file", tmp_path / "nothing-here"):
        with pytest.raises(CollectionError, match="not a directory"):
            Collection(str(path))
    assert not (tmp_path / "nothing-here").exists()


# -- the store -------------------------------------------------------------------------

_THINGS = Schema("thing list", (statements("CREATE TABLE things (name TEXT)"),))


def _pragma(path: Path, name: str) -> object:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_store_is_created_at_its_schema_version_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "deep" / "things.sqlite", _THINGS)
    with store.transaction() as db:
        db.execute("INSERT INTO things VALUES ('a')")
    assert [row["name"] for row in store.rows("SELECT name FROM things")] == ["a"]
    assert store.row("PRAGMA synchronous")[0] == 1  # type: ignore[index]  # NORMAL
    store.close()
    assert _pragma(tmp_path / "deep" / "things.sqlite", "journal_mode") == "wal"
    assert _pragma(tmp_path / "deep" / "things.sqlite", "user_version") == 1


def test_a_store_migrates_an_older_schema_one_version_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "things.sqlite"
    Store(path, _THINGS).close()
    grown = Schema(
        "thing list", (*_THINGS.migrations, statements("ALTER TABLE things ADD colour TEXT"))
    )
    store = Store(path, grown)  # the first migration would fail if it ran again
    with store.transaction() as db:
        db.execute("INSERT INTO things VALUES ('a', 'red')")
    store.close()
    assert _pragma(path, "user_version") == 2


def test_a_new_store_opened_by_two_processes_at_once_is_set_up_once(tmp_path: Path) -> None:
    """Both read schema version 0 before either set it up (two batches into one new
    collection): the second took its stale 0 and failed with 'table ... already exists'.
    It reads the version again once it holds the write lock."""
    from archiver.collection.store import _set_up

    path = tmp_path / "things.sqlite"
    with (
        closing(sqlite3.connect(path, isolation_level=None)) as first,
        closing(sqlite3.connect(path, isolation_level=None)) as second,
    ):
        stale = int(second.execute("PRAGMA user_version").fetchone()[0])
        assert stale == 0
        _set_up(first, _THINGS, 0)
        _set_up(second, _THINGS, stale)
    assert _pragma(path, "user_version") == 1
    store = Store(path, _THINGS)
    assert store.rows("SELECT name FROM things") == []
    store.close()


def test_a_foreign_sqlite_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "recipes.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE recipes (name TEXT)")
        db.commit()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not an archiver thing list") as caught:
        Store(path, _THINGS)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before
    assert _pragma(path, "journal_mode") == "delete"


def test_a_database_from_a_newer_archiver_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "things.sqlite"
    Store(path, _THINGS).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(StoreError, match="thing list schema 7; this archiver knows 1"):
        Store(path, _THINGS)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="cannot open the thing list"):
        Store(path, _THINGS)


def test_sqlite_errors_come_out_as_store_errors_and_roll_the_transaction_back(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "things.sqlite", _THINGS)

    def write_both() -> None:
        with store.transaction() as db:
            db.execute("INSERT INTO things VALUES ('kept only if committed')")
            db.execute("INSERT INTO absent VALUES (1)")

    with pytest.raises(StoreError, match="no such table: absent") as caught:
        write_both()
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert store.rows("SELECT * FROM things") == []
    with pytest.raises(StoreError):
        store.rows("SELECT * FROM absent")
    store.close()


def test_each_thread_has_its_own_connection_and_close_closes_them_all(tmp_path: Path) -> None:
    store = Store(tmp_path / "things.sqlite", _THINGS)
    seen: list[sqlite3.Connection] = []

    def use() -> None:
        seen.append(store.connection())
        assert store.rows("SELECT count(*) FROM things")[0][0] == 0

    threads = [threading.Thread(target=use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections = {id(c) for c in [*seen, store.connection()]}
    assert len(connections) == 4
    store.close()
    for connection in seen:
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")


# -- where the hashing runs ------------------------------------------------------------


def _holders(path: Path) -> set[int]:
    """Every process with ``path`` open, found through /proc."""
    target = os.path.realpath(path)
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours to look at
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    found.add(int(pid))
    return found


def _many_files(tmp_path: Path) -> str:
    """Four bags of 70 files each: more than one hashing batch per bag."""
    folder = tmp_path / "many"
    for number in range(4):
        source = write_tree(
            tmp_path / "sources" / f"b{number}",
            {f"part-{i:02d}.txt": f"part {i} of bag {number}\n" * 50 for i in range(70)},
        )
        make_bag([source], folder, bag_id=f"b{number}", clock=Clock(fixed=T0), workers=1)
    return str(folder)


class _Watch:
    """A progress callback that notes, after each bag, who holds the lock and which
    worker processes this process has."""

    def __init__(self, lock: Path) -> None:
        self.lock = lock
        self.holders: list[set[int]] = []
        self.workers: set[int] = set()

    def __call__(self, _done: int, _total: int, _hashed: int) -> None:
        self.holders.append(_holders(self.lock))
        self.workers.update(child.pid for child in multiprocessing.active_children() if child.pid)


def _audit_watched(folder: str, **options: Any) -> tuple[archiver.AuditReport, _Watch]:
    collection = Collection(folder)
    watch = _Watch(collection.ledger_path.with_name("ledger.sqlite.lock"))
    report = collection.audit(clock=Clock(fixed=T0), progress=watch, **options)
    assert report.intact and len(report.bags) == 4
    return report, watch


def test_an_audit_with_two_workers_hashes_without_forking_a_lock_holder(tmp_path: Path) -> None:
    _, watch = _audit_watched(_many_files(tmp_path), workers=2)
    assert watch.holders == [{os.getpid()}] * 4  # only this process, all along
    assert watch.workers == set()  # threads: no process of ours ever held it
    assert _holders(watch.lock) == set()  # released at the end


def test_a_callers_forkserver_pool_hashes_and_its_workers_never_hold_the_lock(
    tmp_path: Path,
) -> None:
    folder = _many_files(tmp_path)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        report, watch = _audit_watched(folder, executor=pool)
        assert pool.submit(abs, -1).result() == 1  # the caller's pool is left running
    assert watch.workers, "no worker process ran: the test proves nothing"
    assert watch.holders == [{os.getpid()}] * 4
    twin = _audit_watched(_many_files(tmp_path / "twin"), workers=1)[0]
    assert [b.to_json()["files"] for b in report.bags] == [b.to_json()["files"] for b in twin.bags]


def test_a_callers_forked_pool_never_holds_the_lock_and_another_audit_runs_beside_it(
    tmp_path: Path,
) -> None:
    """A fork-context pool whose workers start while the audit holds its lock inherits the
    lock file's descriptor (the watch sees it), yet not the lock: a record lock is never
    inherited, so once the audit ends another one runs while those workers still live."""
    folder = _many_files(tmp_path)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        _, watch = _audit_watched(folder, executor=pool)
        assert any(holders - {os.getpid()} for holders in watch.holders)  # the fd, inherited
        assert watch.workers and all(psutil_alive(pid) for pid in watch.workers)
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1709251200"}
        again = subprocess.run(
            [sys.executable, "-m", "archiver", "audit", folder, "--workers", "1"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 0, again.stderr


def psutil_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_audit_on_a_callers_thread_pool_gives_the_verdicts_of_one_worker(
    tmp_path: Path,
) -> None:
    folder = _many_files(tmp_path)
    flip_byte(Path(folder) / "b2" / "data" / "part-33.txt")
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = Collection(folder).audit(executor=pool, clock=Clock(fixed=T0))
    alone = Collection(folder, ledger=tmp_path / "alone.sqlite").audit(
        workers=1, clock=Clock(fixed=T0)
    )
    assert _statuses(threaded) == _statuses(alone)
    assert _statuses(threaded)["b2"] is BagStatus.DAMAGED
    assert [b.findings for b in threaded.bags] == [b.findings for b in alone.bags]


def test_a_scheduler_and_an_executor_together_are_refused(folder: str) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(UsageError, match="not both"):
        Collection(folder).audit(scheduler="tcp://127.0.0.1:1", executor=pool)
