"""Evaluation and benchmarks for eka (retrieval quality on real data, ingest and search speed)."""
