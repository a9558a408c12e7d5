"""Named points where a test may kill the process, to prove what a crash leaves behind.

Code that changes a collection, a bag or a package marks the instants that matter
(``faults.point("withdraw.before-rename")``). Normally a point costs one dictionary lookup
and does nothing. When the environment variable ``ARCHIVER_FAULT`` names it, the process
writes the point's name to the file ``ARCHIVER_FAULT_MARK`` (so the test knows it was
reached) and kills itself with SIGKILL on the spot: no cleanup, no finally block, exactly
what ``kill -9`` or a power cut would leave. ``ARCHIVER_FAULT=name:N`` kills at the N-th
time the point is reached (1 being the first).

Only tests set these variables; the points are the test-only hook the fault-injection suite
(tests/test_faults.py) drives.
"""

from __future__ import annotations

import os
import signal

_ENV = "ARCHIVER_FAULT"
_MARK = "ARCHIVER_FAULT_MARK"
_reached: dict[str, int] = {}


def point(name: str) -> None:
    """Die here, as by ``kill -9``, when the environment asks for this point."""
    wanted = os.environ.get(_ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition(":")
    if target != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != (int(nth) if nth.isdigit() else 1):
        return
    mark = os.environ.get(_MARK)
    if mark:
        with open(mark, "w", encoding="utf-8") as note:
            note.write(name)
    os.kill(os.getpid(), signal.SIGKILL)
