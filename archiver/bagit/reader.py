"""The one bag reader: a bag's files -> one immutable ``Bag``, never trusting them.

Every module that needs to know what a bag says reads it here: the validator, the audit,
the catalog and OAI-PMH provider, the exporters and ingest. No other module opens or
parses a tag file (a test reads the source to keep it so).

What the reader gives (``read_bag``):

- the inventory: every entry under the base directory, no link followed;
- the declaration (bagit.txt): version and tag file encoding;
- bag-info.txt (package-info.txt before 0.96): elements in order, repeats kept, decoded in
  the declared encoding, continuation lines folded into their element (§2.2.2: the line
  break stays in the value, the padding does not);
- every payload and tag manifest, by algorithm, paths decoded (§2.1.3);
- fetch.txt entries;
- the problems met on the way, as findings: a line that is not what its file's grammar
  says, a file not in its declared encoding, a path that would reach outside the bag. What
  could not be read is left out of the model and told, never raised.

Judging the bag as a whole (is every file listed, do the checksums hold) is the
validator's job (``archiver.check.bag``), on this model. Manifests are streamed, never read
whole; small tag files are read whole, up to ``MAX_TAG_FILE`` bytes.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from archiver.bagit import algorithms, baginfo, fetch, manifest, paths, tagfile
from archiver.bagit.files import BagFiles, Entry, Kind, as_files
from archiver.bagit.names import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    FETCH_TXT,
    MAX_TAG_FILE,
    PACKAGE_INFO_TXT,
    PAYLOAD_DIR,
    archive_kind,
)
from archiver.codes import Severity
from archiver.findings import Finding, Summariser, finding

# A digest that can never match: a path listed twice with different checksums.
CONFLICTING = "conflicting"

_KNOWN_VERSIONS = {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)}
_VERSION_STRICT = re.compile(r"^BagIt-Version: ([0-9]+)\.([0-9]+)$")
_VERSION_LENIENT = re.compile(r"^BagIt-Version\s*:\s*([0-9]+)\.([0-9]+)\s*$")
# A version number with more digits than this is unknown whatever it is (and Python will
# not even convert a number of more than 4,300 digits).
_VERSION_DIGITS = 6
_ENCODING_STRICT = re.compile(r"^Tag-File-Character-Encoding: (\S+)$")
_ENCODING_LENIENT = re.compile(r"^Tag-File-Character-Encoding\s*:\s*(\S+)\s*$")


# -- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory:
    """Everything under a bag's base directory, by bag path."""

    payload: Mapping[str, int] = field(default_factory=dict)  # data/... -> size
    tags: Mapping[str, int] = field(default_factory=dict)  # every other file -> size
    directories: frozenset[str] = frozenset()
    symlinks: tuple[str, ...] = ()
    specials: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    has_payload_dir: bool = False

    def size_of(self, path: str) -> int | None:
        return self.payload.get(path, self.tags.get(path))


@dataclass(frozen=True)
class Declaration:
    """What bagit.txt declares (1.0 and UTF-8 when it says nothing readable)."""

    version: tuple[int, int] = (1, 0)
    encoding: str = "UTF-8"  # as written
    codec: str = "utf-8"  # the Python codec tag files are decoded with

    @property
    def strict(self) -> bool:
        """Whether BagIt 1.0's stricter grammar applies."""
        return self.version >= (1, 0)

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


@dataclass(frozen=True)
class Manifest:
    """One payload or tag manifest: its file name, algorithm and entries by decoded path."""

    name: str
    algorithm: str  # as the file name spells it
    tag: bool
    supported: bool
    entries: Mapping[str, str] = field(default_factory=dict)  # path -> lowercase hex digest


Element = baginfo.Element


@dataclass(frozen=True)
class FetchEntry:
    line: int
    url: str
    length: int | None  # None for "-"
    path: str  # decoded, safe, under data/


@dataclass(frozen=True)
class Bag:
    """What a bag says, as read: the input every judgement and every job works from."""

    files: BagFiles
    inventory: Inventory
    declaration: Declaration
    bag_info: tuple[Element, ...] = ()
    bag_info_file: str = BAG_INFO_TXT  # where bag_info came from
    manifests: tuple[Manifest, ...] = ()
    fetch: tuple[FetchEntry, ...] = ()
    problems: tuple[Finding, ...] = ()

    @property
    def location(self) -> str:
        return self.files.location

    @property
    def has_fetch(self) -> bool:
        return FETCH_TXT in self.inventory.tags

    def items(self) -> list[tuple[str, str]]:
        """bag-info as (label, value) pairs, in order, repeats kept."""
        return [(e.label, e.value) for e in self.bag_info]

    def values(self, label: str) -> list[str]:
        """Every value of ``label`` (RFC 8493 §2.2.2: labels compare ignoring case)."""
        wanted = label.lower()
        return [e.value for e in self.bag_info if e.label.lower() == wanted]

    def value(self, label: str) -> str | None:
        """The first value of ``label``, or None."""
        found = self.values(label)
        return found[0] if found else None

    def payload_manifests(self) -> list[Manifest]:
        return [m for m in self.manifests if not m.tag]

    def tag_manifests(self) -> list[Manifest]:
        return [m for m in self.manifests if m.tag]

    def open(self, path: str) -> BinaryIO:
        """A file of the bag, for reading (never through a link); OSError when it cannot be."""
        return self.files.open(path)


# -- reading -----------------------------------------------------------------------------


def read_bag(
    bag: str | os.PathLike[str] | BagFiles,
    *,
    manifests: bool = True,
    fetch_txt: bool = True,
    payload: bool = True,
) -> Bag:
    """Read the bag at ``bag`` (a folder, or any BagFiles). Never raises for what the bag
    holds; OSError only when ``bag`` itself cannot be listed at all.

    ``manifests=False`` (bag-info and declaration only, for a catalog) and
    ``fetch_txt=False`` skip reading those files; ``payload=False`` does not list what
    ``data/`` holds (the inventory's payload is then empty).
    """
    reading = _Reading(as_files(bag))
    reading.take_inventory(with_payload=payload)
    reading.read_declaration()
    reading.read_bag_info()
    if manifests:
        reading.read_manifests()
    if fetch_txt:
        reading.read_fetch()
    return reading.bag()


def holds_bags(folder: str | os.PathLike[str]) -> list[str]:
    """The names of ``folder``'s entries that are bags, sorted: sub-folders holding a bag
    declaration, and regular files named as serialized bags (.tar, .tar.gz, .tgz, .zip).
    Hidden entries and links are never counted. OSError when it cannot be listed."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if os.path.lexists(os.path.join(entry.path, BAGIT_TXT)):
                    found.append(entry.name)
            elif archive_kind(entry.name) is not None and entry.is_file(follow_symlinks=False):
                found.append(entry.name)
    return sorted(found)


def is_bag(folder: str | os.PathLike[str]) -> bool:
    """A folder holding a bag declaration (present, whatever it says)."""
    return os.path.lexists(os.path.join(folder, BAGIT_TXT))


def read_labelled(bag: Bag, name: str) -> tuple[list[Element], list[Finding]]:
    """A tag file other than bag-info written as ``Label: value`` lines (APTrust's
    aptrust-info.txt, say): its elements and the problems met; nothing when it is absent."""
    reading = _Reading(bag.files)
    reading.inventory = bag.inventory
    reading.declaration = bag.declaration
    elements = reading.labelled(name)
    return elements or [], reading.problems


class _Reading:
    """One bag being read: the model's parts as they are found, and the problems met."""

    def __init__(self, files: BagFiles) -> None:
        self.files = files
        self.problems: list[Finding] = []
        self.summariser = Summariser(self.problems)  # a million bad lines: a hundred told
        self.inventory = Inventory()
        self.declaration = Declaration()
        self.bag_info: list[Element] = []
        self.bag_info_file = BAG_INFO_TXT
        self.manifests: list[Manifest] = []
        self.fetch: list[FetchEntry] = []

    def bag(self) -> Bag:
        return Bag(
            self.files,
            self.inventory,
            self.declaration,
            tuple(self.bag_info),
            self.bag_info_file,
            tuple(self.manifests),
            tuple(self.fetch),
            tuple(self.problems),
        )

    def add(self, code: str, path: str, message: str, **params: str | int | None) -> None:
        self.summariser.add(finding(code, path, message, **params))

    def check_line_breaks(self, rel: str, number: int, line: str) -> None:
        character = tagfile.other_line_break(line)
        if character:
            self.add(
                "bag.tagfile.unicode-line-break",
                rel,
                f"holds {character}, where LoC bagit-python and other readers that split "
                "lines as Python does see a line break",
                line=number,
                character=character,
            )

    # -- inventory -----------------------------------------------------------------------

    def take_inventory(self, *, with_payload: bool = True) -> None:
        payload: dict[str, int] = {}
        tags: dict[str, int] = {}
        directories: set[str] = set()
        symlinks: list[str] = []
        specials: list[str] = []
        unreadable: list[str] = []
        has_payload_dir = False
        for problem in getattr(self.files, "problems", ()):  # what an archive's index met
            self.summariser.add(problem)
        for entry in self.files.walk(payload=with_payload):
            rel = entry.path
            if rel == PAYLOAD_DIR and entry.kind in (Kind.DIRECTORY, Kind.SYMLINK):
                has_payload_dir = True
            if entry.kind is Kind.FILE:
                (payload if rel.startswith("data/") else tags)[rel] = entry.size
            elif entry.kind is Kind.DIRECTORY:
                directories.add(rel)
            elif entry.kind is Kind.SYMLINK:
                symlinks.append(rel)
                self.add("bag.path.symlink", rel, "a symbolic link; it was not followed")
            elif entry.kind is Kind.SPECIAL:
                specials.append(rel)
                self.add("bag.path.special-file", rel, "not a regular file; it was not read")
            else:
                unreadable.append(rel)
                payload_side = rel == PAYLOAD_DIR or rel.startswith("data/")
                code = "bag.payload.unreadable" if payload_side else "bag.tag.unreadable"
                self.add(code, rel, "cannot be read")
        self.inventory = Inventory(
            payload,
            tags,
            frozenset(directories),
            tuple(symlinks),
            tuple(specials),
            tuple(unreadable),
            has_payload_dir,
        )

    # -- whole tag files -----------------------------------------------------------------

    def read_whole(self, rel: str) -> bytes | None:
        if rel not in self.inventory.tags:
            return None
        size = self.inventory.tags[rel]
        if size > MAX_TAG_FILE:
            self.add(
                "bag.tag.unreadable",
                rel,
                f"larger than {MAX_TAG_FILE} bytes; not read",
                size=size,
            )
            return None
        try:
            with self.files.open(rel) as handle:
                # read(n) sets n bytes aside at once: ask for what the file holds, not the cap
                data = handle.read(size + 1)
        except OSError as exc:
            self.add("bag.tag.unreadable", rel, f"cannot read: {exc.strerror or exc}")
            return None
        return data[:MAX_TAG_FILE]

    def decode(self, rel: str, data: bytes) -> list[str] | None:
        codec = self.declaration.codec
        if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
            self.add("bag.tagfile.bom", rel, "begins with a UTF-8 byte order mark")
            data = data[3:]
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            self.add(
                "bag.tagfile.undecodable",
                rel,
                f"not valid {codec} (byte offset {exc.start})",
                offset=exc.start,
                encoding=self.declaration.encoding,
            )
            return None
        lines = tagfile.split_lines(text.lstrip("\ufeff")).lines
        for number, line in enumerate(lines, start=1):
            self.check_line_breaks(rel, number, line)
        return lines

    # -- bagit.txt -----------------------------------------------------------------------

    def read_declaration(self) -> None:
        data = self.read_whole(BAGIT_TXT)
        if data is None:
            if BAGIT_TXT not in self.inventory.symlinks:
                self.add("bag.declaration.missing", BAGIT_TXT, "missing")
            return
        bom = tagfile.bom_of(data)
        if bom:
            self.add("bag.declaration.bom", BAGIT_TXT, "must not begin with a byte order mark")
            data = data[len(bom) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.add("bag.declaration.not-utf8", BAGIT_TXT, "must be UTF-8")
            return
        lines = tagfile.split_lines(text).lines
        if len(lines) != 2:
            self.add(
                "bag.declaration.malformed",
                BAGIT_TXT,
                f"must have exactly two lines, it has {len(lines)}",
                lines=len(lines),
            )
        version_line = lines[0] if lines else ""
        encoding_line = lines[1] if len(lines) > 1 else ""
        lenient = _VERSION_LENIENT.match(version_line)
        if not lenient:
            self.add(
                "bag.declaration.malformed",
                BAGIT_TXT,
                "must read 'BagIt-Version: M.N'",
                line=1,
            )
            return
        version = (_version_number(lenient.group(1)), _version_number(lenient.group(2)))
        if version not in _KNOWN_VERSIONS:
            self.add(
                "bag.declaration.version-unknown",
                BAGIT_TXT,
                f"BagIt-Version {version[0]}.{version[1]} is not one we know",
                line=1,
            )
        strict = version >= (1, 0)
        if strict and not _VERSION_STRICT.match(version_line):
            self.add(
                "bag.declaration.malformed",
                BAGIT_TXT,
                "BagIt 1.0 requires exactly 'BagIt-Version: ' with one space after the colon "
                "and none before it",
                line=1,
            )
        match = (_ENCODING_STRICT if strict else _ENCODING_LENIENT).match(encoding_line)
        if not match:
            self.add(
                "bag.declaration.malformed",
                BAGIT_TXT,
                "must read 'Tag-File-Character-Encoding: ENCODING'",
                line=2,
            )
            self.declaration = Declaration(version)
            return
        name = match.group(1)
        codec = tagfile.python_codec(name)
        if codec is None:
            self.add(
                "bag.declaration.encoding-unknown",
                BAGIT_TXT,
                f"{name!r} is not a character encoding archiver knows",
                line=2,
                encoding=name,
            )
            self.declaration = Declaration(version, name)
            return
        if codec != "utf-8":
            self.add(
                "bag.declaration.encoding-not-utf8",
                BAGIT_TXT,
                f"tag files are declared as {name}; UTF-8 is recommended",
                encoding=name,
            )
        self.declaration = Declaration(version, name, codec)

    # -- bag-info.txt --------------------------------------------------------------------

    def read_bag_info(self) -> None:
        tags = self.inventory.tags
        rel = PACKAGE_INFO_TXT if BAG_INFO_TXT not in tags and PACKAGE_INFO_TXT in tags else None
        self.bag_info_file = rel or BAG_INFO_TXT
        self.bag_info = self.labelled(self.bag_info_file, "bag.bag-info.line-malformed") or []

    def labelled(
        self, rel: str, malformed: str = "bag.bag-info.line-malformed"
    ) -> list[Element] | None:
        data = self.read_whole(rel)
        if data is None:
            return None
        lines = self.decode(rel, data)
        if lines is None:
            return None
        elements, bad = baginfo.parse_bag_info(lines, strict=self.declaration.strict)
        for line in bad:
            self.add(malformed, rel, line.reason, line=line.line)
        return elements

    # -- streamed tag files --------------------------------------------------------------

    def stream(self, rel: str, malformed: str) -> Iterator[tuple[int, str]]:
        """A tag file's numbered lines (any of CR, LF, CRLF), decoded as declared, read as a
        stream in one pass. A line too long to be real is told (as ``malformed``) and left
        out; a decoding error ends the lines with a finding naming the line it happened on.
        """
        try:
            handle = self.files.open(rel)
        except OSError as exc:
            self.add("bag.tag.unreadable", rel, f"cannot read: {exc.strerror or exc}")
            return
        codec = self.declaration.codec
        with handle:
            buffered: io.BufferedReader = (
                handle
                if isinstance(handle, io.BufferedReader)
                else io.BufferedReader(cast(Any, handle))
            )
            try:
                bom = codec == "utf-8" and buffered.peek(3)[:3] == codecs.BOM_UTF8
            except OSError as exc:
                self.add("bag.tag.unreadable", rel, f"cannot read: {exc.strerror or exc}")
                return
            if bom:
                self.add("bag.tagfile.bom", rel, "begins with a UTF-8 byte order mark")
                buffered.read(3)
            lines: Iterator[str | tagfile.LongLine]
            if tagfile.ascii_compatible(codec):
                lines = tagfile.decoded_lines(tagfile.byte_lines(buffered), codec)
                unit = "bytes"
            else:  # UTF-16 and the like: line breaks are not single bytes
                lines = tagfile.stream_lines(buffered, codec)
                unit = "characters"
            try:
                for number, line in enumerate(lines, start=1):
                    if isinstance(line, tagfile.LongLine):
                        self.add(
                            malformed,
                            rel,
                            f"a line of {line.length} {unit}, over the {tagfile.MAX_LINE} "
                            "archiver reads; not read",
                            line=number,
                            length=line.length,
                        )
                        continue
                    text = line.lstrip("\ufeff") if number == 1 else line
                    self.check_line_breaks(rel, number, text)
                    yield number, text
            except tagfile.UndecodableLineError as exc:
                self.add(
                    "bag.tagfile.undecodable",
                    rel,
                    f"not valid {codec} ({exc.reason})",
                    line=exc.line,
                    encoding=self.declaration.encoding,
                )
            except OSError as exc:  # a disk error, an archive cut short: the lines end here
                self.add("bag.tag.unreadable", rel, f"cannot read: {exc.strerror or exc}")

    # -- manifests -----------------------------------------------------------------------

    def plain_entries(self, rel: str, digest_length: int) -> dict[str, str] | None:
        """A UTF-8 payload manifest as a writer makes it, parsed a block at a time in C (a
        bag of 100,000 files: half the time of the line-by-line reading); None when it is
        not one, and its lines must be read one by one."""
        if self.declaration.codec != "utf-8":
            return None
        try:
            with self.files.open(rel) as handle:
                return manifest.read_plain_payload(handle, digest_length)
        except OSError:
            return None  # the slow way reads it again, and tells why it cannot

    def read_manifests(self) -> None:
        for rel in sorted(self.inventory.tags):
            match = manifest.NAME.match(rel)
            if not match:
                continue
            tag = match.group(1) is not None
            algorithm = match.group(2)
            supported = algorithms.is_supported(algorithm)
            if not supported:
                self.add(
                    "bag.manifest.algorithm-unsupported",
                    rel,
                    f"algorithm {algorithm!r} is not supported; not verified",
                    algorithm=algorithm,
                )
            elif algorithm in algorithms.WEAK and not tag:
                self.add(
                    "bag.manifest.algorithm-weak",
                    rel,
                    f"{algorithm} is accepted for backward compatibility only",
                    algorithm=algorithm,
                )
            entries = self.manifest_entries(rel, algorithm if supported else None, tag)
            self.manifests.append(Manifest(rel, algorithm, tag, supported, entries))

    def manifest_entries(self, rel: str, algorithm: str | None, tag: bool) -> dict[str, str]:
        expected_length = algorithms.digest_length(algorithm) if algorithm else None
        if not tag and expected_length is not None:
            plain = self.plain_entries(rel, expected_length)
            if plain is not None:
                return plain
        strict = self.declaration.strict
        malformed = "bag.manifest.line-malformed"
        duplicate = Severity.ERROR if strict else Severity.WARNING
        found: dict[str, str] = {}
        for entry in manifest.scan_manifest(self.stream(rel, malformed), version_1_0=strict):
            if isinstance(entry, tagfile.BadLine):
                self.add(malformed, rel, entry.reason, line=entry.line)
                continue
            if entry.starred:
                self.add(
                    "bag.manifest.md5sum-style",
                    rel,
                    "'*' before the path (md5sum style)",
                    line=entry.line,
                )
            if expected_length is not None and len(entry.digest) != expected_length:
                self.add(
                    "bag.manifest.checksum-malformed",
                    rel,
                    f"a {algorithm} checksum has {expected_length} hex digits, "
                    f"not {len(entry.digest)}",
                    line=entry.line,
                )
                continue
            path = entry.path
            if path.startswith("./"):
                path = path[2:]
                self.add(
                    "bag.manifest.path-dot-prefix",
                    rel,
                    f"{entry.raw_path!r} starts with './'",
                    line=entry.line,
                    entry=entry.raw_path,
                )
            reason = paths.unsafe_reason(path)
            if reason:
                self.add(
                    "bag.manifest.path-unsafe",
                    rel,
                    f"{entry.raw_path!r}: {reason}",
                    line=entry.line,
                    entry=entry.raw_path,
                )
                continue
            if not tag and not path.startswith("data/"):
                self.add(
                    "bag.manifest.path-outside-payload",
                    rel,
                    f"{path!r} is not under data/",
                    line=entry.line,
                    entry=path,
                )
                continue
            if path in found:
                self.summariser.add(
                    Finding(
                        "bag.manifest.duplicate-entry",
                        duplicate,
                        rel,
                        f"{path} is listed again",
                        {"line": entry.line, "entry": path},
                    )
                )
                if found[path] != entry.digest:
                    found[path] = CONFLICTING
                continue
            found[path] = entry.digest
        return found

    # -- fetch.txt -----------------------------------------------------------------------

    def read_fetch(self) -> None:
        rel = FETCH_TXT
        if rel not in self.inventory.tags:
            return
        malformed = "bag.fetch.line-malformed"
        lines = self.stream(rel, malformed)
        for entry in fetch.scan_fetch(lines, version_1_0=self.declaration.strict):
            if isinstance(entry, tagfile.BadLine):
                self.add(malformed, rel, entry.reason, line=entry.line)
                continue
            if not fetch.is_absolute_uri(entry.url):
                self.add(
                    "bag.fetch.url-not-absolute",
                    rel,
                    f"{entry.url!r} is not an absolute URI",
                    line=entry.line,
                    url=entry.url,
                )
            reason = paths.unsafe_reason(entry.path)
            if reason:
                self.add(
                    "bag.fetch.path-unsafe",
                    rel,
                    f"{entry.raw_path!r}: {reason}",
                    line=entry.line,
                    entry=entry.raw_path,
                )
                continue
            if not entry.path.startswith("data/"):
                self.add(
                    "bag.fetch.lists-tag-file",
                    rel,
                    f"{entry.path!r} is not under data/",
                    line=entry.line,
                    entry=entry.path,
                )
                continue
            self.fetch.append(FetchEntry(entry.line, entry.url, entry.length, entry.path))


def _version_number(digits: str) -> int:
    return int(digits) if len(digits) <= _VERSION_DIGITS else 10**_VERSION_DIGITS


__all__ = [
    "BAGIT_TXT",
    "BAG_INFO_TXT",
    "FETCH_TXT",
    "PACKAGE_INFO_TXT",
    "Bag",
    "BagFiles",
    "Declaration",
    "Element",
    "Entry",
    "FetchEntry",
    "Inventory",
    "Manifest",
    "read_bag",
    "read_labelled",
]
