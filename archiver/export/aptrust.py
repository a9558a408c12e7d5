"""APTrust: an archiver bag -> the tarred bag APTrust's ingest (and DART) accepts.

``--out NAME.tar`` unpacks to the single folder NAME, as APTrust requires; APTrust's naming
convention for NAME is ``<institution>.<bag name>`` (``example.edu.giant-step``), which is
the depositor's to choose: ingest takes the institution from the receiving bucket.

    NAME/bagit.txt            BagIt-Version 1.0 (APTrust accepts 0.97 and 1.0)
    NAME/bag-info.txt         the source bag's labels in their order (Source-Organization,
                              Bag-Count, Bag-Group-Identifier... as they are, a folded value
                              folded again), less those recomputed here; then
                              Internal-Sender-Identifier and -Description when the source has
                              none (its identifier, its External-Description); Bagging-Date,
                              Bag-Software-Agent, BagIt-Profile-Identifier (APTrust's, then
                              the --profile's), Payload-Oxum
    NAME/aptrust-info.txt     Title, Access, Description, Storage-Option (the profile's order)
    NAME/manifest-md5.txt, manifest-sha256.txt, tagmanifest-md5.txt, tagmanifest-sha256.txt
    NAME/data/...             the source payload, byte for byte (digests checked on the way)
    NAME/metadata/...         the source's dc.xml, mets.xml and premis.xml, byte for byte

File and folder names APTrust's ingest rejects are refused before anything is written,
each named with its reason (export.aptrust.file-name): a control character as Go's
unicode.IsControl has it (C0, DEL and C1, U+0080-U+009F: util.go ContainsControlCharacter;
U+00A0 is no control and passes), the text of an escaped control (``\\u001b``, ``\\U0085``:
ContainsEscapedControl's pattern, which takes no ``\\x1b``), a '%' (RFC 8493 writes it '%25'
in the manifests, and APTrust reads manifest paths literally, so it would look for a file
named with '%25'), a leading '-', a name over 255 characters.

The metadata stays a tag folder, as in the source bag: APTrust allows any tag file
("tagFilesAllowed": ["*"]), in folders too, preserves and restores every tag file but
bagit.txt, and checks them against the tag manifests. Kept there, the payload is exactly the
source's (same files, same Payload-Oxum) and the METS and PREMIS paths (``data/...``, from
the bag's top) still point at the files they describe.

aptrust-info.txt and the manifest algorithms are planned by archiver.profiles, as for any
bag made to APTrust's profile (``archiver bag --profile``): Title is the first dc:title
(required: a bag without one is refused); Description the first dc:description, when there
is one; Access and Storage-Option come from the source's bag-info labels of the same names
(moved, not copied), else Institution (every user at the depositing institution sees the
object's metadata; Consortia is deprecated and means the same) and the profile's default,
Standard. Title and Description are written on one line, their whitespace runs made single
spaces (APTrust's registry shows them as single-line fields). Source-Organization is
copied when the source has it; APTrust only recommends it ("required": false in its
profile; restores set it to the depositing institution), so a bag without one is exported
without one.

check() opens the tar (uncompressed, every member a plain file or folder under NAME/, no
absolute path, '..' or duplicate), unpacks it into a temporary folder, and judges the bag:
RFC 8493 by archiver's validator and by LoC bagit-python, APTrust's profile rule by rule,
the --profile, and the payload, metadata and aptrust-info against the source bag.

The rules come from APTrust's own profile, schemas/bagit-profiles/aptrust-v2.3.dart-format.json,
in DART's JSON format, which archiver.check.profile reads into its one model (as it reads a
--profile FILE in either format); the validator judges the unpacked bag by it. The tar
itself is judged here by the profile's rules for packed bags (acceptSerialization,
tarDirMustMatchName), which the validator cannot see on a folder.
"""

from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from archiver.bagit import archives, baginfo, hashing
from archiver.bagit.reader import read_labelled
from archiver.bagit.writer import PayloadPart, write_bag
from archiver.check.bag import Inspection
from archiver.check.profile import (
    Profile,
    vendored_profile,
)
from archiver.codes import Severity
from archiver.errors import (
    BagWriteError,
    ExportRefusedError,
    MetadataError,
    SourceError,
    UsageError,
)
from archiver.export.base import (
    Options,
    PackageCheck,
    metadata_findings,
    packed_profile_findings,
    payload_findings,
    unwritable,
    within,
)
from archiver.export.source import SourceBag
from archiver.findings import Finding, finding
from archiver.profiles import plan_for_profile
from archiver.staging import os_reason
from archiver.validation import inspect_bag
from archiver.version import AGENT

PROFILE_FILE = "bagit-profiles/aptrust-v2.3.dart-format.json"
ALGORITHMS = ("md5", "sha256")  # APTrust requires md5 and verifies sha256 when present
SERIALIZATION = "application/tar"
_TAR_TYPES = (SERIALIZATION, "application/x-tar")
DEFAULT_ACCESS = "Institution"
MAX_BYTES = 5 * 10**12  # "Bags must be 5 terabytes or less in size."
MAX_NAME = 255  # characters in one file or folder name
# The source's bag-info labels this bag writes itself, or that would no longer be true.
_RECOMPUTED = frozenset(
    {"payload-oxum", "bagging-date", "bag-size", "bag-software-agent", "bagit-profile-identifier"}
)
_ACCESS, _STORAGE = "Access", "Storage-Option"
# preservation-services util.go ContainsEscapedControl, the same pattern: a backslash, 'u' or
# 'U' and the four hex digits of a control (U+0000-U+001F, U+007F, U+0080-U+009F). Only
# that form: '\x1b' or '\u0020' are names APTrust takes.
_ESCAPED_CONTROL = re.compile(r"\\[Uu]00[0189][0-9A-Fa-f]|\\[Uu]007[Ff]")
_APTRUST_INFO = "aptrust-info.txt"


def aptrust_profile() -> Profile:
    """APTrust's ingest profile, as shipped in schemas/."""
    return vendored_profile(PROFILE_FILE)


# -- what the bag will say -----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Everything the package says that is decided before a byte is written."""

    name: str  # the bag folder: the tar's name without .tar
    bag_info: tuple[tuple[str, str], ...]
    aptrust_info: tuple[tuple[str, str], ...]
    algorithms: tuple[str, ...]
    tag_algorithms: tuple[str, ...]
    moment: datetime  # Bagging-Date and every tar member's mtime


def plan(source: SourceBag, target: Path, options: Options) -> Plan:
    """What the APTrust bag for ``source`` at ``target`` will say; ExportRefusedError when
    APTrust cannot represent it (no title, a value or name APTrust refuses)."""
    profile = aptrust_profile()
    extra = options.profile
    name = _bag_name(target)
    if not source.payload:
        raise ExportRefusedError(
            f"{source.root}: the bag has no payload file; APTrust preserves files, not empty "
            "folders"
        )
    problems = [
        f"{item.path}: {reason}"
        for item in source.payload
        if (reason := _path_problem(item.path)) is not None
    ]
    if problems:
        raise ExportRefusedError(
            "APTrust refuses these file names (export.aptrust.file-name: no control "
            "character nor the text of an escaped one, no '%', no leading '-', at most "
            f"{MAX_NAME} characters): {'; '.join(problems)}"
        )
    aptrust_info, names, tag_names = _aptrust_plan(source, profile, extra)
    moment = options.clock.now()
    bag_info = _bag_info(source, profile, extra, moment.date().isoformat())
    problems = unwritable(bag_info)
    if problems:
        raise ExportRefusedError(
            f"{source.root}: APTrust's bag-info.txt cannot say this: {'; '.join(problems)}"
        )
    return Plan(name, bag_info, aptrust_info, names, tag_names, moment)


def _bag_name(target: Path) -> str:
    if not target.name.endswith(".tar"):
        raise ExportRefusedError(
            f"{target.name}: APTrust takes a tar file named NAME.tar (e.g. "
            "example.edu.my-bag.tar), which unpacks to the folder NAME"
        )
    name = target.name.removesuffix(".tar")
    problem = _name_problem(name)
    if problem:
        raise ExportRefusedError(f"{target.name}: the bag name {name!r} {problem}")
    return name


def _name_problem(part: str) -> str | None:
    """Why APTrust refuses a file or folder name, or None: its documented naming rules and
    what its ingest checks (preservation-services util/util.go, IdentifierIsLegal)."""
    if not part:
        return "is empty"
    control = next((c for c in part if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        # Go's unicode.IsControl, which ContainsControlCharacter asks: Cc, the C0 and C1
        # controls and DEL (U+00A0, a space to Go, is not one).
        return f"contains a control character (U+{ord(control):04X})"
    escaped = _ESCAPED_CONTROL.search(part)
    if escaped is not None:
        return (
            f"contains the text of an escaped control character ({escaped.group()!r}, "
            "which ContainsEscapedControl refuses)"
        )
    if "%" in part:
        return (
            "contains '%': manifests write it '%25' (RFC 8493 §2.1.3), and APTrust reads "
            "manifest paths literally"
        )
    if part.startswith("-"):
        return "begins with '-'"
    if len(part) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    return None


def _path_problem(path: str) -> str | None:
    return next(filter(None, (_name_problem(part) for part in path.split("/"))), None)


def _aptrust_plan(
    source: SourceBag, profile: Profile, extra: Profile | None
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]:
    """(aptrust-info.txt, payload manifest algorithms, tag manifest algorithms), planned
    by archiver.profiles as for any bag made to APTrust's profile: Title and Description
    from the Dublin Core, Access and Storage-Option from the source's bag-info (Access
    else Institution, Storage-Option else the profile's default); md5 and sha256, and the
    algorithms the --profile requires, which APTrust must allow."""
    tags = {(_APTRUST_INFO, _ACCESS): [source.bag_info_value(_ACCESS) or DEFAULT_ACCESS]}
    storage = source.bag_info_value(_STORAGE)
    if storage:
        tags[(_APTRUST_INFO, _STORAGE)] = [storage]
    asked = [*ALGORITHMS, *(extra.manifests_required if extra else ())]
    tag_asked = [*ALGORITHMS, *(extra.tag_manifests_required if extra else ())]
    try:
        built = plan_for_profile(
            profile,
            source.record,
            algorithms_=asked,
            tag_algorithms_=tag_asked,
            tags=tags,
            source="APTrust's profile",
        )
    except UsageError as exc:  # only the other profile's algorithms can be what is refused
        other = extra.identifier if extra else "another profile"
        raise ExportRefusedError(
            f"{source.root}: the profile {other} requires manifests APTrust cannot take: {exc}"
        ) from exc
    except MetadataError as exc:
        moved = {f"{_APTRUST_INFO}/{_ACCESS}", f"{_APTRUST_INFO}/{_STORAGE}"}
        whence = (
            " (the values of the bag's bag-info labels of those names)"
            if any(problem.field in moved for problem in exc.problems)
            else ""
        )
        raise ExportRefusedError(f"{source.root}: {exc}{whence}; nothing exported") from exc
    aptrust_info = dict(built.tag_files).get(_APTRUST_INFO, ())
    return aptrust_info, built.algorithms, built.tag_algorithms


def _bag_info(
    source: SourceBag, profile: Profile, extra: Profile | None, today: str
) -> tuple[tuple[str, str], ...]:
    # Values as the reader read them: a folded value keeps its line breaks (the writer folds
    # it again). An empty one cannot be written, so it is left out.
    skip = _RECOMPUTED | {_ACCESS.lower(), _STORAGE.lower()}
    items = [
        (label, value) for label, value in source.bag_info if label.lower() not in skip and value
    ]
    have = {label.lower() for label, _ in items}
    if "internal-sender-identifier" not in have:
        items.append(("Internal-Sender-Identifier", source.bag_id))
    description = source.bag_info_value("External-Description")
    if "internal-sender-description" not in have and description:
        items.append(("Internal-Sender-Description", description))
    items += [
        ("Bagging-Date", today),
        ("Bag-Software-Agent", AGENT),
        ("BagIt-Profile-Identifier", profile.identifier),
    ]
    if extra is not None and extra.identifier != profile.identifier:
        items.append(("BagIt-Profile-Identifier", extra.identifier))
    return tuple(items)


# -- writing -------------------------------------------------------------------------------


def write(source: SourceBag, target: Path, options: Options) -> None:
    """Write ``target`` (NAME.tar, in a staging folder): the bag, then the tar of it."""
    chosen = plan(source, target, options)
    tag_files = {_APTRUST_INFO: baginfo.format_bag_info(chosen.aptrust_info)}
    tag_files.update((name, source.metadata_file(name)) for name in source.metadata)
    work = Path(tempfile.mkdtemp(prefix=".aptrust-", dir=target.parent))
    try:
        bag = work / chosen.name
        try:
            write_bag(
                bag,
                (PayloadPart(item.path, source=source.file(item.path)) for item in source.payload),
                algorithms_=chosen.algorithms,
                bag_info=chosen.bag_info,
                tag_files=tag_files,
                tag_algorithms=chosen.tag_algorithms,
                expected={item.path: item.digests for item in source.payload},
                shown=f"the APTrust bag for {options.shown(target)}",
            )
        except ValueError as exc:  # a payload file differs from its manifests
            raise SourceError(f"{source.root}: {exc}; it changed since it was validated") from exc
        except hashing.SourceChangedError as exc:
            raise SourceError(f"{source.root}: {exc.filename or exc}: changed while read") from exc
        except OSError as exc:
            raise BagWriteError(
                f"cannot write the APTrust bag for {options.shown(target)}: {os_reason(exc)}"
            ) from exc
        try:
            write_tar(bag, chosen.name, target, int(chosen.moment.timestamp()))
        except OSError as exc:
            raise BagWriteError(f"cannot write {options.shown(target)}: {os_reason(exc)}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_tar(bag: Path, name: str, target: Path, mtime: int) -> None:
    """Tar ``bag`` as the single folder ``name`` at the new file ``target``, reproducibly
    (archives.write_archive: POSIX pax, tag files before data/, one mtime, owner 0:0
    without names, modes 0755 and 0644)."""
    archives.write_archive(bag, name, target, "tar", archives.Style(mtime=mtime))


# -- checking ------------------------------------------------------------------------------


def check(target: Path, source: SourceBag, options: Options) -> PackageCheck:
    """Unpack ``target`` safely and judge it: its tar layout, RFC 8493 (ours and bagit-python),
    APTrust's profile, the --profile, and agreement with the source bag. Finding paths are
    tar member names (NAME/..., the bag's folder first)."""
    chosen = plan(source, target, options)
    check = PackageCheck()
    size = target.stat().st_size
    check.rule(
        "export.aptrust.size",
        [finding("export.aptrust.size", "", "over APTrust's 5 TB limit", found=size)]
        if size > MAX_BYTES
        else [],
    )
    with tempfile.TemporaryDirectory(prefix=".aptrust-check-", dir=target.parent) as tmp:
        bag = unpack(target, chosen.name, Path(tmp), check)
        if bag is not None:
            inspection = _judge_bag(bag, chosen.name, options.profile, check)
            _judge_contents(bag, inspection, source, chosen, check)
    return check.verdict(target.name)


def unpack(tar_path: Path, name: str, into: Path, check: PackageCheck) -> Path | None:
    """Extract ``tar_path`` into ``into`` when every member is a plain file or folder under
    the one folder ``name``: that folder, or None (the reasons told to ``check``)."""
    try:
        with tarfile.open(tar_path, "r:", encoding="utf-8") as tar:
            members = tar.getmembers()
            layout = _layout_problems(members, name)
            held = [check.rule(code, layout.get(code, [])) for code in _LAYOUT_RULES]
            if not all(held):
                return None
            for member in members:
                path = into.joinpath(*member.name.split("/"))
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                data = tar.extractfile(member)
                assert data is not None  # a regular file: links were refused above
                with data, path.open("xb") as out:
                    shutil.copyfileobj(data, out)
    except (tarfile.TarError, OSError) as exc:
        check.rule(
            "export.aptrust.tar",
            [finding("export.aptrust.tar", "", f"cannot be read as an uncompressed tar: {exc}")],
        )
        return None
    root = into / name
    if not root.is_dir():
        check.rule(
            "export.aptrust.tar-folder",
            [finding("export.aptrust.tar-folder", name, "no such folder in the tar")],
        )
        return None
    return root


# The tar's rules, in the order they are judged.
_LAYOUT_RULES = ("export.aptrust.tar", "export.aptrust.tar-folder", "export.aptrust.file-name")


def _layout_problems(members: Sequence[tarfile.TarInfo], name: str) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}

    def add(code: str, member: str, message: str) -> None:
        found.setdefault(code, []).append(finding(code, member, message))

    seen: set[str] = set()
    for member in members:
        where = member.name
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
            add("export.aptrust.tar", where, "not a plain file or folder (a link or a device)")
        parts = member.name.split("/")
        if member.name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            add("export.aptrust.tar", where, "absolute, or with an empty, '.' or '..' segment")
        elif parts[0] != name:
            add(
                "export.aptrust.tar-folder",
                where,
                f"outside the folder {name}/, the tar's name without .tar",
            )
        elif (problem := _path_problem(member.name)) is not None:
            add("export.aptrust.file-name", where, f"a name that {problem}")
        if member.name in seen:
            add("export.aptrust.tar", where, "appears twice")
        seen.add(member.name)
    return found


def _judge_bag(bag: Path, name: str, extra: Profile | None, check: PackageCheck) -> Inspection:
    """RFC 8493 by archiver's validator (bagit-python's disagreement carried as its warning);
    APTrust's profile and the --profile by archiver.check.profile, their rules for packed
    bags on the tar. What the validator read, for the rest of the check."""
    inspection = inspect_bag(bag, reference=True)
    found = inspection.report.findings
    check.rule(
        "export.aptrust.bag", within(name, [f for f in found if f.severity is not Severity.INFO])
    )
    aptrust = packed_profile_findings(aptrust_profile(), bag, name, _TAR_TYPES)
    check.rule("export.aptrust.profile", aptrust)
    if extra is not None:
        check.rule("export.profile", packed_profile_findings(extra, bag, name, _TAR_TYPES))
    return inspection


def _judge_contents(
    bag: Path, inspection: Inspection, source: SourceBag, chosen: Plan, check: PackageCheck
) -> None:
    """The payload and metadata are the source's, bag-info and aptrust-info what was planned."""
    name = chosen.name
    wanted = {item.path: item for item in source.payload}
    files = payload_findings(
        bag, name, wanted, inspection.inventory.payload, inspection.payload_manifests
    )
    files += metadata_findings(bag, name, source, {path: path for path in source.metadata})
    check.rule("export.source.files", files)
    written = inspection.bag
    found = tuple((e.label, e.value) for e in written.bag_info if e.label != "Payload-Oxum")
    check.rule(
        "export.source.bag-info",
        []
        if found == chosen.bag_info
        else [
            finding(
                "export.source.bag-info",
                f"{name}/bag-info.txt",
                "not the source bag's labels and values with APTrust's own, as planned",
            )
        ],
    )
    # Read quietly: the profile's judgement has told any malformed line already.
    elements, _ = read_labelled(written, _APTRUST_INFO)
    aptrust_info = tuple((e.label, e.value) for e in elements)
    check.rule(
        "export.source.record",
        []
        if aptrust_info == chosen.aptrust_info
        else [
            finding(
                "export.source.record",
                f"{name}/{_APTRUST_INFO}",
                "not the title, description, access and storage option the source bag gives",
            )
        ],
    )
    if _first(chosen.bag_info, "Source-Organization") is None:
        check.rule(
            "export.aptrust.source-organization",
            [
                finding(
                    "export.aptrust.source-organization",
                    f"{name}/bag-info.txt",
                    "no Source-Organization (the source bag has none); APTrust only recommends "
                    "it, and sets the depositing institution's on restore",
                )
            ],
        )
    else:
        check.rule("export.aptrust.source-organization")


def _first(elements: Sequence[tuple[str, str]], label: str) -> str | None:
    return next((value for name, value in elements if name.lower() == label.lower()), None)


# -- the exporter --------------------------------------------------------------------------


class AptrustExporter:
    """archiver export --to aptrust: --out names the new NAME.tar."""

    name: str = "aptrust"
    creates: Literal["folder", "file", "root"] = "file"

    def write(self, source: SourceBag, target: Path, options: Options) -> None:
        write(source, target, options)

    def check(self, target: Path, source: SourceBag, options: Options) -> PackageCheck:
        return check(target, source, options)


EXPORTER = AptrustExporter()
