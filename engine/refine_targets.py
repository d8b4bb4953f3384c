"""What a refinement climbs toward, and how each rendered picture is scored against it.

- `ImageTarget`: a picture; score = CLIP image–image similarity (100 × cosine of the image
  embeddings). Its interrogation guides the proposals toward the terms CLIP reads in it.
- `TextTarget`: an intent in words; score = CLIP text–image similarity (the Compare tab's
  CLIP score). Proposals favour terms whose text embeddings are near the intent's.
- `PicksTarget`: the artist's picks; nothing is scored (every score is 0), each round goes on
  from the variants the artist picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from engine.clip_score import ClipScorer
from engine.interrogate import Interrogation, Interrogator
from prompts.recipe_operators import Guide


class RefineTarget(Protocol):
    """A target: scores pictures (higher is closer) and may guide the proposals."""

    kind: str
    scored: bool  # False: only the artist's picks move the run

    def score(self, images: Sequence[Image.Image]) -> list[float]: ...

    def guide(self) -> Guide | None: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class ImageTarget:
    """Climb toward a picture (CLIP image–image similarity)."""

    image: Image.Image
    scorer: ClipScorer
    interrogator: Interrogator | None = None
    kind: str = "image"
    scored: bool = True
    _reading: Interrogation | None = None

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        return self.scorer.image_similarity(list(images), self.image)

    def reading(self) -> Interrogation | None:
        """The target's interrogation (once), when an interrogator was given."""
        if self._reading is None and self.interrogator is not None:
            self._reading = self.interrogator.interrogate(self.image)
        return self._reading

    def guide(self) -> Guide | None:
        reading = self.reading()
        return reading.guide() if reading is not None else None

    def describe(self) -> dict[str, Any]:
        reading = self.reading()
        return {
            "kind": self.kind,
            "metric": "clip_image",
            "clip": self.scorer.name,
            "size": list(self.image.size),
            "interrogated": reading.prompt if reading is not None else None,
        }


@dataclass
class TextTarget:
    """Climb toward an intent in words (CLIP text–image similarity)."""

    text: str
    scorer: ClipScorer
    interrogator: Interrogator | None = None
    kind: str = "text"
    scored: bool = True

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        return self.scorer.score(list(images), [self.text] * len(images))

    def guide(self) -> Guide | None:
        """Each facet's terms by the softmax of their text similarity to the intent."""
        if self.interrogator is None:
            return None
        intent = self.scorer.text_embeddings([self.text]).numpy()[0]
        scale = self.scorer.logit_scale
        terms: dict[str, dict[str, float]] = {}
        facets: dict[str, float] = {}
        vocab = self.interrogator.vocabulary_embeddings()
        for facet in self.interrogator.facets:
            eligible = self.interrogator.eligible[facet.name]
            if not eligible.size:
                continue
            logits = scale * (vocab[facet.name][eligible] @ intent)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            terms[facet.name] = {
                facet.terms[i]: max(float(p), 0.02) for i, p in zip(eligible, probs, strict=True)
            }
            facets[facet.name] = 1.0
        return Guide(terms=terms, facets=facets, default_term=0.0, default_facet=0.0)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "metric": "clip_text", "clip": self.scorer.name,
                "text": self.text}  # fmt: skip


@dataclass
class PicksTarget:
    """Only the artist's picks move the run; nothing is scored."""

    kind: str = "picks"
    scored: bool = False

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        return [0.0] * len(images)

    def guide(self) -> Guide | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "metric": None}
