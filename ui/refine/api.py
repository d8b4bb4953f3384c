"""Named endpoints for `gradio_client`: `interrogate_image` (a picture in, the recipe as
Builder fields with each term's score out) and `refine` (a start prompt and a target picture
or text in, and the artist's picks to replay, "r1.2; r2.1"; the rounds, their saved
experiments and the lineage out). Both take the picture on a hidden upload component, which
accepts images only; the run acts for the caller's own gallery and, in public mode, within
the hosting limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import gradio as gr

from engine.errors import EngineError
from engine.interrogate import Interrogator
from engine.refine import Candidate
from gallery.errors import GalleryError
from gallery.views import OwnerGallery
from ui.endpoints import Param, keyword_endpoint
from ui.forms import FormError
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import shown
from ui.refine import handlers as h
from ui.refine.form import DEFAULTS
from ui.refine.runner import interrogate, run_refinement

IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp"]
NUMBERS = ("rounds", "beam", "proposals", "steps", "width", "height", "run_seed")


def interrogate_image(interrogator: Callable[[], Interrogator], image: Any) -> dict[str, Any]:
    """The picture's recipe: Builder fields, each term's score and probability, the CLIP."""
    return interrogate(interrogator(), h.picture(image)).to_dict()


def refine(
    engine: HostedEngine,
    store: OwnerGallery,
    interrogator: Callable[[], Interrogator],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """Run a refinement to the end (`REFINE_PARAMS` by name); its rounds, experiments and
    the lineage as JSON."""
    values = dict(values)
    target = values.pop("target_image", None)
    form = h.read_form(values, target)
    try:
        outcome = run_refinement(engine, store, form, interrogator())
    except (EngineError, GalleryError, FormError) as exc:
        raise gr.Error(shown(exc)) from None
    return {
        "experiments": list(outcome.experiments),
        "cancelled": outcome.cancelled,
        "rounds": [
            {
                "index": r.index,
                "best": r.best.id,
                "parents": [c.id for c in r.parents],
                "picks": list(r.picks),
                "variants": [_candidate(c) for c in r.variants if c.scores],
            }
            for r in outcome.refiner.rounds
        ],
        "lineage": [_candidate(c) for c in outcome.refiner.lineage()],
    }


def _candidate(c: Candidate) -> dict[str, Any]:
    interval = c.versus_parent
    return {
        "id": c.id,
        "parent": c.parent,
        "prompt": c.prompt,
        "recipe": c.recipe.to_dict(),
        "edits": c.describe(),
        "score": c.score,
        "scores": list(c.scores),
        "versus_parent": None if interval is None else [interval.mean, interval.low, interval.high],
        "accepted": c.accepted,
        "picked": c.picked,
        "chosen_by": c.chosen_by,
    }


TEXTS = ("prompt", "target_text", "seeds", "model", "picks")
REFINE_FIELDS = (*TEXTS, *NUMBERS)
REFINE_PARAMS = (
    Param("target_image", str | None, None),
    *(Param(name, str, str(DEFAULTS.get(name, ""))) for name in TEXTS),
    *(Param(name, int, DEFAULTS[name]) for name in NUMBERS),
)


def register_refine_api(
    engine: HostedEngine, store: OwnerGallery, interrogator: Callable[[], Interrogator]
) -> None:
    """Add both endpoints to the current Blocks (their inputs on hidden components)."""
    with gr.Column(visible=False, elem_id="api-only-refine"):
        picture = gr.File(label="image", type="filepath", file_types=IMAGE_TYPES)
        read = gr.JSON(label="recipe")
        read_trigger = gr.Button("interrogate_image")
        target = gr.File(label="target_image", type="filepath", file_types=IMAGE_TYPES)
        inputs = [gr.Textbox(label=name, value=str(DEFAULTS.get(name, ""))) for name in
                  TEXTS]  # fmt: skip
        inputs += [gr.Number(label=name, value=DEFAULTS[name]) for name in NUMBERS]
        ran = gr.JSON(label="refinement")
        refine_trigger = gr.Button("refine")
    read_trigger.click(
        partial(interrogate_image, interrogator),
        inputs=picture,
        outputs=read,
        api_name="interrogate_image",
        api_description="Read a picture into a Builder recipe with each term's CLIP score.",
        show_progress="hidden",
    )
    refine_trigger.click(
        keyword_endpoint(
            "refine",
            REFINE_PARAMS,
            partial(refine, engine, store, interrogator),
            returns=dict[str, Any],
            doc="Refine a start prompt toward a target picture or text, round by round.",
        ),
        inputs=[target, *inputs],
        outputs=ran,
        api_name="refine",
        api_description="Refine a start prompt toward a target picture or text, round by round.",
        show_progress="hidden",
    )
