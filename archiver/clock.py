"""The one clock every timestamp comes from, and the one way timestamps are written.

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
    """A UTC timestamp as W3CDTF / xs:dateTime to the second: ``2018-06-15T08:30:00Z``.

    The one formatter of timestamps: bags, ledger, catalog and OAI-PMH responses all write
    them through here.
    """
    # isoformat, not strftime: strftime("%Y") writes the year 999 as "999", not "0999".
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def from_w3cdtf(text: str) -> datetime:
    """The UTC moment a timestamp written by ``w3cdtf`` names; ValueError for anything else."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if w3cdtf(moment) != text:  # strptime also takes "2018-6-15T8:30:00Z"
        raise ValueError(f"not a UTC timestamp to the second: {text!r}")
    return moment


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def common_log_time(moment: datetime) -> str:
    """A UTC timestamp as a web server's access log writes it: ``27/Nov/2026:01:01:01 +0000``
    (the Common Log Format's; English month names whatever the locale)."""
    m = moment.astimezone(UTC)
    return (
        f"{m.day:02d}/{_MONTHS[m.month - 1]}/{m.year:04d}:"
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )
