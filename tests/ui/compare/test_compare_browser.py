"""A person's view of the Compare tab in headless Chromium: make a 2 × 2 comparison with Prompt
S/R, open two cells in the slider, vote in blind mode, reopen the saved experiment."""

from __future__ import annotations

import shutil

import pytest

from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser


def test_a_two_by_two_comparison_slider_blind_votes_and_reopening(
    server, local_gallery, browser, tmp_path
):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()

    page.locator("#compare-base textarea").fill("a red fox in the snow")
    page.locator("#compare-sr textarea").fill("red, blue")
    page.locator("#compare-make").click()
    variants = page.locator("#compare-variants")
    expect(variants).to_contain_text("a blue fox in the snow")

    page.locator("#compare-seeds textarea").fill("11, 12")
    page.get_by_text("Shared settings").click()
    set_number(page, "compare-steps", 1)
    set_number(page, "compare-width", 64)
    set_number(page, "compare-height", 64)
    page.locator("#compare-name textarea").fill("fox <b>colours</b>")
    page.locator("#compare-name textarea").press("Control+Enter")  # runs it, as the button
    expect(page.locator("#compare-status")).to_contain_text("Saved experiment", timeout=120_000)

    experiment = local_gallery.list_experiments()[0]
    assert [v.name for v in experiment.variants] == ["red", "blue"]
    assert experiment.seeds == (11, 12) and len(experiment.cells) == 4
    header = page.locator("#compare-header")
    expect(header.locator(".diff-added")).to_have_text("blue")
    expect(header.locator(".diff-removed")).to_have_text("red")
    expect(page.locator("#compare-summary")).to_contain_text("CLIP scores by sketch CLIP")
    expect(page.locator("#compare-summary")).to_contain_text("fox <b>colours</b>")  # escaped
    grid = page.locator("#compare-grid")
    expect(grid.locator("img")).to_have_count(4)

    legend = page.locator("#compare-heat-legend")
    expect(legend).to_be_hidden()
    page.locator("#compare-heat input[type=checkbox]").check()
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("ΔE 0 · same")
    expect(grid).to_contain_text("ΔE heat map")
    legend.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "heat.png"))
    shutil.copyfile(tmp_path / "heat.png", "/tmp/compare-heat.png")
    page.locator("#compare-heat input[type=checkbox]").uncheck()
    expect(legend).to_be_hidden()

    grid.locator("img").nth(0).click()
    expect(page.locator("#compare-pick")).to_contain_text("click a second cell")
    grid.locator("img").nth(1).click()
    expect(page.locator("#compare-pick")).to_contain_text("⟷")
    expect(page.locator("#compare-slider img")).to_have_count(2)
    page.locator("#compare-slider").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "slider.png"), full_page=True)
    shutil.copyfile(tmp_path / "slider.png", "/tmp/compare-slider.png")

    page.locator("#compare-blind").get_by_text("Blind mode").click()
    page.locator("#compare-blind-start").click()
    expect(page.locator("#compare-blind-text")).to_contain_text("0 vote(s) so far")
    expect(page.locator("#blind-left img")).to_be_visible()
    expect(page.locator("#blind-right img")).to_be_visible()
    page.locator("#blind-vote-left").click()
    expect(page.locator("#compare-blind-text")).to_contain_text("1 vote(s) so far")
    page.locator("#blind-vote-right").click()
    expect(page.locator("#compare-blind-text")).to_contain_text("2 vote(s) so far")
    votes = local_gallery.votes(experiment.id)
    assert len(votes) == 2 and all(v.blind and v.loser_variant_id for v in votes)
    expect(page.locator("#compare-ranking")).to_contain_text("red")
    page.locator("#compare-blind").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "blind.png"), full_page=True)
    shutil.copyfile(tmp_path / "blind.png", "/tmp/compare-blind.png")

    page.reload()
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-saved input").click()
    page.get_by_role("option", name=f"#{experiment.id} ").click()
    page.locator("#compare-open").click()
    expect(page.locator("#compare-summary")).to_contain_text(f"#{experiment.id}")
    expect(grid.locator("img")).to_have_count(4)
    red_wins = sum(v.winner_variant_id == experiment.variants[0].id for v in votes)
    expect(page.locator("#compare-ranking")).to_contain_text(f"{red_wins}–{2 - red_wins}")
    page.screenshot(path=str(tmp_path / "reopened.png"), full_page=True)
    shutil.copyfile(tmp_path / "reopened.png", "/tmp/compare-reopened.png")

    blue = experiment.variants[1].id
    cell = next(c for c in experiment.cells if c.seed_index == 1 and c.variant_id == blue)
    grid.locator("img").nth(3).click()  # row 2 (seed 12), column 2 (blue)
    page.locator("#compare-open-gallery").click()
    expect(page.get_by_role("tab", name="Gallery")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#gallery-prompt textarea")).to_have_value("a blue fox in the snow")
    expect(page.locator("#gallery-image img")).to_be_visible()
    texts = page.locator("#gallery-settings td").all_inner_texts()
    settings = dict(zip(texts[0::2], texts[1::2], strict=True))
    assert settings["Seed"] == "12" and settings["Id"] == str(cell.generation_id)
    page.screenshot(path=str(tmp_path / "opened.png"), full_page=True)
    shutil.copyfile(tmp_path / "opened.png", "/tmp/compare-opened-in-gallery.png")
    page.close()


def test_an_interrupted_experiment_is_marked_and_run_the_missing_cells_completes_it(
    server, local_gallery, browser, tmp_path
):
    from playwright.sync_api import expect

    from gallery.records import VariantSpec

    specs = [
        VariantSpec(c, {"prompt": f"a {c} owl", "negative_prompt": ""}) for c in ("grey", "white")
    ]
    settings = dict(model="demo", steps=1, guidance_scale=7.0, width=64, height=64)
    experiment = local_gallery.create_experiment(
        "owls cut short", specs, settings={**settings, "scheduler": "Euler a"}, seeds=[21, 22]
    )  # saved, and no cell made: as a run killed before its first batch leaves it
    url, _ = server
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-saved input").click()
    option = page.get_by_role("option", name=f"#{experiment.id} ")
    expect(option).to_contain_text("(compare, interrupted, 0 of 4 cells)")
    option.click()
    page.locator("#compare-open").click()
    summary = page.locator("#compare-summary")
    expect(summary).to_contain_text("Interrupted: 0 of 4 cells made")
    page.screenshot(path=str(tmp_path / "interrupted.png"), full_page=True)
    shutil.copyfile(tmp_path / "interrupted.png", "/tmp/compare-interrupted.png")

    page.locator("#compare-missing").click()
    expect(page.locator("#compare-status")).to_contain_text(
        f"Saved experiment #{experiment.id}: 4 image(s).", timeout=120_000
    )
    expect(page.locator("#compare-grid img")).to_have_count(4)
    expect(summary).not_to_contain_text("Interrupted")
    assert str(local_gallery.get_experiment(experiment.id).state) == "finished"
    page.locator("#compare-saved input").click()
    expect(page.get_by_role("option", name=f"#{experiment.id} ")).to_contain_text(
        "(compare, 4 images)"
    )
    page.screenshot(path=str(tmp_path / "completed.png"), full_page=True)
    shutil.copyfile(tmp_path / "completed.png", "/tmp/compare-completed.png")
    page.close()
