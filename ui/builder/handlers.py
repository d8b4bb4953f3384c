"""The Builder tab's handlers as plain functions: values in, values out, no widgets.

Each function turns what the page holds (field values, a seed, an uploaded file) into what the
page shows (prompts, token chunks, highlighted segments, Markdown). They are tested directly;
`ui/builder_tab.py` only wires them to widgets. Bad input becomes a visible message, or a
`gr.Warning` / `gr.Error` with one sentence, never a crash.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import gradio as gr

from prompts.compose import ComposedPrompt, compose_prompt
from prompts.diff import diff_prompts
from prompts.recipe import Recipe, RecipeError
from prompts.style_import import apply_style_import, plan_style_import, read_style_file
from prompts.styles import Style, StyleError, StyleLibrary
from prompts.token_budget import BREAK_TEXT, CHUNK_LENGTH, TokenBudget, count_tokens
from prompts.vocabularies import Vocabulary
from prompts.weighting import PromptSyntaxError, parse_weighted
from prompts.wildcards import WildcardError, WildcardLists, has_wildcards, resolve_wildcards
from ui.messages import shown

RECIPE_FIELDS: tuple[str, ...] = tuple(item.name for item in fields(Recipe))
"""The recipe fields in the order the tab passes its widgets to every handler."""

FIELD_LABELS: dict[str, str] = {
    "subject": "Subject",
    "styles": "Styles",
    "details": "Details",
    "medium": "Medium",
    "lighting": "Lighting",
    "camera": "Camera, lens and shot",
    "composition": "Composition",
    "mood": "Mood",
    "colour": "Colour palette",
    "quality": "Quality boosters",
    "negative": "Negative terms",
    "free_text": "Free text",
}

ALL_CATEGORIES = "All categories"
DEFAULT_USER_CATEGORY = "My styles"
MAX_RECIPE_BYTES = 1_000_000
MAX_EXPANSION_SEED = 2**63 - 1

CHUNK_COLORS = ("#60a5fa", "#c084fc", "#34d399", "#fbbf24", "#f472b6", "#22d3ee")
CUT_COLOR = "#f87171"
ADDED_TAG = "added"
EXPANSION_COLOR_MAP = {ADDED_TAG: "#34d399"}

Highlight = tuple[str, str | None]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_SLUG = re.compile(r"[^a-z0-9]+")


# --- recipe <-> widget values ---------------------------------------------------------------


def recipe_from_values(*values: Any) -> Recipe:
    """A recipe from widget values in `RECIPE_FIELDS` order (None counts as empty)."""
    if len(values) != len(RECIPE_FIELDS):
        raise ValueError(f"Expected {len(RECIPE_FIELDS)} recipe values, got {len(values)}.")
    data: dict[str, Any] = {}
    for name, value in zip(RECIPE_FIELDS, values, strict=True):
        if name in Recipe.TEXT_FIELDS:
            data[name] = value or ""
        elif value is None:
            data[name] = ()
        elif isinstance(value, str):  # a single-select widget, or one typed term
            data[name] = (value,) if value.strip() else ()
        else:
            data[name] = tuple(str(item) for item in value)
    return Recipe(**data)


def recipe_values(recipe: Recipe) -> list[Any]:
    """Widget values for a recipe, in `RECIPE_FIELDS` order (lists as lists)."""
    return [
        list(value) if isinstance(value, tuple) else value
        for value in (getattr(recipe, name) for name in RECIPE_FIELDS)
    ]


# --- the live view: composed prompts, token budget, problems --------------------------------


@dataclass(frozen=True)
class TokenBudgetView:
    """The token budget as the page shows it: the prompt text highlighted per chunk, the
    colours of those highlights, and a Markdown summary with one table row per chunk."""

    highlighted: list[Highlight]
    color_map: dict[str, str]
    markdown: str
    token_count: int = 0


@dataclass(frozen=True)
class BuilderView:
    """Everything the live part of the tab shows for one recipe."""

    positive: str
    negative: str
    budget: TokenBudgetView
    message: str
    """Markdown: syntax errors (with their position), unknown styles, dropped repeats."""
    problems: tuple[str, ...] = ()


def chunk_tag(index: int) -> str:
    """The highlight tag of chunk `index` (0-based)."""
    return f"chunk {index + 1}"


def cut_tag(index: int) -> str:
    """The highlight tag of the part of chunk `index` a truncating model never reads."""
    return f"chunk {index + 1} · cut at 77"


def budget_color_map(chunk_count: int) -> dict[str, str]:
    """Colours for the tags of `chunk_count` chunks (kept parts cycle, cut parts are red)."""
    colors: dict[str, str] = {}
    for index in range(max(chunk_count, 1)):
        colors[chunk_tag(index)] = CHUNK_COLORS[index % len(CHUNK_COLORS)]
        colors[cut_tag(index)] = CUT_COLOR
    return colors


def highlight_chunks(budget: TokenBudget) -> list[Highlight]:
    """The prompt's plain text cut into `(text, tag)` pieces: one tag per 75-token chunk, and
    the part past the first 75 tokens (what a model without chunking drops) tagged apart."""
    plain = budget.plain_text
    every_token = [token for chunk in budget.chunks for token in chunk.tokens]
    cut_at = every_token[CHUNK_LENGTH].start if len(every_token) > CHUNK_LENGTH else len(plain)
    cut_at = _word_start(plain, cut_at)
    filled = [chunk for chunk in budget.chunks if chunk.tokens]
    starts = [0] + [_word_start(plain, chunk.tokens[0].start) for chunk in filled[1:]]
    pieces: list[Highlight] = []
    for position, chunk in enumerate(filled):
        start = starts[position]
        end = starts[position + 1] if position + 1 < len(filled) else len(plain)
        split = min(max(cut_at, start), end)
        pieces.append((plain[start:split], chunk_tag(chunk.index)))
        pieces.append((plain[split:end], cut_tag(chunk.index)))
    if not filled and plain.strip():
        pieces.append((plain, None))
    return _merge_same_tags(_untag_breaks([piece for piece in pieces if piece[0]]))


def _word_start(text: str, position: int) -> int:
    """`position` moved back to the start of the word it falls inside (a chunk boundary inside
    "bokeh" shows the whole word in the next chunk, never "bo | keh")."""
    while (
        0 < position < len(text)
        and not text[position - 1].isspace()
        and not (text[position - 1] in ",.;:!?()[]{}|" or text[position] in ",.;:!?()[]{}|")
    ):
        if text[position].isspace():
            break
        position -= 1
    return position


def _merge_same_tags(pieces: list[Highlight]) -> list[Highlight]:
    """Neighbouring pieces with one tag as one piece, so each chunk is labelled once."""
    merged: list[Highlight] = []
    for text, tag in pieces:
        if merged and merged[-1][1] == tag:
            merged[-1] = (merged[-1][0] + text, tag)
        else:
            merged.append((text, tag))
    return merged


def _untag_breaks(pieces: list[Highlight]) -> list[Highlight]:
    """Show each ` BREAK ` the parser put into the plain text as untagged text."""
    out: list[Highlight] = []
    for text, tag in pieces:
        for index, part in enumerate(text.split(BREAK_TEXT)):
            if index:
                out.append((BREAK_TEXT, None))
            if part:
                out.append((part, tag))
    return out


_ENDINGS = {
    "full": "full",
    "comma": "at a comma (the phrase after it moved on whole)",
    "break": "at BREAK",
    "end": "end of prompt",
}


def describe_budget(budget: TokenBudget, negative: TokenBudget | None = None) -> str:
    """Markdown: the token count, one table row per chunk with the words at its edges, the
    words split across a boundary, and what a model that truncates at 77 tokens would cut."""
    count = budget.token_count
    chunks = len(budget.chunks)
    if not count:
        return "**0 tokens**: fill in a subject or pick some terms."
    lines = [
        f"**{count} tokens** in {chunks} chunk{'s' if chunks != 1 else ''} of {CHUNK_LENGTH} "
        "(each sent as 77 with start and end tokens)",
        "",
        "| Chunk | Tokens | First word | Last word | Ends |",
        "|---|---|---|---|---|",
    ]
    for chunk in budget.chunks:
        ending = _ENDINGS[chunk.ended_by]
        if chunk.splits_word:
            ending += f"; splits {_code(chunk.last_word)} in two"
        lines.append(
            f"| {chunk.index + 1} | {chunk.token_count}/{CHUNK_LENGTH} | "
            f"{_code(chunk.first_word)} | {_code(chunk.last_word)} | {ending} |"
        )
    lines.append("")
    for before, after in zip(budget.chunks, budget.chunks[1:], strict=False):
        if before.tokens and after.tokens:
            lines.append(
                f"Boundary {before.index + 1} → {after.index + 1}: "
                f"{_code(before.last_word)} | {_code(after.first_word)}  "
            )
    if budget.cut_words:
        shown = budget.cut_text if len(budget.cut_text) <= 240 else budget.cut_text[:239] + "…"
        lines.append(
            f"**Cut:** a model that truncates at 77 tokens (no chunking) drops "
            f"{len(budget.cut_words)} word{'s' if len(budget.cut_words) != 1 else ''}: "
            f"~~{_escape(shown)}~~"
        )
    elif count:
        lines.append("**Fits one chunk:** every model reads the whole prompt.")
    if negative is not None:
        lines += [
            "",
            f"Negative prompt: **{negative.token_count} tokens** in "
            f"{len(negative.chunks)} chunk{'s' if len(negative.chunks) != 1 else ''}.",
        ]
    return "\n".join(lines).rstrip()


def token_budget_view(prompt: str, tokenizer: Any, negative: str | None = None) -> TokenBudgetView:
    """Count `prompt` (and `negative`) with `tokenizer`; `PromptSyntaxError` propagates."""
    budget = count_tokens(prompt, tokenizer)
    negative_budget = count_tokens(negative, tokenizer) if negative is not None else None
    highlighted = highlight_chunks(budget)
    used = {tag for _, tag in highlighted}
    colors = budget_color_map(len(budget.chunks))
    return TokenBudgetView(
        highlighted=highlighted,
        color_map={tag: color for tag, color in colors.items() if tag in used},
        markdown=describe_budget(budget, negative_budget),
        token_count=budget.token_count,
    )


def syntax_problems(recipe: Recipe) -> list[str]:
    """One Markdown message per field whose weighting syntax is malformed, naming the field,
    the error and its position, with a caret under the spot."""
    problems = []
    for name in RECIPE_FIELDS:
        if name == "styles":
            continue
        value = getattr(recipe, name)
        for text in [value] if isinstance(value, str) else value:
            try:
                parse_weighted(text)
            except PromptSyntaxError as exc:
                problems.append(_syntax_message(FIELD_LABELS[name], text, exc))
    return problems


def _syntax_message(where: str, text: str, error: PromptSyntaxError) -> str:
    start = max(0, error.position - 60)
    snippet = text[start : error.position + 60].replace("\n", " ")
    caret = " " * (error.position - start) + "^"
    prefix = "…" if start else ""
    return (
        f"⚠ **{where}**: {_escape(str(error))}.\n\n"
        f"```\n{prefix}{snippet}\n{' ' * len(prefix)}{caret}\n```"
    )


def compose_view(recipe: Recipe, library: StyleLibrary, tokenizer: Any) -> BuilderView:
    """Compose the recipe and count its tokens. Malformed weighting or an unknown style is
    shown as a message; the prompts are still shown as far as they can be made."""
    problems = syntax_problems(recipe)
    try:
        composed = compose_prompt(recipe, library)
    except StyleError as exc:
        problems.append(f"⚠ **Styles**: {_escape(str(exc))}")
        usable = [name for name in recipe.styles if name in library]
        composed = compose_prompt(Recipe(**{**_fields(recipe), "styles": usable}), library)
    notes = []
    if has_wildcards(composed.positive):
        notes.append(
            "**Note:** wildcards are counted as written; each image seed picks its own words "
            "(see Wildcards preview)."
        )
    if composed.removed_duplicates:
        repeats = ", ".join(_code(term) for term in dict.fromkeys(composed.removed_duplicates))
        notes.append(f"**Note:** repeated terms dropped (the first one is kept): {repeats}")
    try:
        budget = token_budget_view(composed.positive, tokenizer, composed.negative)
    except PromptSyntaxError as exc:
        if not problems:  # a style's template, not a field, is malformed
            text = composed.positive
            try:
                parse_weighted(text)
            except PromptSyntaxError:
                pass
            else:
                text = composed.negative
            problems.append(_syntax_message("Composed prompt", text, exc))
        budget = TokenBudgetView(
            highlighted=[],
            color_map={},
            markdown="Token count waits for the weighting syntax to be fixed.",
        )
    return BuilderView(
        positive=composed.positive,
        negative=composed.negative,
        budget=budget,
        message="\n\n".join(problems + notes),
        problems=tuple(problems),
    )


def _fields(recipe: Recipe) -> dict[str, Any]:
    return {name: getattr(recipe, name) for name in RECIPE_FIELDS}


# --- styles ------------------------------------------------------------------------------------


def category_choices(library: StyleLibrary) -> list[str]:
    """The category filter's choices: everything, then each category in library order."""
    return [ALL_CATEGORIES, *library.categories()]


def style_choices(
    library: StyleLibrary,
    query: str = "",
    category: str | None = None,
    selected: Sequence[str] | None = None,
) -> list[str]:
    """Style names matching the search and category: those whose name or category contains
    the query first, then those whose template does ("neon" finds Cyberpunk), each in library
    order. Styles already selected stay as choices, so narrowing never unselects them."""
    wanted = None if not category or category == ALL_CATEGORIES else category
    in_category = library.search("", wanted)
    needle = (query or "").strip().casefold()
    by_name = [style.name for style in library.search(needle, wanted)]
    by_template = [
        style.name
        for style in in_category
        if needle in style.prompt.casefold() and style.name not in by_name
    ]
    names = by_name + by_template
    kept = [name for name in selected or () if name not in names]
    return names + kept


def style_preview(
    library: StyleLibrary,
    selected: Sequence[str] | None,
    query: str = "",
    category: str | None = None,
) -> str:
    """Markdown: each selected style's template (the `{prompt}` spot in bold) and negative
    prompt; without a selection, how many styles the search matches."""
    if not selected:
        matching = len(style_choices(library, query, category))
        return (
            f"{matching} of {len(library)} styles match. Pick one to see its template; "
            "**{prompt}** marks where your prompt goes."
        )
    blocks = []
    for name in selected:
        try:
            style = library.get(name)
        except StyleError as exc:
            blocks.append(f"⚠ {_escape(str(exc))}")
            continue
        template = _escape(style.prompt).replace(r"\{prompt\}", "**{prompt}**")
        if "{prompt}" not in style.prompt:
            template = "**{prompt}**, " + template
        negative = _escape(style.negative_prompt) if style.negative_prompt else "(none)"
        user = " · your style" if library.is_user_style(style.name) else ""
        blocks.append(
            f"**{_escape(style.name)}** · {_escape(style.category)}{user}\n\n"
            f"{template}\n\n*Negative:* {negative}"
        )
    return "\n\n---\n\n".join(blocks)


def style_from_recipe(recipe: Recipe, library: StyleLibrary, name: str, category: str) -> Style:
    """The builder as a reusable style: the composed prompt with `{prompt}` where the subject
    was, and the composed negative prompt. `StyleError` when the name is empty."""
    if not (name or "").strip():
        raise StyleError("Give the style a name.")
    composed = compose_prompt(Recipe(**{**_fields(recipe), "subject": "{prompt}"}), library)
    return Style(
        name=name,
        category=(category or "").strip() or DEFAULT_USER_CATEGORY,
        prompt=composed.positive,
        negative_prompt=composed.negative,
    )


def save_user_style(recipe: Recipe, library: StyleLibrary, name: str, category: str) -> str:
    """Save the builder as a user style in the library's store; returns a one-line message.

    Raises `StyleError` (a `ValueError`) when the name is empty or nothing can be saved.
    """
    style = style_from_recipe(recipe, library, name, category)
    replaces = name in library and not library.is_user_style(name)
    library.save_user_style(style)
    note = " It replaces the built-in style of that name." if replaces else ""
    return f"Saved style '{style.name}' in {style.category}.{note}"


# --- style files -------------------------------------------------------------------------------

PREVIEW_LIMIT = 40


def _uploaded_name(path: str) -> str:
    """The name the user gave the file (uploads are kept under a temporary folder)."""
    return Path(path).name


def preview_style_file(library: StyleLibrary, path: str | None) -> tuple[str, bool]:
    """Markdown of what importing an A1111 .csv or Fooocus .json style file would add or
    replace, and whether there is anything to import. Nothing is saved."""
    if not path:
        return "", False
    try:
        plan = plan_style_import(library, read_style_file(path, display_name=_uploaded_name(path)))
    except StyleError as exc:
        gr.Warning(shown(exc))
        return f"⚠ {_escape(str(exc))}", False
    lines = [f"**{_escape(plan.summary())}**"]
    for label, styles in (
        ("New", plan.added),
        ("Replaces your style", plan.replaced_user),
        ("Replaces the built-in style", plan.replaced_builtin),
    ):
        listed = ", ".join(_code(style.name) for style in styles[:PREVIEW_LIMIT])
        more = f" and {len(styles) - PREVIEW_LIMIT} more" if len(styles) > PREVIEW_LIMIT else ""
        if styles:
            lines.append(f"- {label}: {listed}{more}")
    lines += [f"- _{_escape(note)}_" for note in plan.notes[:PREVIEW_LIMIT]]
    if not plan.changes:
        lines.append("Nothing to import: every style is already here as it is.")
    return "\n".join(lines), bool(plan.changes)


def import_style_file(library: StyleLibrary, path: str | None) -> str:
    """Import the previewed style file into the user's styles; a one-line message."""
    if not path:
        raise StyleError("Choose a style file first.")
    plan = plan_style_import(library, read_style_file(path, display_name=_uploaded_name(path)))
    saved = apply_style_import(library, plan)
    return f"Imported {saved} style(s) from {plan.source.name}."


# --- expansion ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpansionView:
    """What Expand did: the prompt with the added segment tagged, the final text, a note."""

    highlighted: list[Highlight]
    final: str
    added_terms: tuple[str, ...]
    note: str


class ExpansionModel:
    """The page's expansion language model: resolved (hub cache, hub, else demo LM) on first
    use and kept, so a missing hub costs its short timeout once, not on every click."""

    def __init__(self, models_dir: str | Path, model_id: str | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.model_id = model_id
        self._lock = threading.Lock()
        self._expander: Any = None
        self._is_demo = False

    def get(self) -> tuple[Any, bool]:
        """`(PromptExpander, is_demo)`, resolving and loading the model the first time."""
        from engine.prompt_expansion import (
            DEFAULT_EXPANSION_MODEL,
            PromptExpander,
            resolve_expansion_model,
        )

        with self._lock:
            if self._expander is None:
                ref, is_demo = resolve_expansion_model(
                    self.models_dir, self.model_id or DEFAULT_EXPANSION_MODEL
                )
                expander = PromptExpander(ref)
                expander.load()
                self._expander, self._is_demo = expander, is_demo or expander.is_demo
            return self._expander, self._is_demo


def expansion_seed(seed: Any) -> int:
    """The seed box's value as a valid expansion seed; `gr.Error` otherwise."""
    if seed is None or seed == "":
        raise gr.Error("Enter a seed for the expansion (any whole number from 0).", duration=None)
    value = float(seed)
    if not value.is_integer() or not 0 <= value <= MAX_EXPANSION_SEED:
        raise gr.Error(
            f"The expansion seed must be a whole number from 0 to {MAX_EXPANSION_SEED}.",
            duration=None,
        )
    return int(value)


def expand_recipe(
    recipe: Recipe,
    library: StyleLibrary,
    seed: Any,
    model: ExpansionModel,
    progress: Callable[[float, str], Any] | None = None,
) -> ExpansionView:
    """Expand the composed prompt with the language model from `seed`: the added terms come
    back as their own segment tagged "added". `gr.Error` on an empty prompt or a bad seed."""
    from engine.errors import ModelLoadError

    seed_value = expansion_seed(seed)
    prompt = _compose_or_error(recipe, library).positive
    if not prompt.strip():
        raise gr.Error("Fill in a subject or pick some terms before expanding.", duration=None)
    if progress is not None:
        progress(0.1, "Loading the language model")
    try:
        expander, is_demo = model.get()
        if progress is not None:
            progress(0.5, "Writing terms")
        result = expander.expand(prompt, seed_value)
    except (ModelLoadError, ValueError) as exc:
        raise gr.Error(shown(exc), duration=None) from None
    if result.added_terms:
        base = result.final[: len(result.final) - len(result.added_text)]
        highlighted: list[Highlight] = [(base, None), (result.added_text, ADDED_TAG)]
        added = ", ".join(_code(term) for term in result.added_terms)
        summary = f"Added {len(result.added_terms)} terms with seed {seed_value}: {added}."
    else:
        highlighted = [(result.final, None)]
        summary = f"The model added no new terms with seed {seed_value}; try another seed."
    if is_demo:
        source = (
            "**Demo language model** (random weights): the added terms are random words from "
            "the expansion vocabulary, not a trained model's suggestions. A real prompt model "
            "in the Hugging Face cache is used instead when one is there."
        )
    else:
        source = f"Model: {_code(result.model or '')}."
    return ExpansionView(
        highlighted, result.final, tuple(result.added_terms), f"{summary}\n\n{source}"
    )


def append_to_free_text(free_text: str | None, terms: Sequence[str]) -> str:
    """The free text with the expansion's terms appended (each once)."""
    base = (free_text or "").strip().rstrip(",").strip()
    new = [term for term in terms if term.strip()]
    return ", ".join([base, *new] if base else new)


# --- wildcards ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WildcardPreview:
    """Both prompts with wildcards resolved for one seed, and the picks as a Markdown table."""

    positive: str
    negative: str
    markdown: str
    choices: tuple[tuple[str, str], ...] = field(default=())


def preview_wildcards(
    recipe: Recipe, library: StyleLibrary, seed: Any, lists: WildcardLists
) -> WildcardPreview:
    """Resolve the composed prompts' wildcards as an image with `seed` gets them (image k of a
    batch uses seed + k). An unknown list or a bad seed is a message, not an error."""
    composed = _compose_or_error(recipe, library)
    if seed is None or seed == "" or not float(seed).is_integer():
        raise gr.Error("Enter a whole-number seed to preview the wildcards.", duration=None)
    seed_value = int(float(seed))
    if not (has_wildcards(composed.positive) or has_wildcards(composed.negative)):
        return WildcardPreview(
            composed.positive,
            composed.negative,
            "No wildcards in this prompt. Write `{red|green|blue}` or `__animal__` "
            f"(lists: {', '.join(_code(name) for name in lists.names()[:12])}).",
        )
    try:
        positive = resolve_wildcards(composed.positive, seed_value, lists)
        negative = resolve_wildcards(composed.negative, seed_value, lists)
    except WildcardError as exc:
        return WildcardPreview("", "", f"⚠ {_escape(str(exc))}")
    choices = tuple((c.source, c.chosen) for c in positive.choices + negative.choices)
    rows = [f"| {_code(source)} | {_code(chosen)} |" for source, chosen in choices]
    markdown = "\n".join(
        [
            f"Seed **{seed_value}** picks (an image with this seed gets exactly these words; "
            "image *k* of a batch uses seed + *k*):",
            "",
            "| Wildcard | Picked |",
            "|---|---|",
            *rows,
        ]
    )
    return WildcardPreview(positive.text, negative.text, markdown, choices)


# --- compare text ------------------------------------------------------------------------------


def diff_view(previous: str | None, current: str | None) -> tuple[list[Highlight], str]:
    """The current prompt against a pasted previous one: `(text, tag)` pieces with tags "+",
    "-" and "~" (see `prompts.diff`), and a one-line summary."""
    if not (previous or "").strip():
        return [], "Paste a previous prompt to see what changed."
    diff = diff_prompts(previous or "", current or "")
    if diff.is_same:
        return diff.highlighted(), "Same terms, same weights."
    counts = [
        (len(diff.added), "added"),
        (len(diff.removed), "removed"),
        (len(diff.reweighted), "reweighted"),
        (len(diff.changed), "changed"),
    ]
    summary = ", ".join(f"{count} {label}" for count, label in counts if count)
    return diff.highlighted(), f"{summary} (green added, red removed, orange reweighted)."


# --- recipe files ------------------------------------------------------------------------------


def recipe_filename(recipe: Recipe) -> str:
    """A file name from the subject, e.g. `recipe-a-lighthouse-at-dusk.json`."""
    slug = _SLUG.sub("-", recipe.subject.casefold()).strip("-")[:48].strip("-")
    return f"recipe-{slug or 'untitled'}.json"


def save_recipe_file(recipe: Recipe, folder: str | Path | None = None) -> Path:
    """Write the recipe JSON into `folder` (a new temporary folder by default); its path."""
    target = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="recipe-"))
    target.mkdir(parents=True, exist_ok=True)
    path = target / recipe_filename(recipe)
    path.write_text(recipe.to_json() + "\n", encoding="utf-8")
    return path


def read_recipe_file(path: str | Path | None, library: StyleLibrary) -> tuple[Recipe, str]:
    """The recipe in an uploaded file and a one-line message; styles the library lacks are
    left out (and named in the message). `RecipeError` when the file is not a recipe."""
    if not path:
        raise RecipeError("No recipe file was uploaded.")
    file = Path(getattr(path, "name", path))
    try:
        if file.stat().st_size > MAX_RECIPE_BYTES:
            raise RecipeError(f"{file.name} is larger than 1 MB; a recipe is a small JSON file.")
        text = file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RecipeError(f"Cannot read {file.name}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise RecipeError(f"{file.name} is not UTF-8 text; a recipe is a JSON file.") from None
    recipe = Recipe.from_json(text)
    missing = [name for name in recipe.styles if name not in library]
    if missing:
        kept = [name for name in recipe.styles if name in library]
        recipe = Recipe(**{**_fields(recipe), "styles": [library.get(n).name for n in kept]})
        names = ", ".join(f"'{name}'" for name in missing)
        return recipe, f"Loaded {file.name}; unknown styles left out: {names}."
    recipe = Recipe(**{**_fields(recipe), "styles": [library.get(n).name for n in recipe.styles]})
    return recipe, f"Loaded {file.name}."


def load_recipe_upload(path: str | Path | None, library: StyleLibrary) -> list[Any]:
    """What the upload button puts on the page: every field's value, then a status line.

    A file that is not a recipe raises a `gr.Warning` and leaves every field as it was
    (`gr.skip()`), with the reason in the status line.
    """
    try:
        recipe, message = read_recipe_file(path, library)
    except RecipeError as exc:
        gr.Warning(shown(exc))
        return [gr.skip() for _ in RECIPE_FIELDS] + [f"⚠ {_escape(str(exc))}"]
    if "unknown styles" in message:
        gr.Warning(shown(message))
    return [*recipe_values(recipe), _escape(message)]


# --- vocabularies ------------------------------------------------------------------------------


def vocabulary_choices(vocabularies: dict[str, Vocabulary], name: str) -> list[str]:
    """A picker's terms (empty when there is no such vocabulary, e.g. for details)."""
    vocabulary = vocabularies.get(name)
    return vocabulary.terms if vocabulary is not None else []


def add_term_group(
    vocabularies: dict[str, Vocabulary], name: str, group: str | None, current: Sequence[str] | None
) -> list[str]:
    """The picker's value with every term of one ready-made group added (each once)."""
    terms = list(current or ())
    if group:
        vocabulary = vocabularies[name]
        terms += [term for term in vocabulary.group(group) if term not in terms]
    return terms


# --- sending to Generate -----------------------------------------------------------------------


def prompts_for_generate(
    recipe: Recipe, library: StyleLibrary, expanded: str | None = None
) -> tuple[str, str]:
    """The positive and negative prompts to send to the Generate tab: the composed ones, or
    the expansion's final prompt when `expanded` is given. `gr.Error` when there is nothing."""
    composed = _compose_or_error(recipe, library)
    if expanded is not None:
        if not expanded.strip():
            raise gr.Error(
                "Expand the prompt first; there is no expanded prompt to send yet.", duration=None
            )
        return expanded, composed.negative
    if not composed.positive.strip():
        raise gr.Error(
            "The composed prompt is empty; fill in a subject or pick some terms.", duration=None
        )
    return composed.positive, composed.negative


# --- helpers -----------------------------------------------------------------------------------


def _compose_or_error(recipe: Recipe, library: StyleLibrary) -> ComposedPrompt:
    try:
        return compose_prompt(recipe, library)
    except StyleError as exc:
        raise gr.Error(shown(exc), duration=None) from None


def _escape(text: str) -> str:
    """Text shown literally inside Markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")


def _code(text: str) -> str:
    """Text as a Markdown code span, safe inside a table cell."""
    if not text:
        return "—"
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"
