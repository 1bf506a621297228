"""Reports: figures, evaluation tables, the demo (and the study runner)."""
