"""archiver: preserve texts in BagIt 1.0 bags with Dublin Core, METS and PREMIS, and prove
their integrity.

Every job is one call (docs/api.md):

    make_bag(sources, out_dir, record=..., bag_id=...) -> BagResult
    validate_bag(bag, mode=..., profile=...) -> BagReport;  validate_bags(bags) -> Report
    Collection(path): audit(...) -> AuditReport, withdraw(bag_id, reason=...), history(...)
    export_bag(bag, to=TARGET, out=DEST, profile=...) -> ExportResult
    ingest_bag(foreign, into=collection) -> BagResult
    run_batch(sheet, out, jobs=..., dry_run=...) -> BatchResult
    oai_app(collection, base_url=...) -> a WSGI application
    load_record(path) -> Record;  Clock;  ArchiverError and its subclasses
"""

from typing import TYPE_CHECKING

from archiver import lazy
from archiver.version import __version__

if TYPE_CHECKING:
    from archiver.batch import BatchResult, run_batch
    from archiver.check.bag import Mode
    from archiver.clock import Clock
    from archiver.collection import AuditReport, BagStatus, Collection
    from archiver.errors import (
        ArchiverError,
        BagExistsError,
        BagWriteError,
        ClockError,
        CollectionError,
        DigestMismatchError,
        ExportRefusedError,
        InvalidBagError,
        MetadataError,
        PackageCheckError,
        Problem,
        SchemaError,
        SourceError,
        StoreError,
        UsageError,
        WorkerError,
    )
    from archiver.export import ExportResult, export_bag
    from archiver.findings import BagReport, Finding, Report
    from archiver.ingest import ingest_bag
    from archiver.oai.app import oai_app
    from archiver.packing import BagResult, make_bag
    from archiver.record import Record, load_record
    from archiver.validation import validate_bag, validate_bags

# Names are imported when first used, so ``archiver --version`` does not load lxml.
_LOCATIONS = {
    "BatchResult": "archiver.batch",
    "run_batch": "archiver.batch",
    "Mode": "archiver.check.bag",
    "Clock": "archiver.clock",
    "AuditReport": "archiver.collection",
    "BagStatus": "archiver.collection",
    "Collection": "archiver.collection",
    "ArchiverError": "archiver.errors",
    "BagExistsError": "archiver.errors",
    "BagWriteError": "archiver.errors",
    "ClockError": "archiver.errors",
    "CollectionError": "archiver.errors",
    "DigestMismatchError": "archiver.errors",
    "ExportRefusedError": "archiver.errors",
    "InvalidBagError": "archiver.errors",
    "MetadataError": "archiver.errors",
    "PackageCheckError": "archiver.errors",
    "Problem": "archiver.errors",
    "SchemaError": "archiver.errors",
    "SourceError": "archiver.errors",
    "StoreError": "archiver.errors",
    "UsageError": "archiver.errors",
    "WorkerError": "archiver.errors",
    "ExportResult": "archiver.export",
    "export_bag": "archiver.export",
    "BagReport": "archiver.findings",
    "Finding": "archiver.findings",
    "Report": "archiver.findings",
    "ingest_bag": "archiver.ingest",
    "oai_app": "archiver.oai.app",
    "BagResult": "archiver.packing",
    "make_bag": "archiver.packing",
    "Record": "archiver.record",
    "load_record": "archiver.record",
    "validate_bag": "archiver.validation",
    "validate_bags": "archiver.validation",
}


__getattr__ = lazy.attributes(__name__, _LOCATIONS)


__all__ = [
    "ArchiverError",
    "AuditReport",
    "BagExistsError",
    "BagReport",
    "BagResult",
    "BagStatus",
    "BagWriteError",
    "BatchResult",
    "Clock",
    "ClockError",
    "Collection",
    "CollectionError",
    "DigestMismatchError",
    "ExportRefusedError",
    "ExportResult",
    "Finding",
    "InvalidBagError",
    "MetadataError",
    "Mode",
    "PackageCheckError",
    "Problem",
    "Record",
    "Report",
    "SchemaError",
    "SourceError",
    "StoreError",
    "UsageError",
    "WorkerError",
    "__version__",
    "export_bag",
    "ingest_bag",
    "load_record",
    "make_bag",
    "oai_app",
    "run_batch",
    "validate_bag",
    "validate_bags",
]
