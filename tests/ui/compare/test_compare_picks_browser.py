"""Compare's picks belong to one experiment (issue 23): the clicked cells, the slider and its
caption, and "Best of its row" start afresh when a run starts or an experiment is opened; and
"Best of its row" right after two clicks takes the second. Debian's Chromium at 1440 px."""

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


def run_comparison(page, base: str, words: str, number: int) -> None:
    """Make S/R variants of `base` and run them as experiment #`number`."""
    from playwright.sync_api import expect

    page.locator("#compare-base textarea").fill(base)
    page.locator("#compare-sr textarea").fill(words)
    page.locator("#compare-make").click()
    expect(page.locator("#compare-variants")).to_contain_text(base.replace(*words.split(", ")))
    page.locator("#compare-run").click()
    # The moment a run starts, nothing of the last experiment's judging is left.
    expect(page.locator("#compare-pick")).to_have_text("")
    expect(page.locator("#compare-judged")).to_have_text("")
    expect(page.locator("#compare-slider img")).to_have_count(0)
    saved = f"Saved experiment #{number}"
    expect(page.locator("#compare-status")).to_contain_text(saved, timeout=180_000)


def test_picks_start_afresh_with_each_experiment(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-seeds textarea").fill("1, 2")
    page.get_by_text("Shared settings").click()
    expect(page.locator("#compare-width input[type=number]")).to_have_value("128")
    set_number(page, "compare-steps", 1)
    pick = page.locator("#compare-pick")
    judged = page.locator("#compare-judged")
    grid = page.locator("#compare-grid img")

    run_comparison(page, "a red circle", "red, blue", 1)
    first = local_gallery.list_experiments()[0]
    grid.nth(0).click()  # seed 1, red
    grid.nth(1).click()  # seed 1, blue
    page.locator("#compare-rowbest").click()  # at once, not waiting for the slider
    expect(judged).to_contain_text("Best on seed 1: blue")
    expect(pick).to_contain_text("⟷")
    expect(page.locator("#compare-slider img")).to_have_count(2)
    shot(page, tmp_path, "picks-first")

    run_comparison(page, "a green square", "green, yellow", 2)
    shot(page, tmp_path, "picks-second-run")
    page.locator("#compare-rowbest").click()  # nothing clicked in this experiment yet
    expect(judged).to_contain_text("Click a cell first")
    grid.nth(3).click()  # one click: the first of a new pair, not a pair with an old cell
    expect(pick).to_contain_text("click a second cell")
    expect(page.locator("#compare-slider img")).to_have_count(0)
    page.locator("#compare-rowbest").click()
    expect(judged).to_contain_text("Best on seed 2: yellow")

    page.locator("#compare-saved input").click()
    page.get_by_role("option", name=f"#{first.id} ").click()
    page.locator("#compare-open").click()
    expect(page.locator("#compare-summary")).to_contain_text(f"#{first.id}")
    expect(pick).to_have_text("")
    expect(judged).to_have_text("")
    page.locator("#compare-rowbest").click()  # the other experiment's cell is not taken
    expect(judged).to_contain_text("Click a cell first")
    grid.nth(2).click()
    expect(pick).to_contain_text("click a second cell")
    shot(page, tmp_path, "picks-reopened")
    bests = [v for v in local_gallery.votes(first.id) if v.loser_variant_id is None]
    assert [(v.winner_variant_id, v.seed_index) for v in bests] == [(first.variants[1].id, 0)]
    page.close()


def test_open_in_the_gallery_waits_for_the_clicks_before_it(server, local_gallery, browser):
    """ "Open the last cell clicked in the Gallery" is in the judging queue: pressed at once
    after two clicks, it opens the second cell, not the first or nothing."""
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-seeds textarea").fill("3, 4")
    page.get_by_text("Shared settings").click()
    expect(page.locator("#compare-width input[type=number]")).to_have_value("128")
    set_number(page, "compare-steps", 1)
    run_comparison(page, "a pink heart", "pink, teal", len(local_gallery.list_experiments()) + 1)
    experiment = local_gallery.list_experiments()[0]
    teal = experiment.variants[1].id
    cell = next(c for c in experiment.cells if c.seed_index == 1 and c.variant_id == teal)
    grid = page.locator("#compare-grid img")
    expect(grid).to_have_count(4)
    expect(grid.nth(3)).to_be_visible()
    grid.nth(0).click()  # seed 3, pink
    expect(page.locator("#compare-pick")).to_contain_text("click a second cell")
    # Then seed 4, teal, and Open 20 ms later: Open must not overtake that click's event.
    page.evaluate(
        """async () => {
            document.querySelectorAll('#compare-grid .thumbnail-item')[3].click();
            await new Promise((done) => setTimeout(done, 20));
            document.querySelector('#compare-open-gallery').click();
        }"""
    )
    expect(page.get_by_role("tab", name="Gallery")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#gallery-prompt textarea")).to_have_value("a teal heart")
    texts = page.locator("#gallery-settings td").all_inner_texts()
    settings = dict(zip(texts[0::2], texts[1::2], strict=True))
    assert settings["Seed"] == "4" and settings["Id"] == str(cell.generation_id)
    page.close()
