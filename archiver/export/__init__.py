"""Exporters: an archiver bag -> the package a repository ingests.

    dspace-saf      DSpace Simple Archive Format (a folder for `dspace import`)
    archivematica   a zipped bag for Archivematica's "zipped bag" transfer type
    ocfl            an OCFL 1.1 object, or a new version of it, in a storage root
    aptrust         a tarred bag that APTrust's ingest accepts

Every export validates the source bag first and refuses an invalid one, writes its
package atomically, then checks the package it wrote against the target's own rules:

    export_bag(bag, to=TARGET, out=DEST, profile=None, clock=None) -> ExportResult

ExportResult.checks are the codes of the rules that held, ExportResult.findings what else
was found (codes from archiver.codes). It raises (from archiver.errors) InvalidBagError
(the bag's report), ExportRefusedError (what the target cannot take) or PackageCheckError
(a rule broken: its findings; the package is not moved into place).
"""

from archiver.export.base import TARGETS, ExportResult, export_bag

__all__ = ["TARGETS", "ExportResult", "export_bag"]
