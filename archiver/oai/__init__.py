"""OAI-PMH 2.0 data provider: the catalog (catalog), resumption tokens (tokens), the pure
protocol (protocol: request -> response), and the WSGI application and server (app)."""
