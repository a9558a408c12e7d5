"""Exporters: an archiver bag -> the package a repository ingests.

    dspace-saf      DSpace Simple Archive Format (a folder for `dspace import`)
    archivematica   a zipped bag for Archivematica's "zipped bag" transfer type
    ocfl            an OCFL 1.1 object, or a new version of it, in a storage root
    aptrust         a tarred bag that APTrust's ingest accepts

Every export validates the source bag first and refuses an invalid one, writes its
package atomically, then checks the package it wrote against the target's own rules.
"""
