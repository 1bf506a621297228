"""Inference: load a trained run and segment new cases into NIfTI masks in their original geometry."""
