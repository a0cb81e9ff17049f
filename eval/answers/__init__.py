"""Answer correctness: key facts, their normalisation and check, scoring, the harness, its report and gate."""
