"""The software's name and version, as written into bags and reports (one place: hatch reads it)."""

from __future__ import annotations

__version__ = "0.2.0"

NAME = "archiver"
VERSION = __version__
AGENT = f"{NAME} {VERSION}"
