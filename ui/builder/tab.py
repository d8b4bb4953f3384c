"""The Builder tab: build a prompt from parts and see every step (composed prompts, token
chunks, expansion, wildcards, diff), then send it to the Generate tab.

Widgets and wiring only; what each event computes lives in `ui/builder_handlers.py`. Every
handler receives the recipe widgets' values in `RECIPE_FIELDS` order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from prompts.diff import DIFF_COLOR_MAP
from prompts.recipe import Recipe
from prompts.styles import StyleError, StyleLibrary
from prompts.vocabularies import Vocabulary, load_vocabularies
from prompts.wildcards import load_wildcard_lists
from ui.builder.handlers import (
    ALL_CATEGORIES,
    DEFAULT_USER_CATEGORY,
    EXPANSION_COLOR_MAP,
    FIELD_LABELS,
    RECIPE_FIELDS,
    ExpansionModel,
    add_term_group,
    append_to_free_text,
    category_choices,
    compose_view,
    diff_view,
    expand_recipe,
    import_style_file,
    load_recipe_upload,
    preview_style_file,
    preview_wildcards,
    recipe_from_values,
    save_recipe_file,
    save_user_style,
    style_choices,
    style_preview,
    vocabulary_choices,
)
from ui.clip_tokenizer import clip_tokenizer
from ui.messages import error_line, md_text, shown

Component = gr.components.Component

# Pickers laid out two to a row, in prompt order: (recipe field, vocabulary file, example).
PICKER_ROWS: tuple[tuple[tuple[str, str, str], ...], ...] = (
    (("medium", "medium", "oil painting"), ("lighting", "lighting", "golden hour")),
    (("camera", "camera", "85mm portrait lens"), ("composition", "composition", "rule of thirds")),
    (("mood", "mood", "serene"), ("colour", "colour", "teal and orange")),
    (
        ("details", "details", ""),
        ("quality", "quality", "highly detailed"),
    ),
)
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


@dataclass(frozen=True)
class BuilderTab:
    """The builder's components other parts of the page connect to."""

    fields: tuple[Component, ...]
    """One widget per recipe field, in `RECIPE_FIELDS` order."""
    positive: gr.Textbox
    negative: gr.Textbox
    encoders: gr.Markdown
    """Each text encoder's budget for the model on Generate (`ui.generate.model_events`)."""
    send: gr.Button
    send_expanded: gr.Button
    expanded_prompt: gr.State
    """The last expansion's final prompt ("" before the first)."""
    library: StyleLibrary


@dataclass(frozen=True)
class _StylePicker:
    search: gr.Textbox
    category: gr.Dropdown
    styles: gr.Dropdown
    preview: gr.Markdown


def build_builder_tab(
    library: StyleLibrary,
    models_dir: Path,
    wildcards_dir: Path | None,
    *,
    tokenizer: Callable[[], Any] | None = None,
    vocabularies: dict[str, Vocabulary] | None = None,
    expansion_model: ExpansionModel | None = None,
) -> BuilderTab:
    """Add the Builder tab's widgets and events to the current Blocks.

    `library` holds the styles (its user store receives "Save as style"); `models_dir` is where
    the expansion model is found or the demo LM built; `wildcards_dir` is the user's wildcard
    folder. `tokenizer` returns the tokenizer to count with (default: the real CLIP one,
    loaded at its first use).
    """
    if tokenizer is None:
        tokenizer = clip_tokenizer
    vocabularies = load_vocabularies() if vocabularies is None else vocabularies
    expansion_model = expansion_model or ExpansionModel(models_dir)

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=420):
            widgets, picker = _recipe_widgets(library, vocabularies)
        fields = tuple(widgets[name] for name in RECIPE_FIELDS)
        with gr.Column(scale=6, min_width=420):
            positive, negative, encoders = _live_view(fields, library, tokenizer)
            send = gr.Button("Send to Generate →", variant="primary", elem_id="builder-send")
            send_expanded, expanded = _expansion_panel(fields, library, expansion_model)
            _wildcards_panel(fields, library, wildcards_dir)
            _diff_panel(positive)
            _files_panel(fields, library, picker)
    _wire_style_picker(picker, library)
    return BuilderTab(fields, positive, negative, encoders, send, send_expanded, expanded, library)


# --- the recipe: subject, styles, pickers, free text ------------------------------------------


def _recipe_widgets(
    library: StyleLibrary, vocabularies: dict[str, Vocabulary]
) -> tuple[dict[str, Component], _StylePicker]:
    widgets: dict[str, Component] = {}
    widgets["subject"] = gr.Textbox(
        label=FIELD_LABELS["subject"],
        lines=2,
        placeholder="a lighthouse on a rocky cliff, (stormy sea:1.2)",
        elem_id="builder-subject",
        elem_classes=["prompt"],  # Ctrl+Up/Down weight a word here too
    )
    with gr.Group():
        with gr.Row():
            search = gr.Textbox(
                label="Search styles",
                placeholder="paint, neon, film…",
                scale=3,
                elem_id="builder-style-search",
            )
            category = gr.Dropdown(
                category_choices(library),
                value=ALL_CATEGORIES,
                label="Category",
                scale=2,
                elem_id="builder-style-category",
            )
        widgets["styles"] = gr.Dropdown(
            style_choices(library),
            value=[],
            multiselect=True,
            label="Styles (applied in the order picked)",
            elem_id="builder-styles",
        )
    with gr.Accordion("Style template", open=True):
        preview = gr.Markdown(style_preview(library, []), elem_id="builder-style-preview")
    for row in PICKER_ROWS:
        with gr.Row():
            for name, vocabulary, example in row:
                choices = vocabulary_choices(vocabularies, vocabulary)
                widgets[name] = _picker(name, choices, example)
    with gr.Row():
        widgets["negative"] = gr.Dropdown(
            vocabulary_choices(vocabularies, "negative"),
            value=[],
            multiselect=True,
            allow_custom_value=True,
            label=FIELD_LABELS["negative"],
            scale=2,
            elem_id="builder-negative-terms",
        )
        groups = vocabularies["negative"].groups if "negative" in vocabularies else ()
        negative_sets = gr.Dropdown(
            [group for group, _ in groups],
            value=None,
            label="Add a set",
            scale=1,
            min_width=140,
            elem_id="builder-negative-sets",
        )
    widgets["free_text"] = gr.Textbox(
        label=FIELD_LABELS["free_text"],
        lines=2,
        placeholder="anything else, added after the picks and before quality terms",
        elem_id="builder-free-text",
        elem_classes=["prompt"],  # Ctrl+Up/Down weight a word here too
    )
    negative_sets.select(
        lambda group, current: (add_term_group(vocabularies, "negative", group, current), None),
        inputs=[negative_sets, widgets["negative"]],
        outputs=[widgets["negative"], negative_sets],
        **QUIET,
    )
    return widgets, _StylePicker(search, category, widgets["styles"], preview)


def picker_hint(choices: list[str], example: str) -> str | None:
    """The line under a picker: "e.g. TERM" only for a term in its list (else the first
    term); a picker without a list shows how to type one."""
    if not choices:
        return "type a term, press Enter"
    return f"e.g. {example if example in choices else choices[0]}"


def _picker(name: str, choices: list[str], example: str) -> gr.Dropdown:
    """A multi-select term picker that also takes typed terms (Enter takes the suggestion)."""
    return gr.Dropdown(
        choices,
        value=[],
        multiselect=True,
        allow_custom_value=True,
        label=FIELD_LABELS[name],
        info=picker_hint(choices, example),
        elem_id=f"builder-{name.replace('_', '-')}",
        elem_classes=["picker"],
    )


def _wire_style_picker(picker: _StylePicker, library: StyleLibrary) -> None:
    """Search and category narrow the style choices; the preview follows the selection."""

    def narrow(query: str, category: str, selected: list[str]) -> tuple[Any, str]:
        choices = style_choices(library, query, category, selected)
        return gr.Dropdown(choices=choices), style_preview(library, selected, query, category)

    gr.on(
        triggers=[picker.search.change, picker.category.change],
        fn=narrow,
        inputs=[picker.search, picker.category, picker.styles],
        outputs=[picker.styles, picker.preview],
        trigger_mode="always_last",
        **QUIET,
    )
    picker.styles.change(
        lambda selected, query, category: style_preview(library, selected, query, category),
        inputs=[picker.styles, picker.search, picker.category],
        outputs=picker.preview,
        **QUIET,
    )


# --- live: composed prompts, problems, token budget -------------------------------------------


def _live_view(
    fields: tuple[Component, ...], library: StyleLibrary, tokenizer: Callable[[], Any]
) -> tuple[gr.Textbox, gr.Textbox, gr.Markdown]:
    """The composed prompts, problems and token chunks, recomputed on every field change (and
    an empty box for each encoder's budget of the model on Generate, filled from there)."""
    first = compose_view(Recipe(), library, tokenizer())  # loads the tokenizer once, up front
    positive = gr.Textbox(
        label="Composed prompt",
        value=first.positive,
        lines=4,
        interactive=False,
        buttons=["copy"],
        elem_id="builder-positive",
    )
    negative = gr.Textbox(
        label="Composed negative prompt",
        value=first.negative,
        lines=2,
        interactive=False,
        buttons=["copy"],
        elem_id="builder-negative",
    )
    message = gr.Markdown(first.message, elem_id="builder-message")
    tokens = gr.HighlightedText(
        value=first.budget.highlighted,
        color_map=first.budget.color_map,
        label="Token chunks (75 tokens each, weighting syntax hidden)",
        show_inline_category=True,
        elem_id="builder-tokens",
    )
    budget = gr.Markdown(first.budget.markdown, elem_id="builder-token-summary")
    encoders = gr.Markdown("", elem_id="builder-encoders")

    def live(*values: Any) -> tuple[Any, ...]:
        view = compose_view(recipe_from_values(*values), library, tokenizer())
        chunks = gr.HighlightedText(value=view.budget.highlighted, color_map=view.budget.color_map)
        return view.positive, view.negative, view.message, chunks, view.budget.markdown

    gr.on(
        triggers=[widget.change for widget in fields],
        fn=live,
        inputs=list(fields),
        outputs=[positive, negative, message, tokens, budget],
        trigger_mode="always_last",
        concurrency_limit=None,
        **QUIET,
    )
    return positive, negative, encoders


# --- the panels under the live view -----------------------------------------------------------


def _expansion_panel(
    fields: tuple[Component, ...], library: StyleLibrary, model: ExpansionModel
) -> tuple[gr.Button, gr.State]:
    """Expand with LLM: the added terms shown as their own segment, kept only on request."""
    with gr.Accordion("Expand with LLM", open=False, elem_id="builder-expand-panel"):
        gr.Markdown(
            "A language model appends descriptive terms from a fixed vocabulary. "
            "Same prompt and seed, same terms; the added part stays its own segment."
        )
        with gr.Row():
            seed = gr.Number(
                label="Seed", value=1, precision=0, minimum=0, elem_id="builder-expand-seed"
            )
            expand = gr.Button("Expand with LLM", elem_id="builder-expand")
        expansion = gr.HighlightedText(
            label="Expanded prompt (added terms highlighted)",
            color_map=EXPANSION_COLOR_MAP,
            show_inline_category=True,
            elem_id="builder-expansion",
        )
        note = gr.Markdown(elem_id="builder-expansion-note")
        final = gr.State("")
        added = gr.State(())
        with gr.Row():
            keep = gr.Button("Add terms to free text", elem_id="builder-keep-terms")
            send_expanded = gr.Button("Send expanded to Generate", elem_id="builder-send-expanded")

    def run(data: dict[Any, Any], progress=gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        recipe = recipe_from_values(*(data[widget] for widget in fields))
        report = lambda fraction, desc: progress(fraction, desc=desc)  # noqa: E731
        try:
            view = expand_recipe(recipe, library, data[seed], model, report)
        except gr.Error as exc:  # a sentence on the note line and a message that stays
            gr.Warning(exc.message, duration=None)
            return gr.skip(), error_line(exc.message), gr.skip(), gr.skip()
        return view.highlighted, view.note, view.final, view.added_terms

    gr.on(
        triggers=[expand.click, seed.submit],
        fn=run,
        inputs={seed, *fields},
        outputs=[expansion, note, final, added],
        **PRIVATE,
    )
    # A changed recipe makes the expansion stale: forget it, so it can never be sent.
    gr.on(
        triggers=[widget.change for widget in fields],
        fn=lambda final_text: (None, "", "", ()) if final_text else (gr.skip(),) * 4,
        inputs=final,
        outputs=[expansion, note, final, added],
        trigger_mode="always_last",
        **QUIET,
    )
    free_text = fields[RECIPE_FIELDS.index("free_text")]
    keep.click(append_to_free_text, inputs=[free_text, added], outputs=free_text, **PRIVATE)
    return send_expanded, final


def _wildcards_panel(
    fields: tuple[Component, ...], library: StyleLibrary, wildcards_dir: Path | None
) -> None:
    """Preview with seed: the prompts as an image with that seed gets them, and the picks."""
    with gr.Accordion("Wildcards preview", open=False, elem_id="builder-wildcards-panel"):
        with gr.Row():
            seed = gr.Number(
                label="Image seed", value=1, precision=0, elem_id="builder-wildcard-seed"
            )
            preview = gr.Button("Preview with seed", elem_id="builder-wildcards")
        positive = gr.Textbox(
            label="Prompt with wildcards resolved",
            lines=3,
            interactive=False,
            elem_id="builder-wildcard-positive",
        )
        negative = gr.Textbox(
            label="Negative prompt with wildcards resolved",
            interactive=False,
            elem_id="builder-wildcard-negative",
        )
        choices = gr.Markdown(elem_id="builder-wildcard-choices")

    def run(seed_value: Any, *values: Any) -> tuple[str, str, str]:
        lists = load_wildcard_lists(wildcards_dir)  # read fresh: the user may add lists any time
        view = preview_wildcards(recipe_from_values(*values), library, seed_value, lists)
        return view.positive, view.negative, view.markdown

    gr.on(
        triggers=[preview.click, seed.submit],
        fn=run,
        inputs=[seed, *fields],
        outputs=[positive, negative, choices],
        **PRIVATE,
    )


def _diff_panel(positive: gr.Textbox) -> None:
    """Compare text: the composed prompt against a pasted one, updated live."""
    with gr.Accordion("Compare text", open=False, elem_id="builder-diff-panel"):
        previous = gr.Textbox(
            label="Diff against (paste a previous prompt)", lines=2, elem_id="builder-diff-old"
        )
        diff = gr.HighlightedText(
            label="Changes from the pasted prompt to the composed one",
            color_map=DIFF_COLOR_MAP,
            show_inline_category=False,
            elem_id="builder-diff",
        )
        summary = gr.Markdown(elem_id="builder-diff-summary")
    gr.on(
        triggers=[previous.change, positive.change],
        fn=diff_view,
        inputs=[previous, positive],
        outputs=[diff, summary],
        trigger_mode="always_last",
        **QUIET,
    )


def _files_panel(
    fields: tuple[Component, ...], library: StyleLibrary, picker: _StylePicker
) -> None:
    """Save and load recipe JSON; save the builder as a user style."""
    with gr.Accordion("Recipe file and user style", open=False, elem_id="builder-files"):
        with gr.Row():
            save = gr.Button("Save recipe", elem_id="builder-save-recipe")
            download = gr.DownloadButton(
                "Download JSON", visible=False, variant="primary", elem_id="builder-recipe-file"
            )
            upload = gr.UploadButton(
                "Load recipe", file_types=[".json"], type="filepath", elem_id="builder-load-recipe"
            )
        with gr.Row():
            name = gr.Textbox(label="Save as style: name", scale=2, elem_id="builder-style-name")
            group = gr.Textbox(
                label="Category",
                value=DEFAULT_USER_CATEGORY,
                scale=1,
                elem_id="builder-style-group",
            )
        save_style = gr.Button("Save as style", elem_id="builder-save-style")
        with gr.Row():
            style_file = gr.File(
                label="Import styles: an A1111 styles.csv or a Fooocus style .json",
                file_types=[".csv", ".json"],
                type="filepath",
                elem_id="builder-style-file",
            )
            with gr.Column():
                style_file_preview = gr.Markdown(elem_id="builder-style-file-preview")
                import_styles = gr.Button(
                    "Import these styles",
                    variant="primary",
                    visible=False,
                    elem_id="builder-import-styles",
                )
        status = gr.Markdown(elem_id="builder-files-status")

    def save_recipe(*values: Any) -> gr.DownloadButton:
        path = save_recipe_file(recipe_from_values(*values))
        return gr.DownloadButton(value=str(path), visible=True)

    save.click(save_recipe, inputs=list(fields), outputs=download, **PRIVATE)
    # A file saved before an edit no longer matches the builder: hide its button.
    gr.on(
        triggers=[widget.change for widget in fields],
        fn=lambda: gr.DownloadButton(visible=False),
        outputs=download,
        trigger_mode="always_last",
        **QUIET,
    )
    upload.upload(
        lambda path: load_recipe_upload(path, library),
        inputs=upload,
        outputs=[*fields, status],
        **PRIVATE,
    )

    def save_as_style(style_name: str, style_group: str, query: str, category: str, *values: Any):
        recipe = recipe_from_values(*values)
        try:
            message = save_user_style(recipe, library, style_name, style_group)
        except StyleError as exc:
            gr.Warning(shown(exc))
            return gr.skip(), gr.skip(), f"⚠ {md_text(exc)}"
        gr.Info(shown(message))
        return (
            gr.Dropdown(choices=style_choices(library, query, category, recipe.styles)),
            gr.Dropdown(choices=category_choices(library)),
            message,
        )

    save_style.click(
        save_as_style,
        inputs=[name, group, picker.search, picker.category, *fields],
        outputs=[picker.styles, picker.category, status],
        **PRIVATE,
    )

    def preview_styles(path: str | None) -> tuple[str, gr.Button]:
        text, ready = preview_style_file(library, path)
        return text, gr.Button(visible=ready)

    style_file.upload(
        preview_styles, inputs=style_file, outputs=[style_file_preview, import_styles], **QUIET
    )
    style_file.clear(
        lambda: ("", gr.Button(visible=False)),
        outputs=[style_file_preview, import_styles],
        **QUIET,
    )

    def import_previewed(path: str | None, query: str, category: str, chosen: list[str]):
        try:
            message = import_style_file(library, path)
        except StyleError as exc:
            gr.Warning(shown(exc))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"⚠ {exc}"
        gr.Info(message)
        return (
            gr.Dropdown(choices=style_choices(library, query, category, chosen or [])),
            gr.Dropdown(choices=category_choices(library)),
            message,
            gr.Button(visible=False),
            message,
        )

    import_styles.click(
        import_previewed,
        inputs=[style_file, picker.search, picker.category, picker.styles],
        outputs=[picker.styles, picker.category, style_file_preview, import_styles, status],
        **PRIVATE,
    )
