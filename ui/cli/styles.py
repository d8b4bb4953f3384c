"""`python app.py styles ...`: import and export style files (A1111 styles.csv, Fooocus JSON).

    python app.py styles import ~/stable-diffusion-webui/styles.csv --dry-run
    python app.py styles import sdxl_styles_sai.json --category SAI
    python app.py styles export my-styles.csv --user-only

Imported styles become your styles (kept in the gallery database, as the web app keeps them);
a style with the name of a built-in one replaces it. `import` first prints what it will add or
replace, and with `--dry-run` stops there.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from gallery.errors import GalleryError
from gallery.owners import LOCAL_OWNER
from gallery.store import GalleryStore
from prompts.style_import import apply_style_import, plan_style_import, read_style_file
from prompts.styles import (
    IMPORTED_CATEGORY,
    StyleError,
    StyleLibrary,
    write_a1111_csv,
    write_fooocus_json,
)
from ui.cli.errors import CommandError
from ui.settings import gallery_dir, resolve_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `styles` sub-command and its actions."""
    parser = sub.add_parser(
        "styles",
        help="import or export style files (A1111 styles.csv, Fooocus style JSON)",
        description="Import an A1111 styles.csv or a Fooocus style JSON as your styles, or "
        "export styles to either format (chosen by the file's suffix: .csv or .json).",
    )
    actions = parser.add_subparsers(dest="styles_action", metavar="ACTION", required=True)
    import_ = actions.add_parser("import", help="add the styles of a .csv or .json file")
    import_.add_argument("file", help="an A1111 styles.csv or a Fooocus style .json")
    import_.add_argument(
        "--category",
        default=IMPORTED_CATEGORY,
        help=f"category for styles without one (default {IMPORTED_CATEGORY!r})",
    )
    import_.add_argument(
        "--dry-run", action="store_true", help="only show what would be added or replaced"
    )
    export = actions.add_parser("export", help="write styles to a .csv (A1111) or .json (Fooocus)")
    export.add_argument("file", help="the file to write; its suffix chooses the format")
    export.add_argument("--user-only", action="store_true", help="only your own styles")
    export.add_argument(
        "--with-category",
        action="store_true",
        help="add a category column/key (A1111 and Fooocus ignore it)",
    )
    parser.set_defaults(handler=run)


@contextlib.contextmanager
def style_library(data_dir: str | Path | None) -> Iterator[StyleLibrary]:
    """Built-in styles plus the user's, kept in the gallery database as the web app keeps them."""
    with GalleryStore.open(gallery_dir(resolve_data_dir(data_dir))) as store:
        yield StyleLibrary(user=store.for_owner(LOCAL_OWNER))


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""

    try:
        with style_library(args.data_dir) as library:
            if args.styles_action == "import":
                return _import(library, args)
            return _export(library, args)
    except (StyleError, GalleryError) as exc:
        raise CommandError(str(exc)) from None


def _import(library: StyleLibrary, args: argparse.Namespace) -> int:
    plan = plan_style_import(library, read_style_file(args.file, category=args.category))
    print(plan.summary())
    for label, styles in (
        ("new", plan.added),
        ("replaces your style", plan.replaced_user),
        ("replaces the built-in style", plan.replaced_builtin),
    ):
        for style in styles:
            print(f"  {label}: {style.name}")
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing saved")
        return 0
    saved = apply_style_import(library, plan)
    print(f"saved {saved} style(s)")
    return 0


def _export(library: StyleLibrary, args: argparse.Namespace) -> int:
    path = Path(args.file)
    styles = library.user_styles() if args.user_only else library.all()
    if not styles:
        raise StyleError("There are no styles of yours to export yet.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_a1111_csv(styles, path, include_category=args.with_category)
    elif suffix == ".json":
        write_fooocus_json(styles, path, include_category=args.with_category)
    else:
        raise StyleError(f"Export to a .csv (A1111) or .json (Fooocus) file, not '{path.name}'.")
    print(f"wrote {len(styles)} style(s) to {path}")
    return 0
