"""Image files in an S3-compatible object store (through fsspec and s3fs): `ObjectImageFiles`.

`s3://bucket/prefix` holds the same layout as a local gallery folder (`images/`,
`thumbnails/`, `pending/` for write intents; no `tmp/`: an object PUT is whole or absent).
The endpoint and credentials come from the usual AWS variables (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`), so MinIO, moto, Ceph or
AWS itself all work.

Browsers never see the bucket: the bucket is private, and an image reaches a page only after
an owner-scoped read of its record (`localize`), which copies it into this front end's local
folder of images and thumbnails: the only folders the web server serves, by exact
content-hash name, with no listing. That local copy is a cache: delete it at will.

Every failure to reach the store is one sentence (`ImageStoreError`), so a stopped server
costs the write in progress (no row without its object: the row is written after) and nothing
else.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from gallery.errors import GalleryError
from gallery.files import (
    HOSTNAME,
    PENDING_DIR,
    TMP_DIR,
    intent_document,
    intent_name,
    read_intent,
)
from gallery.image_storage import ImageStorage, Intent, IntentInfo
from gallery.prepared import IMAGES_DIR, THUMBNAILS_DIR

S3_SCHEME = "s3://"
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
_T = TypeVar("_T")


class ImageStoreError(GalleryError):
    """The object store could not be reached or refused a request."""


def is_object_store_url(images: str | None) -> bool:
    """Whether `--images` names an object store rather than the local folder."""
    return bool(images) and str(images).startswith(S3_SCHEME)


def s3_filesystem() -> Any:
    """An s3fs filesystem configured from the AWS variables, with short timeouts and no
    listing cache (other front ends write to the same bucket)."""
    try:
        import fsspec
    except ImportError:
        raise GalleryError(
            "Images in an object store need the cluster extra: "
            "pip install 'prompt-atelier[cluster]'."
        ) from None
    options: dict[str, Any] = {
        "use_listings_cache": False,
        "skip_instance_cache": True,
        "config_kwargs": {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": READ_TIMEOUT_S,
            "retries": {"max_attempts": 2, "mode": "standard"},
        },
    }
    if endpoint := os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        options["endpoint_url"] = endpoint
    try:
        filesystem = fsspec.filesystem("s3", **options)
    except ImportError:
        raise GalleryError(
            "Images in an object store need s3fs: pip install 'prompt-atelier[cluster]'."
        ) from None
    filesystem.retries = 2  # s3fs's own retry loop, on top of botocore's
    return filesystem


class ObjectImageFiles(ImageStorage):
    """The gallery's files under `s3://bucket/prefix`, served from a local copy under `root`."""

    def __init__(self, url: str, root: Path, filesystem: Any | None = None) -> None:
        if not is_object_store_url(url):
            raise GalleryError(f"An object store is named s3://bucket/prefix, not {url!r}.")
        self.url = url.rstrip("/")
        self.base = self.url.removeprefix(S3_SCHEME)
        self.bucket = self.base.split("/", 1)[0]
        if not self.bucket:
            raise GalleryError(f"An object store is named s3://bucket/prefix, not {url!r}.")
        self.root = root
        self._fs = filesystem if filesystem is not None else s3_filesystem()
        for name in (IMAGES_DIR, THUMBNAILS_DIR, TMP_DIR):
            (root / name).mkdir(parents=True, exist_ok=True)
        if not self._exists("open", self.bucket):
            self._call("create the bucket of", lambda: self._fs.mkdir(self.bucket))

    def _key(self, rel_path: str) -> str:
        return f"{self.base}/{rel_path}"

    def _call(self, action: str, operation: Callable[[], _T]) -> _T:
        """Run one store operation; its failures become one sentence (`FileNotFoundError`
        passes through: callers decide what a missing object means)."""
        try:
            return operation()
        except FileNotFoundError:
            raise
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ImageStoreError(
                f"Could not {action} the image store {self.url} ({reason})."
            ) from None

    def _exists(self, action: str, key: str) -> bool:
        # Not `fs.exists`: it answers False when the store cannot be reached.
        try:
            self._call(action, lambda: self._fs.info(key))
        except FileNotFoundError:
            return False
        return True

    def location(self, rel_path: str) -> str:
        return f"{self.url}/{rel_path}"

    # --- objects ---------------------------------------------------------------------------

    def write(self, rel_path: str, data: bytes) -> bool:
        key = self._key(rel_path)
        if self._exists("read", key):
            return False
        self._call("write to", lambda: self._fs.pipe_file(key, data))
        with contextlib.suppress(OSError):  # the writer's page shows it without a download
            self._keep_local(rel_path, data)
        return True

    def read(self, rel_path: str) -> bytes:
        key = self._key(rel_path)
        return self._call("read", lambda: self._fs.cat_file(key))

    def exists(self, rel_path: str) -> bool:
        return self._exists("read", self._key(rel_path))

    def delete(self, rel_path: str) -> bool:
        with contextlib.suppress(FileNotFoundError):
            self.local_path(rel_path).unlink()
        if not self.exists(rel_path):
            return False
        key = self._key(rel_path)
        with contextlib.suppress(FileNotFoundError):
            self._call("delete from", lambda: self._fs.rm_file(key))
        return True

    def _find(self, folder: str) -> dict[str, dict[str, Any]]:
        prefix = self._key(folder)
        try:
            return self._call("list", lambda: self._fs.find(prefix, detail=True))
        except FileNotFoundError:
            return {}

    def image_hashes(self) -> Iterable[str]:
        return sorted(Path(key).stem for key in self._find(IMAGES_DIR) if key.endswith(".png"))

    def stored_hashes(self) -> Iterable[tuple[str, float]]:
        ages: dict[str, float] = {}
        for folder, suffix in ((IMAGES_DIR, ".png"), (THUMBNAILS_DIR, ".webp")):
            for key, info in self._find(folder).items():
                if key.endswith(suffix):
                    sha, age = Path(key).stem, _age_s(info)
                    ages[sha] = min(age, ages.get(sha, age))
        return ages.items()

    # --- intents ---------------------------------------------------------------------------

    def begin_intent(self, hashes: Iterable[str]) -> Intent:
        name = intent_name()
        document = intent_document(hashes).encode()
        key = self._key(f"{PENDING_DIR}/{name}")
        self._call("write to", lambda: self._fs.pipe_file(key, document))
        return Intent(name, self.forget_intent)

    def intents(self) -> list[IntentInfo]:
        found = []
        for key, info in sorted(self._find(PENDING_DIR).items()):
            if not key.endswith(".json"):
                continue
            try:
                text = self._call("read", lambda key=key: self._fs.cat_file(key)).decode()
            except FileNotFoundError:
                continue
            except UnicodeDecodeError:
                text = ""
            found.append(read_intent(Path(key).name, text, _age_s(info)))
        return found

    def forget_intent(self, name: str) -> None:
        key = self._key(f"{PENDING_DIR}/{name}")
        with contextlib.suppress(FileNotFoundError):
            self._call("delete from", lambda: self._fs.rm_file(key))

    # --- the local copy that is served -----------------------------------------------------

    def served_folders(self) -> tuple[Path, Path]:
        folders = (self.root / IMAGES_DIR, self.root / THUMBNAILS_DIR)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        return folders

    def localize(self, rel_paths: Iterable[str]) -> None:
        for rel_path in rel_paths:
            if self.local_path(rel_path).exists():
                continue
            with contextlib.suppress(FileNotFoundError, ImageStoreError, OSError):
                self._keep_local(rel_path, self.read(rel_path))

    def _keep_local(self, rel_path: str, data: bytes) -> None:
        target = self.local_path(rel_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self.root / TMP_DIR / f"{HOSTNAME}-{os.getpid()}-{uuid.uuid4().hex}.part"
        try:
            temp.write_bytes(data)
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def temp_files(self) -> list[tuple[Path, float]]:
        now = time.time()
        found = []
        for path in (self.root / TMP_DIR).iterdir():
            with contextlib.suppress(FileNotFoundError):
                found.append((path, now - path.stat().st_mtime))
        return found


def _age_s(info: dict[str, Any]) -> float:
    modified = info.get("LastModified")
    if not isinstance(modified, datetime):
        return float("inf")
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - modified).total_seconds())
