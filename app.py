"""Prompt Atelier entry point: reads configuration, wires the parts, launches.

python app.py                 start the web app
python app.py generate ...    generate headless (see --help)
"""

import os
import sys
from pathlib import Path

# On a Space with persistent storage, keep downloaded models on it (read at import by the hub
# library, so before anything imports it).
if os.environ.get("SPACE_ID") and Path("/data").is_dir():
    os.environ.setdefault("HF_HOME", "/data/.huggingface")
# ZeroGPU needs `spaces` imported before torch initialises CUDA.
if os.environ.get("SPACES_ZERO_GPU"):
    import spaces  # noqa: F401

# Before transformers or diffusers are imported: their warnings and loading bars off.
from engine.quiet import quiet_third_party_output

quiet_third_party_output()

from ui.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
