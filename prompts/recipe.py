"""A prompt recipe: the artist's choices (subject, styles, lighting, ...) as one typed record.

JSON format: an object with `"version": 1` and every field below. Missing fields take their
defaults; an unknown field, a wrong type or a version newer than this code understands is a
`RecipeError` naming the problem (nothing is silently dropped, so a round trip is lossless).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar

RECIPE_VERSION = 1


MAX_RECIPE_CHARS = 8000  # the longest prompt the engine takes


class RecipeError(ValueError):
    """A recipe (or its JSON) is malformed."""


@dataclass(frozen=True)
class Recipe:
    """What to draw and how; list fields hold several picks and keep their order.

    Lists passed in are stored as tuples, so a recipe is immutable and hashable.
    """

    subject: str = ""
    styles: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    medium: tuple[str, ...] = ()
    lighting: tuple[str, ...] = ()
    camera: tuple[str, ...] = ()
    composition: tuple[str, ...] = ()
    mood: tuple[str, ...] = ()
    colour: tuple[str, ...] = ()
    quality: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    free_text: str = ""

    TEXT_FIELDS: ClassVar[tuple[str, ...]] = ("subject", "free_text")
    LIST_FIELDS: ClassVar[tuple[str, ...]] = (
        "styles",
        "details",
        "medium",
        "lighting",
        "camera",
        "composition",
        "mood",
        "colour",
        "quality",
        "negative",
    )

    def __post_init__(self) -> None:
        for name in self.TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise RecipeError(f"Recipe field '{name}' must be text.")
        for name in self.LIST_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise RecipeError(f"Recipe field '{name}' must be a list of text.")
            if not all(isinstance(item, str) for item in value):
                raise RecipeError(f"Recipe field '{name}' must contain only text.")
            object.__setattr__(self, name, tuple(value))
        size = sum(len(getattr(self, n)) for n in self.TEXT_FIELDS) + sum(
            len(term) for n in self.LIST_FIELDS for term in getattr(self, n)
        )
        if size > MAX_RECIPE_CHARS:
            raise RecipeError(f"The recipe has {size} characters; the limit is {MAX_RECIPE_CHARS}.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: `version` first, then every field (lists as lists)."""
        data: dict[str, Any] = {"version": RECIPE_VERSION}
        for item in fields(self):
            value = getattr(self, item.name)
            data[item.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """Build a recipe from `to_dict()` output; raise `RecipeError` on anything unexpected."""
        if not isinstance(data, dict):
            raise RecipeError(f"A recipe must be a JSON object, not {type(data).__name__}.")
        values = dict(data)
        version = values.pop("version", RECIPE_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RecipeError(f"Recipe version must be a positive whole number, not {version!r}.")
        if version > RECIPE_VERSION:
            raise RecipeError(
                f"Recipe version {version} is newer than this app understands "
                f"(version {RECIPE_VERSION})."
            )
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RecipeError(
                f"Recipe has unknown field '{unknown[0]}'; known fields are "
                f"{', '.join(sorted(known))}."
            )
        return cls(**values)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The recipe as a JSON document (see the module docstring for the format)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Parse a recipe JSON document; raise `RecipeError` if it is not valid."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"Recipe is not valid JSON: {exc}.") from None
        except RecursionError:
            raise RecipeError("Recipe JSON nests too deeply to be a recipe.") from None
        return cls.from_dict(data)
