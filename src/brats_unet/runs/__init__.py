"""The run folder: written by training, read by everyone (config, split, provenance, metrics, checkpoints)."""
