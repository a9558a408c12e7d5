"""Validate bags: RFC 8493 rules, then our metadata when the bag carries it, then a BagIt
profile (the one given, or ours when the bag names it) -> Report."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path

from archiver import layout
from archiver.bagit import algorithms, hashing
from archiver.bagit.archives import ArchiveFiles, open_archive
from archiver.bagit.files import BagFiles, FolderFiles
from archiver.bagit.manifest import payload_manifest_name
from archiver.bagit.names import is_archive_file
from archiver.bagit.reader import Bag, holds_bags, is_bag, read_bag
from archiver.check.bag import Inspection, Mode, check_structure, verify_checksums
from archiver.check.profile import (
    Profile,
    check_profile,
    declared_profiles,
    load_profile,
    shipped_profile,
)
from archiver.errors import UsageError
from archiver.findings import BagReport, Finding, Report, finding

PathLike = str | os.PathLike[str]


def validate_bag(
    bag: PathLike,
    *,
    mode: Mode | str = Mode.FULL,
    profile: Profile | PathLike | None = None,
    reference: bool = False,
    workers: int | None = None,
    executor: Executor | None = None,
) -> BagReport:
    """Judge one bag and report every problem found.

    ``mode``: "full" (every checksum), "completeness" (no checksum) or "fast" (structure
    and Payload-Oxum). ``profile``: a BagIt profile (a Profile, or the path of a BagIt
    Profiles 1.4 or APTrust DART profile file) to judge the bag by; without one, the bag
    is judged by archiver's own profile when its BagIt-Profile-Identifier names it.
    ``reference`` also runs LoC bagit-python and reports any disagreement. Checksums are
    verified on ``workers`` processes (default: every core) or the caller's ``executor``.
    Raises UsageError when ``bag`` is not a directory (there is nothing to inspect).
    """
    return inspect_bag(
        bag,
        mode=mode,
        profile=profile,
        reference=reference,
        workers=workers,
        executor=executor,
    ).report


def inspect_bag(
    bag: PathLike,
    *,
    mode: Mode | str = Mode.FULL,
    profile: Profile | PathLike | None = None,
    reference: bool = False,
    workers: int | None = None,
    executor: Executor | None = None,
    payload_checksums: bool = True,
) -> Inspection:
    """validate_bag, keeping what was read on the way (the bag as the reader read it,
    manifests with their paths resolved to files): what export and ingest build on.

    ``payload_checksums=False`` (FULL mode) leaves the payload's digests to the caller, who
    checks them as it reads the payload anyway (ingest, which copies it): the report then
    holds every finding but those digests' own."""
    root = Path(bag)
    files = _files(root)
    mode = Mode(mode)
    if profile is not None and not isinstance(profile, Profile):
        profile = load_profile(Path(profile))
    folder = isinstance(files, FolderFiles)
    # A .tar's members lie in it as they are: workers digest them as a folder's files.
    located = folder or (isinstance(files, ArchiveFiles) and files.sliceable)
    if executor is None and folder and payload_checksums and _pool_likely(root, mode, workers):
        hashing.start_pool_server(_PRELOAD)  # starts while the bag is read
    read = read_bag(files, fetch_txt=mode is not Mode.FAST)
    declared = declared_profiles(read.bag_info)
    with_metadata = mode is not Mode.FAST and (
        any(name in read.inventory.tags for name in layout.METADATA_FILES)
        or layout.PROFILE_IDENTIFIER in declared
    )
    # A compressed archive is read in one pass, in this process: no pool.
    owned = (
        None
        if executor is not None or not located
        else _pool(read, mode, workers, with_metadata, payload_checksums)
    )
    pool = executor or owned
    try:
        inspection = check_structure(read, mode=mode)
        finish = None
        if with_metadata:
            from archiver.check import metadata  # lxml is loaded only for bags with metadata

            # Checked on the pool's workers, first in its queue, while the checksums follow.
            finish = metadata.begin_metadata(inspection, pool)
        if mode is Mode.FULL:
            verify_checksums(inspection, workers, pool, payload=payload_checksums)
        if finish is not None:
            finish()
    finally:
        if owned is not None:
            hashing.close_pool(owned)
    if profile is None:  # then ours, when the bag names it
        profile = next(filter(None, map(shipped_profile, declared)), None)
    # Profile rules judge names, sizes and bag-info, never checksums: they run in every
    # mode, fast included.
    if profile is not None:
        check_profile(profile, inspection, inspection.report)
    if reference:
        from archiver.check.reference import second_opinion  # loaded only when asked

        second_opinion(root, inspection.report, mode, folder=folder)
    return inspection


def _files(root: Path) -> BagFiles:
    """How a bag at ``root`` is read: a folder, or an archive named as one (.tar, .tar.gz,
    .tgz, .zip). UsageError when it is neither, or the archive cannot be opened."""
    if root.is_dir():
        return FolderFiles(root)
    if is_archive_file(root):
        try:
            return open_archive(root)
        except OSError as exc:
            raise UsageError(f"{root}: cannot be read: {exc.strerror or exc}") from exc
    raise UsageError(f"{root}: not a directory or a .tar, .tar.gz, .tgz or .zip bag")


def _pool(
    bag: Bag, mode: Mode, workers: int | None, with_metadata: bool, payload: bool = True
) -> Executor | None:
    """One pool of worker processes for the whole validation (checksums of many small files,
    a big PREMIS document checked beside METS), when there is enough work to pay for it."""
    count = hashing.worker_count(workers)
    if count <= 1:
        return None
    small = sum(1 for size in bag.inventory.payload.values() if size < hashing.SPLIT_THRESHOLD)
    many = mode is Mode.FULL and payload and small >= hashing.POOL_MINIMUM
    big = with_metadata and bag.inventory.tags.get(layout.PREMIS_XML, 0) >= _BIG_PREMIS
    if not (many or big):
        return None
    return hashing.process_pool(count, _PRELOAD)


# What a validation's workers run: checksums, and metadata checks (lxml is loaded in the fork
# server, never in this process for a bag without metadata).
_PRELOAD = ("archiver.check.bag", "archiver.check.metadata")
# check.metadata.BESIDE_MINIMUM, a PREMIS document big enough to check on a worker (not
# imported: it would load lxml for every bag).
_BIG_PREMIS = 8 << 20
# Manifests this big list enough files for a pool (POOL_MINIMUM lines of 60 bytes and more).
_MANY_LINES = hashing.POOL_MINIMUM * 60


def _pool_likely(root: Path, mode: Mode, workers: int | None) -> bool:
    """Whether _pool will want a pool, guessed from a few sizes before the bag is read:
    long payload manifests (under their usual names) or a big PREMIS document."""
    if mode is Mode.FAST or hashing.worker_count(workers) <= 1:
        return False
    names = [payload_manifest_name(a) for a in (*algorithms.WRITTEN, *sorted(algorithms.WEAK))]
    sizes = {name: _size(root / name) for name in [*names, layout.PREMIS_XML]}
    many = mode is Mode.FULL and max(sizes[name] for name in names) >= _MANY_LINES
    return many or sizes[layout.PREMIS_XML] >= _BIG_PREMIS


def _size(path: Path) -> int:
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def validate_bags(
    bags: Sequence[PathLike],
    *,
    mode: Mode | str = Mode.FULL,
    profile: Profile | PathLike | None = None,
    reference: bool = False,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Report:
    """validate_bag for each path, in order, into one Report (the profile is read once). A
    path that is not a bag -- a file, nothing, a folder of bags -- is judged too: its entry
    holds one bag.not-a-bag error, and the other paths are judged all the same."""
    if profile is not None and not isinstance(profile, Profile):
        profile = load_profile(Path(profile))
    judged = []
    for root in map(Path, bags):
        reason = _not_a_bag(root)
        if reason is not None:
            judged.append(BagReport(str(root), [reason]))
            continue
        judged.append(
            validate_bag(
                root,
                mode=mode,
                profile=profile,
                reference=reference,
                workers=workers,
                executor=executor,
            )
        )
    return Report(judged)


def _not_a_bag(root: Path) -> Finding | None:
    """Why ``root`` is no bag at all, or None when it may be one (a folder, which the bag
    rules judge: a folder without bagit.txt may be a damaged bag). A folder of bags is a
    collection, not a bag missing everything."""
    if not root.exists():
        return finding("bag.not-a-bag", "", "no such file or folder")
    if not root.is_dir():
        if is_archive_file(root):
            return None  # a serialized bag: the bag rules judge what it holds
        return finding("bag.not-a-bag", "", "a file, not a bag")
    if is_bag(root):
        return None
    try:
        held = len(holds_bags(root))
    except OSError:
        return None  # the bag rules say what cannot be read
    if not held:
        return None
    return finding(
        "bag.not-a-bag",
        "",
        f"a folder of {held} bag{'s' if held > 1 else ''}, not a bag itself: "
        "audit it as a collection, or validate its bags",
        bags=held,
    )
