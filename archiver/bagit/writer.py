"""Writing a plain BagIt bag from parts: payload files (copied, digested once), bag-info,
extra tag files, manifests and tag manifests in the algorithms asked for.

The packer builds archiver bags its own way (with METS and PREMIS); exporters that must
hand a repository a bag of its own shape (Archivematica, APTrust) build it with this.
The caller provides the folder (a staging folder: nothing here is atomic on its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from archiver.bagit import algorithms, baginfo, hashing, manifest

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


@dataclass(frozen=True)
class PayloadPart:
    path: str  # bag path, "data/..."
    source: Path | None = None  # a file to copy...
    content: bytes | None = None  # ...or bytes to write


def write_bag(
    root: Path,
    payload: Iterable[PayloadPart],
    *,
    algorithms_: Sequence[str],
    bag_info: Sequence[tuple[str, str]] = (),
    tag_files: Mapping[str, bytes] | None = None,
    tag_algorithms: Sequence[str] | None = None,
    expected: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Write a BagIt 1.0 bag at ``root`` (created); return payload path -> digests.

    ``expected`` (path -> algorithm -> digest) are checked while copying: a file whose
    bytes differ from what its source bag promised is an error (ValueError), not a bag.
    Payload-Oxum is added to ``bag_info`` (after the given labels).
    """
    root.mkdir(parents=True)
    names = list(dict.fromkeys([*algorithms_, *_expected_names(expected)]))
    digests: dict[str, dict[str, str]] = {}
    total = 0
    for part in payload:
        target = root / part.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if part.source is not None:
            found = hashing.copy_file(part.source, target, names)
            sums, size = found.digests, found.size
        else:
            data = part.content or b""
            target.write_bytes(data)
            sums, size = _digests(data, names), len(data)
        for name, want in (expected or {}).get(part.path, {}).items():
            if sums.get(name) != want.lower():
                raise ValueError(f"{part.path}: {name} is {sums.get(name)}, its bag said {want}")
        digests[part.path] = {n: sums[n] for n in algorithms_}
        total += size
    tags: dict[str, bytes] = {"bagit.txt": BAGIT_TXT}
    info = [*bag_info, ("Payload-Oxum", baginfo.oxum(total, len(digests)))]
    tags["bag-info.txt"] = baginfo.format_bag_info(info)
    for name in algorithms_:
        entries = ((path, sums[name]) for path, sums in digests.items())
        tags[manifest.payload_manifest_name(name)] = manifest.format_manifest(entries)
    tags.update(tag_files or {})
    for path, data in tags.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    for name in tag_algorithms if tag_algorithms is not None else algorithms_:
        entries = ((path, _digests(data, [name])[name]) for path, data in tags.items())
        (root / manifest.tag_manifest_name(name)).write_bytes(manifest.format_manifest(entries))
    return digests


def _expected_names(expected: Mapping[str, Mapping[str, str]] | None) -> list[str]:
    names = {name for sums in (expected or {}).values() for name in sums}
    return sorted(n for n in names if algorithms.is_supported(n))


def _digests(data: bytes, names: Sequence[str]) -> dict[str, str]:
    found = {}
    for name in names:
        h = algorithms.new(name)
        h.update(data)
        found[name] = h.hexdigest()
    return found
