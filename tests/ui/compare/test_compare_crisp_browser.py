"""Compare's pictures at whole multiples of their size with crisp pixels (issue 23), as
Generate's results are: the grid's cells, the heat map in their place and the slider, at 1440 px
and on a 390 px phone. Debian's Chromium; screenshots looked at."""

from __future__ import annotations

import shutil

import pytest

from tests.ui.compare.test_compare_artist_browser import SHOTS, shot
from tests.ui.compare.test_compare_picks_browser import (
    patient_expect,
    run_comparison,
)
from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser
__all__ = ["patient_expect"]

DRAWN = """(selector) => [...document.querySelectorAll(selector)]
    .filter((img) => img.offsetParent !== null && img.getBoundingClientRect().width > 0)
    .map((img) => {
        const box = img.getBoundingClientRect();
        return {
            natural: img.naturalWidth, width: box.width, height: box.height,
            left: box.left, top: box.top, rendering: getComputedStyle(img).imageRendering,
            fit: getComputedStyle(img).objectFit,
        };
    })"""


def drawn(page, selector: str, count: int) -> list[dict]:
    """The visible images under `selector` once `count` of them are loaded (and the page's
    script has had a moment to size them)."""
    page.wait_for_function(
        """([selector, count]) => {
            const images = [...document.querySelectorAll(selector)];
            return images.length === count && images.every((img) => img.complete);
        }""",
        arg=[selector, count],
    )
    page.wait_for_timeout(500)
    return page.evaluate(DRAWN, selector)


SOURCES = "() => [...document.querySelectorAll('#compare-grid img')].map((img) => img.src)"


def assert_whole_and_crisp(images: list[dict], room: float) -> None:
    """Each image at a whole multiple of its own size; enlarged ones drawn pixelated."""
    for image in images:
        factor = image["width"] / image["natural"]
        assert abs(factor - round(factor)) < 0.01 and round(factor) >= 1, image
        assert image["width"] == pytest.approx(image["height"], abs=1), image
        assert image["width"] <= room, image
        assert image["fit"] in ("contain", "fill"), image  # the picture fills its box
        if round(factor) > 1:
            assert image["rendering"] == "pixelated", image


def test_grid_slider_and_heat_map_are_whole_multiples(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.get_by_text("Shared settings").click()
    expect(page.locator("#compare-width input[type=number]")).to_have_value("128")
    set_number(page, "compare-steps", 1)
    run_comparison(page, "a red circle", "red, blue", 1)

    cells = drawn(page, "#compare-grid img", 4)
    assert_whole_and_crisp(cells, 512)
    assert {round(cell["width"] / 128) for cell in cells} == {3}, cells  # 395 px columns
    grid = page.locator("#compare-grid img")
    grid.nth(0).click()
    expect(page.locator("#compare-pick")).to_contain_text("click a second cell")
    grid.nth(1).click()
    expect(page.locator("#compare-pick")).to_contain_text("⟷")
    pair = drawn(page, "#compare-slider img", 2)
    assert_whole_and_crisp(pair, 512)
    assert round(pair[0]["width"] / 128) >= 3, pair  # enlarged, not left at 128 px
    assert (pair[0]["left"], pair[0]["top"]) == (pair[1]["left"], pair[1]["top"]), pair
    assert pair[0]["width"] == pair[1]["width"], pair  # the halves lie on each other
    shot(page, tmp_path, "crisp-grid-slider-1440")

    plain = page.evaluate(SOURCES)
    page.locator("#compare-heat input").check()
    expect(page.locator("#compare-heat-legend")).to_be_visible()
    page.wait_for_function(f"(plain) => ({SOURCES})().join() !== plain", arg=",".join(plain))
    heat = drawn(page, "#compare-grid img", 4)
    assert_whole_and_crisp(heat, 512)
    shot(page, tmp_path, "crisp-heat-1440")

    page.locator("#compare-blind").get_by_text("Blind mode").click()
    page.locator("#compare-blind-start").click()
    blind = drawn(page, "#blind-left img, #blind-right img", 2)
    assert_whole_and_crisp(blind, 512)
    assert all(round(image["width"] / 128) >= 2 for image in blind), blind  # enlarged
    page.locator("#compare-blind").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "crisp-blind-1440.png"))  # the viewport, not resized
    if SHOTS is not None:
        shutil.copyfile(tmp_path / "crisp-blind-1440.png", SHOTS / "crisp-blind-1440.png")

    page.set_viewport_size({"width": 390, "height": 900})
    page.wait_for_timeout(500)  # the resize reaches the page's script
    assert_whole_and_crisp(drawn(page, "#compare-grid img", 4), 390 / 2)
    assert_whole_and_crisp(drawn(page, "#compare-slider img", 2), 390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, tmp_path, "crisp-390")
    page.close()
