"""Round trips in Debian's Chromium: a gallery record recalled into the Builder comes back with
every recipe field and every Generate setting; Generate's prompt opens in the Builder."""

import pytest
from PIL import Image

from gallery.records import NewGeneration
from prompts.recipe import Recipe

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def patient_expect():
    """Events queue behind each other on a loaded machine: wait up to 30 s for the page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


RECIPE = Recipe(
    subject="a lighthouse on a rocky cliff",
    styles=("Oil Painting",),
    medium=("oil painting",),
    lighting=("golden hour",),
    camera=("85mm lens",),
    composition=("rule of thirds",),
    mood=("serene",),
    colour=("teal and orange",),
    details=("seagulls",),
    quality=("highly detailed",),
    negative=("blurry", "watermark"),
    free_text="storm clouds",
)


def chips(page, elem_id):
    """The picked values of a multiselect dropdown, in order."""
    return page.locator(f"#{elem_id} .token > span").all_inner_texts()


def test_recall_into_the_builder_restores_every_field(server, local_gallery, browser, tmp_path):
    from playwright.sync_api import expect

    (_gid,) = local_gallery.record_generations(
        [
            NewGeneration(
                prompt="oil painting of a lighthouse on a rocky cliff, golden hour",
                negative_prompt="blurry, watermark",
                seed=4242,
                steps=7,
                guidance_scale=5.5,
                width=64,
                height=72,
                scheduler="DDIM",
                model_id="demo",
                recipe=RECIPE.to_dict(),
                settings={"num_images": 3, "clip_skip": 2},
                image=Image.new("RGB", (64, 72), "navy"),
            )
        ]
    )
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("tab", name="Gallery").click()
    search = page.locator("#gallery-search textarea, #gallery-search input").first
    search.fill("lighthouse rocky cliff golden")
    search.press("Enter")
    page.locator("#gallery-grid .thumbnail-item").first.click()
    expect(page.locator("#gallery-settings")).to_contain_text("4242")
    page.locator("#gallery-recall-builder").click()
    expect(page.get_by_role("tab", name="Builder")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#builder-subject textarea")).to_have_value(RECIPE.subject)
    expect(page.locator("#builder-free-text textarea")).to_have_value(RECIPE.free_text)
    for field, elem in [
        ("styles", "builder-styles"),
        ("medium", "builder-medium"),
        ("lighting", "builder-lighting"),
        ("camera", "builder-camera"),
        ("composition", "builder-composition"),
        ("mood", "builder-mood"),
        ("colour", "builder-colour"),
        ("details", "builder-details"),
        ("quality", "builder-quality"),
        ("negative", "builder-negative-terms"),
    ]:
        assert chips(page, elem) == list(getattr(RECIPE, field)), field
    page.screenshot(path=str(tmp_path / "recalled-builder.png"), full_page=True)

    # Generate got every setting too, so Send to Generate makes the same image again.
    page.get_by_role("tab", name="Generate").click()
    expect(page.locator("#seed input")).to_have_value("4242")
    expect(page.locator("#steps input[type=number]")).to_have_value("7")
    expect(page.locator("#guidance input[type=number]")).to_have_value("5.5")
    expect(page.locator("#width input[type=number]")).to_have_value("64")
    expect(page.locator("#height input[type=number]")).to_have_value("72")
    expect(page.locator("#batch input[type=number]")).to_have_value("3")
    expect(page.locator("#clip-skip input[type=number]")).to_have_value("2")
    expect(page.locator("#model input, #model textarea").first).to_have_value("demo")
    expect(page.locator("#scheduler input")).to_have_value("DDIM")
    page.screenshot(path=str(tmp_path / "recalled-generate.png"), full_page=True)

    # Generate -> Builder: a hand-typed prompt becomes the subject.
    page.locator("#prompt textarea").fill("a quiet harbour")
    page.locator("#negative textarea").fill("noise, jpeg artifacts")
    page.locator("#gen-to-builder").click()
    expect(page.locator("#builder-subject textarea")).to_have_value("a quiet harbour")
    expect(page.locator("#builder-free-text textarea")).to_have_value("")
    assert chips(page, "builder-negative-terms") == ["noise", "jpeg artifacts"]
    assert chips(page, "builder-styles") == []
    page.close()
