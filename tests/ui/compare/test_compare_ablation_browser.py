""" "Which words matter?" on a prompt without commas (issue 23): "a large red star on the left"
is four terms, not one. Debian's Chromium at 1440 px."""

from __future__ import annotations

import pytest

from tests.ui.compare.test_compare_artist_browser import shot
from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def test_a_comma_free_prompt_is_ablated_word_by_word(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-seeds textarea").fill("1")
    page.get_by_text("Shared settings").click()
    expect(page.locator("#compare-width input[type=number]")).to_have_value("128")
    set_number(page, "compare-steps", 2)
    expect(page.locator("#compare-steps input[type=number]")).to_have_value("2")
    page.locator("#compare-base textarea").fill("a large red star on the left")
    page.locator("#compare-ablate").click()
    expect(page.locator("#compare-status")).to_contain_text("Saved experiment", timeout=180_000)
    experiment = local_gallery.list_experiments()[0]
    assert [v.name for v in experiment.variants] == [
        "full prompt",
        "− large",
        "− red",
        "− star",
        "− on the left",
    ]
    prompts = {v.name: v.recipe["prompt"] for v in experiment.variants}
    assert prompts["− on the left"] == "a large red star"
    table = page.locator("#compare-ablation")
    table.scroll_into_view_if_needed()
    shot(page, tmp_path, "ablation-words")
    for term in ("large", "red", "star", "on the left"):
        expect(table.get_by_role("gridcell", name=term, exact=True)).to_be_visible()
    plot = page.locator("#compare-ablation-plot")
    expect(plot).to_be_visible()
    expect(plot.locator("svg path, canvas").first).to_be_visible()
    plot.scroll_into_view_if_needed()
    shot(page, tmp_path, "ablation-words-plot")
    page.close()
