"""A walk through the four tabs as an artist on the sketch model (issue 23, "Done when"), at
1440 px and on a 390 px phone: generate, compare a 2 × 2, open the gallery, and one bad input
per tab. Each bad input is answered with a sentence, never a bare "Error" pill; no control is
cut off and the page never scrolls sideways. Debian's Chromium; screenshots looked at."""

from __future__ import annotations

import pytest

from tests.ui.compare.test_compare_artist_browser import no_bare_error, shot
from tests.ui.compare.test_compare_picks_browser import patient_expect, run_comparison
from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser
__all__ = ["patient_expect"]

CUT_OFF = """(width) => {
    const cut = [];
    const controls = 'button, input, textarea, select, label, [role=tab], img, .caption-label';
    for (const el of document.querySelectorAll(controls)) {
        if (el.offsetParent === null || getComputedStyle(el).visibility === 'hidden') continue;
        if (el.closest('table, .table-wrap')) continue; // a table scrolls inside itself
        if (el.closest('[aria-hidden=true], .visually-hidden')) continue; // Gradio's measuring
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0) continue;
        let clipped = box.right > width + 1 || box.left < -1;
        for (let up = el.parentElement; !clipped && up && up !== document.body;
             up = up.parentElement) {
            if (getComputedStyle(up).overflowX === 'visible') continue;
            const room = up.getBoundingClientRect();
            clipped = box.right > room.right + 1 || box.left < room.left - 1;
        }
        if (clipped) {
            const where = (el.closest('[id]') || {}).id;
            cut.push(`${where}: ${el.tagName} "${(el.innerText || el.value || '').slice(0, 30)}"`);
        }
    }
    return cut;
}"""


def whole_page(page, width: int, tab: str) -> None:
    """No control of the open tab cut off, no sideways scrolling of the page."""
    cut = page.evaluate(CUT_OFF, width)
    assert cut == [], (tab, cut)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, tab


def every_panel_open(page, tab: str) -> None:
    """Open each closed accordion of `tab`, so that every control row is on the page."""
    labels = page.locator(f"#tab-{tab.lower()} button.label-wrap:visible").all()
    assert labels, tab  # each tab has some
    for label in labels:
        if "open" not in (label.get_attribute("class") or "").split():
            label.click()
    page.wait_for_timeout(500)


def said(page, sentence: str) -> None:
    """`sentence` in a message on the page, and no status pill that says only "Error"."""
    from playwright.sync_api import expect

    expect(page.locator(".toast-body").filter(has_text=sentence).first).to_be_visible()
    no_bare_error(page)
    for close in page.locator(".toast-body .toast-close").all():
        close.click()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(500)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_walk_through_the_four_tabs(server, local_gallery, browser, tmp_path, width):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url)

    # Builder: expanding nothing.
    open_tab(page, "Builder")
    whole_page(page, width, "Builder")
    page.locator("#builder-expand-panel").get_by_text("Expand with LLM").first.click()
    page.locator("#builder-expand").click()
    said(page, "Fill in a subject or pick some terms before expanding.")
    every_panel_open(page, "Builder")
    whole_page(page, width, "Builder, every panel open")
    shot(page, tmp_path, f"walk-builder-{width}")

    # Generate: a model that is not there, a seed that is not a number, then a picture.
    open_tab(page, "Generate")
    whole_page(page, width, "Generate")
    model = page.locator("#model textarea, #model input").first
    model.fill("nobody/no-such-model")
    page.locator("#prompt textarea").fill("a red star")
    page.locator("#generate").click()
    said(page, "is not in the local cache and could not be fetched")
    expect(page.locator("#stop")).to_be_disabled()
    model.fill("sketch")
    model.press("Enter")
    seed = page.locator("#seed textarea, #seed input").first
    seed.fill("twelve")
    page.locator("#generate").click()
    said(page, "seed")
    expect(page.locator("#stop")).to_be_disabled()
    seed.fill("12")
    steps = page.locator("#steps input[type=number]")
    steps.fill("2")
    steps.press("Tab")
    page.locator("#generate").click()
    expect(page.locator("#info")).to_contain_text("Seeds", timeout=180_000)
    every_panel_open(page, "Generate")
    whole_page(page, width, "Generate, every panel open")
    shot(page, tmp_path, f"walk-generate-{width}")

    # Compare: seeds that are not numbers, then a 2 × 2.
    open_tab(page, "Compare")
    whole_page(page, width, "Compare")
    page.locator("#compare-seeds textarea").fill("one, two")
    page.locator("#compare-base textarea").fill("a red circle")
    page.locator("#compare-sr textarea").fill("red, blue")
    page.locator("#compare-make").click()
    expect(page.locator("#compare-variants")).to_contain_text("a blue circle")
    page.locator("#compare-run").click()
    said(page, "seed")
    page.locator("#compare-seeds textarea").fill("1, 2")
    page.get_by_text("Shared settings").click()
    set_number(page, "compare-steps", 1)
    run_comparison(page, "a red circle", "red, blue", len(local_gallery.list_experiments()) + 1)
    expect(page.locator("#compare-grid img")).to_have_count(4)
    every_panel_open(page, "Compare")
    whole_page(page, width, "Compare, every panel open")
    shot(page, tmp_path, f"walk-compare-{width}")

    # Gallery: a seed filter that is not a seed, then the pictures.
    open_tab(page, "Gallery")
    whole_page(page, width, "Gallery")
    seed = page.locator("#gallery-seed textarea, #gallery-seed input").first
    seed.fill("abc")
    seed.press("Enter")
    said(page, "The seed filter must be a whole number")
    seed.fill("")
    seed.press("Enter")
    expect(page.locator("#gallery-grid img").first).to_be_visible()
    every_panel_open(page, "Gallery")
    whole_page(page, width, "Gallery, every panel open")
    shot(page, tmp_path, f"walk-gallery-{width}")
    page.close()
