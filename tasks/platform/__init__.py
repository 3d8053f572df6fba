"""The platform under every study: settings and params, paths and locks, MLflow tracking and the Model
Registry, DVC versioning, redaction, and the project's one error base. No Prefect flows, no science."""
