"""A person's view in headless Chromium: a picture uploaded on the Builder becomes its recipe
in one click (with how sure each part is), and a one-round refinement toward a target
picture shows its round's grid and the lineage from the start to the best."""

from __future__ import annotations

import re
import shutil

import pytest
from PIL import Image

from engine.sketch.world import Scene, render_scene

pytestmark = pytest.mark.browser
SHOTS = "/tmp"


def set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


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
    page.locator("#refine-run").click()
    status = page.locator("#refine-status")
    expect(status).to_contain_text("Finished after 2 saved round(s)", timeout=300_000)
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
