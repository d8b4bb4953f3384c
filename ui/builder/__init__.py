"""The Builder tab: recipe pickers, the live composed prompt, styles, wildcards, files."""
