"""`python app.py gallery ...`: search, show, import, export and delete what the gallery keeps.

    python app.py gallery search "fox" --min-rating 3 --limit 20
    python app.py gallery show 12
    python app.py gallery import ~/Pictures/a1111-outputs
    python app.py gallery export 12 15 --out foxes.zip
    python app.py gallery delete 12
    python app.py gallery check            # --delete-ours also deletes our unrecorded images
    python app.py gallery rebuild          # re-create lost records from the images' metadata
    python app.py gallery experiments
    python app.py gallery scores --limit 10

The database is `DATABASE_URL` when set, else `database/atelier.db` in the gallery folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from gallery.errors import GalleryError
from gallery.experiment_state import FINISHED
from gallery.owners import EVERY_OWNER, LOCAL_OWNER
from gallery.records import GalleryQuery, GenerationSummary
from gallery.store import GalleryStore
from gallery.views import AdminGallery, OwnerGallery
from ui.cli.errors import CommandError
from ui.settings import gallery_dir, resolve_data_dir

PROMPT_WIDTH = 70


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `gallery` sub-command and its actions."""
    parser = sub.add_parser(
        "gallery",
        help="search, show, import, export or delete generations kept in the gallery",
        description="Work with the gallery (the SQLite file in the data folder, or "
        "DATABASE_URL when set).",
    )
    whose = parser.add_mutually_exclusive_group()
    whose.add_argument(
        "--owner",
        help="act on this owner's gallery (e.g. user:ada, hf:name; default: the local user)",
    )
    whose.add_argument(
        "--all-owners", action="store_true", help="search, show, export or delete across owners"
    )
    actions = parser.add_subparsers(dest="gallery_action", metavar="ACTION", required=True)

    search = actions.add_parser(
        "search", aliases=["list"], help="list generations, newest first (also: list)"
    )
    search.add_argument("text", nargs="?", default="", help="words that must be in the prompt")
    search.add_argument("--model", help="only this model id")
    search.add_argument("--tag", help="only generations with this tag")
    search.add_argument(
        "--min-rating", type=int, choices=range(6), metavar="N", help="only rated N (0-5) or better"
    )
    search.add_argument("--favourite", "--favorite", action="store_true", help="only favourites")
    search.add_argument("--seed", type=int, help="only this seed")
    search.add_argument("--limit", type=int, default=20, help="how many to list (default 20)")
    search.add_argument("--page", type=int, default=1, help="page number, of --limit each")
    search.add_argument("--json", action="store_true", help="print a JSON list")

    show = actions.add_parser("show", help="everything about one generation")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="print a JSON document")

    import_ = actions.add_parser(
        "import",
        help="import a folder of PNG, JPEG and WebP images, or one image (A1111, Fooocus, "
        "ComfyUI, ...)",
    )
    import_.add_argument(
        "folder", help="folder to read PNG, JPEG and WebP files from, or one such file"
    )
    import_.add_argument("--no-recursive", action="store_true", help="skip sub-folders")

    export = actions.add_parser("export", help="write images and their settings to a zip")
    export.add_argument("ids", type=int, nargs="+", metavar="ID")
    export.add_argument("--out", required=True, help="zip file to write")

    reproduce = actions.add_parser(
        "reproduce",
        help="regenerate a generation from its record and compare the pixels",
        description="Regenerate from the stored settings and say whether the pixels are "
        "identical, within 1 level, or different (and why). Exit code 1 when different.",
    )
    reproduce.add_argument("id", type=int)
    reproduce.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    reproduce.add_argument(
        "--dtype", choices=["fp32", "fp16", "bf16"], help="default: fp16 on GPU, fp32 on CPU"
    )

    delete = actions.add_parser("delete", help="delete generations and their files")
    delete.add_argument("ids", type=int, nargs="+", metavar="ID")

    check = actions.add_parser("check", help="walk all files: remove orphans, flag missing images")
    check.add_argument(
        "--delete-ours",
        action="store_true",
        help="also delete unrecorded images that carry our metadata (kept by default)",
    )
    actions.add_parser(
        "rebuild", help="re-create records for stored images from their own metadata"
    )

    experiments = actions.add_parser(
        "experiments", help="list experiments with their ids and variant labels"
    )
    experiments.add_argument("--json", action="store_true", help="print a JSON list")

    scores = actions.add_parser("scores", help="generations sorted by a score (CLIP by default)")
    scores.add_argument("--metric", default="clip", help="which score (default: clip)")
    scores.add_argument("--lowest", action="store_true", help="lowest first")
    scores.add_argument("--limit", type=int, default=20, help="how many to list (default 20)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Open the gallery and run the chosen action."""

    folder = gallery_dir(resolve_data_dir(args.data_dir))
    action = {
        "search": _search,
        "list": _search,
        "show": _show,
        "import": _import,
        "export": _export,
        "delete": _delete,
        "check": _check,
        "rebuild": _rebuild,
        "experiments": _experiments,
        "scores": _scores,
        "reproduce": _reproduce,
    }[args.gallery_action]
    rebuilding = args.gallery_action == "rebuild"
    try:
        with GalleryStore.open(folder, allow_unrecorded_images=rebuilding) as store:
            args.recorded_at_open = store.last_sweep.recorded_deferred
            if args.gallery_action in ("check", "rebuild"):
                return action(store.admin(), args)  # maintenance walks every owner's files
            owner = EVERY_OWNER if args.all_owners else args.owner or LOCAL_OWNER
            return action(store.for_owner(owner), args)
    except GalleryError as exc:
        raise CommandError(str(exc)) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, indent=2)


def summary_line(item: GenerationSummary) -> str:
    """One line per generation: id, date, seed, model, rating, favourite, prompt."""
    prompt = " ".join(item.prompt.split())
    if len(prompt) > PROMPT_WIDTH:
        prompt = prompt[: PROMPT_WIDTH - 3] + "..."
    parts = [
        f"#{item.id}",
        item.created_at.strftime("%Y-%m-%d %H:%M"),
        f"seed {item.seed}" if item.seed is not None else "seed -",
        item.model_id or "-",
    ]
    if item.rating is not None:
        parts.append(f"rated {item.rating}")
    if item.favourite:
        parts.append("favourite")
    return "  ".join([*parts, prompt])


def _search(store: OwnerGallery, args: argparse.Namespace) -> int:
    if args.limit < 1 or args.page < 1:
        raise GalleryError("--limit and --page must be 1 or more.")
    query = GalleryQuery(
        text=args.text,
        model_id=args.model,
        tag=args.tag,
        min_rating=args.min_rating,
        favourite=True if args.favourite else None,
        seed=args.seed,
        page=args.page,
        page_size=min(args.limit, 1000),
    )
    page = store.search(query)
    if args.json:
        print(_dumps([item._asdict() for item in page.items]))
        return 0
    for item in page.items:
        print(summary_line(item))
    total = store.count(query)
    shown = len(page.items)
    print(f"{shown} shown of {total} matching" if shown else "no matches", file=sys.stderr)
    return 0


def _show(store: OwnerGallery, args: argparse.Namespace) -> int:
    record = store.get(args.id)
    if args.json:
        print(_dumps(asdict(record)))
        return 0
    rows = [
        ("id", record.id),
        ("created", record.created_at.isoformat(timespec="seconds")),
        ("prompt", record.prompt),
        ("negative prompt", record.negative_prompt),
        ("seed", record.seed),
        ("steps", record.steps),
        ("CFG scale", record.guidance_scale),
        ("size", f"{record.width}x{record.height}"),
        ("scheduler", record.scheduler),
        ("model", record.model_id),
        ("model hash", record.model_hash),
        ("rating", record.rating),
        ("favourite", "yes" if record.favourite else "no"),
        ("tags", ", ".join(record.tags)),
        ("parent", record.parent_id),
        ("notes", record.notes),
    ]
    rows.extend(("image", f"{i.path}{' (missing)' if i.missing else ''}") for i in record.images)
    for label, value in rows:
        if value not in (None, ""):
            print(f"{label + ':':17}{value}")
    return 0


def _reproduce(store: OwnerGallery, args: argparse.Namespace) -> int:
    from engine.errors import EngineError
    from ui.gallery_tab.reproduce import reproduce
    from ui.hosting.hosted_engine import HostedEngine
    from ui.runtime import build_engine

    record = store.get(args.id)
    try:
        engine = HostedEngine(
            build_engine(resolve_data_dir(args.data_dir), args.device, args.dtype)
        )
        report = reproduce(engine, record)
    except (EngineError, ValueError) as exc:  # ValueError: the device or dtype flags
        raise CommandError(str(exc)) from None
    print(report.describe())
    return 1 if report.verdict == "different" else 0


def _import(store: OwnerGallery, args: argparse.Namespace) -> int:
    report = store.import_folder(Path(args.folder), recursive=not args.no_recursive)
    for path, found in report.found:
        print(f"imported: {path}: {found}")
    for path in report.duplicates:
        print(f"skipped: {path}: already in the gallery")
    for path, note in report.notes:
        print(f"note: {path}: {note}", file=sys.stderr)
    for path, reason in report.failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    by_format = ", ".join(f"{count} {name}" for name, count in report.formats.items())
    print(
        f"imported {len(report.imported)}"
        + (f" ({by_format})" if by_format else "")
        + f", skipped {len(report.duplicates)} already in the gallery, "
        f"{len(report.failed)} failed, {len(report.without_metadata)} without settings"
    )
    return 0


def _export(store: OwnerGallery, args: argparse.Namespace) -> int:
    out = store.export_zip(args.ids, Path(args.out))
    print(f"wrote {len(set(args.ids))} generation(s) to {out}")
    return 0


def _delete(store: OwnerGallery, args: argparse.Namespace) -> int:
    count = store.delete(args.ids)
    print(f"deleted {count} generation(s)")
    return 0


def _rebuild(store: AdminGallery, args: argparse.Namespace) -> int:
    report = store.rebuild(owner=args.owner or LOCAL_OWNER)
    print(f"re-created {len(report.imported)} record(s), {len(report.failed)} failed")
    for path, reason in report.failed:
        print(f"failed: {path.name}: {reason}", file=sys.stderr)
    return 0


def _check(store: AdminGallery, args: argparse.Namespace) -> int:
    report = store.sweep(full=True, delete_ours=args.delete_ours)
    # Opening the gallery already recorded what waited for the database; say so here.
    recorded = report.recorded_deferred + getattr(args, "recorded_at_open", 0)
    if recorded:
        print(f"recorded {recorded} image(s) made while the database was away")
    print(
        f"removed {len(report.removed_files)} orphan file(s) and "
        f"{len(report.removed_temp_files)} temporary file(s); "
        f"{len(report.missing_images)} image(s) missing on disk"
    )
    if report.kept_unrecorded:
        print(
            f"kept {len(report.kept_unrecorded)} unrecorded image(s) made by this app: "
            "`gallery rebuild` records them again, `gallery check --delete-ours` deletes them",
            file=sys.stderr,
        )
    for image_id in report.missing_images:
        print(f"missing: image {image_id}", file=sys.stderr)
    return 0


def _experiments(store: OwnerGallery, args: argparse.Namespace) -> int:
    experiments = store.list_experiments()
    if args.json:
        print(
            _dumps(
                [
                    {
                        "id": e.id,
                        "name": e.name,
                        "kind": e.kind,
                        "created_at": e.created_at,
                        "seeds": list(e.seeds),
                        "axis": e.axis,
                        "variants": [v.name for v in e.variants],
                        "winner": e.winner.name if e.winner else None,
                        "images": len(e.cells),
                        "state": e.state.status,
                        "cells_expected": e.state.expected,
                    }
                    for e in experiments
                ]
            )
        )
        return 0
    for experiment in experiments:
        labels = " | ".join(v.name for v in experiment.variants)
        state = experiment.state
        made = f"{len(experiment.cells)} image(s)" if state.status == FINISHED else str(state)
        print(
            f"#{experiment.id}  {experiment.created_at.strftime('%Y-%m-%d %H:%M')}  "
            f"{experiment.kind}  {made}  {labels}"
        )
    if not experiments:
        print("no experiments yet", file=sys.stderr)
    return 0


def _scores(store: OwnerGallery, args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise GalleryError("--limit must be from 1 to 1000.")
    ranked = store.ranked_by_score(args.metric, limit=args.limit, descending=not args.lowest)
    for score in ranked:
        record = store.get(score.generation_id)
        note = "" if score.meaningful else " (not meaningful)"
        prompt = " ".join(record.prompt.split())[:PROMPT_WIDTH]
        print(f"#{record.id}  {args.metric} {score.value:8.3f}{note}  seed {record.seed}  {prompt}")
    if not ranked:
        print(f"no generation has a {args.metric} score yet", file=sys.stderr)
    return 0
