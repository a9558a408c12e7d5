"""Bags built to a BagIt profile: what a profile asks of a bag being made.

check/profile.py reads a profile (BagIt Profiles 1.4, or APTrust DART's format) into its
one model and judges bags by it; this module reads the same model the other way round,
for ``archiver bag --profile`` and ``archiver batch --profile``: which manifest algorithms
to write, which bag-info labels and other tag files (APTrust's aptrust-info.txt) the bag
must carry and with what values, and what the bag names as its profile. Everything that
cannot be met is found at once, before a byte is written (MetadataError, every problem).

Where a value comes from, first found first:

1. what the caller gives for that tag (``tags``: a sheet's ``aptrust-info.txt/Access``
   column, ``bag --tag aptrust-info.txt/Access=Institution``), or for bag-info, the
   record's own bag-info;
2. for a tag file's ``Title`` and ``Description``, the record's first dc:title and
   dc:description (as DART and APTrust use them);
3. the profile's default value (DART's ``defaultValue``).

A required tag with none of these is a problem; so is a value outside the tag's allowed
values (matched ignoring case, written as the profile spells it). Manifests: the
algorithms asked for (``algorithms``) must be ones the profile allows and include those it
requires; by default, the required ones and whichever of SHA-512 and SHA-256 it allows.
archiver computes SHA-256 and SHA-512 of every file whatever the manifests are, for its
METS and PREMIS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from archiver import layout
from archiver.bagit import algorithms, baginfo, manifest, paths
from archiver.bagit.names import BAG_INFO_TXT, BAGIT_TXT, FETCH_TXT, PAYLOAD_DIR
from archiver.check.profile import Profile, Serialization, TagRule
from archiver.errors import MetadataError, Problem, UsageError
from archiver.record import Record, tag_value_problem

# What archiver writes in bagit.txt, and the bag-info labels it writes itself.
_DECLARED = {"BagIt-Version": "1.0", "Tag-File-Character-Encoding": "UTF-8"}
_WRITTEN_BY_ARCHIVER = frozenset(
    label.lower()
    for label in (
        "Bagging-Date",
        "Payload-Oxum",
        "External-Identifier",
        "Bag-Software-Agent",
        "BagIt-Profile-Identifier",
    )
)
_FROM_DC = frozenset({"title", "description"})  # a tag file's tags taken from Dublin Core
Tags = Mapping[tuple[str, str], Sequence[str]]  # (tag file, label) -> values


@dataclass(frozen=True)
class BuildPlan:
    """What a bag made to a profile writes beyond what archiver writes anyway."""

    identifier: str  # BagIt-Profile-Identifier
    algorithms: tuple[str, ...]  # payload manifests
    tag_algorithms: tuple[str, ...]  # tag manifests
    bag_info: tuple[tuple[str, str], ...]  # labels the record lacks, from tags or defaults
    tag_files: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # other tag files
    serialization: Serialization
    accept_serialization: tuple[str, ...]


def plan_for_profile(
    profile: Profile,
    record: Record,
    *,
    algorithms_: Sequence[str] | None = None,
    tag_algorithms_: Sequence[str] | None = None,
    tags: Tags | None = None,
    source: str = "the profile",
) -> BuildPlan:
    """What a bag described by ``record`` must carry to meet ``profile``; MetadataError
    (naming ``source``) listing every requirement that cannot be met, UsageError when the
    algorithms asked for (payload, tag manifests) do not meet it."""
    tags = tags or {}
    problems: list[Problem] = []
    chosen, tag_chosen = choose_algorithms(profile, algorithms_, tag_algorithms_)
    have = {label.lower() for label, _ in record.bag_info}
    bag_info: list[tuple[str, str]] = []
    files: dict[str, list[tuple[str, str]]] = {}
    for rule in profile.tags:
        if rule.tag_file == BAGIT_TXT:
            _check_declared(rule, problems)
            continue
        if rule.tag_file == BAG_INFO_TXT:
            key = rule.label.lower()
            given = tags.get((BAG_INFO_TXT, rule.label))
            if key in _WRITTEN_BY_ARCHIVER or (key in have and not given):
                continue
            values = _values(rule, given, record, problems)
            bag_info += [(rule.label, value) for value in values]
            continue
        given = tags.get((rule.tag_file, rule.label))
        values = _values(rule, given, record, problems)
        if values and _tag_file_problem(rule.tag_file, problems):
            continue
        files.setdefault(rule.tag_file, []).extend((rule.label, v) for v in values)
    defined = {(r.tag_file, r.label.lower()) for r in profile.tags}
    for (tag_file, label), given_values in sorted(tags.items()):
        values = list(given_values)
        if (tag_file, label.lower()) in defined:
            continue
        problem = baginfo.label_problem(label) or next(
            filter(None, map(_value_problem, values)), None
        )
        if tag_file == BAG_INFO_TXT and label.lower() in _WRITTEN_BY_ARCHIVER:
            problem = "archiver writes this label itself"
        if problem:
            problems.append(Problem(f"{tag_file}/{label}", problem))
        elif tag_file != BAG_INFO_TXT and _tag_file_problem(tag_file, problems):
            continue
        elif tag_file == BAG_INFO_TXT:
            bag_info += [(label, v) for v in values]
        else:
            files.setdefault(tag_file, []).extend((label, v) for v in values)
    if problems:
        raise MetadataError(source, problems)
    return BuildPlan(
        profile.identifier,
        chosen,
        tag_chosen,
        tuple(bag_info),
        tuple((name, tuple(items)) for name, items in files.items() if items),
        profile.serialization,
        profile.accept_serialization,
    )


def choose_algorithms(
    profile: Profile, asked: Sequence[str] | None, tag_asked: Sequence[str] | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(payload manifest algorithms, tag manifest algorithms) for a bag made to ``profile``
    (``asked``, ``tag_asked``: the ones chosen, else the profile's required ones and those
    of the payload's it allows); UsageError when the choice does not meet it."""
    problems: list[Problem] = []
    chosen = _algorithms(
        "manifests", asked, profile.manifests_required, profile.manifests_allowed, problems
    )
    tag_chosen = _algorithms(
        "tag manifests",
        tag_asked,
        profile.tag_manifests_required,
        profile.tag_manifests_allowed,
        problems,
        preferred=chosen,
    )
    if problems:
        raise UsageError(f"profile {profile.identifier}: " + "; ".join(p.message for p in problems))
    return chosen, tag_chosen


def _algorithms(
    what: str,
    asked: Sequence[str] | None,
    required: Sequence[str],
    allowed: Sequence[str] | None,
    problems: list[Problem],
    *,
    preferred: Sequence[str] = algorithms.WRITTEN[::-1],
) -> tuple[str, ...]:
    """The algorithms to write: those asked for, checked; else the required ones and the
    preferred ones the profile allows. Names are compared as RFC 8493 §2.4 normalises them
    (``SHA-256`` is sha256)."""
    required = [algorithms.normalise(name) for name in required]
    allowed = None if allowed is None else [algorithms.normalise(name) for name in allowed]
    asked = None if asked is None else [algorithms.normalise(name) for name in asked]
    unknown = [name for name in [*required, *(asked or ())] if not algorithms.is_supported(name)]
    if unknown:
        problems.append(Problem(what, f"archiver cannot compute {', '.join(sorted(set(unknown)))}"))
        return ()
    if asked is not None:
        refused = [a for a in asked if allowed is not None and a not in allowed]
        if refused:
            problems.append(
                Problem(what, f"the profile does not allow {', '.join(refused)} manifests")
            )
        missing = [r for r in required if r not in asked]
        if missing:
            problems.append(
                Problem(what, f"the profile requires {', '.join(missing)} manifests too")
            )
        return tuple(dict.fromkeys(asked))
    chosen = [*required, *(p for p in preferred if allowed is None or p in allowed)]
    if not chosen and allowed:
        chosen = [next(a for a in allowed if algorithms.is_supported(a))]
    return tuple(dict.fromkeys(chosen))


def _value_problem(value: str) -> str | None:
    """What keeps ``value`` from a tag file: what its format cannot hold, or what a record's
    bag-info value may not be (a control character, a line break)."""
    return baginfo.value_problem(value) or tag_value_problem(value)


def _tag_file_problem(name: str, problems: list[Problem]) -> bool:
    """Whether ``name`` cannot be a tag file archiver writes (told in ``problems``): a path
    leaving the bag or into data/, or a file archiver writes itself."""
    reason = paths.unsafe_reason(name)
    if reason is None and (
        name in (BAGIT_TXT, FETCH_TXT, *layout.METADATA_FILES)
        or name.startswith(f"{PAYLOAD_DIR}/")
        or manifest.NAME.match(name)
    ):
        reason = "a file archiver writes itself, or payload"
    if reason is None:
        return False
    problems.append(Problem(name, f"cannot be a tag file: {reason}"))
    return True


def _check_declared(rule: TagRule, problems: list[Problem]) -> None:
    written = _DECLARED.get(rule.label)
    if written is not None and rule.values and written not in rule.values:
        problems.append(
            Problem(
                f"{BAGIT_TXT}/{rule.label}",
                f"the profile accepts {', '.join(rule.values)}; archiver writes {written}",
            )
        )


def _values(
    rule: TagRule, given: Sequence[str] | None, record: Record, problems: list[Problem]
) -> list[str]:
    """A tag's values, first found first (module docstring); [] for an optional tag none
    is found for."""
    where = f"{rule.tag_file}/{rule.label}"
    values: list[str] = [v for v in (given or ()) if v.strip()]
    element = rule.label.lower() if rule.tag_file != BAG_INFO_TXT else ""
    if not values and element in _FROM_DC:  # the first one, on one line
        values = [one for one in (" ".join(v.split()) for v in record.values(element)) if one]
        values = values[:1]
    if not values and rule.default:
        values = [rule.default]
    if not values:
        if rule.required:
            allowed = f" (one of {', '.join(rule.values)})" if rule.values else ""
            nor = f", and the record has no dc:{element}" if element in _FROM_DC else ""
            problems.append(Problem(where, f"the profile requires it{allowed}; none is given{nor}"))
        return []
    if not rule.repeatable and len(values) > 1:
        problems.append(Problem(where, "the profile allows one value"))
    spelled = []
    for value in values:
        if rule.values:
            match = next((v for v in rule.values if v.lower() == value.strip().lower()), None)
            if match is None:
                problems.append(Problem(where, f"{value!r} is not one of {', '.join(rule.values)}"))
                continue
            value = match
        problem = _value_problem(value)
        if problem:
            problems.append(Problem(where, problem))
            continue
        spelled.append(value)
    return spelled


__all__ = ["BuildPlan", "Tags", "choose_algorithms", "plan_for_profile"]
