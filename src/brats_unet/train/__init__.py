"""Training: ``train(config, data_root, run_dir)``, the validation pass, and the epoch seed derivation."""
