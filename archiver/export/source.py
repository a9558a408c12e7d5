"""What an exporter reads from a (validated) source bag, read once, in one shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from archiver import layout
from archiver.check.bag import Inspection, Mode, check_bag
from archiver.record import DC_ELEMENTS, Record, record_from_bag_info
from archiver.xml import parsing
from archiver.xml.namespaces import DC

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
    root: Path
    bag_id: str
    bag_info: tuple[tuple[str, str], ...]
    record: Record  # Dublin Core: metadata/dc.xml, else what bag-info says
    payload: tuple[PayloadFile, ...]
    metadata: dict[str, Path] = field(default_factory=dict)  # "metadata/dc.xml" -> file
    bagit_version: str = "1.0"  # as bagit.txt declares it
    # tag file -> algorithm -> digest, from the tag manifests (supported algorithms)
    tag_digests: dict[str, dict[str, str]] = field(default_factory=dict)

    def bag_info_value(self, label: str) -> str | None:
        for name, value in self.bag_info:
            if name.lower() == label.lower():
                return value
        return None

    @property
    def primary(self) -> PayloadFile | None:
        """The item's main text: the first file of the most text-like kind."""
        for suffix in _TEXT_SUFFIXES:
            for item in self.payload:
                if PurePosixPath(item.path).suffix.lower() == suffix:
                    return item
        return self.payload[0] if self.payload else None


def read_source(root: Path, inspection: Inspection | None = None) -> SourceBag:
    """Read a bag the validator has already found valid, from what it read on the way
    (validation.inspect_bag); without that, the bag's structure is read again (no digests)."""
    if inspection is None:
        inspection = check_bag(root, mode=Mode.COMPLETENESS)
    inventory = inspection.inventory
    items = [(e.label, e.value) for e in inspection.bag_info]
    digests: dict[str, dict[str, str]] = {}
    for algorithm, entries in sorted(inspection.payload_manifests.items()):
        for path, digest in entries.items():
            digests.setdefault(path, {})[algorithm] = digest
    payload = tuple(
        PayloadFile(path, size, digests.get(path, {}))
        for path, size in sorted(inventory.payload.items())
    )
    metadata = {name: root / name for name in layout.METADATA_FILES if name in inventory.tags}
    bag_id = _value(items, "External-Identifier") or root.name
    # No title when neither says one: a target that needs a title refuses such a bag.
    record = _dc_record(metadata.get(layout.DC_XML)) or record_from_bag_info(items, None)
    major, minor = inspection.declaration.version
    version = f"{major}.{minor}"
    tag_digests: dict[str, dict[str, str]] = {}
    for algorithm, entries in sorted(inspection.tag_manifests.items()):
        for path, digest in entries.items():
            tag_digests.setdefault(path, {})[algorithm] = digest
    return SourceBag(root, bag_id, tuple(items), record, payload, metadata, version, tag_digests)


def _value(items: Sequence[tuple[str, str]], label: str) -> str | None:
    return next((v for name, v in items if name.lower() == label.lower()), None)


def _dc_record(path: Path | None) -> Record | None:
    if path is None:
        return None
    with path.open("rb") as handle:
        tree = parsing.parse_file(handle)
    record = Record()
    for element in DC_ELEMENTS:
        values = [
            (e.text or "").strip() for e in tree.getroot().iter(etree.QName(DC, element).text)
        ]
        if values:
            record = record.with_values(element, [v for v in values if v])
    return record
