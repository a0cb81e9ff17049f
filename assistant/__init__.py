"""eka's library: store, embeddings, derived indexes and retrieval, under one composition root."""

import os

# FAISS and torch each bring an OpenMP runtime. With the default (active) wait policy the threads of one spin
# after every parallel region and take the cores the other needs next: on 2 cores a query's encoder pass
# right after a FAISS search took about 500 ms instead of 20 (docs/retrieval-quality.md, issue 12). Set
# before either library is imported; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
