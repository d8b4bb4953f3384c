"""The page's own CSS and JavaScript (keyboard shortcuts, the results' sizes, the chosen
gallery cards), passed to `launch()`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"
SCRIPTS = ("shortcuts.js", "results.js", "picks.js")


@cache
def launch_assets() -> dict[str, Any]:
    """`css` and `head` for `Blocks.launch(**launch_assets(), ...)`."""
    scripts = "".join(
        f"<script>\n{(STATIC / name).read_text(encoding='utf-8')}\n</script>\n" for name in SCRIPTS
    )
    return {"css": (STATIC / "page.css").read_text(encoding="utf-8"), "head": scripts}
