"""A person's view of the Gallery: real headless Chromium searches the kept generations, opens
one, rates it and recalls it into Generate."""

import shutil

import pytest
from PIL import Image

from gallery.records import NewGeneration

pytestmark = pytest.mark.browser


def test_search_select_and_rate_a_kept_generation(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    lighthouse, forest = local_gallery.record_generations(
        [
            NewGeneration(
                prompt="a lighthouse on a rocky cliff at dusk",
                negative_prompt="blurry",
                seed=1234,
                steps=12,
                guidance_scale=6.5,
                scheduler="Euler a",
                model_id="demo",
                image=Image.new("RGB", (64, 64), "orange"),
            ),
            NewGeneration(
                prompt="a misty pine forest",
                seed=99,
                model_id="demo",
                image=Image.new("RGB", (64, 64), "darkgreen"),
            ),
        ]
    )
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Gallery").click()
    grid = page.locator("#gallery-grid")
    expect(grid.get_by_text("99 · demo")).to_be_visible()

    search = page.locator("#gallery-search textarea, #gallery-search input").first
    search.fill("lighthouse")
    search.press("Enter")
    expect(grid.get_by_text("99 · demo")).to_have_count(0)
    expect(page.locator("#gallery-status")).to_contain_text("1 generation")

    grid.get_by_text("1234 · demo").click()
    expect(page.locator("#gallery-prompt textarea")).to_have_value(
        "a lighthouse on a rocky cliff at dusk"
    )
    expect(page.locator("#gallery-settings")).to_contain_text("Euler a")
    page.locator("#gallery-rating").get_by_text("★★★★", exact=True).click()
    expect(page.locator("#gallery-message")).to_contain_text("Rated 4.")
    assert local_gallery.get(lighthouse).rating == 4
    assert local_gallery.get(forest).rating is None

    shot = tmp_path / "gallery.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, "/tmp/gallery-tab.png")

    page.locator("#gallery-recall").click()
    expect(page.get_by_role("tab", name="Generate")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#prompt textarea")).to_have_value("a lighthouse on a rocky cliff at dusk")
    expect(page.locator("#negative textarea")).to_have_value("blurry")
    expect(page.locator("#seed input, #seed textarea").first).to_have_value("1234")
    page.close()
