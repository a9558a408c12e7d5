"""OAI-PMH 2.0 data provider: resumption tokens (tokens), the pure protocol (protocol:
request -> response), and the WSGI application and server (app). The catalog it reads is
the collection's (archiver.collection.catalog)."""
