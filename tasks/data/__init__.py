"""Data entry: the dataset declarations and the ingest that turns them into data/ and data.dvc."""
