"""The ``eka`` command line: the application layer that wires ingest, search and (later) serve, ui, eval."""
