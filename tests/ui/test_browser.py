"""A person's view: real headless Chromium opens the page, types a prompt, generates."""

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian chromium is not installed (apt-get install chromium)",
    ),
]


def test_type_a_prompt_and_generate(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, recorded = server
    before = len(recorded)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.locator("#model-banner")).to_contain_text("demo model")
        page.locator("#prompt textarea").fill("a lighthouse at dusk, (oil painting:1.2)")
        page.locator("#seed input").fill("77")
        steps = page.locator("#steps input[type=number]")
        steps.fill("4")
        steps.press("Enter")
        page.locator("#generate").click()
        expect(page.locator("#info")).to_contain_text(
            "Seeds** 77".replace("**", ""), timeout=60_000
        )
        expect(page.locator("#results img").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "generate.png"), full_page=True)
        browser.close()
    assert len(recorded) == before + 1
    assert recorded[-1].seeds == [77]
    assert recorded[-1].prompts == ["a lighthouse at dusk, (oil painting:1.2)"]
