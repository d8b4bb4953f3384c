"""What interrogation ranks and refinement edits: a recipe's slots, each with its terms.

A facet is one slot of a `Recipe` filled from a vocabulary:

- the subject's words, `subject.size`, `subject.colour` and `subject.thing` ("a small red
  circle"), from `assets/interrogation/subject.json`;
- each Builder vocabulary of a list field that describes the picture (medium, lighting, camera,
  composition, mood, colour), from `assets/vocabularies/`;
- `styles`: the Builder's styles by name, read by CLIP as their template without the prompt.

Each facet carries the texts CLIP reads for its terms and a content key (a hash of its name,
terms and texts), so cached text embeddings are found again only for the same vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prompts.assets import asset_path
from prompts.compose import clean_prompt
from prompts.styles import Style, apply_style_template
from prompts.vocabularies import load_vocabularies

SUBJECT_SLOTS: tuple[str, ...] = ("size", "colour", "thing")  # their order in the subject
PICTURE_VOCABULARIES: tuple[str, ...] = (
    "medium",
    "lighting",
    "camera",
    "composition",
    "mood",
    "colour",
)
_DANGLING_OF = re.compile(r"\s+of$")


class FacetError(ValueError):
    """A facet file is malformed."""


@dataclass(frozen=True)
class Facet:
    """One recipe slot: its terms and, for each term, the text CLIP reads."""

    name: str  # "subject.colour", "lighting", "styles"
    field: str  # the recipe field it fills: "subject", "lighting", "styles"
    label: str
    terms: tuple[str, ...]
    texts: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.terms) != len(self.texts) or not self.terms:
            raise FacetError(f"Facet {self.name!r} needs one text per term, and some terms.")

    @property
    def slot(self) -> str | None:
        """The subject slot (`colour`) of a subject facet, else None."""
        return self.name.split(".", 1)[1] if self.field == "subject" else None

    @property
    def content_key(self) -> str:
        """A hash of what the facet is; equal keys mean equal texts in equal order."""
        payload = json.dumps([self.name, self.terms, self.texts], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def load_facets(
    styles: Iterable[Style] = (),
    vocabulary_folder: Path | None = None,
    subject_file: Path | None = None,
) -> tuple[Facet, ...]:
    """Every facet: the subject's slots, the picture vocabularies and (if given) the styles."""
    facets = list(load_subject_facets(subject_file))
    vocabularies = load_vocabularies(vocabulary_folder)
    for name in PICTURE_VOCABULARIES:
        if name in vocabularies:
            vocab = vocabularies[name]
            terms = tuple(vocab.terms)
            facets.append(Facet(vocab.field, vocab.field, vocab.label, terms, terms))
    style_list = list(styles)
    if style_list:
        facets.append(
            Facet(
                "styles",
                "styles",
                "Style",
                tuple(style.name for style in style_list),
                tuple(style_text(style) for style in style_list),
            )
        )
    return tuple(facets)


def load_subject_facets(path: Path | None = None) -> tuple[Facet, ...]:
    """The subject's slots from `assets/interrogation/subject.json`, in `SUBJECT_SLOTS` order."""
    path = path or asset_path("interrogation", "subject.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FacetError(f"{path.name} cannot be read: {exc}.") from None
    slots = data.get("slots") if isinstance(data, dict) else None
    if not isinstance(slots, dict) or set(slots) != set(SUBJECT_SLOTS):
        raise FacetError(f"{path.name} must have 'slots' {', '.join(SUBJECT_SLOTS)}.")
    facets = []
    for slot in SUBJECT_SLOTS:
        entry = slots[slot]
        terms = entry.get("terms") if isinstance(entry, dict) else None
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise FacetError(f"{path.name} slot '{slot}' needs a list of terms.")
        clean = tuple(dict.fromkeys(t.strip() for t in terms))
        label = str(entry.get("label") or slot.title())
        facets.append(Facet(f"subject.{slot}", "subject", label, clean, clean))
    return tuple(facets)


def style_text(style: Style) -> str:
    """What CLIP reads for a style: its template without the prompt ("pixel art, 8-bit...")."""
    text = apply_style_template(style.prompt, "")
    terms = [_DANGLING_OF.sub("", term.strip()) for term in text.split(",")]
    return clean_prompt(", ".join(terms)) or style.name


def facet_named(facets: Sequence[Facet], name: str) -> Facet:
    """The facet called `name`; `KeyError` if there is none."""
    for facet in facets:
        if facet.name == name:
            return facet
    raise KeyError(name)


def compose_subject(words: dict[str, str], article: bool = True) -> str:
    """'a small red circle' from slot words (size, colour, thing; any may be missing)."""
    text = " ".join(words[slot] for slot in SUBJECT_SLOTS if words.get(slot))
    return with_article(text) if article and text else text


def with_article(text: str) -> str:
    """`text` with "a"/"an" in front, chosen by its first letter (weights looked through)."""
    first = next((ch for ch in text if ch.isalnum()), "")
    return f"{'an' if first.lower() in 'aeiou' and first else 'a'} {text}"
