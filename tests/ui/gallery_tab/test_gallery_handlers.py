"""The Gallery tab's handlers, called as plain functions on a real gallery (SQLite file and
image folder in a temporary directory; no browser, no server)."""

import csv
import io
import json
import warnings
import zipfile
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from gallery.image_reader import read_image_metadata
from gallery.metadata import embed_metadata
from gallery.owners import LOCAL_OWNER
from gallery.records import NewGeneration
from gallery.store import GalleryStore
from ui.gallery_tab.handlers import (
    ANY,
    PAGE_SIZE,
    UNRATED,
    add_tag,
    compare_rows,
    delete_generation,
    delete_generations,
    describe_png,
    detail_view,
    download_as,
    export_generations,
    import_pngs,
    model_choices,
    picker_view,
    recall_values,
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

NO_FILTERS = ("", ANY, ANY, 0, False, "")


def generation(prompt: str, seed: int, model: str = "demo", colour: str = "red", **more):
    return NewGeneration(
        prompt=prompt,
        negative_prompt=more.pop("negative_prompt", "blurry"),
        seed=seed,
        steps=more.pop("steps", 20),
        guidance_scale=more.pop("guidance_scale", 7.5),
        scheduler=more.pop("scheduler", "DPM++ 2M Karras"),
        model_id=model,
        model_hash="abcdef0123",
        image=Image.new("RGB", (16, 24), colour),
        **more,
    )


@pytest.fixture
def store(tmp_path):
    with GalleryStore.open(tmp_path / "gallery") as opened:
        yield opened.for_owner(LOCAL_OWNER)


@pytest.fixture
def three(store):
    """A lighthouse (oldest), a forest and a stormy lighthouse (newest); returns their ids."""
    return store.record_generations(
        [
            generation("a lighthouse at dusk", 11, "org/sd-turbo", "red", tags=("sea",)),
            generation("a misty forest", 22, "demo", "green"),
            generation("a lighthouse in a storm", 33, "demo", "blue"),
        ]
    )


# --- search, filters, pages ------------------------------------------------------------------


def test_search_shows_newest_first_with_seed_and_model_captions(store, three):
    view = search_gallery(store, *NO_FILTERS)
    assert view.ids == list(reversed(three))
    assert [caption for _, caption in view.items] == [
        "33 · demo · a lighthouse in a storm",
        "22 · demo · a misty forest",
        "11 · sd-turbo · a lighthouse at dusk",
    ]
    assert all(Path(path).is_file() for path, _ in view.items)
    assert view.status == "**3** generations · page 1 of 1"
    assert (view.has_previous, view.has_next) == (False, False)


def test_a_card_shows_favourite_rating_and_a_prompt_excerpt(store, three):
    store.set_rating(three[0], 3)
    store.set_favourite(three[0], True)
    (long_one,) = store.record_generations([generation("word " * 30, 44)])
    captions = dict(
        zip(
            search_gallery(store, *NO_FILTERS).ids,
            (c for _, c in search_gallery(store, *NO_FILTERS).items),
            strict=True,
        )
    )
    assert captions[three[0]] == "♥ ★★★ 11 · sd-turbo · a lighthouse at dusk"
    assert captions[long_one].endswith("…") and len(captions[long_one]) < 70


def test_bulk_tag_delete_and_compare_rows(store, three):
    assert tag_generations(store, three[:2], " Pair ") == "Tagged 2 generations with `pair`."
    assert "pair" in store.get(three[1]).tags
    assert compare_rows(store, three[:2]) == [
        [f"#{three[0]}", "a lighthouse at dusk"],
        [f"#{three[1]}", "a misty forest"],
    ]
    with pytest.raises(gr.Error, match="2 to 8"):
        compare_rows(store, three[:1])
    with pytest.raises(gr.Error, match="Choose one or more images"):
        delete_generations(store, [])
    assert delete_generations(store, three[1:]) == "Deleted 2 generations."
    assert search_gallery(store, *NO_FILTERS).ids == [three[0]]


def test_set_tags_makes_the_chips_exact(store, three):
    assert set_tags(store, three[0], ["sea", "Dusk "]).tags == ("dusk", "sea")
    assert set_tags(store, three[0], ["dusk"]).tags == ("dusk",)


def test_full_text_search_and_every_filter_narrow_the_page(store, three):
    lighthouse, forest, storm = three
    assert search_gallery(store, "lighthouse", ANY, ANY, 0, False, None).ids == [storm, lighthouse]
    assert search_gallery(store, "", "org/sd-turbo", ANY, 0, False, None).ids == [lighthouse]
    assert search_gallery(store, "", ANY, "sea", 0, False, None).ids == [lighthouse]
    assert search_gallery(store, "", ANY, ANY, 0, False, " 22 ").ids == [forest]
    set_rating(store, forest, "4")
    set_favourite(store, storm, True)
    assert search_gallery(store, "", ANY, ANY, 3, False, None).ids == [forest]
    assert search_gallery(store, "", ANY, ANY, 0, True, None).ids == [storm]
    nothing = search_gallery(store, "volcano", ANY, ANY, 0, False, None)
    assert nothing.ids == [] and nothing.status == "No generations match."


def test_filter_menus_list_models_and_tags_with_counts(store, three):
    assert model_choices(store) == [ANY, "demo", "org/sd-turbo"]
    assert tag_choices(store) == [(ANY, ANY), ("sea (1)", "sea")]


def test_a_flux_record_shows_its_kind_distilled_guidance_and_t5_settings(store):
    flux = generation(
        "a red fox",
        3,
        model="demo-flux",
        guidance_scale=3.5,
        scheduler="Euler",
        settings={"max_sequence_length": 128, "true_cfg_scale": 2.0, "shift": 1.5},
        provenance={"pipeline_kind": "flux"},
    )
    plain = generation("a red fox", 4, colour="blue", provenance={"pipeline_kind": "sd1"})
    flux_id, plain_id = store.record_generations([flux, plain])
    shown = detail_view(store, flux_id).settings_markdown
    for cell in ("| Distilled guidance | 3.5 |", "| Kind | FLUX |", "| T5 length | 128 |",
                 "| True CFG | 2.0 |", "| Shift | 1.5 |"):  # fmt: skip
        assert cell in shown, cell
    other = detail_view(store, plain_id).settings_markdown
    assert "| Kind | SD1/SD2 |" in other and "| CFG scale |" in other and "T5 length" not in other


def test_pages_hold_24_and_prev_next_follow_the_page(store):
    store.record_generations([generation(f"cat number {n}", n) for n in range(PAGE_SIZE + 2)])
    first = search_gallery(store, *NO_FILTERS, page=1)
    second = search_gallery(store, *NO_FILTERS, page=2)
    assert len(first.ids) == PAGE_SIZE and (first.has_previous, first.has_next) == (False, True)
    assert len(second.ids) == 2 and (second.has_previous, second.has_next) == (True, False)
    assert second.status == f"**{PAGE_SIZE + 2}** generations · page 2 of 2"
    assert not set(first.ids) & set(second.ids)


def test_bad_filters_are_one_sentence_errors(store, three):
    with pytest.raises(gr.Error, match="seed filter"):
        search_gallery(store, "", ANY, ANY, 0, False, -5)
    with pytest.raises(gr.Error, match="seed filter"):
        search_gallery(store, "", ANY, ANY, 0, False, "1.5")
    with pytest.raises(gr.Error, match="seed filter"):
        search_gallery(store, "", ANY, ANY, 0, False, "lucky")


# --- the detail panel and curation -------------------------------------------------------------


def test_selecting_a_thumbnail_shows_its_prompt_settings_and_image(store, three):
    ids = search_gallery(store, *NO_FILTERS).ids
    chosen = selected_id(ids, 2)
    assert chosen == three[0]
    view = detail_view(store, chosen)
    assert view.prompt == "a lighthouse at dusk" and view.negative == "blurry"
    assert Path(view.image_path).is_file()
    for cell in (
        "| Seed | 11 |",
        "| Steps | 20 |",
        "| CFG scale | 7.5 |",
        "| Size | 16 × 24 |",
        "| Scheduler | DPM++ 2M Karras |",
        "| Model | org/sd-turbo |",
        "| Model hash | abcdef0123 |",
    ):
        assert cell in view.settings_markdown
    assert "| Created | 20" in view.settings_markdown
    assert (view.rating, view.favourite, view.tags, view.notes) == (UNRATED, False, ("sea",), "")
    with pytest.raises(gr.Error, match="no longer on this page"):
        selected_id(ids, 7)


def test_rating_favourite_tags_and_notes_persist(store, three):
    chosen = three[1]
    assert set_rating(store, chosen, "5") == "Rated 5."
    set_favourite(store, chosen, True)
    assert add_tag(store, chosen, "  Moody   Woods ").tags == ("moody woods",)
    add_tag(store, chosen, "keep")
    assert remove_tag(store, chosen, "keep").tags_markdown == "<code>moody woods</code>"
    save_notes(store, chosen, "try a lower CFG")
    record = store.get(chosen)
    assert (record.rating, record.favourite, record.tags, record.notes) == (
        5,
        True,
        ("moody woods",),
        "try a lower CFG",
    )
    assert detail_view(store, chosen).rating == "5"
    set_rating(store, chosen, UNRATED)
    assert store.get(chosen).rating is None


def test_curation_without_a_selection_or_with_bad_values_is_an_error(store, three):
    with pytest.raises(gr.Error, match="Select a thumbnail"):
        set_rating(store, None, "3")
    with pytest.raises(gr.Error, match="no generation 999"):
        detail_view(store, 999)
    with pytest.raises(gr.Error, match="tag cannot be empty"):
        add_tag(store, three[0], "   ")
    with pytest.raises(gr.Error, match="from 0 to 5"):
        set_rating(store, three[0], "9")
    assert store.get(three[0]).tags == ("sea",)


# --- recall, delete, export, import, read a PNG ------------------------------------------------


def test_recall_returns_generates_values(store, three):
    assert recall_values(store, three[0]) == (
        "a lighthouse at dusk",
        "blurry",
        "11",
        20,
        7.5,
        16,
        24,
        "DPM++ 2M Karras",
    )


def test_recall_skips_what_the_record_does_not_know(store):
    (bare,) = store.record_generations(
        [NewGeneration(prompt="just a prompt", image=Image.new("RGB", (8, 8)), scheduler="Odd")]
    )
    values = recall_values(store, bare)
    assert values[:2] == ("just a prompt", "")
    assert values[2:5] == (gr.skip(), gr.skip(), gr.skip())
    assert values[5:7] == (8, 8) and values[7] == gr.skip()


def test_recall_brings_back_a_64_bit_seed_and_the_clip_skip(store):
    (made,) = store.record_generations(
        [
            NewGeneration(
                prompt="a fox",
                seed=2**64 - 1,
                scheduler="DPM++ 3M SDE Exponential",
                settings={"clip_skip": 2},
                image=Image.new("RGB", (8, 8)),
            )
        ]
    )
    values = recall_values(store, made)
    assert values[2] == "18446744073709551615"
    assert values[7] == "DPM++ 3M SDE Exponential"
    from ui.round_trips import GENERATE_FIELDS, recall_settings

    recalled = recall_settings(store, made).values
    assert recalled[GENERATE_FIELDS.index("clip_skip")] == 2


def test_delete_removes_the_row_and_its_file(store, three):
    path = Path(detail_view(store, three[1]).image_path)
    assert delete_generation(store, three[1]) == f"Deleted generation {three[1]}."
    assert not path.exists()
    assert three[1] not in search_gallery(store, *NO_FILTERS).ids
    with pytest.raises(gr.Error, match="no generation"):
        delete_generation(store, three[1])
    with pytest.raises(gr.Error, match="Select a thumbnail"):
        delete_generation(store, None)


def test_export_zips_the_images_with_csv_and_json(store, three):
    path = export_generations(
        store, search_gallery(store, "lighthouse", ANY, ANY, 0, False, None).ids
    )
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert sum(name.endswith(".png") for name in names) == 2
        rows = list(csv.DictReader(io.StringIO(archive.read("settings.csv").decode())))
        document = json.loads(archive.read("settings.json"))
    assert {row["prompt"] for row in rows} == {"a lighthouse at dusk", "a lighthouse in a storm"}
    assert len(document if isinstance(document, list) else document["generations"]) == 2
    with pytest.raises(gr.Error, match="nothing to export"):
        export_generations(store, [])

    as_webp = export_generations(store, [three[0]], "WebP")
    with zipfile.ZipFile(as_webp) as archive:
        assert [n for n in archive.namelist() if n.startswith("images/")] == ["images/1-11.webp"]


@pytest.mark.parametrize(("fmt", "suffix"), [("jpeg", ".jpg"), ("webp", ".webp")])
def test_download_as_jpeg_or_webp_carries_the_settings(store, three, fmt, suffix):
    path = Path(download_as(store, three[1], fmt))
    assert path.name == f"atelier-{three[1]}-22{suffix}"
    found = read_image_metadata(str(path)).metadata
    assert found.prompt == "a misty forest" and found.settings["seed"] == 22
    assert found.settings["scheduler"] == "DPM++ 2M Karras"
    with pytest.raises(gr.Error, match="Select a thumbnail"):
        download_as(store, None, fmt)


def test_import_reads_settings_and_counts_duplicates(store, tmp_path):
    item = generation("an imported castle", 77, colour="purple")
    png = tmp_path / "castle.png"
    png.write_bytes(embed_metadata(item.image, item))
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4), "white").save(plain)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")

    message = import_pngs(store, [str(png), str(plain), str(text)])
    assert message.startswith("Imported 2 (2 PNG), skipped 1.")
    assert "1 had no settings" in message and "1 not a PNG, JPEG or WebP" in message
    assert "castle.png: PNG: Prompt Atelier" in message and "PNG: no settings found" in message
    (found,) = search_gallery(store, "castle", ANY, ANY, 0, False, None).ids
    assert store.get(found).seed == 77

    with pytest.warns(UserWarning, match="already in the gallery"):
        again = import_pngs(store, [str(png)])
    assert again.startswith("Imported 0, skipped 1.")
    with pytest.warns(UserWarning, match="Choose one or more"):
        import_pngs(store, None)


def test_reading_a_png_names_its_writer_and_settings(tmp_path):
    item = generation("a red fox, (snow:1.2)", 5)
    ours = tmp_path / "ours.png"
    ours.write_bytes(embed_metadata(item.image, item))
    text = describe_png(str(ours))
    assert "Prompt Atelier" in text and "a red fox, (snow:1.2)" in text and "| seed | 5 |" in text

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(
        "parameters",
        "a cat\nNegative prompt: dog\nSteps: 30, Sampler: Euler a, CFG scale: 6, Seed: 42, "
        "Size: 512x768, Model hash: 1234567890",
    )
    a1111 = tmp_path / "a1111.png"
    Image.new("RGB", (4, 4)).save(a1111, pnginfo=info)
    text = describe_png(str(a1111))
    assert "AUTOMATIC1111" in text and "a cat" in text and "dog" in text
    assert "| seed | 42 |" in text and "| steps | 30 |" in text

    bare = tmp_path / "bare.png"
    Image.new("RGB", (4, 4)).save(bare)
    assert "no settings found" in describe_png(str(bare))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert describe_png(str(broken)).startswith("⚠")
    assert caught


def test_select_several_toggles_thumbnails_and_marks_the_chosen():
    ids = [7, 8, 9]
    chosen = toggle_choice(ids, [], 1)
    chosen = toggle_choice(ids, chosen, 2)
    assert chosen == [8, 9]
    assert toggle_choice(ids, chosen, 1) == [9]  # a second click takes it out
    assert toggle_choice(ids, chosen, 5) == [8, 9] and toggle_choice(ids, None, None) == []
    items = [("a.png", "701 · demo"), ("b.png", "702 · demo"), ("c.png", "703 · demo")]
    gallery, kept, line = picker_view(items, ids, [9, 42])  # 42 is no longer on the page
    captions = [item["caption"] for item in gallery.value]
    assert captions == ["#7 701 · demo", "#8 702 · demo", "✓ #9 703 · demo"]
    assert kept == [9] and line == "1 image chosen: #9"
    assert "Click the images" in picker_view(items, ids, [])[2]
