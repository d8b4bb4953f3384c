"""Sub-commands of `python app.py`; each module has `register(subparsers)`."""

from ui.commands import compose, expand, generate, serve

COMMAND_MODULES = (generate, serve, expand, compose)
