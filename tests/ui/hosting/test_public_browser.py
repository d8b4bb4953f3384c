"""A signed-out visitor's view of a public app in real Chromium, with every defence of issue
24 on (queue-join admission, small session state, gallery files only as Gradio's copies): the
page generates, shows the picture, keeps it in the visitor's gallery across a reload, and the
page's own config holds no secret."""

from __future__ import annotations

import uuid

import pytest

from ui.hosting.mode import Hosting, Limits

pytestmark = pytest.mark.browser
SECRET = "browser-test-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def hosting():
    limits = Limits(requests_per_minute=100)
    return Hosting(public=True, allowed_models=("demo",), limits=limits, browser_secret=SECRET)


def test_a_signed_out_visitor_generates_and_finds_it_in_their_gallery(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    expect(page.locator("#visitor")).to_contain_text("kept for this browser")
    page.get_by_role("tab", name="Generate").click()
    page.locator("#prompt textarea").fill("a lighthouse at dusk")
    page.locator("#seed input, #seed textarea").first.fill("78")
    steps = page.locator("#steps input[type=number]")
    steps.fill("2")
    steps.press("Enter")
    page.locator("#generate").click()
    expect(page.locator("#info")).to_contain_text("Seeds 78", timeout=60_000)
    image = page.locator("#results img").first
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    page.reload()  # the browser keeps its token: the same gallery after a reload
    page.get_by_role("tab", name="Gallery").click()
    thumbnail = page.locator("#gallery-grid img").first
    expect(thumbnail).to_be_visible(timeout=30_000)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(tmp_path / "public-gallery.png"), full_page=True)
    config = page.evaluate("() => JSON.stringify(window.gradio_config || {})")
    assert "components" in config and SECRET not in config + page.content()
    context.close()
