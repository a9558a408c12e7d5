"""Worker processes: started clean (by the fork server; forked from the caller only when it
asks and runs one thread) and gone with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from archiver.bagit import hashing

TASK = """
import os, time

def task(item, helper):
    with open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w") as note:
        note.write(f"{os.getppid()} {sorted(os.listdir('/proc/self/fd'))}")
    time.sleep(120)
    return item
"""
MAIN = """
import fcntl, os
from archiver.bagit import hashing
import slowtask

lock = os.open(os.environ["LOCK"], os.O_RDWR | os.O_CREAT)  # no O_CLOEXEC: would a fork keep it?
fcntl.flock(lock, fcntl.LOCK_EX)
list(hashing.run_each(slowtask.task, list(range(400)), [100] * 400, 2, preload=["slowtask"]))
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def test_pool_workers_hold_no_lock_of_the_caller_and_die_when_it_is_killed(
    tmp_path: Path,
) -> None:
    (tmp_path / "slowtask.py").write_text(TASK)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "PID_DIR": str(pids),
        "LOCK": str(tmp_path / "lock"),
    }
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(MAIN)], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(os.listdir(pids)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(name) for name in os.listdir(pids)]
        assert len(workers) == 2
        for pid in workers:
            server, _ = (pids / str(pid)).read_text().split(" ", 1)
            assert int(server) != parent.pid  # forked by the fork server, not the caller
        # The caller's lock is not held by any worker: another process can take it as soon
        # as the caller is gone.
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, workers))
        import fcntl

        fd = os.open(tmp_path / "lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_caller_may_run_the_small_files_on_its_own_executor(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    files = []
    for index in range(100):
        path = tmp_path / f"f{index}"
        path.write_bytes(b"x" * index)
        files.append(str(path))
    with ThreadPoolExecutor(2) as executor:
        found = hashing.run_all(_digest, files, [1] * len(files), 2, executor)
    assert found[3] == hashing.digest_file(files[3], ["sha256"]).digests["sha256"]
    assert len(set(found)) == 100


def _digest(path: str, _helper: object) -> str:
    return hashing.digest_file(path, ["sha256"]).digests["sha256"]


STUBBORN = """
import os, signal, time

def deaf(_):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a worker started too late to be told
    with open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w"):
        pass
    time.sleep(3600)

def die(_):
    with open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w"):
        pass
    os.kill(os.getpid(), signal.SIGKILL)
"""
CLOSE = """
import os, time
from concurrent.futures import BrokenExecutor
from archiver.bagit import hashing
import stubborn

pool = hashing.process_pool(2, ["stubborn"])
pool.submit(stubborn.deaf, 0)
while not os.listdir(os.environ["PID_DIR"]):
    time.sleep(0.01)
try:
    pool.submit(stubborn.die, 0).result()
except BrokenExecutor:
    pass
hashing.close_pool(pool)
print("closed")
"""


def test_a_broken_pool_is_closed_even_when_a_worker_would_outlive_its_termination(
    tmp_path: Path,
) -> None:
    """A worker started by the second submit dies: the pool notices (Python 3.11 did not
    watch a worker started on a submit, and waited forever). The other worker is busy and
    ignores the SIGTERM the executor sends it (as a worker 3.11 starts while it terminates
    the others never gets one): close_pool still returns, and no worker is left."""
    (tmp_path / "stubborn.py").write_text(textwrap.dedent(STUBBORN))
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "PID_DIR": str(pids),
    }
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CLOSE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0 and run.stdout == "closed\n", run.stderr
    workers = [int(name) for name in os.listdir(pids)]
    assert len(workers) == 2
    assert not any(map(_alive, workers))


IDLE = """
import os, sys
from archiver.bagit import hashing

pool = hashing.process_pool(2, fork=sys.argv[1] == "fork")
print(" ".join(str(pid) for pid in pool._processes), flush=True)
hashing.close_pool(pool)
print("closed")
"""


def test_a_pool_closed_before_any_task_leaves_no_worker_and_no_wait(tmp_path: Path) -> None:
    """process_pool starts every worker at once; closed before any task, no executor thread
    existed to tell them to stop, and the caller waited for them at exit forever."""
    for how in ("fork", "server"):
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(IDLE), how],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        pids, closed = run.stdout.splitlines()
        assert closed == "closed"
        workers = [int(pid) for pid in pids.split()]
        assert len(workers) == 2
        assert not any(map(_alive, workers))


PROBE = """
import sys

def loaded(name):
    return name in sys.modules
"""
FORKED = """
import os, sys, threading
from archiver.bagit import hashing
import probe

if sys.argv[1] == "threaded":
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
print("before", end=" ")  # held in stdout's buffer (a pipe) when the workers are forked
pool = hashing.process_pool(1, ["archiver.packing"], fork=True)
parent = pool.submit(os.getppid).result()
loaded = pool.submit(probe.loaded, "archiver.packing").result()
hashing.close_pool(pool)
print(parent == os.getpid(), loaded, "archiver.packing" in sys.modules)
if sys.argv[1] == "threaded":
    stop.set()
"""


def test_a_pool_is_forked_from_its_caller_only_when_asked_and_it_runs_one_thread(
    tmp_path: Path,
) -> None:
    """fork=True: a caller running one thread forks its workers itself; they import
    ``preload`` (the caller does not), and what the caller's stdout held is written once.
    With another thread running, the fork server forks them: a fork would copy whatever
    lock that thread holds."""
    (tmp_path / "probe.py").write_text(textwrap.dedent(PROBE))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    found = {}
    for how in ("alone", "threaded"):
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(FORKED), how],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        found[how] = run.stdout
    assert found["alone"] == "before True True False\n"
    assert found["threaded"] == "before False True False\n"


BATCH = """
import sys
from multiprocessing import forkserver, resource_tracker
from archiver.batch import run_batch
from archiver.cli import main

if sys.argv[1] == "cli":
    code = main(["batch", sys.argv[2], "--out", sys.argv[3], "--jobs", "2"])
else:
    code = 0 if run_batch(sys.argv[2], sys.argv[3], jobs=2).ok else 1
print(code, forkserver._forkserver._forkserver_pid is None,
      resource_tracker._resource_tracker._pid is None)
"""


def test_the_cli_batch_forks_its_workers_itself_and_a_library_call_does_not(
    tmp_path: Path,
) -> None:
    """`archiver batch` (one thread, nothing open yet) forks its workers as it starts: no
    fork server and no resource tracker beside them. run_batch, called by a program that
    may hold locks and files of its own, has the fork server start them."""
    texts = tmp_path / "texts"
    texts.mkdir()
    lines = ["source,dc.title"]
    for index in range(12):
        (texts / f"t{index}.txt").write_text(f"Text {index}.\n", encoding="utf-8")
        lines.append(f"texts/t{index}.txt,Text {index}")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = {}
    for how in ("cli", "library"):
        out = tmp_path / how
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(BATCH), how, str(sheet), str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        found[how] = run.stdout.splitlines()[-1]
        assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 12
    assert found == {"cli": "0 True True", "library": "0 False False"}


def test_a_pool_with_a_worker_per_core_keeps_each_on_a_core_of_its_own() -> None:
    """pin=True, as a batch asks: with as many workers as cores, worker i runs on core i
    alone (a fork server's workers or forked ones); with fewer, the scheduler places them."""
    cores = sorted(os.sched_getaffinity(0))
    assert len(cores) > 1, "the project's machines have two cores or more"
    for fork in (False, True):
        pool = hashing.process_pool(len(cores), fork=fork, pin=True)
        try:
            workers = list(pool._processes)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                len(os.sched_getaffinity(pid)) > 1 for pid in workers
            ):
                time.sleep(0.01)  # each pins itself as it starts
            assert sorted(min(os.sched_getaffinity(pid)) for pid in workers) == cores
            assert all(len(os.sched_getaffinity(pid)) == 1 for pid in workers)
        finally:
            hashing.close_pool(pool)
    pool = hashing.process_pool(len(cores) - 1, pin=True)
    try:
        assert pool.submit(os.sched_getaffinity, 0).result() == set(cores)
    finally:
        hashing.close_pool(pool)


def test_workers_asked_for_beyond_eight_a_core_are_not_started(tmp_path: Path) -> None:
    cores = hashing.default_workers()
    assert hashing.worker_count(None) == cores
    assert hashing.worker_count(3) == 3
    assert hashing.worker_count(10**6) == hashing.MOST_PER_CORE * cores
    pool = hashing.process_pool(10**6)
    try:
        assert len(pool._processes) == hashing.MOST_PER_CORE * cores
    finally:
        hashing.close_pool(pool)
    # through the command line: a typo's 100,000 processes are 8 a core, and all is well
    bag = tmp_path / "many"
    bag.mkdir()
    for number in range(hashing.POOL_MINIMUM + 8):
        (bag / f"f{number}.txt").write_text(f"{number}\n", encoding="utf-8")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1795737600"}
    made = subprocess.run(
        [sys.executable, "-m", "archiver", "bag", str(bag), "--out", str(tmp_path / "out"),
         "--id", "b", "--processes", "100000"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "archiver", "validate", "--processes", "100000",
         str(tmp_path / "out" / "b")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
