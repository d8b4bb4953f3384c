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
LOADED = """(selector) => {
    const img = document.querySelector(selector);
    return !!img && img.complete && img.naturalWidth > 0;
}"""
"""Whether the first image `selector` finds has arrived and decoded (visible comes first)."""
IDENTIFY_EVENT = """() => {
    const config = window.gradio_config;
    const visitor = config.components.find(c => c.props && c.props.elem_id === "visitor").id;
    return config.dependencies.find(
        d => d.outputs.includes(visitor) && d.targets.some(t => t[1] === "load")).id;
}"""
"""The id of the page load's event that tells the server whose browser this is."""


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
    expect(page.locator("#results img").first).to_be_visible()
    page.wait_for_function(LOADED, arg="#results img", timeout=60_000)
    # The browser keeps its token: the same gallery after a reload, also when the Gallery tab
    # is opened before the page has told the server whose browser it is (on a busy server a
    # quick click): that answer is held back here until the tab has shown nobody's gallery.
    identify = page.evaluate(IDENTIFY_EVENT)
    held = []

    def hold_identify(route) -> None:
        if (route.request.post_data_json or {}).get("fn_index") == identify:
            held.append(route)
        else:
            route.continue_()

    page.route("**/queue/join*", hold_identify)
    page.reload()
    page.get_by_role("tab", name="Gallery").click()
    status = page.locator("#gallery-status")
    expect(status).to_contain_text("The gallery is empty.", timeout=30_000)
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/queue/join*")
    expect(status).to_contain_text("1 generation", timeout=30_000)
    expect(page.locator("#gallery-grid img").first).to_be_visible(timeout=30_000)
    page.wait_for_function(LOADED, arg="#gallery-grid img", timeout=60_000)
    page.screenshot(path=str(tmp_path / "public-gallery.png"), full_page=True)
    config = page.evaluate("() => JSON.stringify(window.gradio_config || {})")
    assert "components" in config and SECRET not in config + page.content()
    context.close()
