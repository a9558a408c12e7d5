"""Corruptors: small, named ways of damaging a bag on disk (tests build the bag first)."""

from __future__ import annotations

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
