"""The web view of a collection (``archiver serve``): server-rendered pages beside /oai."""
