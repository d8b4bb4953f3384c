"""A refinement as the page, the API and the command line ask for it (`RefineForm.read`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from engine.compare_plan import parse_seeds
from engine.errors import EngineError
from engine.request import GenerationRequest, validate_settings
from prompts.recipe import Recipe, RecipeError
from ui.forms import FormError, number, whole_number
from ui.hosting.mode import Limits

if TYPE_CHECKING:  # the engine's refinement loads torch: only when a form is read
    from engine.refine import RefineSpec

TARGET_KINDS = ("image", "text", "picks")  # picks: nothing scored, the artist picks
PICK_ID = re.compile(r"r\d{1,3}(\.\d{1,4})?")
REFINE_INPUTS = (
    "prompt",
    "recipe",
    "target_kind",
    "target_text",
    "seeds",
    "model",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "rounds",
    "beam",
    "proposals",
    "run_seed",
    "name",
    "picks",
)
DEFAULTS: dict[str, Any] = {
    "seeds": "101, 202",
    "model": "sketch",
    "steps": 20,
    "guidance_scale": 7.0,
    "width": 128,
    "height": 128,
    "rounds": 3,
    "beam": 2,
    "proposals": 4,
    "run_seed": 0,
}


@dataclass(frozen=True)
class RefineForm:
    """What decides a run (`spec`), what it climbs toward, and its name."""

    spec: RefineSpec
    target_kind: str
    target_text: str = ""
    target_image: Image.Image | None = None
    name: str = ""
    picks: tuple[tuple[str, ...], ...] = ()  # the artist's picks after round 1, 2, ... (replay)

    def picks_after(self, index: int) -> tuple[str, ...]:
        """The picks given for after round `index` (none for the start, round 0)."""
        return self.picks[index - 1] if 1 <= index <= len(self.picks) else ()

    @classmethod
    def read(cls, values: Mapping[str, Any], target_image: Image.Image | None = None) -> RefineForm:
        """The form from loosely typed values (`REFINE_INPUTS`; a missing one takes
        `DEFAULTS`); `FormError` with one sentence naming the setting. The start is
        `recipe` (a Builder recipe as a dict) or else `prompt` as the subject. The target is
        `target_image`, else `target_text`, else the artist's `picks` alone, unless
        `target_kind` names one. `picks` replays the artist's picks: "r1.2; r2.1" (after round
        1, after round 2; commas between picks of one round; empty: the score decides)."""
        from engine.refine import RefineSpec

        unknown = set(values) - set(REFINE_INPUTS)
        if unknown:
            raise TypeError(f"RefineForm reads no {', '.join(sorted(unknown))}")
        v = {**DEFAULTS, **{k: x for k, x in values.items() if x is not None and x != ""}}
        text = str(v.get("target_text") or "").strip()
        kind = str(v.get("target_kind") or "").strip().lower()
        picks = parse_picks(str(v.get("picks") or ""))
        if not kind:
            kind = "image" if target_image is not None else "text" if text or not picks else "picks"
        if kind not in TARGET_KINDS:
            raise FormError(f"The target is one of {', '.join(TARGET_KINDS)}, not {kind!r}.")
        if kind == "image" and target_image is None:
            raise FormError("Choose a target picture, or give the target in words.")
        if kind == "text" and not text:
            raise FormError("Describe the target in words, or choose a target picture.")
        try:
            spec = RefineSpec(
                start=_start(v),
                seeds=tuple(parse_seeds(str(v["seeds"]))),
                settings=GenerationRequest(
                    "",
                    steps=whole_number(v["steps"], "Steps"),
                    guidance_scale=number(v["guidance_scale"], "CFG scale"),
                    width=whole_number(v["width"], "Width"),
                    height=whole_number(v["height"], "Height"),
                ),
                model=str(v["model"]).strip() or DEFAULTS["model"],
                beam=whole_number(v["beam"], "Beam"),
                proposals=whole_number(v["proposals"], "Proposals"),
                rounds=whole_number(v["rounds"], "Rounds"),
                seed=whole_number(v["run_seed"], "Run seed"),
            )
            spec.validate()
            validate_settings(spec.settings)
        except FormError:
            raise
        except (EngineError, RecipeError, ValueError) as exc:
            raise FormError(str(exc)) from None
        return cls(spec, kind, text if kind == "text" else "",
                   target_image if kind == "image" else None,
                   str(v.get("name") or "").strip(), picks)  # fmt: skip

    @property
    def images_per_round(self) -> int:
        """The most images one round renders (every beam member proposes in full)."""
        return self.spec.beam * self.spec.proposals * len(self.spec.seeds)

    def check_limits(self, limits: Limits | None) -> None:
        """A public app's bounds on rounds, beam and proposals (`FormError`)."""
        if limits is None:
            return
        spec = self.spec
        for value, most, what in (
            (spec.rounds, limits.max_refine_rounds, "rounds"),
            (spec.beam, limits.max_refine_beam, "variants in the beam"),
            (spec.proposals, limits.max_refine_proposals, "proposals per variant"),
        ):
            if value > most:
                raise FormError(f"At most {most} {what} are allowed here.")


def parse_picks(text: str) -> tuple[tuple[str, ...], ...]:
    """ "r1.2; r2.1, r2.3" -> (("r1.2",), ("r2.1", "r2.3")); `FormError` for a word that is
    not a variant id."""
    if not text.strip():
        return ()
    rounds = tuple(
        tuple(p.strip() for p in part.split(",") if p.strip()) for part in text.split(";")
    )
    for pick in (p for round_ in rounds for p in round_):
        if not PICK_ID.fullmatch(pick):
            raise FormError(f"A pick is a variant's id such as r1.2, not {pick[:40]!r}.")
    return rounds


def _start(v: Mapping[str, Any]) -> Recipe:
    recipe = v.get("recipe")
    if isinstance(recipe, Mapping) and recipe:
        return Recipe.from_dict(dict(recipe))
    prompt = str(v.get("prompt") or "").strip()
    if not prompt:
        raise FormError("Give a start prompt (for example 'a shape').")
    return Recipe(subject=prompt)
