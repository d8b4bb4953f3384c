"""The command line: `ui.cli.main` is the entry; one module per sub-command."""
