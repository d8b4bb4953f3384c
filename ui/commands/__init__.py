"""Sub-commands of `python app.py`; each module has `register(subparsers)`."""

from ui.commands import compare, compose, expand, gallery, generate, serve, styles

COMMAND_MODULES = (generate, compare, serve, expand, compose, gallery, styles)
