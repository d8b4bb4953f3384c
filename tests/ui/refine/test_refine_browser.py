"""A person's view in headless Chromium: a picture uploaded on the Builder becomes its recipe
in one click (with how sure each part is), and a one-round refinement toward a target
picture shows its round's grid and the lineage from the start to the best."""

from __future__ import annotations

import re
import shutil

import pytest
from PIL import Image

from engine.sketch.world import Scene, render_scene
from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser
SHOTS = "/tmp"


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    path = tmp_path_factory.mktemp("target") / "target.png"
    Image.fromarray(render_scene(Scene("star", "blue", "large", "right", "night", "flat"))).save(
        path
    )
    return path


def test_an_uploaded_picture_fills_the_builder(server, browser, target, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(url)
    page.locator("#builder-read").get_by_text("Start from a picture").click()
    page.locator("#builder-read-image input[type=file]").set_input_files(str(target))
    expect(page.locator("#builder-read-image img")).to_be_visible(timeout=30_000)
    page.locator("#builder-read-button").click()
    summary = page.locator("#builder-read-summary")
    expect(summary).to_contain_text("Read by sketch CLIP", timeout=180_000)
    expect(summary).to_contain_text("Colour")
    expect(page.locator("#builder-subject textarea")).to_have_value(re.compile(r"\bblue\b"))
    positive = page.locator("#builder-positive textarea")
    expect(positive).to_have_value(re.compile(r"blue.*on the right"))
    summary.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "builder.png"), full_page=True)
    shutil.copyfile(tmp_path / "builder.png", f"{SHOTS}/refine-builder-read.png")
    page.close()


def test_a_one_round_refinement_on_the_page(server, browser, target, local_gallery, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    before = len(local_gallery.list_experiments())
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#refine").get_by_text("Refine toward a target").click()
    page.locator("#refine-target-image input[type=file]").set_input_files(str(target))
    expect(page.locator("#refine-target-image img")).to_be_visible(timeout=30_000)
    for elem_id, value in (("refine-rounds", 1), ("refine-beam", 1), ("refine-proposals", 2),
                           ("refine-steps", 4), ("refine-size", 64)):  # fmt: skip
        set_number(page, elem_id, value)
    page.locator("#refine-seeds textarea").fill("1")
    stop = page.locator("#refine-stop")
    expect(stop).to_be_disabled()  # greyed while nothing runs, as Compare's Stop
    page.locator("#refine-run").click()
    expect(stop).to_be_enabled(timeout=10_000)
    status = page.locator("#refine-status")
    expect(status).to_contain_text("Finished after 2 saved round(s)", timeout=300_000)
    expect(stop).to_be_disabled(timeout=10_000)
    expect(page.locator("#refine-grid img")).to_have_count(3)  # the start and 2 variants
    expect(page.locator("#refine-rounds-log")).to_contain_text("Round 1")
    lineage = page.locator("#refine-lineage-table")
    expect(lineage).to_contain_text("r0")
    assert page.locator("#refine-lineage img").count() >= 1
    experiments = local_gallery.list_experiments()
    assert len(experiments) == before + 2 and {e.kind for e in experiments[:2]} == {"refine"}
    page.locator("#refine-grid").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "refine.png"), full_page=True)
    shutil.copyfile(tmp_path / "refine.png", f"{SHOTS}/refine-page.png")
    page.close()


def test_the_artist_picks_a_variant_the_score_did_not_choose(
    server, browser, target, local_gallery, tmp_path
):
    """Pause after round 1, click a variant that is not the round's best (★), go on: round 2
    grows from the pick, and the page and the saved rounds say it was picked."""
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(url)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#refine").get_by_text("Refine toward a target").click()
    page.locator("#refine-target-image input[type=file]").set_input_files(str(target))
    expect(page.locator("#refine-target-image img")).to_be_visible(timeout=30_000)
    for elem_id, value in (("refine-rounds", 2), ("refine-beam", 1), ("refine-proposals", 2),
                           ("refine-steps", 4), ("refine-size", 64)):  # fmt: skip
        set_number(page, elem_id, value)
    page.locator("#refine-seeds textarea").fill("1")
    page.locator("#refine-pause input[type=checkbox]").check()
    page.locator("#refine-run").click()
    status = page.locator("#refine-status")
    expect(status).to_contain_text("Round 1 of 2 done: your turn", timeout=300_000)
    cells = page.locator("#refine-grid .thumbnail-item")
    expect(cells).to_have_count(3)  # the start and 2 variants
    captions = [cells.nth(i).inner_text() for i in range(3)]
    assert captions[0].startswith("r0")
    choice = next(i for i in (1, 2) if "★" not in captions[i])
    pick = captions[choice].split()[0]
    best = next(text.split()[0] for text in captions if "★" in text)
    cells.nth(choice).click()
    picked = page.locator("#refine-picked")
    expect(picked).to_contain_text(f"Your pick: {pick}. Next round goes on from it instead "
                                   f"of the score's {best}")  # fmt: skip
    page.locator("#refine-next").click()
    expect(status).to_contain_text("Finished after 3 saved round(s)", timeout=300_000)
    expect(page.locator("#refine-rounds-log")).to_contain_text("Round 2 (experiment")
    expect(page.locator("#refine-rounds-log")).to_contain_text(f"from {pick} (picked)")
    parent_column = re.compile(rf"{re.escape(pick)}( ★)? · picked")  # ★ unless beaten
    expect(cells.first).to_contain_text(parent_column)
    step = page.locator("#refine-lineage-table tr").filter(
        has=page.get_by_role("cell", name=pick, exact=True)
    )
    expect(step.locator("td").nth(3)).to_have_text("picked")  # the Chosen by column
    rounds = [e for e in local_gallery.list_experiments() if e.kind == "refine"][:3][::-1]
    first, second = (
        local_gallery.get_experiment(rounds[1].id),
        local_gallery.get_experiment(rounds[2].id),
    )
    assert first.winner.name == pick  # the artist's pick, not the score's best
    assert second.settings["refine"]["picked"] == [pick]
    assert second.settings["refine"]["parents_chosen_by"] == {pick: "artist"}
    assert {v.recipe["parent"] for v in second.variants if v.name != pick} == {pick}
    page.locator("#refine-grid").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "picked.png"), full_page=True)
    shutil.copyfile(tmp_path / "picked.png", f"{SHOTS}/refine-picked.png")
    page.close()
