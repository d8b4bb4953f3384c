"""The page's own CSS and JavaScript (keyboard shortcuts), passed to `launch()`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"


@cache
def launch_assets() -> dict[str, Any]:
    """`css` and `head` for `Blocks.launch(**launch_assets(), ...)`."""
    script = (STATIC / "shortcuts.js").read_text(encoding="utf-8")
    return {
        "css": (STATIC / "page.css").read_text(encoding="utf-8"),
        "head": f"<script>\n{script}\n</script>",
    }
