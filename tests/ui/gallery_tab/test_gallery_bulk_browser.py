"""The gallery grid in Debian's Chromium: cards with prompt, rating and favourite; tag chips
removed with one click; several images chosen by clicking their thumbnails, then tagged,
exported or handed to Compare."""

import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from gallery.records import NewGeneration

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ["ATELIER_SHOTS"]) if os.environ.get("ATELIER_SHOTS") else None


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def wait_until(page, condition, timeout_s: float = 30.0) -> bool:
    """Whether `condition()` (something outside the page: the database) holds within
    `timeout_s`; the page keeps running meanwhile."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(100)
    return True


def test_cards_chips_and_multi_select_export(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    first, second, third = local_gallery.record_generations(
        [
            NewGeneration(
                prompt=f"a zebra crossing number {n}, long exposure, city lights at night",
                seed=700 + n,
                model_id="demo",
                tags=("street", "night") if n == 1 else (),
                image=Image.new("RGB", (64, 64), colour),
            )
            for n, colour in ((1, "red"), (2, "green"), (3, "blue"))
        ]
    )
    local_gallery.set_rating(first, 4)
    local_gallery.set_favourite(first, True)
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    page.get_by_role("tab", name="Gallery").click()
    search = page.locator("#gallery-search textarea, #gallery-search input").first
    search.fill("zebra crossing")
    search.press("Enter")
    grid = page.locator("#gallery-grid")
    expect(grid.get_by_text("♥ ★★★★ 701 · demo · a zebra crossing number 1")).to_be_visible()
    expect(grid.get_by_text("702 · demo · a zebra crossing number 2")).to_be_visible()

    # One click on a chip's × removes that tag.
    grid.get_by_text("701 · demo").click()
    tags = page.locator("#gallery-tags")
    expect(tags.locator(".token")).to_have_count(2)
    tags.locator(".token").filter(has_text="street").locator(".token-remove").click()
    expect(tags.locator(".token")).to_have_count(1)
    saved = wait_until(page, lambda: local_gallery.get(first).tags == ("night",))
    assert saved, local_gallery.get(first).tags

    # Choose two images by clicking their thumbnails: tag them, export them.
    page.locator("#gallery-bulk").get_by_text("Select several").click()
    picker = page.locator("#gallery-pick")
    cards = picker.locator(".thumbnail-item")
    expect(cards).to_have_count(3)  # thumbnails, not a list of text checkboxes
    expect(picker.locator("img")).to_have_count(3)
    card = {gid: cards.filter(has_text=f"#{gid} ") for gid in (first, second, third)}
    line = page.locator("#gallery-chosen")
    card[second].click()
    card[third].click()
    card[first].click()
    expect(line).to_contain_text(f"3 images chosen: #{second}, #{third}, #{first}")
    card[first].click()  # a second click takes it out again
    expect(line).to_contain_text(f"2 images chosen: #{second}, #{third}")
    for gid, picked in ((first, False), (second, True), (third, True)):
        framed = re.compile(r"\bpicked\b")  # the visible mark: a frame with a check mark
        if picked:
            expect(card[gid]).to_have_class(framed)
        else:
            expect(card[gid]).not_to_have_class(framed)
        expect(card[gid].locator(".caption-label")).to_contain_text(
            f"{'✓ ' if picked else ''}#{gid} "
        )
    page.screenshot(path=str(tmp_path / "picked.png"), full_page=True)
    if SHOTS is not None:
        shutil.copyfile(tmp_path / "picked.png", SHOTS / "gallery-picked.png")
    page.locator("#gallery-bulk-tag input, #gallery-bulk-tag textarea").first.fill("pair")
    page.locator("#gallery-bulk-tag-add").click()
    expect(page.locator("#gallery-bulk-status")).to_contain_text("Tagged 2 generations")
    assert local_gallery.get(second).tags == ("pair",) and local_gallery.get(third).tags == (
        "pair",
    )
    # The refresh after tagging keeps the choice: export takes the same two.
    expect(line).to_contain_text(f"2 images chosen: #{second}, #{third}")
    page.locator("#gallery-bulk-export").click()
    link = page.locator("#gallery-bulk-file a").first
    expect(link).to_be_visible()
    with page.expect_download() as download_info:
        link.click()
    path = tmp_path / "export.zip"
    download_info.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        pngs = [name for name in archive.namelist() if name.endswith(".png")]
        assert len(pngs) == 2
        assert "settings.csv" in " ".join(archive.namelist())
    page.screenshot(path=str(tmp_path / "bulk.png"), full_page=True)

    # "Compare these" hands the two prompts to the Compare tab as variants.
    page.locator("#gallery-compare-these").click()
    expect(page.get_by_role("tab", name="Compare")).to_have_attribute("aria-selected", "true")
    variants = page.locator("#compare-variants")
    expect(variants).to_contain_text("a zebra crossing number 2")
    expect(variants).to_contain_text("a zebra crossing number 3")
    # ... with the model (and its settings) they were made with, not the tab's own.
    page.get_by_text("Shared settings").click()
    model = page.locator("#compare-model textarea, #compare-model input").first
    expect(model).to_have_value("demo")
    expect(page.locator("#compare-width input[type=number]")).to_have_value("64")  # as drawn
    page.screenshot(path=str(tmp_path / "compare-these.png"), full_page=True)
    page.close()


def two_pictures_to_choose_from(server, gallery, browser, prompt, seed, colours, width):
    """Two pictures of `prompt` recorded, found by its last word and shown as the Select
    several thumbnails on a page `width` px wide: (their ids, the page, the thumbnails)."""
    from playwright.sync_api import expect

    ids = gallery.record_generations(
        [
            NewGeneration(
                prompt=f"{prompt} number {n}",
                seed=seed + n,
                model_id="demo",
                image=Image.new("RGB", (64, 64), colour),
            )
            for n, colour in enumerate(colours, 1)
        ]
    )
    url, _ = server
    page = browser.new_page(viewport={"width": width, "height": 844 if width < 600 else 1100})
    page.goto(url)
    page.get_by_role("tab", name="Gallery").click()
    search = page.locator("#gallery-search textarea, #gallery-search input").first
    search.fill(prompt.split()[-1])
    search.press("Enter")
    expect(page.locator("#gallery-grid img")).to_have_count(2)
    page.locator("#gallery-bulk").get_by_text("Select several").click()
    cards = page.locator("#gallery-pick .thumbnail-item")
    expect(cards).to_have_count(2)
    return ids, page, cards


def test_choosing_thumbnails_on_a_phone(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    ids, page, cards = two_pictures_to_choose_from(
        server, local_gallery, browser, "a quokka portrait", 800, ("orange", "purple"), 390
    )
    cards.filter(has_text=f"#{ids[1]} ").click()
    expect(page.locator("#gallery-chosen")).to_contain_text(f"1 image chosen: #{ids[1]}")
    expect(cards.filter(has_text=f"#{ids[1]} ")).to_have_class(re.compile(r"\bpicked\b"))
    for card in cards.all():
        box = card.bounding_box()
        assert 80 <= box["width"] <= 140 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#gallery-pick").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "phone-picked.png"), full_page=True)
    if SHOTS is not None:
        shutil.copyfile(tmp_path / "phone-picked.png", SHOTS / "gallery-phone-picked.png")
    page.close()


def test_a_thumbnail_clicked_while_the_last_click_is_answered_is_chosen_too(
    server, local_gallery, browser
):
    """On a busy server a quick second click arrives while the first is still being answered;
    it must count. Here the first click's request to the server is held back (as a slow server
    would) until the second click was made."""
    from playwright.sync_api import expect

    ids, page, cards = two_pictures_to_choose_from(
        server, local_gallery, browser, "a heron in the reeds", 900, ("grey", "teal"), 1400
    )
    held = []  # the page's requests to run an event, not let through yet
    page.route("**/queue/join*", lambda route: held.append(route))
    cards.filter(has_text=f"#{ids[0]} ").click()
    assert wait_until(page, lambda: len(held) == 1, timeout_s=10)
    cards.filter(has_text=f"#{ids[1]} ").click()  # while the first is still being answered
    sent = wait_until(page, lambda: len(held) == 2, timeout_s=10)
    line = page.locator("#gallery-chosen")
    held[0].continue_()
    expect(line).to_contain_text(f"1 image chosen: #{ids[0]}")
    for route in held[1:]:
        route.continue_()
    page.unroute("**/queue/join*")
    assert sent, "the second click was dropped: the page never sent it"
    expect(line).to_contain_text(f"2 images chosen: #{ids[0]}, #{ids[1]}")
    page.close()
