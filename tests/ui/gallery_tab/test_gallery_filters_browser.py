"""The Gallery's filters as an artist uses them right after opening the page: the Min rating
number box, the first Favourites toggle and a search Enter each filter at once."""

import pytest
from PIL import Image

from gallery.records import NewGeneration

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def kept(local_gallery):
    """Kept generations: one rated 4, one favourite, one plain, one with a long prompt."""
    rated, loved, plain = local_gallery.record_generations(
        [
            NewGeneration(prompt="a rated lighthouse", seed=11, model_id="demo", image=_image()),
            NewGeneration(prompt="a loved forest", seed=22, model_id="demo", image=_image()),
            NewGeneration(prompt="a plain meadow", seed=33, model_id="demo", image=_image()),
        ]
    )
    long = "a large red star on the left, golden hour, watercolor, soft paper grain"
    local_gallery.record_generations(
        [NewGeneration(prompt=long, seed=2, model_id="sketch", image=_image())]
    )
    local_gallery.set_rating(rated, 4)
    local_gallery.set_favourite(loved)
    return rated, loved, plain


def _image() -> Image.Image:
    return Image.new("RGB", (64, 64), "teal")


def _open_gallery(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server[0])
    page.reload()
    page.get_by_role("tab", name="Gallery").click()
    expect(page.locator("#gallery-grid").get_by_text("33 · demo")).to_be_visible()
    # Opening the tab again refreshes it; the artist does not wait for that to finish.
    page.get_by_role("tab", name="Generate").click()
    page.get_by_role("tab", name="Gallery").click()
    return page


def _shown(page) -> None:
    from playwright.sync_api import expect

    return expect(page.locator("#gallery-status"))


@pytest.mark.parametrize("commit", ["Enter", "Tab"])
def test_min_rating_number_box_filters(server, kept, browser, commit):
    from playwright.sync_api import expect

    page = _open_gallery(server, browser)
    box = page.locator("#gallery-min-rating input[type=number]")
    box.fill("3")
    box.press(commit)
    grid = page.locator("#gallery-grid")
    expect(grid.get_by_text("33 · demo")).to_have_count(0)
    expect(grid.get_by_text("11 · demo")).to_be_visible()
    _shown(page).to_contain_text("1 generation")
    page.close()


def test_first_favourites_toggle_filters(server, kept, browser):
    from playwright.sync_api import expect

    page = _open_gallery(server, browser)
    page.locator("#gallery-favourites input[type=checkbox]").check()
    grid = page.locator("#gallery-grid")
    expect(grid.get_by_text("33 · demo")).to_have_count(0)
    expect(grid.get_by_text("22 · demo")).to_be_visible()
    page.close()


def test_first_search_enter_filters(server, kept, browser):
    from playwright.sync_api import expect

    page = _open_gallery(server, browser)
    search = page.locator("#gallery-search textarea, #gallery-search input").first
    search.fill("meadow")
    search.press("Enter")
    grid = page.locator("#gallery-grid")
    expect(grid.get_by_text("11 · demo")).to_have_count(0)
    expect(grid.get_by_text("33 · demo")).to_be_visible()
    page.close()


@pytest.mark.parametrize("width", [1440, 390])
def test_captions_are_shown_whole(server, kept, browser, tmp_path, width):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(server[0])
    page.get_by_role("tab", name="Gallery").click()
    label = page.locator("#gallery-grid .caption-label").filter(has_text="2 · sketch")
    expect(label).to_be_visible()
    page.screenshot(path=str(tmp_path / f"captions-{width}.png"))
    cut = page.eval_on_selector_all(
        "#gallery-grid .caption-label",
        "labels => labels.filter(l => l.scrollWidth > l.clientWidth + 1"
        " || l.scrollHeight > l.clientHeight + 1).map(l => l.textContent)",
    )
    assert cut == []
    page.close()
