"""Generate's results as an artist sees them (issue 23): each finished image once, at its own
size, sharp; the live preview only while an image is being made. At 1440 px and on a phone."""

import os
import shutil
from pathlib import Path

import pytest

from tests.ui.generate.test_generate_browser import open_generate
from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ["ATELIER_SHOTS"]) if os.environ.get("ATELIER_SHOTS") else None

SHOWN = """() => [...document.querySelectorAll('#gen-output img')]
    .filter((img) => img.offsetParent !== null && img.getBoundingClientRect().width > 0)
    .map((img) => {
        const box = img.getBoundingClientRect();
        return {
            where: img.closest('[id]').id, natural: img.naturalWidth,
            width: box.width, height: box.height, left: box.left, top: box.top,
            rendering: getComputedStyle(img).imageRendering,
        };
    })"""


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def shot(page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, also copied to $ATELIER_SHOTS when set (to look at)."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / name)


@pytest.mark.parametrize("width", [1440, 390])
def test_each_result_is_shown_once_sharp_at_its_own_size(server, browser, tmp_path, width):
    from playwright.sync_api import expect

    url, _ = server
    page = open_generate(browser, url, width=width, height=900)
    expect(page.locator("#preview")).to_be_hidden()  # nothing runs: no empty preview box
    set_number(page, "steps", 12)
    set_number(page, "width", 128)
    set_number(page, "height", 128)
    set_number(page, "batch", 2)
    page.locator("#prompt textarea").fill("a red star")
    page.locator("#generate").click()
    expect(page.locator("#preview img")).to_be_visible(timeout=120_000)  # while it draws
    shot(page, tmp_path, f"generate-running-{width}.png")
    expect(page.locator("#info")).to_contain_text("Seeds", timeout=180_000)
    expect(page.locator("#preview")).to_be_hidden()
    page.wait_for_function(
        "[...document.querySelectorAll('#results img')].every((i) => i.dataset.scale)"
    )
    shown = page.evaluate(SHOWN)
    shot(page, tmp_path, f"generate-results-{width}.png")
    assert [image["where"] for image in shown] == ["results", "results"], shown  # once each
    for image in shown:
        assert image["natural"] == 128
        factor = image["width"] / 128
        assert abs(factor - round(factor)) < 0.01 and round(factor) >= 2, image  # whole, crisp
        assert image["width"] == pytest.approx(image["height"], abs=1)
        assert image["width"] <= min(512, width), image
        assert image["rendering"] == "pixelated", image
    if width == 1440:  # two 128 px images side by side, each at 256 px
        assert [round(image["width"]) for image in shown] == [256, 256]
        assert shown[0]["top"] == pytest.approx(shown[1]["top"], abs=1)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    page.locator("#results img").nth(1).click()
    seed = page.locator("#results .caption-label").nth(1).inner_text().removeprefix("seed ")
    expect(page.locator("#seed input")).to_have_value(seed)
    assert len(page.evaluate(SHOWN)) == 2  # a click opens no enlarged copy
    page.close()
