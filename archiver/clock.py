"""The one clock every timestamp in a bag comes from.

Builders never ask the system for the time: they are handed ``now``. The clock honours
SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/) so that the
same inputs give byte-identical bags.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from archiver.errors import ClockError


def _system_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """Tells the time in UTC, to the second; fixed when built from an epoch."""

    fixed: datetime | None = None
    _source: Callable[[], datetime] = field(default=_system_now, repr=False, compare=False)

    @classmethod
    def from_epoch(cls, seconds: int) -> Clock:
        return cls(fixed=datetime.fromtimestamp(seconds, UTC))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Clock:
        """A fixed clock when SOURCE_DATE_EPOCH is set, the system clock otherwise."""
        env = os.environ if environ is None else environ
        raw = env.get("SOURCE_DATE_EPOCH")
        if raw is None or raw == "":
            return cls()
        value = raw.strip()
        if not value.isdigit():
            raise ClockError(
                f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, got {raw!r}"
            )
        try:
            return cls.from_epoch(int(value))
        except (OverflowError, OSError, ValueError) as exc:
            raise ClockError(f"SOURCE_DATE_EPOCH is out of range: {raw!r}") from exc

    def now(self) -> datetime:
        moment = self.fixed if self.fixed is not None else self._source()
        return moment.astimezone(UTC).replace(microsecond=0)


def w3cdtf(moment: datetime) -> str:
    """A UTC timestamp as W3CDTF / xs:dateTime to the second: ``2018-06-15T08:30:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
