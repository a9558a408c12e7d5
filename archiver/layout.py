"""What an archiver bag looks like: the names both the packer and the validators rely on.

ID/
  bagit.txt, bag-info.txt
  manifest-sha256.txt, manifest-sha512.txt
  tagmanifest-sha256.txt, tagmanifest-sha512.txt
  metadata/dc.xml, metadata/mets.xml, metadata/premis.xml
  data/...
"""

from __future__ import annotations

BAGIT_VERSION = "1.0"
METADATA_DIR = "metadata"
DC_XML = "metadata/dc.xml"
METS_XML = "metadata/mets.xml"
PREMIS_XML = "metadata/premis.xml"
METADATA_FILES = (DC_XML, METS_XML, PREMIS_XML)

# The BagIt profile (schemas/archiver-bagit-profile.json) every archiver bag declares.
PROFILE_FILE = "archiver-bagit-profile.json"
PROFILE_IDENTIFIER = (
    "https://archiver-preservation.github.io/profiles/archiver-bagit-profile-1.0.json"
)

# Folders a payload file may sit in below data/: METS nests a structMap div per folder, and
# XML parsers refuse documents nested deeper than 256 elements (libxml2 without huge_tree).
# 250 would still parse; the rest is room for METS to change.
MAX_FOLDER_DEPTH = 200
