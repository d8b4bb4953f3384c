"""How the app is hosted: local (one user), `--auth` (per-user galleries), or public (a Space,
or `--public`: sign-in, model allow-list, limits). Read once at start from flags and the
environment; everything else receives a `Hosting` value.

- On a Space (`SPACE_ID` set) or with `--public`, the app is *public*: models only from
  `ATELIER_MODELS` (default: the configured default model, `sketch` and `demo`), no local
  paths, and the `Limits` below, checked on the server.
- `--auth user:pass` (repeatable) and `--auth-file FILE` (one `user:pass` a line) turn on
  Gradio's login; each user gets their own gallery.
- `ATELIER_ADMINS` (comma-separated user names) may see every owner's gallery.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ui.hosting.auth import parse_auth

MODELS_ENV = "ATELIER_MODELS"
ADMINS_ENV = "ATELIER_ADMINS"
PUBLIC_QUEUE_SIZE = 64


@dataclass(frozen=True)
class Limits:
    """Server-side bounds on one request, and on how much one visitor may ask for."""

    max_side: int = 1024
    max_steps: int = 50
    max_batch: int = 4
    max_prompt_chars: int = 2000
    max_rows_per_call: int = 8  # one batched pipeline call of a comparison
    max_experiment_images: int = 32  # cells of one comparison or ablation, checked up front
    runs_per_visitor: int = 1  # at the same time
    requests_per_minute: int = 6
    images_per_minute: int = 32  # what bounds a comparison's size, too
    anonymous_runs: int = 4  # at the same time, all signed-out callers together
    anonymous_images_per_minute: int = 128  # all signed-out callers together
    max_images_per_owner: int = 2000  # kept in one owner's gallery
    max_bytes_per_owner: int = 512 * 1024 * 1024
    imports_per_minute: int = 10  # per visitor
    max_upload_bytes: int = 32 * 1024 * 1024  # one uploaded file (Gradio's max_file_size)
    events_per_visitor: int = 16  # waiting or running in the queue, any kind, per visitor
    anonymous_queued: int = PUBLIC_QUEUE_SIZE // 2  # pipeline runs queued, signed out together
    max_refine_rounds: int = 3  # a refinement's rounds, beam and proposals per variant
    max_refine_beam: int = 2
    max_refine_proposals: int = 4

    def describe(self) -> str:
        """One line for the page."""
        return (
            f"Limits here: up to {self.max_side}×{self.max_side} px, {self.max_steps} steps, "
            f"{self.max_batch} images per run, {self.max_experiment_images} per comparison, "
            f"{self.max_prompt_chars} characters per prompt, {self.max_refine_rounds} "
            "refinement rounds; "
            f"one run at a time, {self.requests_per_minute} runs and "
            f"{self.images_per_minute} images (comparisons included) a minute per visitor; "
            f"signed-out visitors share {self.anonymous_images_per_minute} images a minute."
        )


@dataclass(frozen=True)
class Hosting:
    """The hosting mode the app runs in (see the module docstring)."""

    public: bool = False
    on_space: bool = False
    sign_in_with_hf: bool = False
    auth: tuple[tuple[str, str], ...] = ()
    admins: frozenset[str] = frozenset()
    allowed_models: tuple[str, ...] = ()  # empty: any model (local use)
    limits: Limits | None = None
    zero_gpu: bool = False
    browser_secret: str = ""  # derives the browser token's storage key; never served
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_user(self) -> bool:
        """Whether visitors get galleries of their own (public or with a login)."""
        return self.public or bool(self.auth)

    def is_admin(self, name: str | None) -> bool:
        """Whether the signed-in user `name` may see every gallery."""
        return bool(name) and name in self.admins

    def model_allowed(self, model: str) -> bool:
        """Whether `model` may be loaded here (any model when there is no allow-list)."""
        return not self.allowed_models or model.strip() in self.allowed_models


def hosting_from(
    *,
    public_flag: bool = False,
    auth: list[str] | None = None,
    auth_file: str | None = None,
    default_model: str = "",
    environ: dict[str, str] | None = None,
) -> Hosting:
    """The hosting mode from the flags and the environment (`os.environ` by default)."""
    env = os.environ if environ is None else environ
    on_space = bool(env.get("SPACE_ID"))
    public = public_flag or on_space
    admins = frozenset(a.strip() for a in env.get(ADMINS_ENV, "").split(",") if a.strip())
    allowed: tuple[str, ...] = ()
    if public:
        listed = [m.strip() for m in env.get(MODELS_ENV, "").split(",") if m.strip()]
        defaults = [m for m in (default_model, "sketch", "demo") if m]
        allowed = tuple(dict.fromkeys(listed or defaults))
    return Hosting(
        public=public,
        on_space=on_space,
        sign_in_with_hf=on_space and bool(env.get("OAUTH_CLIENT_ID")),
        auth=parse_auth(auth, auth_file),
        admins=admins,
        allowed_models=allowed,
        limits=Limits() if public else None,
        zero_gpu=env.get("SPACES_ZERO_GPU", "").lower() in ("1", "true"),
    )


def browser_secret(data_dir: Path) -> str:
    """The key that encrypts visitors' browser tokens, kept in the data folder (never served)
    so that a restart does not cut signed-out visitors off their galleries."""
    path = Path(data_dir) / "browser-secret"
    try:
        found = path.read_text(encoding="ascii").strip()
        if len(found) >= 32:
            return found
    except OSError:
        pass
    secret = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret)
    except OSError:
        pass  # a read-only data folder: tokens last until the next restart
    return secret


def browser_storage_key(secret: str) -> str | None:
    """The key `gr.BrowserState` stores the visitor's token with. The page is sent it (the
    browser decrypts with it), so it is derived from the browser secret, never the secret
    itself: stable across restarts, and it tells nothing about the file's content."""
    if not secret:
        return None
    return hmac.new(secret.encode(), b"atelier BrowserState key", hashlib.sha256).hexdigest()


def with_browser_secret(hosting: Hosting, data_dir: Path) -> Hosting:
    """`hosting` with its browser-token key from the data folder (see `browser_secret`)."""
    return replace(hosting, browser_secret=hosting.browser_secret or browser_secret(data_dir))
