"""The Gallery as an artist lives in it, in Debian's Chromium at 1440 px: a tag typed in the
detail panel's chip box is saved, and the Tag filter lists it at once."""

from __future__ import annotations

import pytest
from PIL import Image

from gallery.records import NewGeneration

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def test_a_typed_tag_chip_is_saved_and_filterable(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    [gid] = local_gallery.record_generations(
        [NewGeneration(prompt="a quokka", seed=9101, model_id="demo",
                       image=Image.new("RGB", (64, 64), "orange"))]
    )  # fmt: skip
    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Gallery").click()
    page.locator("#gallery-grid").get_by_text("9101 · demo").click()
    expect(page.locator("#gallery-prompt textarea")).to_have_value("a quokka")
    box = page.locator("#gallery-tags input")
    box.click()
    box.fill("Marsupial")
    box.press("Enter")
    expect(page.locator("#gallery-tags .token")).to_have_count(1)
    for _ in range(60):  # saved without pressing "Add tag"
        if local_gallery.get(gid).tags == ("marsupial",):
            break
        page.wait_for_timeout(500)
    assert local_gallery.get(gid).tags == ("marsupial",)
    page.locator("#gallery-tag input").click()  # the Tag filter, without a reload
    expect(page.get_by_role("option", name="marsupial (1)")).to_be_visible()
    page.screenshot(path=str(tmp_path / "tag-filter.png"), full_page=True)
    page.close()
