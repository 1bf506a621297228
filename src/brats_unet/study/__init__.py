"""Studies: a grid or list of variants trained under identical conditions, compared with paired statistics."""
