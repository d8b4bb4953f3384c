"""A smaller page state per session in a public app.

Gradio keeps, for every session hash it sees, a copy of each component's config
(`SessionState.config_values`, about 0.5 MB for this page) so that a deep link can rebuild the
page. This app has no deep links, and Gradio fills that map on demand wherever it updates a
value (`_update_value_in_config`), so for an app marked by `lean_sessions` the map starts
empty: the session keeps only what changed. Together with a session capacity
(`ui.hosting.served.PUBLIC_SESSION_CAPACITY`) that bounds the memory anonymous joins can take.
"""

from __future__ import annotations

from typing import Any

import gradio.state_holder as state_holder

LEAN = "_atelier_lean_sessions"
_GRADIOS = state_holder.SessionState


class LeanSessionState(_GRADIOS):  # type: ignore[misc, valid-type]
    """Gradio's `SessionState`, without the eager copy of every config for a marked app."""

    def __init__(self, blocks: Any) -> None:
        super().__init__(blocks)
        if getattr(blocks, LEAN, False):
            self.config_values = {}


def lean_sessions(app: Any) -> None:
    """Mark `app` so that its sessions keep a small state (see the module docstring)."""
    setattr(app, LEAN, True)
    state_holder.SessionState = LeanSessionState
