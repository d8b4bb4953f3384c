"""A person's view of the Builder: real headless Chromium builds a prompt from parts, watches
it compose and count live, and sends it to the Generate tab."""

import re

import pytest

pytestmark = pytest.mark.browser


def test_build_a_prompt_and_send_it_to_generate(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Builder").click()

    page.locator("#builder-subject textarea").fill("a lighthouse on a rocky cliff")
    styles = page.locator("#builder-styles input")
    styles.click()
    styles.fill("Oil Painting")
    page.get_by_role("option", name="Oil Painting", exact=True).click()
    page.locator("#builder-subject textarea").click()  # close the option list

    positive = page.locator("#builder-positive textarea")
    expect(positive).to_have_value(
        "oil painting of a lighthouse on a rocky cliff, rich layered brushstrokes, "
        "visible canvas texture, luminous glazes, classical composition"
    )
    expect(page.locator("#builder-token-summary")).to_contain_text("25 tokens in 1 chunk")
    expect(page.locator("#builder-tokens")).to_contain_text("chunk 1")
    expect(page.locator("#builder-style-preview")).to_contain_text("{prompt}")

    shot = tmp_path / "builder.png"
    page.screenshot(path=str(shot), full_page=True)

    page.locator("#builder-send").click()
    expect(page.locator("#prompt textarea")).to_have_value(
        "oil painting of a lighthouse on a rocky cliff, rich layered brushstrokes, "
        "visible canvas texture, luminous glazes, classical composition"
    )
    expect(page.locator("#negative textarea")).to_have_value(re.compile("photorealistic"))
    expect(page.get_by_role("tab", name="Generate")).to_have_attribute("aria-selected", "true")
    page.close()


def test_enter_in_a_picker_takes_the_suggestion(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Builder").click()
    lighting = page.locator("#builder-lighting input")
    lighting.click()
    lighting.press_sequentially("rembr", delay=30)
    expect(page.get_by_role("option", name="Rembrandt lighting")).to_be_visible()
    page.screenshot(path=str(tmp_path / "picker-suggestion.png"))
    lighting.press("Enter")
    chips = page.locator("#builder-lighting .token > span")
    expect(chips).to_have_text(["Rembrandt lighting"])
    lighting.press_sequentially("moonlit fog", delay=20)  # nothing in the list: kept as typed
    lighting.press("Enter")
    expect(chips).to_have_text(["Rembrandt lighting", "moonlit fog"])
    expect(page.locator("#builder-positive textarea")).to_have_value(
        "Rembrandt lighting, moonlit fog"
    )
    page.close()


@pytest.mark.parametrize("leave", ["Escape", "click away"])
def test_half_typed_filter_text_never_becomes_a_term(server, browser, tmp_path, leave):
    from playwright.sync_api import expect

    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Builder").click()
    lighting = page.locator("#builder-lighting input")
    lighting.click()
    lighting.press_sequentially("golden", delay=30)  # searching the list, not choosing
    expect(page.get_by_role("option", name="golden hour", exact=True)).to_be_visible()
    if leave == "Escape":
        lighting.press("Escape")
    page.locator("#builder-subject textarea").click()
    page.screenshot(path=str(tmp_path / f"picker-{leave.replace(' ', '-')}.png"))
    expect(page.locator("#builder-lighting .token")).to_have_count(0)
    expect(lighting).to_have_value("")
    lighting.click()
    lighting.press_sequentially("moonlit fog", delay=20)  # Enter still takes a typed term
    lighting.press("Enter")
    expect(page.locator("#builder-lighting .token > span")).to_have_text(["moonlit fog"])
    page.close()


@pytest.mark.parametrize(
    ("tab", "box"),
    [
        ("Builder", "#builder-subject"),
        ("Builder", "#builder-free-text"),
        ("Compare", "#compare-negative"),
        ("Compare", "#compare-base"),
    ],
)
def test_ctrl_up_weights_the_word_in_every_prompt_box(server, browser, tab, box):
    """README: Ctrl+Up/Down weight the word at the cursor "in any prompt box", not only
    Generate's two."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name=tab).click()
    text = page.locator(f"{box} textarea")
    text.fill("a red fox")
    text.evaluate("(el) => el.setSelectionRange(4, 4)")
    text.press("Control+ArrowUp")
    assert text.input_value() == "a (red:1.1) fox"
    page.close()
