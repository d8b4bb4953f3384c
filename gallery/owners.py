"""Who owns what: every generation, experiment, vote and user style belongs to one owner.

An owner is a short text id chosen by the UI, never by a visitor:

- `LOCAL_OWNER` ("local"): the single user of a local app, and every row made before owners
  existed (migration 0004);
- `"user:<name>"`: a user who signed in with `--auth` / `--auth-file`;
- `"hf:<username>"`: a visitor signed in with Hugging Face on a Space;
- `"browser:<token>"`: a signed-out visitor, tied to their browser's storage.

Every service method that reads or changes owned data (`gallery.services`) takes `owner=`
(keyword, no default: the local app passes `LOCAL_OWNER` itself); `EVERY_OWNER` lets an
admin or a maintenance command see everything. A row of another owner is reported exactly
like a row that does not exist, so ids reveal nothing. `store.for_owner(owner)` gives a view
whose methods have the owner filled in (`gallery.views`), for handlers that serve one owner.
"""

from __future__ import annotations

from typing import Final

from gallery.errors import GalleryError

LOCAL_OWNER: Final = "local"
MAX_OWNER_LENGTH: Final = 128


class EveryOwner:
    """The admin's scope: all owners at once (a singleton; no text can equal it)."""

    _instance: EveryOwner | None = None

    def __new__(cls) -> EveryOwner:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "EVERY_OWNER"


EVERY_OWNER: Final = EveryOwner()

Owner = str | EveryOwner


def check_owner_id(owner: str) -> str:
    """`owner` if it is a usable owner id, else `GalleryError`."""
    if not isinstance(owner, str) or not owner.strip() or owner != owner.strip():
        raise GalleryError("An owner must be a non-empty name without surrounding spaces.")
    if len(owner) > MAX_OWNER_LENGTH or not owner.isprintable():
        raise GalleryError(f"An owner name can be at most {MAX_OWNER_LENGTH} printable characters.")
    return owner


def owner_filter(owner: Owner) -> str | None:
    """The owner id to filter by, or None when `owner` is `EVERY_OWNER` (no filter)."""
    if isinstance(owner, EveryOwner):
        return None
    return check_owner_id(owner)


def writing_owner(owner: Owner) -> str:
    """The owner id new rows get; `GalleryError` for `EVERY_OWNER` (rows have one owner)."""
    found = owner_filter(owner)
    if found is None:
        raise GalleryError("New items need one owner, not every owner.")
    return found
