"""A person's view of interop: import a styles.csv in the Builder after seeing what it adds,
and bring a JPEG from A1111 and a Fooocus PNG into the Gallery (real headless Chromium)."""

import json

import pytest

from tests.gallery import peer_fixtures as fx

pytestmark = pytest.mark.browser


def test_import_a_styles_csv_from_the_builder(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    styles_csv = tmp_path / "styles.csv"
    styles_csv.write_text(
        "\ufeffname,prompt,negative_prompt\nHarbour Mist,misty harbour at dawn {prompt},"
        '"{prompt}, sunny"\n# a comment,x,y\n',
        encoding="utf-8",
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(url)
    page.get_by_role("tab", name="Builder").click()
    page.locator("#builder-files").get_by_text("Recipe file and user style").click()
    page.locator("#builder-style-file input[type=file]").set_input_files(str(styles_csv))
    preview = page.locator("#builder-style-file-preview")
    expect(preview).to_contain_text("1 new, 0 replacing your styles")
    expect(preview).to_contain_text("Harbour Mist")
    page.screenshot(path=str(tmp_path / "builder-style-preview.png"), full_page=True)

    page.locator("#builder-import-styles").click()
    expect(page.locator("#builder-files-status")).to_contain_text("Imported 1 style(s)")
    expect(page.locator("#builder-import-styles")).to_be_hidden()

    page.locator("#builder-subject textarea").fill("a fishing boat")
    styles = page.locator("#builder-styles input")
    styles.click()
    styles.fill("Harbour Mist")
    page.get_by_role("option", name="Harbour Mist", exact=True).click()
    page.locator("#builder-subject textarea").click()
    expect(page.locator("#builder-positive textarea")).to_have_value(
        "misty harbour at dawn a fishing boat"
    )
    page.screenshot(path=str(tmp_path / "builder-style-imported.png"), full_page=True)
    page.close()


def test_import_a_jpeg_and_read_a_fooocus_png_in_the_gallery(server, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    jpeg = tmp_path / "from-a1111.jpg"
    jpeg.write_bytes(fx.a1111_exif_image("JPEG", fx.A1111_TEXT))
    fooocus = tmp_path / "fooocus.png"
    fooocus.write_bytes(
        fx.png({"parameters": json.dumps(fx.FOOOCUS_JSON), "fooocus_scheme": "fooocus"})
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(url)
    page.get_by_role("tab", name="Gallery").click()
    page.locator("#gallery-files").get_by_text("Export, import, read an image").click()
    page.locator("#gallery-import input[type=file]").set_input_files(str(jpeg))
    status = page.locator("#gallery-import-status")
    expect(status).to_contain_text("Imported 1 (1 JPEG)")
    expect(status).to_contain_text("from-a1111.jpg: JPEG: AUTOMATIC1111, EXIF UserComment")
    expect(page.locator("#gallery-grid img")).to_have_count(1)  # the page shows it at once

    page.locator("#gallery-read-png input[type=file]").set_input_files(str(fooocus))
    found = page.locator("#gallery-read-png-result")
    expect(found).to_contain_text("Fooocus (PNG)")
    expect(found).to_contain_text("a red fox in the snow")
    page.screenshot(path=str(tmp_path / "gallery-interop.png"), full_page=True)
    page.close()
