"""XML: the hardened parser factory and offline schemas (parsing), how documents are written
(writing: lxml trees, and streams over etree.xmlfile), what XML 1.0 cannot hold (characters),
and pure builders for Dublin Core (dc), PREMIS 3 (premis) and METS 1.12.1 (mets)."""
