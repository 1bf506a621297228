"""Metrics on label maps (numpy): confusion-based scores, HD95, BraTS region scoring, the paper's metrics."""
