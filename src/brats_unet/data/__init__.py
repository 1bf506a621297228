"""Data: label schemes, case discovery, validation, preprocessing, cache, split, datasets, phantoms."""
