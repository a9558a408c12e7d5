"""archiver validate: our own bags, and each way of damaging one, by finding code."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archiver import resources
from tests.conftest import BAGS_EPOCH, CliRunner, codes_of, make_source_tree
from tests.corrupt import (
    add_manifest_line,
    drop_manifest_line,
    flip_byte,
    replace_in,
    reseal_tag_manifests,
    truncate,
)
from tests.test_packing import validator


@pytest.fixture
def bag(tmp_path: Path, cli: CliRunner) -> Path:
    source = make_source_tree(
        tmp_path / "src",
        {
            "a.txt": "The first text.\n",
            "sub/b.txt": "The second text.\n" * 40,
        },
    )
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "b").code == 0
    return tmp_path / "bags" / "b"


def _validate(cli: CliRunner, *paths: Path | str) -> tuple[int, dict[str, object]]:
    run = cli("validate", "--json", *paths)
    report = json.loads(run.out)
    validator(resources.json_schema("validation-report.schema.json")).validate(report)
    return run.code, report


def test_edtf_and_w3cdtf_dates_are_read_and_others_are_warned_about(
    tmp_path: Path, cli: CliRunner
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "A text.\n"})
    dates = ["2020-21", "1990~", "199X", "../1990", "2018-06-15/2018-06-20", "2018-06-15T09:30Z"]
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"title": "A", "date": dates}), encoding="utf-8")
    assert (
        cli("bag", source, "--out", tmp_path / "bags", "--id", "d", "--metadata", record).code == 0
    )
    code, report = _validate(cli, tmp_path / "bags" / "d")
    assert (code, codes_of(report)) == (0, [])
    dc = tmp_path / "bags" / "d" / "metadata" / "dc.xml"
    replace_in(dc, b"<dc:date>199X</dc:date>", b"<dc:date>the nineties</dc:date>")
    reseal_tag_manifests(tmp_path / "bags" / "d")
    code, report = _validate(cli, tmp_path / "bags" / "d")
    assert (code, codes_of(report)) == (0, ["metadata.dc.date-unreadable"])


def test_a_fresh_bag_is_valid_with_no_findings(cli: CliRunner, bag: Path) -> None:
    code, report = _validate(cli, bag)
    assert code == 0
    bags = report["bags"]
    assert isinstance(bags, list) and len(bags) == 1
    entry: dict[str, Any] = bags[0]
    assert report["valid"] is True
    assert entry["path"] == str(bag) and entry["valid"] is True and entry["findings"] == []
    labels = [label for label, _ in entry["bag_info"]]
    assert labels[:5] == [
        "Bagging-Date",
        "Payload-Oxum",
        "External-Identifier",
        "Bag-Software-Agent",
        "BagIt-Profile-Identifier",
    ]
    assert ["External-Identifier", "b"] in entry["bag_info"]


Corruption = Callable[[Path], object]

CASES: dict[str, tuple[Corruption, list[str]]] = {
    "bag.payload.checksum-mismatch": (
        lambda b: flip_byte(b / "data" / "a.txt"),
        ["bag.payload.checksum-mismatch"],
    ),
    "bag.bag-info.oxum-mismatch": (
        lambda b: truncate(b / "data" / "sub" / "b.txt"),
        [
            "bag.bag-info.oxum-mismatch",
            "bag.payload.checksum-mismatch",
            "metadata.mets.size-mismatch",
            "metadata.premis.size-mismatch",
        ],
    ),
    "bag.payload.file-missing": (
        lambda b: (b / "data" / "a.txt").unlink(),
        [
            "bag.bag-info.oxum-mismatch",
            "bag.payload.file-missing",
            "metadata.mets.points-at-missing-file",
        ],
    ),
    "bag.manifest.file-unlisted": (
        lambda b: (b / "data" / "extra.txt").write_text("not listed"),
        [
            "bag.bag-info.oxum-mismatch",
            "bag.manifest.file-unlisted",
            "metadata.mets.file-not-described",
            "metadata.premis.file-not-described",
        ],
    ),
    "bag.tag.checksum-mismatch": (
        lambda b: replace_in(b / "bag-info.txt", b"Bagging-Date: 2026", b"Bagging-Date: 2025"),
        ["bag.tag.checksum-mismatch"],
    ),
    "metadata.mets.checksum-mismatch": (
        lambda b: replace_in(b / "metadata" / "mets.xml", b'CHECKSUM="', b'CHECKSUM="0'),
        ["bag.tag.checksum-mismatch", "metadata.mets.checksum-mismatch"],
    ),
    "metadata.xml.malformed": (
        lambda b: replace_in(b / "metadata" / "premis.xml", b"</premis:premis>", b""),
        ["bag.tag.checksum-mismatch", "metadata.xml.malformed"],
    ),
    "bag.manifest.path-unsafe": (
        lambda b: add_manifest_line(b / "manifest-sha256.txt", "0" * 64 + "  ../../etc/passwd"),
        ["bag.manifest.path-unsafe", "bag.tag.checksum-mismatch"],
    ),
    "bag.manifest.path-outside-payload": (
        lambda b: add_manifest_line(b / "manifest-sha256.txt", "0" * 64 + "  bagit.txt"),
        ["bag.manifest.path-outside-payload", "bag.tag.checksum-mismatch"],
    ),
    "bag.manifest.duplicate-entry": (
        lambda b: add_manifest_line(
            b / "manifest-sha256.txt",
            (b / "manifest-sha256.txt").read_text().splitlines()[0],
        ),
        ["bag.manifest.duplicate-entry", "bag.tag.checksum-mismatch"],
    ),
    "bag.tagmanifest.payload-manifest-unlisted": (
        lambda b: drop_manifest_line(b / "tagmanifest-sha256.txt", "manifest-sha512.txt"),
        ["bag.tagmanifest.payload-manifest-unlisted"],
    ),
    "bag.declaration.malformed": (
        lambda b: (b / "bagit.txt").write_bytes(
            b"BagIt-Version : 1.0\nTag-File-Character-Encoding: UTF-8\n"
        ),
        ["bag.declaration.malformed", "bag.tag.checksum-mismatch"],
    ),
    "bag.declaration.missing": (
        lambda b: (b / "bagit.txt").unlink(),
        ["bag.declaration.missing", "bag.tag.file-missing"],
    ),
    "bag.tagfile.bom": (
        lambda b: (b / "bag-info.txt").write_bytes(
            b"\xef\xbb\xbf" + (b / "bag-info.txt").read_bytes()
        ),
        ["bag.tag.checksum-mismatch", "bag.tagfile.bom"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_corruption_is_reported_with_its_codes_and_exit_1(
    cli: CliRunner, bag: Path, name: str
) -> None:
    corrupt, expected = CASES[name]
    corrupt(bag)
    code, report = _validate(cli, bag)
    assert code == 1
    assert report["valid"] is False
    assert codes_of(report) == expected


def test_a_symlink_out_of_the_bag_is_reported_and_never_read(
    tmp_path: Path, cli: CliRunner, bag: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    os.unlink(bag / "data" / "a.txt")
    os.symlink(secret, bag / "data" / "a.txt")
    before = secret.stat().st_atime_ns
    code, report = _validate(cli, bag)
    assert code == 1
    assert "bag.path.symlink" in codes_of(report)
    assert secret.stat().st_atime_ns == before


def test_every_finding_is_listed_not_only_the_first(cli: CliRunner, bag: Path) -> None:
    flip_byte(bag / "data" / "a.txt")
    flip_byte(bag / "data" / "sub" / "b.txt", 5)
    (bag / "data" / "new.txt").write_text("new")
    _, report = _validate(cli, bag)
    findings = [f for b in report["bags"] for f in b["findings"]]  # type: ignore[attr-defined]
    mismatched = {
        (f["path"], f["params"]["algorithm"])
        for f in findings
        if f["code"] == "bag.payload.checksum-mismatch"
    }
    assert mismatched == {
        (p, a) for p in ("data/a.txt", "data/sub/b.txt") for a in ("sha256", "sha512")
    }
    assert any(
        f["code"] == "bag.manifest.file-unlisted" and f["path"] == "data/new.txt" for f in findings
    )


def test_human_output_lists_findings_and_a_verdict_per_bag(
    tmp_path: Path, cli: CliRunner, bag: Path
) -> None:
    other = tmp_path / "bags" / "b2"
    import shutil

    shutil.copytree(bag, other)
    flip_byte(other / "data" / "a.txt")
    run = cli("validate", bag, other)
    assert run.code == 1
    lines = run.out.splitlines()
    assert f"{bag}: valid (0 errors, 0 warnings)" in lines
    assert f"{other}: INVALID (2 errors, 0 warnings)" in lines
    assert sum("[bag.payload.checksum-mismatch]" in line for line in lines) == 2


def test_warnings_do_not_fail_the_bag(cli: CliRunner, bag: Path) -> None:
    (bag / "notes.txt").write_text("an extra tag file, not in the tag manifests")
    run = cli("validate", bag)
    assert run.code == 0
    assert "[bag.tagmanifest.tag-file-unlisted]" in run.out


def test_each_bags_findings_print_in_order_on_one_stream_then_a_summary(
    cli: CliRunner, bag: Path
) -> None:
    # Errors went to stdout and warnings to stderr: a bag's findings came apart, out of order.
    (bag / "notes.txt").write_text("an extra tag file, not in the tag manifests")
    other = bag.parent / "c"
    shutil.copytree(bag, other)
    flip_byte(other / "data" / "a.txt")
    run = cli("validate", bag, other)
    assert run.code == 1 and run.err == ""
    assert run.out.splitlines() == [
        f"{bag}: warning: [bag.tagmanifest.tag-file-unlisted] notes.txt: "
        "not listed in tagmanifest-sha256.txt",
        f"{bag}: warning: [bag.tagmanifest.tag-file-unlisted] notes.txt: "
        "not listed in tagmanifest-sha512.txt",
        f"{bag}: valid (0 errors, 2 warnings)",
        f"{other}: error: [bag.payload.checksum-mismatch] data/a.txt: "
        "sha256 differs from manifest-sha256.txt",
        f"{other}: error: [bag.payload.checksum-mismatch] data/a.txt: "
        "sha512 differs from manifest-sha512.txt",
        f"{other}: warning: [bag.tagmanifest.tag-file-unlisted] notes.txt: "
        "not listed in tagmanifest-sha256.txt",
        f"{other}: warning: [bag.tagmanifest.tag-file-unlisted] notes.txt: "
        "not listed in tagmanifest-sha512.txt",
        f"{other}: INVALID (2 errors, 2 warnings)",
        "2 bags: 1 valid, 1 invalid (2 errors, 4 warnings)",
    ]


def test_fast_mode_checks_only_structure_and_oxum(cli: CliRunner, bag: Path) -> None:
    flip_byte(bag / "data" / "a.txt")
    assert cli("validate", "--fast", bag).code == 0
    assert cli("validate", "--completeness-only", bag).code == 0
    assert cli("validate", bag).code == 1
    truncate(bag / "data" / "a.txt", 3)
    assert cli("validate", "--fast", bag).code == 1


def test_a_mix_of_bags_and_non_bags_is_judged_path_by_path(
    tmp_path: Path, cli: CliRunner, bag: Path
) -> None:
    # `archiver validate bags/*` met bags/README.md and stopped: nothing was validated, exit 2.
    readme = bag.parent / "README.md"
    readme.write_text("What this collection holds.\n")
    damaged = bag.parent / "c"
    shutil.copytree(bag, damaged)
    flip_byte(damaged / "data" / "a.txt")
    missing = tmp_path / "nothing-here"
    code, report = _validate(cli, readme, bag, missing, damaged)
    assert code == 1
    entries: list[dict[str, Any]] = report["bags"]  # type: ignore[assignment]
    assert [e["path"] for e in entries] == [str(readme), str(bag), str(missing), str(damaged)]
    assert [e["valid"] for e in entries] == [False, True, False, False]
    for entry in (entries[0], entries[2]):
        assert [(f["code"], f["severity"]) for f in entry["findings"]] == [
            ("bag.not-a-bag", "error")
        ]
    assert entries[0]["findings"][0]["message"] == "a file, not a bag"
    assert entries[2]["findings"][0]["message"] == "no such file or folder"
    assert "bag.payload.checksum-mismatch" in {f["code"] for f in entries[3]["findings"]}


def test_a_path_that_is_not_a_bag_is_a_finding_not_a_failure_to_run(
    tmp_path: Path, cli: CliRunner
) -> None:
    run = cli("validate", tmp_path / "nothing-here")
    assert run.code == 1
    assert f"{tmp_path / 'nothing-here'}: error: [bag.not-a-bag] no such file or folder" in run.out
    assert run.err == ""


def test_a_collection_is_not_taken_for_a_broken_bag(cli: CliRunner, bag: Path) -> None:
    # A folder of bags was reported as a bag missing bagit.txt, data/ and its manifests.
    collection = bag.parent
    code, report = _validate(cli, collection)
    assert code == 1
    entry: dict[str, Any] = report["bags"][0]  # type: ignore[index]
    assert [(f["code"], f["params"]) for f in entry["findings"]] == [("bag.not-a-bag", {"bags": 1})]
    run = cli("validate", collection)
    assert run.out.splitlines()[0] == (
        f"{collection}: error: [bag.not-a-bag] a folder of 1 bag, not a bag itself: "
        "audit it as a collection, or validate its bags"
    )


def test_epoch_is_irrelevant_to_validation(cli: CliRunner, bag: Path) -> None:
    assert cli("validate", bag, epoch=BAGS_EPOCH + 10**6).code == 0


@pytest.mark.parametrize("name", ["premis.xml", "mets.xml"])
def test_a_big_documents_schema_is_checked_streaming_and_says_no_false_line(
    tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Past the size parsed whole, a document is validated streaming: a violation deep
    inside it is found. libxml2 cannot tell its line that way: the finding has none,
    rather than "line 0"."""
    import archiver.check.metadata as metadata

    monkeypatch.setattr(metadata, "_TREE_LIMIT", 0)  # every document takes the streamed way
    source = make_source_tree(tmp_path / "src", {f"d/f{n}.txt": f"text {n}\n" for n in range(5)})
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "s").code == 0
    bag = tmp_path / "bags" / "s"
    clean = cli("validate", "--json", bag)
    assert clean.code == 0 and codes_of(json.loads(clean.out)) == []
    path = bag / "metadata" / name
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # Well-formed still, but not what the schema allows, in the last file's entry:
    deep, wrong = {
        "premis.xml": (re.compile(r"<premis:size>\d+<"), "<premis:size>eight<"),
        "mets.xml": (re.compile(r'LOCTYPE="OTHER"'), 'LOCTYPE="BOGUS"'),
    }[name]
    number = max(i for i, line in enumerate(lines) if deep.search(line))
    lines[number] = deep.sub(wrong, lines[number])
    path.write_text("".join(lines), encoding="utf-8")
    from archiver.validation import validate_bag

    report = validate_bag(bag)
    found = [f for f in report.findings if f.code == "metadata.xml.schema-invalid"]
    assert found, [f.code for f in report.findings]
    assert found[0].params.get("line") is None
    assert ("eight" if name == "premis.xml" else "BOGUS") in found[0].message


def _resealed_and_validated(cli: CliRunner, bag: Path) -> tuple[int, list[str]]:
    """After a tag file was edited: the tag manifests resealed, the bag validated; the exit
    code and the findings' codes."""
    reseal_tag_manifests(bag)
    code, report = _validate(cli, bag)
    return code, list(codes_of(report))


def _renamed_premis(bag: Path) -> Path:
    """The bag's PREMIS under another prefix (p:), as another tool may write it."""
    path = bag / "metadata" / "premis.xml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("premis:", "p:").replace("xmlns:premis=", "xmlns:p=")
    path.write_text(text, encoding="utf-8")
    return path


def test_premis_under_another_prefix_is_read_by_namespace_not_by_prefix(
    cli: CliRunner, bag: Path
) -> None:
    """xsi:type="p:file" is PREMIS's file type when p is bound to PREMIS: the objects are
    cross-checked (a changed digest is found), none is taken for a missing description."""
    path = _renamed_premis(bag)
    assert _resealed_and_validated(cli, bag) == (0, [])
    text = path.read_text(encoding="utf-8")
    digest = re.findall(r"<p:messageDigest>([0-9a-f]+)<", text)[0]
    path.write_text(text.replace(digest, "0" * len(digest), 1), encoding="utf-8")
    assert _resealed_and_validated(cli, bag) == (1, ["metadata.premis.fixity-mismatch"])


def test_a_premis_digest_named_by_its_text_alone_is_still_compared(
    cli: CliRunner, bag: Path
) -> None:
    """Without the LoC valueURI, messageDigestAlgorithm's text (SHA-256) names it."""
    path = bag / "metadata" / "premis.xml"
    text = re.sub(r' valueURI="[^"]*"', "", path.read_text(encoding="utf-8"))
    digest = re.findall(r"<premis:messageDigest>([0-9a-f]{64})<", text)[0]
    path.write_text(text.replace(digest, "f" * 64, 1), encoding="utf-8")
    assert _resealed_and_validated(cli, bag) == (1, ["metadata.premis.fixity-mismatch"])


def test_premis_facts_are_found_among_comments_and_in_any_order_of_a_fixity(
    cli: CliRunner, bag: Path
) -> None:
    """The checker picks an object's facts out of its children (comments, the digest
    before its algorithm, which the schema refuses): a wrong size and a wrong digest are
    each still found."""
    path = bag / "metadata" / "premis.xml"
    text = path.read_text(encoding="utf-8")
    fixity = re.compile(
        r"(<premis:fixity>)(\s*<premis:messageDigestAlgorithm[^>]*>[^<]*</premis:"
        r"messageDigestAlgorithm>)(\s*<premis:messageDigest>)([0-9a-f]{64})(</premis:"
        r"messageDigest>)"
    )
    text = fixity.sub(lambda m: f"{m[1]}<!-- c -->{m[3]}{'e' * 64}{m[5]}{m[2]}", text, count=1)
    text = re.sub(r"(<premis:size>)(\d+)<", r"<!-- c -->\g<1>1\2<", text, count=1)
    path.write_text(text, encoding="utf-8")
    assert _resealed_and_validated(cli, bag) == (
        1,
        [
            "metadata.premis.fixity-mismatch",
            "metadata.premis.size-mismatch",
            "metadata.xml.schema-invalid",
        ],
    )


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(b"</p:premis>", id="root-never-closed"),
        pytest.param(b"</p:object>\n</p:premis>", id="last-object-never-closed"),
    ],
)
def test_a_document_cut_short_is_malformed_even_where_its_schema_passes_it(
    cli: CliRunner, bag: Path, damage: bytes
) -> None:
    """libxml2 validating a stream passes a document cut short after a whole record: the
    one pass that validates while reading must not take that for a valid document."""
    path = _renamed_premis(bag)
    data = path.read_bytes()
    assert data.rstrip().endswith(b"</p:premis>")
    path.write_bytes(data.rstrip()[: -len(damage)].rstrip())
    assert _resealed_and_validated(cli, bag) == (1, ["metadata.xml.malformed"])


def test_an_invalid_document_still_has_its_facts_cross_checked(cli: CliRunner, bag: Path) -> None:
    """Schema-invalid but well-formed: the violation and the disagreement with the manifest
    are both told (the one-pass way gives up at the violation; the two passes tell all)."""
    path = bag / "metadata" / "premis.xml"
    text = path.read_text(encoding="utf-8")
    digest = re.findall(r"<premis:messageDigest>([0-9a-f]{64})<", text)[-1]
    text = text.replace(digest, "e" * 64).replace("<premis:size>", "<premis:size>x", 1)
    path.write_text(text, encoding="utf-8")
    assert _resealed_and_validated(cli, bag) == (
        1,
        [
            "metadata.premis.fixity-mismatch",
            "metadata.premis.size-mismatch",
            "metadata.xml.schema-invalid",
        ],
    )


def test_metadata_checked_on_workers_beside_the_checksums_finds_the_same(
    tmp_path: Path, cli: CliRunner
) -> None:
    """With a pool (enough small files), the metadata goes to a worker ahead of the
    checksums: the findings, and their order, are those of one process."""
    from archiver.bagit import hashing
    from archiver.validation import validate_bag

    count = hashing.POOL_MINIMUM + 6
    source = make_source_tree(
        tmp_path / "src", {f"d/f{n:03}.txt": f"text {n}\n" for n in range(count)}
    )
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "w").code == 0
    bag = tmp_path / "bags" / "w"
    flip_byte(bag / "data" / "d" / "f007.txt")
    mets = bag / "metadata" / "mets.xml"
    mets.write_bytes(mets.read_bytes().replace(b'CHECKSUM="', b'CHECKSUM="0', 1))
    premis = bag / "metadata" / "premis.xml"
    text = premis.read_text(encoding="utf-8")
    digest = re.findall(r"<premis:messageDigest>([0-9a-f]{64})<", text)[3]
    premis.write_text(text.replace(digest, "e" * 64), encoding="utf-8")
    one = validate_bag(bag, workers=1).findings
    pooled = validate_bag(bag, workers=2).findings
    assert [f.code for f in one] == [
        *["bag.payload.checksum-mismatch"] * 2,  # SHA-256 and SHA-512
        *["bag.tag.checksum-mismatch"] * 4,  # METS and PREMIS, in two tag manifests
        "metadata.mets.checksum-mismatch",
        "metadata.premis.fixity-mismatch",
    ]
    assert pooled == one
    # The worker checking PREMIS reads the manifests itself, from the folder or from where
    # they lie in the archive (a .tar.gz: found again from its start); a worker process is
    # sent the bag's files and where to look, never the manifests as read.
    from concurrent.futures import ThreadPoolExecutor

    from tests.test_archives import pack

    for kind in ("tar", "tar.gz"):
        archive = pack(bag, tmp_path / "packed", kind)
        with ThreadPoolExecutor(2) as executor:
            found = validate_bag(archive, executor=executor).findings
        # (a .tar.gz's checksums are taken in the order it stores its members)
        assert sorted((f.code, f.path) for f in found) == sorted((f.code, f.path) for f in one)
    with hashing.process_pool(1) as pool:
        assert validate_bag(bag, executor=pool).findings == one
