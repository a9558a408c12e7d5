"""BagIt profiles: a profile document -> Profile; an inspected bag -> profile findings.

This module owns what a profile says and how a bag is judged by it. Two formats are read
into the one model: BagIt Profiles 1.4, and APTrust DART's JSON format (its "tags" also
constrain tag files other than bag-info.txt, such as APTrust's aptrust-info.txt).
``load_profile`` tells them apart by their identification object.

Reading is lenient where a format gives a default (Allow-Fetch.txt true, repeatable true,
the allowed-file lists ``['*']``; in DART an empty or ``*`` list allows anything) and strict
where it requires something (the profile's own identification, the accepted BagIt
versions, a Required list inside its Allowed list): a file that is not a usable profile is
refused with every problem named at once (UsageError), since no bag can be judged by it.
Judging reads nothing of the bag but other tag files a profile's tags constrain (through
the bag reader, ``read_labelled``): everything else a profile constrains (file names and
sizes, bag-info, manifest algorithms, fetch.txt) is in the Inspection that the RFC 8493
checks produced, and every broken rule is a finding, not only the first.
"""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from archiver import jsontext, layout, resources
from archiver.bagit import algorithms, baginfo, manifest
from archiver.bagit.archives import ArchiveFiles
from archiver.bagit.names import BAG_INFO_TXT, BAGIT_TXT, FETCH_TXT, PACKAGE_INFO_TXT
from archiver.bagit.reader import read_labelled
from archiver.check.bag import Inspection
from archiver.errors import SchemaError, UsageError
from archiver.findings import BagReport, Finding, finding
from archiver.given import MiB, read_limited

# BagIt-Profile-Version is required only since 1.2.0; "any profile not explicitly defining
# BagIt-Profile-Version should be treated as conforming to version 1.1.0".
_UNVERSIONED = "1.1.0"
_INFO_REQUIRED = (
    "BagIt-Profile-Identifier",
    "Source-Organization",
    "External-Description",
    "Version",
)
_INFO_OPTIONAL = ("BagIt-Profile-Version", "Contact-Name", "Contact-Phone", "Contact-Email")
_KEYS = frozenset(
    {
        "BagIt-Profile-Info",
        "Bag-Info",
        "Manifests-Required",
        "Manifests-Allowed",
        "Allow-Fetch.txt",
        "Fetch.txt-Required",
        "Data-Empty",
        "Serialization",
        "Accept-Serialization",
        "Accept-BagIt-Version",
        "Tag-Manifests-Required",
        "Tag-Manifests-Allowed",
        "Tag-Files-Required",
        "Tag-Files-Allowed",
        "Payload-Files-Required",
        "Payload-Files-Allowed",
    }
)
_TAG_PARAMETERS = frozenset({"required", "values", "repeatable", "description"})
_EVERYTHING = ("*",)  # the default of both allowed-file lists: "all files are allowed"

# APTrust DART's format (DART's bagit/bagit_profile.js and tag_definition.js): the keys read
# into the model, and those that only serve DART's own user interface and storage.
_DART_KEYS = frozenset(
    {
        "bagItProfileInfo",
        "acceptBagItVersion",
        "acceptSerialization",
        "allowFetchTxt",
        "manifestsRequired",
        "manifestsAllowed",
        "tagManifestsRequired",
        "tagManifestsAllowed",
        "tagFilesAllowed",
        "tagFilesRequired",
        "tags",
        "serialization",
        "tarDirMustMatchName",
    }
)
_DART_BOOKKEEPING = frozenset(
    {"id", "name", "description", "userCanDelete", "required", "errors", "baseProfileId"}
    | {"isBuiltIn"}
)
_DART_TAG_KEYS = frozenset(
    {"tagFile", "tagName", "required", "values", "defaultValue", "emptyOk", "help"}
)
_DART_TAG_BOOKKEEPING = frozenset(
    {"id", "userValue", "isBuiltIn", "isUserAddedFile", "isUserAddedTag", "wasAddedForJob"}
    | {"errors"}
)


class Serialization(StrEnum):
    FORBIDDEN = "forbidden"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class TagRule:
    """One tag a profile defines: its label, the tag file it lives in, what it may hold.

    BagIt Profiles 1.4 defines tags of bag-info.txt only (Bag-Info); DART's ``tags`` name
    their file, and add ``emptyOk`` and a ``defaultValue`` (what a bag maker writes when
    told nothing else; never judged).
    """

    label: str
    required: bool = False
    values: tuple[str, ...] = ()  # empty: any value
    repeatable: bool = True
    description: str = ""
    tag_file: str = BAG_INFO_TXT
    empty_ok: bool = True
    default: str | None = None


@dataclass(frozen=True)
class Profile:
    """A BagIt profile, its defaults filled in, ready to judge bags by."""

    identifier: str
    version: str  # the profile's own Version
    spec_version: str  # BagIt-Profile-Version: the specification it follows ("" for DART's)
    accept_bagit_versions: tuple[str, ...]
    tags: tuple[TagRule, ...] = ()
    manifests_required: tuple[str, ...] = ()
    manifests_allowed: tuple[str, ...] | None = None  # None: every algorithm is allowed
    tag_manifests_required: tuple[str, ...] = ()
    tag_manifests_allowed: tuple[str, ...] | None = None
    allow_fetch: bool = True
    fetch_required: bool = False
    data_empty: bool = False
    serialization: Serialization = Serialization.OPTIONAL
    accept_serialization: tuple[str, ...] = ()
    tag_files_required: tuple[str, ...] = ()
    tag_files_allowed: tuple[str, ...] = _EVERYTHING
    payload_files_required: tuple[str, ...] = ()
    payload_files_allowed: tuple[str, ...] = _EVERYTHING
    # A serialized bag must unpack to a folder named as its file (DART's tarDirMustMatchName);
    # only a packed bag can be judged by it.
    tar_dir_must_match_name: bool = False
    # BagIt Profiles 1.4: conforming bags MUST name their profile. DART's format asks no
    # such thing (APTrust's ingest does not look for it).
    identifier_required: bool = True
    # keys outside the format (extensions): read past, never enforced
    unchecked: tuple[str, ...] = ()

    @property
    def bag_info(self) -> tuple[TagRule, ...]:
        """The rules for bag-info.txt's tags (BagIt Profiles 1.4's Bag-Info)."""
        return tuple(rule for rule in self.tags if rule.tag_file == BAG_INFO_TXT)

    def tag(self, tag_file: str, label: str) -> TagRule | None:
        """The rule for ``label`` in ``tag_file`` (labels compare ignoring case), or None."""
        wanted = label.lower()
        return next(
            (r for r in self.tags if r.tag_file == tag_file and r.label.lower() == wanted), None
        )


# -- reading a profile -------------------------------------------------------------------


MAX_PROFILE_BYTES = 16 * MiB  # the largest profiles in use are some tens of KiB


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """The profile in the JSON file at ``path``, BagIt Profiles 1.4 or DART's format;
    UsageError naming the file and every problem."""
    return parse_profile(_read_json(Path(path)), os.fspath(path))


def _read_json(path: Path) -> object:
    """The JSON document in a profile file; UsageError naming the file when it is not one."""
    try:
        data = read_limited(path, MAX_PROFILE_BYTES)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the profile: {exc.strerror or exc}") from exc
    try:
        document: object = jsontext.loads(data.decode("utf-8-sig"))  # RFC 8259 §8.1: UTF-8
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not JSON: not UTF-8 (byte offset {exc.start})") from exc
    except jsontext.JSONTextError as exc:
        where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
        raise UsageError(f"{path}: not JSON: {exc.reason}{where}") from exc
    return document


def parse_profile(document: object, source: str) -> Profile:
    """A parsed JSON document as a Profile, told apart by its identification object
    (BagIt Profiles 1.4's BagIt-Profile-Info, DART's bagItProfileInfo); UsageError naming
    ``source`` and every problem."""
    read: _Reader | _DartReader
    if isinstance(document, dict) and isinstance(document.get("BagIt-Profile-Info"), dict):
        read, form = _Reader(document), "BagIt profile"
    elif isinstance(document, dict) and isinstance(document.get("bagItProfileInfo"), dict):
        read, form = _DartReader(document), "DART profile"
    else:
        raise UsageError(
            f"{source}: not a BagIt profile (it has neither a BagIt-Profile-Info object, as "
            "BagIt Profiles 1.4 documents have, nor DART's bagItProfileInfo)"
        )
    profile = read.profile()
    _check_consistency(profile, read.problems)
    if read.problems:
        count = len(read.problems)
        noun = "problem" if count == 1 else "problems"
        raise UsageError(
            f"{source}: not a usable {form}: {count} {noun}: {'; '.join(read.problems)}"
        )
    return profile


class _Document:
    """A profile document read field by field: a problem (not an exception) for each value
    of the wrong shape, so all are told at once."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.problems: list[str] = []
        self.unchecked: list[str] = []

    def strings(
        self, key: str, data: Mapping[str, Any] | None = None, where: str = ""
    ) -> tuple[str, ...] | None:
        """A list of strings: None when absent (or malformed, which is also a problem)."""
        data = self.document if data is None else data
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problems.append(f"{where}{key} must be a list of strings")
            return None
        return tuple(value)

    def boolean(
        self, key: str, *, default: bool, data: Mapping[str, Any] | None = None, where: str = ""
    ) -> bool:
        value = (self.document if data is None else data).get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{where}{key} must be true or false")
            return default
        return value

    def serialization(self, key: str) -> Serialization:
        value = self.document.get(key, Serialization.OPTIONAL.value)
        try:
            return Serialization(value)
        except ValueError:
            self.problems.append(f"{key} must be 'forbidden', 'required' or 'optional'")
            return Serialization.OPTIONAL


class _Reader(_Document):
    """A BagIt Profiles 1.4 document: a default where the specification gives one."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        super().__init__(document)
        self.unchecked = sorted(key for key in document if key not in _KEYS)

    def profile(self) -> Profile:
        info = self._info()
        return Profile(
            identifier=info["BagIt-Profile-Identifier"],
            version=info["Version"],
            spec_version=info.get("BagIt-Profile-Version", _UNVERSIONED),
            accept_bagit_versions=self._accepted_versions(),
            tags=self._bag_info(),
            manifests_required=self.strings("Manifests-Required") or (),
            manifests_allowed=self.strings("Manifests-Allowed"),
            tag_manifests_required=self.strings("Tag-Manifests-Required") or (),
            tag_manifests_allowed=self.strings("Tag-Manifests-Allowed"),
            allow_fetch=self.boolean("Allow-Fetch.txt", default=True),
            fetch_required=self.boolean("Fetch.txt-Required", default=False),
            data_empty=self.boolean("Data-Empty", default=False),
            serialization=self.serialization("Serialization"),
            accept_serialization=self.strings("Accept-Serialization") or (),
            tag_files_required=self._tag_files_required(),
            tag_files_allowed=self.strings("Tag-Files-Allowed") or _EVERYTHING,
            payload_files_required=self.strings("Payload-Files-Required") or (),
            payload_files_allowed=self.strings("Payload-Files-Allowed") or _EVERYTHING,
            unchecked=tuple(self.unchecked),
        )

    def _info(self) -> dict[str, str]:
        info = self.document["BagIt-Profile-Info"]
        found: dict[str, str] = {}
        for tag in (*_INFO_REQUIRED, *_INFO_OPTIONAL):
            value = info.get(tag)
            if value is None:
                if tag in _INFO_REQUIRED:
                    self.problems.append(f"BagIt-Profile-Info has no {tag}")
                    found[tag] = ""
            elif not isinstance(value, str) or not value.strip():
                self.problems.append(f"BagIt-Profile-Info {tag} must be a non-empty string")
                found[tag] = ""
            else:
                found[tag] = value
        return found

    def _accepted_versions(self) -> tuple[str, ...]:
        # Required by the specification ("At least one version is required"): a profile
        # without it accepts no bag at all.
        versions = self.strings("Accept-BagIt-Version")
        if "Accept-BagIt-Version" not in self.document:
            self.problems.append("Accept-BagIt-Version is missing")
        elif versions == ():
            self.problems.append("Accept-BagIt-Version must list at least one version")
        return versions or ()

    def _bag_info(self) -> tuple[TagRule, ...]:
        section = self.document.get("Bag-Info", {})
        if not isinstance(section, dict):
            self.problems.append("Bag-Info must be an object of tag definitions")
            return ()
        rules = []
        for label, definition in section.items():
            if not isinstance(definition, dict):
                self.problems.append(f"Bag-Info {label} must be an object")
                continue
            rules.append(self._tag_rule(label, definition))
        return tuple(rules)

    def _tag_rule(self, label: str, definition: Mapping[str, Any]) -> TagRule:
        where = f"Bag-Info {label}"
        self.unchecked += [f"{where} {key}" for key in definition if key not in _TAG_PARAMETERS]
        required = definition.get("required", False)
        repeatable = definition.get("repeatable", True)
        values = definition.get("values", [])
        description = definition.get("description", "")
        if not isinstance(required, bool):
            self.problems.append(f"{where} required must be true or false")
            required = False
        if not isinstance(repeatable, bool):
            self.problems.append(f"{where} repeatable must be true or false")
            repeatable = True
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.problems.append(f"{where} values must be a list of strings")
            values = []
        if not isinstance(description, str):
            self.problems.append(f"{where} description must be a string")
            description = ""
        return TagRule(label, required, tuple(values), repeatable, description)

    def _tag_files_required(self) -> tuple[str, ...]:
        value = self.document.get("Tag-Files-Required", [])
        if isinstance(value, dict):
            # APTrust DART's older form (e.g. the DPN profile): tag file -> tag definitions.
            # The files are required; their tag definitions are outside the specification.
            self.unchecked.append("Tag-Files-Required tag definitions")
            return tuple(str(name) for name in value)
        return self.strings("Tag-Files-Required") or ()


class _DartReader(_Document):
    """A profile in APTrust DART's format, converted into the model: its tags become tag
    rules of their files; an empty or ``*`` allowed list allows anything, as in DART."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        super().__init__(document)
        known = _DART_KEYS | _DART_BOOKKEEPING
        self.unchecked = sorted(key for key in document if key not in known)

    def profile(self) -> Profile:
        info = self.document["bagItProfileInfo"]
        identifier = info.get("bagItProfileIdentifier")
        if not isinstance(identifier, str) or not identifier.strip():
            self.problems.append("bagItProfileInfo has no bagItProfileIdentifier")
            identifier = ""
        versions = self.strings("acceptBagItVersion")
        if not versions:
            self.problems.append("acceptBagItVersion must list at least one version")
        tag_files_allowed = self.strings("tagFilesAllowed")
        return Profile(
            identifier=identifier,
            version=str(info.get("version") or ""),
            spec_version=str(info.get("bagItProfileVersion") or ""),
            accept_bagit_versions=versions or (),
            tags=self._tags(),
            manifests_required=self.strings("manifestsRequired") or (),
            manifests_allowed=_anything_or(self.strings("manifestsAllowed")),
            tag_manifests_required=self.strings("tagManifestsRequired") or (),
            tag_manifests_allowed=_anything_or(self.strings("tagManifestsAllowed")),
            allow_fetch=self.boolean("allowFetchTxt", default=True),
            serialization=self.serialization("serialization"),
            accept_serialization=self.strings("acceptSerialization") or (),
            tag_files_required=self.strings("tagFilesRequired") or (),
            tag_files_allowed=_anything_or(tag_files_allowed) or _EVERYTHING,
            tar_dir_must_match_name=self.boolean("tarDirMustMatchName", default=False),
            identifier_required=False,
            unchecked=tuple(self.unchecked),
        )

    def _tags(self) -> tuple[TagRule, ...]:
        raw = self.document.get("tags", [])
        if not isinstance(raw, list):
            self.problems.append("tags must be a list of tag definitions")
            return ()
        rules = []
        for number, definition in enumerate(raw, start=1):
            if not isinstance(definition, dict) or not all(
                isinstance(definition.get(k), str) and definition.get(k)
                for k in ("tagFile", "tagName")
            ):
                self.problems.append(
                    f"tags entry {number} must be an object with tagFile and tagName"
                )
                continue
            where = f"tags {definition['tagFile']} {definition['tagName']}"
            known = _DART_TAG_KEYS | _DART_TAG_BOOKKEEPING
            self.unchecked += [f"{where} {key}" for key in definition if key not in known]
            default = definition.get("defaultValue")
            help_text = definition.get("help")
            rules.append(
                TagRule(
                    label=definition["tagName"],
                    required=self.boolean(
                        "required", default=False, data=definition, where=f"{where} "
                    ),
                    values=self.strings("values", definition, where=f"{where} ") or (),
                    description=help_text if isinstance(help_text, str) else "",
                    tag_file=definition["tagFile"],
                    empty_ok=self.boolean(
                        "emptyOk", default=True, data=definition, where=f"{where} "
                    ),
                    default=default if isinstance(default, str) else None,
                )
            )
        return tuple(rules)


def _anything_or(allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """DART's allowed lists: empty, absent or holding "*" allow anything (None)."""
    if not allowed or "*" in allowed:
        return None
    return allowed


def _check_consistency(profile: Profile, problems: list[str]) -> None:
    """The specification's rules on the profile itself: a Required entry outside its Allowed
    list would make every bag fail, so such a profile is refused."""
    for key, required, allowed in (
        ("Manifests", profile.manifests_required, profile.manifests_allowed),
        ("Tag-Manifests", profile.tag_manifests_required, profile.tag_manifests_allowed),
    ):
        if allowed is not None:
            permitted = {algorithms.normalise(name) for name in allowed}
            for name in required:
                if algorithms.normalise(name) not in permitted:
                    problems.append(f"{key}-Required {name!r} is not in {key}-Allowed")
    uncovered = {
        "Tag-Files": [
            path
            for path in profile.tag_files_required
            if not (_is_bagit_tag_file(path) or _matches(path, profile.tag_files_allowed))
        ],
        "Payload-Files": [
            path
            for path in profile.payload_files_required
            if not _matches(path, profile.payload_files_allowed)
        ],
    }
    for key, paths in uncovered.items():
        problems += [f"{key}-Required {path!r} is not in {key}-Allowed" for path in paths]
    if profile.fetch_required and not profile.allow_fetch:
        problems.append("Fetch.txt-Required is true but Allow-Fetch.txt is false")


# -- our own profile ---------------------------------------------------------------------


def shipped_profile(identifier: str) -> Profile | None:
    """Our profile (schemas/archiver-bagit-profile.json) when ``identifier`` names it."""
    if identifier != layout.PROFILE_IDENTIFIER:
        return None
    return vendored_profile(layout.PROFILE_FILE)


@functools.cache
def vendored_profile(name: str) -> Profile:
    """A profile shipped in schemas/ (ours, APTrust's), read once."""
    try:
        return load_profile(resources.schema_file(name))
    except UsageError as exc:  # our own file broken: an installation problem, not usage
        raise SchemaError(str(exc)) from exc


def declared_profiles(bag_info: Iterable[baginfo.Element]) -> list[str]:
    """Every BagIt-Profile-Identifier a bag names (the tag MAY be repeated), in order.

    Labels compare without regard to case, as RFC 8493 §2.2.2 reads reserved labels.
    """
    return [e.value for e in bag_info if e.label.lower() == "bagit-profile-identifier"]


# -- judging a bag -----------------------------------------------------------------------


def check_profile(profile: Profile, inspection: Inspection, report: BagReport) -> None:
    """Add a finding to ``report`` for every rule of ``profile`` the inspected bag breaks.

    The specification calls an unaccepted BagIt version or serialization fatal ("processing
    should stop"); the RFC 8493 checks have already judged the bag by its own version's
    rules, so the remaining rules are still checked and every problem is told at once.
    """
    for check in _CHECKS:
        for item in check(profile, inspection):
            # Which profile judged: a bag may be checked against several.
            report.add(replace(item, params={**item.params, "profile": profile.identifier}))


def _bag_info_file(inspection: Inspection) -> str:
    # The file the reader read bag-info from: before 0.96 it was package-info.txt.
    return inspection.bag.bag_info_file


def _check_identifier(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    # "Bags complying to a BagIt Profile MUST contain the tag BagIt-Profile-Identifier";
    # that its value is this profile's URI is said without a MUST ("will have the same
    # value"), and a profile is often given by a local copy or a newer version: a warning.
    where = _bag_info_file(inspection)
    declared = declared_profiles(inspection.bag_info)
    if not declared:
        if not profile.identifier_required:
            return
        yield finding(
            "profile.identifier-missing",
            where,
            "no BagIt-Profile-Identifier",
            expected=profile.identifier,
        )
    elif profile.identifier not in declared:
        yield finding(
            "profile.identifier-differs",
            where,
            f"names the profile {' and '.join(declared)}, not {profile.identifier}",
            expected=profile.identifier,
            found=" | ".join(declared),
        )


def _check_bagit_version(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    if BAGIT_TXT not in inspection.inventory.tags:
        return  # no declared version to judge (bag.declaration.missing says so)
    major, minor = inspection.declaration.version
    version = f"{major}.{minor}"
    if version not in profile.accept_bagit_versions:
        yield finding(
            "profile.version.not-accepted",
            BAGIT_TXT,
            f"BagIt-Version {version} is not one the profile accepts "
            f"({', '.join(profile.accept_bagit_versions)})",
            found=version,
            expected=" | ".join(profile.accept_bagit_versions),
        )


def _check_serialization(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    # A bag read from an archive is judged by the Serialization and Accept-Serialization
    # rules (check_serialized). A directory is not serialized: "required" is broken by it;
    # "forbidden" and "optional" are not, and Accept-Serialization has nothing to judge.
    files = inspection.bag.files
    if isinstance(files, ArchiveFiles):
        yield from check_serialized(profile, files.media_types, "")
        return
    if profile.serialization is Serialization.REQUIRED:
        yield finding(
            "profile.serialization.required",
            "",
            "the profile requires a serialized bag "
            f"({', '.join(profile.accept_serialization) or 'any format'}); this is a directory",
            expected=" | ".join(profile.accept_serialization),
        )


def check_serialized(profile: Profile, media_types: Iterable[str], path: str) -> list[Finding]:
    """The Serialization and Accept-Serialization rules for a bag packed into the file at
    ``path`` (its media type by any of ``media_types``): what they find."""
    found: list[Finding] = []
    given = list(media_types)
    if profile.serialization is Serialization.FORBIDDEN:
        found.append(
            finding(
                "profile.serialization.forbidden",
                path,
                "the profile forbids serialized bags; this one is packed",
                found=given[0],
            )
        )
    elif profile.accept_serialization and not set(given) & set(profile.accept_serialization):
        found.append(
            finding(
                "profile.serialization.not-accepted",
                path,
                f"the profile accepts {', '.join(profile.accept_serialization)}, not {given[0]}",
                found=given[0],
                expected=" | ".join(profile.accept_serialization),
            )
        )
    return [replace(item, params={**item.params, "profile": profile.identifier}) for item in found]


def _check_tags(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    """Every tag rule, file by file: bag-info.txt's (Bag-Info) from what the reader read,
    bagit.txt's from the declaration, any other tag file's (DART's tags) read here through
    the bag reader, in the bag's declared encoding."""
    files = sorted({rule.tag_file for rule in profile.tags}, key=lambda f: (f != BAG_INFO_TXT, f))
    for tag_file in files:
        rules = [rule for rule in profile.tags if rule.tag_file == tag_file]
        if tag_file == BAG_INFO_TXT:
            yield from _judge_tags(rules, inspection.bag_info, _bag_info_file(inspection))
        elif tag_file == BAGIT_TXT:
            if BAGIT_TXT in inspection.inventory.tags:  # else bag.declaration.missing says so
                yield from _judge_tags(rules, _declared(inspection), BAGIT_TXT)
        elif tag_file not in inspection.inventory.tags:
            yield from _judge_tags(rules, (), tag_file, missing=True)
        else:
            elements, problems = read_labelled(inspection.bag, tag_file)
            yield from problems
            yield from _judge_tags(rules, elements, tag_file)


def _declared(inspection: Inspection) -> tuple[baginfo.Element, ...]:
    """bagit.txt's two tags, as the reader read them."""
    declaration = inspection.declaration
    return (
        baginfo.Element(1, "BagIt-Version", declaration.version_text),
        baginfo.Element(2, "Tag-File-Character-Encoding", declaration.encoding),
    )


# BagIt Profiles 1.4 speaks of bag-info.txt only (Bag-Info); a rule for any other tag file
# is one of DART's tags: (required, value) codes by "is it bag-info".
_TAG_CODES = {
    True: ("profile.bag-info.required", "profile.bag-info.value"),
    False: ("profile.tag.required", "profile.tag.value"),
}


def _judge_tags(
    rules: Iterable[TagRule],
    elements: Iterable[baginfo.Element],
    where: str,
    *,
    missing: bool = False,
) -> Iterator[Finding]:
    required_code, value_code = _TAG_CODES[where in (BAG_INFO_TXT, PACKAGE_INFO_TXT)]
    by_label: dict[str, list[baginfo.Element]] = defaultdict(list)
    for element in elements:
        by_label[element.label.lower()].append(element)  # RFC 8493: labels ignore case
    for rule in rules:
        found = by_label.get(rule.label.lower(), [])
        if rule.required and not found:
            yield finding(
                required_code,
                where,
                f"no {rule.label}, which the profile requires"
                + (" (the file is not in the bag)" if missing else ""),
                label=rule.label,
            )
        if not rule.repeatable and len(found) > 1:  # only Bag-Info tags can say so
            yield finding(
                "profile.bag-info.repeated",
                where,
                f"{rule.label} appears {len(found)} times; the profile allows it once",
                label=rule.label,
                count=len(found),
                line=found[1].line,
            )
        for element in found:
            if not element.value.strip() and not rule.empty_ok:
                yield finding(
                    "profile.tag.empty",
                    where,
                    f"{element.label} is empty; the profile requires a value",
                    label=rule.label,
                    line=element.line,
                )
            elif rule.values and element.value not in rule.values:
                yield finding(
                    value_code,
                    where,
                    f"{element.label} {element.value!r} is not "
                    "one of the values the profile allows",
                    label=rule.label,
                    line=element.line,
                    found=element.value,
                    expected=" | ".join(rule.values),
                )


def _check_manifests(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    yield from _judge_algorithms(
        inspection.manifest_algorithms,
        profile.manifests_required,
        profile.manifests_allowed,
        manifest.payload_manifest_name,
        ("profile.manifest.required", "profile.manifest.not-allowed"),
        "payload manifest",
    )
    yield from _judge_algorithms(
        inspection.tag_manifest_algorithms,
        profile.tag_manifests_required,
        profile.tag_manifests_allowed,
        manifest.tag_manifest_name,
        ("profile.tagmanifest.required", "profile.tagmanifest.not-allowed"),
        "tag manifest",
    )


def _judge_algorithms(
    present: Iterable[str],
    required: tuple[str, ...],
    allowed: tuple[str, ...] | None,
    name_of: Callable[[str], str],
    codes: tuple[str, str],
    kind: str,
) -> Iterator[Finding]:
    # Names compare as RFC 8493 §2.4 spells them (lowercase, alphanumerics only), so a
    # profile's "SHA-256" means manifest-sha256.txt.
    have = {algorithms.normalise(name): name for name in present}
    missing_code, forbidden_code = codes
    for name in required:
        if algorithms.normalise(name) not in have:
            yield finding(
                missing_code,
                name_of(name),
                f"the profile requires a {kind} for {name}; the bag has none",
                algorithm=name,
            )
    if allowed is None:  # "If not specified, all manifest types are permitted."
        return
    permitted = {algorithms.normalise(name) for name in allowed}
    for normal, name in sorted(have.items()):
        if normal not in permitted:
            yield finding(
                forbidden_code,
                name_of(name),
                f"the profile does not allow {name} {kind}s",
                algorithm=name,
                expected=" | ".join(allowed),
            )


def _check_fetch(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    if inspection.has_fetch and not profile.allow_fetch:
        yield finding("profile.fetch.not-allowed", FETCH_TXT, "the profile forbids fetch.txt")
    if profile.fetch_required and not inspection.has_fetch:
        yield finding(
            "profile.fetch.required", FETCH_TXT, "the profile requires fetch.txt; there is none"
        )


def _payload_files(inspection: Inspection) -> list[str]:
    # The workflow judges "the complete Bag": files fetch.txt lists count as payload even
    # before they are fetched (bag.fetch.unfetched reports that they are not there yet).
    return sorted({*inspection.inventory.payload, *inspection.fetch_entries})


def _check_data_empty(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    # Data-Empty: "the /data directory must contain either no files or a single zero byte
    # length file" (the placeholder RFC 8493 bags need to keep an empty payload).
    if not profile.data_empty:
        return
    files = _payload_files(inspection)
    if len(files) > 1:
        yield finding(
            "profile.payload.not-empty",
            "data",
            f"the profile requires an empty payload; data/ holds {len(files)} files",
            count=len(files),
        )
    elif files:
        size = inspection.inventory.payload.get(files[0])
        if size:  # None: not fetched yet, its size is unknown
            yield finding(
                "profile.payload.not-empty",
                files[0],
                f"the profile requires an empty payload; this file has {size} bytes",
                count=1,
                found=size,
            )


def _check_tag_files(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    tags = inspection.inventory.tags
    for path in profile.tag_files_required:
        if path not in tags:
            yield finding(
                "profile.tag-file.required",
                path,
                "the profile requires this tag file; it is not in the bag",
            )
    bag_info_file = _bag_info_file(inspection)
    for path in sorted(tags):
        if _is_bagit_tag_file(path) or path == bag_info_file:
            continue
        if not _matches(path, profile.tag_files_allowed):
            yield finding(
                "profile.tag-file.not-allowed",
                path,
                "not a tag file the profile allows",
                expected=" | ".join(profile.tag_files_allowed),
            )


def _is_bagit_tag_file(path: str) -> bool:
    """bagit.txt, bag-info.txt, fetch.txt and the (tag) manifests: Tag-Files-Allowed does not
    govern them, their own keys do (Manifests-*, Tag-Manifests-*, Allow-Fetch.txt). The
    specification's example bagProfileBar allows only "DPN/*" yet requires md5 manifests."""
    if "/" in path:
        return False
    return path in (BAGIT_TXT, BAG_INFO_TXT, FETCH_TXT) or bool(manifest.NAME.match(path))


def _check_payload_files(profile: Profile, inspection: Inspection) -> Iterator[Finding]:
    files = _payload_files(inspection)
    for path in profile.payload_files_required:
        if not _payload_present(path, files, inspection.inventory.directories):
            what = "directory (with something in it)" if path.endswith("/") else "file"
            yield finding(
                "profile.payload-file.required",
                path,
                f"the profile requires this payload {what}; it is not in the bag",
            )
    for path in files:
        if not _matches(path, profile.payload_files_allowed):
            yield finding(
                "profile.payload-file.not-allowed",
                path,
                "not a payload file the profile allows",
                expected=" | ".join(profile.payload_files_allowed),
            )


def _payload_present(required: str, files: Iterable[str], directories: Iterable[str]) -> bool:
    # "Paths requiring directory existence MUST end with /": present with at least one
    # file or subdirectory in it.
    if not required.endswith("/"):
        return required in set(files)
    return any(path.startswith(required) for path in (*files, *directories))


def _check_unchecked(profile: Profile, _inspection: Inspection) -> Iterator[Finding]:
    if profile.unchecked:
        yield finding(
            "profile.keys-not-checked",
            "",
            "the profile uses keys outside its format, which were not checked: "
            + ", ".join(profile.unchecked),
            keys=" | ".join(profile.unchecked),
        )


_CHECKS: tuple[Callable[[Profile, Inspection], Iterator[Finding]], ...] = (
    _check_bagit_version,
    _check_serialization,
    _check_identifier,
    _check_tags,
    _check_manifests,
    _check_fetch,
    _check_data_empty,
    _check_tag_files,
    _check_payload_files,
    _check_unchecked,
)


# -- path patterns -----------------------------------------------------------------------


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(_pattern(pattern).fullmatch(path) for pattern in patterns)


@functools.cache
def _pattern(glob: str) -> re.Pattern[str]:
    """A Tag-/Payload-Files-Allowed pattern as a regular expression.

    Only '*' is a wildcard ("asterisks can represent zero or more characters"); '?' and
    '[' are literal, as they are in real file names. '*' crosses '/', unlike glob(7): the
    specification's default ['*'] means "all payload files ... are allowed", yet every
    payload path has a '/' (data/...), and a permitted directory is written "data/src/*".
    """
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.DOTALL)
