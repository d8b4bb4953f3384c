"""Importing a style file into the user's styles: read it loosely, show what would change, apply.

    plan = plan_style_import(library, read_style_file("styles.csv"))
    print(plan.summary())        # 12 new, 2 replacing your styles, 1 replacing built-ins, ...
    apply_style_import(library, plan)

A `.csv` file is read as AUTOMATIC1111's `styles.csv`, a `.json` file as Fooocus style JSON
with the names Fooocus shows; both as tolerantly as those tools read them (see
`prompts.styles`), with a note for everything skipped or replaced inside the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from prompts.styles import (
    IMPORTED_CATEGORY,
    Style,
    StyleFileError,
    StyleLibrary,
    parse_a1111_csv,
    parse_fooocus_json,
)

MAX_STYLE_FILE_BYTES = 8 * 1024 * 1024
MAX_STYLES_PER_FILE = 2000  # A1111's own styles.csv files hold tens to hundreds


@dataclass(frozen=True)
class StyleFile:
    """The styles read from one file, its kind ("A1111 styles.csv" or "Fooocus style JSON")
    and notes on what was skipped or replaced while reading."""

    name: str
    kind: str
    styles: tuple[Style, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StyleImportPlan:
    """What importing a file would do, style by style."""

    source: StyleFile
    added: tuple[Style, ...] = ()
    replaced_user: tuple[Style, ...] = ()
    replaced_builtin: tuple[Style, ...] = ()
    unchanged: tuple[Style, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changes(self) -> tuple[Style, ...]:
        """The styles that would be saved."""
        return self.added + self.replaced_user + self.replaced_builtin

    def summary(self) -> str:
        """One line: how many styles are new, replace yours or built-ins, or are unchanged."""
        parts = [
            f"{len(self.added)} new",
            f"{len(self.replaced_user)} replacing your styles",
            f"{len(self.replaced_builtin)} replacing built-in styles",
            f"{len(self.unchanged)} already the same",
        ]
        return f"{self.source.name} ({self.source.kind}): " + ", ".join(parts)


def read_style_file(
    path: str | os.PathLike[str],
    *,
    category: str = IMPORTED_CATEGORY,
    display_name: str | None = None,
) -> StyleFile:
    """Read a `.csv` (A1111) or `.json` (Fooocus) style file; `StyleFileError` in one sentence
    when it is neither, unreadable or has no styles."""
    path = Path(path)
    name = display_name or path.name
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise StyleFileError(
            f"{name}: style files are A1111 .csv or Fooocus .json, not '{suffix or 'no suffix'}'."
        )
    try:
        if path.stat().st_size > MAX_STYLE_FILE_BYTES:
            raise StyleFileError(f"{name} is larger than 8 MB; that is not a style file.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StyleFileError(f"There is no style file {name}.") from None
    except OSError as exc:
        raise StyleFileError(f"{name} cannot be read ({exc.strerror or exc}).") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StyleFileError(f"{name} is not UTF-8 text.") from None
    notes: list[str] = []
    if suffix == ".csv":
        kind = "A1111 styles.csv"
        styles = parse_a1111_csv(text, source=name, category=category, notes=notes)
    else:
        kind = "Fooocus style JSON"
        styles = parse_fooocus_json(text, source=name, category=category, notes=notes)
    if not styles:
        raise StyleFileError(f"{name} holds no styles.")
    if len(styles) > MAX_STYLES_PER_FILE:
        raise StyleFileError(
            f"{name} holds {len(styles):,} styles; import at most {MAX_STYLES_PER_FILE:,} at once."
        )
    return StyleFile(name, kind, tuple(styles), tuple(notes))


def plan_style_import(library: StyleLibrary, source: StyleFile) -> StyleImportPlan:
    """Sort the file's styles into new, replacing a user style, replacing a built-in one
    (a user style of the same name hides it) and unchanged."""
    added: list[Style] = []
    replaced_user: list[Style] = []
    replaced_builtin: list[Style] = []
    unchanged: list[Style] = []
    user = {style.name.casefold(): style for style in library.user_styles()}
    every = {style.name.strip().casefold(): style for style in library.all()}  # read once
    for style in source.styles:
        existing = user.get(style.name.casefold())
        builtin = every.get(style.name.strip().casefold())
        if existing is not None:
            same = _same(existing, style)
            (unchanged if same else replaced_user).append(style)
        elif builtin is not None:
            (unchanged if _same(builtin, style) else replaced_builtin).append(style)
        else:
            added.append(style)
    return StyleImportPlan(
        source,
        tuple(added),
        tuple(replaced_user),
        tuple(replaced_builtin),
        tuple(unchanged),
        source.notes,
    )


def apply_style_import(library: StyleLibrary, plan: StyleImportPlan) -> int:
    """Save the plan's new and replacing styles as user styles, all or none (one transaction
    where the store has one); how many were saved."""
    library.save_user_styles(plan.changes)
    return len(plan.changes)


def _same(a: Style, b: Style) -> bool:
    return (a.name, a.prompt, a.negative_prompt) == (b.name, b.prompt, b.negative_prompt)
