"""How stages run: the Prefect tasks, `dvc repro` per stage, dispatch to GPU workers, cross-run caching, code
deps, resume state and fan-out. Knows stages by name only, never a study's science."""
