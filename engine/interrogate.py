"""Interrogate a picture into a Builder recipe, as CLIP Interrogator ranks its flavours.

1. Embed the image with the same CLIP the scores use (`engine.clip_score.find_clip`: a real
   CLIP from the Hugging Face cache, else the shipped sketch CLIP, else the tiny random one).
2. Rank every facet's terms (`prompts.facets`: subject size, colour and thing, medium,
   lighting, camera, composition, mood, colour palette, styles) by image–text similarity; the
   vocabularies' text embeddings come from a cache on disk per CLIP, computed in batches.
   A term's probability is the softmax of CLIP's own logit scale × cosine over its facet.
3. Build the recipe facet by facet, as CLIP Interrogator adds its flavours: each facet's
   leading candidates are scored as the whole composed prompt (the other facets' choices
   around them), and the best stays; a facet CLIP does not clearly see on its own may also
   be left out, when the prompt without it scores higher. The subject always gets a thing.
   Two passes, so the first choices are judged again in the company of the later ones.
4. A CLIP that declares the words it knows (the sketch CLIP: its world's words) ranks only
   terms made of them; an unknown word's embedding was never trained and ranks by chance.

The result says which CLIP was used, whether its scores mean anything, each facet's ranking
with scores (100 × cosine) and probabilities, and how sure it is overall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from engine.text_embedding_cache import TextEmbeddingCache
from prompts.compose import compose_prompt
from prompts.facets import Facet, compose_subject, load_facets
from prompts.recipe import Recipe
from prompts.recipe_operators import Guide
from prompts.recipe_terms import says
from prompts.styles import StyleLibrary

if TYPE_CHECKING:  # CLIP (torch) loads with the first reading, not with the page
    from engine.clip_score import ClipScorer

TOP_TERMS = 5  # reported per facet
CHOSEN_LEAD = 1.5  # a chosen term's proposal weight over all its facet's others together
CONTEXT_CANDIDATES = 6  # a facet's leading terms tried in the whole prompt
CHAIN_PASSES = 2
CLEAR_MARGIN = 3.0
CONTEXT_MEMO = 20_000  # prompt embeddings kept between pictures
THING = "subject.thing"
CHAIN_ORDER = (
    THING,
    "subject.colour",
    "subject.size",
    "medium",
    "styles",
    "lighting",
    "composition",
    "colour",
    "camera",
    "mood",
)


@dataclass(frozen=True)
class RankedTerm:
    """A term with its CLIP score (100 × cosine) and probability within its facet."""

    term: str
    score: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "score": self.score, "probability": self.probability}


@dataclass(frozen=True)
class FacetReading:
    """One facet's ranking, the term put in the recipe (if any) and how sure of it."""

    facet: str
    field: str
    label: str
    ranked: tuple[RankedTerm, ...]
    chosen: str | None
    sure: float  # the chosen term's probability (in context when re-ranked); else the best's

    def to_dict(self) -> dict[str, Any]:
        return {
            "facet": self.facet,
            "label": self.label,
            "chosen": self.chosen,
            "sure": self.sure,
            "terms": [term.to_dict() for term in self.ranked],
        }


@dataclass(frozen=True)
class Interrogation:
    """A picture read back as a recipe, with the evidence."""

    recipe: Recipe
    prompt: str
    readings: tuple[FacetReading, ...]
    clip_name: str
    meaningful: bool
    probabilities: dict[str, dict[str, float]]  # facet -> term -> probability (all terms)

    @property
    def confidence(self) -> float:
        """How sure overall: the mean certainty of the facets put in the recipe."""
        chosen = [r.sure for r in self.readings if r.chosen is not None]
        return round(float(np.mean(chosen)), 4) if chosen else 0.0

    def reading(self, facet: str) -> FacetReading:
        return next(r for r in self.readings if r.facet == facet)

    def guide(self, floor: float = 0.02) -> Guide:
        """Proposal weights for refinement toward this picture: each term by its probability
        (never below `floor`), the term chosen in context likelier than all the others
        together (so the guide is sure of it, `prompts.recipe_operators.SURE_SHARE`), and in a
        facet left out none likelier than the others together (sure only of what it says);
        every facet this CLIP can read alike, terms it cannot read never."""
        terms = {
            facet: {term: max(p, floor) for term, p in probs.items()}
            for facet, probs in self.probabilities.items()
        }
        for reading in self.readings:
            weights = terms[reading.facet]
            if reading.chosen is not None:
                others = sum(w for t, w in weights.items() if t != reading.chosen)
                weights[reading.chosen] = max(weights[reading.chosen], CHOSEN_LEAD * others)
            elif weights:  # left out: the guide is sure of no term of it
                top = max(weights, key=weights.__getitem__)
                others = sum(w for t, w in weights.items() if t != top)
                weights[top] = min(weights[top], others)
        facets = {r.facet: 1.0 for r in self.readings}
        return Guide(terms=terms, facets=facets, default_term=0.0, default_facet=0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the recipe as Builder fields, each facet's terms and scores, the CLIP."""
        return {
            "clip": self.clip_name,
            "meaningful": self.meaningful,
            "confidence": self.confidence,
            "prompt": self.prompt,
            "recipe": self.recipe.to_dict(),
            "fields": {r.facet: r.to_dict() for r in self.readings},
        }


class Interrogator:
    """Reads pictures with one CLIP over one set of facets (vocabularies)."""

    def __init__(
        self,
        scorer: ClipScorer | None = None,
        *,
        facets: Sequence[Facet] | None = None,
        library: StyleLibrary | None = None,
        cache_dir: Path | None = None,
        cache: TextEmbeddingCache | None = None,
        in_context: bool = True,
        knows: Callable[[str], bool] | None = None,
    ) -> None:
        if scorer is None:
            from engine.clip_score import clip_scorer

            scorer = clip_scorer()
        self.scorer = scorer
        self.knows = knows or known_terms_of(self.scorer)
        self.library = library or StyleLibrary()
        if facets is None:
            facets = load_facets(self.library.all())
        self.facets = tuple(facets)
        self.cache = cache or TextEmbeddingCache(cache_dir)
        self.in_context = in_context
        self._context_memo: dict[str, np.ndarray] = {}
        self.eligible = {
            f.name: np.array([i for i, text in enumerate(f.texts) if self.knows(text)], dtype=int)
            for f in self.facets
        }

    @property
    def clip_name(self) -> str:
        return self.scorer.name

    def vocabulary_embeddings(self) -> dict[str, np.ndarray]:
        """Every facet's text embeddings (cached on disk per CLIP)."""
        return {f.name: self.cache.embeddings(self.scorer, f.name, f.texts) for f in self.facets}

    def interrogate(self, image: Image.Image) -> Interrogation:
        return self.interrogate_many([image])[0]

    def interrogate_many(self, images: Sequence[Image.Image]) -> list[Interrogation]:
        """Each picture as a recipe; the images are embedded in one batch."""
        vocab = self.vocabulary_embeddings()
        embeds = self.scorer.image_embeddings(list(images)).numpy()
        return [self._read(embedding, vocab) for embedding in embeds]

    def _read(self, embedding: np.ndarray, vocab: dict[str, np.ndarray]) -> Interrogation:
        rankings = self._rank(embedding, vocab)
        probabilities = {
            name: {t.term: t.probability for t in ranking} for name, ranking in rankings.items()
        }
        if self.in_context:
            chosen, sure = self._chain(embedding, rankings)
        else:
            chosen = {
                name: ranking[0].term
                for name, ranking in rankings.items()
                if name == THING or self._sure_alone(ranking)
            }
            sure = {name: probabilities[name][term] for name, term in chosen.items()}
        recipe = self.recipe_of(chosen)
        readings = tuple(
            FacetReading(
                facet.name,
                facet.field,
                facet.label,
                tuple(_rounded(t) for t in rankings[facet.name][:TOP_TERMS]),
                chosen.get(facet.name),
                round(sure.get(facet.name, 0.0), 4),
            )
            for facet in self.facets
            if facet.name in rankings
        )
        return Interrogation(
            recipe,
            self.compose(recipe),
            readings,
            self.scorer.name,
            self.scorer.meaningful,
            probabilities,
        )

    def _rank(
        self, embedding: np.ndarray, vocab: dict[str, np.ndarray]
    ) -> dict[str, list[RankedTerm]]:
        """Each facet's eligible terms, best first, with score and probability."""
        scale = self.scorer.logit_scale
        rankings: dict[str, list[RankedTerm]] = {}
        for facet in self.facets:
            eligible = self.eligible[facet.name]
            if not eligible.size:
                continue
            cosines = vocab[facet.name][eligible] @ embedding
            probs = _softmax(scale * cosines)
            rankings[facet.name] = [
                RankedTerm(
                    facet.terms[eligible[i]], round(float(cosines[i]) * 100, 3), float(probs[i])
                )
                for i in np.argsort(-cosines, kind="stable")
            ]
        return rankings

    def _sure_alone(self, ranking: list[RankedTerm]) -> bool:
        """Without context, CLIP clearly sees this facet: its best term is likelier than not
        and at least `CLEAR_MARGIN` times the next one."""
        if len(ranking) < 2:
            return False
        best, second = ranking[0].probability, ranking[1].probability
        return best >= 0.5 and best >= CLEAR_MARGIN * second

    def _chain(
        self, embedding: np.ndarray, rankings: dict[str, list[RankedTerm]]
    ) -> tuple[dict[str, str], dict[str, float]]:
        """Build the prompt facet by facet, as CLIP Interrogator adds flavours: a facet's
        leading candidates are scored as the whole prompt with each of them (and, unless CLIP
        clearly sees the facet on its own, without any); the best stays. Two passes, so the
        first choices are judged again with the later ones around them. `sure` is the softmax
        (CLIP's logit scale) of the chosen option among the options.

        Nothing is said twice (CLIP Interrogator leaves out a medium its caption starts
        with): outside the subject, a term the rest of the prompt already says is no
        candidate, and when it is the facet's best the facet is left out, as said already
        (the Line Art style's "clean line art of ..." needs no medium "line art" beside it,
        and a runner-up such as "vector illustration" would contradict it)."""
        chosen: dict[str, str] = {}
        sure: dict[str, float] = {}
        order = [name for name in CHAIN_ORDER if name in rankings]
        order += [name for name in rankings if name not in order]
        scale = self.scorer.logit_scale
        slots = {f.name for f in self.facets if f.slot is not None}
        for _ in range(CHAIN_PASSES):
            for name in order:
                ranked = [t.term for t in rankings[name]]
                if name not in slots:  # a style template may already say what this facet would
                    others = self.compose(self.recipe_of({k: v for k, v in chosen.items()
                                                          if k != name}))  # fmt: skip
                    if says(others, ranked[0]):
                        chosen.pop(name, None)
                        sure.pop(name, None)
                        continue
                    ranked = [term for term in ranked if not says(others, term)]
                candidates = ranked[:CONTEXT_CANDIDATES]
                options: list[str | None] = [*candidates]
                if name != THING and not self._sure_alone(rankings[name]):
                    options.append(None)  # the facet may be left out
                texts = [self.compose(self.recipe_of({**chosen, name: c})) for c in options]
                cosines = self._text_cosines(texts, embedding)
                best = int(np.argmax(cosines))
                probs = _softmax(scale * cosines)
                if options[best] is None:
                    chosen.pop(name, None)
                    sure.pop(name, None)
                else:
                    chosen[name] = options[best]  # type: ignore[assignment]
                    sure[name] = float(probs[best])
        return chosen, sure

    def _text_cosines(self, texts: list[str], embedding: np.ndarray) -> np.ndarray:
        """Cosines of `embedding` with each text (texts repeated across calls are kept)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._context_memo]
        if missing:
            rows = self.scorer.text_embeddings(missing).numpy()
            if len(self._context_memo) > CONTEXT_MEMO:
                self._context_memo.clear()
            self._context_memo.update(zip(missing, rows, strict=True))
        return np.array([float(self._context_memo[t] @ embedding) for t in texts])

    def recipe_of(self, chosen: dict[str, str]) -> Recipe:
        """A recipe from one term per facet name."""
        words: dict[str, str] = {}
        fields: dict[str, list[str]] = {}
        for facet in self.facets:
            term = chosen.get(facet.name)
            if term is None:
                continue
            if facet.slot is not None:
                words[facet.slot] = term
            else:
                fields.setdefault(facet.field, []).append(term)
        return replace(Recipe(subject=compose_subject(words)), **fields)

    def compose(self, recipe: Recipe) -> str:
        return compose_prompt(recipe, self.library).positive


def known_terms_of(scorer: ClipScorer) -> Callable[[str], bool]:
    """Which texts a CLIP can read: the sketch CLIP only the sketch world's words (a term of
    other words has an untrained embedding, and ranks by chance); any other, every text."""
    from engine.clip_score import SKETCH_CLIP

    if scorer.choice.name == SKETCH_CLIP:
        from engine.sketch.vocabulary import knows

        return knows
    return lambda text: True


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def _rounded(term: RankedTerm) -> RankedTerm:
    return RankedTerm(term.term, term.score, round(term.probability, 4))
