"""A person's view: real headless Chromium opens the page, types a prompt, generates."""

import pytest

pytestmark = pytest.mark.browser


def test_type_a_prompt_and_generate(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, recorded = server
    before = len(recorded)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    expect(page.locator("#model-banner")).to_contain_text("sketch model")
    page.get_by_role("tab", name="Generate").click()
    page.locator("#prompt textarea").fill("a lighthouse at dusk, (oil painting:1.2)")
    page.locator("#seed input, #seed textarea").first.fill("77")
    steps = page.locator("#steps input[type=number]")
    steps.fill("4")
    steps.press("Enter")
    page.locator("#generate").click()
    expect(page.locator("#info")).to_contain_text("Seeds 77", timeout=60_000)
    expect(page.locator("#results img").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "generate.png"), full_page=True)
    page.close()
    assert len(recorded) == before + 1
    assert recorded[-1].seeds == [77]
    assert recorded[-1].prompts == ["a lighthouse at dusk, (oil painting:1.2)"]
