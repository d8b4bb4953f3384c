"""`python app.py compare --variant TEXT --variant TEXT ... --seeds 1,2,3 --out DIR`: run an A/B
experiment headless, record it in the gallery, write its contact sheet and one PNG per cell
(settings embedded) to DIR, and print the experiment id. `--ablate PROMPT` instead runs the
prompt with each term removed and prints the terms ranked by how much the image changed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError
from gallery.errors import GalleryError
from ui.cli.errors import CommandError
from ui.cli.model_flags import add_model_flags, model_values
from ui.cli.paths import out_folder
from ui.forms import CompareForm, FormError
from ui.settings import gallery_dir, models_dir, resolve_data_dir

if TYPE_CHECKING:
    from ui.compare.view import ExperimentView


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `compare` sub-command."""
    parser = sub.add_parser(
        "compare",
        help="compare prompt variants on shared seeds (saved as an experiment)",
        description="Run prompt variants on the same seeds as one experiment: batched "
        "generation, a contact sheet, one PNG per cell, CLIP scores, all kept in the gallery.",
    )
    parser.add_argument(
        "--variant", action="append", default=[], metavar="TEXT", help="a prompt (repeat, 2-8)"
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="TEXT",
        help="labels for the variants in order (default: the prompt)",
    )
    parser.add_argument(
        "--ablate", metavar="PROMPT", help="instead of variants: this prompt minus each term"
    )
    parser.add_argument("--negative", default="", help="negative prompt for every variant")
    parser.add_argument("--seeds", default="", help="comma-separated seeds, e.g. 1,2,3")
    parser.add_argument(
        "--random-seeds", type=int, default=2, metavar="N", help="N random seeds if no --seeds"
    )
    parser.add_argument(
        "--axis", default="", help="a second axis: cfg=5,7,9 | steps= | scheduler= | size= | model="
    )
    parser.add_argument("--model", default="demo", help="hub id, folder, checkpoint or 'demo'")
    add_model_flags(parser)
    parser.add_argument("--batch-size", type=int, default=8, help="images per pipeline call")
    parser.add_argument("--name", default="", help="experiment name (default: the labels)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"])
    parser.add_argument(
        "--out", type=out_folder, default="outputs", help="folder for the contact sheet and PNGs"
    )
    parser.set_defaults(handler=run)


def read_form(args: argparse.Namespace) -> CompareForm:
    """The flags as the form the page and the API read too; `CommandError` on bad input."""
    if args.ablate is not None and args.variant:
        raise CommandError("Give either --variant prompts or --ablate PROMPT, not both.")
    if args.ablate is None and not 2 <= len(args.variant) <= 8:
        raise CommandError("Give 2 to 8 --variant prompts.")
    if len(args.label) > len(args.variant):
        raise CommandError("There are more --label values than --variant prompts.")
    values = {
        "negative_prompt": args.negative,
        "seeds": args.seeds,
        "random_seeds": args.random_seeds,
        "axis": args.axis,
        "model": args.model,
        **model_values(args, models_dir(resolve_data_dir(args.data_dir))),
        "name": args.name,
        "max_batch": args.batch_size,
    }
    if args.ablate is not None:
        values["ablate"] = args.ablate
    else:
        values |= {"variants": args.variant, "labels": args.label}
    try:
        return CompareForm.read(values)
    except FormError as exc:
        raise CommandError(str(exc)) from None


def write_files(view: ExperimentView, out: Path) -> None:
    """The contact sheet and one PNG per cell (a copy of the gallery's file) under `out`."""
    from gallery.experiment_export import cell_file_name
    from ui.compare.contact_sheet import contact_sheet_png

    out.mkdir(parents=True, exist_ok=True)
    (out / "contact_sheet.png").write_bytes(contact_sheet_png(view))
    for (row, _column), cell in sorted(view.cells.items()):
        if cell.image_path is not None:
            name = cell_file_name(row, cell.variant_index, cell.axis_index, cell.generation.seed)
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cell.image_path, target)


def run(args: argparse.Namespace) -> int:
    """Run the experiment, write the files, print the experiment id."""
    from gallery.owners import LOCAL_OWNER
    from gallery.store import GalleryStore
    from ui.compare.runner import run_experiment
    from ui.compare.view import load_view
    from ui.hosting.hosted_engine import HostedEngine
    from ui.runtime import build_engine

    data_dir = resolve_data_dir(args.data_dir)
    out = Path(args.out)
    form = read_form(args)
    try:
        engine = HostedEngine(build_engine(data_dir, args.device, args.dtype))
        with GalleryStore.open(gallery_dir(data_dir)) as opened:
            store = opened.for_owner(LOCAL_OWNER)
            outcome = run_experiment(engine, store, form)
            view = load_view(store, outcome.experiment.id)
            try:
                write_files(view, out)
            except OSError as exc:
                raise CommandError(
                    f"Cannot write to {out}: {exc.strerror or type(exc).__name__}; "
                    f"the experiment is kept in the gallery as {outcome.experiment.id}."
                ) from None
    except (EngineError, GalleryError) as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # device or dtype flags
        raise CommandError(str(exc)) from None
    if not outcome.scores_meaningful:
        print(
            f"note: CLIP scores come from a {outcome.scorer_name} and are not meaningful.",
            file=sys.stderr,
        )
    print(f"wrote {out / 'contact_sheet.png'} and {len(view.cells)} cell PNG(s)", file=sys.stderr)
    if form.kind == "ablation":
        for impact in view.ablation():
            print(
                f"{impact.mean_distance:7.4f} ± {impact.spread:.4f}  {impact.term}",
                file=sys.stderr,
            )
    print(f"experiment {outcome.experiment.id}")
    return 0
