"""The command line's error: a one-line, user-facing failure, printed to stderr with exit
status 2. Its own module, so the entry (`ui.cli.main`) and the sub-commands never import each
other."""

from __future__ import annotations


class CommandError(Exception):
    """A one-line, user-facing failure: printed to stderr, exit status 2."""
