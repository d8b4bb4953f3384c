"""What the Gallery tab computes: plain functions over an `OwnerGallery` and plain values.

Search and filter a page of thumbnails, show one generation's details, curate it (rating,
favourite, tags, notes), recall its settings into Generate, delete, export, import PNGs and
read a PNG's settings. Bad input raises `gr.Error` (or shows a `gr.Warning`) with one
sentence, never a crash. Widgets and wiring live in `ui/gallery_tab.py`.
"""

from __future__ import annotations

import html
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from engine.model_kinds import KIND_LABELS
from engine.schedulers import scheduler_names
from gallery.errors import GalleryError
from gallery.image_reader import TOOL_NAMES, read_image_metadata
from gallery.peer_copies import peer_copy, suffix_for
from gallery.records import MAX_SEED, GalleryQuery, GenerationRecord, GenerationSummary
from gallery.views import OwnerGallery
from ui.messages import md_text, shown

EXPORT_PREFIX = "atelier-export-"
EXPORT_KEEP_S = 600.0

PAGE_SIZE = 24
ANY = "Any"
"""The model and tag filters' "no filter" choice."""
UNRATED = "unrated"
RATING_CHOICES: list[tuple[str, str]] = [
    ("unrated", UNRATED),
    ("0", "0"),
    *((("★" * stars), str(stars)) for stars in range(1, 6)),
]
"""The rating radio: (label, value); values are the rating as text, or `UNRATED`."""
SOURCE_NAMES = TOOL_NAMES
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


# --- search and pages --------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryPageView:
    """One page of thumbnails as the tab shows it."""

    items: list[tuple[str, str]]
    """(image path, caption "seed · model") per thumbnail, newest first."""
    ids: list[int]
    """The generation id of each thumbnail, in the same order."""
    page: int
    has_previous: bool
    has_next: bool
    status: str
    """Markdown: how many match and which page this is."""


def model_choices(store: OwnerGallery) -> list[str]:
    """The model filter's choices: `ANY`, then every model in the gallery."""
    return [ANY, *store.models()]


def tag_choices(store: OwnerGallery) -> list[tuple[str, str]]:
    """The tag filter's choices as (label with count, tag): `ANY` first."""
    return [(ANY, ANY), *((f"{name} ({count})", name) for name, count in store.tags())]


def gallery_query(
    text: str | None,
    model: str | None,
    tag: str | None,
    min_rating: float | None,
    favourites_only: bool,
    seed: str | float | None,
    page: int = 1,
) -> GalleryQuery:
    """The store query for the filter widgets' values; `gr.Error` on a bad seed or rating."""
    seed_value = _seed_filter(seed)
    rating = int(min_rating) if min_rating else None
    if rating is not None and not 0 <= rating <= 5:
        raise gr.Error("The minimum rating must be from 0 to 5.", duration=None)
    return GalleryQuery(
        text=(text or "").strip(),
        model_id=None if model in (None, "", ANY) else model,
        tag=None if tag in (None, "", ANY) else tag,
        min_rating=rating,
        favourite=True if favourites_only else None,
        seed=seed_value,
        page=max(1, int(page)),
        page_size=PAGE_SIZE,
    )


def _seed_filter(seed: str | float | None) -> int | None:
    """The seed box's text (empty: any seed) as a seed; `gr.Error` if it is not one."""
    text = "" if seed is None else str(seed).strip()
    if not text:
        return None
    try:
        value = int(text)  # exact: a float cannot hold every 64-bit seed
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise gr.Error(
            f"The seed filter must be a whole number from 0 to {MAX_SEED} (or empty).",
            duration=None,
        )
    return value


def search_gallery(
    store: OwnerGallery,
    text: str | None,
    model: str | None,
    tag: str | None,
    min_rating: float | None,
    favourites_only: bool,
    seed: str | float | None,
    page: int = 1,
) -> GalleryPageView:
    """One page of thumbnails (newest first) matching the filters."""
    query = gallery_query(text, model, tag, min_rating, favourites_only, seed, page)
    try:
        result = store.search(query)
        total = store.count(query)
    except GalleryError as exc:
        raise gr.Error(shown(exc), duration=None) from None
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if total == 0:
        status = "No generations match." if _has_filters(query) else "The gallery is empty."
    else:
        noun = "generation" if total == 1 else "generations"
        status = f"**{total}** {noun} · page {query.page} of {pages}"
    items = [(_thumbnail(item), caption(item)) for item in result.items]
    return GalleryPageView(
        items=[item for item in items if item[0]],
        ids=[item.id for item in result.items if _thumbnail(item)],
        page=query.page,
        has_previous=query.page > 1,
        has_next=result.has_more,
        status=status,
    )


CARD_PROMPT_CHARS = 48


def caption(item: GenerationSummary) -> str:
    """A card's caption: favourite heart, rating stars, "seed · model", then the start of the
    prompt, e.g. `♥ ★★★★ 1234 · demo · a lighthouse on a rocky cliff…`."""
    seed = "?" if item.seed is None else str(item.seed)
    model = (item.model_id or "unknown model").rstrip("/").rsplit("/", 1)[-1]
    marks = ("♥ " if item.favourite else "") + ("★" * item.rating + " " if item.rating else "")
    prompt = " ".join((item.prompt or "").split())
    if len(prompt) > CARD_PROMPT_CHARS:
        prompt = prompt[: CARD_PROMPT_CHARS - 1].rstrip() + "…"
    return f"{marks}{seed} · {model}" + (f" · {prompt}" if prompt else "")


PICKED = "✓ "
"""How a chosen card's caption starts in "Select several" (`ui/static/picks.js` frames it)."""


def toggle_choice(ids: Sequence[int], chosen: Sequence[int] | None, index: int | None) -> list[int]:
    """The chosen ids after a click on card `index` of the page: added, or taken out again."""
    chosen = list(chosen or ())
    if index is None or not 0 <= int(index) < len(ids):
        return chosen
    clicked = ids[int(index)]
    return [gid for gid in chosen if gid != clicked] if clicked in chosen else [*chosen, clicked]


def picker_view(
    items: Sequence[tuple[str, str]], ids: Sequence[int], chosen: Sequence[int] | None
) -> tuple[gr.Gallery, list[int], str]:
    """ "Select several" for one page: each card as a thumbnail whose caption says `#id` and
    starts with ✓ when chosen (no card left selected, so a second click on one is a click
    again), the chosen ids still on the page, and a line counting them."""
    kept = [gid for gid in chosen or () if gid in ids]
    cards = [
        (path, f"{PICKED if gid in kept else ''}#{gid} {text}")
        for (path, text), gid in zip(items, ids, strict=True)
    ]
    shown = gr.Gallery(value=cards, selected_index=None)
    if not kept:
        return shown, kept, "Click the images to act on; a second click takes one out again."
    noun = "image" if len(kept) == 1 else "images"
    return shown, kept, f"{len(kept)} {noun} chosen: " + ", ".join(f"#{gid}" for gid in kept)


def tag_generations(store: OwnerGallery, ids: Sequence[int] | None, tag: str | None) -> str:
    """Add one tag to every selected generation; a status line."""
    chosen = _chosen(ids)
    for generation_id in chosen:
        _apply(store.add_tag, generation_id, tag or "")
    noun = "generation" if len(chosen) == 1 else "generations"
    return f"Tagged {len(chosen)} {noun} with `{html.escape((tag or '').strip().lower())}`."


def delete_generations(store: OwnerGallery, ids: Sequence[int] | None) -> str:
    """Delete every selected generation with its files; a status line."""
    chosen = _chosen(ids)
    try:
        count = store.delete(chosen)
    except GalleryError as exc:
        raise gr.Error(str(exc), duration=None) from None
    return f"Deleted {count} generation{'s' if count != 1 else ''}."


def compare_rows(store: OwnerGallery, ids: Sequence[int] | None) -> list[list[str]]:
    """The Compare tab's variant rows (label, prompt) for 2 to 8 selected generations."""
    chosen = _chosen(ids)
    if not 2 <= len(chosen) <= 8:
        raise gr.Error("Select 2 to 8 images to compare.", duration=None)
    return [[f"#{gid}", _record(store, gid).prompt] for gid in chosen]


def _chosen(ids: Sequence[int] | None) -> list[int]:
    chosen = [int(generation_id) for generation_id in ids or ()]
    if not chosen:
        raise gr.Error("Choose one or more images first (click them).", duration=None)
    return chosen


def _thumbnail(item: GenerationSummary) -> str:
    return item.thumbnail_path or item.image_path or ""


def _has_filters(query: GalleryQuery) -> bool:
    return bool(
        query.text
        or query.model_id
        or query.tag
        or query.min_rating is not None
        or query.favourite
        or query.seed is not None
    )


# --- the detail panel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DetailView:
    """One generation as the detail panel shows it."""

    id: int
    image_path: str | None
    prompt: str
    negative: str
    settings_markdown: str
    rating: str
    """A `RATING_CHOICES` value."""
    favourite: bool
    tags: tuple[str, ...]
    notes: str

    @property
    def tags_markdown(self) -> str:
        """The tags as code chips, or a hint when there are none."""
        if not self.tags:
            return "*No tags yet.*"
        return " ".join(f"<code>{md_text(tag)}</code>" for tag in self.tags)


def selected_id(ids: Sequence[int] | None, index: int | None) -> int:
    """The generation id of thumbnail `index` on the current page; `gr.Error` if out of range."""
    ids = list(ids or ())
    if index is None or not 0 <= int(index) < len(ids):
        raise gr.Error("That thumbnail is no longer on this page; search again.", duration=None)
    return ids[int(index)]


def detail_view(store: OwnerGallery, generation_id: int | None) -> DetailView:
    """Everything the detail panel shows about one generation; `gr.Error` if it is gone."""
    record = _record(store, generation_id)
    image = record.image
    return DetailView(
        id=record.id,
        image_path=None if image is None or image.missing else str(image.path),
        prompt=record.prompt,
        negative=record.negative_prompt,
        settings_markdown=settings_markdown(record),
        rating=UNRATED if record.rating is None else str(record.rating),
        favourite=record.favourite,
        tags=record.tags,
        notes=record.notes,
    )


def settings_markdown(record: GenerationRecord) -> str:
    """The settings table: seed, steps, CFG (FLUX: distilled guidance), size, scheduler, model,
    its kind, hash, SD3/FLUX's T5 length, true CFG and shift when set, created."""
    size = f"{record.width} × {record.height}" if record.width and record.height else None
    kind = (record.provenance or {}).get("pipeline_kind")
    rows = (
        ("Seed", record.seed),
        ("Steps", record.steps),
        ("Distilled guidance" if kind == "flux" else "CFG scale", record.guidance_scale),
        ("Size", size),
        ("Scheduler", record.scheduler),
        ("Model", record.model_id),
        *((("Kind", KIND_LABELS.get(kind, kind)),) if isinstance(kind, str) and kind else ()),
        ("Model hash", record.model_hash),
        *_flow_rows(record.settings or {}),
        ("Created", _when(record.created_at)),
        ("Source", record.source),
        ("Id", record.id),
    )
    half = (len(rows) + 1) // 2  # two settings per line keeps the table short
    lines = ["| Setting | Value | Setting | Value |", "| --- | --- | --- | --- |"]
    for left, right in zip(rows[:half], (*rows[half:], ("", "")), strict=False):
        lines.append(f"| {left[0]} | {_cell(left[1])} | {right[0]} | {_cell(right[1])} |")
    return "\n".join(lines)


def _flow_rows(settings: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """SD3/FLUX's settings the record carries: T5 length, true CFG (above 1), shift."""
    true_cfg = settings.get("true_cfg_scale")
    rows = (
        ("T5 length", settings.get("max_sequence_length")),
        ("True CFG", true_cfg if isinstance(true_cfg, (int, float)) and true_cfg > 1 else None),
        ("Shift", settings.get("shift")),
    )
    return tuple(row for row in rows if row[1] is not None)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return md_text(value)


def _record(store: OwnerGallery, generation_id: int | None) -> GenerationRecord:
    if generation_id is None:
        raise gr.Error("Select a thumbnail first.", duration=None)
    try:
        return store.get(int(generation_id))
    except GalleryError as exc:
        raise gr.Error(shown(exc), duration=None) from None


# --- curation -------------------------------------------------------------------------------------


def set_rating(store: OwnerGallery, generation_id: int | None, rating: str | None) -> str:
    """Store a rating from the radio's value (`UNRATED` clears it); return a status line."""
    _record(store, generation_id)
    if rating in (None, "", UNRATED):
        value = None
    elif str(rating).isdigit():
        value = int(rating)
    else:
        raise gr.Error(shown(f"A rating must be from 0 to 5, not {rating!r}."), duration=None)
    _apply(store.set_rating, generation_id, value)
    return "Rating cleared." if value is None else f"Rated {value}."


def set_favourite(store: OwnerGallery, generation_id: int | None, favourite: bool) -> str:
    """Mark or unmark a favourite; return a status line."""
    _apply(store.set_favourite, generation_id, bool(favourite))
    return "Marked as favourite." if favourite else "No longer a favourite."


def save_notes(store: OwnerGallery, generation_id: int | None, notes: str | None) -> str:
    """Replace the notes; return a status line."""
    _apply(store.set_notes, generation_id, notes or "")
    return "Notes saved."


def add_tag(store: OwnerGallery, generation_id: int | None, tag: str | None) -> DetailView:
    """Add a tag (trimmed, lower-cased); the refreshed view. `gr.Error` on an empty tag."""
    _apply(store.add_tag, generation_id, tag or "")
    return detail_view(store, generation_id)


def remove_tag(store: OwnerGallery, generation_id: int | None, tag: str | None) -> DetailView:
    """Remove a tag (absent tags are fine); the refreshed view."""
    _apply(store.remove_tag, generation_id, tag or "")
    return detail_view(store, generation_id)


def set_tags(store: OwnerGallery, generation_id: int | None, tags: Sequence[str]) -> DetailView:
    """Make the generation's tags exactly `tags` (the chips after a × or a typed one)."""
    current = set(detail_view(store, generation_id).tags)
    wanted = {tag.strip().lower() for tag in tags if tag and tag.strip()}
    for tag in sorted(current - wanted):
        _apply(store.remove_tag, generation_id, tag)
    for tag in sorted(wanted - current):
        _apply(store.add_tag, generation_id, tag)
    return detail_view(store, generation_id)


def _apply(action: Any, generation_id: int | None, value: Any) -> None:
    if generation_id is None:
        raise gr.Error("Select a thumbnail first.", duration=None)
    try:
        action(int(generation_id), value)
    except GalleryError as exc:
        raise gr.Error(shown(exc), duration=None) from None


# --- recall, delete, export, import -------------------------------------------------------------


RECALL_FIELDS = ("prompt", "negative", "seed", "steps", "guidance", "width", "height", "scheduler")
"""The Generate widgets "Recall into Generate" fills, in the order `recall_values` returns."""


def recall_values(store: OwnerGallery, generation_id: int | None) -> tuple[Any, ...]:
    """The Generate tab's values for a generation, in `RECALL_FIELDS` order.

    Settings the record lacks (or a scheduler Generate does not offer) are `gr.skip()`, so
    those widgets keep what they show.
    """
    record = _record(store, generation_id)
    skip = gr.skip()
    scheduler = record.scheduler if record.scheduler in scheduler_names() else skip
    return (
        record.prompt,
        record.negative_prompt,
        skip if record.seed is None else str(record.seed),  # the seed box is exact text
        skip if record.steps is None else record.steps,
        skip if record.guidance_scale is None else record.guidance_scale,
        skip if record.width is None else record.width,
        skip if record.height is None else record.height,
        scheduler,
    )


def delete_generation(store: OwnerGallery, generation_id: int | None) -> str:
    """Delete a generation with its image files; return a status line."""
    if generation_id is None:
        raise gr.Error("Select a thumbnail first.", duration=None)
    try:
        store.delete(int(generation_id))
    except GalleryError as exc:
        raise gr.Error(shown(exc), duration=None) from None
    return f"Deleted generation {generation_id}."


def export_generations(
    store: OwnerGallery, ids: Sequence[int] | None, image_format: str = "PNG"
) -> str:
    """A zip of the generations' images (PNG, or JPEG/WebP carrying the A1111 text in EXIF
    UserComment) with settings.csv and settings.json; its path."""
    ids = [int(generation_id) for generation_id in ids or ()]
    if not ids:
        raise gr.Error(
            "There is nothing to export: search or select some images first.", duration=None
        )
    remove_old_exports()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(tempfile.mkdtemp(prefix=EXPORT_PREFIX)) / f"atelier-{stamp}.zip"
    try:
        return str(store.export_zip(ids, out, image_format=(image_format or "PNG").lower()))
    except GalleryError as exc:
        raise gr.Error(shown(exc), duration=None) from None


def remove_old_exports(max_age_s: float = EXPORT_KEEP_S) -> int:
    """Delete export folders older than `max_age_s` (the page has long downloaded them; Gradio
    serves its own copy, cleared by the app's `delete_cache`); return how many."""
    removed = 0
    now = time.time()
    for folder in Path(tempfile.gettempdir()).glob(f"{EXPORT_PREFIX}*"):
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder)
                removed += 1
        except OSError:
            continue  # another process's, or already gone
    return removed


def download_as(store: OwnerGallery, generation_id: int | None, image_format: str) -> str:
    """The selected image as a JPEG or WebP file that A1111 and its peers read; its path."""
    record = _record(store, generation_id)
    image = next((i for i in record.images if not i.missing and i.path.exists()), None)
    if image is None:
        raise gr.Error("The image file of this generation is missing.", duration=None)
    try:
        data = peer_copy(image.path.read_bytes(), image_format)
        suffix = suffix_for(image_format)
    except GalleryError as exc:
        raise gr.Error(shown(exc), duration=None) from None
    seed = record.seed if record.seed is not None else "x"
    out = Path(tempfile.mkdtemp(prefix="atelier-download-")) / f"atelier-{record.id}-{seed}{suffix}"
    out.write_bytes(data)
    return str(out)


def import_pngs(store: OwnerGallery, paths: Sequence[str] | str | None) -> str:
    """Import uploaded PNG, JPEG and WebP files (read with their embedded settings); a summary
    of what happened, one line per file."""
    files = [Path(paths)] if isinstance(paths, str) else [Path(p) for p in paths or ()]
    if not files:
        gr.Warning("Choose one or more PNG, JPEG or WebP files to import.")
        return "⚠ No files chosen."
    pngs = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
    not_png = len(files) - len(pngs)
    with tempfile.TemporaryDirectory(prefix="atelier-import-") as folder:
        for index, path in enumerate(pngs):
            shutil.copyfile(path, Path(folder) / f"{index:04d}-{path.name}")
        try:
            report = store.import_folder(folder, recursive=False)
        except GalleryError as exc:
            raise gr.Error(shown(exc), duration=None) from None
    skipped = len(report.duplicates) + len(report.failed) + not_png
    by_format = ", ".join(f"{count} {name}" for name, count in report.formats.items())
    head = f"Imported {len(report.imported)}" + (f" ({by_format})" if by_format else "")
    parts = [f"{head}, skipped {skipped}."]
    if report.without_metadata:
        parts.append(f"{len(report.without_metadata)} had no settings (imported with no prompt).")
    if report.duplicates:
        parts.append(f"{len(report.duplicates)} already in the gallery.")
    if not_png:
        parts.append(f"{not_png} not a PNG, JPEG or WebP file.")
    lines = [" ".join(parts)]
    lines += [f"- {_upload_name(path)}: {found}" for path, found in report.found]
    lines += [f"- {_upload_name(path)}: {reason}" for path, reason in report.failed]
    lines += [f"- {_upload_name(path)}: {note}" for path, note in report.notes]
    message = html.escape("\n".join(lines))
    if skipped and not report.imported:
        gr.Warning(html.escape(" ".join(parts)))
    return message


def _upload_name(path: Path) -> str:
    return path.name.split("-", 1)[-1]


def describe_png(path: str | None) -> str:
    """Markdown of the settings a PNG, JPEG or WebP carries, and which tool wrote them."""
    if not path:
        return ""
    try:
        reading = read_image_metadata(path)
    except GalleryError as exc:
        gr.Warning(shown(exc))
        return f"⚠ {md_text(exc)}"
    notes = [f"_{md_text(note)}_" for note in reading.notes]
    found = reading.metadata
    if found is None:
        return "\n\n".join([f"This {reading.format} image: no settings found.", *notes])
    lines = [
        f"**Written by:** {SOURCE_NAMES.get(found.source, found.source)} ({reading.format})",
        "",
        f"**Prompt:** {md_text(found.prompt) or '—'}",
        "",
        f"**Negative prompt:** {md_text(found.negative_prompt) or '—'}",
    ]
    if found.settings:
        lines += ["", "| Setting | Value |", "| --- | --- |"]
        lines += [f"| {key} | {_cell(value)} |" for key, value in found.settings.items()]
    extra = {k: v for k, v in found.extra.items() if not isinstance(v, (dict, list))}
    if extra:
        lines += ["", "Other values: " + ", ".join(f"{k}: {_cell(v)}" for k, v in extra.items())]
    lines += ["", *notes] if notes else []
    return "\n".join(lines)
