"""The style library: curated built-ins, user styles, search, and A1111/Fooocus exchange."""

import json
from dataclasses import dataclass

import pytest

from prompts.compose import clean_prompt
from prompts.styles import (
    JsonUserStyleFile,
    Style,
    StyleError,
    StyleFileError,
    StyleLibrary,
    UnknownStyleError,
    UserStyleStore,
    fooocus_display_name,
    format_a1111_csv,
    format_fooocus_json,
    load_builtin_styles,
    parse_a1111_csv,
    parse_fooocus_json,
    read_a1111_csv,
    read_fooocus_json,
    write_a1111_csv,
    write_fooocus_json,
)
from prompts.weighting import parse_weighted
from prompts.wildcards import has_wildcards

EXPECTED_CATEGORIES = {"Photo", "Cinematic", "Illustration", "Painting", "Anime", "3D", "Craft"}

SAMPLE = [
    Style("Neon Ink", "Mine", "neon ink drawing of {prompt}, glowing lines", "dull, blurry"),
    Style('Quoted, "Comma" Style', "Mine", 'a "quoted" {prompt}, with, commas', ""),
    Style("Booster", "Mine", "sharp focus", "lowres"),
    Style("Ünïcode 雪", "Mine", "{prompt}, 雪景色, café au lait tones", "ぼやけ"),
]


# --- built-in styles -------------------------------------------------------------------------


def test_at_least_100_builtin_styles_with_unique_names():
    styles = load_builtin_styles()
    assert len(styles) >= 100
    names = [s.name.casefold() for s in styles]
    assert len(names) == len(set(names))


def test_builtin_styles_cover_the_main_categories():
    categories = {s.category for s in load_builtin_styles()}
    assert categories >= EXPECTED_CATEGORIES
    assert len(categories) >= 8


def test_builtin_styles_mostly_use_the_placeholder_and_all_have_text():
    styles = load_builtin_styles()
    with_placeholder = [s for s in styles if "{prompt}" in s.prompt]
    assert len(with_placeholder) >= 0.9 * len(styles)
    assert all(s.prompt.strip() and s.negative_prompt.strip() for s in styles)
    assert all(s.prompt.count("{prompt}") <= 1 for s in styles)


def test_builtin_styles_parse_cleanly_and_hold_no_wildcards():
    for style in load_builtin_styles():
        for text in (style.prompt, style.negative_prompt):
            parse_weighted(text)  # raises on unbalanced brackets
            assert not has_wildcards(text), style.name
        assert clean_prompt(style.apply("a cat")) == style.apply("a cat"), style.name


def test_oil_painting_exists_for_the_cli_example():
    style = StyleLibrary().get("Oil Painting")
    assert style.category == "Painting"
    assert style.apply("a lighthouse").startswith("oil painting of a lighthouse")


def test_builtin_folder_with_a_repeated_name_is_refused(tmp_path):
    entry = {"name": "Same", "prompt": "{prompt}", "negative_prompt": ""}
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.json").write_text(json.dumps({"category": stem, "styles": [entry]}))
    with pytest.raises(StyleFileError, match="'Same' more than once"):
        load_builtin_styles(tmp_path)


# --- library: lookup, search, user styles ----------------------------------------------------


def test_lookup_is_case_insensitive_and_unknown_names_suggest_close_ones():
    library = StyleLibrary()
    assert library.get("oil painting").name == "Oil Painting"
    assert "WATERCOLOR" in library
    with pytest.raises(UnknownStyleError, match=r"Unknown style 'Oil Paintng'\. Did you mean"):
        library.get("Oil Paintng")


def test_search_matches_name_or_category_substrings_case_insensitively():
    library = StyleLibrary()
    by_name = library.search("PAINT")
    assert any(s.name == "Oil Painting" for s in by_name)
    assert all("paint" in (s.name + s.category).casefold() for s in by_name)
    anime = library.search("", category="anime")
    assert anime and all(s.category == "Anime" for s in anime)
    assert library.search("photo", category="Painting") == []
    assert library.search("no such style at all") == []
    assert len(library.search()) == len(library)


def test_categories_keep_file_order_photo_first():
    assert StyleLibrary().categories()[0] == "Photo"


def test_user_styles_are_merged_after_builtins_and_replace_same_names():
    builtin = [Style("A", "X"), Style("B", "X", "b {prompt}")]
    mine = Style("b", "Mine", "my b {prompt}")
    library = StyleLibrary(builtin=builtin, user=[mine, Style("C", "Mine")])
    assert library.names() == ["A", "b", "C"]
    assert library.get("B") == mine
    assert library.is_user_style("c") and not library.is_user_style("A")


def test_user_style_records_with_the_four_fields_become_styles():
    @dataclass(frozen=True)
    class StoredStyle:  # the shape of the gallery's user style record
        name: str
        category: str
        prompt: str
        negative_prompt: str

    library = StyleLibrary(builtin=[], user=[StoredStyle("Kept", "User", "kept {prompt}", "x")])
    assert library.get("kept") == Style("Kept", "User", "kept {prompt}", "x")
    assert library.get("kept").apply("a cat") == "kept a cat"


def test_user_styles_may_come_from_a_loader_called_each_time():
    saved: list[Style] = []
    library = StyleLibrary(builtin=[], user=lambda: saved)
    assert len(library) == 0
    saved.append(Style("Later"))
    assert library.names() == ["Later"]


def test_json_user_style_file_saves_replaces_and_deletes(tmp_path):
    store = JsonUserStyleFile.in_data_dir(tmp_path)
    assert isinstance(store, UserStyleStore)
    assert store.list_user_styles() == []
    library = StyleLibrary(builtin=[Style("Base")], user=store)
    library.save_user_style(SAMPLE[0])
    library.save_user_style(SAMPLE[3])
    library.save_user_style(Style("neon ink", "Mine", "v2 {prompt}"))
    assert [s.prompt for s in store.list_user_styles()] == ["v2 {prompt}", SAMPLE[3].prompt]
    assert JsonUserStyleFile(store.path).list_user_styles() == store.list_user_styles()
    library.delete_user_style("NEON INK")
    assert library.names() == ["Base", "Ünïcode 雪"]
    with pytest.raises(UnknownStyleError, match="no user style called 'Base'"):
        library.delete_user_style("Base")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user_styles.json"]


def test_a_library_without_a_store_cannot_save():
    with pytest.raises(StyleError, match="no place to save"):
        StyleLibrary(builtin=[], user=[]).save_user_style(Style("X"))


def test_corrupt_user_style_file_is_a_clear_error(tmp_path):
    path = tmp_path / "user_styles.json"
    path.write_text("{not json")
    with pytest.raises(StyleFileError, match=r"user_styles\.json is not valid JSON"):
        JsonUserStyleFile(path).list_user_styles()


def test_a_style_needs_a_name():
    with pytest.raises(StyleError, match="needs a name"):
        Style("  ")


# --- AUTOMATIC1111 styles.csv ----------------------------------------------------------------


def test_a1111_csv_round_trip_keeps_name_prompt_and_negative(tmp_path):
    path = tmp_path / "styles.csv"
    write_a1111_csv(SAMPLE, path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "name,prompt,negative_prompt"
    assert read_a1111_csv(path, category="Mine") == SAMPLE


def test_a1111_csv_category_column_round_trips_and_defaults_to_imported(tmp_path):
    path = tmp_path / "styles.csv"
    write_a1111_csv([Style("X", "Photo"), Style("Y", "Craft")], path, include_category=True)
    assert [s.category for s in read_a1111_csv(path)] == ["Photo", "Craft"]
    write_a1111_csv([Style("X", "Photo")], path)
    assert read_a1111_csv(path)[0].category == "Imported"


def test_a1111_csv_with_or_without_bom_reads_the_same(tmp_path):
    text = format_a1111_csv(SAMPLE)
    with_bom, without_bom = tmp_path / "bom.csv", tmp_path / "plain.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    without_bom.write_bytes(text.encode("utf-8"))
    assert read_a1111_csv(with_bom) == read_a1111_csv(without_bom)
    assert read_a1111_csv(with_bom)[0].name == "Neon Ink"
    assert parse_a1111_csv("\ufeff" + text)[0].name == "Neon Ink"


def test_a1111_csv_as_a1111_writes_it():
    text = (
        "name,prompt,negative_prompt\r\n"
        '"Cinematic","cinematic still of {prompt}, film grain","cartoon, blurry"\r\n'
        'Old,"no placeholder",\r\n'
    )
    first, second = parse_a1111_csv(text)
    assert first == Style(
        "Cinematic", "Imported", "cinematic still of {prompt}, film grain", "cartoon, blurry"
    )
    assert second.negative_prompt == "" and second.prompt == "no placeholder"


def test_a1111_csv_old_text_column_and_missing_negative_column_are_accepted():
    styles = parse_a1111_csv("name,text\nOld,old {prompt}\n")
    assert styles == [Style("Old", "Imported", "old {prompt}", "")]


def test_a1111_csv_missing_columns_are_named():
    missing_prompt = r"missing the 'prompt' column \(found: name, negative\)"
    with pytest.raises(StyleFileError, match=missing_prompt):
        parse_a1111_csv("name,negative\nA,b\n")
    with pytest.raises(StyleFileError, match="missing the 'name' column"):
        parse_a1111_csv("title,prompt\nA,b\n")
    with pytest.raises(StyleFileError, match="is empty"):
        parse_a1111_csv("")


def test_a1111_csv_is_read_as_loosely_as_a1111_reads_it_with_notes_by_line():
    notes: list[str] = []
    styles = parse_a1111_csv(
        "\ufeffname,prompt,negative_prompt\n"
        "A,a {prompt},na\n"
        ",orphan prompt,\n"
        "# a comment,x,y\n"
        "#Disabled,x,y\n"
        "B,b,nb,extra,values\n"
        "a,a again {prompt},na2\n",
        notes=notes,
    )
    assert [(s.name, s.prompt, s.negative_prompt) for s in styles] == [
        ("a", "a again {prompt}", "na2"),  # the last duplicate wins, in the first one's place
        ("B", "b", "nb"),
    ]
    assert notes == [
        "styles.csv line 3: no style name; skipped.",
        "styles.csv line 6: values beyond the header's columns ignored.",
        "styles.csv line 7: 'a' appears again; the last one is kept.",
    ]


def test_non_utf8_and_missing_files_are_style_file_errors(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,prompt\nCafé,x\n".encode("latin-1"))
    with pytest.raises(StyleFileError, match="not UTF-8"):
        read_a1111_csv(path)
    with pytest.raises(StyleFileError, match="does not exist"):
        read_fooocus_json(tmp_path / "nope.json")


# --- Fooocus style JSON ----------------------------------------------------------------------


def test_fooocus_json_round_trip(tmp_path):
    path = tmp_path / "my_styles.json"
    write_fooocus_json(SAMPLE, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list) and set(data[0]) == {"name", "prompt", "negative_prompt"}
    assert read_fooocus_json(path, category="Mine", display_names=False) == SAMPLE


def test_fooocus_json_category_key_round_trips():
    text = format_fooocus_json([Style("X", "Photo")], include_category=True)
    assert parse_fooocus_json(text)[0].category == "Photo"


def test_fooocus_json_as_fooocus_writes_it_with_bom_and_missing_keys():
    text = '\ufeff[{"name": "Fooocus Sharp", "prompt": "sharp {prompt}"}, {"name": "Bare"}]'
    styles = parse_fooocus_json(text)
    assert styles[0] == Style("Fooocus Sharp", "Imported", "sharp {prompt}", "")
    assert styles[1].prompt == "" and styles[1].negative_prompt == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{'name': 'x'}]", "not valid JSON"),
        (
            '{"name": "x", "prompt": "{prompt}"}',
            "must be a JSON array of styles, not a JSON object",
        ),
        ("[" * 100_000, "not valid JSON|nests too deeply"),
    ],
)
def test_malformed_fooocus_json_is_a_clear_error(text, message):
    with pytest.raises(StyleFileError, match=message):
        parse_fooocus_json(text, source="styles.json")


def test_fooocus_json_skips_bad_entries_and_keeps_the_last_duplicate_with_notes():
    notes: list[str] = []
    text = (
        '["just a string", {"prompt": "no name"}, {"name": "A", "prompt": 3},'
        ' {"name": "sai-3d-model", "prompt": "3d {prompt}", "negative_prompt": "flat"},'
        ' {"name": "SAI 3D Model", "prompt": "later {prompt}"}]'
    )
    styles = parse_fooocus_json(text, source="styles.json", notes=notes)
    assert [(s.name, s.prompt, s.negative_prompt) for s in styles] == [
        ("SAI 3D Model", "later {prompt}", "")
    ]
    assert notes == [
        "styles.json entry 1 must be an object, not a JSON string; skipped.",
        "styles.json entry 2 has no 'name'; skipped.",
        "styles.json entry 3 ('A') has a 'prompt' that is not text; skipped.",
        "styles.json entry 5: 'SAI 3D Model' appears again; the last one is kept.",
    ]


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        # Names from Fooocus's own sdxl_styles files, as its normalize_key shows them.
        ("sai-3d-model", "SAI 3D Model"),
        ("mre-cinematic-dynamic", "MRE Cinematic Dynamic"),
        ("Fooocus Sharp", "Fooocus Sharp"),
        ("ads-advertising", "Ads Advertising"),
        ("artstyle-art deco", "Artstyle Art Deco"),
        ("Futuristic Biomechanical Cyberpunk", "Futuristic Biomechanical Cyberpunk"),
        ("photo-hdr", "Photo Hdr"),
        ("Mk Cross Stitch (sewing)", "Mk Cross Stitch (Sewing)"),
        ("twri-3d render", "Twri 3D Render"),
    ],
)
def test_fooocus_names_are_shown_as_fooocus_shows_them(key, shown):
    assert fooocus_display_name(key) == shown
    entry = json.dumps([{"name": key, "prompt": "{prompt}", "negative_prompt": ""}])
    assert parse_fooocus_json(entry)[0].name == shown
    assert parse_fooocus_json(entry, display_names=False)[0].name == key


def test_builtin_library_survives_both_exports(tmp_path):
    styles = load_builtin_styles()
    write_a1111_csv(styles, tmp_path / "styles.csv", include_category=True)
    write_fooocus_json(styles, tmp_path / "styles.json", include_category=True)
    assert read_a1111_csv(tmp_path / "styles.csv") == styles
    assert read_fooocus_json(tmp_path / "styles.json", display_names=False) == styles
