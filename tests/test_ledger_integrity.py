"""The fixity ledger is the collection's history: never silently begun again, never written
into when damaged, and every way it can fail is one line naming it (issue 10, items 7, 16)."""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from lxml import etree

from archiver.clock import Clock
from archiver.collection import Collection
from archiver.xml import parsing
from tests.conftest import BAGS_EPOCH, CliRunner, small_collection

PAGE = 4096
PREMIS = "http://www.loc.gov/premis/v3"
VIEWS = (("audit",), ("audit", "history"), ("audit", "premis"))


def collection_with_history(root: Path, bags: int = 2, files: int = 3) -> Path:
    """A collection of small bags, audited once: its ledger holds one run."""
    collection = small_collection(root, bags, files)
    assert Collection(collection).audit(workers=1, clock=Clock.from_epoch(BAGS_EPOCH)).intact
    return collection


def ledger_of(collection: Path) -> Path:
    return collection / ".archiver" / "ledger.sqlite"


def run_view(cli: CliRunner, view: tuple[str, ...], collection: Path) -> tuple[int, str, str]:
    args = [*view, collection] + (["b0"] if view[-1] == "premis" else [])
    run = cli(*args)
    return run.code, run.out, run.err


def assert_refused(code: int, out: str, err: str, ledger: Path, *words: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr naming the ledger, no traceback."""
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("archiver: error: "), err
    assert str(ledger) in err and "Traceback" not in err
    for word in words:
        assert word in err, err


Damage = Callable[[Path], None]


def emptied(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garbled(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[: PAGE // 2] = random.Random(7).randbytes(PAGE // 2)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "words"),
    [(emptied, ("empty", "left as it is")), (truncated, ("damaged",)), (garbled, ("damaged",))],
    ids=["empty", "truncated", "malformed"],
)
@pytest.mark.parametrize("view", VIEWS, ids=" ".join)
def test_an_empty_truncated_or_malformed_ledger_is_exit_2_naming_it_and_is_never_replaced(
    tmp_path: Path, cli: CliRunner, damage: Damage, words: tuple[str, ...], view: tuple[str, ...]
) -> None:
    collection = collection_with_history(tmp_path)
    ledger = ledger_of(collection)
    damage(ledger)
    before = ledger.read_bytes()
    for _ in range(2):  # and the same again: nothing was begun anew the first time
        assert_refused(*run_view(cli, view, collection), ledger, *words)
        assert ledger.read_bytes() == before


def test_a_database_with_no_ledger_in_it_is_refused_not_set_up_as_a_new_ledger(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = collection_with_history(tmp_path)
    ledger = ledger_of(collection)
    ledger.unlink()
    with closing(sqlite3.connect(ledger)) as db:  # a valid, empty SQLite database
        db.execute("CREATE TABLE t (x)")
        db.execute("DROP TABLE t")
        db.commit()
    before = ledger.read_bytes()
    assert_refused(*run_view(cli, ("audit",), collection), ledger, "holds no ledger")
    assert ledger.read_bytes() == before


def test_any_bad_page_of_the_ledger_is_the_same_clear_error_for_every_command(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = collection_with_history(tmp_path)
    ledger = ledger_of(collection)
    sound = ledger.read_bytes()
    with closing(sqlite3.connect(ledger)) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # every page is in use
    noise = random.Random(10)
    for page in range(1, len(sound) // PAGE):  # page 0 is the header: "malformed" above
        bad = bytearray(sound)
        bad[page * PAGE : (page + 1) * PAGE] = noise.randbytes(PAGE)
        for view in VIEWS:
            ledger.write_bytes(bytes(bad))
            code, out, err = run_view(cli, view, collection)
            assert_refused(code, out, err, ledger, "damaged")
            assert ledger.read_bytes() == bad, (page, view)


# -- a full disk -----------------------------------------------------------------------------


def _small_file_limit(limit: int) -> Callable[[], None]:
    """In the child, before archiver starts: no file may grow past ``limit`` bytes (EFBIG, the
    write error a full disk gives), and going past it is an error, not SIGXFSZ."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


def test_a_ledger_that_cannot_grow_mid_audit_stays_intact_and_the_next_audit_completes(
    tmp_path: Path,
) -> None:
    collection = collection_with_history(tmp_path, bags=12, files=40)
    ledger = ledger_of(collection)
    with closing(sqlite3.connect(ledger)) as db:
        runs_before = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(BAGS_EPOCH)}
    command = [sys.executable, "-m", "archiver", "audit", str(collection), "--workers", "1"]
    # Room for the run to begin and record a few bags, not for all twelve.
    full = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_small_file_limit(ledger.stat().st_size + 60 * PAGE),
        check=False,
    )
    assert (full.returncode, full.stdout) == (2, ""), full.stderr
    assert full.stderr.count("\n") == 1 and str(ledger) in full.stderr
    assert "Traceback" not in full.stderr
    with closing(sqlite3.connect(ledger)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        recorded = db.execute("SELECT count(*) FROM bag_checks WHERE run_id = 2").fetchone()[0]
        unfinished = db.execute("SELECT count(*) FROM runs WHERE finished_at IS NULL").fetchone()
    assert 0 < recorded < 12, "the disk filled before the run began or after it ended"
    assert unfinished[0] == 1
    again = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert '"resumed": true' in again.stdout
    with closing(sqlite3.connect(ledger)) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before + 1
        statuses = db.execute("SELECT status FROM bag_checks WHERE run_id = 2").fetchall()
    assert sorted(statuses) == [("intact",)] * 12


# -- names that XML, or UTF-8 text, cannot hold ---------------------------------------------


def test_premis_html_and_history_name_a_file_or_bag_holding_u0001_escaped_never_refused(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = collection_with_history(tmp_path, bags=1)
    (collection / "b0" / "data" / "ctl\x01name.txt").write_bytes(b"unlisted\n")
    shutil.copytree(collection / "b0", collection / "b\x01c")  # a bag whose name holds it too
    report = tmp_path / "report.html"
    assert cli("audit", collection, "--report", report).code == 1
    assert "data/ctl\\x01name.txt" in report.read_text(encoding="utf-8")
    for bag_id in ("b0", "b\x01c"):
        run = cli("audit", "premis", collection, bag_id)
        assert (run.code, run.err) == (0, "")
        root = etree.fromstring(run.out.encode(), etree.XMLParser(resolve_entities=False))
        parsing.preservation_schema().assertValid(root)
        notes = [n.text or "" for n in root.iter(f"{{{PREMIS}}}eventOutcomeDetailNote")]
        assert any("data/ctl\\x01name.txt" in note for note in notes), notes
    identifiers = root.iter(f"{{{PREMIS}}}objectIdentifierValue")
    assert [i.text for i in identifiers] == ["b\\x01c"]
    history = cli("audit", "history", collection, "b0")
    assert history.code == 0 and "unlisted: data/ctl\\x01name.txt (sha256)" in history.out
    assert "\x01" not in history.out


def test_a_file_name_that_is_not_utf8_is_checked_recorded_byte_for_byte_and_resumed(
    tmp_path: Path, cli: CliRunner
) -> None:
    collection = collection_with_history(tmp_path, bags=2)
    odd = os.fsencode(collection / "b1" / "data") + b"/bad\xffname.txt"
    with open(odd, "wb") as handle:
        handle.write(b"unlisted\n")
    for _ in range(2):  # the first audit of it, then the next one over the same ledger
        run = cli("audit", collection)
        assert run.code == 1, run.err
        assert "data/bad\\xffname.txt" in run.out and "Traceback" not in run.err
    with closing(sqlite3.connect(ledger_of(collection))) as db:
        paths = db.execute(
            "SELECT DISTINCT path FROM file_checks WHERE outcome = 'unlisted'"
        ).fetchall()
    assert paths == [(b"data/bad\xffname.txt",)]  # the name's very bytes
    premis = cli("audit", "premis", collection, "b1")
    assert premis.code == 0 and "data/bad\\xffname.txt" in premis.out
