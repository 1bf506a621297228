"""Training: ``train(config, data_root, run_dir)`` and its helpers (precision, checkpoints, run folder)."""
