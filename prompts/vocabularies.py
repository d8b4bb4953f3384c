"""Term lists for the prompt builder's pickers, read from `assets/vocabularies/*.json`.

Each file is `{"label": "Lighting", "field": "lighting", "groups": {"Natural": [...], ...}}`:
`field` names the `Recipe` field the terms go into, `groups` order the picker (for negative
terms, each group is a ready-made set such as "Anatomy" or "Text and marks").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from prompts.assets import asset_path
from prompts.recipe import Recipe


class VocabularyError(ValueError):
    """A vocabulary file is malformed."""


@dataclass(frozen=True)
class Vocabulary:
    """One picker's terms, in named groups."""

    name: str
    label: str
    field: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def terms(self) -> list[str]:
        """Every term, group by group, without repeats."""
        return list(dict.fromkeys(term for _, terms in self.groups for term in terms))

    def group(self, name: str) -> list[str]:
        """The terms of one group (case-insensitive name); `KeyError` if there is none."""
        for group_name, terms in self.groups:
            if group_name.casefold() == name.casefold():
                return list(terms)
        raise KeyError(name)


def load_vocabularies(folder: Path | None = None) -> dict[str, Vocabulary]:
    """Every vocabulary in `folder` (default `assets/vocabularies/`), keyed by file name."""
    folder = folder or asset_path("vocabularies")
    return {path.stem: _load_vocabulary(path) for path in sorted(folder.glob("*.json"))}


def vocabulary_terms(folder: Path | None = None) -> dict[str, list[str]]:
    """Just the terms: vocabulary name -> flat list, e.g. `{"lighting": ["golden hour", ...]}`."""
    return {name: vocab.terms for name, vocab in load_vocabularies(folder).items()}


def _load_vocabulary(path: Path) -> Vocabulary:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise VocabularyError(f"{path.name} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
        raise VocabularyError(f"{path.name} must be an object with a 'groups' object.")
    field = data.get("field", path.stem)
    if field not in Recipe.LIST_FIELDS:
        raise VocabularyError(f"{path.name} names '{field}', which is not a recipe list field.")
    groups = []
    for group_name, terms in data["groups"].items():
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise VocabularyError(f"{path.name} group '{group_name}' must be a list of terms.")
        groups.append((group_name, tuple(t.strip() for t in terms)))
    label = data.get("label") or path.stem.replace("_", " ").title()
    return Vocabulary(name=path.stem, label=str(label), field=field, groups=tuple(groups))
