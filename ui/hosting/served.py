"""What the launched app may serve, and its login: the keyword arguments of `launch()`.

Only the gallery's image and thumbnail folders are served, never the database, its WAL, temp
files, write intents or backups.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware

from ui.hosting.mode import Hosting, Limits
from ui.hosting.private_files import PrivateFolders

PUBLIC_SESSION_CAPACITY = 1000  # sessions whose page state Gradio keeps in a public app


def launch_options(store: Any, hosting: Hosting) -> dict[str, Any]:
    """Keyword arguments for `Blocks.launch`: what may be served, and the login."""
    options: dict[str, Any] = {
        # Only the image and thumbnail folders: never the database, temp files or intents.
        "allowed_paths": [str(folder) for folder in store.served_folders] if store else [],
        # Tracebacks never reach a visitor; our own errors are one sentence anyway.
        "show_error": not hosting.public,
    }
    if hosting.public:
        # Gradio keeps each session's copy of the page state; bound how many it keeps.
        options["state_session_capacity"] = PUBLIC_SESSION_CAPACITY
        options["max_file_size"] = (hosting.limits or Limits()).max_upload_bytes
        # The gallery's own paths are never fetched: visitors get Gradio's per-response copies.
        folders = options["allowed_paths"]
        options["app_kwargs"] = {"middleware": [Middleware(PrivateFolders, folders=folders)]}
    if hosting.auth:
        options["auth"] = list(hosting.auth)
        options["auth_message"] = "Sign in to see your own gallery."
    return options
