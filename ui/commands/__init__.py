"""Sub-commands of `python app.py`; each module has `register(subparsers)`."""

from ui.commands import compose, expand, gallery, generate, serve

COMMAND_MODULES = (generate, serve, expand, compose, gallery)
