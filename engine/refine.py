"""Refine a recipe toward a target, round by round: a beam search on shared seeds.

1. Check the run (start, seeds, settings, beam, proposals, rounds) before any work.
2. Round 0 renders the start on the seeds and scores it against the target.
3. Each later round: every recipe of the beam proposes K variants (`prompts.recipe_operators`,
   seeded by the run's seed, the round and the parent, guided by the target: with a guide,
   the first is its best guess, the others hold the terms it is sure of and draw the rest
   from it, and a term it is sure of is re-weighted, never replaced); all variants of
   the round render as ONE comparison (`engine.compare_plan` + `engine.compare_run`: batched
   pipeline calls, one prompt row and one seeded generator per image, so a cell equals a
   single generation of its seed and prompt) and are scored per seed.
4. A variant is accepted when it beats its parent beyond a t interval of its paired per-seed
   differences whose spread is pooled over the round's variants (`pooled_intervals`: the
   interval's low end is above 0); on two seeds a bootstrap of a variant's own differences
   would accept any variant that wins on both, which a quarter of do-nothing variants do.
   The next beam is the best B of the beam and the accepted variants, by mean score. The
   artist may overrule the score: the candidates picked from a finished round (`step(picks)`)
   lead the next round's parents whatever their score, and are marked as the artist's choice
   (`Candidate.chosen_by`).
   With the `PicksTarget` nothing is scored and only picks move the run.
5. The run stops after N rounds, when no variant is accepted (and none is picked), or on Stop;
   a pick after such a round goes on while rounds are left.

Same start, target, seeds, settings, run seed and picks -> the same rounds. Without picks the best
score never falls: the beam keeps its members unless better ones come.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from scipy import stats

from engine.compare_plan import MAX_CELLS, ComparePlan, CompareVariant
from engine.compare_run import CellImage, CompareProgress, run_plan
from engine.errors import InvalidRequestError
from engine.refine_targets import RefineTarget
from engine.request import GenerationRequest
from prompts.compose import StyleLookup, compose_prompt
from prompts.facets import Facet
from prompts.recipe import Recipe
from prompts.recipe_operators import Edit, Guide, propose_variants, recipe_key

if TYPE_CHECKING:  # torch loads with the engine, not with the page
    from engine.generate import Engine

MAX_BEAM = 8
MAX_PROPOSALS = 16
MAX_ROUNDS = 20
CONFIDENCE = 0.95


@dataclass(frozen=True)
class RefineSpec:
    """Everything that decides a run's rounds."""

    start: Recipe
    seeds: tuple[int, ...]
    settings: GenerationRequest  # shared settings; its prompt and seed are ignored
    model: str = "sketch"
    beam: int = 2
    proposals: int = 4  # per parent and round
    rounds: int = 3
    max_edits: int = 2
    seed: int = 0  # the proposals' random stream

    def validate(self) -> None:
        """Raise InvalidRequestError with one sentence for the first problem."""
        if not 1 <= self.beam <= MAX_BEAM:
            raise InvalidRequestError(f"The beam keeps 1 to {MAX_BEAM} variants.")
        if not 1 <= self.proposals <= MAX_PROPOSALS:
            raise InvalidRequestError(f"Each variant proposes 1 to {MAX_PROPOSALS} variants.")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise InvalidRequestError(f"A refinement runs 1 to {MAX_ROUNDS} rounds.")
        if not 1 <= self.max_edits <= 4:
            raise InvalidRequestError("A variant makes 1 to 4 edits.")
        if self.beam * self.proposals * len(self.seeds) > MAX_CELLS:
            raise InvalidRequestError(
                f"A round would make {self.beam * self.proposals * len(self.seeds)} images; "
                f"the limit is {MAX_CELLS}. Use fewer seeds, proposals or a narrower beam."
            )
        if not self.start.subject.strip() and not self.start.free_text.strip():
            raise InvalidRequestError("Start from a recipe with a subject.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.to_dict(),
            "seeds": list(self.seeds),
            "model": self.model,
            "beam": self.beam,
            "proposals": self.proposals,
            "rounds": self.rounds,
            "max_edits": self.max_edits,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Interval:
    """Mean paired difference to the parent with its interval (`pooled_intervals`)."""

    mean: float
    low: float
    high: float


@dataclass(eq=False)
class Candidate:
    """A recipe of the run: rendered on every seed and scored (equal only to itself)."""

    id: str  # "r0", "r2.5"
    round: int
    recipe: Recipe
    prompt: str
    negative_prompt: str
    parent: str | None = None
    edits: tuple[Edit, ...] = ()
    cells: list[CellImage] = field(default_factory=list)  # one per seed, in seed order
    scores: list[float] = field(default_factory=list)
    versus_parent: Interval | None = None
    accepted: bool = False
    picked: bool = False

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")

    @property
    def images(self) -> list[Image.Image]:
        return [cell.image for cell in self.cells]

    @property
    def chosen_by(self) -> str | None:
        """How it entered the lineage: "artist" (picked), "score" (beat its parent beyond the
        interval), "start", or None (not chosen)."""
        if self.picked:
            return "artist"
        if self.accepted:
            return "score"
        return "start" if self.parent is None else None

    def describe(self) -> str:
        return "; ".join(edit.describe() for edit in self.edits) or "start"


@dataclass
class RefineRound:
    """One round: its parents, their variants, and the beam it leaves."""

    index: int
    parents: list[Candidate]
    variants: list[Candidate]
    beam: list[Candidate]
    cancelled: bool = False
    picks: list[str] = field(default_factory=list)  # the artist's picks once it was shown

    @property
    def best(self) -> Candidate:
        return self.beam[0]

    @property
    def improved(self) -> bool:
        """Whether any variant beat its parent beyond the interval, or was picked."""
        return any(c.accepted or c.picked for c in self.variants)


@dataclass(frozen=True)
class RefineProgress:
    """The round running, and the comparison's progress inside it."""

    round: int
    rounds: int
    cells: CompareProgress


class Refiner:
    """Runs a refinement round by round (`start`, then `step` per round, or `run`)."""

    def __init__(
        self,
        engine: Engine,
        spec: RefineSpec,
        target: RefineTarget,
        facets: Sequence[Facet],
        library: StyleLookup | None = None,
        *,
        on_progress: Callable[[RefineProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        spec.validate()
        self.engine = engine
        self.spec = spec
        self.target = target
        self.facets = tuple(facets)
        self.library = library
        self.on_progress = on_progress
        self.cancel = cancel
        self.rounds: list[RefineRound] = []
        self.candidates: dict[str, Candidate] = {}
        self._seen: list[str] = []
        self._guide: Guide | None = None

    @property
    def finished(self) -> bool:
        """No further round: N rounds done, nothing improved, or stopped."""
        if not self.rounds:
            return False
        last = self.rounds[-1]
        return (
            last.cancelled
            or len(self.rounds) > self.spec.rounds
            or (last.index > 0 and not last.improved)
        )

    @property
    def best(self) -> Candidate:
        return self.rounds[-1].best

    def lineage(self, candidate_id: str | None = None) -> list[Candidate]:
        """The path from the start to a candidate (default: the best), each step's parent
        first: what the lineage view shows, with each step's edits and score."""
        node = self.candidates[candidate_id] if candidate_id else self.best
        path = [node]
        while node.parent is not None:
            node = self.candidates[node.parent]
            path.append(node)
        return path[::-1]

    def start(self) -> RefineRound:
        """Round 0: the start recipe rendered on the seeds and scored."""
        if self.rounds:
            raise InvalidRequestError("This refinement has started already.")
        self._guide = self.target.guide()
        start = self._candidate("r0", 0, self.spec.start)
        cancelled = not self._render(0, [start])
        beam = [start] if start.scores else []
        round_ = RefineRound(0, [], [start], beam, cancelled)
        self.rounds.append(round_)
        return round_

    def step(self, picks: Sequence[str] = ()) -> RefineRound | None:
        """The next round from the current beam; `picks` (candidate ids of the last round)
        overrule the scores. None once the run is finished."""
        if not self.rounds:
            return self.start()
        last = self.rounds[-1]
        if last.cancelled or len(self.rounds) > self.spec.rounds:
            return None
        if picks:
            self._apply_picks(last, picks)
        elif self.finished:
            return None
        index = len(self.rounds)
        parents = list(last.beam)
        variants = self._propose(index, parents)
        if not variants:
            round_ = RefineRound(index, parents, [], parents)
            self.rounds.append(round_)
            return round_
        cancelled = not self._render(index, variants)
        done = [v for v in variants if len(v.scores) == len(self.spec.seeds)]
        differences = [np.subtract(v.scores, self.candidates[v.parent or ""].scores) for v in done]
        for variant, interval in zip(done, pooled_intervals(differences), strict=True):
            variant.versus_parent = interval
            variant.accepted = self.target.scored and interval.low > 0
        pool = parents + [v for v in done if v.accepted]
        beam = sorted(pool, key=lambda c: (-c.score, c.id))[: self.spec.beam]
        round_ = RefineRound(index, parents, variants, beam, cancelled)
        self.rounds.append(round_)
        return round_

    def run(self, judge: Callable[[RefineRound], Sequence[str]] | None = None) -> list[RefineRound]:
        """Every round until the run finishes; `judge` may pick winners after each round."""
        round_ = self.start()
        while round_ is not None:
            picks = list(judge(round_)) if judge is not None else []
            if round_.cancelled or (not picks and self.finished):
                break
            round_ = self.step(picks)
        return self.rounds

    def _apply_picks(self, last: RefineRound, picks: Sequence[str]) -> None:
        """The artist's picks lead the beam, then the best of the rest by score."""
        known = {c.id: c for c in [*last.parents, *last.variants] if c.scores}
        unknown = [p for p in picks if p not in known]
        if unknown:
            raise InvalidRequestError(f"There is no variant {unknown[0]!r} in the last round.")
        chosen = [known[p] for p in dict.fromkeys(picks)]
        for candidate in chosen:
            candidate.picked = True
        last.picks = [c.id for c in chosen]
        rest = [c for c in last.beam if c not in chosen]
        last.beam = (chosen + rest)[: max(self.spec.beam, len(chosen))]

    def _propose(self, index: int, parents: list[Candidate]) -> list[Candidate]:
        variants = []
        for parent in parents:
            rng = random.Random(f"{self.spec.seed}/{index}/{parent.id}")
            proposed = propose_variants(
                parent.recipe,
                self.facets,
                rng,
                self.spec.proposals,
                guide=self._guide,
                max_edits=self.spec.max_edits,
                seen=self._seen,
                greedy=self._guide is not None,
            )
            for variant in proposed:
                number = len(variants) + 1
                candidate = self._candidate(f"r{index}.{number}", index, variant.recipe)
                candidate.parent, candidate.edits = parent.id, variant.edits
                variants.append(candidate)
        return variants

    def _candidate(self, id_: str, index: int, recipe: Recipe) -> Candidate:
        composed = compose_prompt(recipe, self.library)
        candidate = Candidate(id_, index, recipe, composed.positive, composed.negative)
        self.candidates[id_] = candidate
        self._seen.append(recipe_key(recipe))
        return candidate

    def _render(self, index: int, candidates: list[Candidate]) -> bool:
        """Render and score `candidates` on the seeds as one comparison; False on Stop."""
        plan = ComparePlan(
            tuple(CompareVariant(c.id, c.prompt, c.negative_prompt) for c in candidates),
            self.spec.seeds,
            self.spec.settings,
            self.spec.model,
        )

        def report(progress: CompareProgress) -> None:
            if self.on_progress is not None:
                self.on_progress(RefineProgress(index, self.spec.rounds, progress))

        run = run_plan(self.engine, plan, on_progress=report, cancel=self.cancel)
        for cell in run.cells:  # grid order: seed, then variant
            candidates[cell.cell.variant_index].cells.append(cell)
        complete = [c for c in candidates if len(c.cells) == len(self.spec.seeds)]
        images = [image for c in complete for image in c.images]
        scores = self.target.score(images) if images else []
        for position, candidate in enumerate(complete):
            per_seed = len(self.spec.seeds)
            candidate.scores = scores[position * per_seed : (position + 1) * per_seed]
        return not run.cancelled


def pooled_intervals(differences: Sequence[np.ndarray]) -> list[Interval]:
    """For each variant's per-seed differences to its parent, the mean with a t interval
    whose spread is pooled over the whole round: a variant scored on a few seeds cannot say
    how noisy its own difference is, the round's variants together can. With one seed (no
    spread to pool) the interval is the mean itself."""
    pairs = [np.asarray(d, dtype=float) for d in differences]
    freedom = sum(max(d.size - 1, 0) for d in pairs)
    spread = quantile = 0.0
    if freedom > 0:
        squares = sum(float(((d - d.mean()) ** 2).sum()) for d in pairs if d.size)
        spread = (squares / freedom) ** 0.5
        quantile = float(stats.t.ppf(1 - (1 - CONFIDENCE) / 2, freedom))
    intervals = []
    for d in pairs:
        mean = float(d.mean()) if d.size else float("nan")
        half = quantile * spread / d.size**0.5 if d.size else float("nan")
        intervals.append(Interval(mean, mean - half, mean + half))
    return intervals
