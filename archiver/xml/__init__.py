"""XML: the hardened parser factory and offline schemas (parsing), and pure builders for
Dublin Core (dc), PREMIS 3 (premis) and METS 1.12.1 (mets)."""
