"""Names of the built-in models, importable without torch (for choosing a model before any
weights, or torch itself, are loaded)."""

DEMO_MODEL_ID = "demo"
DEMO_SD3_ID = "demo-sd3"
DEMO_FLUX_ID = "demo-flux"
FLOW_DEMO_IDS = (DEMO_SD3_ID, DEMO_FLUX_ID)


def is_flow_demo(name: str) -> bool:
    """Whether `name` is one of the built-in tiny flow models."""
    return name in FLOW_DEMO_IDS
