"""Dataset declarations: each module lists its datasets in `DATASETS` (found by tasks/data/sources.py)."""
