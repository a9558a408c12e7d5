"""Every bag.* and metadata.* finding code, each produced by one named corruption of a bag.

A case builds a bag in tmp_path -- an archiver bag with the real ``archiver bag``, or a
foreign bag by hand (BagIt 0.97 with MD5 manifests, ISO-8859-1 or UTF-16 tag files,
fetch.txt...) -- applies one corruption, runs ``archiver validate --json`` and checks the
finding the corruption must produce: its code, severity, path and structured params, and the
exit code (1 when an error is expected, 0 when only warnings or notices are). Cases are named
after the code they produce (``CODE`` or ``CODE:variant``); a guard keeps the cases and the
catalogue in step, so a new code without a case fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import unicodedata
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver import resources
from archiver.bagit import names
from archiver.bagit.tagfile import MAX_LINE
from archiver.codes import CATALOGUE
from tests import corrupt
from tests.conftest import CliRunner, iter_findings, make_source_tree, watch_opens
from tests.test_packing import validator

Json = dict[str, Any]
Corruption = Callable[[Path], object]
Builder = Callable[[Path, CliRunner], Path]
Params = Mapping[str, str | int | None]

A_TXT = b"The first text.\n"
B_TXT = b"The second text.\n" * 40
PAYLOAD = {"data/a.txt": A_TXT, "data/sub/b.txt": B_TXT}
REMOTE = b"fetched later\n"
REMOTE_URL = "https://example.org/remote.txt"
ZEROS_256 = "0" * 64
NFC_CAFE = unicodedata.normalize("NFC", "data/café.txt")
NFD_CAFE = unicodedata.normalize("NFD", "data/café.txt")


def digest(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


A_SHA256 = digest("sha256", A_TXT)


# -- bags ------------------------------------------------------------------------------------


def archiver_bag(tmp_path: Path, cli: CliRunner, files: Mapping[str, bytes] | None = None) -> Path:
    """An archiver bag made by the real CLI: data/a.txt and data/sub/b.txt unless told."""
    source = make_source_tree(tmp_path / "src", dict(files or {"a.txt": A_TXT, "sub/b.txt": B_TXT}))
    run = cli("bag", source, "--out", tmp_path / "bags", "--id", "b")
    assert run.code == 0, run.err
    return tmp_path / "bags" / "b"


def _encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: percent-encode %, CR and LF, and nothing else."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def write_foreign_bag(
    root: Path,
    files: Mapping[str, bytes] = PAYLOAD,
    *,
    version: str = "1.0",
    encoding: str = "UTF-8",
    algorithms: Sequence[str] = ("sha256",),
    tag_algorithms: Sequence[str] = (),
    bag_info: Sequence[tuple[str, str]] | None = (
        ("Bagging-Date", "2026-11-27"),
        ("Source-Organization", "Elsewhere"),
    ),
    holes: Mapping[str, bytes] | None = None,
    fetch: Sequence[str] = (),
) -> Path:
    """A bag written by hand, as another tool would: ``files`` (bag path -> bytes) on disk,
    ``holes`` listed in the manifests but not on disk, tag files in ``encoding``.
    bag-info.txt ends with the Payload-Oxum of the files on disk."""

    def write_text(rel: str, lines: Sequence[str]) -> None:
        (root / rel).write_bytes("".join(f"{line}\n" for line in lines).encode(encoding))

    (root / "data").mkdir(parents=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "bagit.txt").write_bytes(
        f"BagIt-Version: {version}\nTag-File-Character-Encoding: {encoding}\n".encode()
    )
    listed = sorted({**files, **(holes or {})}.items())
    for algorithm in algorithms:
        write_text(
            f"manifest-{algorithm}.txt",
            [f"{digest(algorithm, data)}  {_encode_path(rel)}" for rel, data in listed],
        )
    if bag_info is not None:
        oxum = f"{sum(len(data) for data in files.values())}.{len(files)}"
        write_text(
            "bag-info.txt",
            [f"{label}: {value}" for label, value in bag_info] + [f"Payload-Oxum: {oxum}"],
        )
    if fetch:
        write_text("fetch.txt", fetch)
    tag_files = sorted(p.name for p in root.iterdir() if p.is_file())
    for algorithm in tag_algorithms:
        write_text(
            f"tagmanifest-{algorithm}.txt",
            [f"{digest(algorithm, (root / rel).read_bytes())}  {rel}" for rel in tag_files],
        )
    return root


def foreign(**options: Any) -> Builder:
    """A builder of a hand-written bag (``write_foreign_bag`` options)."""

    def build(tmp_path: Path, cli: CliRunner) -> Path:
        return write_foreign_bag(tmp_path / "bag", **options)

    build.__name__ = f"foreign({', '.join(f'{k}={v!r}' for k, v in options.items())})"
    return build


def archiver_with(files: Mapping[str, bytes]) -> Builder:
    def build(tmp_path: Path, cli: CliRunner) -> Path:
        return archiver_bag(tmp_path, cli, files)

    return build


def archived(
    kind: str, extra: Sequence[tuple[str, bytes, bytes]] = (), *, then: Corruption | None = None
) -> Builder:
    """A builder of the foreign bag serialized as ``bag.<kind>`` (its one top folder
    ``bag``), with ``extra`` members (name, tar type, content) after it; ``then`` corrupts
    the archive file itself."""

    def build(tmp_path: Path, cli: CliRunner) -> Path:
        folder = write_foreign_bag(tmp_path / "bag")
        target = tmp_path / f"bag.{kind}"
        if kind == "zip":
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.rglob("*")):
                    archive.write(path, path.relative_to(tmp_path).as_posix())
                for name, _, data in extra:
                    archive.writestr(name, data)
        else:
            with tarfile.open(target, "w", format=tarfile.GNU_FORMAT) as archive:
                archive.add(folder, arcname="bag")
                for name, kind_of, data in extra:
                    info = tarfile.TarInfo(name)
                    info.type, info.size = kind_of, len(data)
                    archive.addfile(info, io.BytesIO(data))
        if then is not None:
            then(target)
        return target

    build.__name__ = f"archived({kind!r}, {[name for name, _, _ in extra]!r})"
    return build


def _encrypt_flag(name: str) -> Corruption:
    """Sets the "encrypted" flag of zip entry ``name`` (local header and central record)."""

    def apply(archive: Path) -> None:
        data = bytearray(archive.read_bytes())
        for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
            start = 0
            while (start := data.find(signature, start)) != -1:
                if data[start + name_at : start + name_at + len(name)] == name.encode():
                    data[start + flag_at] |= 0x1
                start += 4
        archive.write_bytes(bytes(data))

    return apply


FETCH_LINE = f"{REMOTE_URL} {len(REMOTE)} data/remote.txt"
FETCHED = foreign(files={**PAYLOAD, "data/remote.txt": REMOTE}, fetch=[FETCH_LINE])
HOLEY = foreign(holes={"data/remote.txt": REMOTE}, fetch=[FETCH_LINE])
PERCENT_FILES = {"a.txt": A_TXT, "50% off.txt": b"half price\n", "100%25.txt": b"sure\n"}


# -- corruptions -----------------------------------------------------------------------------


def on(rel: str, corruptor: Callable[..., object], *args: object) -> Corruption:
    """``corruptor(bag / rel, *args)``, named after both."""

    def apply(bag: Path) -> None:
        corruptor(bag / rel, *args)

    apply.__name__ = f"{corruptor.__name__}({rel})"
    return apply


def replace_with_a_file(bag: Path) -> None:
    shutil.rmtree(bag)
    bag.write_text("not a bag\n")


def move_into_a_collection(bag: Path) -> None:
    # the path now names a folder of bags (a collection), not a bag
    aside = bag.with_name(bag.name + ".aside")
    bag.rename(aside)
    bag.mkdir()
    aside.rename(bag / "inner")


def as_built(bag: Path) -> None:
    """No corruption: the bag as its builder wrote it is the case."""


def rename_manifest_to_foo(bag: Path) -> None:
    (bag / "manifest-sha256.txt").rename(bag / "manifest-foo.txt")


def copy_manifest_as_foo(bag: Path) -> None:
    (bag / "manifest-foo.txt").write_bytes((bag / "manifest-sha256.txt").read_bytes())


def list_md5_digest_in_sha256_manifest(bag: Path) -> None:
    corrupt.replace_in(
        bag / "manifest-sha256.txt", A_SHA256.encode(), digest("md5", A_TXT).encode()
    )


def bury_payload_folder_beyond_path_max(bag: Path) -> None:
    corrupt.bury_beyond_path_max(bag / "data" / "deep")


def bury_tag_folder_beyond_path_max(bag: Path) -> None:
    corrupt.bury_beyond_path_max(bag / "extra")


def list_payload_file_in_tag_manifest(bag: Path) -> None:
    corrupt.add_manifest_line(bag / "tagmanifest-sha256.txt", f"{A_SHA256}  data/a.txt")


def list_tag_manifest_in_tag_manifest(bag: Path) -> None:
    other = digest("sha256", (bag / "tagmanifest-sha512.txt").read_bytes())
    corrupt.add_manifest_line(bag / "tagmanifest-sha256.txt", f"{other}  tagmanifest-sha512.txt")


def inflate_bag_info_past_the_tag_file_limit(bag: Path) -> None:
    corrupt.inflate_sparse(bag / "bag-info.txt", names.MAX_TAG_FILE + 1)


def link_payload_file_outside(bag: Path) -> None:
    secret = bag.parent / "outside-secret.txt"
    secret.write_text("a secret outside the bag\n")
    corrupt.symlink_to(bag / "data" / "link.txt", secret)


def pipe_in_payload(bag: Path) -> None:
    """A FIFO inside data/, listed in the manifest too: a naive validator would hash it."""
    corrupt.make_fifo(bag / "data" / "pipe")
    corrupt.add_manifest_line(bag / "manifest-sha256.txt", f"{ZEROS_256}  data/pipe")


def list_nfc_name_as_nfd(bag: Path) -> None:
    corrupt.replace_in(bag / "manifest-sha256.txt", NFC_CAFE.encode(), NFD_CAFE.encode())


def add_described_nowhere(bag: Path) -> None:
    corrupt.add_payload_file(bag, "data/extra.txt", b"listed, but not in METS or PREMIS\n")


def list_percent_name_raw(bag: Path) -> None:
    """The manifest lists data/100%25.txt as written on disk, not encoded as 100%2525."""
    corrupt.replace_in(bag / "manifest-sha256.txt", b"data/100%2525.txt", b"data/100%25.txt")


def drop_remote_from_sha512(bag: Path) -> None:
    corrupt.drop_manifest_line(bag / "manifest-sha512.txt", "data/remote.txt")


# -- expectations ----------------------------------------------------------------------------


def listed_digest(bag: Path, manifest: str, path: str) -> str:
    for line in (bag / manifest).read_text(encoding="utf-8").splitlines():
        checksum, _, listed = line.partition("  ")
        if listed == path:
            return checksum
    raise AssertionError(f"{path} not in {manifest}")


def mismatch(manifest: str, algorithm: str, path: str) -> Callable[[Path], Params]:
    """The params of a checksum mismatch: what the manifest says and what the file hashes to."""

    def params(bag: Path) -> Params:
        return {
            "algorithm": algorithm,
            "manifest": manifest,
            "expected": listed_digest(bag, manifest, path),
            "found": digest(algorithm, (bag / path).read_bytes()),
        }

    return params


def offset_of(rel: str, needle: bytes) -> Callable[[Path], Params]:
    def params(bag: Path) -> Params:
        return {"offset": (bag / rel).read_bytes().index(needle)}

    return params


def line_of(rel: str, needle: bytes) -> Callable[[Path], Params]:
    def params(bag: Path) -> Params:
        lines = (bag / rel).read_bytes().splitlines()
        return {"line": next(n for n, line in enumerate(lines, start=1) if needle in line)}

    return params


def bag_path(folder: Callable[[Path], Path]) -> Callable[[Path], str]:
    def path(bag: Path) -> str:
        return folder(bag).relative_to(bag).as_posix()

    return path


@dataclass(frozen=True)
class Expect:
    code: str
    path: str | Callable[[Path], str]
    params: Params | Callable[[Path], Params] | None = None
    severity: str | None = None  # the catalogue's unless given (0.97 downgrades a few)

    def resolved(self, bag: Path) -> tuple[str, Params, str]:
        path = self.path(bag) if callable(self.path) else self.path
        params = self.params(bag) if callable(self.params) else (self.params or {})
        return path, params, self.severity or str(CATALOGUE[self.code].severity)


@dataclass(frozen=True)
class Case:
    name: str  # the code it must produce, then ":variant" when a code has several cases
    build: Builder
    corrupt: Corruption
    expect: tuple[Expect, ...]
    isolated: bool = False  # run the CLI in a child process with a timeout: it could hang

    @property
    def code(self) -> str:
        return self.name.split(":")[0]

    @property
    def exit_code(self) -> int:
        severities = {e.severity or str(CATALOGUE[e.code].severity) for e in self.expect}
        return 1 if "error" in severities else 0


def case(
    name: str,
    build: Builder,
    corruption: Corruption,
    path: str | Callable[[Path], str],
    params: Params | Callable[[Path], Params] | None = None,
    *,
    severity: str | None = None,
    also: Sequence[Expect] = (),
    isolated: bool = False,
) -> Case:
    main = Expect(name.split(":")[0], path, params, severity)
    return Case(name, build, corruption, (main, *also), isolated)


ARCHIVER = archiver_bag
FOREIGN = foreign()
MD5_097 = foreign(version="0.97", algorithms=("md5",))
OXUM = "Payload-Oxum: 696.2"  # 16 + 680 bytes in 2 files: line 3 of the foreign bag-info.txt
DECLARATION = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

CASES = [
    # -- bagit.txt
    case("bag.not-a-bag:a-file", ARCHIVER, replace_with_a_file, ""),
    case("bag.not-a-bag:a-collection", ARCHIVER, move_into_a_collection, "", {"bags": 1}),
    case("bag.declaration.missing", ARCHIVER, on("bagit.txt", corrupt.delete), "bagit.txt"),
    case(
        "bag.declaration.malformed:space-before-colon",
        ARCHIVER,
        on("bagit.txt", corrupt.replace_in, b"BagIt-Version:", b"BagIt-Version :"),
        "bagit.txt",
        {"line": 1},
    ),
    case(
        "bag.declaration.malformed:three-lines",
        ARCHIVER,
        on("bagit.txt", corrupt.append_bytes, b"Bag-Software-Agent: elsewhere\n"),
        "bagit.txt",
        {"lines": 3},
    ),
    case(
        "bag.declaration.malformed:no-encoding-separator",
        ARCHIVER,
        on("bagit.txt", corrupt.replace_in, b"Encoding: UTF-8", b"Encoding UTF-8"),
        "bagit.txt",
        {"line": 2},
    ),
    case("bag.declaration.bom", ARCHIVER, on("bagit.txt", corrupt.prepend_bom), "bagit.txt"),
    case(
        "bag.declaration.not-utf8",
        ARCHIVER,
        on("bagit.txt", corrupt.replace_file, DECLARATION.replace(b"UTF-8", b"UTF-8 \xa9 1999")),
        "bagit.txt",
    ),
    case(
        "bag.declaration.version-unknown",
        ARCHIVER,
        on("bagit.txt", corrupt.replace_in, b"Version: 1.0", b"Version: 2.0"),
        "bagit.txt",
        {"line": 1},
    ),
    case(
        "bag.declaration.version-unknown:5000-digits",
        ARCHIVER,
        on("bagit.txt", corrupt.replace_in, b"Version: 1.0", b"Version: " + b"1" * 5000 + b".0"),
        "bagit.txt",
        {"line": 1},
    ),
    case(
        "bag.declaration.encoding-unknown",
        ARCHIVER,
        on("bagit.txt", corrupt.replace_in, b"UTF-8", b"X-KLINGON"),
        "bagit.txt",
        {"line": 2, "encoding": "X-KLINGON"},
    ),
    case(
        "bag.declaration.encoding-not-utf8:iso-8859-1",
        foreign(
            files={**PAYLOAD, NFC_CAFE: b"cafe\n"},
            encoding="ISO-8859-1",
            tag_algorithms=("sha256",),
            bag_info=[("Source-Organization", "Bibliothèque nationale")],
        ),
        as_built,
        "bagit.txt",
        {"encoding": "ISO-8859-1"},
    ),
    case(
        "bag.declaration.encoding-not-utf8:utf-16",
        foreign(
            files={**PAYLOAD, NFC_CAFE: b"cafe\n"},
            encoding="UTF-16",
            tag_algorithms=("sha256",),
            bag_info=[("Source-Organization", "Bibliothèque nationale")],
        ),
        as_built,
        "bagit.txt",
        {"encoding": "UTF-16"},
    ),
    case("bag.payload-directory.missing", ARCHIVER, on("data", corrupt.delete), "data"),
    # -- payload manifests
    case(
        "bag.manifest.missing",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.delete),
        "manifest-sha512.txt",  # the manifest a bag SHOULD have (§2.4)
    ),
    case(
        "bag.manifest.unverifiable",
        FOREIGN,
        rename_manifest_to_foo,
        "manifest-foo.txt",
        also=[
            Expect("bag.manifest.algorithm-unsupported", "manifest-foo.txt", {"algorithm": "foo"})
        ],
    ),
    case(
        "bag.manifest.algorithm-unsupported",
        FOREIGN,
        copy_manifest_as_foo,
        "manifest-foo.txt",
        {"algorithm": "foo"},
    ),
    case(
        "bag.manifest.algorithm-weak",
        MD5_097,
        as_built,
        "manifest-md5.txt",
        {"algorithm": "md5"},
    ),
    case(
        "bag.manifest.line-malformed:no-whitespace",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.append_bytes, ZEROS_256.encode() + b"data/x.txt\n"),
        "manifest-sha256.txt",
        {"line": 3},
    ),
    case(
        "bag.manifest.line-malformed:not-hexadecimal",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.append_bytes, b"0xdeadbeef  data/a.txt\n"),
        "manifest-sha256.txt",
        {"line": 3},
    ),
    case(
        "bag.manifest.line-malformed:no-path",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.append_bytes, ZEROS_256.encode() + b"  \n"),
        "manifest-sha256.txt",
        {"line": 3},
    ),
    case(
        "bag.manifest.line-malformed:blank-line",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.replace_in, b"a.txt\n", b"a.txt\n\n"),
        "manifest-sha256.txt",
        {"line": 2},
    ),
    case(
        "bag.manifest.line-malformed:longer-than-archiver-reads",
        FOREIGN,
        on(
            "manifest-sha256.txt",
            corrupt.append_bytes,
            ZEROS_256.encode() + b"  data/" + b"x" * MAX_LINE + b"\n",
        ),
        "manifest-sha256.txt",
        {"line": 3, "length": 64 + len(b"  data/") + MAX_LINE},
    ),
    case(
        "bag.manifest.checksum-malformed",
        FOREIGN,
        list_md5_digest_in_sha256_manifest,
        "manifest-sha256.txt",
        {"line": 1},
    ),
    case(
        "bag.manifest.path-unsafe:dot-dot",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.add_manifest_line, f"{ZEROS_256}  ../outside.txt"),
        "manifest-sha256.txt",
        {"line": 3, "entry": "../outside.txt"},
    ),
    case(
        "bag.manifest.path-unsafe:absolute",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.add_manifest_line, f"{ZEROS_256}  /etc/passwd"),
        "manifest-sha256.txt",
        {"line": 3, "entry": "/etc/passwd"},
    ),
    case(
        "bag.manifest.path-outside-payload",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.add_manifest_line, f"{ZEROS_256}  bagit.txt"),
        "manifest-sha256.txt",
        {"line": 3, "entry": "bagit.txt"},
    ),
    case(
        "bag.manifest.duplicate-entry",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.duplicate_line, "data/a.txt"),
        "manifest-sha256.txt",
        {"line": 3, "entry": "data/a.txt"},
    ),
    case(
        "bag.manifest.duplicate-entry:0.97-warns",
        foreign(version="0.97"),
        on("manifest-sha256.txt", corrupt.duplicate_line, "data/a.txt"),
        "manifest-sha256.txt",
        {"line": 3, "entry": "data/a.txt"},
        severity="warning",
    ),
    case(
        "bag.manifest.lists-directory",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.add_manifest_line, f"{ZEROS_256}  data/sub"),
        "manifest-sha256.txt",
        {"entry": "data/sub"},
    ),
    case(
        "bag.manifest.md5sum-style",
        MD5_097,
        on("manifest-md5.txt", corrupt.replace_in, b"  data/a.txt", b" *data/a.txt"),
        "manifest-md5.txt",
        {"line": 1},
    ),
    case(
        "bag.manifest.file-unlisted",
        ARCHIVER,
        on("data/extra.txt", corrupt.replace_file, b"not listed\n"),
        "data/extra.txt",
        {"manifest": "manifest-sha256.txt"},
    ),
    case(
        "bag.manifest.file-unlisted:percent-listed-raw",
        archiver_with(PERCENT_FILES),
        corrupt.resealed(list_percent_name_raw),
        "data/100%25.txt",
        {"manifest": "manifest-sha256.txt"},
        also=[
            Expect("bag.payload.file-missing", "data/100%.txt", {"manifest": "manifest-sha256.txt"})
        ],
    ),
    case(
        "bag.manifest.path-dot-prefix",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.replace_in, b"  data/a.txt", b"  ./data/a.txt"),
        "manifest-sha256.txt",
        {"line": 1, "entry": "./data/a.txt"},
    ),
    # -- payload files
    case(
        "bag.payload.file-missing",
        ARCHIVER,
        on("data/a.txt", corrupt.delete),
        "data/a.txt",
        {"manifest": "manifest-sha256.txt"},
    ),
    case(
        "bag.payload.checksum-mismatch",
        ARCHIVER,
        on("data/a.txt", corrupt.flip_byte),
        "data/a.txt",
        mismatch("manifest-sha256.txt", "sha256", "data/a.txt"),
        also=[
            Expect(
                "bag.payload.checksum-mismatch",
                "data/a.txt",
                mismatch("manifest-sha512.txt", "sha512", "data/a.txt"),
            )
        ],
    ),
    case(
        "bag.payload.unreadable",
        FOREIGN,
        bury_payload_folder_beyond_path_max,
        bag_path(lambda bag: corrupt.beyond_path_max(bag / "data" / "deep")),
    ),
    # -- tag manifests and tag files
    case(
        "bag.tagmanifest.lists-payload",
        ARCHIVER,
        list_payload_file_in_tag_manifest,
        "tagmanifest-sha256.txt",
        {"entry": "data/a.txt"},
    ),
    case(
        "bag.tagmanifest.lists-tagmanifest",
        ARCHIVER,
        list_tag_manifest_in_tag_manifest,
        "tagmanifest-sha256.txt",
        {"entry": "tagmanifest-sha512.txt"},
    ),
    case(
        "bag.tagmanifest.payload-manifest-unlisted",
        ARCHIVER,
        on("tagmanifest-sha256.txt", corrupt.drop_manifest_line, "manifest-sha512.txt"),
        "tagmanifest-sha256.txt",
        {"entry": "manifest-sha512.txt"},
    ),
    case(
        "bag.tagmanifest.tag-file-unlisted",
        foreign(tag_algorithms=("sha256",)),
        on("notes.txt", corrupt.replace_file, b"an extra tag file\n"),
        "notes.txt",
        {"manifest": "tagmanifest-sha256.txt"},
    ),
    case(
        "bag.tag.file-missing",
        ARCHIVER,
        on("bag-info.txt", corrupt.delete),
        "bag-info.txt",
        {"manifest": "tagmanifest-sha256.txt"},
    ),
    case(
        "bag.tag.checksum-mismatch",
        ARCHIVER,
        on(
            "bag-info.txt", corrupt.replace_in, b"External-Identifier: b", b"External-Identifier: c"
        ),
        "bag-info.txt",
        mismatch("tagmanifest-sha256.txt", "sha256", "bag-info.txt"),
    ),
    case(
        "bag.tag.unreadable:past-the-size-limit",
        FOREIGN,
        inflate_bag_info_past_the_tag_file_limit,
        "bag-info.txt",
    ),
    case(
        "bag.tag.unreadable:unlistable-tag-folder",
        FOREIGN,
        bury_tag_folder_beyond_path_max,
        bag_path(lambda bag: corrupt.beyond_path_max(bag / "extra")),
    ),
    case("bag.tagfile.bom", ARCHIVER, on("bag-info.txt", corrupt.prepend_bom), "bag-info.txt"),
    case(
        "bag.tagfile.bom:manifest",
        ARCHIVER,
        on("manifest-sha256.txt", corrupt.prepend_bom),
        "manifest-sha256.txt",
    ),
    case(
        "bag.tagfile.undecodable",
        ARCHIVER,
        on(
            "bag-info.txt",
            corrupt.replace_in,
            b"External-Identifier: b",
            b"External-Identifier: \xff",
        ),
        "bag-info.txt",
        offset_of("bag-info.txt", b"\xff"),
    ),
    case(
        "bag.tagfile.undecodable:manifest-line-2",
        ARCHIVER,
        on("manifest-sha256.txt", corrupt.replace_in, b"  data/sub/b.txt", b"  data/sub/\xffb.txt"),
        "manifest-sha256.txt",
        {"line": 2},
    ),
    case(
        "bag.tagfile.undecodable:utf-16-odd-length",
        foreign(encoding="UTF-16"),
        on("bag-info.txt", corrupt.append_bytes, b"\x00"),
        "bag-info.txt",
    ),
    case(
        "bag.tagfile.unicode-line-break:u2028-in-a-name",
        foreign(files={**PAYLOAD, "data/a\u2028b.txt": b"split by bagit-python\n"}),
        as_built,
        "manifest-sha256.txt",
        lambda bag: {
            **line_of("manifest-sha256.txt", "\u2028".encode())(bag),
            "character": "U+2028",
        },
    ),
    case(
        "bag.tagfile.unicode-line-break:u0085-in-bag-info",
        foreign(
            bag_info=[("Bagging-Date", "2026-11-27"), ("Source-Organization", "Else\x85where")]
        ),
        as_built,
        "bag-info.txt",
        {"line": 2, "character": "U+0085"},
    ),
    # -- bag-info.txt (the foreign bag's: Bagging-Date, Source-Organization, Payload-Oxum)
    case(
        "bag.bag-info.line-malformed:space-before-colon",
        FOREIGN,
        on("bag-info.txt", corrupt.append_bytes, b"Contact-Name : Ann\n"),
        "bag-info.txt",
        {"line": 4},
    ),
    case(
        "bag.bag-info.line-malformed:two-spaces-after-colon",
        FOREIGN,
        on("bag-info.txt", corrupt.append_bytes, b"Contact-Name:  Ann\n"),
        "bag-info.txt",
        {"line": 4},
    ),
    case(
        "bag.bag-info.line-malformed:no-space-after-colon",
        FOREIGN,
        on("bag-info.txt", corrupt.append_bytes, b"Contact-Name:Ann\n"),
        "bag-info.txt",
        {"line": 4},
    ),
    case(
        "bag.bag-info.line-malformed:no-colon",
        FOREIGN,
        on("bag-info.txt", corrupt.append_bytes, b"Contact-Name Ann\n"),
        "bag-info.txt",
        {"line": 4},
    ),
    case(
        "bag.bag-info.line-malformed:continuation-first",
        FOREIGN,
        on("bag-info.txt", corrupt.replace_in, b"Bagging-Date", b"  Bagging-Date"),
        "bag-info.txt",
        {"line": 1},
    ),
    case(
        "bag.bag-info.oxum-malformed",
        FOREIGN,
        on("bag-info.txt", corrupt.replace_in, OXUM.encode(), b"Payload-Oxum: 696 bytes"),
        "bag-info.txt",
        {"line": 3},
    ),
    case(
        "bag.bag-info.oxum-repeated",
        FOREIGN,
        on("bag-info.txt", corrupt.duplicate_line, "Payload-Oxum"),
        "bag-info.txt",
        {"line": 4},
    ),
    case(
        "bag.bag-info.oxum-mismatch",
        FOREIGN,
        on("bag-info.txt", corrupt.replace_in, OXUM.encode(), b"Payload-Oxum: 697.3"),
        "bag-info.txt",
        {"expected": "697.3", "found": "696.2"},
    ),
    case(
        "bag.bag-info.oxum-mismatch:5000-digits",
        FOREIGN,
        on(
            "bag-info.txt",
            corrupt.replace_in,
            OXUM.encode(),
            b"Payload-Oxum: 0" + b"9" * 5000 + b".2",
        ),
        "bag-info.txt",
        {"expected": "0" + "9" * 5000 + ".2", "found": "696.2"},
    ),
    case(
        "bag.bag-info.repeated",
        FOREIGN,
        on("bag-info.txt", corrupt.duplicate_line, "Bagging-Date"),
        "bag-info.txt",
        {"label": "Bagging-Date"},
    ),
    case(
        "bag.bag-info.label-near-reserved",
        foreign(bag_info=(("Bagging-Date", "2026-11-27"), ("Source-Organisation", "Elsewhere"))),
        as_built,
        "bag-info.txt",
        {"label": "Source-Organisation", "reserved": "Source-Organization", "line": 2},
    ),
    # -- serialized bags (.tar, .tar.gz, .zip)
    case(
        "bag.archive.top-level",
        archived("tar", [("stray.txt", tarfile.REGTYPE, b"x")]),
        as_built,
        "",
    ),
    case(
        "bag.archive.unsafe-member",
        archived("tar", [("bag/../../evil.txt", tarfile.REGTYPE, b"x")]),
        as_built,
        "bag/../../evil.txt",
    ),
    case(
        "bag.archive.duplicate-member",
        archived("tar", [("bag/data/a.txt", tarfile.REGTYPE, b"another\n")]),
        as_built,
        "data/a.txt",
    ),
    case(
        "bag.archive.damaged",
        archived("zip", then=lambda archive: archive.write_bytes(archive.read_bytes()[:100])),
        as_built,
        "",
    ),
    case(
        "bag.archive.encrypted",
        archived("zip", then=_encrypt_flag("bag/data/a.txt")),
        as_built,
        "bag/data/a.txt",
    ),
    case(
        "bag.archive.bomb",
        archived("zip", [("bag/data/zeros.bin", b"", bytes(64 << 20))]),
        as_built,
        "bag/data/zeros.bin",
    ),
    case(
        "bag.archive.unsupported-member",
        archived("tar", [("bag/data/sparse", tarfile.GNUTYPE_SPARSE, b"hello")]),
        as_built,
        "bag/data/sparse",
    ),
    # -- links, special files, names
    case("bag.path.symlink", FOREIGN, link_payload_file_outside, "data/link.txt"),
    case("bag.path.special-file", FOREIGN, pipe_in_payload, "data/pipe", isolated=True),
    case(
        "bag.name.case-or-normalisation:case",
        foreign(files={**PAYLOAD, "data/README.txt": b"upper\n", "data/Readme.txt": b"mixed\n"}),
        as_built,
        "data/Readme.txt",
        {"other": "data/README.txt"},
    ),
    case(
        "bag.name.case-or-normalisation:normalisation",
        foreign(files={**PAYLOAD, NFC_CAFE: b"composed\n", NFD_CAFE: b"decomposed\n"}),
        as_built,
        NFC_CAFE,  # NFD sorts first: its 'e' is a plain e
        {"other": NFD_CAFE},
    ),
    case(
        "bag.name.normalisation-differs",
        foreign(files={**PAYLOAD, NFC_CAFE: b"composed\n"}),
        list_nfc_name_as_nfd,
        NFC_CAFE,
        {"manifest": "manifest-sha256.txt"},
    ),
    case(
        "bag.name.case-differs",
        FOREIGN,
        on("manifest-sha256.txt", corrupt.replace_in, b"  data/a.txt", b"  data/A.TXT"),
        "data/a.txt",
        {"manifest": "manifest-sha256.txt"},
    ),
    case(
        "bag.name.windows:reserved-name",
        foreign(files={**PAYLOAD, "data/CON.txt": b"console\n"}),
        as_built,
        "data/CON.txt",
    ),
    case(
        "bag.name.windows:reserved-folder",
        foreign(files={**PAYLOAD, "data/lpt1/notes.txt": b"printer\n"}),
        as_built,
        "data/lpt1/notes.txt",
    ),
    case(
        "bag.name.windows:forbidden-character",
        foreign(files={**PAYLOAD, "data/why?.txt": b"because\n"}),
        as_built,
        "data/why?.txt",
    ),
    # -- fetch.txt (FETCHED: data/remote.txt is listed in fetch.txt and already fetched)
    case(
        "bag.fetch.line-malformed",
        FETCHED,
        on("fetch.txt", corrupt.append_bytes, b"https://example.org/only-a-url\n"),
        "fetch.txt",
        {"line": 2},
    ),
    case(
        "bag.fetch.line-malformed:length-not-a-number",
        FETCHED,
        on("fetch.txt", corrupt.append_bytes, b"https://example.org/x many data/x.txt\n"),
        "fetch.txt",
        {"line": 2},
    ),
    case(
        "bag.fetch.line-malformed:length-of-5000-digits",
        FETCHED,
        on(
            "fetch.txt",
            corrupt.append_bytes,
            b"https://example.org/x " + b"9" * 5000 + b" data/x\n",
        ),
        "fetch.txt",
        {"line": 2},
    ),
    case(
        "bag.fetch.line-malformed:longer-than-archiver-reads",
        FETCHED,
        on(
            "fetch.txt",
            corrupt.append_bytes,
            b"https://example.org/" + b"x" * MAX_LINE + b" 1 data/x\n",
        ),
        "fetch.txt",
        {"line": 2, "length": len(b"https://example.org/ 1 data/x") + MAX_LINE},
    ),
    case(
        "bag.fetch.url-not-absolute",
        FETCHED,
        on("fetch.txt", corrupt.replace_in, REMOTE_URL.encode(), b"remote.txt"),
        "fetch.txt",
        {"line": 1, "url": "remote.txt"},
    ),
    case(
        "bag.fetch.path-unsafe",
        FETCHED,
        on("fetch.txt", corrupt.append_bytes, b"https://example.org/x 3 ../x.txt\n"),
        "fetch.txt",
        {"line": 2, "entry": "../x.txt"},
    ),
    case(
        "bag.fetch.lists-tag-file",
        FETCHED,
        on("fetch.txt", corrupt.append_bytes, b"https://example.org/info 10 bag-info.txt\n"),
        "fetch.txt",
        {"line": 2, "entry": "bag-info.txt"},
    ),
    case(
        "bag.fetch.not-in-manifest",
        FETCHED,
        on("fetch.txt", corrupt.append_bytes, b"https://example.org/other.txt 6 data/other.txt\n"),
        "data/other.txt",
        {"line": 2, "manifest": "manifest-sha256.txt"},
        also=[Expect("bag.fetch.unfetched", "data/other.txt")],
    ),
    case(
        "bag.fetch.not-in-manifest:one-manifest-of-two",
        foreign(
            files={**PAYLOAD, "data/remote.txt": REMOTE},
            fetch=[FETCH_LINE],
            algorithms=("sha256", "sha512"),
        ),
        drop_remote_from_sha512,
        "data/remote.txt",
        {"line": 1, "manifest": "manifest-sha512.txt"},
    ),
    case(
        "bag.fetch.unfetched",
        HOLEY,
        as_built,
        "data/remote.txt",
        {"url": REMOTE_URL},
    ),
    case(
        "bag.fetch.length-mismatch",
        FETCHED,
        on("fetch.txt", corrupt.replace_in, f" {len(REMOTE)} ".encode(), b" 15 "),
        "data/remote.txt",
        {"expected": 15, "found": len(REMOTE)},
    ),
    # -- our metadata (archiver bags)
    case(
        "metadata.xml.malformed",
        ARCHIVER,
        on("metadata/premis.xml", corrupt.replace_in, b"<premis:agent>", b"<premis:agent><"),
        "metadata/premis.xml",
        line_of("metadata/premis.xml", b"<premis:agent><"),
    ),
    case(
        "metadata.xml.schema-invalid",
        ARCHIVER,
        on("metadata/mets.xml", corrupt.replace_in, b'LOCTYPE="OTHER"', b'LOCTYPE="NOWHERE"'),
        "metadata/mets.xml",
        line_of("metadata/mets.xml", b'LOCTYPE="NOWHERE"'),
    ),
    case(
        "metadata.xml.wrong-root",
        ARCHIVER,
        on("metadata/dc.xml", corrupt.replace_file, b'<?xml version="1.0"?>\n<record/>\n'),
        "metadata/dc.xml",
    ),
    case(
        "metadata.file.missing",
        ARCHIVER,
        on("metadata/dc.xml", corrupt.delete),
        "metadata/dc.xml",
        also=[Expect("bag.tag.file-missing", "metadata/dc.xml")],
    ),
    case(
        "metadata.dc.date-unreadable",
        ARCHIVER,
        corrupt.resealed(
            on(
                "metadata/dc.xml",
                corrupt.replace_in,
                b"</oai_dc:dc>",
                b"<dc:date>circa 1990</dc:date>\n</oai_dc:dc>",
            )
        ),
        "metadata/dc.xml",
        lambda bag: {"value": "circa 1990", **line_of("metadata/dc.xml", b"circa 1990")(bag)},
    ),
    case(
        "metadata.mets.file-not-described",
        ARCHIVER,
        add_described_nowhere,
        "data/extra.txt",
    ),
    case(
        "metadata.mets.points-at-missing-file",
        ARCHIVER,
        on("data/a.txt", corrupt.delete),
        "metadata/mets.xml",
        {"entry": "data/a.txt"},
    ),
    case(
        "metadata.mets.reference-missing",
        ARCHIVER,
        on(
            "metadata/mets.xml",
            corrupt.replace_in,
            b'xlink:href="metadata/premis.xml"',
            b'xlink:href="metadata/premis%20v3.xml"',
        ),
        "metadata/mets.xml",
        {"entry": "metadata/premis v3.xml"},
    ),
    case(
        "metadata.mets.checksum-mismatch",
        ARCHIVER,
        on(
            "metadata/mets.xml",
            corrupt.replace_in,
            f'CHECKSUM="{A_SHA256}"'.encode(),
            f'CHECKSUM="{ZEROS_256}"'.encode(),
        ),
        "data/a.txt",
        {"algorithm": "sha256", "expected": A_SHA256, "found": ZEROS_256},
    ),
    case(
        "metadata.mets.size-mismatch",
        ARCHIVER,
        on("metadata/mets.xml", corrupt.replace_in, b'SIZE="16"', b'SIZE="17"'),
        "data/a.txt",
        {"expected": "17", "found": 16},
    ),
    case(
        "metadata.premis.file-not-described",
        ARCHIVER,
        add_described_nowhere,
        "data/extra.txt",
    ),
    case(
        "metadata.premis.fixity-mismatch",
        ARCHIVER,
        on("metadata/premis.xml", corrupt.replace_in, A_SHA256.encode(), ZEROS_256.encode()),
        "data/a.txt",
        {"algorithm": "sha256", "expected": A_SHA256, "found": ZEROS_256},
    ),
    case(
        "metadata.premis.size-mismatch",
        ARCHIVER,
        on("metadata/premis.xml", corrupt.replace_in, b"<premis:size>16<", b"<premis:size>17<"),
        "data/a.txt",
        {"expected": "17", "found": 16},
    ),
]


# -- running ---------------------------------------------------------------------------------


def validate_json(cli: CliRunner, bag: Path, *, isolated: bool = False) -> tuple[int, Json]:
    """``archiver validate --json BAG``: exit code and the report (checked against its schema).

    ``isolated`` runs it in a child process with a timeout: a validator that opened a FIFO
    would wait forever for a writer.
    """
    if isolated:
        child = subprocess.run(
            [sys.executable, "-m", "archiver", "validate", "--json", os.fspath(bag)],
            capture_output=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONUTF8": "1"},
            cwd=bag.parent,
        )
        code, out = child.returncode, child.stdout.decode("utf-8")
        assert code in (0, 1), child.stderr.decode("utf-8", "replace")
    else:
        run = cli("validate", "--json", bag)
        code, out = run.code, run.out
    report: Json = json.loads(out)
    validator(resources.json_schema("validation-report.schema.json")).validate(report)
    return code, report


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


def summary(findings: Sequence[Json]) -> str:
    """One line per finding, long paths cut in the middle (some cases nest past PATH_MAX)."""
    return "\n".join(
        f"{f['severity']} {f['code']} {_short(f['path'])!r} {f['params']}" for f in findings
    )


def assert_found(findings: Sequence[Json], expect: Expect, bag: Path) -> None:
    path, params, severity = expect.resolved(bag)
    matching = [f for f in findings if f["code"] == expect.code and f["path"] == path]
    assert matching, f"no {expect.code} at {_short(path)!r} in:\n{summary(findings)}"
    assert {f["severity"] for f in matching} == {severity}, summary(matching)
    assert any(params.items() <= f["params"].items() for f in matching), (
        f"want params {params} in:\n{summary(matching)}"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_code_is_produced_by_its_corruption(
    tmp_path: Path, cli: CliRunner, case: Case
) -> None:
    bag = case.build(tmp_path, cli)
    case.corrupt(bag)
    code, report = validate_json(cli, bag, isolated=case.isolated)
    findings = list(iter_findings(report))
    for expect in case.expect:
        assert_found(findings, expect, bag)
    assert code == case.exit_code, summary(findings)
    assert report["valid"] is (code == 0)
    for item in findings:  # where a finding is, is in its fields, never again in its message
        assert_message_does_not_repeat_its_fields(item)


def assert_message_does_not_repeat_its_fields(item: Json) -> None:
    message, path, line = item["message"], item["path"], item["params"].get("line")
    if "/" in path or "." in path:  # a file's name, not a word such as "data"
        assert re.search(rf"(?<![\w-]){re.escape(path)}", message) is None, item
    if line is not None:
        assert f"line {line}" not in message, item


def test_every_bag_and_metadata_code_has_a_case() -> None:
    ours = {code for code in CATALOGUE if code.startswith(("bag.", "metadata."))}
    assert {case.code for case in CASES} == ours
    assert len({case.name for case in CASES}) == len(CASES)


# -- the bags the cases start from are clean -----------------------------------------------


STARTING_BAGS: dict[str, Builder] = {
    "archiver": ARCHIVER,
    "archiver-percent-names": archiver_with(PERCENT_FILES),
    "foreign-1.0": FOREIGN,
    "foreign-1.0-two-manifests-and-tag-manifests": foreign(
        algorithms=("sha256", "sha512"), tag_algorithms=("sha256", "sha512")
    ),
    "foreign-0.97-md5-without-bag-info": foreign(
        version="0.97", algorithms=("md5",), bag_info=None
    ),
    "foreign-fetched": FETCHED,
}


@pytest.mark.parametrize("name", STARTING_BAGS)
def test_the_bags_the_cases_start_from_are_valid_with_no_findings(
    tmp_path: Path, cli: CliRunner, name: str
) -> None:
    code, report = validate_json(cli, STARTING_BAGS[name](tmp_path, cli))
    findings = [f for f in iter_findings(report) if f["code"] != "bag.manifest.algorithm-weak"]
    assert (code, summary(findings)) == (0, "")


def test_names_with_percent_signs_are_listed_as_percent_25(tmp_path: Path, cli: CliRunner) -> None:
    bag = archiver_bag(tmp_path, cli, PERCENT_FILES)
    listed = {
        line.partition("  ")[2] for line in (bag / "manifest-sha256.txt").read_text().splitlines()
    }
    assert listed == {"data/a.txt", "data/50%25 off.txt", "data/100%2525.txt"}


def test_a_percent_sign_listed_raw_is_an_error_even_when_it_is_no_escape(
    tmp_path: Path, cli: CliRunner
) -> None:
    # §2.1.3: a '%' in a file path MUST be written %25. 'data/50% off.txt' holds a bare '%':
    # the line breaks that rule whatever a lenient reader makes of it.
    bag = archiver_bag(tmp_path, cli, PERCENT_FILES)
    corrupt.resealed(
        on("manifest-sha256.txt", corrupt.replace_in, b"data/50%25 off.txt", b"data/50% off.txt")
    )(bag)
    code, report = validate_json(cli, bag)
    findings: list[Json] = list(iter_findings(report))
    errors = [f for f in findings if f["severity"] == "error"]
    named = {(f["code"], f["path"]) for f in errors}
    malformed = any(
        f["code"] == "bag.manifest.line-malformed"
        and f["path"] == "manifest-sha256.txt"
        and f["params"].get("line") == 2
        for f in errors
    )
    missing_and_unlisted = {
        ("bag.payload.file-missing", "data/50% off.txt"),
        ("bag.manifest.file-unlisted", "data/50% off.txt"),
    } <= named
    assert code == 1, summary(findings)
    assert malformed or missing_and_unlisted, summary(errors)


def test_before_1_0_whitespace_around_the_colon_is_accepted(tmp_path: Path, cli: CliRunner) -> None:
    bag = write_foreign_bag(
        tmp_path / "bag",
        version="0.97",
        bag_info=[("Source-Organization", "Elsewhere")],
    )
    corrupt.append_bytes(bag / "bag-info.txt", b"Contact-Name :  Ann\nContact-Phone:\t+1\n")
    code, report = validate_json(cli, bag)
    assert (code, summary(list(iter_findings(report)))) == (0, "")


# -- links are never followed ----------------------------------------------------------------


def test_links_out_of_the_bag_are_reported_and_their_targets_never_opened(
    tmp_path: Path, cli: CliRunner
) -> None:
    bag = write_foreign_bag(tmp_path / "bag", tag_algorithms=("sha256",))
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT outside the bag\n")
    corrupt.symlink_to(bag / "data" / "a.txt", secret)  # listed in the manifest
    corrupt.symlink_to(bag / "bag-info.txt", secret)  # listed in the tag manifest
    corrupt.symlink_to(bag / "data" / "elsewhere", tmp_path)  # a folder outside
    with watch_opens() as opened:
        code, report = validate_json(cli, bag)
    findings = list(iter_findings(report))
    links = {f["path"] for f in findings if f["code"] == "bag.path.symlink"}
    assert links == {"data/a.txt", "bag-info.txt", "data/elsewhere"}
    assert code == 1
    assert "SECRET-CONTENT" not in json.dumps(report)
    resolved = {Path(p).resolve() for p in opened}
    assert secret.resolve() not in resolved
    assert tmp_path.resolve() not in resolved
