"""Bags come and go between and during audits: the audit tells each change once, and tells a
loss on every run until it is mended (issue 10, item 6)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from archiver.clock import Clock
from archiver.collection import BagStatus, Collection
from archiver.collection.ledger import SCHEMA
from archiver.collection.report import AuditReport
from archiver.collection.store import Schema, Store
from tests.conftest import BAGS_EPOCH, CliRunner
from tests.test_audit import add_bag, audit, default_ledger, ledger_rows, make_collection

NAMES = ("alpha", "bravo", "charlie")
PREMIS = {"premis": "http://www.loc.gov/premis/v3"}


class _StopRunError(Exception):
    """Raised from the progress callback: the run stops as if it had been killed."""


def stop_after(bags: int) -> Callable[[int, int, int], None]:
    def progress(done: int, _total: int, _hashed: int) -> None:
        if done >= bags:
            raise _StopRunError

    return progress


def at(seconds: int) -> Clock:
    return Clock.from_epoch(BAGS_EPOCH + seconds)


def statuses(report: AuditReport) -> dict[str, BagStatus]:
    return {bag.id: bag.status for bag in report.bags}


def codes(report: AuditReport, bag_id: str) -> list[str]:
    return sorted(f.code for bag in report.bags if bag.id == bag_id for f in bag.findings)


# -- a run that is resumed --------------------------------------------------------------------


def test_a_resumed_audit_reports_a_bag_it_found_intact_before_the_interruption_and_gone_since(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert Collection(collection).audit(workers=1, clock=at(0)).intact
    with pytest.raises(_StopRunError):
        Collection(collection).audit(workers=1, clock=at(10), progress=stop_after(1))
    shutil.rmtree(collection / "alpha")  # checked (intact) by the interrupted run, then lost
    code, report = audit(cli, collection)
    assert code == 1 and report["resumed"]
    assert {b["id"]: b["status"] for b in report["bags"]} == {
        "alpha": "missing",
        "bravo": "intact",
        "charlie": "intact",
    }
    assert report["missing"] == 1


def test_bags_new_to_the_ledger_are_still_new_when_their_run_is_resumed(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    with pytest.raises(_StopRunError):
        Collection(collection).audit(workers=1, clock=at(0), progress=stop_after(1))
    report = Collection(collection).audit(workers=1, clock=at(10))
    assert report.resumed
    assert statuses(report) == dict.fromkeys(NAMES, BagStatus.NEW)
    assert all(codes(report, name) == ["audit.bag.new"] for name in NAMES)
    assert report.to_json()["new"] == 3
    again = Collection(collection).audit(workers=1, clock=at(20))
    assert statuses(again) == dict.fromkeys(NAMES, BagStatus.INTACT)


# -- withdrawn bags ---------------------------------------------------------------------------


class _WithdrawingExecutor(Executor):
    """Runs each hashing task here, but first withdraws ``bag_id`` when a task is about to
    read it: the bag leaves while the audit is checking it."""

    def __init__(self, collection: Path, bag_id: str) -> None:
        self.collection, self.bag_id, self.withdrawn = collection, bag_id, False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        batch = args[0]
        if not self.withdrawn and any(Path(job[0]).name == self.bag_id for job in batch):
            Collection(self.collection).withdraw(self.bag_id, reason="rights", clock=at(15))
            self.withdrawn = True
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_bag_withdrawn_while_the_audit_checks_it_is_withdrawn_not_damaged(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert Collection(collection).audit(workers=1, clock=at(0)).intact
    executor = _WithdrawingExecutor(collection, "bravo")
    report = Collection(collection).audit(executor=executor, clock=at(10))
    assert executor.withdrawn
    assert statuses(report) == {
        "alpha": BagStatus.INTACT,
        "bravo": BagStatus.WITHDRAWN,
        "charlie": BagStatus.INTACT,
    }
    assert codes(report, "bravo") == ["audit.bag.withdrawn"]
    assert report.intact and report.damaged == 0
    summary = report.to_json()
    assert (summary["checked"], summary["withdrawn"], summary["missing"]) == (2, 1, 0)
    later = Collection(collection).audit(workers=1, clock=at(20))
    assert statuses(later) == {"alpha": BagStatus.INTACT, "charlie": BagStatus.INTACT}


def test_a_bag_withdrawn_before_its_turn_in_a_run_is_withdrawn_not_damaged(
    tmp_path: Path, cli: CliRunner
) -> None:
    names = tuple(f"b{i}" for i in range(7))  # more than the pipeline's window of bags
    collection = make_collection(cli, tmp_path, names)
    assert Collection(collection).audit(workers=1, clock=at(0)).intact

    def withdraw_the_last(done: int, _total: int, _hashed: int) -> None:
        if done == 1:
            Collection(collection).withdraw("b6", reason="rights", clock=at(15))

    report = Collection(collection).audit(workers=1, clock=at(10), progress=withdraw_the_last)
    assert statuses(report)["b6"] is BagStatus.WITHDRAWN
    assert report.intact


def test_a_withdrawn_bag_is_told_once_never_reported_missing_and_has_no_failed_fixity_event(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert audit(cli, collection)[0] == 0
    assert cli("withdraw", collection, "bravo", "--reason", "a duplicate of alpha").code == 0
    code, told = audit(cli, collection)
    assert code == 0, told
    bravo = next(b for b in told["bags"] if b["id"] == "bravo")
    assert bravo["status"] == "withdrawn"
    assert [(f["code"], f["severity"]) for f in bravo["findings"]] == [
        ("audit.bag.withdrawn", "info")
    ]
    assert "a duplicate of alpha" in bravo["findings"][0]["message"]
    assert (told["withdrawn"], told["missing"], told["damaged"]) == (1, 0, 0)
    text = cli("audit", collection)
    assert text.code == 0 and "bravo: withdrawn" not in text.out  # told already
    for _ in range(2):
        code, later = audit(cli, collection)
        assert code == 0
        assert [b["id"] for b in later["bags"]] == ["alpha", "charlie"]
        assert (later["withdrawn"], later["missing"]) == (0, 0)
    premis = cli("audit", "premis", collection, "bravo")
    assert premis.code == 0
    outcomes = etree.fromstring(premis.out.encode()).findall(".//premis:eventOutcome", PREMIS)
    assert [o.text for o in outcomes] == ["success"]  # the one check made, none for leaving


def test_a_bag_withdrawn_under_a_name_that_was_used_before_is_told_again(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    col = Collection(collection)
    assert col.audit(workers=1, clock=at(0)).intact
    col.withdraw("bravo", reason="first time", clock=at(10))
    assert statuses(col.audit(workers=1, clock=at(20)))["bravo"] is BagStatus.WITHDRAWN
    add_bag(cli, collection, "bravo")  # a new bag under the old name
    assert statuses(col.audit(workers=1, clock=at(30)))["bravo"] is BagStatus.INTACT
    col.withdraw("bravo", reason="second time", clock=at(40))
    report = col.audit(workers=1, clock=at(50))
    assert statuses(report)["bravo"] is BagStatus.WITHDRAWN
    assert "second time" in report.bags[1].findings[0].message


def test_a_bag_withdrawn_once_then_bagged_again_and_deleted_by_hand_is_missing(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    col = Collection(collection)
    assert col.audit(workers=1, clock=at(0)).intact
    col.withdraw("bravo", reason="first time", clock=at(10))
    col.audit(workers=1, clock=at(20))
    add_bag(cli, collection, "bravo")
    assert col.audit(workers=1, clock=at(30)).intact
    shutil.rmtree(collection / "bravo")  # its old tombstone does not explain this loss
    report = col.audit(workers=1, clock=at(40))
    assert statuses(report)["bravo"] is BagStatus.MISSING
    assert not report.intact


# -- bags lost by hand --------------------------------------------------------------------------


def test_a_bag_deleted_by_hand_is_missing_on_every_run_until_it_comes_back(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert audit(cli, collection)[0] == 0
    aside = tmp_path / "aside"
    (collection / "bravo").rename(aside)
    for options in ((), (), ("--older-than", "30")):
        code, report = audit(cli, collection, *options)
        assert code == 1, options
        assert report["missing"] == report["damaged"] == 1
        bravo = next(b for b in report["bags"] if b["id"] == "bravo")
        assert bravo["status"] == "missing"
        assert [f["code"] for f in bravo["findings"]] == ["audit.bag.missing"]
    text = cli("audit", collection)
    assert text.code == 1 and "bravo: missing" in text.out
    aside.rename(collection / "bravo")
    code, back = audit(cli, collection)
    assert code == 0 and back["missing"] == 0
    assert {b["id"]: b["status"] for b in back["bags"]}["bravo"] == "intact"
    missing_checks = ledger_rows(
        default_ledger(collection),
        "SELECT run_id FROM bag_checks WHERE bag_id = 'bravo' AND status = 'missing'",
    )
    assert [row["run_id"] for row in missing_checks] == [2, 3, 4, 5]


def test_a_bag_that_lost_only_its_bagit_txt_is_no_longer_a_bag_on_every_run_until_mended(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    assert audit(cli, collection)[0] == 0
    declaration = collection / "bravo" / "bagit.txt"
    kept = declaration.read_bytes()
    declaration.unlink()
    for options in ((), ("--older-than", "30")):
        code, report = audit(cli, collection, *options)
        assert code == 1
        bravo = next(b for b in report["bags"] if b["id"] == "bravo")
        assert bravo["status"] == "damaged"
        found = {f["code"] for f in bravo["findings"]}
        assert "audit.bag.no-longer-a-bag" in found and "bag.declaration.missing" in found
        assert "audit.bag.missing" not in found
        assert bravo["files"] == 2  # its payload is still checked
        assert report["missing"] == 0
    declaration.write_bytes(kept)
    code, mended = audit(cli, collection)
    assert code == 0
    assert {b["id"]: b["status"] for b in mended["bags"]}["bravo"] == "intact"


def test_a_ledger_of_the_first_schema_is_migrated_and_keeps_its_history(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = make_collection(cli, tmp_path, NAMES)
    ledger = default_ledger(collection)
    first = Schema("ledger", SCHEMA.migrations[:1], irreplaceable=True)
    store = Store(ledger, first)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO runs VALUES (1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', "
            "'archiver 0.0.9', 'host', '{}')"
        )
        db.executemany(
            "INSERT INTO bags (id, first_seen, missing_since) VALUES (?, ?, ?)",
            [(name, "2026-01-01T00:00:00Z", None) for name in NAMES]
            + [("delta", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")],
        )
    store.close()
    report = Collection(collection).audit(workers=1, clock=at(0))
    assert statuses(report) == {**dict.fromkeys(NAMES, BagStatus.INTACT), "delta": "missing"}
    assert ledger_rows(ledger, "PRAGMA user_version")[0][0] == SCHEMA.version == 2
    assert [row["id"] for row in ledger_rows(ledger, "SELECT id FROM runs")] == [1, 2]
