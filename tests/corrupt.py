"""Corruptors: small, named ways of damaging a bag on disk (tests build the bag first)."""

from __future__ import annotations

import codecs
import hashlib
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path


def flip_byte(path: Path, offset: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path, size: int = 10) -> None:
    path.write_bytes(path.read_bytes()[:size])


def drop_manifest_line(manifest: Path, containing: str) -> None:
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if containing not in line]
    assert len(kept) == len(lines) - 1, f"expected one line with {containing!r}"
    manifest.write_text("".join(kept), encoding="utf-8")


def add_manifest_line(manifest: Path, line: str) -> None:
    with manifest.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def replace_in(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data, f"{old!r} not in {path}"
    path.write_bytes(data.replace(old, new, 1))


# -- More corruptors (tests/test_finding_codes.py, tests/test_robustness.py) -------------------
# Each damages a bag on disk in one named way; ``reseal_tag_manifests`` and ``resealed`` then
# bring the tag manifests up to date, so that only the intended damage is left to find.

# Linux PATH_MAX: a path of this many bytes (with its terminating NUL) cannot be passed to the
# kernel, so a folder this deep can be created (relative to an open parent) but never listed.
PATH_MAX = 4096


def delete(path: Path) -> None:
    """Remove a file, a symlink or a whole folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def replace_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def prepend_bom(path: Path) -> None:
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())


def append_bytes(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def duplicate_line(path: Path, containing: str) -> None:
    """Write the one line holding ``containing`` a second time, at the end."""
    lines = path.read_bytes().splitlines(keepends=True)
    found = [line for line in lines if containing.encode() in line]
    assert len(found) == 1, f"expected one line with {containing!r}"
    path.write_bytes(b"".join([*lines, found[0]]))


def make_fifo(path: Path) -> None:
    """A named pipe: opening it for reading blocks until a writer comes, reading it never ends."""
    os.mkfifo(path)


def symlink_to(path: Path, target: Path) -> None:
    """Replace ``path`` (if it exists) by a symbolic link to ``target``."""
    if path.exists() or path.is_symlink():
        path.unlink()
    os.symlink(target, path)


def inflate_sparse(path: Path, size: int) -> None:
    """Make ``path`` ``size`` bytes long with a hole: big on paper, cheap on disk."""
    with path.open("r+b") as handle:
        handle.truncate(size)


def beyond_path_max(folder: Path, component: str = "d" * 200) -> Path:
    """The folder ``folder/component/component/...`` nested just past PATH_MAX (no I/O)."""
    deepest = folder
    while len(os.fsencode(deepest)) < PATH_MAX:
        deepest = deepest / component
    return deepest


def bury_beyond_path_max(folder: Path, component: str = "d" * 200) -> Path:
    """Create ``beyond_path_max(folder)`` with a file in it; return the unlistable folder.

    Built one level at a time relative to an open parent (``dir_fd``), as the kernel
    refuses the whole path: every folder above the deepest one can still be listed.
    """
    deepest = beyond_path_max(folder, component)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in deepest.relative_to(folder).parts:
            os.mkdir(component, dir_fd=fd)
            child = os.open(component, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("buried.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
        os.write(leaf, b"too deep to be listed\n")
        os.close(leaf)
    finally:
        os.close(fd)
    return deepest


def _decode_manifest_path(raw: str) -> str:
    return re.sub(
        r"%(0[AaDd]|25)", lambda m: {"0a": "\n", "0d": "\r", "25": "%"}[m.group(1).lower()], raw
    )


def _encode_manifest_path(path: str) -> str:
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def reseal_tag_manifests(bag: Path) -> None:
    """Recompute every digest in every tagmanifest-ALG.txt for the files it lists (UTF-8 bags)."""
    for tag_manifest in sorted(bag.glob("tagmanifest-*.txt")):
        algorithm = tag_manifest.name[len("tagmanifest-") : -len(".txt")]
        lines = []
        for line in tag_manifest.read_text(encoding="utf-8").splitlines():
            _, _, raw = line.partition("  ")
            target = bag / _decode_manifest_path(raw)
            digest = hashlib.new(algorithm, target.read_bytes()).hexdigest()
            lines.append(f"{digest}  {raw}\n")
        tag_manifest.write_text("".join(lines), encoding="utf-8")


def resealed(corruption: Callable[[Path], object]) -> Callable[[Path], None]:
    """``corruption`` on a bag, then its tag manifests brought up to date."""

    def apply(bag: Path) -> None:
        corruption(bag)
        reseal_tag_manifests(bag)

    apply.__name__ = f"resealed({getattr(corruption, '__name__', 'corruption')})"
    return apply


def add_payload_file(bag: Path, rel: str, data: bytes) -> None:
    """A new payload file, properly listed in every payload manifest and the Payload-Oxum."""
    target = bag / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    for payload_manifest in sorted(bag.glob("manifest-*.txt")):
        algorithm = payload_manifest.name[len("manifest-") : -len(".txt")]
        digest = hashlib.new(algorithm, data).hexdigest()
        add_manifest_line(payload_manifest, f"{digest}  {_encode_manifest_path(rel)}")
    bag_info = bag / "bag-info.txt"
    if bag_info.exists():
        text = bag_info.read_text(encoding="utf-8")
        match = re.search(r"^Payload-Oxum: (\d+)\.(\d+)$", text, flags=re.MULTILINE)
        if match:
            octets, streams = int(match.group(1)) + len(data), int(match.group(2)) + 1
            text = text.replace(match.group(0), f"Payload-Oxum: {octets}.{streams}")
            bag_info.write_text(text, encoding="utf-8")
    reseal_tag_manifests(bag)


def fill_random(path: Path, size: int = 64 << 10, seed: int = 8493) -> None:
    """Replace the file by ``size`` random (but reproducible) bytes."""
    path.write_bytes(random.Random(seed).randbytes(size))


def one_long_line(path: Path, size: int = 10_000_000) -> None:
    """Replace the file by one line of ``size`` printable characters, no line break."""
    path.write_bytes(b"x" * size)


INVALID_UTF8 = (
    b"\xc3\x28 lone continuation \x80\xbf overlong \xc0\xaf surrogate \xed\xa0\x80 "
    b"truncated \xf0\x9f\x98 end \xff\xfe\n"
)


def invalid_utf8(path: Path) -> None:
    """Replace the file by text whose bytes are not UTF-8 (every classic mistake)."""
    path.write_bytes(INVALID_UTF8)


def empty(path: Path) -> None:
    path.write_bytes(b"")
