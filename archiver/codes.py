"""The finding catalogue: every code a validator may report, its default severity and rule.

Severity follows the rule's keyword: error = a MUST broken (the bag is invalid),
warning = a SHOULD broken or a risk worth knowing, info = worth telling. A test keeps this
catalogue and the codes used in the validators in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    rule: str
    summary: str


E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: notice (info)
# Findings of one code about one file a report lists before it only counts the rest
# (findings.Summariser): a tag file of a million bad lines is told in a hundred and one.
LISTED = 100

_CODES = [
    # RFC 8493 -- structure and bag declaration
    Code(
        "bag.not-a-bag",
        E,
        "RFC 8493 §2",
        "the path is not a bag at all: a file, nothing, or a folder of bags",
    ),
    Code("bag.declaration.missing", E, "RFC 8493 §2.1.1", "bagit.txt is missing"),
    Code(
        "bag.declaration.malformed",
        E,
        "RFC 8493 §2.1.1",
        "bagit.txt is not exactly the two required lines",
    ),
    Code("bag.declaration.bom", E, "RFC 8493 §2.1.1", "bagit.txt begins with a byte order mark"),
    Code("bag.declaration.not-utf8", E, "RFC 8493 §2.1.1", "bagit.txt is not UTF-8"),
    Code(
        "bag.declaration.version-unknown",
        E,
        "RFC 8493 §2.1.1",
        "BagIt-Version is not one this validator knows (0.93 to 1.0)",
    ),
    Code(
        "bag.declaration.encoding-unknown",
        E,
        "RFC 8493 §2.1.1",
        "Tag-File-Character-Encoding names no known character set",
    ),
    Code("bag.declaration.encoding-not-utf8", W, "RFC 8493 §2.1.1", "tag files SHOULD be UTF-8"),
    Code(
        "bag.payload-directory.missing",
        E,
        "RFC 8493 §2.1.2",
        "the base directory has no data/ directory",
    ),
    # payload manifests
    Code("bag.manifest.missing", E, "RFC 8493 §2.1.3", "no payload manifest"),
    Code(
        "bag.manifest.unverifiable",
        E,
        "RFC 8493 §2.4",
        "no payload manifest uses an algorithm this validator supports",
    ),
    Code(
        "bag.manifest.algorithm-unsupported",
        W,
        "RFC 8493 §2.4",
        "a manifest's algorithm is not supported; its checksums were not verified",
    ),
    Code(
        "bag.manifest.algorithm-weak",
        N,
        "RFC 8493 §2.4",
        "MD5 and SHA-1 are accepted for backward compatibility only",
    ),
    Code(
        "bag.manifest.line-malformed",
        E,
        "RFC 8493 §2.1.3",
        "a manifest line is not 'checksum whitespace filepath'",
    ),
    Code(
        "bag.manifest.checksum-malformed",
        E,
        "RFC 8493 §2.1.3",
        "a checksum has the wrong length for its algorithm",
    ),
    Code(
        "bag.manifest.path-unsafe",
        E,
        "RFC 8493 §5.1",
        "a manifest path could reach outside the bag; it was not followed",
    ),
    Code(
        "bag.manifest.path-outside-payload",
        E,
        "RFC 8493 §2.1.3",
        "a payload manifest lists a file outside data/",
    ),
    Code(
        "bag.manifest.duplicate-entry",
        E,
        "RFC 8493 §2.1.3",
        "a manifest lists the same file more than once",
    ),
    Code("bag.manifest.lists-directory", E, "RFC 8493 §2.1.3", "a manifest lists a directory"),
    Code(
        "bag.manifest.md5sum-style",
        W,
        "RFC 8493 §6.1.3",
        "an md5sum-style '*' before a path; the bag fails strict validation",
    ),
    Code(
        "bag.manifest.file-unlisted",
        E,
        "RFC 8493 §3",
        "a payload file is not listed in a payload manifest",
    ),
    # payload files
    Code("bag.payload.file-missing", E, "RFC 8493 §3", "a file listed in a manifest is missing"),
    Code(
        "bag.payload.checksum-mismatch",
        E,
        "RFC 8493 §3",
        "a payload file's checksum differs from its manifest",
    ),
    Code("bag.payload.unreadable", E, "RFC 8493 §3", "a payload file could not be read"),
    # tag manifests and tag files
    Code(
        "bag.tagmanifest.lists-payload", E, "RFC 8493 §2.2.1", "a tag manifest lists a payload file"
    ),
    Code(
        "bag.tagmanifest.lists-tagmanifest",
        E,
        "RFC 8493 §2.2.1",
        "a tag manifest lists a tag manifest",
    ),
    Code(
        "bag.tagmanifest.payload-manifest-unlisted",
        E,
        "RFC 8493 §2.2.1",
        "a tag manifest does not list every payload manifest",
    ),
    Code(
        "bag.tagmanifest.tag-file-unlisted",
        W,
        "RFC 8493 §2.2.1",
        "a tag manifest SHOULD list every tag file",
    ),
    Code("bag.tag.file-missing", E, "RFC 8493 §3", "a file listed in a tag manifest is missing"),
    Code(
        "bag.tag.checksum-mismatch",
        E,
        "RFC 8493 §3",
        "a tag file's checksum differs from its tag manifest",
    ),
    Code("bag.tag.unreadable", E, "RFC 8493 §3", "a tag file could not be read"),
    Code("bag.tagfile.bom", E, "RFC 8493 §2.3", "a UTF-8 tag file begins with a byte order mark"),
    Code(
        "bag.tagfile.unicode-line-break",
        W,
        "RFC 8493 §2.3 and §6 (interoperability): LoC bagit-python",
        "a tag file line holds U+0085, U+2028, U+2029 or a control character that LoC "
        "bagit-python (and other readers splitting lines as Python does) takes for a line "
        "break, so they read that name or value differently",
    ),
    Code(
        "bag.tagfile.undecodable", E, "RFC 8493 §2.3", "a tag file is not in the declared encoding"
    ),
    # bag-info.txt
    Code(
        "bag.bag-info.line-malformed", E, "RFC 8493 §2.2.2", "a bag-info line is not 'Label: value'"
    ),
    Code(
        "bag.bag-info.oxum-malformed",
        E,
        "RFC 8493 §2.2.2",
        "Payload-Oxum is not OctetCount.StreamCount",
    ),
    Code("bag.bag-info.oxum-repeated", E, "RFC 8493 §2.2.2", "Payload-Oxum appears more than once"),
    Code(
        "bag.bag-info.oxum-mismatch",
        E,
        "RFC 8493 §2.2.2 / §3",
        "Payload-Oxum disagrees with the payload on disk",
    ),
    Code(
        "bag.bag-info.repeated",
        W,
        "RFC 8493 §2.2.2",
        "a reserved element that SHOULD NOT be repeated is repeated",
    ),
    Code(
        "bag.bag-info.label-near-reserved",
        W,
        "RFC 8493 §2.2.2",
        "a label one or two letters from a reserved one (Source-Organisation): readers take "
        "it for another label, not the reserved element it was surely meant to be",
    ),
    # serialized bags: .tar, .tar.gz, .zip, read in place (never extracted)
    Code(
        "bag.archive.top-level",
        E,
        "RFC 8493 §4.1",
        "a serialized bag's archive does not hold exactly one top-level folder, the bag",
    ),
    Code(
        "bag.archive.unsafe-member",
        E,
        "RFC 8493 §5.1",
        "an archive member named absolute, with '..', a drive letter, a backslash, a NUL or "
        "bytes that are not UTF-8: never read",
    ),
    Code(
        "bag.archive.duplicate-member",
        E,
        "RFC 8493 §4.1",
        "an archive holds one name twice (or as a file and a folder): only the first is read",
    ),
    Code(
        "bag.archive.damaged",
        E,
        "RFC 8493 §4.1",
        "the archive cannot be read to its end (truncated, not the format its name says)",
    ),
    Code(
        "bag.archive.encrypted",
        E,
        "RFC 8493 §4.1",
        "an encrypted zip entry: its bytes cannot be checked",
    ),
    Code(
        "bag.archive.bomb",
        E,
        "RFC 8493 §5.1",
        "a zip entry that would inflate more than 1,000 times over, or a compressed "
        "payload declaring more bytes than its Payload-Oxum: not inflated",
    ),
    Code(
        "bag.archive.unsupported-member",
        E,
        "RFC 8493 §4.1",
        "an archive member of a kind not read (a GNU sparse file)",
    ),
    # path safety and interoperability
    Code(
        "bag.path.symlink",
        E,
        "RFC 8493 §5.1",
        "a symbolic link inside the bag; links are never followed",
    ),
    Code(
        "bag.path.special-file",
        E,
        "RFC 8493 §5.1",
        "a device, socket or pipe inside the bag; it was not read",
    ),
    Code(
        "bag.name.case-or-normalisation",
        W,
        "RFC 8493 §6.1.1.3",
        "file names that differ only in case or Unicode normalisation",
    ),
    Code(
        "bag.name.normalisation-differs",
        W,
        "RFC 8493 §6.1.1.3",
        "a manifest path matches a file only after Unicode normalisation",
    ),
    Code("bag.name.windows", W, "RFC 8493 §6.1.2", "a file name cannot exist on Windows"),
    Code(
        "bag.name.case-differs",
        W,
        "RFC 8493 §6.1.1.3",
        "a manifest path matches a file only when case is ignored",
    ),
    Code(
        "bag.manifest.path-dot-prefix",
        W,
        "RFC 8493 §2.1.3",
        "a manifest path starts with './'; it was read relative to the base directory",
    ),
    # fetch.txt
    Code(
        "bag.fetch.line-malformed",
        E,
        "RFC 8493 §2.2.3",
        "a fetch.txt line is not 'url length filepath'",
    ),
    Code(
        "bag.fetch.url-not-absolute", E, "RFC 8493 §2.2.3", "a fetch.txt URL is not an absolute URI"
    ),
    Code(
        "bag.fetch.path-unsafe",
        E,
        "RFC 8493 §5.1",
        "a fetch.txt path could reach outside the bag; it was not followed",
    ),
    Code(
        "bag.fetch.lists-tag-file",
        E,
        "RFC 8493 §2.2.3",
        "fetch.txt lists a tag file (a path outside data/)",
    ),
    Code(
        "bag.fetch.not-in-manifest",
        E,
        "RFC 8493 §2.2.3",
        "a file in fetch.txt is not listed in every payload manifest",
    ),
    Code(
        "bag.fetch.unfetched",
        E,
        "RFC 8493 §3",
        "a file in fetch.txt has not been fetched: the bag is not complete",
    ),
    Code(
        "bag.fetch.length-mismatch",
        W,
        "RFC 8493 §2.2.3",
        "a fetched file's size differs from the length fetch.txt gives",
    ),
    # our metadata (METS 1.12.1, PREMIS 3.0, Dublin Core)
    Code("metadata.xml.malformed", E, "XML 1.0", "a metadata file is not well-formed XML"),
    Code(
        "metadata.xml.schema-invalid",
        E,
        "METS 1.12.1 / PREMIS 3.0 / OAI DC XSD",
        "a metadata file breaks its XML schema",
    ),
    Code(
        "metadata.xml.wrong-root",
        E,
        "archiver bag layout",
        "a metadata file has an unexpected root element",
    ),
    Code(
        "metadata.file.missing",
        E,
        "archiver bag layout",
        "a metadata file of an archiver bag is missing",
    ),
    Code(
        "metadata.dc.date-unreadable",
        W,
        "DCMI dc:date: W3CDTF or EDTF (ISO 8601-2)",
        "a dc:date is neither W3CDTF nor EDTF: no program can sort, place or export it as a date",
    ),
    Code(
        "metadata.mets.file-not-described",
        E,
        "METS 1.12.1 fileSec",
        "a payload file has no METS file entry",
    ),
    Code(
        "metadata.mets.points-at-missing-file",
        E,
        "METS 1.12.1 FLocat",
        "a METS file entry points at a payload file that is not there",
    ),
    Code(
        "metadata.mets.reference-missing",
        E,
        "METS 1.12.1 mdRef",
        "a METS mdRef (LOCTYPE OTHER, SYSTEM) points at a file that is not in the bag",
    ),
    Code(
        "metadata.mets.checksum-mismatch",
        E,
        "METS 1.12.1 CHECKSUM",
        "a METS checksum differs from the manifest",
    ),
    Code(
        "metadata.mets.size-mismatch",
        E,
        "METS 1.12.1 SIZE",
        "a METS file size differs from the file",
    ),
    Code(
        "metadata.premis.file-not-described",
        E,
        "PREMIS 3.0 object",
        "a payload file has no PREMIS object",
    ),
    Code(
        "metadata.premis.fixity-mismatch",
        E,
        "PREMIS 3.0 fixity",
        "a PREMIS message digest differs from the manifest",
    ),
    Code(
        "metadata.premis.size-mismatch", E, "PREMIS 3.0 size", "a PREMIS size differs from the file"
    ),
    # integrity verification runs over a collection (archiver audit)
    Code(
        "audit.bag.missing",
        E,
        "archiver audit",
        "a bag the ledger knows has disappeared from the collection without being withdrawn "
        "(reported on every run until it comes back)",
    ),
    Code(
        "audit.bag.no-longer-a-bag",
        E,
        "archiver audit",
        "a bag the ledger knows has lost its bagit.txt: its folder is no longer a bag",
    ),
    Code(
        "audit.bag.ambiguous",
        E,
        "archiver audit",
        "two entries of the collection hold one bag id (ID/ and ID.tar, say): the preferred "
        "one (a folder, then .tar, .tar.gz, .tgz, .zip) is checked, the others never are",
    ),
    Code("audit.bag.new", N, "archiver audit", "a bag the ledger had not seen before"),
    Code(
        "audit.bag.withdrawn",
        N,
        "archiver audit",
        "a bag the ledger knows was withdrawn (told once; it is no longer audited)",
    ),
    # the reference implementation, as a second opinion (validate --reference)
    Code(
        "reference.disagrees",
        W,
        "LoC bagit-python (reference implementation)",
        "bagit-python's verdict on the bag differs from archiver's",
    ),
    Code(
        "reference.failed",
        W,
        "LoC bagit-python (reference implementation)",
        "bagit-python could not judge the bag (it raised an unexpected error)",
    ),
    Code(
        "reference.skipped",
        N,
        "RFC 8493 §5.1",
        "bagit-python was not run: the bag has links or paths that reach outside it",
    ),
    # BagIt Profiles 1.4 (validate --profile FILE; or our own profile, when a bag names it)
    Code(
        "profile.identifier-missing",
        E,
        "BagIt Profiles 1.4: BagIt-Profile-Identifier",
        "bag-info.txt does not name the profile (a conforming bag MUST)",
    ),
    Code(
        "profile.identifier-differs",
        W,
        "BagIt Profiles 1.4: BagIt-Profile-Identifier",
        "bag-info.txt names another profile than the one the bag was checked against",
    ),
    Code(
        "profile.version.not-accepted",
        E,
        "BagIt Profiles 1.4: Accept-BagIt-Version",
        "the bag's BagIt-Version is not one the profile accepts",
    ),
    Code(
        "profile.serialization.required",
        E,
        "BagIt Profiles 1.4: Serialization",
        "the profile requires a serialized bag; a directory is not one",
    ),
    Code(
        "profile.serialization.forbidden",
        E,
        "BagIt Profiles 1.4: Serialization",
        "the profile forbids serialized bags; the bag was packed",
    ),
    Code(
        "profile.serialization.not-accepted",
        E,
        "BagIt Profiles 1.4: Accept-Serialization",
        "the bag is packed in a format the profile does not accept",
    ),
    Code(
        "profile.bag-info.required",
        E,
        "BagIt Profiles 1.4: Bag-Info required",
        "a bag-info element the profile requires is missing",
    ),
    Code(
        "profile.bag-info.repeated",
        E,
        "BagIt Profiles 1.4: Bag-Info repeatable",
        "a bag-info element the profile makes not repeatable appears more than once",
    ),
    Code(
        "profile.bag-info.value",
        E,
        "BagIt Profiles 1.4: Bag-Info values",
        "a bag-info value is not one of those the profile lists",
    ),
    Code(
        "profile.tag.required",
        E,
        "DART BagIt profile format: tags required",
        "a tag the profile requires in a tag file other than bag-info.txt is missing",
    ),
    Code(
        "profile.tag.value",
        E,
        "DART BagIt profile format: tags values",
        "a tag's value in a tag file other than bag-info.txt is not one the profile lists",
    ),
    Code(
        "profile.tag.empty",
        E,
        "DART BagIt profile format: tags emptyOk",
        "a tag the profile requires a value for is empty",
    ),
    Code(
        "profile.manifest.required",
        E,
        "BagIt Profiles 1.4: Manifests-Required",
        "a payload manifest the profile requires is missing",
    ),
    Code(
        "profile.manifest.not-allowed",
        E,
        "BagIt Profiles 1.4: Manifests-Allowed",
        "a payload manifest uses an algorithm the profile does not allow",
    ),
    Code(
        "profile.tagmanifest.required",
        E,
        "BagIt Profiles 1.4: Tag-Manifests-Required",
        "a tag manifest the profile requires is missing",
    ),
    Code(
        "profile.tagmanifest.not-allowed",
        E,
        "BagIt Profiles 1.4: Tag-Manifests-Allowed",
        "a tag manifest uses an algorithm the profile does not allow",
    ),
    Code(
        "profile.fetch.not-allowed",
        E,
        "BagIt Profiles 1.4: Allow-Fetch.txt",
        "the bag has a fetch.txt; the profile forbids it",
    ),
    Code(
        "profile.fetch.required",
        E,
        "BagIt Profiles 1.4: Fetch.txt-Required",
        "the bag has no fetch.txt; the profile requires one",
    ),
    Code(
        "profile.payload.not-empty",
        E,
        "BagIt Profiles 1.4: Data-Empty",
        "the profile requires no payload file or one zero-length file",
    ),
    Code(
        "profile.tag-file.required",
        E,
        "BagIt Profiles 1.4: Tag-Files-Required",
        "a tag file the profile requires is missing",
    ),
    Code(
        "profile.tag-file.not-allowed",
        E,
        "BagIt Profiles 1.4: Tag-Files-Allowed",
        "a tag file matches none of the profile's Tag-Files-Allowed patterns",
    ),
    Code(
        "profile.payload-file.required",
        E,
        "BagIt Profiles 1.4: Payload-Files-Required",
        "a payload file or directory the profile requires is missing",
    ),
    Code(
        "profile.payload-file.not-allowed",
        E,
        "BagIt Profiles 1.4: Payload-Files-Allowed",
        "a payload file matches none of the profile's Payload-Files-Allowed patterns",
    ),
    Code(
        "profile.keys-not-checked",
        N,
        "BagIt Profiles 1.4: keys outside the specification",
        "the profile has keys outside its format (BagIt Profiles 1.4 or DART's); "
        "they were not checked",
    ),
    # export: each package is checked against its target's own rules after it is written
    Code(
        "export.source.files",
        E,
        "archiver export: the source bag's files, byte for byte",
        "a file of the package is missing, extra, or not the source bag's bytes",
    ),
    Code(
        "export.source.record",
        E,
        "archiver export: the source bag's Dublin Core, as the target carries it",
        "the package's descriptive metadata is not what the source bag's record gives",
    ),
    Code(
        "export.source.bag-info",
        E,
        "archiver export: the source bag's bag-info labels and values",
        "the package's bag-info lost or changed a label or value of the source bag's",
    ),
    Code(
        "export.profile",
        E,
        "archiver export: the BagIt profile given for the package",
        "the package meets the BagIt profile given (broken: its profile.* findings)",
    ),
    Code(
        "export.dspace.archive-folder",
        E,
        "DSpace ItemImport: the archive directory, one folder per item",
        "the archive folder holds something besides its one item folder, or no item folder",
    ),
    Code(
        "export.dspace.item-files",
        E,
        "DSpace ItemImport: the files it reads from an item folder",
        "the item folder holds a file DSpace reads (handle, collections, metadata_*.xml) that "
        "this export never writes, or a link",
    ),
    Code(
        "export.dspace.metadata-file",
        E,
        "DSpace ItemImport: dublin_core.xml and metadata_[schema].xml",
        "a metadata file is not a dublin_core document of dcvalue elements",
    ),
    Code(
        "export.dspace.registry",
        E,
        "DSpace metadata registries: dublin-core-types.xml and dcterms-types.xml",
        "a metadata field is not in DSpace's default registry: the import would fail",
    ),
    Code(
        "export.dspace.contents",
        E,
        "DSpace ItemImport: contents file",
        "a contents line is not 'name<TAB>bundle:NAME[<TAB>option]...' as DSpace reads it",
    ),
    Code(
        "export.dspace.contents-file",
        E,
        "DSpace ItemImport: contents file, the files it names",
        "a contents line names no regular file in the item folder, or one listed before",
    ),
    Code(
        "export.dspace.unlisted-file",
        E,
        "DSpace ItemImport: contents file, only listed files are imported",
        "a file in the item folder is not listed in contents: DSpace would not import it",
    ),
    Code(
        "export.dspace.primary",
        E,
        "DSpace ItemImport: contents primary:true",
        "contents does not mark exactly one file as the item's primary bitstream",
    ),
    Code(
        "export.archivematica.zip",
        E,
        "Archivematica extract_zipped_transfer.py: a zip holding one folder, the bag",
        "the zip cannot be read, or does not hold one top-level folder with safe, distinct "
        "member names and no links",
    ),
    Code(
        "export.archivematica.bag",
        E,
        "Archivematica verify_and_restructure_transfer_bag.py: bag.is_valid (LoC bagit-python)",
        "bagit-python, which Archivematica checks transfers with, rejects the bag, or the "
        "bag lacks a manifest it verifies",
    ),
    Code(
        "export.archivematica.bag-info-label",
        E,
        "Archivematica bags.rst: bag-info labels become XML elements of the AIP METS",
        "a bag-info label is not an XML name",
    ),
    Code(
        "export.archivematica.metadata-csv",
        E,
        "Archivematica import-metadata.rst: metadata.csv",
        "metadata.csv is not UTF-8 CSV of a filename column, dc.*/dcterms.* columns and one "
        "row, 'objects' (the transfer as a whole)",
    ),
    Code(
        "export.aptrust.size",
        E,
        "APTrust bagging requirements: a bag of 5 TB or less",
        "the tar is larger than APTrust accepts",
    ),
    Code(
        "export.aptrust.tar",
        E,
        "APTrust BagIt profile 2.3: acceptSerialization application/tar",
        "the package is not an uncompressed tar of plain files and folders with safe, "
        "distinct member names",
    ),
    Code(
        "export.aptrust.tar-folder",
        E,
        "APTrust BagIt profile 2.3: tarDirMustMatchName",
        "the tar does not unpack to the one folder named as the tar file without .tar",
    ),
    Code(
        "export.aptrust.file-name",
        E,
        "APTrust bagging requirements: file names; preservation-services util.go "
        "ContainsControlCharacter, ContainsEscapedControl",
        "a file or folder name APTrust refuses: a control character (Go's unicode.IsControl: "
        "U+0000-U+001F, U+007F-U+009F), the text of an escaped one ('\\u001b'), a '%' "
        "(manifest paths are read literally), a leading '-', over 255 characters",
    ),
    Code(
        "export.aptrust.bag",
        E,
        "APTrust ingest: a valid BagIt bag (RFC 8493)",
        "the unpacked bag is valid (broken: the validator's bag.* findings)",
    ),
    Code(
        "export.aptrust.profile",
        E,
        "APTrust BagIt profile 2.3 (aptrust-v2.3.dart-format.json)",
        "the unpacked bag meets APTrust's profile (broken: its profile.* findings)",
    ),
    Code(
        "export.aptrust.source-organization",
        N,
        "APTrust BagIt profile 2.3: bag-info Source-Organization, not required",
        "the bag names no Source-Organization; APTrust sets the depositor's on restore",
    ),
    Code(
        "export.ocfl.storage-root",
        E,
        "OCFL 1.1 §4: storage root (ocfl-py validation, E0nn)",
        "ocfl-py finds the storage root invalid",
    ),
    Code(
        "export.ocfl.object",
        E,
        "OCFL 1.1 §3: object (ocfl-py validation, E0nn)",
        "ocfl-py finds an object of the storage root invalid",
    ),
    Code(
        "export.ocfl.object-warning",
        W,
        "OCFL 1.1: SHOULD rules (ocfl-py validation, W0nn)",
        "ocfl-py warns about the exported object",
    ),
    Code(
        "export.ocfl.inventory",
        E,
        "OCFL 1.1 §3.5.1: inventory id and digestAlgorithm",
        "the object where the bag's belongs names another id, or a digest other than sha512",
    ),
]

CATALOGUE: dict[str, Code] = {code.code: code for code in _CODES}


_FAMILIES = {
    "bag": "RFC 8493: the bag itself",
    "metadata": "Our metadata: DC, METS, PREMIS against each other and the bag",
    "profile": "BagIt profiles (BagIt Profiles 1.4, and APTrust's DART format read into it)",
    "reference": "The second opinion: LoC bagit-python",
    "audit": "Fixity audits",
    "export": "Exports: the package checked against the target's own rules",
}

_INTRO = """\
# Finding codes

<!-- Generated by `python -m archiver.codes > docs/findings.md` from archiver/codes.py;
     tests/test_docs.py fails when this file is not what the catalogue generates. -->

Everything archiver inspects (a bag, an audit, an export package) is reported as
findings. A finding has a `code` from this catalogue, a `severity`, the bag-relative
`path` it concerns, a `message` for people (which never repeats the path or line: they
are fields), the `rule` it enforces, and structured `params` (`line`, `algorithm`,
`expected`, `found`, `manifest`, `entry`, ...).

Severity follows the rule: **error** = a MUST is broken (the bag is invalid, the package
is refused), **warning** = a SHOULD is broken or a risk is worth knowing, **info** = worth
telling. The codes are stable: scripts may rely on them.

A report lists at most {listed} findings of one code about one file (a manifest, fetch.txt,
a tag file); one more finding of that code, at that file, counts the rest in `params.more`.
"""


def markdown_table(codes: list[Code] | None = None) -> str:
    """A catalogue table in Markdown: code, severity, rule, meaning."""
    rows = ["| code | severity | rule | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{c.code}` | {c.severity} | {c.rule} | {c.summary} |"
        for c in (CATALOGUE.values() if codes is None else codes)
    ]
    return "\n".join(rows)


def findings_document() -> str:
    """docs/findings.md: the whole catalogue, one table per family of codes."""
    parts = [_INTRO.format(listed=LISTED)]
    for family, title in _FAMILIES.items():
        codes = [c for c in CATALOGUE.values() if c.code.split(".", 1)[0] == family]
        if codes:
            parts.append(f"## {title}\n\n{markdown_table(codes)}\n")
    other = [c for c in CATALOGUE.values() if c.code.split(".", 1)[0] not in _FAMILIES]
    if other:
        parts.append(f"## Other\n\n{markdown_table(other)}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(findings_document(), end="")
