"""Who is asking: the owner of each web request, and the gallery as that visitor sees it.

- Local, no login: everyone is the one local user (`LOCAL_OWNER`).
- `--auth`: the Gradio login name, owner `user:<name>`.
- A Space with `hf_oauth: true`: the Hugging Face account, owner `hf:<username>`.
- Public and signed out: a random token kept in the visitor's browser (`gr.BrowserState`),
  owner `browser:<hash of the token>`; signing in claims that gallery. A caller with neither
  (an API client) gets a gallery for its session only.
- A signed-in name listed in `ATELIER_ADMINS` sees every gallery (and still writes as itself).

`VisitorGallery` is what the page's handlers hold instead of the store: an `OwnerGallery`
whose owner is read, at each call, from the current request in Gradio's per-event context, so
it acts for that visitor only and the handlers stay plain functions of an `OwnerGallery`
(tests pass `store.for_owner(...)` directly).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gallery.errors import GalleryError
from gallery.owners import EVERY_OWNER, LOCAL_OWNER, Owner
from gallery.records import ImportReport, NewGeneration
from gallery.store import GalleryStore
from gallery.views import OwnerGallery
from ui.hosting.mode import Hosting
from ui.hosting.private_files import gradio_copies, purge_copies
from ui.hosting.quota import ImportRate, check_room, folder_bytes

NOBODY = "nobody"  # requests with no visitor at all in a per-user app: an empty gallery
MAX_REMEMBERED_SESSIONS = 50_000
TOKEN_BYTES = 24


@dataclass(frozen=True)
class Visitor:
    """One visitor: their owner id, the name to greet them by, and whether they are admin."""

    owner: str
    name: str | None = None
    signed_in: bool = False
    admin: bool = False
    address: str = ""  # the network address of an anonymous caller

    @property
    def rate_key(self) -> str:
        """Whom the public limits count against: a signed-in account, else the caller's
        network address (an anonymous caller can mint sessions and browser tokens at will)."""
        return self.owner if self.signed_in or not self.address else f"addr:{self.address}"

    @property
    def reading_scope(self) -> Owner:
        """The owner whose items this visitor reads (every owner for an admin)."""
        return EVERY_OWNER if self.admin else self.owner


def browser_owner(token: str) -> str:
    """The owner id of a browser token (a hash: the database never holds the token)."""
    return "browser:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def valid_token(token: Any) -> bool:
    """Whether `token` looks like one this app issued."""
    return isinstance(token, str) and 32 <= len(token) <= 64 and token.isascii()


class Visitors:
    """Resolves requests to visitors; remembers which browser token each page session holds."""

    def __init__(self, hosting: Hosting) -> None:
        self.hosting = hosting
        self._sessions: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def visitor(self, request: Any) -> Visitor:
        """The visitor making `request` (a `gr.Request`, or None outside an event)."""
        if request is None:
            return Visitor(LOCAL_OWNER if not self.hosting.per_user else NOBODY)
        name = getattr(request, "username", None)
        if name:
            return Visitor(f"user:{name}", name, True, self.hosting.is_admin(name))
        hf_name = hugging_face_name(request)
        if hf_name:
            return Visitor(f"hf:{hf_name}", hf_name, True, self.hosting.is_admin(hf_name))
        if not self.hosting.per_user:
            return Visitor(LOCAL_OWNER)
        address = client_address(request, behind_proxy=self.hosting.on_space)
        session = getattr(request, "session_hash", None)
        if not session:  # a REST call without the queue: a gallery for this call alone
            return Visitor(f"once:{secrets.token_hex(16)}", address=address)
        with self._lock:
            owner = self._sessions.get(session)
        owner = owner or f"session:{hashlib.sha256(session.encode()).hexdigest()[:32]}"
        return Visitor(owner, address=address)

    def remember_browser(self, request: Any, token: Any) -> str:
        """Tie this page session to the browser's token (a new one if it has none); return
        the token for the browser to keep."""
        if not valid_token(token):
            token = secrets.token_urlsafe(TOKEN_BYTES)
        session = getattr(request, "session_hash", None)
        if session:
            with self._lock:
                self._sessions[session] = browser_owner(token)
                self._sessions.move_to_end(session)
                while len(self._sessions) > MAX_REMEMBERED_SESSIONS:
                    self._sessions.popitem(last=False)
        return token


def client_address(request: Any, *, behind_proxy: bool) -> str:
    """The caller's network address; behind a Space's proxy, the X-Forwarded-For hop the
    proxies added: the last one that is not an internal address. Hops to its left come from
    the caller, who can write anything there (each forged address would be a new visitor)."""
    if behind_proxy:
        headers = getattr(request, "headers", None)
        forwarded = headers.get("x-forwarded-for", "") if headers is not None else ""
        hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _internal(hop):
                return hop
        if hops:
            return hops[0]
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


_INTERNAL = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _internal(hop: str) -> bool:
    """Whether `hop` is a proxy's own address (private, loopback, link-local), not a caller's."""
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return False
    return (
        address.is_loopback
        or address.is_link_local
        or any(address.version == net.version and address in net for net in _INTERNAL)
    )


def hugging_face_name(request: Any) -> str | None:
    """The Hugging Face username signed in on this request (a Space with `hf_oauth`)."""
    try:
        from gradio.helpers import _session_from_request
        from gradio.oauth import _get_valid_oauth_info_from_session

        info = _get_valid_oauth_info_from_session(_session_from_request(request))
    except Exception:  # no session middleware, or Gradio changed its private helpers
        return None
    if not info:
        return None
    userinfo = info.get("userinfo") or {}
    name = userinfo.get("preferred_username") or userinfo.get("name")
    return str(name) if name else None


def current_request() -> Any:
    """The `gr.Request` of the event being handled in this thread, or None."""
    from gradio.context import LocalContext

    return LocalContext.request.get(None)


class VisitorGallery(OwnerGallery):
    """The gallery as the current visitor sees it (see the module docstring): they read and
    change their own items, an admin every owner's; new items and styles are always the
    visitor's own."""

    def __init__(self, store: GalleryStore, visitors: Visitors) -> None:
        super().__init__(store, NOBODY)  # never used: `owner` and `author` ask the request
        self.store = store
        self.visitors = visitors
        self.limits = visitors.hosting.limits  # a public app's quotas; None elsewhere
        self.imports = ImportRate(self.limits.imports_per_minute if self.limits else 10**9)

    def current(self) -> Visitor:
        """The visitor of the event being handled."""
        return self.visitors.visitor(current_request())

    @property
    def owner(self) -> Owner:
        """Whose items the current visitor reads and changes (every owner's for an admin)."""
        return self.current().reading_scope

    @property
    def author(self) -> Owner:
        """The current visitor: whose new items are made and whose styles are listed."""
        return self.current().owner

    def record_generation(self, item: NewGeneration) -> int:
        """Record one image, within the visitor's quota."""
        return self.record_generations([item])[0]

    def record_generations(self, items: Sequence[NewGeneration]) -> list[int]:
        """Record a batch, within the visitor's quota (`GalleryError` before any write)."""
        if self.limits is not None:
            size = sum(len(item.png_bytes or b"") for item in items)
            check_room(self.usage(), len(items), size, self.limits)
        return super().record_generations(items)

    def delete(self, generation_ids: int | Iterable[int]) -> int:
        """Delete generations, and Gradio's cached copies of their files."""
        ids = [generation_ids] if isinstance(generation_ids, int) else list(generation_ids)
        copies = gradio_copies(self._files_of(ids))
        deleted = super().delete(ids)
        purge_copies(copies)
        return deleted

    def delete_experiment(self, experiment_id: int, *, with_images: bool = False) -> None:
        """Delete an experiment (with its cells' images: Gradio's copies of them too)."""
        copies = []
        if with_images:
            cells = self.get_experiment(experiment_id).cells
            copies = gradio_copies(self._files_of([cell.generation_id for cell in cells]))
        super().delete_experiment(experiment_id, with_images=with_images)
        purge_copies(copies)

    def _files_of(self, generation_ids: Iterable[int]) -> list[Path]:
        files: list[Path] = []
        for generation_id in generation_ids:
            try:
                record = self.get(generation_id)
            except GalleryError:
                continue  # `delete` reports it
            for image in record.images:
                files += [image.path, *([image.thumbnail_path] if image.thumbnail_path else [])]
        return files

    def import_folder(
        self, folder: str | os.PathLike[str], *, recursive: bool = True
    ) -> ImportReport:
        """Import, within the visitor's imports a minute and quota (checked on the files'
        sizes before anything is read)."""
        if self.limits is not None:
            self.imports.count(self.current().rate_key)
            check_room(self.usage(), *folder_bytes(folder, recursive=recursive), self.limits)
        return super().import_folder(folder, recursive=recursive)
