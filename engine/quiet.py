"""Third-party output a user cannot act on, turned off for the app and its command line.

transformers warns that its image processors "require torchvision (not installed)", that
arguments our pinned models pass are deprecated (FutureWarning), and draws "Loading weights"
and "Writing model shards" bars; diffusers draws "Loading pipeline components". None of it is
progress the user asked for, and nothing in it can be acted on.
`quiet_third_party_output` sets their documented switches (`TRANSFORMERS_VERBOSITY`,
`DIFFUSERS_VERBOSITY`, `HF_HUB_DISABLE_PROGRESS_BARS`) unless the environment already sets
them, before those libraries are imported, so `TRANSFORMERS_VERBOSITY=info` brings their
output back, and ignores their FutureWarnings and DeprecationWarnings unless Python's own
`-W`/`PYTHONWARNINGS` asks for warnings, nor the UserWarnings in `NOTICES_TO_IGNORE`
(deprecations the hub words as UserWarnings, Gradio's "not yet implemented" for limits
the page states anyway); `follow_hub_progress_setting` gives diffusers' bars
the same switch once diffusers is loaded. Our own progress (the CLI's step bar, the page's)
is not affected.
"""

from __future__ import annotations

import os
import sys
import warnings

THIRD_PARTY_MODULES = r"(transformers|diffusers|huggingface_hub)(\.|$)"
# (message pattern, module): UserWarnings a user of the app or the CLI cannot act on.
NOTICES_TO_IGNORE = (
    (r"The `local_dir_use_symlinks` argument is deprecated", r"huggingface_hub(\.|$)"),
    (r"The `(row|column)_limits` parameter is not yet implemented", r"gradio(\.|$)"),
)
QUIET_DEFAULTS = {
    "TRANSFORMERS_VERBOSITY": "error",
    "DIFFUSERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def quiet_third_party_output() -> None:
    """Silence transformers' and diffusers' warnings and loading bars (see the module)."""
    for name, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not sys.warnoptions:
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=THIRD_PARTY_MODULES)
        for message, module in NOTICES_TO_IGNORE:
            warnings.filterwarnings("ignore", message, UserWarning, module)
    if "transformers" in sys.modules:  # imported already: its switches were read at import
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity(
            transformers_logging.log_levels[os.environ["TRANSFORMERS_VERBOSITY"]]
        )
        if _bars_off():
            transformers_logging.disable_progress_bar()
    if "diffusers" in sys.modules:
        follow_hub_progress_setting()


def follow_hub_progress_setting() -> None:
    """diffusers' own bars ("Loading pipeline components") off when the hub's are (diffusers
    has no environment switch for them); call once diffusers is imported."""
    if _bars_off():
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()


def _bars_off() -> bool:
    return os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").upper() in ("1", "ON", "YES", "TRUE")
