"""SD3 and FLUX on the page and through the API, against the real server: the API's T5 length,
true CFG and shift reach the engine (the same pixels as the engine called directly) and the
gallery; in Debian's Chromium, demo-flux greys the negative prompt with its reason until true
CFG is on, names its distilled guidance, shows each encoder's budget on Generate and the
Builder, takes its own steps and guidance, and a generation carries the FLUX row's settings."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client
from PIL import Image

from engine.request import GenerationRequest
from ui.model_fit import NEGATIVE_OFF


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine (and demo-flux is built on first
    use): wait up to 90 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=90_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.mark.slow
def test_the_api_carries_t5_length_true_cfg_and_shift(server, engine, local_gallery):
    url, recorded = server
    client = Client(url, verbose=False)
    images, summary = client.predict(
        prompt="a red fox in the snow",
        negative_prompt="blurry",
        seed=11,
        steps=2,
        guidance_scale=3.5,
        width=64,
        height=64,
        scheduler="Euler",
        model="demo-flux",
        max_sequence_length=64,
        true_cfg_scale=2.0,
        shift=2.0,
        api_name="/generate",
    )
    request = recorded[-1].request
    assert (request.max_sequence_length, request.true_cfg_scale, request.shift) == (64, 2.0, 2.0)
    assert recorded[-1].provenance["pipeline_kind"] == "flux"
    record = local_gallery.get(summary["ids"][0])
    assert record.settings["max_sequence_length"] == 64 and record.settings["shift"] == 2.0
    assert record.settings["true_cfg_scale"] == 2.0 and record.provenance["pipeline_kind"] == "flux"
    direct = engine.generate(
        GenerationRequest(
            "a red fox in the snow", "blurry", 11, 2, 3.5, 64, 64, 1, "Euler",
            max_sequence_length=64, true_cfg_scale=2.0, shift=2.0,
        ),
        model="demo-flux",
    )  # fmt: skip
    with Image.open(images[0]["image"]) as served:
        difference = np.abs(np.asarray(served, int) - np.asarray(direct.images[0], int))
    assert difference.max() <= 1


@pytest.mark.browser
def test_demo_flux_on_generate_and_the_builder(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, recorded = server
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    page.get_by_role("tab", name="Generate").click()
    prompt = page.locator("#prompt textarea")
    prompt.fill("a red fox, (deep snow:1.2)")
    expect(page.locator("#prompt-tokens")).to_contain_text("tokens of 75")  # demo: one CLIP
    negative = page.locator("#negative textarea")
    expect(negative).to_be_editable()
    expect(page.locator("#flow-settings")).to_be_hidden()

    page.locator("#model input, #model textarea").first.fill("demo-flux")
    tokens = page.locator("#prompt-tokens")
    expect(tokens).to_contain_text("CLIP-L")
    expect(tokens).to_contain_text("/511 tokens")  # T5 at FLUX.1 dev's 512
    expect(negative).not_to_be_editable()
    expect(page.locator("#negative")).to_contain_text(NEGATIVE_OFF)
    expect(page.locator("#guidance")).to_contain_text("Distilled guidance (FLUX)")
    expect(page.locator("#guidance-note")).to_contain_text("distilled guidance")
    expect(page.locator("#steps input[type=number]")).to_have_value("28")
    expect(page.locator("#guidance input[type=number]")).to_have_value("3.5")
    expect(page.locator("#flow-settings")).to_be_visible()
    page.screenshot(path=str(tmp_path / "flux-greyed.png"), full_page=True)

    for selector, value in (
        ("#true-cfg", 2),
        ("#t5-length", 128),
        ("#steps", 2),
        ("#width", 64),
        ("#height", 64),
    ):
        box = page.locator(f"{selector} input[type=number]")
        box.fill(str(value))
        box.press("Tab")
    expect(negative).to_be_editable()
    expect(tokens).to_contain_text("/127 tokens")
    expect(page.locator("#guidance-note")).to_contain_text("true CFG")
    negative.fill("blurry")
    page.screenshot(path=str(tmp_path / "flux-true-cfg.png"), full_page=True)
    before = len(recorded)
    page.locator("#generate").click()
    expect(page.locator("#info")).to_contain_text("Seeds", timeout=180_000)
    assert len(recorded) == before + 1
    request = recorded[-1].request
    assert (request.max_sequence_length, request.true_cfg_scale) == (128, 2.0)
    assert (request.steps, request.guidance_scale, request.scheduler) == (2, 3.5, "Euler")
    assert request.negative_prompt == "blurry" and request.shift is None  # 0: the model's own

    page.get_by_role("tab", name="Builder").click()
    page.locator("#builder-subject textarea, [id^=builder-subject] textarea").first.fill(
        "a lighthouse at dusk"
    )
    encoders = page.locator("#builder-encoders")
    expect(encoders).to_contain_text("CLIP-L")
    expect(encoders).to_contain_text("/127 tokens")
    page.screenshot(path=str(tmp_path / "builder-flux.png"), full_page=True)
    page.close()
