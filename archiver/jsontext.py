"""JSON text people hand archiver (metadata records, BagIt profiles) -> Python values.

Python's json module meets some hostile but well-formed JSON with errors meant for
programmers: RecursionError for arrays or objects nested a thousand deep, ValueError with
advice about ``sys.set_int_max_str_digits`` for an integer of more than 4,300 digits. Here
every way a text can fail is one JSONTextError, with a reason a person can act on.
"""

from __future__ import annotations

import json
import sys
from typing import Any


class JSONTextError(ValueError):
    """Why a text is not JSON archiver can use; ``line`` and ``column`` when it is syntax."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def loads(text: str, **options: Any) -> Any:
    """``json.loads(text, **options)``; JSONTextError for whatever keeps it from a value."""
    try:
        return json.loads(text, **options)
    except json.JSONDecodeError as exc:
        raise JSONTextError(exc.msg, exc.lineno, exc.colno) from exc
    except RecursionError as exc:
        raise JSONTextError(
            "arrays or objects nested too deeply (Python's reader stops near 1,000 levels)"
        ) from exc
    except ValueError as exc:  # the integer conversion limit (CVE-2020-10735)
        limit = sys.get_int_max_str_digits()
        raise JSONTextError(f"a number of more than {limit} digits (Python reads no more)") from exc
