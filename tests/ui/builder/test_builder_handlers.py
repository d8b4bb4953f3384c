"""The Builder tab's handlers, called as plain functions with the real CLIP tokenizer, the real
style library and the demo language model (no browser, no server)."""

import json
import warnings

import gradio as gr
import pytest

from engine.tokenizer import load_clip_tokenizer
from prompts.compose import compose_prompt
from prompts.recipe import Recipe
from prompts.styles import JsonUserStyleFile, Style, StyleError, StyleLibrary
from prompts.vocabularies import load_vocabularies
from prompts.wildcards import load_wildcard_lists
from ui.builder.handlers import (
    ADDED_TAG,
    RECIPE_FIELDS,
    ExpansionModel,
    add_term_group,
    append_to_free_text,
    compose_view,
    diff_view,
    expand_recipe,
    import_style_file,
    load_recipe_upload,
    preview_style_file,
    preview_wildcards,
    prompts_for_generate,
    recipe_from_values,
    recipe_values,
    save_recipe_file,
    save_user_style,
    style_choices,
    style_preview,
    token_budget_view,
)

LIGHTHOUSE = Recipe(
    subject="a lighthouse on a rocky cliff",
    styles=("Oil Painting",),
    lighting=("golden hour",),
    negative=("blurry",),
)

# About 120 CLIP tokens once composed with the Oil Painting style.
LONG = Recipe(
    subject="a lighthouse on a rocky cliff above a stormy sea",
    styles=("Oil Painting",),
    details=(
        "crashing waves",
        "seagulls circling the tower",
        "weathered stone",
        "moss on the rocks",
        "a keeper's cottage with warm windows",
    ),
    lighting=("golden hour", "rim light"),
    camera=("wide shot",),
    mood=("serene",),
    colour=("teal and orange",),
    free_text="dramatic clouds, wild grass bending in the wind, a narrow path up the cliff, "
    "a fishing boat, sea spray, sunbeams breaking through the clouds, long shadows across the "
    "rocks, a distant storm on the horizon",
    quality=("highly detailed", "masterpiece"),
)


@pytest.fixture(scope="module")
def library():
    return StyleLibrary()


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer()


@pytest.fixture(scope="module")
def expansion_model(models_dir):
    return ExpansionModel(models_dir, "demo")


# --- recipe values and the live view ----------------------------------------------------------


def test_widget_values_become_a_recipe_and_back():
    values = recipe_values(LIGHTHOUSE)
    assert len(values) == len(RECIPE_FIELDS)
    assert recipe_from_values(*values) == LIGHTHOUSE
    empty = recipe_from_values(*[None] * len(RECIPE_FIELDS))
    assert empty == Recipe()


def test_the_live_view_composes_styles_and_counts_tokens(library, tokenizer):
    view = compose_view(LIGHTHOUSE, library, tokenizer)
    assert view.positive == (
        "oil painting of a lighthouse on a rocky cliff, golden hour, rich layered brushstrokes, "
        "visible canvas texture, luminous glazes, classical composition"
    )
    assert view.negative.startswith("blurry, photograph, photorealistic")
    assert view.budget.token_count == 28
    assert "**28 tokens** in 1 chunk of 75" in view.budget.markdown
    assert "Fits one chunk" in view.budget.markdown
    assert [tag for _, tag in view.budget.highlighted] == ["chunk 1"]
    assert view.budget.color_map == {"chunk 1": "#60a5fa"}
    # "blurry" came from the recipe and again from the style's negative prompt.
    assert "repeated terms dropped" in view.message and "`blurry`" in view.message
    assert not view.problems


def test_a_long_prompt_shows_two_chunks_the_boundary_word_and_what_truncation_cuts(
    library, tokenizer
):
    view = compose_view(LONG, library, tokenizer)
    budget = view.budget
    assert budget.token_count == 118
    assert "**118 tokens** in 2 chunks of 75" in budget.markdown
    assert "| 1 | 75/75 | `oil` | `boat` | full |" in budget.markdown
    assert "| 2 | 43/75 | `sea` | `composition` | end of prompt |" in budget.markdown
    assert "Boundary 1 → 2: `boat` | `sea`" in budget.markdown
    assert "drops 31 words: ~~sea spray, sunbeams" in budget.markdown
    # The picture: chunk 1's text, then chunk 2's, which a truncating model never reads.
    texts = {tag: text for text, tag in budget.highlighted}
    assert list(texts) == ["chunk 1", "chunk 2 · cut at 77"]
    assert texts["chunk 1"].endswith("a fishing boat, ")
    assert texts["chunk 2 · cut at 77"].startswith("sea spray")
    assert "".join(text for text, _ in budget.highlighted) == view.positive


def test_comma_padding_keeps_the_start_of_chunk_two_readable_by_truncating_models(tokenizer):
    prompt = "cat " * 60 + "dog, red fox, snowy forest at dawn, " + "cat " * 30
    view = token_budget_view(prompt, tokenizer)
    # Chunk 1 is full at the 5th cat after the last comma, so those five move to chunk 2
    # (70 + 30 tokens); a model reading only 75 tokens still sees them.
    assert [tag for _, tag in view.highlighted] == ["chunk 1", "chunk 2", "chunk 2 · cut at 77"]
    assert view.highlighted[0][0].endswith("snowy forest at dawn, ")
    assert view.highlighted[1] == ("cat cat cat cat cat ", "chunk 2")
    assert "| 1 | 70/75 | `cat` | `dawn` | at a comma" in view.markdown


def test_break_starts_a_new_chunk_and_is_shown_untagged(tokenizer):
    view = token_budget_view("a red fox BREAK snowy forest", tokenizer)
    assert view.highlighted == [
        ("a red fox", "chunk 1"),
        (" BREAK ", None),
        ("snowy forest", "chunk 2"),
    ]
    assert "at BREAK" in view.markdown


def test_a_weighting_error_names_the_field_and_the_position(library, tokenizer):
    recipe = Recipe(subject="a red fox", lighting=("golden hour", "(rim light"))
    view = compose_view(recipe, library, tokenizer)
    assert view.problems and "**Lighting**" in view.message
    assert "never closed at position 0" in view.message
    assert "```\n(rim light\n^\n```" in view.message
    assert view.positive == "a red fox, golden hour, (rim light"  # still shown
    assert view.budget.highlighted == []
    assert "waits for the weighting syntax" in view.budget.markdown


def test_an_unknown_style_is_a_message_and_the_rest_still_composes(library, tokenizer):
    view = compose_view(Recipe(subject="a fox", styles=("Oil Paintng",)), library, tokenizer)
    assert "Unknown style 'Oil Paintng'" in view.message
    assert "Did you mean" in view.message
    assert view.positive == "a fox"


# --- styles -----------------------------------------------------------------------------------


def test_style_search_narrows_by_name_category_and_template(library):
    every = style_choices(library)
    assert len(every) == len(library) > 100
    painted = style_choices(library, "paint")
    assert "Oil Painting" in painted and "Cyberpunk" not in painted
    assert len(painted) < len(every)
    in_photo = style_choices(library, "", "Photo")
    assert in_photo and all(library.get(name).category == "Photo" for name in in_photo)
    neon = style_choices(library, "neon")
    assert "Cyberpunk" in neon  # its template mentions neon, its name does not


def test_narrowing_keeps_what_is_already_selected(library):
    choices = style_choices(library, "film", "Cinematic", ["Oil Painting"])
    assert choices[-1] == "Oil Painting"
    assert "Watercolor" not in choices


def test_the_style_preview_shows_the_template_with_the_prompt_spot(library):
    preview = style_preview(library, ["Oil Painting"])
    assert "**Oil Painting** · Painting" in preview
    assert "oil painting of **{prompt}**" in preview
    assert "*Negative:* photograph" in preview
    assert "styles match" in style_preview(library, [], "paint")


def test_the_builder_saved_as_a_style_reproduces_its_prompt_for_any_subject(tmp_path):
    library = StyleLibrary(user=JsonUserStyleFile(tmp_path / "user_styles.json"))
    message = save_user_style(LIGHTHOUSE, library, "Golden Oil", "Mine")
    assert message == "Saved style 'Golden Oil' in Mine."
    style = library.get("Golden Oil")
    assert style.category == "Mine" and "{prompt}" in style.prompt
    assert "Golden Oil" in style_choices(library, "golden")
    for subject in ("a lighthouse on a rocky cliff", "a red fox"):
        original = compose_prompt(Recipe(**{**LIGHTHOUSE.__dict__, "subject": subject}), library)
        again = compose_prompt(Recipe(subject=subject, styles=("Golden Oil",)), library)
        assert (again.positive, again.negative) == (original.positive, original.negative)


def test_saving_a_style_needs_a_name_and_a_store(tmp_path):
    library = StyleLibrary(user=JsonUserStyleFile(tmp_path / "user_styles.json"))
    with pytest.raises(StyleError, match="name"):
        save_user_style(LIGHTHOUSE, library, "  ", "Mine")
    with pytest.raises(StyleError, match="no place to save"):
        save_user_style(LIGHTHOUSE, StyleLibrary(), "Golden Oil", "Mine")
    assert not (tmp_path / "user_styles.json").exists()


def test_a_style_file_is_previewed_before_anything_is_saved(tmp_path):
    library = StyleLibrary(user=JsonUserStyleFile(tmp_path / "user_styles.json"))
    library.save_user_style(Style("Neon Ink", "Mine", "neon {prompt}", ""))
    upload = tmp_path / "gradio-upload" / "styles.csv"
    upload.parent.mkdir()
    upload.write_text(
        "\ufeffname,prompt,negative_prompt\n"
        "Neon Ink,brighter neon {prompt},dull\n"
        "Oil Painting,my own oil {prompt},photo\n"
        "<b>Bold</b> new,bold {prompt},,extra\n"
        "# skipped,x,y\n",
        encoding="utf-8",
    )
    text, ready = preview_style_file(library, str(upload))
    assert ready
    assert "1 new, 1 replacing your styles, 1 replacing built" in text
    assert "- New: `<b>Bold</b> new`" in text  # shown as code: never rendered as HTML
    assert "- Replaces your style: `Neon Ink`" in text
    assert "- Replaces the built-in style: `Oil Painting`" in text
    assert "values beyond the header" in text
    assert library.get("Neon Ink").prompt == "neon {prompt}"  # nothing saved yet

    assert import_style_file(library, str(upload)) == "Imported 3 style(s) from styles.csv."
    assert library.get("Neon Ink").prompt == "brighter neon {prompt}"
    assert library.get("Oil Painting").prompt == "my own oil {prompt}"
    text, ready = preview_style_file(library, str(upload))
    assert not ready and "Nothing to import" in text

    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.warns(UserWarning, match="A1111 .csv or Fooocus .json"):
        text, ready = preview_style_file(library, str(bad))
    assert text.startswith("⚠") and not ready


# --- expansion --------------------------------------------------------------------------------


def test_expansion_is_seeded_and_its_terms_are_their_own_segment(library, expansion_model):
    recipe = Recipe(subject="a red fox in the snow")
    first = expand_recipe(recipe, library, 7, expansion_model)
    again = expand_recipe(recipe, library, 7, expansion_model)
    assert first == again
    assert first.added_terms
    base, added = first.highlighted
    assert base == ("a red fox in the snow, ", None)
    assert added == (", ".join(first.added_terms), ADDED_TAG)
    assert first.final == base[0] + added[0]
    assert "Demo language model" in first.note and "random" in first.note
    others = {
        expand_recipe(recipe, library, seed, expansion_model).added_terms for seed in range(4)
    }
    assert len(others) > 1


def test_expansion_needs_a_prompt_and_a_valid_seed(library, expansion_model):
    with pytest.raises(gr.Error, match="subject"):
        expand_recipe(Recipe(), library, 1, expansion_model)
    with pytest.raises(gr.Error, match="seed"):
        expand_recipe(LIGHTHOUSE, library, -1, expansion_model)
    with pytest.raises(gr.Error, match="seed"):
        expand_recipe(LIGHTHOUSE, library, None, expansion_model)


def test_kept_expansion_terms_join_the_free_text():
    assert append_to_free_text("", ["rococo", "starry sky"]) == "rococo, starry sky"
    assert append_to_free_text("mist, ", ["rococo"]) == "mist, rococo"


# --- wildcards --------------------------------------------------------------------------------


def test_the_wildcard_preview_is_the_same_for_the_same_seed(library, tmp_path):
    (tmp_path / "hat.txt").write_text("top hat\nberet\nstraw hat\n")
    lists = load_wildcard_lists(tmp_path)
    recipe = Recipe(subject="a {red|green|blue|golden} fox wearing a __hat__", negative=("{a|b}",))
    first = preview_wildcards(recipe, library, 11, lists)
    assert first == preview_wildcards(recipe, library, 11, lists)
    assert "{" not in first.positive and "__" not in first.positive
    assert [source for source, _ in first.choices] == [
        "{red|green|blue|golden}",
        "__hat__",
        "{a|b}",
    ]
    assert first.choices[1][1] in {"top hat", "beret", "straw hat"}
    assert first.negative in {"a", "b"}
    assert "| `__hat__` |" in first.markdown and "Seed **11**" in first.markdown
    seen = {preview_wildcards(recipe, library, seed, lists).positive for seed in range(8)}
    assert len(seen) > 1


def test_the_wildcard_preview_explains_unknown_lists_and_plain_prompts(library):
    lists = load_wildcard_lists(None)
    missing = preview_wildcards(Recipe(subject="a __no_such_list__"), library, 1, lists)
    assert "Unknown wildcard" in missing.markdown and "no\\_such\\_list" in missing.markdown
    plain = preview_wildcards(LIGHTHOUSE, library, 1, lists)
    assert "No wildcards" in plain.markdown
    with pytest.raises(gr.Error, match="seed"):
        preview_wildcards(LIGHTHOUSE, library, None, lists)


# --- compare text -----------------------------------------------------------------------------


def test_the_diff_tags_added_removed_and_reweighted_terms():
    pieces, summary = diff_view(
        "a red fox, (snow:1.2), blurry", "a red fox, (snow:1.4), forest, golden hour"
    )
    tagged = {text: tag for text, tag in pieces if tag}
    assert tagged == {"(snow:1.4)": "~", "blurry": "-", "forest": "+", "golden hour": "+"}
    assert summary.startswith("2 added, 1 removed, 1 reweighted")
    assert diff_view("", "a fox") == ([], "Paste a previous prompt to see what changed.")
    assert diff_view("a fox", "a fox")[1] == "Same terms, same weights."


# --- recipe files -----------------------------------------------------------------------------


def test_a_saved_recipe_loads_back_through_the_upload_handler(library, tmp_path):
    path = save_recipe_file(LONG, tmp_path)
    assert path.name == "recipe-a-lighthouse-on-a-rocky-cliff-above-a-stormy-sea.json"
    assert json.loads(path.read_text())["version"] == 1
    *values, status = load_recipe_upload(str(path), library)
    assert recipe_from_values(*values) == LONG
    assert "Loaded" in status


def test_unknown_styles_in_a_recipe_are_left_out_with_a_warning(library, tmp_path):
    path = tmp_path / "old.json"
    data = {**LIGHTHOUSE.to_dict(), "styles": ["oil painting", "Gone Style"]}
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="unknown styles left out: 'Gone Style'"):
        *values, _ = load_recipe_upload(str(path), library)
    assert recipe_from_values(*values).styles == ("Oil Painting",)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"version": 1, "colour_grade": []}', "unknown field 'colour_grade'"),
        ("[1, 2]", "must be a JSON object"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_a_bad_recipe_file_warns_and_changes_nothing(library, tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.warns(UserWarning, match=reason):
        *values, status = load_recipe_upload(str(path), library)
    assert values == [gr.skip()] * len(RECIPE_FIELDS)
    assert status.startswith("⚠")


def test_no_upload_is_a_warning_too(library):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        *_, status = load_recipe_upload(None, library)
    assert "No recipe file" in str(caught[0].message) and "No recipe file" in status


# --- pickers and sending ----------------------------------------------------------------------


def test_a_ready_made_negative_set_adds_its_terms_once():
    vocabularies = load_vocabularies()
    anatomy = vocabularies["negative"].group("Anatomy")
    terms = add_term_group(vocabularies, "negative", "Anatomy", ["blurry", anatomy[0]])
    assert terms == ["blurry", *anatomy]


def test_send_to_generate_gives_the_composed_prompts_or_a_clear_error(library):
    composed = compose_prompt(LIGHTHOUSE, library)
    assert prompts_for_generate(LIGHTHOUSE, library) == (composed.positive, composed.negative)
    expanded = composed.positive + ", starry sky"
    assert prompts_for_generate(LIGHTHOUSE, library, expanded) == (expanded, composed.negative)
    with pytest.raises(gr.Error, match="empty"):
        prompts_for_generate(Recipe(), library)
    with pytest.raises(gr.Error, match="Expand the prompt first"):
        prompts_for_generate(LIGHTHOUSE, library, "")


def test_a_chunk_boundary_inside_a_word_shows_the_word_whole_and_each_chunk_once():
    from engine.tokenizer import load_clip_tokenizer
    from prompts.token_budget import count_tokens
    from ui.builder.handlers import highlight_chunks

    budget = count_tokens("a " * 74 + "bokeh lights", load_clip_tokenizer())
    assert budget.chunks[0].splits_word  # the tokenizer really cuts "bo|keh" at 75 tokens
    pieces = highlight_chunks(budget)
    assert pieces[-1][0] == "bokeh lights"
    assert not any(text.startswith("keh") or text.endswith("bo") for text, _ in pieces)
    tags = [tag for _, tag in pieces if tag]
    assert len(tags) == len(set(tags)), "no chunk is labelled twice"


def test_picker_examples_name_only_terms_in_their_list():
    from prompts.vocabularies import load_vocabularies
    from ui.builder.handlers import vocabulary_choices
    from ui.builder.tab import PICKER_ROWS, picker_hint

    vocabularies = load_vocabularies()
    for row in PICKER_ROWS:
        for _name, vocabulary, example in row:
            choices = vocabulary_choices(vocabularies, vocabulary)
            hint = picker_hint(choices, example)
            if choices:
                assert hint.removeprefix("e.g. ") in choices, (vocabulary, hint)
            else:
                assert not hint.startswith("e.g.")
    assert picker_hint(["a", "b"], "not there") == "e.g. a"
