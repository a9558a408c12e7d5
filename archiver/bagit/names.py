"""The names RFC 8493 gives a bag's files and folders, and how big a tag file may be.

Shared by the writer and the reader (and whatever names a bag's parts) without importing
the reader, which writing a bag does not need.
"""

from __future__ import annotations

BAGIT_TXT = "bagit.txt"
BAG_INFO_TXT = "bag-info.txt"
PACKAGE_INFO_TXT = "package-info.txt"  # bag-info.txt's name before BagIt 0.96
FETCH_TXT = "fetch.txt"
PAYLOAD_DIR = "data"
MAX_TAG_FILE = 64 << 20  # tag files are read whole; absurd ones are refused
