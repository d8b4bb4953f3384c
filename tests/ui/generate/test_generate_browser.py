"""The Generate tab as an A1111 user drives it, in Debian's Chromium: Ctrl+Enter, the seed row,
Esc/Stop keeping finished images, Ctrl+↑/↓ weighting, and a 390 px phone."""

import pytest

from tests.ui.number_boxes import set_number

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


SHOTS = "generate"


def open_generate(browser, url, width=1400, height=1000):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.get_by_role("tab", name="Generate").click()
    return page


def test_ctrl_enter_generates_and_the_seed_row_works(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, recorded = server
    before = len(recorded)
    page = open_generate(browser, url)
    set_number(page, "steps", 2)
    set_number(page, "width", 64)
    set_number(page, "height", 64)
    expect(page.locator("#stop")).to_be_disabled()
    prompt = page.locator("#prompt textarea")
    prompt.fill("a red fox in the snow")
    expect(page.locator("#prompt-tokens")).to_contain_text("6 tokens")
    prompt.press("Control+Enter")
    expect(page.locator("#info")).to_contain_text("Seeds", timeout=60_000)
    assert len(recorded) == before + 1
    used = recorded[-1].seeds[0]
    expect(page.locator("#seed-used input, #seed-used textarea")).to_have_value(str(used))
    expect(page.locator("#seed input")).to_have_value("-1")  # still random for the next run
    assert prompt.input_value() == "a red fox in the snow"  # no newline was typed
    page.locator("#seed-reuse").click()
    expect(page.locator("#seed input")).to_have_value(str(used))
    page.locator("#seed-random").click()
    expect(page.locator("#seed input")).to_have_value("-1")
    page.locator("#results .thumbnail-item, #results button img").first.click()
    expect(page.locator("#seed input")).to_have_value(str(used))
    expect(page.locator("#stop")).to_be_disabled()
    page.screenshot(path=str(tmp_path / "ctrl-enter.png"), full_page=True)
    page.close()


def test_escape_stops_and_keeps_the_finished_images(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, recorded = server
    before = len(recorded)
    page = open_generate(browser, url)
    # Long enough per image (about 9 s quiet, a minute loaded) that Esc lands during image 2.
    set_number(page, "steps", 60)
    set_number(page, "width", 128)
    set_number(page, "height", 128)
    set_number(page, "batch", 4)
    page.locator("#seed input").fill("300")
    page.locator("#prompt textarea").fill("a lighthouse")
    page.locator("#generate").click()
    expect(page.locator("#stop")).to_be_enabled(timeout=10_000)
    expect(page.locator("#info")).to_contain_text("image 2 of 4", timeout=180_000)
    page.screenshot(path=str(tmp_path / "running.png"), full_page=True)
    page.keyboard.press("Escape")
    expect(page.locator("#info")).to_contain_text("Stopped", timeout=30_000)
    info = page.locator("#info").inner_text()
    kept = int(info.split("kept ")[1].split(" of 4")[0])
    assert 1 <= kept <= 3  # image 1 finished; the next may finish before Esc lands
    expect(page.locator("#results img")).to_have_count(kept)
    expect(page.locator("#stop")).to_be_disabled()
    assert page.locator(".error, [data-testid=error]").count() == 0  # no red Error badges
    assert len(recorded) == before + 1
    assert recorded[-1].seeds == [300 + k for k in range(kept)]
    page.screenshot(path=str(tmp_path / "stopped.png"), full_page=True)
    page.close()


@pytest.mark.parametrize(
    ("text", "cursor", "keys", "expected"),
    [
        ("a red fox", 4, ["Control+ArrowUp"], "a (red:1.1) fox"),
        ("a red fox", 4, ["Control+ArrowUp", "Control+ArrowUp"], "a (red:1.2) fox"),
        ("a (red:1.1) fox", 5, ["Control+ArrowDown"], "a red fox"),
        ("a red fox", 4, ["Control+ArrowDown"], "a (red:0.9) fox"),
        ("cat, (snowy hill:1.3), sky", 9, ["Control+ArrowUp"], "cat, (snowy hill:1.4), sky"),
        ("x <lora:toy:0.8> y", 8, ["Control+ArrowUp"], "x <lora:toy:0.85> y"),
    ],
)
def test_ctrl_arrows_weight_the_word_under_the_cursor(
    server, browser, text, cursor, keys, expected
):
    url, _ = server
    page = open_generate(browser, url)
    box = page.locator("#prompt textarea")
    box.fill(text)
    box.evaluate(f"(el) => el.setSelectionRange({cursor}, {cursor})")
    for key in keys:
        box.press(key)
    assert box.input_value() == expected
    page.close()


def test_ctrl_up_on_a_selection_in_the_negative_box(server, browser, tmp_path):
    url, _ = server
    page = open_generate(browser, url)
    box = page.locator("#negative textarea")
    box.fill("blurry, low quality")
    box.evaluate("(el) => el.setSelectionRange(8, 19)")  # "low quality"
    box.press("Control+ArrowUp")
    assert box.input_value() == "blurry, (low quality:1.1)"
    page.close()


def test_a_phone_keeps_results_near_the_generate_button(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = open_generate(browser, url, width=390, height=844)
    set_number(page, "steps", 2)
    set_number(page, "width", 64)
    set_number(page, "height", 64)
    page.locator("#prompt textarea").fill("a small boat")
    page.locator("#generate").click()
    expect(page.locator("#results img").first).to_be_visible(timeout=60_000)
    button = page.locator("#generate").bounding_box()
    results = page.locator("#gen-output").bounding_box()
    settings = page.locator("#gen-settings").bounding_box()
    assert results["y"] < settings["y"], "the results come before the settings"
    assert results["y"] - (button["y"] + button["height"]) < 200
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    page.close()
