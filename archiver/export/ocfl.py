"""OCFL export: the whole bag as an OCFL 1.1 object in a storage root.

Not a Fedora 6 repository: Fedora 6 stores its resources in OCFL, but in layout 0004, with
``info:fedora/`` object ids and ``.fcrepo/`` header files, none of which is written here.

Objects, inventories, forward-delta versions and validation come from ocfl-py, the OCFL
editors' own implementation; this module adds what it leaves to its caller: choosing the
root, copying with digests checked, and moving every change into place in one step.

--out names a storage root:
  missing, or an empty folder   a new root: 0=ocfl_1.1, ocfl_layout.json and
                                extensions/0003-hash-and-id-n-tuple-storage-layout/config.json
  an OCFL 1.0 or 1.1 root       used when ocfl-py reads it and its layout is 0003 (the root's
                                own 0003 parameters are honoured); objects added to a 1.0 root
                                are 1.0 objects, as a root may not hold newer ones
  anything else                 refused (ExportRefusedError, exit 2), nothing written

Layout 0003, not 0004: ocfl-py 2.1 implements 0002, 0003 and a few unregistered drafts but
not 0004, so a 0004 root could not be read or validated by it (E071). 0003 also names each
object folder after its identifier (percent-encoded), so a person finds an object by eye.

Object id: ``info:archiver/<bag id>``, after Fedora 6's ``info:fedora/<path>``. An inventory
id SHOULD be a URI (OCFL 1.1 §3.5.1; ocfl-py warns W005 on a bare name); characters a URI
cannot hold are percent-encoded, so dropping the prefix and decoding gives the bag id back.

Content: every file of the bag (bagit.txt, bag-info.txt, manifests, tag manifests,
metadata/, data/) at its bag path, both as the logical path in the version state and as the
content path under vN/content/ (no path normalisation), so the head version *is* the bag.
OCFL records neither empty folders nor file times, so a bag extracted from it has neither.

Versions: created from the injected clock (SOURCE_DATE_EPOCH gives byte-identical objects),
message "Exported by archiver X from bag ID", user archiver. Exporting a bag whose object
exists compares the bag with the head version: the same files with the same sha512 -> no new
version; otherwise vN+1, storing only content the object does not hold yet (forward delta).

Atomicity: the root is valid (ocfl-py) at every instant, a crash included. Every change is
built whole, then moved in by one rename; the root's objects are written to by one export at a
time (a lock on the root folder).
  new root      an empty root (declaration, layout) built in a hidden staging folder beside
                --out, which is renamed to --out; the object is then added as to any root
  new object    built in a staging folder inside the root's extensions/ folder, on the root's
                file system and where ocfl-py does not look (it lists extensions/ and warns,
                W901, of a name no extension is registered under; it walks every other folder
                of the root, reporting what is not an object, E072 and E073); then renamed to
                its layout path, with the parent folders the root lacks, in one rename
  new version   the object is rebuilt in such a staging folder, earlier versions as hard links
                (no byte copied; copies where the file system has none), the new version and
                both inventories written, validated, then swapped with the live object by one
                renameat2(RENAME_EXCHANGE): a reader or a crash sees the old object or the new,
                never a mix. ocfl-py's own order (version folder, then root inventory, then
                sidecar) is not enough: an object whose root holds a version its inventory
                does not list is invalid (E046b), as is one whose sidecar does not match its
                inventory (E060). Where the file system cannot exchange (some network file
                systems), two renames: the live object (with the parent folders that hold only
                it) aside into the staging folder, then the new one in; between them the root
                lacks the object, and stays valid.
A crash leaves at most a hidden .archiver-partial-* folder in extensions/ (or beside --out,
before a new root was moved in). The next export into the root, holding its lock, first
finishes or undoes what it finds: the new object moved in where a crash fell between the two
renames, every staging folder of a dead writer removed; also what earlier versions of this
exporter left (they staged in the root itself, and made an object's parent folders before
moving it in): hidden folders in the root and empty folders of its storage hierarchy (E073).
The named points of archiver.faults mark each step (ocfl.*); tests/test_faults_ocfl.py kills
an export at each.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal
from urllib.parse import quote

from archiver import faults
from archiver.bagit import hashing, paths
from archiver.bagit.reader import Bag
from archiver.check.bag import Mode
from archiver.check.profile import Profile
from archiver.clock import w3cdtf
from archiver.codes import Severity
from archiver.errors import BagExistsError, BagWriteError, ExportRefusedError, SourceError
from archiver.export.base import Options, PackageCheck, Written
from archiver.export.source import SourceBag
from archiver.findings import Finding, finding
from archiver.staging import (
    PARTIAL_PREFIX,
    Staging,
    exchange,
    fsync_directory,
    remove_stale_partials,
    sync_filesystem,
)
from archiver.validation import inspect_bag
from archiver.version import AGENT, NAME

# pairtree, which ocfl-py imports, calls logging.basicConfig(level=INFO) as it is imported:
# every later INFO line of every library would then be printed. With a handler already in
# place basicConfig does nothing.
_PLACEHOLDER = logging.NullHandler()
logging.getLogger().addHandler(_PLACEHOLDER)
try:
    import ocfl
    from ocfl.fsw import FswException
    from ocfl.layout import LayoutException
    from ocfl.validation_logger import ValidationLogger
    from ocfl.validator import Validator
finally:
    logging.getLogger().removeHandler(_PLACEHOLDER)

LAYOUT = "0003-hash-and-id-n-tuple-storage-layout"
SPEC_VERSION = "1.1"  # of the roots and objects we create
OBJECT_ID_PREFIX = "info:archiver/"
DIGEST = "sha512"
INVENTORY = "inventory.json"
SIDECAR = f"{INVENTORY}.{DIGEST}"
USER_NAME = NAME
# The project's site, where its BagIt profile is published (see layout.PROFILE_IDENTIFIER):
# OCFL asks for a user address (ocfl-py W008) and a URI there (W009).
USER_ADDRESS = "https://archiver-preservation.github.io/"
# What a URI path may hold unescaped besides letters, digits and "-._~" (RFC 3986 pchar, "/").
_URI_SAFE = "/:@!$&'()*+,;="
# ocfl-py's own failures, translated where they enter.
_OCFL_ERRORS = (
    ocfl.ObjectException,
    ocfl.NewVersionException,
    ocfl.InventoryException,
    ocfl.StorageRootException,
    LayoutException,
    FswException,
    OSError,
)


def object_id(bag_id: str) -> str:
    """The OCFL object identifier of a bag: ``info:archiver/<bag id>``."""
    return OBJECT_ID_PREFIX + quote(bag_id, safe=_URI_SAFE)


@dataclass
class OcflExporter:
    name: str = "ocfl"
    creates: Literal["root"] = "root"
    # What write() judged before writing (the profile), by (root, object id), for check().
    _judged: dict[tuple[str, str], PackageCheck] = field(default_factory=dict, repr=False)

    def write(self, source: SourceBag, target: Path, options: Options) -> Written:
        """Add the bag to the storage root ``target`` as a new object or a new version."""
        identifier = object_id(source.bag_id)
        files = bag_files(source.bag)
        judged = meets_profile(source.root, options.profile)
        metadata = ocfl.VersionMetadata(
            created=w3cdtf(options.clock.now()),
            message=f"Exported by {AGENT} from bag {source.bag_id}",
            name=USER_NAME,
            address=USER_ADDRESS,
        )
        try:
            new_root = open_root(target) is None and _new_root(target)
            root = open_root(target)
            if root is None:
                raise ExportRefusedError(f"{target} changed while a storage root was made there")
            with _writing(target) as area:
                outcome = _into_root(
                    root, target, area, identifier, source, files, metadata, new_root=new_root
                )
        except _OCFL_ERRORS as exc:
            raise BagWriteError(f"cannot write the OCFL object into {target}: {exc}") from exc
        self._judged[(os.fspath(target), identifier)] = judged
        found = open_root(target)
        path = target / found.object_path(identifier) if found is not None else target
        return Written(path, (outcome,))

    def check(
        self,
        target: Path,
        source: SourceBag,
        options: Options,  # noqa: ARG002 - the Exporter protocol's; write() used its profile
    ) -> PackageCheck:
        """ocfl-py validates the root and the object; the head version must be the bag.
        Finding paths are relative to the storage root."""
        identifier = object_id(source.bag_id)
        check = self._judged.pop((os.fspath(target), identifier), PackageCheck())
        try:
            _check(target, identifier, source, check)
        except _OCFL_ERRORS as exc:
            check.rule(
                "export.ocfl.storage-root",
                [finding("export.ocfl.storage-root", "", f"ocfl-py cannot read it: {exc}")],
            )
        return check.verdict(f"the OCFL storage root {target}")


EXPORTER = OcflExporter()


# -- The source bag ---------------------------------------------------------------------------


def bag_files(bag: Bag) -> list[str]:
    """Every file of the bag, by bag path, in a fixed order (it decides the inventory's)."""
    inventory = bag.inventory
    root = bag.location
    odd = inventory.symlinks + inventory.specials + inventory.unreadable
    if odd:
        raise ExportRefusedError(
            f"{root} holds {', '.join(sorted(odd))}, which an OCFL object cannot hold as files"
        )
    files = sorted([*inventory.payload, *inventory.tags])
    for path in files:
        if not paths.is_utf8(path):
            raise ExportRefusedError(
                f"{root}: the file name {path!r} is not UTF-8; OCFL inventories hold UTF-8 paths"
            )
    return files


def meets_profile(bag: Path, profile: Profile | None) -> PackageCheck:
    """The head version will be the bag byte for byte: a profile is judged on the bag, before
    anything is written (PackageCheckError carrying its findings when it is not met)."""
    check = PackageCheck()
    if profile is None:
        return check
    report = inspect_bag(bag, mode=Mode.FAST, profile=profile).report
    check.rule("export.profile", [item for item in report.findings if "profile" in item.params])
    return check.verdict(f"{bag.name} (no OCFL version was written from it)")


def bag_digests(source: SourceBag, files: Sequence[str]) -> dict[str, str]:
    """Each file's sha512 as the bag knows it: the payload's from manifest-sha512.txt when
    the bag has one, every other file's from its bytes, read through the bag reader."""
    declared = {p.path: p.digests[DIGEST].lower() for p in source.payload if DIGEST in p.digests}
    digests = {}
    for path in files:
        if path in declared:
            digests[path] = declared[path]
            continue
        found = hashing.digest_bag_file(source.bag.files, path, [DIGEST])
        if isinstance(found, str):
            raise SourceError(f"{source.root / path}: cannot read: {found}")
        digests[path] = found[DIGEST]
    return digests


# -- The storage root -------------------------------------------------------------------------


def open_root(out: Path) -> Any:
    """The ocfl.StorageRoot at ``out``; None when a new one is to be made there (``out`` is
    missing or an empty folder); ExportRefusedError when ``out`` cannot take our objects."""
    if not out.exists():
        if out.is_symlink():
            raise ExportRefusedError(f"{out} is a symbolic link to nothing")
        return None
    if not out.is_dir():
        raise ExportRefusedError(f"{out} exists and is not a folder, so not an OCFL storage root")
    names = os.listdir(out)
    if not names:
        return None
    if not any(name.startswith("0=") for name in names):
        raise ExportRefusedError(
            f"{out} is neither empty nor an OCFL storage root (it has no 0=ocfl_1.x declaration)"
        )
    root = ocfl.StorageRoot(root=os.fspath(out))
    try:
        root.open_root_fs()
        root.check_root_structure()
    except ocfl.StorageRootException as exc:
        raise ExportRefusedError(
            f"{out} is not an OCFL storage root ocfl-py can use: {_describe(exc)}"
        ) from exc
    except LayoutException as exc:
        raise ExportRefusedError(
            f"{out}: its storage layout configuration is unusable: {exc}"
        ) from exc
    if root.layout is None:
        raise ExportRefusedError(
            f"{out} declares no storage layout (no ocfl_layout.json): where objects go is unknown"
        )
    if root.layout.NAME != LAYOUT:
        raise ExportRefusedError(
            f"{out} uses the storage layout {root.layout.NAME}; archiver adds objects only to "
            f"roots laid out in {LAYOUT}"
        )
    return root


def _describe(exc: Any) -> str:
    """An ocfl-py validation exception as ocfl-py words it: "[E069a] ..."."""
    log = ValidationLogger()
    log.error(exc.code, **exc.kwargs)
    return str(log.messages[-1]) if log.messages else str(exc)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the root's lock: one writer per storage root at a time."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # A file system without flock on folders (NFS) leaves writers unserialised.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _new_root(out: Path) -> bool:
    """Make an empty storage root at ``out`` in one step: built in a hidden folder beside it,
    which is then renamed to ``out`` (nothing is left beside it). False when another writer
    made a root there meanwhile: objects are added to that one."""
    with Staging(out.parent) as staging:
        faults.point("ocfl.root-staged")
        built = staging.path / "root"  # ocfl-py makes the root's folder itself
        ocfl.StorageRoot(root=os.fspath(built), layout_name=LAYOUT).initialize(
            spec_version=SPEC_VERSION
        )
        for name in sorted(os.listdir(built)):
            os.rename(built / name, staging.path / name)
        built.rmdir()
        emptied = out.is_dir()
        if emptied:
            try:
                os.rmdir(out)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    return False  # filled meanwhile (another writer's root?): judged afresh
                raise
        faults.point("ocfl.root-before-rename")
        try:
            staging.commit(out)
        except BagExistsError:
            return False
        except BagWriteError as exc:
            if emptied:
                with contextlib.suppress(OSError):
                    out.mkdir()
            raise BagWriteError(
                f"cannot move the new storage root into {out}: {exc.__cause__ or exc}"
            ) from exc
        faults.point("ocfl.root-after-rename")
    return True


# Writers build in staging folders (staging.Staging) in the root's extensions folder: on the
# root's file system, so a rename moves their work into place, and where ocfl-py does not
# look (it only lists that folder, warning W901 at most of a name no extension is registered
# under), so the root stays valid while they build and after a crash.
STAGING_AREA = "extensions"
# In a staging folder:
NEW = "new"  # what is moved into the root: the object, or the folders down to it
TARGET = "target"  # where NEW goes, relative to the root; written before anything moves
OLD = "old"  # the live object set aside, where the file system cannot swap in one step


@contextlib.contextmanager
def _writing(out: Path) -> Iterator[Path]:
    """Hold the root's lock, with what killed writers left in the root finished or removed
    first; yields the folder to stage in, and leaves no staging folder behind."""
    area = out / STAGING_AREA
    if area.is_symlink() or (area.exists() and not area.is_dir()):
        raise ExportRefusedError(f"{area} is not a folder of the storage root")
    with _locked(out):
        _recover(out, area)
        try:
            yield area
        finally:
            with contextlib.suppress(OSError):
                area.rmdir()  # when staging made it: an empty one means nothing to OCFL


def _recover(out: Path, area: Path) -> None:
    """Finish or undo what writers killed in this root left (its lock is held)."""
    if area.is_dir():
        for partial in sorted(area.iterdir()):
            if partial.name.startswith(PARTIAL_PREFIX) and not partial.is_symlink():
                _finish_swap(partial, out)
        remove_stale_partials(area)
    # Earlier versions of this exporter staged in the root itself and made an object's parent
    # folders before moving it in: a crash there left a hidden folder (E072) or empty ones (E073).
    remove_stale_partials(out)
    _remove_empty_folders(out)


def _finish_swap(partial: Path, out: Path) -> None:
    """A writer killed between setting the live object aside and moving the new one in left
    the root without the object (valid, as the folders holding it alone went too) and the
    staging folder holding both: the new one was whole and validated, so move it in."""
    new, old = partial / NEW, partial / OLD
    if not (new.is_dir() and old.is_dir()):
        return
    fd = os.open(partial, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its writer lives
        relative = PurePosixPath((partial / TARGET).read_text(encoding="utf-8"))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            return  # not ours: removed with the partial folder, nothing moved out of it
        place = out / relative
        if not place.exists() and not place.is_symlink():
            os.rename(new, place)
            fsync_directory(place.parent)
            faults.point("ocfl.recovered")
    finally:
        os.close(fd)


def _remove_empty_folders(out: Path) -> None:
    """Remove empty folders from the root's storage hierarchy (E073), walking it as ocfl-py
    does: not into extensions/, not into a folder holding files (an object)."""
    pending = [out]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as found:
            entries = list(found)
        if folder != out and not entries:
            while folder != out:
                try:
                    folder.rmdir()  # and its parents, as they empty
                except OSError:
                    break
                folder = folder.parent
            continue
        if folder != out and any(not entry.is_dir(follow_symlinks=False) for entry in entries):
            continue
        pending += [
            Path(entry.path)
            for entry in entries
            if entry.is_dir(follow_symlinks=False)
            and not (folder == out and entry.name == STAGING_AREA)
        ]


def _stage_at(partial: Path, top: Path, objdir: Path, out: Path) -> Path:
    """Where in the staging folder to build the object ``objdir``: under NEW, which stands
    for ``top`` (the object folder, or the highest of its parents the root lacks, or holds
    only for it)."""
    (partial / TARGET).write_text(top.relative_to(out).as_posix(), encoding="utf-8")
    staged = partial / NEW / objdir.relative_to(top)
    staged.parent.mkdir(parents=True, exist_ok=True)
    return staged


def _into_root(
    root: Any,
    out: Path,
    area: Path,
    identifier: str,
    bag: SourceBag,
    files: Sequence[str],
    metadata: Any,
    *,
    new_root: bool,
) -> str:
    relative = root.object_path(identifier)
    objdir = out / relative
    if objdir.exists() or objdir.is_symlink():
        return _next_version(out, area, objdir, relative, identifier, bag, files, metadata)
    top = objdir  # one rename brings the object and the parent folders it needs
    while top.parent != out and not top.parent.exists():
        top = top.parent
    with Staging(area) as staging:
        faults.point("ocfl.object-staged")
        staged = _stage_at(staging.path, top, objdir, out)
        _write_first_version(staged, identifier, root.spec_version, bag, files, metadata)
        _validate_staged(staged, relative)
        faults.point("ocfl.object-before-rename")
        staging.commit_inner(NEW, top)
        faults.point("ocfl.object-after-rename")
    where = f"object {identifier} at {relative}: v1"
    if new_root:
        return f"new OCFL {root.spec_version} storage root ({LAYOUT}); {where}"
    return f"new {where}"


# -- Versions ---------------------------------------------------------------------------------


def _write_first_version(
    objdir: Path, identifier: str, spec: str, bag: SourceBag, files: Sequence[str], metadata: Any
) -> None:
    objdir.mkdir()
    version = ocfl.NewVersion.first_version(
        srcdir=_read_through(bag),
        identifier=identifier,
        spec_version=spec,
        digest_algorithm=DIGEST,
        metadata=metadata,
        content_path_normalization=None,
    )
    for path in files:
        version.add(path, path)
    _store(version, bag, objdir)
    writer = _writer(objdir, identifier, spec)
    writer.write_object_declaration()
    writer.write_inventory_and_sidecar(version.inventory, version.inventory.head)
    writer.write_inventory_and_sidecar(version.inventory)


def _next_version(
    out: Path,
    area: Path,
    objdir: Path,
    relative: str,
    identifier: str,
    bag: SourceBag,
    files: Sequence[str],
    metadata: Any,
) -> str:
    validator = Validator(check_digests=False, log_warnings=False)
    if not validator.validate_object(os.fspath(objdir)):
        raise ExportRefusedError(
            f"{objdir} holds an object ocfl-py finds invalid, so no version is added to it: "
            + "; ".join(_errors(validator.log))
        )
    inventory = ocfl.Object(path=os.fspath(objdir)).parse_inventory()
    if inventory.id != identifier:
        raise ExportRefusedError(
            f"{objdir} is where {identifier} belongs, but it holds the object {inventory.id}"
        )
    if inventory.digest_algorithm != DIGEST:
        raise ExportRefusedError(
            f"the object {identifier} addresses its content by {inventory.digest_algorithm}; "
            f"archiver adds versions only to {DIGEST} objects"
        )
    previous = inventory.head
    version = ocfl.NewVersion.next_version(
        inventory=inventory,
        srcdir=_read_through(bag),
        spec_version=inventory.spec_version,  # an object keeps its OCFL version
        metadata=metadata,
        content_path_normalization=None,
        forward_delta=True,
        dedupe=True,
        carry_content_forward=False,
    )
    for path in files:
        version.add(path, path)
    changes = version.diff_with_previous()
    if not changes:
        return (
            f"object {identifier} at {relative} unchanged: the bag equals its head version "
            f"{previous}; no new version written"
        )
    head = version.inventory.head
    top = objdir  # what is set aside where the object cannot be swapped in one step
    while top.parent != out and len(os.listdir(top.parent)) == 1:
        top = top.parent
    with Staging(area) as staging:
        staged = _stage_at(staging.path, top, objdir, out)
        _copy_versions(objdir, staged)
        faults.point("ocfl.version-linked")
        _store(version, bag, staged)
        writer = _writer(staged, identifier, version.inventory.spec_version)
        writer.write_inventory_and_sidecar(version.inventory, head)
        writer.write_inventory_and_sidecar(version.inventory)
        _validate_staged(staged, relative)
        sync_filesystem(staging.path)
        faults.point("ocfl.version-before-swap")
        _swap(staging.path, objdir, top)
        faults.point("ocfl.version-after-swap")
    return f"object {identifier} at {relative}: {head} written ({_summary(changes, version)})"


def _swap(partial: Path, objdir: Path, top: Path) -> None:
    """Put the object staged in ``partial`` in place of the live one ``objdir``: one
    renameat2(RENAME_EXCHANGE), the old object left in the staging folder. Where the file
    system cannot, two renames: ``top`` (the object, or the parent folders that hold only
    it) aside into the staging folder, then the new one in. Between them the root lacks the
    object but stays valid, and the next writer finishes the move (_finish_swap)."""
    staged = partial / NEW / objdir.relative_to(top)
    try:
        if exchange(staged, objdir):
            fsync_directory(objdir.parent)
            return
        os.rename(top, partial / OLD)
        faults.point("ocfl.version-aside")
        try:
            os.rename(partial / NEW, top)
        except OSError:
            os.rename(partial / OLD, top)
            raise
        fsync_directory(top.parent)
    except OSError as exc:
        raise BagWriteError(f"cannot swap in the new version of {objdir}: {exc}") from exc


def _summary(changes: Sequence[tuple[str, str, str]], version: Any) -> str:
    """ocfl-py's diff (op, digest, logical path) as counts of bag files; a changed file is
    both added and deleted there."""
    added = {path for op, _, path in changes if op == "A"}
    removed = {path for op, _, path in changes if op == "D"}
    return (
        f"bag files changed: {len(added & removed)}, added: {len(added - removed)}, "
        f"removed: {len(removed - added)}; content files stored: {len(version.files_to_copy)}"
    )


def _copy_versions(source: Path, target: Path) -> None:
    """Rebuild the object ``source`` at ``target``, less its inventory and sidecar: from hard
    links (no byte copied), or copies where the file system has no hard links."""
    try:
        _link_folder(source, target, {INVENTORY, SIDECAR})
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        top = os.fspath(source)
        shutil.copytree(
            source,
            target,
            symlinks=True,
            ignore=lambda folder, _: [INVENTORY, SIDECAR] if folder == top else [],
        )


def _link_folder(source: Path, target: Path, skip: set[str]) -> None:
    target.mkdir()
    with os.scandir(source) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name in skip:
                continue
            if entry.is_dir(follow_symlinks=False):
                _link_folder(Path(entry.path), target / entry.name, set())
            else:
                os.link(entry.path, target / entry.name, follow_symlinks=False)


def _read_through(bag: SourceBag) -> Any:
    """The bag's files as ocfl-py reads them to take its digests: through archiver's bag
    reader (links never followed; a serialized bag's members read in place)."""
    from fsspec import AbstractFileSystem  # type: ignore[import-untyped]  # ocfl-py uses it

    class _BagFileSystem(AbstractFileSystem):  # type: ignore[misc]
        cachable = False  # one per bag, never shared through fsspec's instance cache
        protocol = "archiver-bag"

        def open(self, path: str, mode: str = "rb", **_: Any) -> BinaryIO:
            if mode != "rb":
                raise PermissionError(f"{bag.root}: a source bag is only read")
            return bag.bag.files.open(path.lstrip("/"))

    return _BagFileSystem()


def _store(version: Any, bag: SourceBag, objdir: Path) -> None:
    """Copy in the content files ocfl-py chose, each checked against the digest it took."""
    digests = {
        path: digest
        for digest, logical in version.inventory.current_version.state.items()
        for path in logical
    }
    for source, content in sorted(version.files_to_copy.items()):
        target = objdir / content
        target.parent.mkdir(parents=True, exist_ok=True)
        faults.point("ocfl.copy")
        try:
            found = hashing.copy_file(bag.file(source), target, [DIGEST]).digests[DIGEST]
        except hashing.SourceChangedError as exc:
            raise SourceError(str(exc)) from exc
        if found != digests[source]:
            raise SourceError(f"{bag.root / source} changed while it was being exported")


def _writer(objdir: Path, identifier: str, spec: str) -> Any:
    return ocfl.Object(
        identifier=identifier,
        spec_version=spec,
        digest_algorithm=DIGEST,
        content_path_normalization=None,
        path=os.fspath(objdir),
    )


def _validate_staged(objdir: Path, relative: str) -> None:
    """ocfl-py's structural validation of what was built, before it is moved into place
    (at ``relative`` in the root)."""
    validator = Validator(check_digests=False, log_warnings=False)
    if not validator.validate_object(os.fspath(objdir)) or validator.log.num_errors:
        check = PackageCheck()
        check.rule("export.ocfl.object", _ocfl_findings(validator.log.messages, relative))
        check.verdict("the OCFL object built (not moved into place)")


# -- Checking ---------------------------------------------------------------------------------

# ocfl-py's messages: "[E092] description (see https://ocfl.io/1.1/spec/#E092)"
_OCFL_MESSAGE = re.compile(r"^\[([EW]\d{3}[a-z]?)\] (.*?)(?: \(see (\S+)\))?$", re.DOTALL)


def _errors(log: Any) -> list[str]:
    return [str(m) for m in log.messages if str(m).startswith("[E")]


def _ocfl_findings(messages: Iterable[object], path: str, *, root: bool = False) -> list[Finding]:
    """ocfl-py's messages as findings: its code (E0nn, W0nn) and the specification's
    anchor as params; errors of the root or of an object, warnings of an object."""
    found = []
    for message in messages:
        text = str(message)
        match = _OCFL_MESSAGE.match(text)
        ocfl_code, description, spec = match.groups() if match else ("", text, None)
        if ocfl_code.startswith("W"):
            code = "export.ocfl.object-warning"
        else:
            code = "export.ocfl.storage-root" if root else "export.ocfl.object"
        found.append(finding(code, path, description, ocfl_code=ocfl_code or None, spec=spec))
    return found


def _check(target: Path, identifier: str, source: SourceBag, check: PackageCheck) -> None:
    """The root at ``target`` and the bag's object in it, judged into ``check``."""
    root = ocfl.StorageRoot(root=os.fspath(target))
    # Every object's structure and inventories; content digests are checked below for the
    # bag's object only, not re-read for every object in the root on every export.
    valid = root.validate(validate_objects=True, check_digests=False, log_warnings=True)
    held = check.rule(
        "export.ocfl.storage-root",
        [
            *_ocfl_findings(_errors(root.log), "", root=True),
            *(
                []
                if valid and root.layout is not None
                else [
                    finding("export.ocfl.storage-root", "", "ocfl-py does not accept it as a root")
                ]
            ),
        ],
    )
    if not held:
        return
    relative = root.object_path(identifier)
    # Other objects' errors: the root is not valid with them in it (warnings are theirs).
    others = [
        item
        for dirpath, messages in root.errors
        if dirpath != relative
        for item in _ocfl_findings(_prefixed(messages, dirpath), dirpath)
        if item.severity is Severity.ERROR
    ]
    objdir = target / relative
    validator = Validator(check_digests=True, log_warnings=True)
    validator.validate_object(os.fspath(objdir))
    ours = _ocfl_findings(validator.log.messages, relative)
    check.rule("export.ocfl.object", [*others, *ours])
    if any(item.severity is Severity.ERROR for item in ours):
        return
    inventory = ocfl.Object(path=os.fspath(objdir)).parse_inventory()
    if check.rule("export.ocfl.inventory", _inventory_problems(inventory, identifier, relative)):
        check.rule("export.source.files", _head_is_the_bag(inventory, source, relative))


def _prefixed(messages: str, dirpath: str) -> list[str]:
    """ocfl-py's messages on one object, without the "[[dirpath]]" it puts before each."""
    prefix = f"[[{dirpath}]]"
    return [line.removeprefix(prefix) for line in messages.splitlines() if line]


def _inventory_problems(inventory: Any, identifier: str, relative: str) -> list[Finding]:
    problems = []
    if inventory.id != identifier:
        problems.append(
            finding(
                "export.ocfl.inventory",
                relative,
                "the object here holds another id",
                expected=identifier,
                found=inventory.id,
            )
        )
    if inventory.digest_algorithm != DIGEST:
        problems.append(
            finding(
                "export.ocfl.inventory",
                relative,
                f"the object addresses its content by another digest than {DIGEST}",
                expected=DIGEST,
                found=inventory.digest_algorithm,
            )
        )
    return problems


def _head_is_the_bag(inventory: Any, source: SourceBag, relative: str) -> list[Finding]:
    """The head version's state against the bag's files and sha512 digests."""
    head = inventory.head
    held: Mapping[str, str] = {
        path: digest for digest, paths in inventory.version(head).state.items() for path in paths
    }
    files = bag_files(source.bag)
    expected = bag_digests(source, files)
    problems = [
        finding(
            "export.source.files",
            relative,
            "the head version lacks a file of the bag",
            version=head,
            file=path,
        )
        for path in sorted(expected.keys() - held.keys())
    ]
    problems += [
        finding(
            "export.source.files",
            relative,
            "the head version holds a file the bag does not",
            version=head,
            file=path,
        )
        for path in sorted(held.keys() - expected.keys())
    ]
    problems += [
        finding(
            "export.source.files",
            relative,
            f"the head version holds other bytes than the bag's file ({DIGEST})",
            version=head,
            file=path,
            expected=expected[path],
            found=held[path],
        )
        for path in sorted(expected.keys() & held.keys())
        if expected[path] != held[path]
    ]
    return problems
