"""Evaluation of a trained run (Table 1, BraTS region scores), scoring of prediction folders, figures."""
