"""A refinement kept in the gallery, round by round, with its lineage.

Each round is an experiment of kind "refine": a Compare grid whose rows are the shared seeds
and whose columns are the round's parents, then the variants they proposed. Every picture is a
generation whose parent is the picture of its parent variant on the same seed, so the
gallery's lineage (`OwnerGallery.lineage`) walks from the best picture back to the start. The
experiment's settings name the run, the round, the previous round's experiment and the target;
each variant's recipe holds its prompt, Builder recipe, parent, edits, score and interval.
The best of the round is its winner; when the artist overrules the score, the round's winner
becomes the pick, each pick is kept as a vote (`record_pick`, once the artist picked), and the
next round's settings and its parents' recipes say the artist chose them ("chosen_by").

The engine's rounds are read by their attributes (candidates with `id`, `recipe`, `prompt`,
`cells`, `scores`, ...), so this module imports no engine; `to_generation(result, index)`
(`ui.recording.new_generation`) turns a rendered cell into a record.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from gallery.records import ExperimentRecord, NewGeneration, ScoreRecord, VariantSpec

REFINE_KIND = "refine"
REFINE_SOURCE = "refine"
METRICS = {"image": "clip_image", "text": "clip", "picks": None}


class RefineGallery(Protocol):
    """What the recorder needs of a gallery (one owner's `OwnerGallery`)."""

    def create_experiment(self, name: str, variants: Any, **plan: Any) -> ExperimentRecord: ...

    def record_generations(self, items: list[NewGeneration]) -> list[int]: ...

    def add_to_variant(self, variant_id: int, generation_id: int, seed_index: int) -> None: ...

    def save_scores(self, scores: list[ScoreRecord]) -> None: ...

    def set_winner(self, experiment_id: int, variant_id: int | None) -> None: ...

    def add_vote(self, experiment_id: int, winner_variant_id: int) -> Any: ...


class RefineRecorder:
    """Saves each round of one run as it finishes (`record_round`)."""

    def __init__(
        self,
        gallery: RefineGallery,
        to_generation: Callable[[Any, int], NewGeneration],
        *,
        name: str,
        spec: dict[str, Any],
        target: dict[str, Any],
        scorer: str,
        meaningful: bool,
    ) -> None:
        self.gallery = gallery
        self.to_generation = to_generation
        self.name = name.strip() or "Refinement"
        self.run_id = uuid.uuid4().hex
        self.spec = spec
        self.target = target
        self.scorer = scorer
        self.meaningful = meaningful
        self.metric = METRICS.get(str(target.get("kind")))
        self.generations: dict[str, list[int]] = {}  # candidate id -> generation id per seed
        self.experiments: list[int] = []
        self._rounds: dict[int, tuple[int, dict[str, int]]] = {}  # index -> experiment, variants
        self._votes: set[tuple[int, str]] = set()

    def record_round(self, round_: Any) -> ExperimentRecord:
        """Save one finished round as an experiment; returns it."""
        columns = [*round_.parents, *round_.variants]
        columns = [c for c in columns if c.scores or c.id in self.generations]
        experiment = self.gallery.create_experiment(
            f"{self.name} · round {round_.index}",
            [VariantSpec(c.id, _variant_recipe(c)) for c in columns],
            kind=REFINE_KIND,
            settings={
                **{k: v for k, v in self.spec.items() if k != "start"},
                "refine": {
                    "run": self.run_id,
                    "round": round_.index,
                    "previous_experiment": self.experiments[-1] if self.experiments else None,
                    "target": self.target,
                    "scorer": self.scorer,
                    "beam": [c.id for c in round_.beam],
                    "picked": [c.id for c in round_.parents if c.picked],
                    "parents_chosen_by": {c.id: c.chosen_by for c in round_.parents},
                },
            },
            seeds=list(self.spec.get("seeds", [])),
        )
        variant_ids = {v.name: v.id for v in experiment.variants}
        new = [c for c in columns if c.id not in self.generations and c.cells]
        items = [
            self._generation(c, seed_index, cell)
            for c in new
            for seed_index, cell in enumerate(c.cells)
        ]
        ids = self.gallery.record_generations(items) if items else []
        position = 0
        for candidate in new:
            self.generations[candidate.id] = ids[position : position + len(candidate.cells)]
            position += len(candidate.cells)
        for candidate in columns:
            for seed_index, generation_id in enumerate(self.generations.get(candidate.id, [])):
                self.gallery.add_to_variant(variant_ids[candidate.id], generation_id, seed_index)
        if self.metric is not None:
            self.gallery.save_scores(
                [
                    ScoreRecord(generation_id, self.metric, value, self.scorer, self.meaningful)
                    for c in new
                    for generation_id, value in zip(self.generations[c.id], c.scores, strict=True)
                ]
            )
        if round_.beam:
            self.gallery.set_winner(experiment.id, variant_ids.get(round_.best.id))
        self.experiments.append(experiment.id)
        self._rounds[round_.index] = (experiment.id, variant_ids)
        self.record_pick(round_)
        return experiment

    def record_pick(self, round_: Any) -> None:
        """The artist's picks of a saved round (`round_.picks`): its winner becomes the first
        pick and each pick is a vote (once)."""
        if round_.index not in self._rounds or not round_.picks:
            return
        experiment_id, variant_ids = self._rounds[round_.index]
        self.gallery.set_winner(experiment_id, variant_ids[round_.picks[0]])
        for pick in round_.picks:
            if (experiment_id, pick) not in self._votes:
                self._votes.add((experiment_id, pick))
                self.gallery.add_vote(experiment_id, variant_ids[pick])

    def _generation(self, candidate: Any, seed_index: int, cell: Any) -> NewGeneration:
        parent_ids = self.generations.get(candidate.parent or "", [])
        item = self.to_generation(cell.result, cell.index)
        settings = dict(item.settings)
        settings.update(prompt=item.prompt, negative_prompt=item.negative_prompt,
                        seed=item.seed, num_images=1, image_index=cell.index)  # fmt: skip
        return dataclasses.replace(
            item,
            recipe=candidate.recipe.to_dict(),
            settings=settings,
            source=REFINE_SOURCE,
            parent_id=parent_ids[seed_index] if seed_index < len(parent_ids) else None,
        )


def _variant_recipe(candidate: Any) -> dict[str, Any]:
    interval = candidate.versus_parent
    return {
        "prompt": candidate.prompt,
        "negative_prompt": candidate.negative_prompt,
        "recipe": candidate.recipe.to_dict(),
        "round": candidate.round,
        "parent": candidate.parent,
        "edits": [edit.to_dict() for edit in candidate.edits],
        "score": candidate.score if candidate.scores else None,
        "versus_parent": dataclasses.asdict(interval) if interval is not None else None,
        "accepted": candidate.accepted,
        "picked": candidate.picked,
        "chosen_by": candidate.chosen_by,
    }
