"""Where the files archiver ships live: schemas/ (JSON Schemas, vendored XSDs) and samples/.

In a source checkout schemas/ sits at the top level beside the package; in an installed
wheel it travels inside the package as archiver/schemas (pyproject's force-include).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from archiver.errors import SchemaError

_PACKAGE = Path(__file__).resolve().parent


@cache
def schemas_dir() -> Path:
    for candidate in (_PACKAGE / "schemas", _PACKAGE.parent / "schemas"):
        if (candidate / "xsd").is_dir():
            return candidate
    raise SchemaError("cannot find archiver's schemas folder (is the installation complete?)")


def schema_file(name: str) -> Path:
    path = schemas_dir() / name
    if not path.is_file():
        raise SchemaError(f"missing schema {path}")
    return path


@cache
def json_schema(name: str) -> dict[str, Any]:
    """One of our JSON Schemas, parsed."""
    try:
        loaded: dict[str, Any] = json.loads(schema_file(name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read JSON Schema {name}: {exc}") from exc
    return loaded


def sample_file(name: str) -> Path:
    """A file of the bundled sample (the editorial and its metadata record)."""
    return _PACKAGE / "samples" / name
