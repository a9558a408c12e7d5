"""Our RFC 8493 (BagIt 1.0) engine: paths, manifests, bag-info, hashing, writing, reading.

The only place that does path arithmetic on manifest entries. See STYLE.md for why the
engine is our own and bagit-python stays as the reference implementation.
"""
