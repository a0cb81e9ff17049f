"""eka's library: store, embeddings, derived indexes and retrieval, under one composition root."""
