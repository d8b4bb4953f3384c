"""`StyleService`: the styles an owner saved (a name, a category, a positive and a negative
prompt with `{prompt}`), kept in the gallery database so a visitor's styles follow them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gallery.errors import GalleryError, NotFoundError
from gallery.models import UserStyleRow, utc_now
from gallery.owners import Owner, writing_owner
from gallery.records import UserStyle
from gallery.services.common import Sessions, owned


class StyleLike(Protocol):
    """Anything with a style's four fields (`UserStyle`, `prompts.styles.Style`)."""

    name: str
    category: str
    prompt: str
    negative_prompt: str


class StyleService:
    """List, save and delete an owner's styles."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def list(self, *, owner: Owner) -> list[UserStyle]:
        """`owner`'s saved styles, in the order they were first saved."""
        with self._sessions.read() as session:
            rows = session.scalars(
                select(UserStyleRow).where(*owned(UserStyleRow, owner)).order_by(UserStyleRow.id)
            ).all()
            return [UserStyle(r.name, r.category, r.prompt, r.negative_prompt) for r in rows]

    def save(self, style: StyleLike, *, owner: Owner) -> None:
        """Add a style of `owner`, or replace their saved one with the same name (ignoring
        case)."""
        self.save_many([style], owner=owner)

    def save_many(self, styles: Sequence[StyleLike], *, owner: Owner) -> None:
        """`save` for each style, all in one transaction (an import saves all or none)."""
        user_id = writing_owner(owner)
        for style in styles:
            for label in ("name", "category", "prompt", "negative_prompt"):
                if not isinstance(getattr(style, label, None), str):
                    raise GalleryError(f"A style's {label.replace('_', ' ')} must be text.")
            if not style.name.strip():
                raise GalleryError("A style needs a name.")
        now = utc_now()
        name = ""
        try:
            with self._sessions.write() as session:
                rows = {
                    row.name_key: row
                    for row in session.scalars(
                        select(UserStyleRow).where(UserStyleRow.user_id == user_id)
                    )
                }
                for style in styles:
                    name = style.name.strip()
                    row = rows.get(name.casefold())
                    if row is None:
                        row = UserStyleRow(
                            name_key=name.casefold(), user_id=user_id, created_at=now
                        )
                        session.add(row)
                        rows[name.casefold()] = row
                    row.name = name
                    row.category = style.category.strip() or "User"
                    row.prompt = style.prompt
                    row.negative_prompt = style.negative_prompt
                    row.updated_at = now
        except IntegrityError:
            raise GalleryError(
                f"The style '{name}' was saved at the same time elsewhere; save it again."
            ) from None

    def delete(self, name: str, *, owner: Owner) -> None:
        """Delete `owner`'s saved style called `name` (ignoring case); `NotFoundError` if none."""
        user_id = writing_owner(owner)
        with self._sessions.write() as session:
            result = session.execute(
                delete(UserStyleRow).where(
                    UserStyleRow.name_key == name.strip().casefold(),
                    UserStyleRow.user_id == user_id,
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"There is no user style called '{name}'.")
