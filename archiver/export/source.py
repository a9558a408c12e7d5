"""What an exporter (or ingest) takes from a validated source bag, in one shape.

Everything here comes from the one bag reader's model and the validator's inspection of
it (``validation.inspect_bag``): nothing is read from the bag again but the Dublin Core
record, parsed from metadata/dc.xml, and the metadata files an exporter copies as they are
(``metadata_file``), both through the reader's file access. Payload files are copied by
path (``root / path``), or a serialized bag's as members of its archive (``file``),
digested as they are copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from archiver import layout
from archiver.bagit import algorithms
from archiver.bagit.files import BagFile, FolderFiles
from archiver.bagit.names import archived_bag_id
from archiver.bagit.reader import Bag
from archiver.check.bag import Inspection, Mode, check_bag
from archiver.errors import SourceError
from archiver.record import Record, record_from_bag_info
from archiver.xml import dc

# Payload files a repository will call the item's main text, by preference.
_TEXT_SUFFIXES = (".txt", ".md", ".text", ".html", ".htm", ".xml", ".pdf")


@dataclass(frozen=True)
class PayloadFile:
    path: str  # bag path, "data/..."
    size: int
    digests: dict[str, str]  # algorithm -> hex, from the bag's manifests (supported ones)

    @property
    def name(self) -> str:
        """The path inside data/, as the depositor named it."""
        return self.path.removeprefix("data/")


@dataclass(frozen=True)
class SourceBag:
    bag: Bag  # as the reader read it
    bag_id: str
    record: Record  # Dublin Core: metadata/dc.xml, else what bag-info says
    payload: tuple[PayloadFile, ...]
    # our metadata files the bag holds ("metadata/dc.xml"...), in layout order
    metadata: tuple[str, ...] = ()
    # tag file -> algorithm -> digest, from the tag manifests (supported algorithms)
    tag_digests: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return Path(self.bag.location)

    @property
    def bag_info(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.bag.items())

    @property
    def bagit_version(self) -> str:
        return self.bag.declaration.version_text

    def bag_info_value(self, label: str) -> str | None:
        return self.bag.value(label)

    def file(self, path: str) -> Path | BagFile:
        """A payload file to copy: its path in a folder bag, the member of a serialized bag
        (read in place, never extracted)."""
        if isinstance(self.bag.files, FolderFiles):
            return self.root / path
        return BagFile(self.bag.files, path)

    def read(self, path: str) -> bytes:
        """A (small) file of the bag, whole, through the reader's file access."""
        with self.bag.open(path) as handle:
            return handle.read()

    def metadata_file(self, path: str) -> bytes:
        """One of the bag's metadata files, read through the reader and checked against the
        bag's tag manifests; SourceError when it cannot be read or has changed since the bag
        was validated."""
        try:
            data = self.read(path)
        except OSError as exc:
            raise SourceError(f"{self.root / path}: cannot read: {exc.strerror or exc}") from exc
        for algorithm, want in sorted(self.tag_digests.get(path, {}).items()):
            found = algorithms.new(algorithm)
            found.update(data)
            if found.hexdigest() != want.lower():
                raise SourceError(
                    f"{self.root / path}: {algorithm} is {found.hexdigest()}, its bag said "
                    f"{want}; it changed since it was validated"
                )
        return data

    @property
    def primary(self) -> PayloadFile | None:
        """The item's main text: the first file of the most text-like kind."""
        for suffix in _TEXT_SUFFIXES:
            for item in self.payload:
                if PurePosixPath(item.path).suffix.lower() == suffix:
                    return item
        return self.payload[0] if self.payload else None


def read_source(root: Path, inspection: Inspection | None = None) -> SourceBag:
    """A bag the validator has already found valid, from what it read on the way
    (validation.inspect_bag); without that, the bag's structure is read again (no digests)."""
    if inspection is None:
        inspection = check_bag(root, mode=Mode.COMPLETENESS)
    bag = inspection.bag
    digests: dict[str, dict[str, str]] = {}
    for algorithm, entries in sorted(inspection.payload_manifests.items()):
        for path, digest in entries.items():
            digests.setdefault(path, {})[algorithm] = digest
    payload = tuple(
        PayloadFile(path, size, digests.get(path, {}))
        for path, size in sorted(bag.inventory.payload.items())
    )
    metadata = tuple(name for name in layout.METADATA_FILES if name in bag.inventory.tags)
    bag_id = bag.value("External-Identifier") or (
        archived_bag_id(root.name) if not isinstance(bag.files, FolderFiles) else root.name
    )
    # No title when neither says one: a target that needs a title refuses such a bag.
    record = (_dc_record(bag) if layout.DC_XML in metadata else None) or record_from_bag_info(
        bag.items(), None
    )
    tag_digests: dict[str, dict[str, str]] = {}
    for algorithm, entries in sorted(inspection.tag_manifests.items()):
        for path, digest in entries.items():
            tag_digests.setdefault(path, {})[algorithm] = digest
    return SourceBag(bag, bag_id, record, payload, metadata, tag_digests)


def _dc_record(bag: Bag) -> Record | None:
    with bag.open(layout.DC_XML) as handle:
        return dc.read_dc(handle)
