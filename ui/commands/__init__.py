"""Sub-commands of `python app.py`; each module has `register(subparsers)`."""

from ui.commands import compose, expand, gallery, generate, serve, styles

COMMAND_MODULES = (generate, serve, expand, compose, gallery, styles)
