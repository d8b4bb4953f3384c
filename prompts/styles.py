"""Styles: named prompt templates with a `{prompt}` placeholder and a negative prompt.

Built-in styles are JSON files in `assets/styles/`, one per category:
`{"category": "Photo", "styles": [{"name": ..., "prompt": ..., "negative_prompt": ...}]}`.
User styles come from outside through the small `UserStyleStore` protocol (`JsonUserStyleFile`
here; the gallery's database later). A user style with the name of a built-in one replaces it.

Exchange formats: AUTOMATIC1111 `styles.csv` (columns name, prompt, negative_prompt; UTF-8 with
or without BOM; an extra `category` column is read when present and A1111 ignores it) and
Fooocus style JSON (an array of objects with name, prompt, negative_prompt).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from prompts.assets import asset_path

IMPORTED_CATEGORY = "Imported"
USER_STYLES_FILENAME = "user_styles.json"


class StyleError(ValueError):
    """A style is unknown or invalid."""


class UnknownStyleError(StyleError):
    """No style has the requested name."""


class StyleFileError(StyleError):
    """A style file (built-in, user, A1111 CSV or Fooocus JSON) is malformed."""


@dataclass(frozen=True)
class Style:
    """A named template; `prompt` usually holds `{prompt}` where the user's prompt goes."""

    name: str
    category: str = IMPORTED_CATEGORY
    prompt: str = "{prompt}"
    negative_prompt: str = ""

    def __post_init__(self) -> None:
        for label in ("name", "category", "prompt", "negative_prompt"):
            if not isinstance(getattr(self, label), str):
                raise StyleError(f"Style {label} must be text.")
        if not self.name.strip():
            raise StyleError("A style needs a name.")
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "category", self.category.strip() or IMPORTED_CATEGORY)

    def apply(self, prompt: str) -> str:
        """This style's template with `prompt` put in (see `apply_style_template`)."""
        return apply_style_template(self.prompt, prompt)

    def to_dict(self) -> dict[str, str]:
        """The four fields as a JSON-safe dict."""
        return {
            "name": self.name,
            "category": self.category,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
        }


@runtime_checkable
class UserStyleStore(Protocol):
    """Where the user's own styles are kept (a JSON file now, the gallery database later)."""

    def list_user_styles(self) -> list[Style]: ...

    def save_user_style(self, style: Style) -> None: ...

    def delete_user_style(self, name: str) -> None: ...


UserStyles = UserStyleStore | Iterable[Style] | Callable[[], Iterable[Style]]


def apply_style_template(template: str, prompt: str) -> str:
    """Put `prompt` into the template's `{prompt}` placeholder, or join it before the template.

    Matches AUTOMATIC1111: every `{prompt}` is replaced; without one the result is
    `prompt, template` (either may be empty).
    """
    if "{prompt}" in template:
        return template.replace("{prompt}", prompt)
    return ", ".join(part for part in (prompt.strip(), template.strip()) if part)


# --- built-in styles -------------------------------------------------------------------------


def load_builtin_styles(folder: Path | None = None) -> list[Style]:
    """All styles from the JSON files in `folder` (default `assets/styles/`), read in file-name
    order (the number prefixes order the categories)."""
    folder = folder or asset_path("styles")
    styles: list[Style] = []
    for path in sorted(folder.glob("*.json")):
        data = _load_json_file(path)
        if not isinstance(data, dict) or not isinstance(data.get("styles"), list):
            raise StyleFileError(f"{path.name} must be an object with a 'styles' array.")
        category = data.get("category")
        if not isinstance(category, str) or not category.strip():
            raise StyleFileError(f"{path.name} needs a 'category' name.")
        for index, entry in enumerate(data["styles"]):
            styles.append(_style_from_entry(entry, f"{path.name} entry {index + 1}", category))
    _check_unique(styles, str(folder))
    return styles


# --- the library -----------------------------------------------------------------------------


class StyleLibrary:
    """Built-in styles plus the user's own, looked up and searched case-insensitively."""

    def __init__(
        self, builtin: Iterable[Style] | None = None, user: UserStyles | None = None
    ) -> None:
        self._builtin = list(load_builtin_styles() if builtin is None else builtin)
        _check_unique(self._builtin, "built-in styles")
        self._user = user

    @property
    def store(self) -> UserStyleStore | None:
        """The writable user style store, if one was given."""
        return self._user if isinstance(self._user, UserStyleStore) else None

    def user_styles(self) -> list[Style]:
        """The user's styles, read fresh from their source (records with a style's four
        fields, such as the gallery's, become `Style`s)."""
        if self._user is None:
            return []
        if isinstance(self._user, UserStyleStore):
            found = self._user.list_user_styles()
        elif callable(self._user):
            found = self._user()
        else:
            found = self._user
        return [_as_style(style) for style in found]

    def all(self) -> list[Style]:
        """Built-in styles (minus those a user style replaces), then the user's styles."""
        user = self.user_styles()
        replaced = {style.name.casefold() for style in user}
        return [s for s in self._builtin if s.name.casefold() not in replaced] + user

    def names(self) -> list[str]:
        """Every style name, in library order."""
        return [style.name for style in self.all()]

    def categories(self) -> list[str]:
        """Every category, in order of first appearance."""
        return list(dict.fromkeys(style.category for style in self.all()))

    def is_user_style(self, name: str) -> bool:
        """Whether `name` is one of the user's styles."""
        return any(style.name.casefold() == name.strip().casefold() for style in self.user_styles())

    def get(self, name: str) -> Style:
        """The style called `name` (case-insensitive); `UnknownStyleError` if there is none."""
        wanted = name.strip().casefold()
        styles = self.all()
        for style in styles:
            if style.name.casefold() == wanted:
                return style
        close = difflib.get_close_matches(name, [s.name for s in styles], n=3, cutoff=0.6)
        quoted = [f"'{c}'" for c in close]
        options = " or ".join(filter(None, [", ".join(quoted[:-1]), *quoted[-1:]]))
        hint = f" Did you mean {options}?" if close else ""
        raise UnknownStyleError(f"Unknown style '{name}'.{hint}")

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except UnknownStyleError:
            return False
        return True

    def __len__(self) -> int:
        return len(self.all())

    def search(self, query: str = "", category: str | None = None) -> list[Style]:
        """Styles whose name or category contains `query` (case-insensitive), optionally only
        those in `category` (exact, case-insensitive)."""
        needle = query.strip().casefold()
        found = []
        for style in self.all():
            if category and style.category.casefold() != category.strip().casefold():
                continue
            if needle in style.name.casefold() or needle in style.category.casefold():
                found.append(style)
        return found

    def save_user_style(self, style: Style) -> None:
        """Save (or replace) a user style in the store."""
        self._writable_store().save_user_style(style)

    def save_user_styles(self, styles: Iterable[Style]) -> None:
        """Save (or replace) several user styles: in one transaction when the store can
        (`save_user_styles`), else one by one."""
        store = self._writable_store()
        many = getattr(store, "save_user_styles", None)
        if many is not None:
            many(list(styles))
            return
        for style in styles:
            store.save_user_style(style)

    def delete_user_style(self, name: str) -> None:
        """Delete a user style from the store."""
        self._writable_store().delete_user_style(name)

    def _writable_store(self) -> UserStyleStore:
        if self.store is None:
            raise StyleError("This style library has no place to save user styles.")
        return self.store


# --- user styles in a JSON file --------------------------------------------------------------


class JsonUserStyleFile:
    """User styles kept in one JSON file: `{"version": 1, "styles": [...]}`.

    A missing file means no user styles; every save rewrites the file atomically.
    """

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str]) -> JsonUserStyleFile:
        """The user style file inside the app's data folder."""
        return cls(Path(data_dir) / USER_STYLES_FILENAME)

    def list_user_styles(self) -> list[Style]:
        """The saved styles, in the order they were first saved."""
        if not self.path.exists():
            return []
        data = _load_json_file(self.path)
        if not isinstance(data, dict) or not isinstance(data.get("styles"), list):
            raise StyleFileError(f"{self.path.name} must be an object with a 'styles' array.")
        styles = [
            _style_from_entry(entry, f"{self.path.name} entry {index + 1}", IMPORTED_CATEGORY)
            for index, entry in enumerate(data["styles"])
        ]
        _check_unique(styles, self.path.name)
        return styles

    def save_user_style(self, style: Style) -> None:
        """Add the style, or replace the saved one with the same name (case-insensitive)."""
        styles = self.list_user_styles()
        for index, existing in enumerate(styles):
            if existing.name.casefold() == style.name.casefold():
                styles[index] = style
                break
        else:
            styles.append(style)
        self._write(styles)

    def delete_user_style(self, name: str) -> None:
        """Remove the style called `name`; `UnknownStyleError` if it is not saved here."""
        styles = self.list_user_styles()
        kept = [s for s in styles if s.name.casefold() != name.strip().casefold()]
        if len(kept) == len(styles):
            raise UnknownStyleError(f"There is no user style called '{name}'.")
        self._write(kept)

    def _write(self, styles: Sequence[Style]) -> None:
        document = {"version": self.VERSION, "styles": [s.to_dict() for s in styles]}
        _write_atomically(self.path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")


# --- AUTOMATIC1111 styles.csv ----------------------------------------------------------------


def parse_a1111_csv(
    text: str,
    *,
    source: str = "styles.csv",
    category: str = IMPORTED_CATEGORY,
    notes: list[str] | None = None,
) -> list[Style]:
    """Styles from the text of an A1111 `styles.csv`, read as A1111's `load_from_csv` does.

    A leading BOM is ignored; the old `text` column is accepted instead of `prompt`;
    `negative_prompt` may be missing; values beyond the header's columns are ignored; rows
    whose name starts with `#` are skipped; a repeated name (ignoring case) replaces the
    earlier style. What was ignored is described in `notes` when a list is given. Only a file
    without a header or without a name/prompt column is a `StyleFileError`.
    """
    notes = notes if notes is not None else []
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), skipinitialspace=True)
    columns = [c.strip() for c in reader.fieldnames or []]
    if not columns:
        raise StyleFileError(f"{source} is empty; it needs a header row name,prompt,...")
    reader.fieldnames = columns
    prompt_column = "prompt" if "prompt" in columns else "text" if "text" in columns else None
    for required, present in (("name", "name" in columns), ("prompt", prompt_column)):
        if not present:
            raise StyleFileError(
                f"{source} is missing the '{required}' column (found: {', '.join(columns)})."
            )
    styles: dict[str, Style] = {}
    for row in reader:
        line = reader.line_num
        if row.pop(None, None) is not None:
            notes.append(f"{source} line {line}: values beyond the header's columns ignored.")
        values = {key: (value or "") for key, value in row.items()}
        if not any(v.strip() for v in values.values()):
            continue
        name = values["name"].strip()
        if name.startswith("#"):
            continue
        if not name:
            notes.append(f"{source} line {line}: no style name; skipped.")
            continue
        style = Style(
            name=name,
            category=values.get("category", "") or category,
            prompt=values[prompt_column],
            negative_prompt=values.get("negative_prompt", ""),
        )
        _keep_last(styles, style, notes, f"{source} line {line}")
    return list(styles.values())


def read_a1111_csv(
    path: str | os.PathLike[str],
    *,
    category: str = IMPORTED_CATEGORY,
    notes: list[str] | None = None,
) -> list[Style]:
    """Styles from an A1111 `styles.csv` file (UTF-8, with or without BOM)."""
    path = Path(path)
    return parse_a1111_csv(_read_text(path), source=path.name, category=category, notes=notes)


def format_a1111_csv(styles: Iterable[Style], *, include_category: bool = False) -> str:
    """A1111 `styles.csv` text; `include_category` adds a column A1111 itself ignores."""
    columns = ["name", "prompt", "negative_prompt"] + (["category"] if include_category else [])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for style in styles:
        writer.writerow(style.to_dict())
    return buffer.getvalue()


def write_a1111_csv(
    styles: Iterable[Style], path: str | os.PathLike[str], *, include_category: bool = False
) -> None:
    """Write an A1111 `styles.csv` (UTF-8, no BOM)."""
    _write_atomically(Path(path), format_a1111_csv(styles, include_category=include_category))


# --- Fooocus style JSON ----------------------------------------------------------------------


def fooocus_display_name(key: str) -> str:
    """The name Fooocus shows for a style file's `name` (its `sdxl_styles.normalize_key`):
    `sai-3d-model` -> `SAI 3D Model`."""
    words = key.replace("-", " ").split(" ")
    name = " ".join(word[:1].upper() + word[1:].lower() for word in words)
    for old, new in (("3d", "3D"), ("Sai", "SAI"), ("Mre", "MRE"), ("(s", "(S")):
        name = name.replace(old, new)
    return name


def parse_fooocus_json(
    text: str,
    *,
    source: str = "styles.json",
    category: str = IMPORTED_CATEGORY,
    display_names: bool = True,
    notes: list[str] | None = None,
) -> list[Style]:
    """Styles from Fooocus style JSON: an array of {name, prompt, negative_prompt} objects.

    `display_names` turns each name into the one Fooocus shows (`fooocus_display_name`). A
    repeated name replaces the earlier style (as in Fooocus's style dict) and entries without
    a name are skipped, each with a note in `notes`. Invalid JSON or a document that is not an
    array is a `StyleFileError`.
    """
    notes = notes if notes is not None else []
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise StyleFileError(f"{source} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise StyleFileError(f"{source} nests too deeply to be a style file.") from None
    if not isinstance(data, list):
        raise StyleFileError(
            f"{source} must be a JSON array of styles, not a JSON {_json_kind(data)}."
        )
    styles: dict[str, Style] = {}
    for index, entry in enumerate(data):
        where = f"{source} entry {index + 1}"
        try:
            style = _style_from_entry(entry, where, category)
        except StyleError as exc:
            notes.append(f"{str(exc).rstrip('.')}; skipped.")
            continue
        if display_names:
            style = Style(
                fooocus_display_name(style.name),
                style.category,
                style.prompt,
                style.negative_prompt,
            )
        _keep_last(styles, style, notes, where)
    return list(styles.values())


def read_fooocus_json(
    path: str | os.PathLike[str],
    *,
    category: str = IMPORTED_CATEGORY,
    display_names: bool = True,
    notes: list[str] | None = None,
) -> list[Style]:
    """Styles from a Fooocus style JSON file (see `parse_fooocus_json`)."""
    path = Path(path)
    return parse_fooocus_json(
        _read_text(path),
        source=path.name,
        category=category,
        display_names=display_names,
        notes=notes,
    )


def format_fooocus_json(styles: Iterable[Style], *, include_category: bool = False) -> str:
    """Fooocus style JSON text; `include_category` adds a key Fooocus ignores."""
    entries: list[dict[str, str]] = []
    for style in styles:
        entry = {
            "name": style.name,
            "prompt": style.prompt,
            "negative_prompt": style.negative_prompt,
        }
        if include_category:
            entry["category"] = style.category
        entries.append(entry)
    return json.dumps(entries, ensure_ascii=False, indent=4) + "\n"


def write_fooocus_json(
    styles: Iterable[Style], path: str | os.PathLike[str], *, include_category: bool = False
) -> None:
    """Write a Fooocus style JSON file (UTF-8)."""
    _write_atomically(Path(path), format_fooocus_json(styles, include_category=include_category))


# --- helpers ---------------------------------------------------------------------------------


def _style_from_entry(entry: Any, where: str, category: str) -> Style:
    if not isinstance(entry, dict):
        raise StyleFileError(f"{where} must be an object, not a JSON {_json_kind(entry)}.")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise StyleFileError(f"{where} has no 'name'.")
    values = {"name": name, "category": entry.get("category") or category}
    for key in ("prompt", "negative_prompt"):
        value = entry.get(key, "")
        if not isinstance(value, str):
            raise StyleFileError(f"{where} ('{name}') has a '{key}' that is not text.")
        values[key] = value
    if not isinstance(values["category"], str):
        raise StyleFileError(f"{where} ('{name}') has a 'category' that is not text.")
    return Style(**values)


def _as_style(record: Any) -> Style:
    if isinstance(record, Style):
        return record
    return Style(
        name=record.name,
        category=record.category,
        prompt=record.prompt,
        negative_prompt=record.negative_prompt,
    )


def _keep_last(styles: dict[str, Style], style: Style, notes: list[str], where: str) -> None:
    """Add `style`; a repeated name (ignoring case) replaces the earlier one, with a note."""
    key = style.name.casefold()
    if key in styles:
        notes.append(f"{where}: '{style.name}' appears again; the last one is kept.")
    styles[key] = style  # as a dict update: the first one's place, the last one's values


def _check_unique(styles: Iterable[Style], source: str) -> None:
    seen: set[str] = set()
    for style in styles:
        key = style.name.casefold()
        if key in seen:
            raise StyleFileError(f"{source} has the style name '{style.name}' more than once.")
        seen.add(key)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise StyleFileError(f"Style file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise StyleFileError(f"{path.name} is not UTF-8 text.") from None


def _load_json_file(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise StyleFileError(f"{path.name} is not valid JSON: {exc}.") from None


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
