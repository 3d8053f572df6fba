"""The file names of a saved model (modelio.py writes them), free of heavy imports so that a command can
check for a trained model before it loads torch."""

WEIGHTS, CONFIG = "model.pt", "model.json"
