"""Validate bags: RFC 8493 rules, then our metadata when the bag carries it -> Report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archiver import layout
from archiver.check import metadata
from archiver.check.bag import Mode, check_bag
from archiver.errors import UsageError
from archiver.findings import BagReport, Report


def validate_bag(
    root: Path, *, mode: Mode = Mode.FULL, workers: int | None = None, reference: bool = False
) -> BagReport:
    """Judge one bag; UsageError when ``root`` is not a directory (nothing to inspect).

    ``reference`` also runs LoC bagit-python and reports any disagreement.
    """
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    inspection = check_bag(root, mode=mode, workers=workers)
    declared = {e.value for e in inspection.bag_info if e.label == "BagIt-Profile-Identifier"}
    if mode is not Mode.FAST and (
        metadata.carries_metadata(inspection.inventory) or layout.PROFILE_IDENTIFIER in declared
    ):
        metadata.check_metadata(
            root, inspection.inventory, inspection.payload_manifests, inspection.report
        )
    if reference:
        from archiver.check.reference import second_opinion  # loaded only when asked

        second_opinion(root, inspection.report, mode)
    return inspection.report


def validate_bags(
    roots: Sequence[Path],
    *,
    mode: Mode = Mode.FULL,
    workers: int | None = None,
    reference: bool = False,
) -> Report:
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"{root}: not a directory")
    return Report(
        [validate_bag(root, mode=mode, workers=workers, reference=reference) for root in roots]
    )
