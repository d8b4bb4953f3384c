"""`python app.py refine --target IMAGE | --target-text TEXT --prompt TEXT --rounds N`: climb
from a start prompt toward a target picture (CLIP image–image) or intent (CLIP text–image) on
shared seeds (`--picks "r1.2; r2.1"` replays the artist's picks, with a target or alone),
each round saved in the gallery as a "refine" experiment with its lineage; print each round's
best and the path from the start to the best."""

from __future__ import annotations

import argparse
import sys

from engine.errors import EngineError
from gallery.errors import GalleryError
from ui.cli.errors import CommandError
from ui.cli.interrogate import read_picture
from ui.forms import FormError
from ui.refine.form import DEFAULTS, RefineForm
from ui.settings import gallery_dir, resolve_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `refine` sub-command."""
    parser = sub.add_parser(
        "refine",
        help="refine a prompt toward a target picture or text, round by round",
        description="Each round proposes variants of the best recipes, renders them on the "
        "same seeds, scores them with CLIP and keeps the best; stops after N rounds or when "
        "no variant beats its parent beyond the round's confidence interval.",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target", metavar="IMAGE", help="a target picture (PNG, JPEG, WebP)")
    target.add_argument("--target-text", metavar="TEXT", help="the target in words")
    parser.add_argument(
        "--picks",
        default="",
        help="the artist's picks to replay: after round 1; after round 2 (e.g. 'r1.2; r2.1'); "
        "alone, they are the target",
    )
    parser.add_argument("--prompt", required=True, help="the start prompt, e.g. 'a shape'")
    parser.add_argument("--rounds", type=int, default=DEFAULTS["rounds"])
    parser.add_argument("--beam", type=int, default=DEFAULTS["beam"], help="recipes kept")
    parser.add_argument(
        "--proposals", type=int, default=DEFAULTS["proposals"], help="variants per recipe"
    )
    parser.add_argument("--seeds", default=DEFAULTS["seeds"], help="shared seeds, e.g. 1,2")
    parser.add_argument("--run-seed", type=int, default=0, help="seeds the proposals")
    parser.add_argument("--model", default=DEFAULTS["model"])
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    parser.add_argument("--guidance", type=float, default=DEFAULTS["guidance_scale"])
    parser.add_argument("--width", type=int, default=DEFAULTS["width"])
    parser.add_argument("--height", type=int, default=DEFAULTS["height"])
    parser.add_argument("--name", default="", help="the run's name in the gallery")
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"])
    parser.set_defaults(handler=run)


def read_form(args: argparse.Namespace) -> RefineForm:
    """The flags as the form the page and the API read too; `CommandError` on bad input."""
    if not (args.target or args.target_text or args.picks.strip()):
        raise CommandError("Give a target: --target IMAGE, --target-text TEXT or --picks.")
    picture = read_picture(args.target) if args.target else None
    values = {
        "prompt": args.prompt,
        "target_text": args.target_text or "",
        "seeds": args.seeds,
        "model": args.model,
        "steps": args.steps,
        "guidance_scale": args.guidance,
        "width": args.width,
        "height": args.height,
        "rounds": args.rounds,
        "beam": args.beam,
        "proposals": args.proposals,
        "run_seed": args.run_seed,
        "name": args.name,
        "picks": args.picks,
    }
    try:
        return RefineForm.read(values, picture)
    except FormError as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run the refinement, print each round's best and the lineage."""
    from engine.refine import RefineRound
    from gallery.owners import LOCAL_OWNER
    from gallery.store import GalleryStore
    from ui.hosting.hosted_engine import HostedEngine
    from ui.refine.readout import candidate_line
    from ui.refine.runner import run_refinement, shared_interrogator
    from ui.runtime import build_engine

    form = read_form(args)
    data_dir = resolve_data_dir(args.data_dir)

    def show(round_: RefineRound, experiment_id: int) -> None:
        print(f"round {round_.index}: experiment {experiment_id}", file=sys.stderr)
        for candidate in round_.variants:
            print(f"  {candidate_line(candidate)}", file=sys.stderr)
        for parent in (p for p in round_.parents if p.picked):
            print(f"  went on from {parent.id} (picked)", file=sys.stderr)
        print(f"  best {round_.best.id} {round_.best.score:.2f}", file=sys.stderr)

    try:
        engine = HostedEngine(build_engine(data_dir, args.device, args.dtype))
        interrogator = shared_interrogator(data_dir)
        with GalleryStore.open(gallery_dir(data_dir)) as opened:
            store = opened.for_owner(LOCAL_OWNER)
            outcome = run_refinement(engine, store, form, interrogator, on_round=show)
    except (EngineError, GalleryError, FormError) as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # device or dtype flags
        raise CommandError(str(exc)) from None
    if not interrogator.scorer.meaningful:
        print(f"note: scores come from a {interrogator.scorer.name}; not meaningful.",
              file=sys.stderr)  # fmt: skip
    for step in outcome.refiner.lineage():
        print(f"{step.id}\t{step.score:.2f}\t{step.describe()}\t{step.prompt}")
    return 0
