"""Ingest: files -> pages and sections -> chunks -> embeddings -> the store (and derived indexes)."""
