"""DSpace Simple Archive Format: one bag -> one item folder for ``dspace import --add``.

    OUT/                        the archive directory (--out); DSpace reads every folder in it
      item_000/                 as one item
        dublin_core.xml         <dublin_core schema="dc">: the bag's Dublin Core, crosswalked
        metadata_dcterms.xml    <dublin_core schema="dcterms">: custody, and what dc cannot hold
        contents                one line per file: NAME<TAB>bundle:B[<TAB>primary:true]...
        <payload files>         as they sit under the bag's data/, subfolders kept
        dc.xml mets.xml premis.xml   the bag's metadata/ files, bundle METADATA

DSpace's batch import through its web UI takes the same folder zipped: the folder --out
itself, holding item_000/ (ItemImportServiceImpl.unzip takes the top folder for the archive
directory when a member lies two folders deep; a zip of item_000/ would make items of its
subfolders). What DSpace does with each piece, as its ItemImportServiceImpl and registries
read:

Metadata. ``dublin_core.xml`` and every ``metadata_*.xml`` are read as ``<dcvalue element=
qualifier= language=>`` under a root whose ``schema`` attribute names the registry (``dc``
when absent). Qualifier "none" or "" means unqualified; values are trimmed; a field missing
from the registry fails the import. So every field written exists in DSpace's default
registries (``DC_REGISTRY``, ``DCTERMS_REGISTRY``: dspace/config/registries/
dublin-core-types.xml and dcterms-types.xml; the dc set keeps only long-standing fields,
not later additions such as dc.identifier.doi). The crosswalk (``crosswalk``):

    title        first -> dc.title; further ones -> dc.title.alternative
    creator      dc.contributor.author (what DSpace's submission uses; its registry notes
                 dc.creator as "only for harvested metadata")
    contributor  dc.contributor (its "catch-all for unspecified contributors")
    subject      dc.subject (uncontrolled: nothing says which vocabulary a term is from)
    description  dc.description. Not .abstract: a DC description is "an account of the
                 resource" -- a note, a summary, a contents list -- and calling it an
                 abstract would assert what the record does not say.
    publisher    dc.publisher
    date         first -> dc.date.issued, the date DSpace browses, sorts and cites by (since
                 DSpace 4 it no longer supplies one); further ones -> dc.date; each only
                 when DSpace's DCDate reads it exactly (YYYY, YYYY-MM, YYYY-MM-DD,
                 YYYY-MM-DDThh:mm:ssZ). An EDTF date that says more or less than one such
                 point -- approximate or uncertain (~ ? %), unspecified digits (199X), a
                 season (2020-21), an interval -- or a time DCDate would misread (to the
                 minute, fractions, a local time) -> dcterms.date as written, never a
                 "mangled date" DSpace sorts and cites by nothing or by the wrong day.
    type         dc.type
    format       dc.format.mimetype when a MIME type (text/plain), else dc.format
    identifier   dc.identifier.uri when a URL or URN, else dc.identifier.other
    source       dc.source.uri when a URL or URN, else dc.source
    language     dc.language.iso when an ISO 639 code, written DSpace's way (en-GB -> en_GB);
                 else dc.language
    relation     dc.relation.uri when a URL or URN, else dc.relation
    rights       dc.rights.uri when a URL or URN, else dc.rights
    coverage     dc.coverage.temporal when plainly a time (a W3CDTF date, 1939-1945, an
                 ISO 8601 interval, a DCMI Period); dc.coverage.spatial when plainly a place
                 (a DCMI Point or Box, a latitude,longitude pair); anything else ->
                 dcterms.coverage. DSpace's dc registry has no unqualified dc.coverage, and
                 "Singapore" is only obviously a place to a reader, not to a program.

No ``language`` attribute is written: the record says what language the *resource* is in,
not what language each metadata value is written in.

``metadata_dcterms.xml`` is always written. It holds one dcterms.provenance statement (the
bag's External-Identifier, Bagging-Date, Source-Organization and Bag-Software-Agent, and
that every file was checked against the bag's manifests) plus the date and coverage values
above that dc cannot hold.
dcterms.provenance rather than dc.description.provenance: DSpace writes its own submission
and accession log into the latter (and hides it), so the package's history before DSpace
stays apart from what DSpace records about itself. Nothing in either file depends on the
clock, so the same bag always gives the same folder; DSpace records the import date itself.

Files. ``contents`` lines are ``name<TAB>bundle:NAME`` options; DSpace opens item folder +
"/" + name, so a payload file in a subfolder is listed by its relative path and becomes a
bitstream of that name ("chapters/one.txt") -- DSpace's own SAF export writes such names
back out into subfolders. Payload files go to bundle ORIGINAL, ``source.primary`` marked
``primary:true``; the bag's metadata/ files go to bundle METADATA, DSpace's own bundle for
"structured metadata bitstreams" (Constants.METADATA_BUNDLE_NAME, used by its METS
packagers), with a description naming where they came from. All are copied byte for byte,
each digested while copying and compared with the bag's (tag) manifests.

Names. A contents line is read up to a line break and split at TABs, and a line starting
with "-r " registers a file instead of importing it: a bag path holding TAB, CR or LF
cannot be listed, and the export is refused (ExportRefusedError names the file) rather
than renamed. Top-level names DSpace reads itself (dublin_core.xml, metadata_*.xml,
contents, handle, collections, relationships) or that read as a registration are never
given to a payload entry: like DSpace's own export on a clash, the entry is written as
"1_NAME" (2_, 3_... until free) and its description names its bag path. The bag's
metadata files yield the same way to any payload entry of their name (a payload mets.xml
keeps its name; the bag's METS becomes 1_mets.xml). Clashes are judged ignoring case, so
the folder also survives a case-insensitive file system. ``contents`` is UTF-8, as DSpace's
export writes it; DSpace reads it with a FileReader (the platform charset) and opens the
files it names through the JVM's file-name encoding (sun.jnu.encoding), both set by the
locale, which -Dfile.encoding does not change: non-ASCII names are imported under a UTF-8
locale (LANG=C.UTF-8), as docs/exports.md says.

Not written: ``handle`` (DSpace mints one; a handle from elsewhere would claim an identity
this repository never had) and ``collections`` (the collection is chosen at import time,
``dspace import -a -c HANDLE`` or the batch-import form, not hard-coded into the package).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from lxml import etree

from archiver import layout
from archiver.bagit import algorithms, hashing, paths
from archiver.bagit.files import BagFile
from archiver.errors import BagWriteError, ExportRefusedError
from archiver.export.base import Options, PackageCheck
from archiver.export.source import SourceBag
from archiver.findings import Finding, finding
from archiver.record import Record
from archiver.staging import os_reason
from archiver.version import AGENT
from archiver.xml import parsing, writing
from archiver.xml.characters import xml_problem

ITEM = "item_000"
DUBLIN_CORE = "dublin_core.xml"
DCTERMS_FILE = "metadata_dcterms.xml"
CONTENTS = "contents"
ORIGINAL = "ORIGINAL"
METADATA = "METADATA"

# DSpace's default "dc" registry (dublin-core-types.xml): element -> qualifiers, None for the
# unqualified field. There is no unqualified dc.coverage.
_DC_FIELDS: dict[str, tuple[str | None, ...]] = {
    "contributor": (None, "advisor", "author", "editor", "illustrator", "other"),
    "coverage": ("spatial", "temporal"),
    "creator": (None,),
    "date": (None, "accessioned", "available", "copyright", "created", "issued", "submitted"),
    "description": (
        None,
        "abstract",
        "provenance",
        "sponsorship",
        "statementofresponsibility",
        "tableofcontents",
        "uri",
    ),
    "format": (None, "extent", "medium", "mimetype"),
    "identifier": (None, "citation", "govdoc", "isbn", "issn", "sici", "ismn", "other", "uri"),
    "language": (None, "iso"),
    "publisher": (None,),
    "relation": (
        None,
        "isformatof",
        "ispartof",
        "ispartofseries",
        "haspart",
        "isversionof",
        "hasversion",
        "isbasedon",
        "isreferencedby",
        "requires",
        "replaces",
        "isreplacedby",
        "uri",
    ),
    "rights": (None, "uri"),
    "source": (None, "uri"),
    "subject": (None, "classification", "ddc", "lcc", "lcsh", "mesh", "other"),
    "title": (None, "alternative"),
    "type": (None,),
}
DC_REGISTRY = frozenset((e, q) for e, qualifiers in _DC_FIELDS.items() for q in qualifiers)

# DSpace's default "dcterms" registry (dcterms-types.xml): DCMI terms, all unqualified.
DCTERMS_REGISTRY = frozenset(
    (element, None)
    for element in (
        "abstract",
        "accessRights",
        "accrualMethod",
        "accrualPeriodicity",
        "accrualPolicy",
        "alternative",
        "audience",
        "available",
        "bibliographicCitation",
        "conformsTo",
        "contributor",
        "coverage",
        "created",
        "creator",
        "date",
        "dateAccepted",
        "dateCopyrighted",
        "dateSubmitted",
        "description",
        "educationLevel",
        "extent",
        "format",
        "hasFormat",
        "hasPart",
        "hasVersion",
        "identifier",
        "instructionalMethod",
        "isFormatOf",
        "isPartOf",
        "isReferencedBy",
        "isReplacedBy",
        "isRequiredBy",
        "issued",
        "isVersionOf",
        "language",
        "license",
        "mediator",
        "medium",
        "modified",
        "provenance",
        "publisher",
        "references",
        "relation",
        "replaces",
        "requires",
        "rights",
        "rightsHolder",
        "source",
        "spatial",
        "subject",
        "tableOfContents",
        "temporal",
        "title",
        "type",
        "valid",
    )
)
REGISTRIES = {"dc": DC_REGISTRY, "dcterms": DCTERMS_REGISTRY}

Schema = Literal["dc", "dcterms"]


@dataclass(frozen=True)
class DCValue:
    """One ``<dcvalue>``: a value of schema.element[.qualifier]."""

    schema: Schema
    element: str
    qualifier: str | None
    value: str

    @property
    def field(self) -> str:
        return ".".join(p for p in (self.schema, self.element, self.qualifier) if p)


# -- the crosswalk (pure) ------------------------------------------------------------------

_URI = re.compile(r"^(?:(?:https?|ftp)://\S+|urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+)$", re.I)
_MIME_TOP = "application|audio|example|font|haptics|image|message|model|multipart|text|video"
_MIME_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME = re.compile(rf"^(?:{_MIME_TOP})/{_MIME_NAME}(?:\s*;\s*{_MIME_NAME}=\S+)*$", re.I)
_ISO_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?$", re.ASCII)
# What DSpace's DCDate (dspace-api org.dspace.content.DCDate) parses exactly: a year, a
# month, a day, or a UTC time to the second. Its other patterns drop the zone or the fraction.
_DCDATE = re.compile(
    r"^\d{4}(?:-(?:0[1-9]|1[0-2])"  # year, month
    r"(?:-(?:0[1-9]|[12]\d|3[01])"  # day
    r"(?:T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ)?)?)?$",  # time, UTC, to the second
    re.ASCII,
)
_W3CDTF = r"\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)?)?"
_TEMPORAL = re.compile(
    rf"^(?:{_W3CDTF}|\d{{4}}\s*[-\u2013]\s*\d{{4}}|(?:{_W3CDTF}|\.\.)/(?:{_W3CDTF}|\.\.))$",
    re.ASCII,
)
_LAT_LONG = re.compile(r"^([+-]?\d{1,2}(?:\.\d+)?)\s*,\s*([+-]?\d{1,3}(?:\.\d+)?)$", re.ASCII)
# DCMI Period, Point and Box encodings (name=value pairs separated by ';').
_PERIOD_KEYS = frozenset({"start", "end", "scheme", "name"})
_POINT_KEYS = frozenset({"east", "north", "elevation", "units", "zunits", "projection", "name"})
_BOX_KEYS = frozenset(
    {"northlimit", "eastlimit", "southlimit", "westlimit", "uplimit", "downlimit"}
    | {"units", "zunits", "projection", "name"}
)


def crosswalk(record: Record) -> list[DCValue]:
    """The record's Dublin Core as DSpace fields, in DCMES order, values in given order."""
    found: list[DCValue] = []
    for element, values in record.dc:
        for index, value in enumerate(values):
            schema, name, qualifier, written = _field_for(element, index, value)
            found.append(DCValue(schema, name, qualifier, written))
    return found


def _field_for(element: str, index: int, value: str) -> tuple[Schema, str, str | None, str]:
    uri = _URI.match(value.strip()) is not None
    if element == "title":
        return "dc", "title", None if index == 0 else "alternative", value
    if element == "creator":
        return "dc", "contributor", "author", value
    if element == "date":
        if not _dcdate_exact(value):
            return "dcterms", "date", None, value
        return "dc", "date", "issued" if index == 0 else None, value
    if element == "format":
        return "dc", "format", "mimetype" if _MIME.match(value.strip()) else None, value
    if element == "identifier":
        return "dc", "identifier", "uri" if uri else "other", value
    if element in ("source", "relation", "rights"):
        return "dc", element, "uri" if uri else None, value
    if element == "language":
        match = _ISO_LANGUAGE.match(value.strip())
        if match is None:
            return "dc", "language", None, value
        code = match.group(1).lower()
        region = match.group(2)
        return "dc", "language", "iso", f"{code}_{region.upper()}" if region else code
    if element == "coverage":
        kind = _coverage_kind(value.strip())
        if kind is None:
            return "dcterms", "coverage", None, value
        return "dc", "coverage", kind, value
    # contributor, subject, description, publisher, type: the unqualified field.
    return "dc", element, None, value


def _dcdate_exact(value: str) -> bool:
    if not _DCDATE.match(value):
        return False
    if len(value) < 10:
        return True
    try:
        date.fromisoformat(value[:10])
    except ValueError:  # 2018-02-30
        return False
    return True


def _coverage_kind(value: str) -> Literal["temporal", "spatial"] | None:
    if _TEMPORAL.match(value):
        return "temporal"
    keys = _dcmi_keys(value)
    if keys and keys <= _PERIOD_KEYS and keys & {"start", "end"}:
        return "temporal"
    if keys and keys <= _POINT_KEYS and {"east", "north"} <= keys:
        return "spatial"
    if (
        keys
        and keys <= _BOX_KEYS
        and {"northlimit", "eastlimit", "southlimit", "westlimit"} <= keys
    ):
        return "spatial"
    match = _LAT_LONG.match(value)
    if match and abs(float(match.group(1))) <= 90 and abs(float(match.group(2))) <= 180:
        return "spatial"
    return None


def _dcmi_keys(value: str) -> frozenset[str]:
    """The component names of a DCMI encoded value ("start=1939; end=1945"), or none."""
    parts = [part.strip() for part in value.split(";") if part.strip()]
    if not parts or not all("=" in part for part in parts):
        return frozenset()
    return frozenset(part.split("=", 1)[0].strip().lower() for part in parts)


def provenance(source: SourceBag, algorithm_names: Sequence[str]) -> str:
    """The dcterms.provenance statement: where the item's files come from."""
    facts = [
        f"{label}: {value}"
        for wanted in ("Bagging-Date", "Source-Organization", "Bag-Software-Agent")
        for label, value in source.bag_info
        if label.lower() == wanted.lower() and value.strip()
    ]
    detail = f" ({'; '.join(facts)})" if facts else ""
    checked = " and ".join(algorithm_names) or "no"
    return (
        f"Exported by {AGENT} from the BagIt bag {source.bag_id}{detail}. Every file was "
        f"copied byte for byte and checked against the bag's {checked} manifests."
    )


def metadata_document(schema: Schema, values: Sequence[DCValue]) -> bytes:
    """dublin_core.xml / metadata_SCHEMA.xml; ExportRefusedError for a value XML 1.0
    cannot carry (most C0 controls, U+FFFE/U+FFFF, lone surrogates)."""
    root = etree.Element("dublin_core", schema=schema)
    for value in values:
        problem = xml_problem(value.value)
        if problem:
            raise ExportRefusedError(
                f"DSpace cannot be given {value.field} {_shorten(value.value)}: {problem}"
            )
        element = etree.SubElement(
            root, "dcvalue", element=value.element, qualifier=value.qualifier or "none"
        )
        element.text = value.value
    return writing.serialise(root)


def _shorten(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


# -- the item's files (the bag's manifests, its metadata files read through the reader) -----

# Top-level names DSpace's importer reads itself; a payload entry never takes one.
_SAF_NAMES = frozenset(
    {DUBLIN_CORE, DCTERMS_FILE, CONTENTS, "handle", "collections", "relationships"}
)
_SAF_FOLDED = frozenset(name.casefold() for name in _SAF_NAMES)
# LocalSchemaFilenameFilter's own pattern (its dot unescaped); DOTALL errs on the safe side.
_SCHEMA_FILE = re.compile(r"metadata_.*.xml", re.DOTALL)
_LINE_BREAKING = re.compile("[\t\n\r]")
_METADATA_DESCRIPTIONS = {
    layout.DC_XML: "its Dublin Core record",
    layout.METS_XML: "its METS document",
    layout.PREMIS_XML: "its PREMIS preservation metadata",
}


@dataclass(frozen=True)
class Entry:
    """One file of the item: where it comes from, what contents says about it."""

    name: str  # path inside the item folder, as contents lists it
    bag_path: str
    source: Path | BagFile | None  # a payload file (digested as it is copied)
    bundle: str
    primary: bool
    description: str | None
    size: int | None  # from the inventory (payload files); None for tag files
    digests: Mapping[str, str]  # algorithm -> hex, from the bag's (tag) manifests
    # a metadata file: its bytes, read through the bag reader (and checked against the tag
    # manifests when the bag has them)
    content: bytes | None = None

    def contents_line(self) -> str:
        options = [f"bundle:{self.bundle}"]
        if self.primary:
            options.append("primary:true")
        if self.description:
            options.append(f"description:{self.description}")
        return "\t".join([self.name, *options])


@dataclass(frozen=True)
class Plan:
    entries: tuple[Entry, ...]
    dublin_core: bytes
    dcterms: bytes

    @property
    def contents(self) -> bytes:
        return "".join(f"{e.contents_line()}\n" for e in self.entries).encode("utf-8")


def plan_item(source: SourceBag) -> Plan:
    """What the item folder holds; ExportRefusedError for what DSpace cannot be given."""
    primary = source.primary
    if primary is None:
        raise ExportRefusedError(
            f"{source.root}: the bag has no payload file to be the DSpace item's primary bitstream"
        )
    unlistable = [
        item.path
        for item in source.payload
        if _LINE_BREAKING.search(item.path) or not paths.is_utf8(item.path)
    ]
    if unlistable:
        raise ExportRefusedError(
            "a DSpace contents file cannot list "
            + ", ".join(repr(path) for path in unlistable)
            + " (a TAB, CR or LF in a file name splits its line; names must be UTF-8)"
        )
    renamed = _payload_top_names(source)
    taken = {name.casefold() for name in renamed.values()} | _SAF_FOLDED
    entries: list[Entry] = []
    for item in source.payload:
        top, _, rest = item.name.partition("/")
        name = "/".join(p for p in (renamed[top], rest) if p)
        entries.append(
            Entry(
                name=name,
                bag_path=item.path,
                source=source.file(item.path),
                bundle=ORIGINAL,
                primary=item.path == primary.path,
                description=None if name == item.name else f"{item.path} of the source bag",
                size=item.size,
                digests=_supported(item.digests, item.path),
            )
        )
    tag_digests = source.tag_digests
    for bag_path in source.metadata:
        name = _free(bag_path.rsplit("/", 1)[-1], taken)
        taken.add(name.casefold())
        what = _METADATA_DESCRIPTIONS.get(bag_path, "its metadata")
        entries.append(
            Entry(
                name=name,
                bag_path=bag_path,
                source=None,
                bundle=METADATA,
                primary=False,
                description=f"{bag_path} of the source bag: {what}",
                size=None,
                # BagIt makes tag manifests optional: without one the copy is compared
                # with the bytes read from the bag (see _expected).
                digests=_supported(tag_digests.get(bag_path, {}), bag_path, required=False),
                content=source.metadata_file(bag_path),
            )
        )
    values = crosswalk(source.record)
    names = sorted({n for item in source.payload for n in _supported(item.digests, item.path)})
    dcterms = [
        DCValue("dcterms", "provenance", None, provenance(source, names)),
        *(v for v in values if v.schema == "dcterms"),
    ]
    return Plan(
        tuple(entries),
        metadata_document("dc", [v for v in values if v.schema == "dc"]),
        metadata_document("dcterms", dcterms),
    )


def _reserved(name: str) -> bool:
    """A top-level name DSpace would read as its own, or whose line reads as "-r ..."."""
    return (
        name.casefold() in _SAF_FOLDED
        or _SCHEMA_FILE.fullmatch(name) is not None
        or _java_trim(name).startswith("-r ")
    )


def _java_trim(value: str) -> str:
    """String.trim(): drops every character up to U+0020 at both ends."""
    start, end = 0, len(value)
    while start < end and value[start] <= " ":
        start += 1
    while end > start and value[end - 1] <= " ":
        end -= 1
    return value[start:end]


def _free(name: str, taken: set[str]) -> str:
    """``name``, or DSpace's export's answer to a clash: 1_name, 2_name, ..."""
    candidate, number = name, 0
    while candidate.casefold() in taken or _reserved(candidate):
        number += 1
        candidate = f"{number}_{name}"
    return candidate


def _payload_top_names(source: SourceBag) -> dict[str, str]:
    """Each top-level payload entry's name in the item folder (renamed only if reserved)."""
    tops = sorted({item.name.partition("/")[0] for item in source.payload})
    taken = {top.casefold() for top in tops if not _reserved(top)}
    renamed: dict[str, str] = {}
    for top in tops:
        if _reserved(top):
            renamed[top] = _free(top, taken | _SAF_FOLDED)
            taken.add(renamed[top].casefold())
        else:
            renamed[top] = top
    return renamed


def _supported(
    digests: Mapping[str, str], bag_path: str, *, required: bool = True
) -> dict[str, str]:
    found = {
        name: value.lower() for name, value in digests.items() if algorithms.is_supported(name)
    }
    if not found and required:
        raise ExportRefusedError(f"{bag_path}: no manifest digest to check the copy against")
    return found


# -- the exporter ----------------------------------------------------------------------------


class DSpaceSAF:
    """The dspace-saf target: a new archive folder holding one item folder."""

    name = "dspace-saf"
    creates: Literal["folder"] = "folder"

    # No clock: nothing in the folder depends on the time, so the same bag gives the same bytes.
    def write(self, source: SourceBag, target: Path, options: Options) -> None:
        if options.profile is not None:
            raise ExportRefusedError(
                "a BagIt profile does not apply to a DSpace Simple Archive Format package: "
                "it is not a bag (judge the source bag by the profile instead)"
            )
        plan = plan_item(source)  # refuses before anything is written
        item = target / ITEM
        mismatches: list[Finding] = []
        try:
            item.mkdir(parents=True)
            for entry in plan.entries:
                destination = item / entry.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                mismatches.extend(_copy(entry, destination))
            (item / DUBLIN_CORE).write_bytes(plan.dublin_core)
            (item / DCTERMS_FILE).write_bytes(plan.dcterms)
            (item / CONTENTS).write_bytes(plan.contents)
        except OSError as exc:  # writing the package, or reading a payload file
            raise BagWriteError(
                f"cannot write the DSpace package {options.shown(target)}: {os_reason(exc)}"
            ) from exc
        copied = PackageCheck()
        copied.rule("export.source.files", mismatches)
        copied.verdict(target.name)

    def check(self, target: Path, source: SourceBag, options: Options) -> PackageCheck:  # noqa: ARG002
        return check_package(target, plan_item(source))


EXPORTER = DSpaceSAF()


def _copy(entry: Entry, destination: Path) -> list[Finding]:
    """Copy one file, digesting it on the way; what differs from the bag's manifests."""
    where = f"{ITEM}/{entry.name}"
    if entry.content is not None:  # read and checked already
        destination.write_bytes(entry.content)
        return []
    assert entry.source is not None  # a payload file
    try:
        found = hashing.copy_file(entry.source, destination, sorted(entry.digests) or [_CHECKED])
    except hashing.WriteFailedError:
        raise
    except OSError as exc:  # the source vanished or changed since it was validated
        return [
            finding(
                "export.source.files",
                where,
                f"could not be copied from the bag: {exc.strerror or exc}",
                source=entry.bag_path,
            )
        ]
    problems = [
        finding(
            "export.source.files",
            where,
            f"its copy's {name} differs from the bag's manifest",
            source=entry.bag_path,
            algorithm=name,
            expected=want,
            found=found.digests[name],
        )
        for name, want in sorted(entry.digests.items())
        if found.digests[name] != want
    ]
    if entry.size is not None and found.size != entry.size:
        problems.append(_size_differs(where, entry, found.size))
    return problems


def _size_differs(where: str, entry: Entry, size: int) -> Finding:
    return finding(
        "export.source.files",
        where,
        f"{size} bytes; the bag's file has {entry.size}",
        source=entry.bag_path,
        expected=entry.size,
        found=size,
    )


# -- checking a written package --------------------------------------------------------------


def check_package(target: Path, plan: Plan) -> PackageCheck:
    """The SAF rules, checked on disk (paths relative to ``target``, the archive folder):
    the codes that held; PackageCheckError carrying every finding when one is broken."""
    check = PackageCheck()
    item = target / ITEM
    names, unreadable = _listdir(target)
    check.rule(
        "export.dspace.archive-folder",
        [
            *unreadable,
            *(
                finding(
                    "export.dspace.archive-folder",
                    name,
                    f"the archive folder holds more than the item folder {ITEM}",
                )
                for name in names
                if name != ITEM
            ),
            *(
                []
                if item.is_dir() and not item.is_symlink()
                else [finding("export.dspace.archive-folder", ITEM, "no item folder")]
            ),
        ],
    )
    if not item.is_dir() or item.is_symlink():
        return check.verdict(target.name)
    files, links = _item_files(item)
    check.rule(
        "export.dspace.item-files",
        [
            *(
                finding(
                    "export.dspace.item-files",
                    f"{ITEM}/{name}",
                    "DSpace reads this file; this export never writes one",
                )
                for name in sorted(_saf_files(item) - {DUBLIN_CORE, CONTENTS, DCTERMS_FILE})
            ),
            *(
                finding(
                    "export.dspace.item-files",
                    f"{ITEM}/{name}",
                    "DSpace reads this file; this export never writes one (DSpace mints the "
                    "handle, the collection is chosen at import)",
                )
                for name in ("handle", "collections", "relationships")
                if os.path.lexists(item / name)
            ),
            *(
                finding("export.dspace.item-files", f"{ITEM}/{rel}", "a symbolic link")
                for rel in links
            ),
        ],
    )
    _check_metadata_files(item, plan, check)
    listed = _check_contents(item, plan, check)
    if listed is not None:
        check.rule(
            "export.dspace.unlisted-file",
            [
                finding(
                    "export.dspace.unlisted-file",
                    f"{ITEM}/{rel}",
                    "contents does not list this file, so DSpace would not import it",
                )
                for rel in sorted(set(files) - set(listed) - _saf_files(item))
            ],
        )
    check.rule("export.source.files", _check_digests(item, plan))
    return check.verdict(target.name)


def _listdir(folder: Path) -> tuple[list[str], list[Finding]]:
    try:
        return sorted(os.listdir(folder)), []
    except OSError as exc:
        return [], [
            finding("export.dspace.archive-folder", "", f"cannot be listed: {exc.strerror}")
        ]


def _saf_files(item: Path) -> set[str]:
    return {
        name
        for name in os.listdir(item)
        if name in (DUBLIN_CORE, CONTENTS) or _SCHEMA_FILE.fullmatch(name)
    }


def _check_metadata_files(item: Path, plan: Plan, check: PackageCheck) -> None:
    """dublin_core.xml and metadata_dcterms.xml: DSpace's format, its registries, and the
    bag's record as crosswalked."""
    expected = {DUBLIN_CORE: ("dc", plan.dublin_core), DCTERMS_FILE: ("dcterms", plan.dcterms)}
    form: list[Finding] = []
    registry: list[Finding] = []
    record: list[Finding] = []
    for name, (schema, want) in expected.items():
        where = f"{ITEM}/{name}"
        try:
            data = (item / name).read_bytes()
        except OSError as exc:
            form.append(
                finding("export.dspace.metadata-file", where, f"cannot be read: {exc.strerror}")
            )
            continue
        found_form, found_registry = _metadata_problems(where, data, schema)
        form += found_form
        registry += found_registry
        if not (found_form or found_registry) and data != want:
            record.append(
                finding(
                    "export.source.record",
                    where,
                    "not what the bag's record crosswalks to",
                    schema=schema,
                )
            )
    check.rule("export.dspace.metadata-file", form)
    check.rule("export.dspace.registry", registry)
    check.rule("export.source.record", record)


def _metadata_problems(where: str, data: bytes, schema: str) -> tuple[list[Finding], list[Finding]]:
    """The SAF metadata file rules DSpace's importer relies on: (the file's form, fields
    outside DSpace's default registry)."""
    try:
        root = parsing.parse_bytes(data).getroot()
    except etree.XMLSyntaxError as exc:
        return [finding("export.dspace.metadata-file", where, f"not well-formed XML: {exc}")], []
    if root.tag != "dublin_core":
        return [
            finding(
                "export.dspace.metadata-file",
                where,
                "the root element is not dublin_core",
                found=str(root.tag),
                expected="dublin_core",
            )
        ], []
    if root.get("schema") != schema:
        return [
            finding(
                "export.dspace.metadata-file",
                where,
                "the schema attribute names another schema",
                found=root.get("schema"),
                expected=schema,
            )
        ], []
    form: list[Finding] = []
    unknown: list[Finding] = []
    registry = REGISTRIES[schema]
    for child in root:
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction: DSpace reads past it
        element = child.get("element")
        qualifier = child.get("qualifier")
        unqualified = qualifier in (None, "", "none")
        label = ".".join(p for p in (schema, element, None if unqualified else qualifier) if p)
        line = child.sourceline
        if child.tag != "dcvalue":
            form.append(
                finding(
                    "export.dspace.metadata-file",
                    where,
                    f"<{child.tag}> is not a dcvalue element",
                    line=line,
                )
            )
        elif not element:
            form.append(
                finding(
                    "export.dspace.metadata-file",
                    where,
                    "a dcvalue has no element attribute",
                    line=line,
                )
            )
        elif (element, None if unqualified else qualifier) not in registry:
            unknown.append(
                finding(
                    "export.dspace.registry",
                    where,
                    f"{label} is not in DSpace's default {schema} registry",
                    line=line,
                    field=label,
                )
            )
        elif len(child) or not (child.text or "").strip():
            form.append(
                finding(
                    "export.dspace.metadata-file",
                    where,
                    f"{label} must hold text only, and some",
                    line=line,
                    field=label,
                )
            )
    return form, unknown


def _check_contents(item: Path, plan: Plan, check: PackageCheck) -> list[str] | None:
    """Every line's syntax and file; None when contents cannot be read at all."""
    where = f"{ITEM}/{CONTENTS}"
    try:
        raw = (item / CONTENTS).read_bytes()
        body = raw.decode("utf-8")
    except OSError as exc:
        check.rule(
            "export.dspace.contents",
            [finding("export.dspace.contents", where, f"cannot be read: {exc.strerror}")],
        )
        return None
    except UnicodeDecodeError as exc:
        check.rule(
            "export.dspace.contents",
            [finding("export.dspace.contents", where, "not UTF-8", offset=exc.start)],
        )
        return None
    syntax: list[Finding] = []
    named: list[Finding] = []
    if "\r" in body or (body and not body.endswith("\n")):
        syntax.append(
            finding("export.dspace.contents", where, "must be LF-terminated lines without CR")
        )
    names: list[str] = []
    primaries: list[int] = []
    for number, line in enumerate(body.splitlines(), start=1):
        name, *options = line.split("\t")
        bundles = [o for o in options if o.startswith("bundle:")]
        unknown = [o for o in options if not o.startswith(("bundle:", "description:"))]
        unknown = [o for o in unknown if o != "primary:true"]
        if "primary:true" in options:
            primaries.append(number)
        if len(bundles) != 1 or bundles[0] == "bundle:":
            syntax.append(
                finding(
                    "export.dspace.contents",
                    where,
                    "a line must name exactly one bundle",
                    line=number,
                    entry=name,
                )
            )
        if unknown:
            syntax.append(
                finding(
                    "export.dspace.contents",
                    where,
                    f"options DSpace does not know: {', '.join(unknown)}",
                    line=number,
                    entry=name,
                )
            )
        if _java_trim(line).startswith("-r "):
            syntax.append(
                finding(
                    "export.dspace.contents",
                    where,
                    "the line would be read as a registration (-r)",
                    line=number,
                    entry=name,
                )
            )
        if not _inside(name) or not _regular_file(item / name):
            named.append(
                finding(
                    "export.dspace.contents-file",
                    where,
                    "names no regular file in the item folder",
                    line=number,
                    entry=name,
                )
            )
        elif name in names:
            named.append(
                finding(
                    "export.dspace.contents-file",
                    where,
                    "lists a file a second time",
                    line=number,
                    entry=name,
                )
            )
        names.append(name)
    check.rule("export.dspace.contents", syntax)
    check.rule("export.dspace.contents-file", named)
    check.rule(
        "export.dspace.primary",
        []
        if len(primaries) == 1
        else [
            finding(
                "export.dspace.primary",
                where,
                f"{len(primaries)} lines are marked primary:true, not exactly one",
                count=len(primaries),
                line=primaries[1] if len(primaries) > 1 else None,
            )
        ],
    )
    check.rule(
        "export.source.files",
        []
        if raw == plan.contents
        else [
            finding(
                "export.source.files",
                where,
                "does not list the bag's files as this export lists them",
            )
        ],
    )
    return names


def _inside(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _item_files(item: Path) -> tuple[list[str], list[str]]:
    """Every file under the item folder by its /-separated relative path, and every link."""
    files: list[str] = []
    links: list[str] = []
    for folder, dirs, names in os.walk(item):
        relative = Path(folder).relative_to(item)
        for name in sorted(dirs + names):
            rel = (relative / name).as_posix()
            if (Path(folder) / name).is_symlink():
                links.append(rel)
            elif name in names:
                files.append(rel)
    return files, links


_CHECKED = "sha256"  # the algorithm check() re-reads each file with, when the bag has it


def _expected(entry: Entry) -> tuple[str, str, str]:
    """(algorithm, digest, what says so) to check the item's copy of ``entry`` against."""
    for name in (_CHECKED, *sorted(entry.digests)):
        if name in entry.digests:
            return name, entry.digests[name], "the bag's manifest"
    # Only a metadata file can lack a digest: compare with its bytes as read from the bag.
    found = algorithms.new(_CHECKED)
    found.update(entry.content or b"")
    return _CHECKED, found.hexdigest(), "its source file (no tag manifest lists it)"


def _check_digests(item: Path, plan: Plan) -> list[Finding]:
    """Every file of the item against the bag's: size and digest."""
    problems: list[Finding] = []
    for entry in plan.entries:
        where = f"{ITEM}/{entry.name}"
        try:
            name, want, authority = _expected(entry)
            found = hashing.digest_file(item / entry.name, [name])
        except OSError as exc:
            problems.append(
                finding(
                    "export.source.files",
                    where,
                    f"cannot be read: {exc.strerror or exc}",
                    source=entry.bag_path,
                )
            )
            continue
        if entry.size is not None and found.size != entry.size:
            problems.append(_size_differs(where, entry, found.size))
        elif found.digests[name] != want:
            problems.append(
                finding(
                    "export.source.files",
                    where,
                    f"its {name} differs from what {authority} says",
                    source=entry.bag_path,
                    algorithm=name,
                    expected=want,
                    found=found.digests[name],
                )
            )
    return problems
