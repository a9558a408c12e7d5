"""Validate bags: RFC 8493 rules, then our metadata when the bag carries it, then a BagIt
profile (the one given, or ours when the bag names it) -> Report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from archiver import layout
from archiver.check.bag import Inspection, Mode, check_bag
from archiver.check.profile import Profile, check_profile, declared_profiles, shipped_profile
from archiver.errors import UsageError
from archiver.findings import BagReport, Report


def validate_bag(
    root: str | os.PathLike[str],
    *,
    mode: Mode = Mode.FULL,
    workers: int | None = None,
    reference: bool = False,
    profile: Profile | None = None,
) -> BagReport:
    """Judge one bag; UsageError when ``root`` is not a directory (nothing to inspect).

    ``reference`` also runs LoC bagit-python and reports any disagreement. ``profile``: the
    BagIt profile to judge the bag by; without one, the bag is judged by our own profile
    when its BagIt-Profile-Identifier names it.
    """
    return inspect_bag(
        root, mode=mode, workers=workers, reference=reference, profile=profile
    ).report


def inspect_bag(
    root: str | os.PathLike[str],
    *,
    mode: Mode = Mode.FULL,
    workers: int | None = None,
    reference: bool = False,
    profile: Profile | None = None,
) -> Inspection:
    """validate_bag, keeping what was read on the way (bag-info decoded in the bag's own
    encoding, manifests with their paths resolved to files): what export and ingest build on."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    inspection = check_bag(root, mode=mode, workers=workers)
    declared = declared_profiles(inspection.bag_info)
    if mode is not Mode.FAST and (
        any(name in inspection.inventory.tags for name in layout.METADATA_FILES)
        or layout.PROFILE_IDENTIFIER in declared
    ):
        from archiver.check import metadata  # lxml is loaded only for bags with metadata

        metadata.check_metadata(inspection)
    if profile is None:  # then ours, when the bag names it
        profile = next(filter(None, map(shipped_profile, declared)), None)
    # Profile rules judge names, sizes and bag-info, never checksums: they run in every
    # mode, --fast included.
    if profile is not None:
        check_profile(profile, inspection, inspection.report)
    if reference:
        from archiver.check.reference import second_opinion  # loaded only when asked

        second_opinion(root, inspection.report, mode)
    return inspection


def validate_bags(
    roots: Sequence[str | os.PathLike[str]],
    *,
    mode: Mode = Mode.FULL,
    workers: int | None = None,
    reference: bool = False,
    profile: Profile | None = None,
) -> Report:
    for root in map(Path, roots):
        if not root.is_dir():
            raise UsageError(f"{root}: not a directory")
    return Report(
        [
            validate_bag(root, mode=mode, workers=workers, reference=reference, profile=profile)
            for root in roots
        ]
    )
