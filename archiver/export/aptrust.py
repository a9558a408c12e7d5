"""APTrust: an archiver bag -> the tarred bag APTrust's ingest (and DART) accepts.

``--out NAME.tar`` unpacks to the single folder NAME, as APTrust requires; APTrust's naming
convention for NAME is ``<institution>.<bag name>`` (``example.edu.giant-step``), which is
the depositor's to choose: ingest takes the institution from the receiving bucket.

    NAME/bagit.txt            BagIt-Version 1.0 (APTrust accepts 0.97 and 1.0)
    NAME/bag-info.txt         the source bag's labels in their order (Source-Organization,
                              Bag-Count, Bag-Group-Identifier... as they are), less those
                              recomputed here; then Internal-Sender-Identifier and -Description
                              when the source has none (its identifier, its
                              External-Description); Bagging-Date, Bag-Software-Agent,
                              BagIt-Profile-Identifier (APTrust's, then the --profile's),
                              Payload-Oxum
    NAME/aptrust-info.txt     Title, Description, Access, Storage-Option
    NAME/manifest-md5.txt, manifest-sha256.txt, tagmanifest-md5.txt, tagmanifest-sha256.txt
    NAME/data/...             the source payload, byte for byte (digests checked on the way)
    NAME/metadata/...         the source's dc.xml, mets.xml and premis.xml, byte for byte

The metadata stays a tag folder, as in the source bag: APTrust allows any tag file
("tagFilesAllowed": ["*"]), in folders too, preserves and restores every tag file but
bagit.txt, and checks them against the tag manifests. Kept there, the payload is exactly the
source's (same files, same Payload-Oxum) and the METS and PREMIS paths (``data/...``, from
the bag's top) still point at the files they describe.

aptrust-info.txt: Title is the first dc:title (required: a bag without one is refused);
Description the first dc:description, when there is one; Access and Storage-Option come from
the source's bag-info labels of the same names (moved, not copied), else Institution (every
user at the depositing institution sees the object's metadata; Consortia is deprecated and
means the same) and the profile's default, Standard. Values are written on one line, their
whitespace runs made single spaces. Source-Organization is copied when the source has it;
APTrust only recommends it ("required": false in its profile; restores set it to the
depositing institution), so a bag without one is exported without one.

check() opens the tar (uncompressed, every member a plain file or folder under NAME/, no
absolute path, '..' or duplicate), unpacks it into a temporary folder, and judges the bag:
RFC 8493 by archiver's validator and by LoC bagit-python, APTrust's profile rule by rule,
the --profile, and the payload, metadata and aptrust-info against the source bag.

The rules come from APTrust's own profile, schemas/bagit-profiles/aptrust-v2.3.dart-format.json,
in DART's JSON format. archiver.check.profile reads BagIt Profiles 1.4 documents only, so
this module reads DART's format (DartProfile) and judges an unpacked bag by it; a --profile
FILE may be in either format.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from archiver import resources
from archiver.bagit import algorithms, baginfo, hashing, manifest, paths
from archiver.bagit.reader import BAG_INFO_TXT, BAGIT_TXT, FETCH_TXT, Bag, read_bag, read_labelled
from archiver.bagit.writer import PayloadPart, write_bag
from archiver.check import profile as spec
from archiver.check.bag import Mode
from archiver.codes import Severity
from archiver.errors import BagWriteError, SchemaError, SourceError, UsageError
from archiver.export.base import ExportRefusedError, Options, PackageCheckError
from archiver.export.source import SourceBag, read_source
from archiver.validation import validate_bag
from archiver.version import AGENT

PROFILE_FILE = "bagit-profiles/aptrust-v2.3.dart-format.json"
ALGORITHMS = ("md5", "sha256")  # APTrust requires md5 and verifies sha256 when present
SERIALIZATION = "application/tar"
_TAR_TYPES = frozenset({SERIALIZATION, "application/x-tar"})
DEFAULT_ACCESS = "Institution"
MAX_BYTES = 5 * 10**12  # "Bags must be 5 terabytes or less in size."
MAX_NAME = 255  # characters in one file or folder name
_DIR_MODE, _FILE_MODE = 0o755, 0o644
# The source's bag-info labels this bag writes itself, or that would no longer be true.
_RECOMPUTED = frozenset(
    {"payload-oxum", "bagging-date", "bag-size", "bag-software-agent", "bagit-profile-identifier"}
)
_ACCESS, _STORAGE = "Access", "Storage-Option"
_APTRUST_INFO = "aptrust-info.txt"
_BAGIT_FILES = (BAGIT_TXT, BAG_INFO_TXT, FETCH_TXT)


# -- APTrust DART's profile format ---------------------------------------------------------


@dataclass(frozen=True)
class TagDefinition:
    """One tag a DART profile defines: the file it lives in and what its value may be."""

    tag_file: str
    name: str
    required: bool = False
    values: tuple[str, ...] = ()  # empty: any value
    default: str | None = None
    empty_ok: bool = True


@dataclass(frozen=True)
class DartProfile:
    """A BagIt profile in APTrust DART's JSON format (the keys APTrust's ingest enforces)."""

    name: str
    version: str
    identifier: str
    accept_bagit_versions: tuple[str, ...]
    accept_serialization: tuple[str, ...] = ()
    serialization: str = "optional"  # required | optional | forbidden
    allow_fetch: bool = True
    manifests_required: tuple[str, ...] = ()
    manifests_allowed: tuple[str, ...] = ()  # empty or "*": every algorithm
    tag_manifests_required: tuple[str, ...] = ()
    tag_manifests_allowed: tuple[str, ...] = ()
    tag_files_allowed: tuple[str, ...] = ()
    tags: tuple[TagDefinition, ...] = ()
    tar_dir_must_match_name: bool = False

    @property
    def title(self) -> str:
        """How check lines name it: "APTrust profile 2.3"."""
        return f"{self.name} profile {self.version}".strip()

    def tag(self, tag_file: str, name: str) -> TagDefinition | None:
        return next(
            (t for t in self.tags if t.tag_file == tag_file and t.name.lower() == name.lower()),
            None,
        )


def parse_dart_profile(document: object, source: str) -> DartProfile:
    """A DART-format profile; UsageError naming ``source`` and every problem at once."""
    if not isinstance(document, dict) or not isinstance(document.get("bagItProfileInfo"), dict):
        raise UsageError(f"{source}: not a DART BagIt profile (it has no bagItProfileInfo object)")
    problems: list[str] = []

    def strings(key: str, data: Mapping[str, Any] = document) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{key} must be a list of strings")
            return ()
        return tuple(value)

    def boolean(key: str, default: bool, data: Mapping[str, Any] = document) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            problems.append(f"{key} must be true or false")
            return default
        return value

    info = document["bagItProfileInfo"]
    identifier = info.get("bagItProfileIdentifier")
    if not isinstance(identifier, str) or not identifier:
        problems.append("bagItProfileInfo has no bagItProfileIdentifier")
        identifier = ""
    serialization = document.get("serialization", "optional")
    if serialization not in ("required", "optional", "forbidden"):
        problems.append("serialization must be 'required', 'optional' or 'forbidden'")
        serialization = "optional"
    tags = []
    raw_tags = document.get("tags", [])
    for number, raw in enumerate(raw_tags if isinstance(raw_tags, list) else [None], start=1):
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), str) and raw.get(k) for k in ("tagFile", "tagName")
        ):
            problems.append(f"tags entry {number} must be an object with tagFile and tagName")
            continue
        default = raw.get("defaultValue")
        tags.append(
            TagDefinition(
                raw["tagFile"],
                raw["tagName"],
                boolean("required", False, raw),
                strings("values", raw),
                default if isinstance(default, str) else None,
                boolean("emptyOk", True, raw),
            )
        )
    versions = strings("acceptBagItVersion")
    if not versions:
        problems.append("acceptBagItVersion must list at least one version")
    profile = DartProfile(
        name=str(document.get("name", "")),
        version=str(info.get("version", "")),
        identifier=identifier,
        accept_bagit_versions=versions,
        accept_serialization=strings("acceptSerialization"),
        serialization=serialization,
        allow_fetch=boolean("allowFetchTxt", True),
        manifests_required=strings("manifestsRequired"),
        manifests_allowed=strings("manifestsAllowed"),
        tag_manifests_required=strings("tagManifestsRequired"),
        tag_manifests_allowed=strings("tagManifestsAllowed"),
        tag_files_allowed=strings("tagFilesAllowed"),
        tags=tuple(tags),
        tar_dir_must_match_name=boolean("tarDirMustMatchName", False),
    )
    if problems:
        count = len(problems)
        raise UsageError(
            f"{source}: not a usable DART profile: {count} "
            f"{'problem' if count == 1 else 'problems'}: {'; '.join(problems)}"
        )
    return profile


@functools.cache
def aptrust_profile() -> DartProfile:
    """APTrust's ingest profile, as shipped in schemas/."""
    path = resources.schema_file(PROFILE_FILE)
    try:
        return parse_dart_profile(json.loads(path.read_bytes()), str(path))
    except (OSError, ValueError, UsageError) as exc:  # our own file broken: an installation fault
        raise SchemaError(f"cannot read APTrust's profile {path}: {exc}") from exc


Profile = DartProfile | spec.Profile


def load_any_profile(path: Path) -> Profile:
    """A --profile FILE: BagIt Profiles 1.4 or DART's format, told apart by their keys."""
    document = spec.read_profile_json(path)
    if isinstance(document, dict) and "bagItProfileInfo" in document:
        return parse_dart_profile(document, str(path))
    return spec.parse_profile(document, str(path))


def _anything_goes(allowed: Sequence[str]) -> bool:
    # DART (and APTrust's ingest): an empty allowed list, or one holding "*", allows all.
    return not allowed or "*" in allowed


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
    extra = load_any_profile(options.profile) if options.profile else None
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
            "APTrust refuses these file names (no control characters, no leading '-', at most "
            f"{MAX_NAME} characters): {'; '.join(problems)}"
        )
    titles = [t for t in map(_one_line, source.record.values("title")) if t]
    if not titles:
        raise ExportRefusedError(
            f"{source.root}: the bag has no title (dc:title), which APTrust requires as "
            "aptrust-info.txt Title; nothing exported"
        )
    aptrust_info = [("Title", titles[0])]
    descriptions = [d for d in map(_one_line, source.record.values("description")) if d]
    if descriptions:
        aptrust_info.append(("Description", descriptions[0]))
    for label, default in ((_ACCESS, DEFAULT_ACCESS), (_STORAGE, _default(profile, _STORAGE))):
        aptrust_info.append((label, _allowed_value(profile, source, label, default)))
    names, tag_names = _algorithms(profile, extra)
    moment = options.clock.now()
    bag_info = _bag_info(source, profile, extra, moment.date().isoformat())
    return Plan(name, bag_info, tuple(aptrust_info), names, tag_names, moment)


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
    """Why APTrust refuses a file or folder name (its documented naming rules), or None."""
    if not part:
        return "is empty"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in part):
        return "contains a control character"
    if part.startswith("-"):
        return "begins with '-'"
    if len(part) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    return None


def _path_problem(path: str) -> str | None:
    return next(filter(None, (_name_problem(part) for part in path.split("/"))), None)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _default(profile: DartProfile, label: str) -> str:
    definition = profile.tag(_APTRUST_INFO, label)
    if definition is None or definition.default is None:  # pragma: no cover - shipped profile
        raise SchemaError(f"APTrust's profile gives no default {label}")
    return definition.default


def _allowed_value(profile: DartProfile, source: SourceBag, label: str, default: str) -> str:
    """The source's bag-info value for an aptrust-info label, in the profile's spelling."""
    given = source.bag_info_value(label)
    if given is None:
        return default
    definition = profile.tag(_APTRUST_INFO, label)
    allowed = definition.values if definition else ()
    for value in allowed:
        if value.lower() == given.strip().lower():
            return value
    raise ExportRefusedError(
        f"{source.root}: bag-info {label} {given!r} is not one APTrust allows "
        f"({', '.join(allowed)})"
    )


def _bag_info(
    source: SourceBag, profile: DartProfile, extra: Profile | None, today: str
) -> tuple[tuple[str, str], ...]:
    skip = _RECOMPUTED | {_ACCESS.lower(), _STORAGE.lower()}
    items = [
        (label, text)
        for label, value in source.bag_info
        if label.lower() not in skip and (text := _one_line(value))
    ]
    have = {label.lower() for label, _ in items}
    if "internal-sender-identifier" not in have:
        items.append(("Internal-Sender-Identifier", source.bag_id))
    description = source.bag_info_value("External-Description")
    if "internal-sender-description" not in have and description and _one_line(description):
        items.append(("Internal-Sender-Description", _one_line(description)))
    items += [
        ("Bagging-Date", today),
        ("Bag-Software-Agent", AGENT),
        ("BagIt-Profile-Identifier", profile.identifier),
    ]
    if extra is not None and extra.identifier != profile.identifier:
        items.append(("BagIt-Profile-Identifier", extra.identifier))
    return tuple(items)


def _algorithms(
    profile: DartProfile, extra: Profile | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """md5 and sha256, and whatever the --profile also requires (when APTrust allows it)."""
    payload, tags = list(ALGORITHMS), list(ALGORITHMS)
    if extra is None:
        return tuple(payload), tuple(tags)
    for wanted, chosen, allowed, kind in (
        (extra.manifests_required, payload, profile.manifests_allowed, "manifests"),
        (extra.tag_manifests_required, tags, profile.tag_manifests_allowed, "tag manifests"),
    ):
        for raw in wanted:
            name = algorithms.normalise(raw)
            permitted = _anything_goes(allowed) or name in map(algorithms.normalise, allowed)
            if not algorithms.is_supported(name):
                raise ExportRefusedError(
                    f"the profile {extra.identifier} requires {raw} {kind}, which archiver "
                    "cannot compute"
                )
            if not permitted:
                raise ExportRefusedError(
                    f"the profile {extra.identifier} requires {raw} {kind}, which APTrust "
                    "does not allow"
                )
            if name not in chosen:
                chosen.append(name)
    return tuple(payload), tuple(tags)


# -- writing -------------------------------------------------------------------------------


def write(source: SourceBag, target: Path, options: Options) -> None:
    """Write ``target`` (NAME.tar, in a staging folder): the bag, then the tar of it."""
    chosen = plan(source, target, options)
    tag_files = {_APTRUST_INFO: baginfo.format_bag_info(chosen.aptrust_info)}
    tag_files.update(_metadata_files(source))
    work = Path(tempfile.mkdtemp(prefix=".aptrust-", dir=target.parent))
    try:
        bag = work / chosen.name
        try:
            write_bag(
                bag,
                (PayloadPart(item.path, source=source.root / item.path) for item in source.payload),
                algorithms_=chosen.algorithms,
                bag_info=chosen.bag_info,
                tag_files=tag_files,
                tag_algorithms=chosen.tag_algorithms,
                expected={item.path: item.digests for item in source.payload},
            )
        except ValueError as exc:  # a payload file differs from its manifests
            raise SourceError(f"{source.root}: {exc}; it changed since it was validated") from exc
        except hashing.SourceChangedError as exc:
            raise SourceError(f"{source.root}: {exc.filename or exc}: changed while read") from exc
        except OSError as exc:
            raise BagWriteError(f"cannot write the APTrust bag: {exc}") from exc
        try:
            write_tar(bag, chosen.name, target, int(chosen.moment.timestamp()))
        except OSError as exc:
            raise BagWriteError(f"cannot write {target.name}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _metadata_files(source: SourceBag) -> dict[str, bytes]:
    """The source's metadata files, each checked against the source's tag manifests."""
    promised = source.tag_digests
    files: dict[str, bytes] = {}
    for name, path in sorted(source.metadata.items()):
        try:
            data = source.read(name)
        except OSError as exc:
            raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        for algorithm, want in sorted(promised.get(name, {}).items()):
            found = algorithms.new(algorithm)
            found.update(data)
            if found.hexdigest() != want:
                raise SourceError(
                    f"{path}: {algorithm} is {found.hexdigest()}, its bag said {want}; "
                    "it changed since it was validated"
                )
        files[name] = data
    return files


def write_tar(bag: Path, name: str, target: Path, mtime: int) -> None:
    """Tar ``bag`` as the single folder ``name`` at the new file ``target``, reproducibly:
    POSIX pax format, members sorted by path, one mtime, owner 0:0 without names, modes
    0755 for folders and 0644 for files."""
    written = read_bag(bag, manifests=False, fetch_txt=False)
    inventory = written.inventory
    files = {**inventory.payload, **inventory.tags}
    members = sorted([*inventory.directories, *files], key=paths.sort_key)
    with tarfile.open(target, "x", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        tar.addfile(_member(name, None, mtime))
        for rel in members:
            if rel not in files:
                tar.addfile(_member(f"{name}/{rel}", None, mtime))
                continue
            with written.open(rel) as handle:
                tar.addfile(_member(f"{name}/{rel}", files[rel], mtime), handle)


def _member(name: str, size: int | None, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if size is None else tarfile.REGTYPE
    info.mode = _DIR_MODE if size is None else _FILE_MODE
    info.size = size or 0
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# -- checking ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The rules judged so far: lines that held, and every rule broken."""

    held: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def rule(self, held: str, problems: Iterable[str]) -> None:
        found = list(problems)
        if found:
            self.broken += found
        else:
            self.held.append(held)


def check(target: Path, source: SourceBag, options: Options) -> list[str]:
    """Unpack ``target`` safely and judge it: its tar layout, RFC 8493 (ours and bagit-python),
    APTrust's profile, the --profile, and agreement with the source bag."""
    chosen = plan(source, target, options)
    extra = load_any_profile(options.profile) if options.profile else None
    verdict = Verdict()
    size = target.stat().st_size
    verdict.rule(
        f"{target.name}: {size} bytes, within APTrust's 5 TB limit",
        [f"{target.name}: {size} bytes, over APTrust's 5 TB limit"] if size > MAX_BYTES else [],
    )
    with tempfile.TemporaryDirectory(prefix=".aptrust-check-", dir=target.parent) as tmp:
        bag = unpack(target, chosen.name, Path(tmp), verdict)
        if bag is not None:
            _judge_bagit(bag, extra, verdict)
            judge_dart(aptrust_profile(), bag, verdict)
            if isinstance(extra, DartProfile):
                judge_dart(extra, bag, verdict)
            _judge_contents(bag, source, chosen, verdict)
    if verdict.broken:
        count = len(verdict.broken)
        raise PackageCheckError(
            f"{target.name}: {count} {_plural(count, 'rule')} broken: " + "; ".join(verdict.broken)
        )
    return verdict.held


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def unpack(tar_path: Path, name: str, into: Path, verdict: Verdict) -> Path | None:
    """Extract ``tar_path`` into ``into`` when every member is a plain file or folder under
    the one folder ``name``: that folder, or None (the reasons told to ``verdict``)."""
    try:
        with tarfile.open(tar_path, "r:", encoding="utf-8") as tar:
            members = tar.getmembers()
            problems = list(_layout_problems(members, name))
            verdict.rule(
                f"{tar_path.name}: an uncompressed tar of {len(members)} plain files and "
                f"folders, all under {name}/ (its own name without .tar); no absolute path, "
                "'..', link or name APTrust refuses",
                problems,
            )
            if problems:
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
        verdict.broken.append(f"{tar_path.name} cannot be read as an uncompressed tar: {exc}")
        return None
    root = into / name
    if not root.is_dir():
        verdict.broken.append(f"{tar_path.name} holds no folder {name}/")
        return None
    return root


def _layout_problems(members: Sequence[tarfile.TarInfo], name: str) -> Iterable[str]:
    seen: set[str] = set()
    for member in members:
        where = f"tar member {member.name!r}"
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
            yield f"{where} is not a plain file or folder (a link or a device)"
        parts = member.name.split("/")
        if member.name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            yield f"{where} is absolute or has an empty, '.' or '..' segment"
        elif parts[0] != name:
            yield f"{where} is outside the folder {name}/"
        elif (problem := _path_problem(member.name)) is not None:
            yield f"{where} has a name that {problem}"
        if member.name in seen:
            yield f"{where} appears twice"
        seen.add(member.name)


def _judge_bagit(bag: Path, extra: Profile | None, verdict: Verdict) -> None:
    """RFC 8493 by archiver's validator and by LoC bagit-python; a BagIt Profiles 1.4 --profile
    by archiver.check.profile."""
    report = validate_bag(bag, reference=True)
    verdict.rule(
        "the unpacked bag is valid BagIt 1.0 (RFC 8493) to archiver's validator, every "
        "checksum verified, and to LoC bagit-python",
        [
            f"{f.path or 'bag'}: {f.code}: {f.message}"
            for f in report.findings
            if f.severity is Severity.ERROR
            or f.code in ("reference.disagrees", "reference.failed", "reference.skipped")
        ],
    )
    if isinstance(extra, spec.Profile):
        verdict.rule(f"{extra.identifier}: accepts a tar", _serialization_problems(extra))
        # Judged unpacked, the bag would break its Serialization rule: that was judged above.
        unpacked = replace(extra, serialization=spec.Serialization.OPTIONAL)
        # Profile rules read names, sizes and bag-info, never checksums: a fast pass will do.
        by_profile = validate_bag(bag, mode=Mode.FAST, profile=unpacked)
        verdict.rule(
            f"{extra.identifier}: the bag meets this profile",
            [
                f"{f.path or 'bag'}: {f.code}: {f.message}"
                for f in by_profile.findings
                if f.severity is Severity.ERROR and f.code.startswith("profile")
            ],
        )


def _serialization_problems(profile: spec.Profile) -> list[str]:
    if profile.serialization is spec.Serialization.FORBIDDEN:
        return [f"{profile.identifier}: forbids serialized bags; this is a tar"]
    if profile.accept_serialization and not _TAR_TYPES & set(profile.accept_serialization):
        accepted = ", ".join(profile.accept_serialization)
        return [f"{profile.identifier}: accepts {accepted}, not {SERIALIZATION}"]
    return []


def judge_dart(profile: DartProfile, bag: Path, verdict: Verdict) -> None:
    """Judge an unpacked bag (that was a tar) by a DART-format profile, rule by rule."""
    who = profile.title
    unpacked = read_bag(bag)
    tags = {
        name: _tag_elements(unpacked, name, verdict)
        for name in sorted({t.tag_file for t in profile.tags})
    }
    version = _first(tags.get(BAGIT_TXT), "BagIt-Version")
    verdict.rule(
        f"{who}: BagIt-Version {version} is one it accepts",
        []
        if version in profile.accept_bagit_versions
        else [f"{who}: BagIt-Version {version} is not one of {profile.accept_bagit_versions}"],
    )
    wrong_form = (
        ["forbids serialized bags; this is a tar"] if profile.serialization == "forbidden" else []
    )
    if profile.accept_serialization and not _TAR_TYPES & set(profile.accept_serialization):
        wrong_form.append(f"accepts {', '.join(profile.accept_serialization)}, not a tar")
    verdict.rule(
        f"{who}: a tar ({SERIALIZATION}), no fetch.txt",
        [f"{who}: {p}" for p in wrong_form]
        + ([f"{who}: forbids fetch.txt"] if unpacked.has_fetch and not profile.allow_fetch else []),
    )
    for tag, required, allowed in (
        (False, profile.manifests_required, profile.manifests_allowed),
        (True, profile.tag_manifests_required, profile.tag_manifests_allowed),
    ):
        kind = "tag manifests" if tag else "manifests"
        present = [m.algorithm for m in unpacked.manifests if m.tag is tag]
        have = {algorithms.normalise(n) for n in present}
        problems = [
            f"{who}: requires {n} {kind}" for n in required if algorithms.normalise(n) not in have
        ]
        if not _anything_goes(allowed):
            permitted = {algorithms.normalise(n) for n in allowed}
            problems += [
                f"{who}: does not allow {n} {kind}"
                for n in present
                if algorithms.normalise(n) not in permitted
            ]
        verdict.rule(f"{who}: {kind} {', '.join(present)}, as it requires and allows", problems)
    loose = [p for p in sorted(unpacked.inventory.tags) if not _is_bagit_file(p)]
    if not _anything_goes(profile.tag_files_allowed):
        verdict.rule(
            f"{who}: tag files {', '.join(loose)} are ones it allows",
            [
                f"{who}: does not allow the tag file {p}"
                for p in loose
                if not any(fnmatch.fnmatchcase(p, pattern) for pattern in profile.tag_files_allowed)
            ],
        )
    for name, elements in tags.items():
        definitions = [t for t in profile.tags if t.tag_file == name]
        problems = [p for d in definitions for p in _tag_problems(d, elements or [])]
        present = [d.name for d in definitions if _values(elements or [], d.name)]
        verdict.rule(
            f"{who}: {name} {', '.join(present)} as its tag rules say",
            [f"{who}: {p}" for p in problems],
        )


def _first(elements: Sequence[tuple[str, str]] | None, label: str) -> str | None:
    return next(iter(_values(elements or [], label)), None)


def _values(elements: Sequence[tuple[str, str]], label: str) -> list[str]:
    return [value for name, value in elements if name.lower() == label.lower()]


def _tag_problems(definition: TagDefinition, elements: Sequence[tuple[str, str]]) -> list[str]:
    where = f"{definition.tag_file} {definition.name}"
    values = _values(elements, definition.name)
    problems = [f"requires {where}; there is none"] if definition.required and not values else []
    for value in values:
        if not value and not definition.empty_ok:
            problems.append(f"{where} must not be empty")
        elif definition.values and value not in definition.values:
            problems.append(f"{where} {value!r} is not one of {', '.join(definition.values)}")
    return problems


def _is_bagit_file(path: str) -> bool:
    return path in _BAGIT_FILES or bool(manifest.NAME.match(path))


def _tag_elements(bag: Bag, name: str, verdict: Verdict) -> list[tuple[str, str]] | None:
    """A tag file's ``Label: value`` elements, read by the bag reader in the bag's declared
    encoding; None when it is not in the bag."""
    if name == BAGIT_TXT:
        return [
            ("BagIt-Version", bag.declaration.version_text),
            ("Tag-File-Character-Encoding", bag.declaration.encoding),
        ]
    if name not in bag.inventory.tags:
        return None
    if name == bag.bag_info_file:
        elements, problems = list(bag.bag_info), [p for p in bag.problems if p.path == name]
    else:
        elements, problems = read_labelled(bag, name)
    verdict.broken += [f"{name}: {p.message}" for p in problems]
    return [(e.label, e.value) for e in elements]


def _judge_contents(bag: Path, source: SourceBag, chosen: Plan, verdict: Verdict) -> None:
    """The payload and metadata are the source's, and aptrust-info says what was planned."""
    theirs = {item.path: item.digests for item in source.payload}
    ours = {item.path: item.digests for item in read_source(bag).payload}
    problems = [
        f"{p}: in the source bag, not in the package" for p in sorted(theirs.keys() - ours.keys())
    ]
    problems += [
        f"{p}: in the package, not in the source bag" for p in sorted(ours.keys() - theirs.keys())
    ]
    for path in sorted(theirs.keys() & ours.keys()):
        problems += _differences(bag, path, theirs[path], ours[path])
    count = len(theirs)
    verdict.rule(
        f"payload: the source bag's {count} {_plural(count, 'file')}, byte for byte", problems
    )
    if source.metadata:
        verdict.rule(
            f"{', '.join(sorted(source.metadata))}: the source bag's, byte for byte, as tag files",
            [
                f"{name}: not the source bag's file"
                for name, original in sorted(source.metadata.items())
                if not (bag / name).is_file() or (bag / name).read_bytes() != original.read_bytes()
            ],
        )
    # Read quietly: judge_dart has told any malformed line already.
    written = tuple(_tag_elements(read_bag(bag), _APTRUST_INFO, Verdict()) or ())
    shown = ", ".join(f"{k} {v!r}" for k, v in chosen.aptrust_info if k != "Description")
    verdict.rule(
        f"{_APTRUST_INFO}: {shown}"
        + (", a Description" if _first(chosen.aptrust_info, "Description") else "")
        + ", from the source bag",
        []
        if written == chosen.aptrust_info
        else [f"{_APTRUST_INFO} says {list(written)}, not {list(chosen.aptrust_info)}"],
    )
    organisation = _first(chosen.bag_info, "Source-Organization")
    verdict.held.append(
        f"bag-info.txt: Source-Organization {organisation!r}, the source bag's"
        if organisation
        else "bag-info.txt: no Source-Organization (the source bag has none; APTrust only "
        "recommends it, and sets it to the depositing institution on restore)"
    )


def _differences(
    bag: Path, path: str, theirs: Mapping[str, str], ours: Mapping[str, str]
) -> list[str]:
    common = sorted(theirs.keys() & ours.keys())
    if not common:  # the source's manifests use other algorithms: digest the copy in one
        common = [n for n in sorted(theirs) if algorithms.is_supported(n)][:1]
        if not common:
            return [f"{path}: the source's digests use no algorithm archiver computes"]
        ours = hashing.digest_file(bag / path, common).digests
    return [
        f"{path}: {name} {ours[name]}, the source bag's is {theirs[name]}"
        for name in common
        if ours[name] != theirs[name].lower()
    ]


# -- the exporter --------------------------------------------------------------------------


class AptrustExporter:
    """archiver export --to aptrust: --out names the new NAME.tar."""

    name: str = "aptrust"
    creates: Literal["folder", "file", "root"] = "file"

    def write(self, source: SourceBag, target: Path, options: Options) -> None:
        write(source, target, options)

    def check(self, target: Path, source: SourceBag, options: Options) -> list[str]:
        return check(target, source, options)


EXPORTER = AptrustExporter()
