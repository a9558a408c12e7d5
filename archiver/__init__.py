"""archiver: preserve texts in BagIt 1.0 bags with Dublin Core, METS and PREMIS, and prove
their integrity.

The public API:

    make_bag(sources, out_dir, record=..., bag_id=..., force=..., clock=...) -> BagResult
    load_record(path) -> Record
    validate_bag(path, mode=...) -> BagReport;  validate_bags(paths) -> Report
    Clock, Record, Report, BagReport, Finding, Mode, ArchiverError (and its subclasses)
"""

from archiver.check.bag import Mode
from archiver.clock import Clock
from archiver.errors import (
    ArchiverError,
    BagExistsError,
    BagWriteError,
    ClockError,
    MetadataError,
    Problem,
    SchemaError,
    SourceError,
    UsageError,
)
from archiver.findings import BagReport, Finding, Report
from archiver.packing import BagResult, make_bag
from archiver.record import Record, load_record
from archiver.validation import validate_bag, validate_bags
from archiver.version import __version__

__all__ = [
    "ArchiverError",
    "BagExistsError",
    "BagReport",
    "BagResult",
    "BagWriteError",
    "Clock",
    "ClockError",
    "Finding",
    "MetadataError",
    "Mode",
    "Problem",
    "Record",
    "Report",
    "SchemaError",
    "SourceError",
    "UsageError",
    "__version__",
    "load_record",
    "make_bag",
    "validate_bag",
    "validate_bags",
]
