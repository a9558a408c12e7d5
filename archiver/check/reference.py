"""A second opinion: the Library of Congress reference implementation, bagit-python.

``validate --reference`` runs bagit-python on the bag and reports a disagreement with our
verdict as a finding. bagit-python is not safe on hostile bags (it may follow links), so
it is not run on a bag whose links or paths reach outside it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import bagit

from archiver.check.bag import Mode
from archiver.codes import Severity
from archiver.findings import BagReport, finding

# Findings that mean the bag reaches outside itself: no third-party code may open it then.
_UNSAFE = {
    "bag.path.symlink",
    "bag.path.special-file",
    "bag.manifest.path-unsafe",
    "bag.fetch.path-unsafe",
}
# Known reasons bagit-python 1.9 judges differently, named in the finding.
_KNOWN = {
    "bag.declaration.malformed": "bagit-python accepts whitespace around ':' in bagit.txt",
    "bag.manifest.file-unlisted": "bagit-python 1.9 requires every file in only one manifest",
}


def second_opinion(root: Path, report: BagReport, mode: Mode, *, folder: bool = True) -> None:
    """Add a reference.* finding when bagit-python disagrees, fails, or may not be run."""
    if not folder:
        report.add(
            finding(
                "reference.skipped",
                "",
                "bagit-python was not run on this bag: it reads folders only, and an archive "
                "is never extracted",
                reasons="serialized",
            )
        )
        return
    unsafe = sorted({f.code for f in report.findings if f.code in _UNSAFE})
    if unsafe:
        report.add(
            finding(
                "reference.skipped",
                "",
                f"bagit-python was not run on this bag: {', '.join(unsafe)}",
                reasons=", ".join(unsafe),
            )
        )
        return
    logging.getLogger("bagit").setLevel(logging.CRITICAL)
    try:
        bag = bagit.Bag(str(root))
        bag.validate(
            processes=1, fast=mode is Mode.FAST, completeness_only=mode is Mode.COMPLETENESS
        )
        theirs, why = True, "valid"
    except bagit.BagError as exc:
        theirs, why = False, str(exc)
    except Exception as exc:  # any crash of the reference is reported, not raised
        report.add(
            finding(
                "reference.failed",
                "",
                f"bagit-python failed: {type(exc).__name__}: {exc}",
                error=type(exc).__name__,
            )
        )
        return
    ours = not any(f.severity is Severity.ERROR for f in report.findings)
    if ours == theirs:
        return
    errors = sorted({f.code for f in report.findings if f.severity is Severity.ERROR})
    hints = [_KNOWN[code] for code in errors if code in _KNOWN]
    verdict = "valid" if theirs else "invalid"
    message = f"bagit-python says the bag is {verdict}" + ("" if theirs else f": {why[:300]}")
    if hints:
        message += "; known difference: " + "; ".join(hints)
    report.add(
        finding(
            "reference.disagrees", "", message, ours="valid" if ours else "invalid", theirs=verdict
        )
    )
