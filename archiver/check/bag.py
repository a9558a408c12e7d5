"""RFC 8493 (BagIt 0.93 to 1.0) rules -> findings. Every problem is reported, not the first.

Modes: FULL verifies every checksum; COMPLETENESS checks structure, manifests and presence
but no checksum; FAST checks structure and Payload-Oxum only.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from archiver.bagit import algorithms, baginfo, fetch, hashing, manifest, paths, reader, tagfile
from archiver.codes import Severity
from archiver.findings import BagReport, finding

_KNOWN_VERSIONS = {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)}
_VERSION_STRICT = re.compile(r"^BagIt-Version: (\d+)\.(\d+)$")
_VERSION_LENIENT = re.compile(r"^BagIt-Version\s*:\s*(\d+)\.(\d+)\s*$")
_ENCODING_STRICT = re.compile(r"^Tag-File-Character-Encoding: (\S+)$")
_ENCODING_LENIENT = re.compile(r"^Tag-File-Character-Encoding\s*:\s*(\S+)\s*$")
_OXUM = re.compile(r"^(\d+)\.(\d+)$")


class Mode(StrEnum):
    FULL = "full"
    COMPLETENESS = "completeness"
    FAST = "fast"


@dataclass(frozen=True)
class Declaration:
    version: tuple[int, int]
    codec: str

    @property
    def strict(self) -> bool:
        return self.version >= (1, 0)


@dataclass
class Manifest:
    """A parsed manifest: its file name, algorithm and entries by decoded path."""

    name: str
    algorithm: str
    tag: bool
    supported: bool
    entries: dict[str, str] = field(default_factory=dict)  # path -> expected digest


@dataclass
class _Bag:
    root: Path
    inventory: reader.Inventory
    report: BagReport
    declaration: Declaration = Declaration((1, 0), "utf-8")
    manifests: list[Manifest] = field(default_factory=list)
    bag_info: list[baginfo.Element] = field(default_factory=list)
    # manifest path -> inventory path, for paths matched only after NFC normalisation or case
    aliases: dict[str, str] = field(default_factory=dict)
    # payload paths fetch.txt lists: missing ones are unfetched, not lost
    fetched: set[str] = field(default_factory=set)

    def add(self, code: str, path: str, message: str, **params: str | int | None) -> None:
        self.report.add(finding(code, path, message, **params))

    def add_with(
        self, code: str, severity: Severity, path: str, message: str, **params: str | int | None
    ) -> None:
        self.report.add(replace(finding(code, path, message, **params), severity=severity))


@dataclass(frozen=True)
class Inspection:
    """The report, plus what later checks (metadata, profiles) build on."""

    report: BagReport
    inventory: reader.Inventory
    declaration: Declaration
    bag_info: list[baginfo.Element]
    payload_manifests: dict[str, dict[str, str]]  # algorithm -> path -> digest (supported ones)
    manifest_algorithms: tuple[str, ...]  # every payload manifest's algorithm, as named
    tag_manifest_algorithms: tuple[str, ...]  # every tag manifest's algorithm, as named
    fetch_entries: tuple[str, ...]  # payload paths fetch.txt lists (empty without fetch.txt)
    tag_manifests: dict[str, dict[str, str]]  # algorithm -> tag file path -> digest (supported)

    @property
    def has_fetch(self) -> bool:
        return "fetch.txt" in self.inventory.tags


def check_bag(root: Path, *, mode: Mode = Mode.FULL, workers: int | None = None) -> Inspection:
    """Judge the bag at ``root`` (an existing directory) by RFC 8493."""
    bag = _Bag(root, reader.take_inventory(root), BagReport(str(root)))
    _check_paths(bag)
    _check_declaration(bag)
    if not bag.inventory.has_payload_dir:
        bag.add("bag.payload-directory.missing", "data", "the bag has no data/ directory")
    _load_manifests(bag)
    _check_bag_info(bag)
    if mode is not Mode.FAST:
        _check_fetch(bag)
        _check_payload_manifests(bag)
        _check_tag_manifests(bag)
        _check_names(bag)
    if mode is Mode.FULL:
        _verify_checksums(bag, workers or hashing.default_workers())

    def by_file(m: Manifest) -> dict[str, str]:
        if not bag.aliases:
            return m.entries
        return {bag.aliases.get(p, p): d for p, d in m.entries.items()}

    payload_manifests = {
        m.algorithm: by_file(m) for m in bag.manifests if not m.tag and m.supported
    }
    tag_manifests = {
        m.algorithm: {p: d for p, d in by_file(m).items() if not p.startswith("data/")}
        for m in bag.manifests
        if m.tag and m.supported
    }
    return Inspection(
        bag.report,
        bag.inventory,
        bag.declaration,
        bag.bag_info,
        payload_manifests,
        tuple(m.algorithm for m in bag.manifests if not m.tag),
        tuple(m.algorithm for m in bag.manifests if m.tag),
        tuple(sorted(bag.fetched)),
        tag_manifests,
    )


# -- structure ---------------------------------------------------------------------------


def _check_paths(bag: _Bag) -> None:
    for rel in bag.inventory.symlinks:
        bag.add("bag.path.symlink", rel, f"{rel} is a symbolic link; it was not followed")
    for rel in bag.inventory.specials:
        bag.add("bag.path.special-file", rel, f"{rel} is not a regular file; it was not read")
    for rel in bag.inventory.unreadable:
        code = (
            "bag.payload.unreadable"
            if rel == "data" or rel.startswith("data/")
            else "bag.tag.unreadable"
        )
        bag.add(code, rel, f"cannot read {rel}")


def _read_tag(bag: _Bag, rel: str) -> bytes | None:
    if rel not in bag.inventory.tags:
        return None
    try:
        return reader.read_file(bag.root, rel)
    except OSError as exc:
        bag.add("bag.tag.unreadable", rel, f"cannot read {rel}: {exc.strerror or exc}")
        return None


def _check_declaration(bag: _Bag) -> None:
    data = _read_tag(bag, "bagit.txt")
    if data is None:
        if "bagit.txt" not in bag.inventory.symlinks:
            bag.add("bag.declaration.missing", "bagit.txt", "the bag has no bagit.txt")
        return
    if tagfile.bom_of(data):
        bag.add("bag.declaration.bom", "bagit.txt", "bagit.txt must not begin with a BOM")
        data = data[len(tagfile.bom_of(data)) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        bag.add("bag.declaration.not-utf8", "bagit.txt", "bagit.txt must be UTF-8")
        return
    lines = tagfile.split_lines(text).lines
    if len(lines) != 2:
        bag.add(
            "bag.declaration.malformed",
            "bagit.txt",
            f"bagit.txt must have exactly two lines, it has {len(lines)}",
            lines=len(lines),
        )
    version_line = lines[0] if lines else ""
    encoding_line = lines[1] if len(lines) > 1 else ""
    lenient = _VERSION_LENIENT.match(version_line)
    if not lenient:
        bag.add(
            "bag.declaration.malformed",
            "bagit.txt",
            "line 1 must read 'BagIt-Version: M.N'",
            line=1,
        )
        return
    version = (int(lenient.group(1)), int(lenient.group(2)))
    if version not in _KNOWN_VERSIONS:
        bag.add(
            "bag.declaration.version-unknown",
            "bagit.txt",
            f"BagIt-Version {version[0]}.{version[1]} is not one we know",
            line=1,
        )
    strict = version >= (1, 0)
    if strict and not _VERSION_STRICT.match(version_line):
        bag.add(
            "bag.declaration.malformed",
            "bagit.txt",
            "BagIt 1.0 requires exactly 'BagIt-Version: ' with one space after the colon "
            "and none before it",
            line=1,
        )
    encoding_match = (_ENCODING_STRICT if strict else _ENCODING_LENIENT).match(encoding_line)
    if not encoding_match:
        bag.add(
            "bag.declaration.malformed",
            "bagit.txt",
            "line 2 must read 'Tag-File-Character-Encoding: ENCODING'",
            line=2,
        )
        bag.declaration = Declaration(version, "utf-8")
        return
    name = encoding_match.group(1)
    codec = tagfile.python_codec(name)
    if codec is None:
        bag.add(
            "bag.declaration.encoding-unknown",
            "bagit.txt",
            f"unknown character encoding {name!r}",
            line=2,
            encoding=name,
        )
        codec = "utf-8"
    elif codec != "utf-8":
        bag.add(
            "bag.declaration.encoding-not-utf8",
            "bagit.txt",
            f"tag files are declared as {name}; UTF-8 is recommended",
            encoding=name,
        )
    bag.declaration = Declaration(version, codec)


def _decode_tag(bag: _Bag, rel: str, data: bytes) -> list[str] | None:
    codec = bag.declaration.codec
    if codec == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        bag.add("bag.tagfile.bom", rel, f"{rel} begins with a UTF-8 byte order mark")
        data = data[3:]
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        bag.add(
            "bag.tagfile.undecodable",
            rel,
            f"{rel} is not valid {codec} (byte offset {exc.start})",
            offset=exc.start,
        )
        return None
    return tagfile.split_lines(text.lstrip("\ufeff")).lines


def _stream_tag(bag: _Bag, rel: str) -> Iterator[str]:
    """A tag file's lines (any of CR, LF, CRLF), decoded as declared, read as a stream.

    Manifests of big bags are big: they are never read whole. A decoding error ends the
    lines with a finding naming the line it happened on.
    """
    try:
        handle = reader.open_file(bag.root, rel)
    except OSError as exc:
        bag.add("bag.tag.unreadable", rel, f"cannot read {rel}: {exc.strerror or exc}")
        return
    codec = bag.declaration.codec
    with handle:
        if codec == "utf-8" and handle.peek(3)[:3] == codecs.BOM_UTF8:
            bag.add("bag.tagfile.bom", rel, f"{rel} begins with a UTF-8 byte order mark")
            handle.read(3)
        if tagfile.ascii_compatible(codec):
            lines = tagfile.decoded_lines(tagfile.byte_lines(handle), codec)
        else:  # UTF-16 and the like: line breaks are not single bytes, decode as a stream
            lines = tagfile.stream_lines(handle, codec)
        try:
            for number, line in enumerate(lines, start=1):
                yield line.lstrip("\ufeff") if number == 1 else line
        except tagfile.UndecodableLineError as exc:
            bag.add(
                "bag.tagfile.undecodable",
                rel,
                f"{rel} line {exc.line} is not valid {codec} ({exc.reason})",
                line=exc.line,
            )


# -- manifests ---------------------------------------------------------------------------


def _load_manifests(bag: _Bag) -> None:
    for rel in sorted(bag.inventory.tags):
        match = manifest.NAME.match(rel)
        if not match:
            continue
        tag = match.group(1) is not None
        algorithm = match.group(2)
        supported = algorithms.is_supported(algorithm)
        if not supported:
            bag.add(
                "bag.manifest.algorithm-unsupported",
                rel,
                f"{rel}: algorithm {algorithm!r} is not supported; not verified",
                algorithm=algorithm,
            )
        elif algorithm in algorithms.WEAK and not tag:
            bag.add(
                "bag.manifest.algorithm-weak",
                rel,
                f"{rel}: {algorithm} is accepted for backward compatibility only",
                algorithm=algorithm,
            )
        parsed = Manifest(rel, algorithm, tag, supported)
        _parse_manifest(bag, parsed, _stream_tag(bag, rel))
        bag.manifests.append(parsed)
    payload = [m for m in bag.manifests if not m.tag]
    if not payload:
        bag.add("bag.manifest.missing", "manifest-sha512.txt", "the bag has no payload manifest")
    elif not any(m.supported for m in payload):
        bag.add(
            "bag.manifest.unverifiable",
            payload[0].name,
            "no payload manifest uses a supported algorithm",
        )


def _parse_manifest(bag: _Bag, parsed: Manifest, lines: Iterable[str]) -> None:
    entries, bad = manifest.parse_manifest(lines, version_1_0=bag.declaration.strict)
    for line in bad:
        bag.add(
            "bag.manifest.line-malformed",
            parsed.name,
            f"{parsed.name} line {line.line}: {line.reason}",
            line=line.line,
        )
    expected_length = algorithms.digest_length(parsed.algorithm) if parsed.supported else None
    duplicate_severity = Severity.ERROR if bag.declaration.strict else Severity.WARNING
    for entry in entries:
        if entry.starred:
            bag.add(
                "bag.manifest.md5sum-style",
                parsed.name,
                f"{parsed.name} line {entry.line}: '*' before the path (md5sum style)",
                line=entry.line,
            )
        if expected_length is not None and len(entry.digest) != expected_length:
            bag.add(
                "bag.manifest.checksum-malformed",
                parsed.name,
                f"{parsed.name} line {entry.line}: a {parsed.algorithm} checksum has "
                f"{expected_length} hex digits, not {len(entry.digest)}",
                line=entry.line,
            )
            continue
        path = entry.path
        if path.startswith("./"):
            path = path[2:]
            bag.add(
                "bag.manifest.path-dot-prefix",
                parsed.name,
                f"{parsed.name} line {entry.line}: {entry.raw_path!r} starts with './'",
                line=entry.line,
                entry=entry.raw_path,
            )
        reason = paths.unsafe_reason(path)
        if reason:
            bag.add(
                "bag.manifest.path-unsafe",
                parsed.name,
                f"{parsed.name} line {entry.line}: {entry.raw_path!r}: {reason}",
                line=entry.line,
                entry=entry.raw_path,
            )
            continue
        if not parsed.tag and not path.startswith("data/"):
            bag.add(
                "bag.manifest.path-outside-payload",
                parsed.name,
                f"{parsed.name} line {entry.line}: {path!r} is not under data/",
                line=entry.line,
                entry=path,
            )
            continue
        if path in parsed.entries:
            bag.add_with(
                "bag.manifest.duplicate-entry",
                duplicate_severity,
                parsed.name,
                f"{parsed.name} line {entry.line}: {path} is listed again",
                line=entry.line,
                entry=path,
            )
            if parsed.entries[path] != entry.digest:
                parsed.entries[path] = "conflicting"
            continue
        parsed.entries[path] = entry.digest


class _Resolver:
    """Finds the file a listed path stands for: exactly; else after NFC normalisation, else
    ignoring case too (§6.1.1.3: tolerate what file systems do to names, and say so).

    The normalised indexes are built on the first miss only: most bags never need them.
    """

    def __init__(self, present: Mapping[str, int]) -> None:
        self.present = present
        self.by_nfc: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        self.indexed = False

    def _index(self) -> None:
        for candidate in sorted(self.present):
            self.by_nfc.setdefault(unicodedata.normalize("NFC", candidate), candidate)
            self.by_key.setdefault(paths.collision_key(candidate), candidate)
        self.indexed = True

    def find(self, path: str) -> tuple[str | None, str | None]:
        """(the file, "normalisation" or "case" when it matched only so) or (None, None)."""
        if path in self.present:
            return path, None
        if not self.indexed:
            self._index()
        nfc = self.by_nfc.get(unicodedata.normalize("NFC", path))
        if nfc is not None:
            return nfc, "normalisation"
        folded = self.by_key.get(paths.collision_key(path))
        if folded is not None:
            return folded, "case"
        return None, None


def _resolve(bag: _Bag, path: str, resolver: _Resolver, listed_in: str) -> str | None:
    found, how = resolver.find(path)
    if found is not None and how is not None:
        bag.aliases[path] = found
        code = (
            "bag.name.normalisation-differs" if how == "normalisation" else "bag.name.case-differs"
        )
        bag.add(
            code,
            found,
            f"{listed_in} lists {path!r}, found on disk as {found!r}",
            manifest=listed_in,
        )
    return found


def _check_payload_manifests(bag: _Bag) -> None:
    payload_manifests = [m for m in bag.manifests if not m.tag]
    present = bag.inventory.payload
    resolver = _Resolver(present)
    listed_anywhere: set[str] = set()
    for parsed in payload_manifests:
        listed: set[str] = set()
        for path in parsed.entries:
            if path in bag.inventory.directories:
                bag.add(
                    "bag.manifest.lists-directory",
                    parsed.name,
                    f"{parsed.name} lists the directory {path}",
                    entry=path,
                )
                continue
            found = _resolve(bag, path, resolver, parsed.name)
            if found is None:
                if (
                    path not in bag.inventory.symlinks
                    and path not in bag.inventory.specials
                    and path not in bag.fetched
                ):
                    bag.add(
                        "bag.payload.file-missing",
                        path,
                        f"{path} is listed in {parsed.name} but is not in the bag",
                        manifest=parsed.name,
                    )
                continue
            listed.add(found)
        listed_anywhere |= listed
        if bag.declaration.strict:  # 1.0: every payload file in every manifest (§3)
            for path in sorted(set(present) - listed):
                bag.add(
                    "bag.manifest.file-unlisted",
                    path,
                    f"{path} is not listed in {parsed.name}",
                    manifest=parsed.name,
                )
    if payload_manifests and not bag.declaration.strict:  # before 1.0: in at least one
        for path in sorted(set(present) - listed_anywhere):
            bag.add("bag.manifest.file-unlisted", path, f"{path} is not listed in any manifest")


def _check_tag_manifests(bag: _Bag) -> None:
    tag_manifests = [m for m in bag.manifests if m.tag]
    payload_names = {m.name for m in bag.manifests if not m.tag}
    tag_manifest_names = {m.name for m in tag_manifests}
    tag_resolver = _Resolver(bag.inventory.tags)
    for parsed in tag_manifests:
        for path in parsed.entries:
            if path.startswith("data/"):
                bag.add(
                    "bag.tagmanifest.lists-payload",
                    parsed.name,
                    f"{parsed.name} lists the payload file {path}",
                    entry=path,
                )
            elif path in tag_manifest_names:
                bag.add(
                    "bag.tagmanifest.lists-tagmanifest",
                    parsed.name,
                    f"{parsed.name} lists the tag manifest {path}",
                    entry=path,
                )
            elif (
                _resolve(bag, path, tag_resolver, parsed.name) is None
                and path not in bag.inventory.symlinks
            ):
                bag.add(
                    "bag.tag.file-missing",
                    path,
                    f"{path} is listed in {parsed.name} but is not in the bag",
                    manifest=parsed.name,
                )
        if not bag.declaration.strict:
            continue
        for name in sorted(payload_names - set(parsed.entries)):
            bag.add(
                "bag.tagmanifest.payload-manifest-unlisted",
                parsed.name,
                f"{parsed.name} does not list the payload manifest {name}",
                entry=name,
            )
        for path in sorted(
            set(bag.inventory.tags) - set(parsed.entries) - tag_manifest_names - payload_names
        ):
            bag.add(
                "bag.tagmanifest.tag-file-unlisted",
                path,
                f"{path} is not listed in {parsed.name}",
                manifest=parsed.name,
            )


# -- fetch.txt ---------------------------------------------------------------------------


def _check_fetch(bag: _Bag) -> None:
    rel = "fetch.txt"
    if rel not in bag.inventory.tags:
        return
    entries, bad = fetch.parse_fetch(_stream_tag(bag, rel), version_1_0=bag.declaration.strict)
    for line in bad:
        bag.add(
            "bag.fetch.line-malformed",
            rel,
            f"{rel} line {line.line}: {line.reason}",
            line=line.line,
        )
    payload_manifests = [m for m in bag.manifests if not m.tag]
    for entry in entries:
        where = f"{rel} line {entry.line}"
        if not fetch.is_absolute_uri(entry.url):
            bag.add(
                "bag.fetch.url-not-absolute",
                rel,
                f"{where}: {entry.url!r} is not an absolute URI",
                line=entry.line,
                url=entry.url,
            )
        reason = paths.unsafe_reason(entry.path)
        if reason:
            bag.add(
                "bag.fetch.path-unsafe",
                rel,
                f"{where}: {entry.raw_path!r}: {reason}",
                line=entry.line,
                entry=entry.raw_path,
            )
            continue
        if not entry.path.startswith("data/"):
            bag.add(
                "bag.fetch.lists-tag-file",
                rel,
                f"{where}: {entry.path!r} is not under data/",
                line=entry.line,
                entry=entry.path,
            )
            continue
        bag.fetched.add(entry.path)
        for parsed in payload_manifests:
            if entry.path not in parsed.entries:
                bag.add(
                    "bag.fetch.not-in-manifest",
                    entry.path,
                    f"{entry.path} is in {rel} but not in {parsed.name}",
                    manifest=parsed.name,
                    line=entry.line,
                )
        size = bag.inventory.payload.get(entry.path)
        if size is None:
            bag.add(
                "bag.fetch.unfetched",
                entry.path,
                f"{entry.path} has not been fetched from {entry.url}",
                url=entry.url,
            )
        elif entry.length is not None and size != entry.length:
            bag.add(
                "bag.fetch.length-mismatch",
                entry.path,
                f"{entry.path} has {size} bytes; {rel} says {entry.length}",
                expected=entry.length,
                found=size,
            )


# -- bag-info ----------------------------------------------------------------------------


def _check_bag_info(bag: _Bag) -> None:
    rel = "bag-info.txt" if "bag-info.txt" in bag.inventory.tags else "package-info.txt"
    data = _read_tag(bag, rel)
    if data is None:
        return
    lines = _decode_tag(bag, rel, data)
    if lines is None:
        return
    elements, bad = baginfo.parse_bag_info(lines, strict=bag.declaration.strict)
    bag.bag_info = elements
    for line in bad:
        bag.add(
            "bag.bag-info.line-malformed",
            rel,
            f"{rel} line {line.line}: {line.reason}",
            line=line.line,
        )
    counts: dict[str, list[baginfo.Element]] = defaultdict(list)
    for element in elements:
        counts[element.label.lower()].append(element)
    for label, repeated in counts.items():
        if len(repeated) > 1 and label in baginfo.NOT_REPEATED and label != "payload-oxum":
            bag.add(
                "bag.bag-info.repeated",
                rel,
                f"{repeated[0].label} appears {len(repeated)} times",
                label=repeated[0].label,
            )
    oxums = counts.get("payload-oxum", [])
    if len(oxums) > 1:
        bag.add(
            "bag.bag-info.oxum-repeated",
            rel,
            f"Payload-Oxum appears {len(oxums)} times",
            line=oxums[1].line,
        )
    if oxums:
        _check_oxum(bag, rel, oxums[0])


def _check_oxum(bag: _Bag, rel: str, element: baginfo.Element) -> None:
    match = _OXUM.match(element.value)
    if not match:
        bag.add(
            "bag.bag-info.oxum-malformed",
            rel,
            f"Payload-Oxum {element.value!r} is not OctetCount.StreamCount",
            line=element.line,
        )
        return
    octets, streams = int(match.group(1)), int(match.group(2))
    found_octets = sum(bag.inventory.payload.values())
    found_streams = len(bag.inventory.payload)
    if (octets, streams) != (found_octets, found_streams):
        bag.add(
            "bag.bag-info.oxum-mismatch",
            rel,
            f"Payload-Oxum says {octets} bytes in {streams} files; the payload has "
            f"{found_octets} bytes in {found_streams} files",
            expected=element.value,
            found=baginfo.oxum(found_octets, found_streams),
        )


# -- names -------------------------------------------------------------------------------


def _check_names(bag: _Bag) -> None:
    keys: dict[str, list[str]] = defaultdict(list)
    for path in [*bag.inventory.payload, *bag.inventory.tags]:
        keys[paths.collision_key(path)].append(path)
        problem = paths.windows_problem(path)
        if problem:
            bag.add("bag.name.windows", path, problem)
    for clashing in keys.values():
        if len(clashing) > 1:
            for path in clashing[1:]:
                bag.add(
                    "bag.name.case-or-normalisation",
                    path,
                    f"{path} and {clashing[0]} differ only in case or normalisation",
                    other=clashing[0],
                )


# -- checksums ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expectation:
    manifest: str
    algorithm: str
    digest: str


def _verify_checksums(bag: _Bag, workers: int) -> None:
    """Every listed file read once for all its algorithms, on every core, results as they come."""
    verifiable = [m for m in bag.manifests if m.supported]
    jobs: list[tuple[str, tuple[str, ...]]] = []
    for rel in sorted({*bag.inventory.payload, *bag.inventory.tags}):
        names = tuple(sorted({m.algorithm for m in verifiable if _expected(bag, m, rel)}))
        if names:
            jobs.append((rel, names))
    sizes = [bag.inventory.size_of(rel) or 0 for rel, _ in jobs]
    outcomes = hashing.run_each(functools.partial(_digest_job, bag.root), jobs, sizes, workers)
    for index, outcome in outcomes:
        rel = jobs[index][0]
        expectations = [
            _Expectation(m.name, m.algorithm, digest)
            for m in verifiable
            if (digest := _expected(bag, m, rel)) is not None
        ]
        _judge(bag, rel, expectations, outcome)


def _expected(bag: _Bag, parsed: Manifest, rel: str) -> str | None:
    """The digest ``parsed`` lists for the bag file ``rel`` (matched by alias too), or None."""
    if parsed.tag == rel.startswith("data/"):
        return None  # payload manifests judge payload files, tag manifests tag files
    digest = parsed.entries.get(rel)
    if digest is None and bag.aliases:
        for listed, actual in bag.aliases.items():
            if actual == rel and listed in parsed.entries:
                return parsed.entries[listed]
    return digest


def _digest_job(
    root: Path, job: tuple[str, tuple[str, ...]], helper: Executor | None
) -> dict[str, str] | str:
    rel, names = job
    return hashing.digest_or_reason(root / rel, names, helper)


def _judge(
    bag: _Bag, rel: str, expectations: Iterable[_Expectation], outcome: dict[str, str] | str
) -> None:
    payload = rel.startswith("data/")
    if isinstance(outcome, str):
        code = "bag.payload.unreadable" if payload else "bag.tag.unreadable"
        bag.add(code, rel, f"cannot read {rel}: {outcome}")
        return
    code = "bag.payload.checksum-mismatch" if payload else "bag.tag.checksum-mismatch"
    for expectation in expectations:
        found = outcome[expectation.algorithm]
        if found != expectation.digest:
            bag.add(
                code,
                rel,
                f"{rel}: {expectation.algorithm} differs from {expectation.manifest}",
                algorithm=expectation.algorithm,
                manifest=expectation.manifest,
                expected=expectation.digest,
                found=found,
            )
