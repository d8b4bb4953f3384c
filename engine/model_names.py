"""Names of the built-in models, importable without torch (for choosing a model before any
weights, or torch itself, are loaded)."""

DEMO_MODEL_ID = "demo"
