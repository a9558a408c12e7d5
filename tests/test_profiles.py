"""BagIt Profiles 1.4: real profiles, bags that meet them and bags that break each rule.

Bags that are not archiver's (md5 manifests, BagIt 0.96, DPN tag files...) are written by
hand with HandBag; the profiles are the real ones in tests/data/bagit-profiles (SOURCES.md)
or, for keys none of them uses, small profiles written into tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from archiver import layout, resources
from archiver.bagit import baginfo
from archiver.check.profile import (
    Serialization,
    TagRule,
    check_serialized,
    load_profile,
    shipped_profile,
)
from archiver.codes import CATALOGUE, Severity
from archiver.errors import UsageError
from tests.conftest import REPO, SAMPLE_RECORD, CliRunner, iter_findings, make_source_tree
from tests.corrupt import drop_manifest_line
from tests.test_packing import validator

PROFILES = REPO / "tests" / "data" / "bagit-profiles"
SHIPPED = REPO / "schemas" / layout.PROFILE_FILE
FOO = "http://www.library.yale.edu/mssa/bagitprofiles/disk_images.json"
BAR = "http://canadiana.org/standards/bagit/tdr_ingest.json"
BTR = "https://github.com/dpscollaborative/btr_bagit_profile/releases/download/1.0/btr-bagit-profile.json"
BDBAG = "http://raw.githubusercontent.com/fair-research/bdbag/master/profiles/bdbag-profile.json"
BDBAG_RO = (
    "http://raw.githubusercontent.com/fair-research/bdbag/master/profiles/bdbag-ro-profile.json"
)
DPN = "https://wiki.aptrust.org/DPN_BagIt_Profile"
APTRUST = "https://raw.githubusercontent.com/APTrust/preservation-services/master/profiles/aptrust-v2.3.json"
TEST_PROFILE = "https://example.org/profiles/test-profile-1.0.json"


# -- bags written by hand ----------------------------------------------------------------


@dataclass(frozen=True)
class HandBag:
    """A BagIt bag described in code; ``write`` puts it on disk with correct manifests."""

    version: str = "1.0"
    bag_info: tuple[tuple[str, str], ...] = ()
    payload: Mapping[str, bytes] = field(default_factory=lambda: {"data/a.txt": b"A text.\n"})
    tag_files: Mapping[str, bytes] = field(default_factory=dict)
    algorithms: tuple[str, ...] = ("sha256",)
    tag_algorithms: tuple[str, ...] = ()
    fetched: tuple[str, ...] = ()  # payload paths fetch.txt lists (the files are there too)
    oxum: bool = True  # end bag-info.txt with a correct Payload-Oxum

    def info(self, label: str, value: str) -> HandBag:
        """This bag with one more bag-info element (repeated if the label is there)."""
        return replace(self, bag_info=(*self.bag_info, (label, value)))

    def without(self, label: str) -> HandBag:
        return replace(self, bag_info=tuple(i for i in self.bag_info if i[0] != label))

    def setting(self, label: str, value: str) -> HandBag:
        return replace(
            self, bag_info=tuple((k, value if k == label else v) for k, v in self.bag_info)
        )

    def write(self, root: Path) -> Path:
        items = list(self.bag_info)
        if self.oxum:
            items.append(("Payload-Oxum", baginfo.oxum(*_sizes(self.payload))))
        files: dict[str, bytes] = {
            "bagit.txt": f"BagIt-Version: {self.version}\n"
            "Tag-File-Character-Encoding: UTF-8\n".encode(),
            "bag-info.txt": "".join(f"{label}: {value}\n" for label, value in items).encode(),
            **self.tag_files,
        }
        if self.fetched:
            files["fetch.txt"] = "".join(
                f"https://example.org/{p} {len(self.payload[p])} {p}\n" for p in self.fetched
            ).encode()
        for algorithm in self.algorithms:
            files[f"manifest-{algorithm}.txt"] = _manifest(algorithm, self.payload)
        for algorithm in self.tag_algorithms:
            files[f"tagmanifest-{algorithm}.txt"] = _manifest(
                algorithm, {p: c for p, c in files.items() if not p.startswith("tagmanifest-")}
            )
        (root / "data").mkdir(parents=True)
        for rel, content in {**files, **self.payload}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        return root


def _sizes(payload: Mapping[str, bytes]) -> tuple[int, int]:
    return sum(len(c) for c in payload.values()), len(payload)


def _manifest(algorithm: str, files: Mapping[str, bytes]) -> bytes:
    return "".join(
        f"{hashlib.new(algorithm, content).hexdigest()}  {path}\n"
        for path, content in sorted(files.items())
    ).encode()


# -- profiles written into tmp_path ------------------------------------------------------


def write_profile(folder: Path, keys: Mapping[str, Any], name: str = "profile.json") -> Path:
    """A minimal spec-format profile (identifier TEST_PROFILE, BagIt 1.0) plus ``keys``."""
    document: dict[str, Any] = {
        "BagIt-Profile-Info": {
            "BagIt-Profile-Identifier": TEST_PROFILE,
            "BagIt-Profile-Version": "1.4.0",
            "Source-Organization": "archiver tests",
            "External-Description": "A profile written by a test.",
            "Version": "1.0",
        },
        "Accept-BagIt-Version": ["1.0"],
        **keys,
    }
    path = folder / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def write_json(folder: Path, document: Mapping[str, Any], name: str = "profile.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


TEST_BAG = HandBag(bag_info=(("BagIt-Profile-Identifier", TEST_PROFILE),))


# -- running the validator ---------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    code: int
    report: dict[str, Any]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(iter_findings(self.report))

    @property
    def profile_findings(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if str(f["code"]).startswith("profile.")]

    @property
    def profile_codes(self) -> list[str]:
        """Every profile finding's code, repeats kept (each violation is its own finding)."""
        return sorted(str(f["code"]) for f in self.profile_findings)

    @property
    def other_errors(self) -> list[str]:
        return sorted(
            str(f["code"])
            for f in self.findings
            if f["severity"] == "error" and not str(f["code"]).startswith("profile.")
        )

    def only(self, code: str) -> dict[str, Any]:
        (found,) = [f for f in self.findings if f["code"] == code]
        return found


def judge(cli: CliRunner, bag: Path, profile: Path | None = None, *options: str) -> Verdict:
    args: list[str | Path] = ["validate", "--json", *options]
    if profile is not None:
        args += ["--profile", profile]
    run = cli(*args, bag)
    report = json.loads(run.out)
    validator(resources.json_schema("validation-report.schema.json")).validate(report)
    return Verdict(run.code, report)


# -- each real profile: a bag that meets it, and one bag per rule broken -----------------

Change = Callable[[HandBag], HandBag]
Cases = dict[str, tuple[Change, list[str]]]


def _same(bag: HandBag) -> HandBag:
    return bag


def _judge_case(
    cli: CliRunner,
    tmp_path: Path,
    profile_file: str,
    conforming: HandBag,
    baseline: list[str],
    case: tuple[Change, list[str]],
) -> None:
    """The bag ``case`` makes of ``conforming`` has the baseline's profile findings plus the
    case's own, and nothing wrong by RFC 8493: the profile alone judges it."""
    change, added = case
    bag = change(conforming).write(tmp_path / "bag")
    verdict = judge(cli, bag, PROFILES / profile_file)
    assert verdict.other_errors == []
    assert verdict.profile_codes == sorted([*baseline, *added])
    errors = [f for f in verdict.profile_findings if f["severity"] == "error"]
    assert verdict.code == (1 if errors else 0)


FOO_BAG = HandBag(
    version="0.97",
    bag_info=(
        ("BagIt-Profile-Identifier", FOO),
        ("Bagging-Date", "2026-11-27"),
        ("Source-Organization", "York University"),
        ("Contact-Phone", "+1 416 555 0100"),
    ),
    algorithms=("md5",),
)
FOO_CASES: Cases = {
    "conforming": (_same, []),
    "version 0.96 is accepted too": (lambda b: replace(b, version="0.96"), []),
    "no Manifests-Allowed: any other manifest may be added": (
        lambda b: replace(b, algorithms=("md5", "sha512")),
        [],
    ),
    "Bagging-Date missing": (lambda b: b.without("Bagging-Date"), ["profile.bag-info.required"]),
    "Contact-Phone missing": (lambda b: b.without("Contact-Phone"), ["profile.bag-info.required"]),
    "Source-Organization not a listed value": (
        lambda b: b.setting("Source-Organization", "Yale University"),
        ["profile.bag-info.value"],
    ),
    "no md5 manifest": (
        lambda b: replace(b, algorithms=("sha256",)),
        ["profile.manifest.required"],
    ),
    "fetch.txt": (lambda b: replace(b, fetched=("data/a.txt",)), ["profile.fetch.not-allowed"]),
    "BagIt 1.0": (lambda b: replace(b, version="1.0"), ["profile.version.not-accepted"]),
}


@pytest.mark.parametrize("case", FOO_CASES)
def test_bag_profile_foo_the_specifications_first_example(
    cli: CliRunner, tmp_path: Path, case: str
) -> None:
    assert load_profile(PROFILES / "bagProfileFoo.json").identifier == FOO
    # Serialization "required": no bag folder can meet it, so every one is told so.
    baseline = ["profile.serialization.required"]
    _judge_case(cli, tmp_path, "bagProfileFoo.json", FOO_BAG, baseline, FOO_CASES[case])


BAR_BAG = HandBag(
    version="0.96",
    bag_info=(
        ("BagIt-Profile-Identifier", BAR),
        ("Source-Organization", "Simon Fraser University"),
        ("Organization-Address", "8888 University Drive Burnaby, B.C. V5A 1S6 Canada"),
        ("Contact-Name", "Mark Jordan"),
        ("Contact-Email", "archivist@example.org"),
        ("External-Description", "A bag for the canadiana.org loading dock."),
        ("Bag-Size", "8 bytes"),
        ("Bag-Count", "1 of 1"),
        ("Bagging-Date", "2026-11-27"),
    ),
    tag_files={"DPN/dpnFirstNode.txt": b"sfu\n", "DPN/dpnRegistry": b"registry\n"},
    algorithms=("md5",),
    tag_algorithms=("md5",),
)
BAR_CASES: Cases = {
    "conforming": (_same, []),
    "another tag file matching DPN/*": (
        lambda b: replace(b, tag_files={**b.tag_files, "DPN/extra/notes.txt": b"n\n"}),
        [],
    ),
    "Bag-Count missing": (lambda b: b.without("Bag-Count"), ["profile.bag-info.required"]),
    "Payload-Oxum missing": (lambda b: replace(b, oxum=False), ["profile.bag-info.required"]),
    "Organization-Address not a listed value": (
        lambda b: b.setting("Organization-Address", "1 Main Street"),
        ["profile.bag-info.value"],
    ),
    "Contact-Name not a listed value": (
        lambda b: b.setting("Contact-Name", "Someone Else"),
        ["profile.bag-info.value"],
    ),
    "no md5 manifest": (
        lambda b: replace(b, algorithms=("sha256",)),
        ["profile.manifest.required"],
    ),
    "no md5 tag manifest": (
        lambda b: replace(b, tag_algorithms=("sha256",)),
        ["profile.tagmanifest.required"],
    ),
    "DPN/dpnRegistry missing": (
        lambda b: replace(b, tag_files={"DPN/dpnFirstNode.txt": b"sfu\n"}),
        ["profile.tag-file.required"],
    ),
    "a tag file outside DPN/": (
        lambda b: replace(b, tag_files={**b.tag_files, "notes/readme.txt": b"n\n"}),
        ["profile.tag-file.not-allowed"],
    ),
    "fetch.txt": (lambda b: replace(b, fetched=("data/a.txt",)), ["profile.fetch.not-allowed"]),
    "BagIt 0.97": (lambda b: replace(b, version="0.97"), ["profile.version.not-accepted"]),
}


@pytest.mark.parametrize("case", BAR_CASES)
def test_bag_profile_bar_the_specifications_second_example(
    cli: CliRunner, tmp_path: Path, case: str
) -> None:
    assert load_profile(PROFILES / "bagProfileBar.json").identifier == BAR
    _judge_case(cli, tmp_path, "bagProfileBar.json", BAR_BAG, [], BAR_CASES[case])


BTR_BAG = HandBag(
    bag_info=(
        ("BagIt-Profile-Identifier", BTR),
        ("Source-Organization", "Beyond the Repository test"),
        ("Bagging-Date", "2026-11-27"),
    ),
    tag_algorithms=("sha256",),
)
BTR_CASES: Cases = {
    "conforming": (_same, []),
    "BagIt 0.97": (lambda b: replace(b, version="0.97"), []),
    "any tag file, however deep ('*' crosses '/')": (
        lambda b: replace(b, tag_files={"extra/deep/notes.txt": b"n\n"}),
        [],
    ),
    "Source-Organization missing": (
        lambda b: b.without("Source-Organization"),
        ["profile.bag-info.required"],
    ),
    "Bagging-Date missing": (lambda b: b.without("Bagging-Date"), ["profile.bag-info.required"]),
    "Payload-Oxum missing": (lambda b: replace(b, oxum=False), ["profile.bag-info.required"]),
    "a sha224 manifest": (
        lambda b: replace(b, algorithms=("sha256", "sha224")),
        ["profile.manifest.not-allowed"],
    ),
    "a sha384 tag manifest": (
        lambda b: replace(b, tag_algorithms=("sha256", "sha384")),
        ["profile.tagmanifest.not-allowed"],
    ),
    "fetch.txt": (lambda b: replace(b, fetched=("data/a.txt",)), ["profile.fetch.not-allowed"]),
    "BagIt 0.96": (lambda b: replace(b, version="0.96"), ["profile.version.not-accepted"]),
}


@pytest.mark.parametrize("case", BTR_CASES)
def test_beyond_the_repository_profile(cli: CliRunner, tmp_path: Path, case: str) -> None:
    assert load_profile(PROFILES / "btr-bagit-profile.json").identifier == BTR
    # Its Bag-Info entries carry "recommended", which the specification does not define.
    baseline = ["profile.keys-not-checked"]
    _judge_case(cli, tmp_path, "btr-bagit-profile.json", BTR_BAG, baseline, BTR_CASES[case])


BDBAG_BAG = HandBag(
    bag_info=(("BagIt-Profile-Identifier", BDBAG),),
    algorithms=("md5",),
    tag_algorithms=("md5", "sha256"),
)
BDBAG_CASES: Cases = {
    "conforming": (_same, []),
    "fetch.txt is allowed": (lambda b: replace(b, fetched=("data/a.txt",)), []),
    "another allowed manifest": (lambda b: replace(b, algorithms=("md5", "sha512")), []),
    "Payload-Oxum missing": (lambda b: replace(b, oxum=False), ["profile.bag-info.required"]),
    "no md5 manifest": (
        lambda b: replace(b, algorithms=("sha256",)),
        ["profile.manifest.required"],
    ),
    "a sha224 manifest": (
        lambda b: replace(b, algorithms=("md5", "sha224")),
        ["profile.manifest.not-allowed"],
    ),
    "no sha256 tag manifest": (
        lambda b: replace(b, tag_algorithms=("md5",)),
        ["profile.tagmanifest.required"],
    ),
    "a sha224 tag manifest": (
        lambda b: replace(b, tag_algorithms=("md5", "sha256", "sha224")),
        ["profile.tagmanifest.not-allowed"],
    ),
    "BagIt 0.96": (lambda b: replace(b, version="0.96"), ["profile.version.not-accepted"]),
}


@pytest.mark.parametrize("case", BDBAG_CASES)
def test_bdbag_profile(cli: CliRunner, tmp_path: Path, case: str) -> None:
    assert load_profile(PROFILES / "bdbag-profile.json").identifier == BDBAG
    baseline = ["profile.serialization.required"]
    _judge_case(cli, tmp_path, "bdbag-profile.json", BDBAG_BAG, baseline, BDBAG_CASES[case])


BDBAG_RO_BAG = replace(
    BDBAG_BAG,
    bag_info=(("BagIt-Profile-Identifier", BDBAG_RO),),
    tag_files={"metadata/manifest.json": b"{}\n"},
)
BDBAG_RO_CASES: Cases = {
    **BDBAG_CASES,
    "metadata/manifest.json missing": (
        lambda b: replace(b, tag_files={}),
        ["profile.tag-file.required"],
    ),
}


@pytest.mark.parametrize("case", BDBAG_RO_CASES)
def test_bdbag_research_object_profile(cli: CliRunner, tmp_path: Path, case: str) -> None:
    assert load_profile(PROFILES / "bdbag-ro-profile.json").identifier == BDBAG_RO
    baseline = ["profile.serialization.required"]
    _judge_case(
        cli, tmp_path, "bdbag-ro-profile.json", BDBAG_RO_BAG, baseline, BDBAG_RO_CASES[case]
    )


DPN_BAG = HandBag(
    version="0.97",
    bag_info=(("BagIt-Profile-Identifier", DPN),),
    tag_files={"dpn-tags/dpn-info.txt": b"DPN-Object-ID: 00000000-0000-4000-8000-000000000000\n"},
    tag_algorithms=("sha256",),
)
DPN_CASES: Cases = {
    "conforming": (_same, []),
    "dpn-tags/dpn-info.txt missing": (
        lambda b: replace(b, tag_files={}),
        ["profile.tag-file.required"],
    ),
    "no sha256 manifest": (
        lambda b: replace(b, algorithms=("md5",)),
        ["profile.manifest.required"],
    ),
    "no sha256 tag manifest": (
        lambda b: replace(b, tag_algorithms=("md5",)),
        ["profile.tagmanifest.required"],
    ),
    "fetch.txt": (lambda b: replace(b, fetched=("data/a.txt",)), ["profile.fetch.not-allowed"]),
    "BagIt 1.0": (lambda b: replace(b, version="1.0"), ["profile.version.not-accepted"]),
    "no BagIt-Profile-Identifier": (
        lambda b: b.without("BagIt-Profile-Identifier"),
        ["profile.identifier-missing"],
    ),
}


@pytest.mark.parametrize("case", DPN_CASES)
def test_digital_preservation_network_profile(cli: CliRunner, tmp_path: Path, case: str) -> None:
    profile = load_profile(PROFILES / "dpn-bagit-profile.json")
    assert profile.identifier == DPN
    # Serialization "required", and two keys outside the specification plus DART's tag
    # definitions under Tag-Files-Required: told (info), never silently dropped.
    baseline = ["profile.keys-not-checked", "profile.serialization.required"]
    _judge_case(cli, tmp_path, "dpn-bagit-profile.json", DPN_BAG, baseline, DPN_CASES[case])


APTRUST_INFO = b"Title: Minutes of the board\nAccess: Institution\nStorage-Option: Standard\n"
APTRUST_BAG = HandBag(
    bag_info=(("Source-Organization", "example.edu"), ("BagIt-Profile-Identifier", APTRUST)),
    tag_files={"aptrust-info.txt": APTRUST_INFO},
    algorithms=("md5", "sha256"),
    tag_algorithms=("md5",),
)


def _aptrust_info(text: bytes) -> Change:
    return lambda b: replace(b, tag_files={"aptrust-info.txt": text})


APTRUST_CASES: Cases = {
    "conforming": (_same, []),
    # DART's format does not ask a bag to name its profile, and APTrust does not look.
    "no BagIt-Profile-Identifier": (lambda b: b.without("BagIt-Profile-Identifier"), []),
    "no Source-Organization (only recommended)": (
        lambda b: b.without("Source-Organization"),
        [],
    ),
    "Source-Organization empty": (
        lambda b: b.setting("Source-Organization", ""),
        ["profile.tag.empty"],
    ),
    "no Title": (
        _aptrust_info(b"Access: Institution\nStorage-Option: Standard\n"),
        ["profile.tag.required"],
    ),
    "Title empty": (
        _aptrust_info(b"Title: \nAccess: Institution\nStorage-Option: Standard\n"),
        ["profile.tag.empty"],
    ),
    "aptrust-info.txt missing": (
        lambda b: replace(b, tag_files={}),
        ["profile.tag.required"] * 3,
    ),
    "Access not a listed value": (
        _aptrust_info(APTRUST_INFO.replace(b"Institution", b"Public")),
        ["profile.tag.value"],
    ),
    "no md5 manifest": (
        lambda b: replace(b, algorithms=("sha256",)),
        ["profile.manifest.required"],
    ),
    "a sha224 manifest": (
        lambda b: replace(b, algorithms=("md5", "sha224")),
        ["profile.manifest.not-allowed"],
    ),
    "fetch.txt": (lambda b: replace(b, fetched=("data/a.txt",)), ["profile.fetch.not-allowed"]),
    # acceptBagItVersion and the bagit.txt tag rule both say it.
    "BagIt 0.96": (
        lambda b: replace(b, version="0.96"),
        ["profile.tag.value", "profile.version.not-accepted"],
    ),
}


@pytest.mark.parametrize("case", APTRUST_CASES)
def test_aptrust_dart_profile(cli: CliRunner, tmp_path: Path, case: str) -> None:
    # Read from DART's format into the same model; Serialization "required" is broken by
    # every bag folder (its tar rules, tarDirMustMatchName, need the packed bag).
    assert load_profile(PROFILES / "aptrust-v2.3.dart-format.json").identifier == APTRUST
    baseline = ["profile.serialization.required"]
    _judge_case(
        cli,
        tmp_path,
        "aptrust-v2.3.dart-format.json",
        APTRUST_BAG,
        baseline,
        APTRUST_CASES[case],
    )


# -- reading profiles --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "bagProfileFoo.json",
        "bagProfileBar.json",
        "btr-bagit-profile.json",
        "bdbag-profile.json",
        "bdbag-ro-profile.json",
        "dpn-bagit-profile.json",
    ],
)
def test_each_real_profile_loads_with_its_identifier(name: str) -> None:
    document = json.loads((PROFILES / name).read_text(encoding="utf-8"))
    profile = load_profile(PROFILES / name)
    info = document["BagIt-Profile-Info"]
    assert profile.identifier == info["BagIt-Profile-Identifier"]
    assert profile.version == info["Version"]
    assert profile.accept_bagit_versions == tuple(document["Accept-BagIt-Version"])


def test_the_specifications_defaults_fill_what_a_profile_leaves_out(tmp_path: Path) -> None:
    foo = load_profile(PROFILES / "bagProfileFoo.json")
    assert foo.spec_version == "1.1.0"
    assert foo.bag_info[0] == TagRule("Bagging-Date", required=True)
    assert foo.bag_info[0].repeatable is True  # default true
    assert foo.manifests_allowed is None  # absent: every algorithm permitted
    assert foo.tag_manifests_required == ()
    assert foo.tag_files_allowed == ("*",)
    assert foo.payload_files_allowed == ("*",)
    assert foo.fetch_required is False
    assert foo.data_empty is False
    assert foo.allow_fetch is False
    assert foo.serialization is Serialization.REQUIRED
    bdbag = load_profile(PROFILES / "bdbag-profile.json")
    assert bdbag.allow_fetch is True
    dpn = load_profile(PROFILES / "dpn-bagit-profile.json")
    assert dpn.spec_version == "1.1.0"  # no BagIt-Profile-Version: treated as 1.1.0
    assert dpn.bag_info == ()
    assert dpn.tag_files_required == ("bagit.txt", "bag-info.txt", "dpn-tags/dpn-info.txt")
    assert dpn.unchecked == (
        "Allow-Misc-Directories",
        "Allow-Misc-Top-Level-Files",
        "Tag-Files-Required tag definitions",
    )
    minimal = load_profile(write_profile(tmp_path, {}))
    assert minimal.allow_fetch is True  # "Default: true"
    assert minimal.serialization is Serialization.OPTIONAL


BadProfile = Callable[[Path], Path]


def _written(text: bytes) -> BadProfile:
    def make(folder: Path) -> Path:
        path = folder / "bad-profile.json"
        path.write_bytes(text)
        return path

    return make


BAD_PROFILES: dict[str, tuple[BadProfile, str]] = {
    "missing": (lambda folder: folder / "no-such-profile.json", "cannot read the profile"),
    "a directory": (lambda folder: folder, "cannot read the profile"),
    "not JSON": (_written(b"BagIt-Profile-Info: yes\n"), "not JSON: Expecting value (line 1"),
    "not UTF-8": (_written(b'{"a": "\xe9"}'), "not JSON: not UTF-8"),
    "a JSON list": (_written(b"[]"), "not a BagIt profile (it has neither"),
    "an empty object": (_written(b"{}"), "not a BagIt profile (it has neither"),
    "a DART profile without identifier": (
        _written(b'{"bagItProfileInfo": {}, "acceptBagItVersion": ["1.0"]}'),
        "not a usable DART profile: 1 problem: bagItProfileInfo has no bagItProfileIdentifier",
    ),
    "no Accept-BagIt-Version": (
        _written(
            json.dumps(
                {
                    "BagIt-Profile-Info": {
                        "BagIt-Profile-Identifier": TEST_PROFILE,
                        "Source-Organization": "o",
                        "External-Description": "d",
                        "Version": "1",
                    }
                }
            ).encode()
        ),
        "not a usable BagIt profile: 1 problem: Accept-BagIt-Version is missing",
    ),
}


@pytest.mark.parametrize("case", BAD_PROFILES)
def test_a_profile_that_cannot_be_used_is_exit_2_with_one_line_naming_it(
    cli: CliRunner, tmp_path: Path, case: str
) -> None:
    make, problem = BAD_PROFILES[case]
    profile = make(tmp_path)
    bag = TEST_BAG.write(tmp_path / "bag")
    run = cli("validate", "--json", "--profile", profile, bag)
    assert run.code == 2
    assert run.out == ""
    assert run.err.count("\n") == 1
    assert run.err.startswith(f"archiver: error: {profile}: ")
    assert problem in run.err


def test_a_malformed_profile_is_refused_naming_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(
        json.dumps(
            {
                "BagIt-Profile-Info": {"BagIt-Profile-Identifier": TEST_PROFILE},
                "Bag-Info": {"Contact-Name": {"required": "yes", "values": "Ann"}},
                "Manifests-Required": "md5",
                "Allow-Fetch.txt": "no",
                "Serialization": "sometimes",
                "Accept-BagIt-Version": [],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(UsageError) as raised:
        load_profile(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: not a usable BagIt profile: 9 problems: ")
    for problem in (
        "BagIt-Profile-Info has no Source-Organization",
        "BagIt-Profile-Info has no External-Description",
        "BagIt-Profile-Info has no Version",
        "Accept-BagIt-Version must list at least one version",
        "Bag-Info Contact-Name required must be true or false",
        "Bag-Info Contact-Name values must be a list of strings",
        "Manifests-Required must be a list of strings",
        "Allow-Fetch.txt must be true or false",
        "Serialization must be 'forbidden', 'required' or 'optional'",
    ):
        assert problem in message


def test_a_malformed_dart_profile_is_refused_naming_every_problem(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        {
            "bagItProfileInfo": {},
            "acceptBagItVersion": [],
            "allowFetchTxt": "no",
            "tags": [{"tagFile": 1}, {"tagFile": "a.txt", "tagName": "A", "emptyOk": "yes"}],
        },
    )
    with pytest.raises(UsageError) as raised:
        load_profile(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: not a usable DART profile: 5 problems: ")
    for problem in (
        "bagItProfileInfo has no bagItProfileIdentifier",
        "acceptBagItVersion must list at least one version",
        "allowFetchTxt must be true or false",
        "tags entry 1 must be an object with tagFile and tagName",
        "tags a.txt A emptyOk must be true or false",
    ):
        assert problem in message


def test_a_dart_profile_reads_into_the_same_model(tmp_path: Path) -> None:
    profile = load_profile(PROFILES / "aptrust-v2.3.dart-format.json")
    assert (profile.identifier, profile.version) == (APTRUST, "2.3")
    assert profile.accept_bagit_versions == ("0.97", "1.0")
    assert (profile.serialization, profile.accept_serialization) == (
        Serialization.REQUIRED,
        ("application/tar",),
    )
    assert profile.tar_dir_must_match_name is True
    assert profile.identifier_required is False
    assert (profile.allow_fetch, profile.manifests_required) == (False, ("md5",))
    assert profile.manifests_allowed == ("md5", "sha1", "sha256", "sha512")
    assert profile.tag_files_allowed == ("*",)  # DART: "*" (or nothing) allows anything
    assert profile.unchecked == ()  # every other key is DART's own bookkeeping
    assert [r.label for r in profile.bag_info][:2] == ["Source-Organization", "Bag-Count"]
    title = profile.tag("aptrust-info.txt", "title")  # labels compare ignoring case
    assert title == TagRule(
        "Title",
        required=True,
        description="The title or name of that describes this bag's contents.",
        tag_file="aptrust-info.txt",
        empty_ok=False,
    )
    storage = profile.tag("aptrust-info.txt", "Storage-Option")
    assert storage is not None and storage.default == "Standard" and "Wasabi-TX" in storage.values
    # An empty allowed list allows anything, too; keys DART does not know are told.
    empty = load_profile(
        write_json(
            tmp_path,
            {
                "bagItProfileInfo": {"bagItProfileIdentifier": TEST_PROFILE},
                "acceptBagItVersion": ["1.0"],
                "manifestsAllowed": [],
                "tagFilesAllowed": [],
                "payloadFilesAllowed": ["data/*"],
                "tags": [{"tagFile": "a.txt", "tagName": "A", "mustBeUpper": True}],
            },
        )
    )
    assert (empty.manifests_allowed, empty.tag_files_allowed) == (None, ("*",))
    assert empty.unchecked == ("payloadFilesAllowed", "tags a.txt A mustBeUpper")


def test_a_dart_profile_judges_a_bag_folder_by_every_rule(cli: CliRunner, tmp_path: Path) -> None:
    # A bag breaking several of APTrust's rules at once: each is its own finding.
    bag = replace(
        APTRUST_BAG.setting("Source-Organization", ""),
        algorithms=("sha256",),
        tag_files={"aptrust-info.txt": b"Access: Everyone\n"},
    ).write(tmp_path / "bag")
    verdict = judge(cli, bag, PROFILES / "aptrust-v2.3.dart-format.json")
    assert verdict.code == 1
    assert verdict.other_errors == []
    assert verdict.profile_codes == [
        "profile.manifest.required",
        "profile.serialization.required",
        "profile.tag.empty",
        "profile.tag.required",
        "profile.tag.required",
        "profile.tag.value",
    ]
    empty = verdict.only("profile.tag.empty")
    assert (empty["path"], empty["params"]["label"]) == ("bag-info.txt", "Source-Organization")
    value = verdict.only("profile.tag.value")
    assert (value["path"], value["params"]["line"]) == ("aptrust-info.txt", 1)
    assert value["params"]["expected"] == "Consortia | Institution | Restricted"
    assert value["rule"] == "DART BagIt profile format: tags values"
    serialization = verdict.only("profile.serialization.required")
    assert serialization["params"]["expected"] == "application/tar"


def test_a_dart_profiles_tag_file_is_read_in_the_bags_declared_encoding(
    cli: CliRunner, tmp_path: Path
) -> None:
    profile = write_json(
        tmp_path,
        {
            "bagItProfileInfo": {"bagItProfileIdentifier": TEST_PROFILE},
            "acceptBagItVersion": ["1.0"],
            "tags": [
                {"tagFile": "extra/info.txt", "tagName": "Ville", "values": ["Genève"]},
                {"tagFile": "extra/info.txt", "tagName": "Pays", "required": True},
            ],
        },
    )
    latin1 = {"extra/info.txt": "Ville: Genève\n".encode("latin-1")}
    bag = replace(  # bagit.txt is rewritten below, so no tag manifest
        APTRUST_BAG.without("BagIt-Profile-Identifier"), tag_files=latin1, tag_algorithms=()
    )
    root = bag.write(tmp_path / "bag")
    (root / "bagit.txt").write_bytes(
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n"
    )
    verdict = judge(cli, root, profile)
    assert verdict.other_errors == []
    # "Genève" decoded as ISO-8859-1 is the value the profile lists: no profile.tag.value.
    found = verdict.only("profile.tag.required")
    assert (found["path"], found["params"]["label"]) == ("extra/info.txt", "Pays")
    assert verdict.profile_codes == ["profile.tag.required"]


def test_a_profile_whose_required_entries_it_does_not_allow_is_refused(tmp_path: Path) -> None:
    # "Manifests-Allowed must include at least all of the manifest types listed in
    # Manifests-Required" (and the same for tag manifests, tag files and payload files):
    # otherwise no bag could ever conform.
    path = write_profile(
        tmp_path,
        {
            "Manifests-Required": ["md5"],
            "Manifests-Allowed": ["sha256"],
            "Tag-Manifests-Required": ["sha512"],
            "Tag-Manifests-Allowed": ["sha256"],
            "Tag-Files-Required": ["meta/a.xml"],
            "Tag-Files-Allowed": ["other/*"],
            "Payload-Files-Required": ["data/src/"],
            "Payload-Files-Allowed": ["data/docs/*"],
            "Allow-Fetch.txt": False,
            "Fetch.txt-Required": True,
        },
    )
    with pytest.raises(UsageError) as raised:
        load_profile(path)
    message = str(raised.value)
    assert "5 problems" in message
    assert "Manifests-Required 'md5' is not in Manifests-Allowed" in message
    assert "Tag-Manifests-Required 'sha512' is not in Tag-Manifests-Allowed" in message
    assert "Tag-Files-Required 'meta/a.xml' is not in Tag-Files-Allowed" in message
    assert "Payload-Files-Required 'data/src/' is not in Payload-Files-Allowed" in message
    assert "Fetch.txt-Required is true but Allow-Fetch.txt is false" in message


def test_required_entries_covered_by_allowed_patterns_are_accepted(tmp_path: Path) -> None:
    profile = load_profile(
        write_profile(
            tmp_path,
            {
                "Manifests-Required": ["sha256"],
                "Manifests-Allowed": ["SHA-256", "sha512"],  # §2.4 names: SHA-256 is sha256
                "Tag-Files-Required": ["meta/a.xml", "bag-info.txt"],  # BagIt's own: always
                "Tag-Files-Allowed": ["meta/*"],
                "Payload-Files-Required": ["data/src/", "data/LICENSE"],
                "Payload-Files-Allowed": ["data/src/*", "data/LICENSE"],
            },
        )
    )
    assert profile.payload_files_required == ("data/src/", "data/LICENSE")


# -- one test per finding code -----------------------------------------------------------


def test_profile_identifier_missing(cli: CliRunner, tmp_path: Path) -> None:
    bag = BAR_BAG.without("BagIt-Profile-Identifier").write(tmp_path / "bag")
    verdict = judge(cli, bag, PROFILES / "bagProfileBar.json")
    assert verdict.code == 1
    found = verdict.only("profile.identifier-missing")
    assert (found["severity"], found["path"]) == ("error", "bag-info.txt")
    assert found["rule"] == "BagIt Profiles 1.4: BagIt-Profile-Identifier"
    assert found["params"] == {"expected": BAR, "profile": BAR}


def test_profile_identifier_differs(cli: CliRunner, tmp_path: Path) -> None:
    other = "https://example.org/profiles/other.json"
    bag = BTR_BAG.setting("BagIt-Profile-Identifier", other).write(tmp_path / "differs")
    verdict = judge(cli, bag, PROFILES / "btr-bagit-profile.json")
    assert verdict.code == 0  # a warning: "will have the same value" is no MUST
    found = verdict.only("profile.identifier-differs")
    assert (found["severity"], found["path"]) == ("warning", "bag-info.txt")
    assert found["params"]["found"] == other
    # The tag MAY be repeated when a bag conforms to several profiles: one match suffices.
    both = (
        BTR_BAG.setting("BagIt-Profile-Identifier", other)
        .info("BagIt-Profile-Identifier", BTR)
        .write(tmp_path / "both")
    )
    assert judge(cli, both, PROFILES / "btr-bagit-profile.json").profile_codes == [
        "profile.keys-not-checked"
    ]


def test_profile_version_not_accepted(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(FOO_BAG, version="1.0").write(tmp_path / "bag")
    found = judge(cli, bag, PROFILES / "bagProfileFoo.json").only("profile.version.not-accepted")
    assert (found["severity"], found["path"]) == ("error", "bagit.txt")
    assert found["params"]["found"] == "1.0"
    assert found["params"]["expected"] == "0.96 | 0.97"


@pytest.mark.parametrize("serialization", ["required", "optional", "forbidden"])
def test_profile_serialization_required(cli: CliRunner, tmp_path: Path, serialization: str) -> None:
    profile = write_profile(
        tmp_path,
        {"Serialization": serialization, "Accept-Serialization": ["application/zip"]},
    )
    verdict = judge(cli, TEST_BAG.write(tmp_path / "bag"), profile)
    if serialization == "required":  # a bag folder is not serialized
        assert verdict.code == 1
        found = verdict.only("profile.serialization.required")
        assert (found["path"], found["params"]["expected"]) == ("", "application/zip")
    else:
        assert (verdict.code, verdict.profile_codes) == (0, [])


def test_profile_serialization_forbidden() -> None:
    # Judged on a packed bag (an export's tar), by the profile's rules for packed bags.
    profile = load_profile(PROFILES / "bagProfileFoo.json")
    assert check_serialized(profile, ["application/tar"], "bag.tar") == []
    forbidding = replace(profile, serialization=Serialization.FORBIDDEN)
    (found,) = check_serialized(forbidding, ["application/tar"], "bag.tar")
    assert (found.code, found.severity, found.path) == (
        "profile.serialization.forbidden",
        Severity.ERROR,
        "bag.tar",
    )
    assert found.params == {"found": "application/tar", "profile": FOO}


def test_profile_serialization_not_accepted() -> None:
    profile = load_profile(PROFILES / "bagProfileFoo.json")
    assert profile.accept_serialization == ("application/zip", "application/tar")
    assert check_serialized(profile, ["application/x-tar", "application/tar"], "b.tar") == []
    (found,) = check_serialized(profile, ["application/x-7z-compressed"], "b.7z")
    assert found.code == "profile.serialization.not-accepted"
    assert found.params["expected"] == "application/zip | application/tar"


def test_profile_tag_required(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(APTRUST_BAG, tag_files={"aptrust-info.txt": b"Access: Restricted\n"})
    verdict = judge(cli, bag.write(tmp_path / "bag"), PROFILES / "aptrust-v2.3.dart-format.json")
    found = [f for f in verdict.findings if f["code"] == "profile.tag.required"]
    assert [(f["path"], f["params"]["label"]) for f in found] == [
        ("aptrust-info.txt", "Storage-Option"),
        ("aptrust-info.txt", "Title"),
    ]
    assert found[0]["message"] == "no Storage-Option, which the profile requires"


def test_profile_tag_value(cli: CliRunner, tmp_path: Path) -> None:
    info = APTRUST_INFO.replace(b"Standard", b"standard")  # values compare exactly
    bag = replace(APTRUST_BAG, tag_files={"aptrust-info.txt": info})
    verdict = judge(cli, bag.write(tmp_path / "bag"), PROFILES / "aptrust-v2.3.dart-format.json")
    found = verdict.only("profile.tag.value")
    assert (found["path"], found["params"]["found"], found["params"]["line"]) == (
        "aptrust-info.txt",
        "standard",
        3,
    )


def test_profile_tag_empty(cli: CliRunner, tmp_path: Path) -> None:
    info = APTRUST_INFO.replace(b"Title: Minutes of the board", b"Title: ")
    bag = replace(APTRUST_BAG, tag_files={"aptrust-info.txt": info})
    verdict = judge(cli, bag.write(tmp_path / "bag"), PROFILES / "aptrust-v2.3.dart-format.json")
    found = verdict.only("profile.tag.empty")
    assert (found["severity"], found["path"], found["params"]["line"]) == (
        "error",
        "aptrust-info.txt",
        1,
    )
    assert found["message"] == "Title is empty; the profile requires a value"


def test_profile_bag_info_required(cli: CliRunner, tmp_path: Path) -> None:
    bag = FOO_BAG.without("Contact-Phone").without("Bagging-Date").write(tmp_path / "missing")
    verdict = judge(cli, bag, PROFILES / "bagProfileFoo.json")
    required = [f for f in verdict.findings if f["code"] == "profile.bag-info.required"]
    assert sorted(f["params"]["label"] for f in required) == ["Bagging-Date", "Contact-Phone"]
    assert {f["path"] for f in required} == {"bag-info.txt"}
    # RFC 8493 labels ignore case: "contact-phone" is the Contact-Phone the profile requires.
    lower = FOO_BAG.without("Contact-Phone").info("contact-phone", "+1 416 555 0100")
    verdict = judge(cli, lower.write(tmp_path / "lower"), PROFILES / "bagProfileFoo.json")
    assert verdict.profile_codes == ["profile.serialization.required"]


def test_profile_bag_info_repeated(cli: CliRunner, tmp_path: Path) -> None:
    profile = write_profile(
        tmp_path,
        {
            "Bag-Info": {
                "Internal-Sender-Identifier": {"repeatable": False},
                "Contact-Name": {"description": "repeatable by default"},
            }
        },
    )
    bag = (
        TEST_BAG.info("Internal-Sender-Identifier", "box 1")
        .info("Contact-Name", "Ann")
        .info("Contact-Name", "Bo")
        .info("internal-sender-identifier", "box 2")
    )
    verdict = judge(cli, bag.write(tmp_path / "bag"), profile)
    assert verdict.profile_codes == ["profile.bag-info.repeated"]
    found = verdict.only("profile.bag-info.repeated")
    assert found["params"]["label"] == "Internal-Sender-Identifier"
    assert (found["params"]["count"], found["params"]["line"]) == (2, 5)


def test_profile_bag_info_value(cli: CliRunner, tmp_path: Path) -> None:
    # "values": every occurrence must be one of them, and each one that is not is reported.
    bag = (
        BAR_BAG.info("Source-Organization", "York University")
        .info("Source-Organization", "Yale University")
        .info("Source-Organization", "simon fraser university")
    )
    verdict = judge(cli, bag.write(tmp_path / "bag"), PROFILES / "bagProfileBar.json")
    values = [f for f in verdict.findings if f["code"] == "profile.bag-info.value"]
    assert [(f["params"]["found"], f["params"]["line"]) for f in values] == [
        ("Yale University", 11),
        ("simon fraser university", 12),
    ]
    assert values[0]["params"]["expected"] == "Simon Fraser University | York University"
    assert verdict.profile_codes == ["profile.bag-info.value"] * 2


def test_profile_manifest_required(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(FOO_BAG, algorithms=("sha256",)).write(tmp_path / "bag")
    found = judge(cli, bag, PROFILES / "bagProfileFoo.json").only("profile.manifest.required")
    assert (found["path"], found["params"]["algorithm"]) == ("manifest-md5.txt", "md5")


def test_manifest_types_compare_as_rfc_8493_spells_algorithms(
    cli: CliRunner, tmp_path: Path
) -> None:
    # §2.4: lowercase, alphanumerics only; a profile's "SHA-256" is manifest-sha256.txt.
    profile = write_profile(
        tmp_path,
        {
            "Manifests-Required": ["SHA-256"],
            "Manifests-Allowed": ["SHA-256"],
            "Tag-Manifests-Required": ["SHA-512"],
        },
    )
    bag = replace(TEST_BAG, tag_algorithms=("sha512",)).write(tmp_path / "bag")
    assert judge(cli, bag, profile).profile_codes == []


def test_profile_manifest_not_allowed(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(BTR_BAG, algorithms=("sha256", "sha224")).write(tmp_path / "bag")
    verdict = judge(cli, bag, PROFILES / "btr-bagit-profile.json")
    found = verdict.only("profile.manifest.not-allowed")
    assert (found["path"], found["params"]["algorithm"]) == ("manifest-sha224.txt", "sha224")
    # Foo has no Manifests-Allowed: "If not specified, all manifest types are permitted."
    extra = replace(FOO_BAG, algorithms=("md5", "sha224")).write(tmp_path / "foo")
    assert (
        "profile.manifest.not-allowed"
        not in judge(cli, extra, PROFILES / "bagProfileFoo.json").profile_codes
    )


def test_profile_tagmanifest_required(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(BDBAG_BAG, tag_algorithms=("md5",)).write(tmp_path / "bag")
    found = judge(cli, bag, PROFILES / "bdbag-profile.json").only("profile.tagmanifest.required")
    assert (found["path"], found["params"]["algorithm"]) == ("tagmanifest-sha256.txt", "sha256")


def test_profile_tagmanifest_not_allowed(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(BTR_BAG, tag_algorithms=("sha256", "sha224")).write(tmp_path / "bag")
    found = judge(cli, bag, PROFILES / "btr-bagit-profile.json").only(
        "profile.tagmanifest.not-allowed"
    )
    assert (found["path"], found["params"]["algorithm"]) == ("tagmanifest-sha224.txt", "sha224")


def test_profile_fetch_not_allowed(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(BAR_BAG, fetched=("data/a.txt",)).write(tmp_path / "bag")
    verdict = judge(cli, bag, PROFILES / "bagProfileBar.json")
    assert verdict.other_errors == []  # the fetched file is there: the bag is complete
    found = verdict.only("profile.fetch.not-allowed")
    assert (found["severity"], found["path"]) == ("error", "fetch.txt")


def test_profile_fetch_required(cli: CliRunner, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {"Fetch.txt-Required": True})
    verdict = judge(cli, TEST_BAG.write(tmp_path / "without"), profile)
    assert verdict.only("profile.fetch.required")["path"] == "fetch.txt"
    with_fetch = replace(TEST_BAG, fetched=("data/a.txt",)).write(tmp_path / "with")
    assert judge(cli, with_fetch, profile).profile_codes == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, []),
        ({"data/.keep": b""}, []),
        ({"data/a.txt": b"not empty\n"}, [("data/a.txt", 1)]),
        ({"data/a": b"", "data/b": b""}, [("data", 2)]),
    ],
    ids=["no file", "one empty file", "one file with bytes", "two empty files"],
)
def test_profile_payload_not_empty(
    cli: CliRunner, tmp_path: Path, payload: dict[str, bytes], expected: list[tuple[str, int]]
) -> None:
    # Data-Empty: "the /data directory must contain either no files or a single zero byte
    # length file".
    profile = write_profile(tmp_path, {"Data-Empty": True})
    verdict = judge(cli, replace(TEST_BAG, payload=payload).write(tmp_path / "bag"), profile)
    assert verdict.other_errors == []
    found = [f for f in verdict.findings if f["code"] == "profile.payload.not-empty"]
    assert [(f["path"], f["params"]["count"]) for f in found] == expected
    assert verdict.code == (1 if expected else 0)


def test_profile_tag_file_required(cli: CliRunner, tmp_path: Path) -> None:
    bag = replace(BDBAG_RO_BAG, tag_files={}).write(tmp_path / "bag")
    found = judge(cli, bag, PROFILES / "bdbag-ro-profile.json").only("profile.tag-file.required")
    assert (found["severity"], found["path"]) == ("error", "metadata/manifest.json")


def test_profile_tag_file_not_allowed(cli: CliRunner, tmp_path: Path) -> None:
    # bagProfileBar allows "DPN/*" only; bagit.txt, bag-info.txt and the manifests are
    # BagIt's own and governed by their own keys, so they are never reported.
    extra = {"notes.txt": b"n\n", "meta/a.xml": b"<a/>\n", "DPN/more/deep.txt": b"d\n"}
    bag = replace(BAR_BAG, tag_files={**BAR_BAG.tag_files, **extra}).write(tmp_path / "bag")
    verdict = judge(cli, bag, PROFILES / "bagProfileBar.json")
    found = [f for f in verdict.findings if f["code"] == "profile.tag-file.not-allowed"]
    assert [f["path"] for f in found] == ["meta/a.xml", "notes.txt"]
    assert found[0]["params"]["expected"] == "DPN/*"


def test_profile_payload_file_required(cli: CliRunner, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {"Payload-Files-Required": ["data/LICENSE", "data/src/"]})
    bag = replace(TEST_BAG, payload={"data/README": b"r\n"}).write(tmp_path / "without")
    (bag / "data" / "src").mkdir()  # an empty directory does not count
    verdict = judge(cli, bag, profile)
    found = [f for f in verdict.findings if f["code"] == "profile.payload-file.required"]
    assert [f["path"] for f in found] == ["data/LICENSE", "data/src/"]
    present = {"data/LICENSE": b"l\n", "data/src/deep/main.c": b"int main;\n"}
    bag = replace(TEST_BAG, payload=present).write(tmp_path / "with")
    assert judge(cli, bag, profile).profile_codes == []


def test_files_fetch_txt_lists_count_as_payload_before_they_are_fetched(
    cli: CliRunner, tmp_path: Path
) -> None:
    # The profile judges "the complete Bag": an unfetched file is there for its rules
    # (bag.fetch.unfetched says that it is not there yet).
    profile = write_profile(
        tmp_path,
        {
            "Payload-Files-Required": ["data/remote.txt"],
            "Payload-Files-Allowed": ["data/a.txt", "data/remote.txt"],
        },
    )
    payload = {"data/a.txt": b"a\n", "data/remote.txt": b"later\n", "data/other.txt": b"o\n"}
    fetched = ("data/other.txt", "data/remote.txt")
    bag = replace(TEST_BAG, payload=payload, fetched=fetched).write(tmp_path / "b")
    for path in fetched:
        (bag / path).unlink()
    verdict = judge(cli, bag, profile)
    assert "bag.fetch.unfetched" in verdict.other_errors
    found = verdict.only("profile.payload-file.not-allowed")
    assert found["path"] == "data/other.txt"
    assert verdict.profile_codes == ["profile.payload-file.not-allowed"]


def test_profile_payload_file_not_allowed(cli: CliRunner, tmp_path: Path) -> None:
    # Only '*' is a wildcard and it crosses '/'; '[' and '?' are ordinary characters.
    profile = write_profile(
        tmp_path,
        {"Payload-Files-Allowed": ["data/docs/*", "data/*.txt", "data/report [draft].pdf"]},
    )
    payload = {
        "data/docs/a/b/c.pdf": b"c",
        "data/sub/notes.txt": b"n",
        "data/report [draft].pdf": b"r",
        "data/report d.pdf": b"d",
        "data/image.png": b"i",
    }
    verdict = judge(cli, replace(TEST_BAG, payload=payload).write(tmp_path / "bag"), profile)
    found = [f for f in verdict.findings if f["code"] == "profile.payload-file.not-allowed"]
    assert [f["path"] for f in found] == ["data/image.png", "data/report d.pdf"]
    assert verdict.code == 1


def test_profile_keys_not_checked(cli: CliRunner, tmp_path: Path) -> None:
    profile = write_profile(
        tmp_path,
        {"Allow-Misc-Directories": True, "Bag-Info": {"Contact-Name": {"recommended": True}}},
    )
    verdict = judge(cli, TEST_BAG.write(tmp_path / "bag"), profile)
    assert verdict.code == 0  # only told, as info
    found = verdict.only("profile.keys-not-checked")
    assert (found["severity"], found["path"]) == ("info", "")
    assert found["params"]["keys"] == "Allow-Misc-Directories | Bag-Info Contact-Name recommended"


def test_every_profile_code_has_a_test_named_after_it() -> None:
    names = set(globals())
    for code in CATALOGUE:
        if code.startswith("profile."):
            assert "test_" + code.replace(".", "_").replace("-", "_") in names, code


def test_every_profile_code_names_its_key_and_is_an_error_unless_the_spec_says_less() -> None:
    lenient = {
        "profile.identifier-differs": Severity.WARNING,
        "profile.keys-not-checked": Severity.INFO,
    }
    for code, entry in CATALOGUE.items():
        if code.startswith("profile.tag."):  # DART's tags: rules for any tag file
            assert entry.rule.startswith("DART BagIt profile format: tags ")
        elif code.startswith("profile."):
            assert entry.rule.startswith("BagIt Profiles 1.4: ")
        if code.startswith("profile."):
            assert entry.severity is lenient.get(code, Severity.ERROR)


# -- every violation, not only the first -------------------------------------------------


def test_every_violation_of_a_profile_is_listed_not_only_the_first(
    cli: CliRunner, tmp_path: Path
) -> None:
    bag = (
        BAR_BAG.without("Bag-Count")
        .setting("Contact-Name", "Someone Else")
        .info("Unrelated-Label", "kept")
    )
    bag = replace(bag, tag_files={"DPN/dpnFirstNode.txt": b"sfu\n"})
    verdict = judge(cli, bag.write(tmp_path / "bag"), PROFILES / "bagProfileBar.json")
    assert verdict.other_errors == []
    assert verdict.profile_codes == [
        "profile.bag-info.required",
        "profile.bag-info.value",
        "profile.tag-file.required",
    ]
    assert all(f["params"]["profile"] == BAR for f in verdict.profile_findings)


# -- our own profile ---------------------------------------------------------------------


def test_the_shipped_profile_describes_archiver_bags() -> None:
    profile = shipped_profile(layout.PROFILE_IDENTIFIER)
    assert profile is not None
    assert profile == load_profile(SHIPPED)
    assert profile.identifier == layout.PROFILE_IDENTIFIER
    # 1.1: lean metadata; 1.2: bags may be serialized (bag --serialize)
    assert (profile.spec_version, profile.version) == ("1.4.0", "1.2")
    assert profile.accept_bagit_versions == (layout.BAGIT_VERSION,)
    assert profile.manifests_required == profile.tag_manifests_required == ("sha256", "sha512")
    # What archiver writes is required; nothing more is forbidden: RFC 8493 lets a bag's
    # keepers add tag files and manifests later, and the bag still names our profile.
    assert profile.manifests_allowed is profile.tag_manifests_allowed is None
    assert profile.tag_files_allowed == profile.payload_files_allowed == ("*",)
    assert profile.allow_fetch is False
    assert profile.serialization is Serialization.OPTIONAL  # folders, or .tar/.tar.gz/.zip
    assert set(profile.accept_serialization) == {
        "application/x-tar",
        "application/tar",
        "application/gzip",
        "application/zip",
    }
    assert profile.tag_files_required == layout.METADATA_FILES
    written = [label for label in baginfo.GENERATED if label != "BagIt-Profile-Identifier"]
    assert [r.label for r in profile.bag_info if r.required] == written
    assert all(not r.repeatable for r in profile.bag_info)
    info = json.loads(SHIPPED.read_text(encoding="utf-8"))["BagIt-Profile-Info"]
    assert "Contact-Email" not in info  # OPTIONAL, and we have no address to give
    assert shipped_profile("https://example.org/profiles/other.json") is None


def test_the_shipped_profile_accepts_the_committed_sample_bag(
    cli: CliRunner, tmp_path: Path
) -> None:
    bag = tmp_path / "a-giant-step-for-peace"
    shutil.copytree(REPO / "bags" / "a-giant-step-for-peace", bag)
    for profile in (None, SHIPPED):
        verdict = judge(cli, bag, profile)
        assert (verdict.code, verdict.findings) == (0, [])


def test_the_shipped_profile_accepts_a_fresh_bag_of_a_folder(
    cli: CliRunner, tmp_path: Path
) -> None:
    source = make_source_tree(
        tmp_path / "src",
        {"a.txt": "One.\n", "sub/b.txt": "Two.\n", "sub/deeper/c.md": "# Three\n"},
    )
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "folder").code == 0
    verdict = judge(cli, tmp_path / "bags" / "folder", SHIPPED)
    assert (verdict.code, verdict.findings) == (0, [])


def test_a_bag_naming_our_profile_is_checked_against_it_without_being_asked(
    cli: CliRunner, tmp_path: Path
) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "One.\n"})
    assert cli("bag", source, "--out", tmp_path / "bags", "--id", "b").code == 0
    bag = tmp_path / "bags" / "b"
    (bag / layout.DC_XML).unlink()
    for algorithm in ("sha256", "sha512"):
        drop_manifest_line(bag / f"tagmanifest-{algorithm}.txt", layout.DC_XML)
    for options in ([], ["--fast"]):  # profile rules need no checksum: --fast checks them too
        verdict = judge(cli, bag, None, *options)
        assert verdict.code == 1
        found = verdict.only("profile.tag-file.required")
        assert found["path"] == layout.DC_XML
        assert found["params"]["profile"] == layout.PROFILE_IDENTIFIER
        assert verdict.profile_codes == ["profile.tag-file.required"]


def test_a_bag_naming_no_profile_we_ship_is_judged_by_rfc_8493_alone(
    cli: CliRunner, tmp_path: Path
) -> None:
    bag = BAR_BAG.write(tmp_path / "bag")
    verdict = judge(cli, bag)
    assert (verdict.code, verdict.profile_codes) == (0, [])


def test_a_given_profile_replaces_ours_for_an_archiver_bag(cli: CliRunner, tmp_path: Path) -> None:
    source = make_source_tree(tmp_path / "src", {"a.txt": "One.\n"})
    made = cli("bag", source, "--out", tmp_path / "bags", "--id", "b", "--metadata", SAMPLE_RECORD)
    assert made.code == 0
    bag = tmp_path / "bags" / "b"
    # Without its SHA-512 manifest the bag is still a bag (RFC 8493), and still meets BTR,
    # but not our profile, which requires one.
    (bag / "manifest-sha512.txt").unlink()
    for algorithm in ("sha256", "sha512"):
        drop_manifest_line(bag / f"tagmanifest-{algorithm}.txt", "manifest-sha512.txt")
    ours = judge(cli, bag)
    assert (ours.code, ours.profile_codes) == (1, ["profile.manifest.required"])
    assert ours.other_errors == []
    btr = judge(cli, bag, PROFILES / "btr-bagit-profile.json")
    assert btr.code == 0
    assert btr.profile_codes == ["profile.identifier-differs", "profile.keys-not-checked"]
    assert btr.only("profile.identifier-differs")["params"]["found"] == layout.PROFILE_IDENTIFIER
