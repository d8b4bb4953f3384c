"""The Compare tab as an artist lives in it, in Debian's Chromium at 1440 px: settings that
follow the model (also after a reload), and the same on Generate."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("ATELIER_SHOTS", "")) if os.environ.get("ATELIER_SHOTS") else None


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def shot(page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, also copied to $ATELIER_SHOTS when set (to look at)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / path.name)


def number(page, elem_id: str):
    return page.locator(f"#{elem_id} input[type=number]")


def test_settings_follow_the_model_on_compare_and_generate(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.get_by_text("Shared settings").click()
    expect(page.locator("#compare-model textarea, #compare-model input").first).to_have_value(
        "sketch"
    )
    expect(number(page, "compare-width")).to_have_value("128")  # the sketch model's size
    expect(number(page, "compare-height")).to_have_value("128")

    set_number(page, "compare-steps", 5)  # the artist's own choice stays
    model = page.locator("#compare-model textarea, #compare-model input").first
    model.fill("")
    model.press_sequentially("demo", delay=30)  # typed, letter by letter
    expect(number(page, "compare-width")).to_have_value("256")
    expect(number(page, "compare-height")).to_have_value("256")
    expect(number(page, "compare-steps")).to_have_value("5")
    shot(page, tmp_path, "compare-follows-demo")

    page.reload()
    page.get_by_role("tab", name="Compare").click()
    page.get_by_text("Shared settings").click()
    expect(number(page, "compare-width")).to_have_value("128")
    expect(number(page, "compare-steps")).to_have_value("20")

    page.get_by_role("tab", name="Generate").click()
    expect(number(page, "width")).to_have_value("128")
    model = page.locator("#model textarea, #model input").first
    model.fill("demo")  # pasted, then the artist moves on
    model.blur()
    expect(number(page, "width")).to_have_value("256")
    expect(page.locator("#scheduler input")).to_have_value("Euler a")
    model.fill("sketch")
    model.press("Enter")
    expect(number(page, "width")).to_have_value("128")
    page.close()


def no_bare_error(page) -> None:
    """No status pill that says only "Error" anywhere on the page."""
    from playwright.sync_api import expect

    expect(page.locator(".wrap span.error:visible")).to_have_count(0)


GRID_TOPS = """() => {
    const images = [...document.querySelectorAll('#compare-grid img')];
    if (!images.every(img => img.complete && img.naturalWidth > 0)) return null;
    return images.map(img => Math.round(img.getBoundingClientRect().top));
}"""
"""The grid images' tops on the page, or null while one is still loading."""


def settled_grid_tops(page, timeout_s: float = 30.0) -> list[int] | None:
    """The grid images' tops once all have loaded and two looks 0.25 s apart agree (a cell
    that is still loading sits a few pixels off its row)."""
    import time

    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        tops = page.evaluate(GRID_TOPS)
        if (tops is not None and tops == last) or time.monotonic() > deadline:
            return tops
        last = tops
        page.wait_for_timeout(250)


def test_errors_stay_stop_keeps_what_finished_and_votes_change(
    server, local_gallery, browser, tmp_path
):
    import time

    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)

    # An unavailable model on Generate: a sentence on the page, Stop and Skip grey again.
    page.get_by_role("tab", name="Generate").click()
    model = page.locator("#model textarea, #model input").first
    model.fill("nobody/no-such-model")
    page.locator("#prompt textarea").fill("a red circle")
    page.locator("#generate").click()
    sentence = "is not in the local cache and could not be fetched"
    expect(page.locator("#info")).to_contain_text(sentence)
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#skip")).to_be_disabled()
    page.wait_for_timeout(11_000)  # longer than a toast's default 10 s
    expect(page.locator(".toast-body").filter(has_text=sentence)).to_be_visible()
    no_bare_error(page)
    shot(page, tmp_path, "generate-error-stays")
    page.locator(".toast-body .toast-close").first.click()  # dismissed by hand
    model.fill("sketch")

    # Compare: Stop is grey while idle; a run on a Steps axis (1, then 150) is two batches;
    # Stop during the second keeps the first's four cells, fast, and says so.
    page.get_by_role("tab", name="Compare").click()
    stop = page.locator("#compare-stop")
    expect(stop).to_be_disabled()
    page.locator("#compare-base textarea").fill("a red circle")
    page.locator("#compare-sr textarea").fill("red, blue")
    page.locator("#compare-make").click()
    expect(page.locator("#compare-variants")).to_contain_text("a blue circle")
    page.get_by_text("Shared settings").click()
    page.locator("#compare-axis input").click()
    page.get_by_role("option", name="Steps").click()
    page.locator("#compare-axis-values textarea, #compare-axis-values input").first.fill("1, 150")
    page.locator("#compare-run").click()
    status = page.locator("#compare-status")
    expect(status).to_contain_text("Cells 4 of 8", timeout=120_000)
    expect(stop).to_be_enabled()
    asked = time.monotonic()
    stop.click()
    expect(status).to_contain_text("Stopped: kept 4 of 8 cells", timeout=60_000)
    took = time.monotonic() - asked
    assert took < 30, f"Stop took {took:.0f} s"
    expect(stop).to_be_disabled()
    expect(page.locator("#compare-grid img")).to_have_count(8)
    expect(page.locator("#compare-grid").get_by_text("not made")).to_have_count(4)
    # The axis as rows × columns: a column per variant, a row per seed and Steps value.
    header = page.locator("#compare-header")
    expect(header.locator(".compare-column")).to_have_count(2)
    expect(header.locator(".compare-rows")).to_contain_text("Rows: each seed × Steps (1, 150)")
    expect(page.locator("#compare-grid")).to_contain_text("Rows: seed × Steps")
    tops = settled_grid_tops(page)
    assert tops is not None and len(tops) == 8 and len(set(tops)) == 4, tops  # 4 rows of 2
    no_bare_error(page)
    shot(page, tmp_path, "compare-stopped")

    # Votes: two clicks open the slider, and "Best of its row" takes the last one; a second
    # click changes the row's vote, never doubles it. Blind votes: one per pair per seed.
    experiment = local_gallery.list_experiments()[0]
    grid = page.locator("#compare-grid img")
    grid.nth(0).click()
    grid.nth(1).click()
    expect(page.locator("#compare-pick")).to_contain_text("⟷")
    page.locator("#compare-rowbest").click()
    expect(page.locator("#compare-judged")).to_contain_text("Best on seed 1: blue")
    page.locator("#compare-rowbest").click()
    grid.nth(0).click()
    page.locator("#compare-rowbest").click()
    expect(page.locator("#compare-judged")).to_contain_text("Best on seed 1: red")
    bests = [v for v in local_gallery.votes(experiment.id) if v.loser_variant_id is None]
    assert [(v.winner_variant_id, v.seed_index) for v in bests] == [(experiment.variants[0].id, 0)]
    page.locator("#compare-blind").get_by_text("Blind mode").click()
    page.locator("#compare-blind-start").click()
    text = page.locator("#compare-blind-text")
    expect(text).to_contain_text("1 vote(s) so far")  # the pair is shown: vote on it
    for count in (2, 3, 3, 3):  # the row best, then two pairs (seeds 1, 2); then changes
        page.locator("#blind-vote-left").click()
        expect(text).to_contain_text(f"{count} vote(s) so far")
    blind = [v for v in local_gallery.votes(experiment.id) if v.blind]
    assert sorted(v.seed_index for v in blind) == [0, 1]
    no_bare_error(page)

    # "Which words matter?": no blank chart for a comparison; bars drawn for an ablation.
    plot = page.locator("#compare-ablation-plot")
    expect(plot).to_be_hidden()
    page.locator("#compare-base textarea").fill("a large red star, night")
    set_number(page, "compare-steps", 2)
    page.locator("#compare-ablate").click()
    expect(status).to_contain_text("Saved experiment #2", timeout=120_000)
    expect(plot).to_be_visible()
    expect(plot.locator("svg path, canvas").first).to_be_visible()
    plot.scroll_into_view_if_needed()
    plot.screenshot(path=str(tmp_path / "ablation.png"))
    if SHOTS is not None:
        shutil.copyfile(tmp_path / "ablation.png", SHOTS / "ablation.png")
    page.close()


def nothing_wider_than(page, width: int) -> list[str]:
    """Visible elements with an id whose box reaches past `width` (cut off on a phone)."""
    return page.evaluate(
        """(width) => Array.from(document.querySelectorAll('[id]'))
            .filter(e => e.offsetParent && e.getBoundingClientRect().right > width + 1)
            .map(e => e.id + ': ' + Math.round(e.getBoundingClientRect().width) + ' px')""",
        width,
    )


def test_a_390_px_phone_generates_and_compares_without_sideways_scrolling(
    server, browser, tmp_path
):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url)
    page.get_by_role("tab", name="Generate").click()
    set_number(page, "steps", 2)
    page.locator("#prompt textarea").fill("a large red star on the left, night")
    page.locator("#generate").click()
    expect(page.locator("#results img").first).to_be_visible(timeout=120_000)
    expect(page.locator("#info")).to_contain_text("Time")
    assert nothing_wider_than(page, 390) == []  # the results column was 874 px wide
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, tmp_path, "phone-generate")

    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-base textarea").fill("a red circle")
    page.locator("#compare-sr textarea").fill("red, blue, green")
    page.locator("#compare-make").click()
    expect(page.locator("#compare-variants")).to_contain_text("a green circle")
    page.get_by_text("Shared settings").click()
    set_number(page, "compare-steps", 2)
    page.locator("#compare-run").click()
    expect(page.locator("#compare-status")).to_contain_text("Saved experiment", timeout=120_000)
    expect(page.locator("#compare-grid img")).to_have_count(6)
    assert nothing_wider_than(page, 390) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    def top(elem_id: str) -> float:
        return page.locator(f"#{elem_id}").evaluate("e => e.getBoundingClientRect().top")

    # The grid right under Run (not below every control); saved experiments after it.
    assert top("compare-run") < top("compare-grid") < top("compare-saved")
    assert top("compare-grid") - top("compare-run") < 700
    shot(page, tmp_path, "phone-compare")
    page.close()
