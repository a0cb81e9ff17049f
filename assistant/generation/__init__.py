"""Answer generators behind one seam (see :mod:`assistant.generation.base`)."""
