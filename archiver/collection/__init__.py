"""The collection: a folder of bags and everything archiver keeps about it in ``.archiver/``.

One job spread over a few files:

    bags.py      which sub-folders are bags; withdrawing one, and the tombstones left
    ledger.py    the fixity ledger (SQLite): every audit run, bag check and file check
    catalog.py   the OAI-PMH catalog (SQLite), rebuildable from the bags
    audit.py     fixity audits: the run, its hashing engines, the ledger written as it goes
    report.py    what audits say: HTML report, history, PREMIS fixity events
"""
