"""The Gallery tab: search and filter every kept generation, look at one closely, curate it,
recall it into Generate, delete, export and import.

Widgets and wiring only; what each event computes lives in `ui.gallery_tab.handlers`. The tab
refreshes its page each time it is opened, so new generations show up without a reload.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from gallery.views import OwnerGallery
from ui.gallery_tab.handlers import (
    ANY,
    RATING_CHOICES,
    UNRATED,
    DetailView,
    GalleryPageView,
    add_tag,
    delete_generation,
    delete_generations,
    describe_png,
    detail_view,
    download_as,
    export_generations,
    import_pngs,
    model_choices,
    picker_view,
    remove_tag,
    save_notes,
    search_gallery,
    selected_id,
    set_favourite,
    set_rating,
    set_tags,
    tag_choices,
    tag_generations,
    toggle_choice,
)
from ui.messages import error_line

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
# Searches, page turns and refreshes run one after another in the order they were asked for,
# so a refresh still running when the artist filters cannot overwrite the filtered page.
IN_TURN: dict[str, Any] = {**QUIET, "concurrency_id": "gallery-page", "concurrency_limit": 1}
PICKING: dict[str, Any] = {
    **QUIET,
    "concurrency_id": "gallery-pick",
    "concurrency_limit": 1,
    "trigger_mode": "multiple",
}
"""Clicks in "Select several" are taken one after another, in the order made: every one of
them (Gradio's default for a click, "once", drops a click made while the last one is still
being answered, which on a busy server is a quick second click)."""
HINT = "*Select a thumbnail to see its image, prompt and settings.*"
EXPORT_PAGE = "This page"
EXPORT_SELECTED = "Selected image"


@dataclass(frozen=True)
class GalleryTab:
    """The gallery's components other parts of the page connect to."""

    recall: gr.Button
    recall_builder: gr.Button
    selected: gr.State
    """The id of the generation in the detail panel (None when none is)."""
    chosen: gr.State
    """The ids chosen in "Select several" (clicked thumbnails)."""
    compare_these: gr.Button
    regenerate: gr.Button
    """"Regenerate from record" (the app connects it to the engine:
    `ui.gallery_tab.reproduce`)."""
    regenerated: gr.Markdown
    open_record: Callable[[Any], tuple[Any, ...]]
    """Show one generation (by id) in the detail panel: returns values for `record_outputs`."""
    record_outputs: list[Any]


@dataclass(frozen=True)
class _Filters:
    text: gr.Textbox
    model: gr.Dropdown
    tag: gr.Dropdown
    min_rating: gr.Slider
    favourites: gr.Checkbox
    seed: gr.Textbox

    def widgets(self) -> list[Any]:
        return [self.text, self.model, self.tag, self.min_rating, self.favourites, self.seed]


@dataclass(frozen=True)
class _Detail:
    panel: gr.Column
    image: gr.Image
    prompt: gr.Textbox
    negative: gr.Textbox
    settings: gr.Markdown
    rating: gr.Radio
    favourite: gr.Checkbox
    tags: gr.Dropdown
    notes: gr.Textbox
    tag_name: gr.Textbox
    add_tag: gr.Button
    remove_tag: gr.Button
    save_notes: gr.Button
    recall: gr.Button
    recall_builder: gr.Button
    delete: gr.Button
    confirm: gr.Button
    cancel: gr.Button
    regenerate: gr.Button
    regenerated: gr.Markdown

    def outputs(self) -> list[Any]:
        return [
            self.panel,
            self.image,
            self.prompt,
            self.negative,
            self.settings,
            self.rating,
            self.favourite,
            self.tags,
            self.notes,
        ]


@dataclass(frozen=True)
class _Page:
    """The thumbnails of one page of results, how to turn pages, and what each page holds."""

    thumbnails: gr.Gallery
    ids: gr.State
    number: gr.State
    previous: gr.Button
    following: gr.Button
    status: gr.Markdown
    items: gr.State
    """The page's cards, (thumbnail, caption) each, which "Select several" shows."""

    def outputs(self) -> list[Any]:
        """What `page_values` fills, in its order."""
        return [
            self.thumbnails,
            self.ids,
            self.number,
            self.previous,
            self.following,
            self.status,
            self.items,
        ]


def page_values(view: GalleryPageView) -> tuple[Any, ...]:
    """The values of `_Page.outputs` for one page of results."""
    return (
        view.items,
        view.ids,
        view.page,
        gr.Button(interactive=view.has_previous),
        gr.Button(interactive=view.has_next),
        view.status,
        list(view.items),
    )


def detail_values(view: DetailView | None) -> tuple[Any, ...]:
    """The values of `_Detail.outputs` for one generation (None hides the panel)."""
    if view is None:
        return (gr.Column(visible=False), *[None] * 5, False, gr.Dropdown(value=[]), "")
    return (
        gr.Column(visible=True),
        view.image_path,
        view.prompt,
        view.negative,
        view.settings_markdown,
        view.rating,
        view.favourite,
        tag_chips(view.tags),
        view.notes,
    )


def build_gallery_tab(store: OwnerGallery, tab: gr.Tab, identified: Any = None) -> GalleryTab:
    """Add the Gallery tab's widgets and events to the current Blocks; `tab` is the gr.Tab it
    sits in (opening it refreshes the page). `identified`, the page load's event that ties a
    shared app's page to its visitor, refreshes it too: a tab opened before that was done (a
    quick click after a reload on a busy server) read the gallery of nobody yet."""
    filters = _filter_widgets(store)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            thumbnails = gr.Gallery(
                label="Generations (newest first)",
                columns=6,
                height=560,
                object_fit="cover",
                allow_preview=False,
                fit_columns=False,
                elem_id="gallery-grid",
            )
            with gr.Row():
                previous = gr.Button("← Prev", size="sm", interactive=False, elem_id="gallery-prev")
                status = gr.Markdown(elem_id="gallery-status")
                following = gr.Button(
                    "Next →", size="sm", interactive=False, elem_id="gallery-next"
                )
            bulk = _bulk_widgets()
        with gr.Column(scale=2, min_width=360):
            message = gr.Markdown(HINT, elem_id="gallery-message")
            detail = _detail_widgets()
    page = _Page(thumbnails, gr.State([]), gr.State(1), previous, following, status, gr.State([]))
    selected = gr.State(None)
    imported = _files_panel(store, page.ids, selected)
    refreshers = [tab.select, imported.then]
    if identified is not None:
        refreshers.append(identified.then)
    _wire_pages(store, filters, page, bulk, refreshers)
    record_outputs = [selected, message, *detail.outputs()]

    def select(current_ids: list[int], event: gr.SelectData) -> tuple[Any, ...]:
        generation_id = selected_id(current_ids, event.index)
        return (generation_id, "", *detail_values(detail_view(store, generation_id)))

    thumbnails.select(select, inputs=page.ids, outputs=record_outputs, **QUIET)
    _wire_curation(store, detail, filters, selected, message)
    _wire_delete(store, detail, filters, page, record_outputs)

    def open_record(generation_id: Any) -> tuple[Any, ...]:
        if generation_id is None:
            raise gr.Error("Click a picture first.", duration=None)
        return (generation_id, "", *detail_values(detail_view(store, generation_id)))

    return GalleryTab(
        open_record=open_record,
        record_outputs=record_outputs,
        recall=detail.recall,
        recall_builder=detail.recall_builder,
        selected=selected,
        regenerate=detail.regenerate,
        regenerated=detail.regenerated,
        chosen=bulk.chosen,
        compare_these=bulk.compare,
    )


def _wire_pages(
    store: OwnerGallery,
    filters: _Filters,
    page: _Page,
    bulk: _Bulk,
    refreshers: list[Callable[..., Any]],
) -> None:
    """Searching, turning pages, and refreshing the page (filters' choices too) whenever one
    of `refreshers` fires (opening the tab, an import)."""

    def search(*values: Any) -> tuple[Any, ...]:
        try:
            return page_values(search_gallery(store, *values, page=1))
        except gr.Error as exc:
            return refused(exc)

    def turn(step: int) -> Callable[..., tuple[Any, ...]]:
        def go(current: int, *values: Any) -> tuple[Any, ...]:
            try:
                return page_values(search_gallery(store, *values, page=max(1, current + step)))
            except gr.Error as exc:
                return refused(exc)

        return go

    def refused(exc: gr.Error) -> tuple[Any, ...]:
        """A bad filter (a seed that is not one): its sentence on the status line and in a
        message that stays, the pictures as they were (no bare "Error" pills)."""
        gr.Warning(exc.message, duration=None)
        outputs = page.outputs()
        return tuple(
            error_line(exc.message) if output is page.status else gr.skip() for output in outputs
        )

    def refresh(model: str, tag: str, current: int, *values: Any) -> tuple[Any, ...]:
        try:
            return refreshed(model, tag, current, *values)
        except gr.Error as exc:
            return (gr.skip(), gr.skip(), *refused(exc))

    def refreshed(model: str, tag: str, current: int, *values: Any) -> tuple[Any, ...]:
        models, tags = model_choices(store), tag_choices(store)
        model = model if model in models else ANY
        tag = tag if tag in [value for _, value in tags] else ANY
        view = search_gallery(store, values[0], model, tag, *values[3:], page=current)
        if not view.items and current > 1:
            view = search_gallery(store, values[0], model, tag, *values[3:], page=1)
        return (
            gr.Dropdown(choices=models, value=model),
            gr.Dropdown(choices=tags, value=tag),
            *page_values(view),
        )

    gr.on(
        triggers=[
            filters.text.submit,
            filters.model.input,
            filters.tag.input,
            filters.min_rating.input,  # the number box too, not only the slider's handle
            filters.min_rating.release,
            filters.favourites.input,
            filters.seed.submit,
        ],
        fn=search,
        inputs=filters.widgets(),
        outputs=page.outputs(),
        trigger_mode="always_last",
        **IN_TURN,
    )
    turning = [page.number, *filters.widgets()]
    page.previous.click(turn(-1), inputs=turning, outputs=page.outputs(), **IN_TURN)
    page.following.click(turn(+1), inputs=turning, outputs=page.outputs(), **IN_TURN)
    refresh_inputs = [filters.model, filters.tag, page.number, *filters.widgets()]
    refresh_outputs = [filters.model, filters.tag, *page.outputs()]
    for when in refreshers:
        when(refresh, inputs=refresh_inputs, outputs=refresh_outputs, **IN_TURN)
    _wire_bulk(store, bulk, page, refresh, (refresh_inputs, refresh_outputs))


def _wire_curation(
    store: OwnerGallery,
    detail: _Detail,
    filters: _Filters,
    selected: gr.State,
    message: gr.Markdown,
) -> None:
    """Rating, favourite, tags (chips and the tag box) and notes of the selected generation."""
    detail.rating.input(
        lambda gid, value: set_rating(store, gid, value),
        inputs=[selected, detail.rating],
        outputs=message,
        **QUIET,
    )
    detail.favourite.input(
        lambda gid, value: set_favourite(store, gid, value),
        inputs=[selected, detail.favourite],
        outputs=message,
        **QUIET,
    )

    def tag_action(action: Any) -> Callable[[int | None, str], tuple[Any, ...]]:
        def run(gid: int | None, name: str) -> tuple[Any, ...]:
            view = action(store, gid, name)
            return tag_chips(view.tags), "", gr.Dropdown(choices=tag_choices(store))

        return run

    tag_outputs = [detail.tags, detail.tag_name, filters.tag]
    gr.on(
        triggers=[detail.add_tag.click, detail.tag_name.submit],
        fn=tag_action(add_tag),
        inputs=[selected, detail.tag_name],
        outputs=tag_outputs,
        **QUIET,
    )

    def sync_tags(gid: int | None, chips: list[str] | None) -> tuple[Any, ...]:
        if gid is None or sorted(chips or []) == sorted(detail_view(store, gid).tags):
            return gr.skip(), gr.skip()  # nothing selected, or the chips as saved (a recall)
        view = set_tags(store, gid, chips or [])
        return tag_chips(view.tags), gr.Dropdown(choices=tag_choices(store))

    # A chip typed and entered fires only `change`; a × fires `input` too.
    gr.on(
        [detail.tags.input, detail.tags.change],
        sync_tags,
        inputs=[selected, detail.tags],
        outputs=[detail.tags, filters.tag],
        trigger_mode="always_last",
        **QUIET,
    )
    detail.remove_tag.click(
        tag_action(remove_tag), inputs=[selected, detail.tag_name], outputs=tag_outputs, **QUIET
    )
    detail.save_notes.click(
        lambda gid, notes: save_notes(store, gid, notes),
        inputs=[selected, detail.notes],
        outputs=message,
        **QUIET,
    )


def _wire_delete(
    store: OwnerGallery,
    detail: _Detail,
    filters: _Filters,
    page: _Page,
    record_outputs: list[Any],
) -> None:
    """Delete the selected generation, after a confirmation step."""

    def asking(ask: bool) -> tuple[Any, ...]:
        return (
            gr.Button(visible=not ask),
            gr.Button(visible=ask),
            gr.Button(visible=ask),
        )

    confirm_buttons = [detail.delete, detail.confirm, detail.cancel]
    detail.delete.click(lambda: asking(True), outputs=confirm_buttons, **QUIET)
    detail.cancel.click(lambda: asking(False), outputs=confirm_buttons, **QUIET)

    def remove(gid: int | None, current: int, *values: Any) -> tuple[Any, ...]:
        text = delete_generation(store, gid)
        view = search_gallery(store, *values, page=current)
        if not view.items and current > 1:
            view = search_gallery(store, *values, page=current - 1)
        return (*asking(False), None, text, *detail_values(None), *page_values(view))

    selected = record_outputs[0]
    detail.confirm.click(
        remove,
        inputs=[selected, page.number, *filters.widgets()],
        outputs=[*confirm_buttons, *record_outputs, *page.outputs()],
        **PRIVATE,
    )


@dataclass(frozen=True)
class _Bulk:
    picker: gr.Gallery
    chosen: gr.State
    line: gr.Markdown
    tag: gr.Textbox
    add_tag: gr.Button
    export: gr.Button
    compare: gr.Button
    delete: gr.Button
    confirm: gr.Button
    file: gr.File
    status: gr.Markdown


def _bulk_widgets() -> _Bulk:
    with gr.Accordion("Select several", open=False, elem_id="gallery-bulk"):
        picker = gr.Gallery(
            label="Click images to choose them (✓)",
            columns=6,
            height="auto",
            object_fit="cover",
            allow_preview=False,
            elem_id="gallery-pick",
        )
        line = gr.Markdown(elem_id="gallery-chosen")
        with gr.Row(equal_height=True):
            tag = gr.Textbox(
                show_label=False,
                placeholder="a tag for every chosen image",
                scale=3,
                elem_id="gallery-bulk-tag",
            )
            add = gr.Button("Tag them", scale=1, elem_id="gallery-bulk-tag-add")
        with gr.Row():
            export = gr.Button("Export them", elem_id="gallery-bulk-export")
            compare = gr.Button("Compare these", elem_id="gallery-compare-these")
            delete = gr.Button("Delete them", variant="stop", elem_id="gallery-bulk-delete")
            confirm = gr.Button(
                "Yes, delete them and their files",
                variant="stop",
                visible=False,
                elem_id="gallery-bulk-delete-confirm",
            )
        file = gr.File(label="Zip", interactive=False, elem_id="gallery-bulk-file")
        status = gr.Markdown(elem_id="gallery-bulk-status")
    return _Bulk(
        picker, gr.State([]), line, tag, add, export, compare, delete, confirm, file, status
    )


def _wire_bulk(
    store: OwnerGallery,
    bulk: _Bulk,
    page: _Page,
    refresh: Any,
    refreshing: tuple[list[Any], list[Any]],
) -> None:
    """Choose images by clicking their thumbnails (a second click takes one out); tag, export
    or delete every chosen image; the page refreshes after a change, and what was chosen stays
    chosen while it is on the page."""
    inputs, outputs = refreshing
    shown = [bulk.picker, bulk.chosen, bulk.line]

    def toggle(ids: list[int], items: list[Any], chosen: list[int], event: gr.SelectData) -> Any:
        return picker_view(items, ids, toggle_choice(ids, chosen, event.index))

    page.items.change(picker_view, [page.items, page.ids, bulk.chosen], shown, **QUIET)
    bulk.picker.select(toggle, [page.ids, page.items, bulk.chosen], shown, **PICKING)
    tagged = bulk.add_tag.click(
        lambda chosen, tag: (tag_generations(store, chosen, tag), ""),
        inputs=[bulk.chosen, bulk.tag],
        outputs=[bulk.status, bulk.tag],
        **PRIVATE,
    )
    tagged.success(refresh, inputs=inputs, outputs=outputs, **QUIET)
    bulk.export.click(
        lambda chosen: export_generations(store, chosen),
        inputs=bulk.chosen,
        outputs=bulk.file,
        **PRIVATE,
    )
    bulk.delete.click(
        lambda chosen: gr.Button(visible=bool(chosen)),
        inputs=bulk.chosen,
        outputs=bulk.confirm,
        **QUIET,
    )
    deleted = bulk.confirm.click(
        lambda chosen: (delete_generations(store, chosen), gr.Button(visible=False)),
        inputs=bulk.chosen,
        outputs=[bulk.status, bulk.confirm],
        **PRIVATE,
    )
    deleted.success(refresh, inputs=inputs, outputs=outputs, **QUIET)


def tag_chips(tags: tuple[str, ...] | list[str]) -> gr.Dropdown:
    """The detail panel's tag chips: each with its × (one click removes it)."""
    return gr.Dropdown(choices=list(tags), value=list(tags))


def _filter_widgets(store: OwnerGallery) -> _Filters:
    with gr.Row(equal_height=True, elem_id="gallery-filters"):
        text = gr.Textbox(
            label="Search prompts",
            placeholder="lighthouse storm… (Enter to search)",
            scale=4,
            min_width=240,
            elem_id="gallery-search",
        )
        model = gr.Dropdown(
            model_choices(store), value=ANY, label="Model", scale=2, elem_id="gallery-model"
        )
        tag = gr.Dropdown(
            tag_choices(store), value=ANY, label="Tag", scale=2, elem_id="gallery-tag"
        )
        min_rating = gr.Slider(
            0, 5, value=0, step=1, label="Min rating", scale=2, elem_id="gallery-min-rating"
        )
        seed = gr.Textbox(
            label="Seed", placeholder="any", scale=1, min_width=110, elem_id="gallery-seed"
        )
        favourites = gr.Checkbox(
            label="Favourites only", scale=1, min_width=120, elem_id="gallery-favourites"
        )
    return _Filters(text, model, tag, min_rating, favourites, seed)


def _detail_widgets() -> _Detail:
    with gr.Column(visible=False, elem_id="gallery-detail") as panel:
        image = gr.Image(
            label="Image", type="filepath", interactive=False, height=360, elem_id="gallery-image"
        )
        prompt = gr.Textbox(
            label="Prompt", lines=3, interactive=False, buttons=["copy"], elem_id="gallery-prompt"
        )
        negative = gr.Textbox(
            label="Negative prompt",
            lines=1,
            interactive=False,
            buttons=["copy"],
            elem_id="gallery-negative",
        )
        with gr.Accordion("Settings", open=True):
            settings = gr.Markdown(elem_id="gallery-settings")
        with gr.Row(equal_height=True):
            rating = gr.Radio(
                RATING_CHOICES, value=UNRATED, label="Rating", scale=3, elem_id="gallery-rating"
            )
            favourite = gr.Checkbox(
                label="★ Favourite", scale=1, min_width=110, elem_id="gallery-favourite"
            )
        tags = gr.Dropdown(
            [],
            value=[],
            multiselect=True,
            allow_custom_value=True,
            label="Tags (× removes one; type and Enter adds one)",
            elem_id="gallery-tags",
        )
        with gr.Row(equal_height=True):
            tag_name = gr.Textbox(
                show_label=False,
                placeholder="a tag (Enter adds it)",
                scale=3,
                elem_id="gallery-tag-name",
            )
            add = gr.Button("Add tag", scale=1, min_width=90, elem_id="gallery-tag-add")
            drop = gr.Button("Remove", scale=1, min_width=90, elem_id="gallery-tag-remove")
        notes = gr.Textbox(label="Notes", lines=2, elem_id="gallery-notes")
        save = gr.Button("Save notes", size="sm", elem_id="gallery-save-notes")
        with gr.Row():
            recall = gr.Button(
                "Recall into Generate", variant="primary", scale=2, elem_id="gallery-recall"
            )
            recall_builder = gr.Button(
                "Recall into Builder", scale=2, elem_id="gallery-recall-builder"
            )
            delete = gr.Button("Delete", variant="stop", scale=1, elem_id="gallery-delete")
            confirm = gr.Button(
                "Yes, delete it and its files",
                variant="stop",
                visible=False,
                elem_id="gallery-delete-confirm",
            )
            cancel = gr.Button("Cancel", visible=False, elem_id="gallery-delete-cancel")
        with gr.Row():
            regenerate = gr.Button(
                "Regenerate from record", size="sm", scale=1, elem_id="gallery-regenerate"
            )
            regenerated = gr.Markdown(elem_id="gallery-regenerated")
    return _Detail(
        panel,
        image,
        prompt,
        negative,
        settings,
        rating,
        favourite,
        tags,
        notes,
        tag_name,
        add,
        drop,
        save,
        recall,
        recall_builder,
        delete,
        confirm,
        cancel,
        regenerate,
        regenerated,
    )


def _files_panel(store: OwnerGallery, ids: gr.State, selected: gr.State) -> Any:
    """Export a zip or an image as JPEG/WebP, import images, read an image's settings; returns
    the import event (the page refreshes after it)."""
    files = gr.Accordion("Export, import, read an image", open=False, elem_id="gallery-files")
    with files, gr.Row(equal_height=False):
        with gr.Column():
            scope = gr.Radio(
                [EXPORT_PAGE, EXPORT_SELECTED],
                value=EXPORT_PAGE,
                label="Export",
                elem_id="gallery-export-scope",
            )
            image_format = gr.Radio(
                ["PNG", "JPEG", "WebP"],
                value="PNG",
                label="Images as (JPEG and WebP carry the A1111 text in EXIF, as A1111 writes)",
                elem_id="gallery-export-format",
            )
            export = gr.Button("Export selection as zip", elem_id="gallery-export")
            download = gr.File(label="Zip", interactive=False, elem_id="gallery-export-file")
            with gr.Row():
                as_jpeg = gr.Button("Download selected as JPEG", size="sm", elem_id="gallery-jpeg")
                as_webp = gr.Button("Download selected as WebP", size="sm", elem_id="gallery-webp")
            single = gr.File(label="Image", interactive=False, elem_id="gallery-download-file")
        with gr.Column():
            uploads = gr.File(
                label="Import PNG, JPEG or WebP images (their settings are read from the files)",
                file_count="multiple",
                file_types=[".png", ".jpg", ".jpeg", ".webp"],
                type="filepath",
                elem_id="gallery-import",
            )
            imported = gr.Markdown(elem_id="gallery-import-status")
        with gr.Column():
            probe = gr.File(
                label="Read an image's settings (A1111, Forge, Fooocus, ComfyUI, InvokeAI, "
                "NovelAI, SwarmUI, ours)",
                file_types=[".png", ".jpg", ".jpeg", ".webp"],
                type="filepath",
                elem_id="gallery-read-png",
            )
            found = gr.Markdown(elem_id="gallery-read-png-result")

    def run_export(choice: str, fmt: str, page_ids: list[int], gid: int | None) -> str:
        if choice == EXPORT_SELECTED:
            if gid is None:
                raise gr.Error("Select a thumbnail first, or export this page.", duration=None)
            return export_generations(store, [gid], fmt)
        return export_generations(store, page_ids, fmt)

    export.click(
        run_export, inputs=[scope, image_format, ids, selected], outputs=download, **PRIVATE
    )
    for button, fmt in ((as_jpeg, "jpeg"), (as_webp, "webp")):
        button.click(
            functools.partial(_download, store, fmt), inputs=selected, outputs=single, **PRIVATE
        )
    import_event = uploads.upload(
        lambda paths: import_pngs(store, paths), inputs=uploads, outputs=imported, **PRIVATE
    )
    probe.upload(describe_png, inputs=probe, outputs=found, **QUIET)
    probe.clear(lambda: "", outputs=found, **QUIET)
    return import_event


def _download(store: OwnerGallery, image_format: str, gid: int | None) -> str:
    return download_as(store, gid, image_format)
