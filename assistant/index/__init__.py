"""Derived indexes: dense vectors (FAISS) and lexical (BM25), both rebuildable from the store."""
