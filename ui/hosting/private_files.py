"""Gallery images reach a public app's visitors only as the copies Gradio makes for each
response (`/gradio_api/file=<cache>/<hash>/...`, the hash keyed by a secret of this install),
never by the gallery's own paths: those answer 404 whether the file exists or not, so nobody
can fetch another owner's image by its content-hash name or learn that it exists. Deleting a
generation removes Gradio's copies of its files too (`purge_copies`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

FILE_ROUTE = "/file="


class PrivateFolders:
    """ASGI middleware: a `file=` request for a path inside `folders` gets 404."""

    def __init__(self, app: Any, folders: Sequence[str]) -> None:
        self.app = app
        self.folders = [os.path.realpath(folder) for folder in folders]

    def hidden(self, url_path: str) -> bool:
        """Whether `url_path` asks for a file inside one of the folders."""
        _, found, target = unquote(url_path).partition(FILE_ROUTE)
        if not found:
            return False
        target = os.path.realpath(target)
        return any(target == f or target.startswith(f + os.sep) for f in self.folders)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and self.hidden(scope.get("path", "")):
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"detail":"Not Found"}'})
            return
        await self.app(scope, receive, send)


def gradio_copies(files: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, the folder Gradio's cache keeps its copies in) for each existing file."""
    from gradio.processing_utils import hash_file
    from gradio.utils import get_upload_folder

    cache = Path(get_upload_folder())
    return [(Path(f), cache / hash_file(f)) for f in files if Path(f).is_file()]


def purge_copies(copies: Iterable[tuple[Path, Path]]) -> int:
    """Remove the cached copies of files that no longer exist (another owner may keep the
    same content); how many folders were removed."""
    removed = 0
    for original, folder in copies:
        if not original.exists() and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
