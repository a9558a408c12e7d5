"""Bags made the way other tools make them, built byte by byte (no archiver writer involved)."""

from __future__ import annotations

import hashlib
from pathlib import Path

# bag-info.txt of a bag from an older tool: ISO-8859-1, a value folded over three lines
# (continuation lines indented by spaces and a tab), a label repeated, CRLF line ends.
LATIN1_BAG_INFO = (
    "Source-Organization: Bibliothèque municipale de Genève\r\n"
    "External-Description: Rapport annuel, édition de 1998,\r\n"
    "  numérisé en 2003 à partir\r\n"
    "\tde l'exemplaire de dépôt légal\r\n"
    "Contact-Name: Zoë Müller\r\n"
    "Contact-Name: François Lefèvre\r\n"
    "Title: Rapport annuel 1998\r\n"
    "Bagging-Date: 2003-05-14\r\n"
).encode("iso-8859-1")
# The same elements as RFC 8493 §2.2.2 reads them: a continuation line's padding is not
# part of the value, its line break is.
LATIN1_ELEMENTS = [
    ("Source-Organization", "Bibliothèque municipale de Genève"),
    (
        "External-Description",
        "Rapport annuel, édition de 1998,\nnumérisé en 2003 à partir\n"
        "de l'exemplaire de dépôt légal",
    ),
    ("Contact-Name", "Zoë Müller"),
    ("Contact-Name", "François Lefèvre"),
    ("Title", "Rapport annuel 1998"),
    ("Bagging-Date", "2003-05-14"),
]
LATIN1_PAYLOAD = {
    "data/rapport-1998.txt": "Rapport annuel de la bibliothèque, 1998.\n".encode(),
    "data/annexes/tableau.csv": b"annee,prets\n1998,120345\n",
}


def make_latin1_bag(root: Path) -> Path:
    """A valid BagIt 1.0 bag whose tag files are ISO-8859-1 (SHA-256 and SHA-512 manifests,
    tag manifests listing every tag file)."""
    root.mkdir(parents=True)
    for rel, data in LATIN1_PAYLOAD.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    size = sum(len(data) for data in LATIN1_PAYLOAD.values())
    tags = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n",
        "bag-info.txt": LATIN1_BAG_INFO
        + f"Payload-Oxum: {size}.{len(LATIN1_PAYLOAD)}\r\n".encode(),
    }
    for algorithm in ("sha256", "sha512"):
        lines = [
            f"{hashlib.new(algorithm, data).hexdigest()}  {rel}\n"
            for rel, data in sorted(LATIN1_PAYLOAD.items())
        ]
        tags[f"manifest-{algorithm}.txt"] = "".join(lines).encode()
    for rel, data in tags.items():
        (root / rel).write_bytes(data)
    for algorithm in ("sha256", "sha512"):
        lines = [
            f"{hashlib.new(algorithm, data).hexdigest()}  {rel}\n"
            for rel, data in sorted(tags.items())
        ]
        (root / f"tagmanifest-{algorithm}.txt").write_bytes("".join(lines).encode())
    return root
