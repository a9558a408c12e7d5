"""Run one function in a forked child while this process goes on.

Used where two big, independent, CPU-bound jobs can share the two cores (writing PREMIS
beside METS; checking PREMIS beside METS). The result travels back as JSON through a pipe.
Forking a process that runs threads is unsafe, so then -- or for small jobs -- the function
simply runs here, at once.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

from archiver.errors import ArchiverError


class ForkedError(ArchiverError):
    """The forked child failed; its message says how."""


def beside(function: Callable[[], Any], *, worth_it: bool = True) -> Callable[[], Any]:
    """Start ``function`` (returning JSON-able data) in a child; call the result to get it.

    The child's exception is re-raised here as ForkedError with its message. When forking
    is not worth it or not safe, ``function`` runs now and the returned call just hands
    back its result.
    """
    if not worth_it or threading.active_count() > 1:
        result = function()
        return lambda: result
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report, never return into the parent's code
        code = 0
        try:
            os.close(reader)
            reply: dict[str, Any] = {"result": function()}
        except BaseException as exc:
            reply, code = {"error": str(exc), "kind": type(exc).__name__}, 1
        try:
            with os.fdopen(writer, "w", encoding="utf-8") as channel:
                channel.write(json.dumps(reply))
        finally:
            os._exit(code)
    os.close(writer)
    waited = False

    def wait() -> Any:
        nonlocal waited
        if waited:
            raise RuntimeError("already waited for this child")
        waited = True
        with os.fdopen(reader, encoding="utf-8") as channel:
            message = channel.read()
        _, status = os.waitpid(pid, 0)
        reply = json.loads(message) if message else {"error": f"the child died ({status})"}
        if "error" in reply:
            raise ForkedError(str(reply["error"]))
        return reply["result"]

    return wait
